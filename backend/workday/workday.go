// Package workday is the working-day calendar behind suiji's statutory
// deadlines: feedback to the enterprise within 7 working days after the
// inspection ends (art. 21) and publication within 20 working days after it
// ends (art. 24).
//
// # Which days are working days
//
// A day is a working day (工作日) when it is Monday to Friday and not a day
// off under the State Council's yearly holiday notice, or when it is a
// Saturday or Sunday that the notice makes a working day (调休上班). Days are
// calendar days in Beijing time (Zone, UTC+8, which has had no daylight
// saving since 1991): an instant is first turned into its Beijing date, so a
// time late on 31 January UTC may already be 1 February here.
//
// The yearly schedules come from github.com/6tail/lunar-go (HolidayUtil),
// which follows the State Council's notices; its data is read once, never
// changed. When a new year's notice is published before the library has it,
// or the bureau must record a change, it adds Overrides: each a dated
// holiday or working day with a name. An override replaces whatever the
// library says of that date (it may also cancel a library holiday by
// declaring the date a working day). Covers tells whether a year has any
// schedule at all; in a year without one only weekends are days off.
//
// # How a period of working days is counted
//
// The period is counted as Chinese administrative law counts periods (《行政
// 处罚法》 and the procedure laws: 期间开始的日不计算在期间内): the day the
// inspection ends is never counted, whether or not it is a working day.
// Day 1 of the period is the first working day after it, and the deadline is
// the n-th such working day; the act is on time if done at any moment of
// that day (until 24:00 Beijing time).
//
// An inspection that ends on a non-working day (a Saturday, a Spring
// Festival day) therefore has the same deadline as one that ended on the
// last working day before it: in both cases day 1 is the next working day.
// Because only working days are counted, a deadline never falls on a day
// off, so the rule that moves a deadline off a holiday is already met.
//
// Example: an inspection ending on Friday 26 September 2025 has its 7
// working days on 28 September (a Sunday made a working day), 29 and 30
// September, 9 and 10 October, 11 October (a Saturday made a working day)
// and 13 October: feedback is due by the end of Monday 13 October 2025,
// because 1–8 October are the National Day and Mid-Autumn holiday.
//
// The package is pure: no I/O, no clock (callers pass every instant).
package workday

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/6tail/lunar-go/HolidayUtil"

	"suiji/backend"
)

// The statutory periods, in working days after the inspection ends.
const (
	// FeedbackDays is the period for feeding the result back to the
	// enterprise (art. 21).
	FeedbackDays = 7
	// PublicationDays is the period for entering and publishing the result
	// (art. 24).
	PublicationDays = 20
)

// Zone is Beijing time (China Standard Time, UTC+8), in which every date of
// the calendar is meant. Times returned by the calendar are midnight here.
var Zone = time.FixedZone("CST", 8*60*60)

// Kind says whether a dated entry is a day off or a working day.
type Kind string

// The kinds of entry.
const (
	// Holiday is a day off: a statutory holiday or a day off of the
	// holiday arrangement (放假调休), whatever its day of the week.
	Holiday Kind = "holiday"
	// Workday is a working day: usually a Saturday or Sunday worked to
	// make up for a holiday (调休上班); on a weekday it cancels a holiday.
	Workday Kind = "workday"
)

// Source says where an entry of the calendar comes from.
type Source string

// The sources of entries.
const (
	// Statutory entries come from the State Council's notices as kept by
	// the lunar-go library.
	Statutory Source = "statutory"
	// Bureau entries are overrides the bureau added.
	Bureau Source = "override"
)

// Limits on overrides, so that a mistyped year or an unbounded list is
// refused instead of silently used.
const (
	MaxOverrides   = 1000 // entries one calendar accepts
	MaxNameLength  = 50   // characters of an entry's name
	firstValidYear = 2000
	lastValidYear  = 2100
)

// Override is one dated entry the bureau adds to the statutory schedule,
// typically when the State Council publishes a new year's notice.
type Override struct {
	Date string // the day, YYYY-MM-DD (Beijing time)
	Kind Kind   // Holiday or Workday
	Name string // what the day is, e.g. 春节 or 春节调休上班
}

// Entry is one dated day of the calendar that differs from the plain
// Monday-to-Friday week, or that an override states.
type Entry struct {
	Date   string // YYYY-MM-DD
	Kind   Kind
	Name   string
	Source Source
}

// Calendar answers working-day questions. It is immutable once built, so one
// Calendar may be shared by any number of goroutines; to change the
// overrides build a new one.
type Calendar struct {
	special map[int64]Entry // day number → entry, for every special day
	days    []int64         // the keys of special, ascending
	years   map[int]bool    // years with at least one entry
	// builtIn: years of which the library has the State Council's schedule.
	builtIn map[int]bool
}

// New builds the calendar from the library's statutory schedules and the
// bureau's overrides; an override wins over the library on its date. It
// returns an EINVALID *backend.Error naming each bad override (field
// "overrides[i].date", ".kind" or ".name"): an unreadable date or one outside
// 2000–2100, an unknown kind, a missing or too long name, or a date given
// twice.
func New(overrides []Override) (*Calendar, error) {
	if len(overrides) > MaxOverrides {
		return nil, backend.InvalidFields("too many calendar overrides",
			map[string]string{"overrides": fmt.Sprintf("at most %d entries", MaxOverrides)})
	}
	c := &Calendar{special: make(map[int64]Entry), years: make(map[int]bool), builtIn: make(map[int]bool)}
	for day, e := range statutory() {
		c.special[day] = e
		c.builtIn[yearOf(day)] = true
	}
	fields := map[string]string{}
	seen := map[int64]int{}
	for i, o := range overrides {
		field := fmt.Sprintf("overrides[%d].", i)
		day, err := parseDay(o.Date)
		if err != nil {
			fields[field+"date"] = err.Error()
		} else if j, dup := seen[day]; dup {
			fields[field+"date"] = fmt.Sprintf("the same date as overrides[%d]", j)
		}
		if o.Kind != Holiday && o.Kind != Workday {
			fields[field+"kind"] = fmt.Sprintf("must be %q or %q", Holiday, Workday)
		}
		name := strings.TrimSpace(o.Name)
		if name == "" {
			fields[field+"name"] = "required"
		} else if utf8.RuneCountInString(name) > MaxNameLength {
			fields[field+"name"] = fmt.Sprintf("at most %d characters", MaxNameLength)
		}
		if err == nil {
			seen[day] = i
			c.special[day] = Entry{Date: o.Date, Kind: o.Kind, Name: name, Source: Bureau}
		}
	}
	if len(fields) > 0 {
		return nil, backend.InvalidFields("invalid calendar overrides", fields)
	}
	for day := range c.special {
		c.days = append(c.days, day)
		c.years[yearOf(day)] = true
	}
	sort.Slice(c.days, func(i, j int) bool { return c.days[i] < c.days[j] })
	return c, nil
}

// IsWorkday reports whether t falls on a working day (in Beijing time).
func (c *Calendar) IsWorkday(t time.Time) bool {
	return c.isWorkday(dayOf(t))
}

// AddWorkdays returns the n-th working day after the day of from, as
// midnight Beijing time; the day of from itself is not counted, whether or
// not it is a working day. A negative n counts backwards: AddWorkdays(d, -2)
// is the second working day before d (when a reminder two working days
// ahead of a deadline is due). n = 0 returns the day of from itself.
func (c *Calendar) AddWorkdays(from time.Time, n int) time.Time {
	day := dayOf(from)
	step := int64(1)
	if n < 0 {
		step, n = -1, -n
	}
	for n > 0 {
		day += step
		if c.isWorkday(day) {
			n--
		}
	}
	return timeOf(day)
}

// WorkdaysBetween counts the working days after the day of a up to and
// including the day of b, so that WorkdaysBetween(a, AddWorkdays(a, n)) = n
// for n ≥ 0. It is negative when b's day is before a's (the count from b to
// a, negated) and 0 on the same day. WorkdaysBetween(end, at) is how many
// working days of a period starting at end have been used by at.
func (c *Calendar) WorkdaysBetween(a, b time.Time) int {
	from, to := dayOf(a), dayOf(b)
	if to < from {
		return -c.countAfter(to, from)
	}
	return c.countAfter(from, to)
}

// Deadline is the last day, as midnight Beijing time, of a period of n
// working days after the inspection that ended at end: AddWorkdays(end, n).
// Use Deadline(end, FeedbackDays) and Deadline(end, PublicationDays).
func (c *Calendar) Deadline(end time.Time, n int) time.Time {
	return c.AddWorkdays(end, n)
}

// Late reports whether an act at the instant at misses the period of n
// working days after end: whether at is on a day after Deadline(end, n).
// An act at any moment of the deadline day itself is on time.
func (c *Calendar) Late(end time.Time, n int, at time.Time) bool {
	return dayOf(at) > dayOf(c.Deadline(end, n))
}

// Covers reports whether the calendar has a schedule for year — an entry
// from the library or an override. Deadlines reaching into a year it does not
// cover count only weekends as days off, so a caller should warn.
func (c *Calendar) Covers(year int) bool {
	return c.years[year]
}

// Statutory reports whether the library has the State Council's schedule
// for year. A year covered by the bureau's entries alone is as complete
// as they are: one entry covers it, so a caller should say whose it is.
func (c *Calendar) Statutory(year int) bool {
	return c.builtIn[year]
}

// Entries lists the year's holidays and working days that differ from, or
// are stated over, the plain week — the statutory ones merged with the
// overrides — in date order.
func (c *Calendar) Entries(year int) []Entry {
	first := dayNumber(year, time.January, 1)
	last := dayNumber(year, time.December, 31)
	lo := sort.Search(len(c.days), func(i int) bool { return c.days[i] >= first })
	var out []Entry
	for _, day := range c.days[lo:] {
		if day > last {
			break
		}
		out = append(out, c.special[day])
	}
	return out
}

// isWorkday decides one day: an entry wins, otherwise Monday to Friday.
func (c *Calendar) isWorkday(day int64) bool {
	if e, ok := c.special[day]; ok {
		return e.Kind == Workday
	}
	return !weekend(day)
}

// countAfter counts the working days d with from < d ≤ to (from ≤ to): the
// weekdays by arithmetic, then each special day in the range corrected.
func (c *Calendar) countAfter(from, to int64) int {
	n := weekdaysUpTo(to) - weekdaysUpTo(from)
	lo := sort.Search(len(c.days), func(i int) bool { return c.days[i] > from })
	for _, day := range c.days[lo:] {
		if day > to {
			break
		}
		plain := !weekend(day)
		if worked := c.special[day].Kind == Workday; worked != plain {
			if worked {
				n++
			} else {
				n--
			}
		}
	}
	return int(n)
}

// Days are numbered from 1970-01-01 (day 0, a Thursday) in Beijing time.

// dayOf returns the number of t's day in Beijing time.
func dayOf(t time.Time) int64 {
	y, m, d := t.In(Zone).Date()
	return dayNumber(y, m, d)
}

func dayNumber(y int, m time.Month, d int) int64 {
	return floorDiv(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(), 86400)
}

// timeOf returns midnight Beijing time of a day.
func timeOf(day int64) time.Time {
	y, m, d := time.Unix(day*86400, 0).UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, Zone)
}

func yearOf(day int64) int { return time.Unix(day*86400, 0).UTC().Year() }

// weekend reports whether a day is a Saturday or Sunday.
func weekend(day int64) bool {
	wd := weekdayOf(day)
	return wd == time.Saturday || wd == time.Sunday
}

func weekdayOf(day int64) time.Weekday {
	return time.Weekday(floorMod(day+4, 7)) // day 0 was a Thursday
}

// weekdaysUpTo counts the Monday-to-Friday days d ≤ day among days after a
// fixed Monday far in the past, so that differences count ranges.
func weekdaysUpTo(day int64) int64 {
	const monday = -3 // 1969-12-29
	k := day - monday // days since that Monday; 0 is the Monday itself
	weeks, rest := floorDiv(k+1, 7), floorMod(k+1, 7)
	return weeks*5 + min(rest, 5)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// parseDay reads a YYYY-MM-DD date within the years overrides may name.
func parseDay(s string) (int64, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("must be a date YYYY-MM-DD, not %q", s)
	}
	if t.Year() < firstValidYear || t.Year() > lastValidYear {
		return 0, fmt.Errorf("must be within %d–%d", firstValidYear, lastValidYear)
	}
	return dayNumber(t.Date()), nil
}

var (
	statutoryOnce sync.Once
	statutoryDays map[int64]Entry
)

// statutory reads the library's schedules once: every year from its first
// (2001) until the first year it has nothing for.
func statutory() map[int64]Entry {
	statutoryOnce.Do(func() {
		statutoryDays = make(map[int64]Entry)
		for year := 2001; ; year++ {
			list := HolidayUtil.GetHolidaysByYear(year)
			if list.Len() == 0 {
				break
			}
			for e := list.Front(); e != nil; e = e.Next() {
				h := e.Value.(*HolidayUtil.Holiday)
				day, err := parseDay(h.GetDay())
				if err != nil {
					panic("workday: unreadable date in lunar-go's holiday table: " + h.GetDay())
				}
				kind := Holiday
				if h.IsWork() {
					kind = Workday
				}
				statutoryDays[day] = Entry{Date: h.GetDay(), Kind: kind, Name: h.GetName(), Source: Statutory}
			}
		}
	})
	return statutoryDays
}
