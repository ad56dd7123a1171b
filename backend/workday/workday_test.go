package workday_test

import (
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/workday"
)

// The State Council's notices, written out here by hand as an oracle that
// does not come from the library under test:
//
//   - 国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号,
//     12 November 2024)
//   - 国务院办公厅关于2026年部分节假日安排的通知 (4 November 2025)
//
// Each year lists its days off (放假, ranges inclusive) and the weekend days
// that are worked (上班).
type notice struct {
	off    [][2]string
	worked []string
}

var notices = map[int]notice{
	2025: {
		off: [][2]string{
			{"2025-01-01", "2025-01-01"}, // 元旦: 1月1日（周三）放假1天，不调休
			{"2025-01-28", "2025-02-04"}, // 春节: 1月28日（除夕、周二）至2月4日（周二），共8天
			{"2025-04-04", "2025-04-06"}, // 清明节: 4月4日（周五）至6日（周日）
			{"2025-05-01", "2025-05-05"}, // 劳动节: 5月1日（周四）至5日（周一）
			{"2025-05-31", "2025-06-02"}, // 端午节: 5月31日（周六）至6月2日（周一）
			{"2025-10-01", "2025-10-08"}, // 国庆节、中秋节: 10月1日（周三）至8日（周三），共8天
		},
		worked: []string{
			"2025-01-26", "2025-02-08", // 春节: 1月26日（周日）、2月8日（周六）上班
			"2025-04-27",               // 劳动节: 4月27日（周日）上班
			"2025-09-28", "2025-10-11", // 国庆节、中秋节: 9月28日（周日）、10月11日（周六）上班
		},
	},
	2026: {
		off: [][2]string{
			{"2026-01-01", "2026-01-03"}, // 元旦: 1月1日（周四）至3日（周六）
			{"2026-02-15", "2026-02-23"}, // 春节: 2月15日（腊月二十八、周日）至23日（正月初七、周一），共9天
			{"2026-04-04", "2026-04-06"}, // 清明节: 4月4日（周六）至6日（周一）
			{"2026-05-01", "2026-05-05"}, // 劳动节: 5月1日（周五）至5日（周二）
			{"2026-06-19", "2026-06-21"}, // 端午节: 6月19日（周五）至21日（周日）
			{"2026-09-25", "2026-09-27"}, // 中秋节: 9月25日（周五）至27日（周日）
			{"2026-10-01", "2026-10-07"}, // 国庆节: 10月1日（周四）至7日（周三），共7天
		},
		worked: []string{
			"2026-01-04",               // 元旦: 1月4日（周日）上班
			"2026-02-14", "2026-02-28", // 春节: 2月14日（周六）、2月28日（周六）上班
			"2026-05-09",               // 劳动节: 5月9日（周六）上班
			"2026-09-20", "2026-10-10", // 国庆节: 9月20日（周日）、10月10日（周六）上班
		},
	},
}

// oracle answers "is this a working day?" from the notices alone.
func oracle(t *testing.T, year int) (isWorkday func(time.Time) bool, special map[string]workday.Kind) {
	t.Helper()
	n, ok := notices[year]
	if !ok {
		t.Fatalf("no notice for %d", year)
	}
	special = map[string]workday.Kind{}
	for _, r := range n.off {
		for d := date(t, r[0]); !d.After(date(t, r[1])); d = d.AddDate(0, 0, 1) {
			special[d.Format(time.DateOnly)] = workday.Holiday
		}
	}
	for _, w := range n.worked {
		special[w] = workday.Workday
	}
	return func(d time.Time) bool {
		if k, ok := special[d.In(workday.Zone).Format(time.DateOnly)]; ok {
			return k == workday.Workday
		}
		wd := d.In(workday.Zone).Weekday()
		return wd != time.Saturday && wd != time.Sunday
	}, special
}

// date is midnight Beijing time of a YYYY-MM-DD day.
func date(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.ParseInLocation(time.DateOnly, s, workday.Zone)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func statutory(t *testing.T) *workday.Calendar {
	t.Helper()
	c, err := workday.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Every day of 2025 and 2026 is a working day exactly when the notices say.
func TestEveryDayMatchesTheNotices(t *testing.T) {
	c := statutory(t)
	for year := range notices {
		isWorkday, _ := oracle(t, year)
		for d := date(t, "2025-01-01").AddDate(year-2025, 0, 0); d.Year() == year; d = d.AddDate(0, 0, 1) {
			// Any moment of the day gives the same answer.
			for _, at := range []time.Time{d, d.Add(12 * time.Hour), d.Add(24*time.Hour - time.Second)} {
				if got, want := c.IsWorkday(at), isWorkday(d); got != want {
					t.Errorf("IsWorkday(%s) = %v, the notice says %v", at.Format(time.RFC3339), got, want)
				}
			}
		}
	}
}

// The library's entries for each year are exactly the notice's days (a day
// off that falls on a weekend included), no more.
func TestEntriesAreTheNoticesDays(t *testing.T) {
	c := statutory(t)
	for year := range notices {
		_, want := oracle(t, year)
		got := map[string]workday.Kind{}
		var dates []string
		for _, e := range c.Entries(year) {
			if e.Source != workday.Statutory || e.Name == "" {
				t.Errorf("entry %+v: want a named statutory entry", e)
			}
			got[e.Date] = e.Kind
			dates = append(dates, e.Date)
		}
		if !sort.StringsAreSorted(dates) {
			t.Errorf("Entries(%d) not in date order: %v", year, dates)
		}
		if len(got) != len(want) {
			t.Errorf("Entries(%d) has %d days, the notice %d", year, len(got), len(want))
		}
		for d, k := range want {
			if got[d] != k {
				t.Errorf("%s: entry %q, the notice says %q", d, got[d], k)
			}
		}
		if !c.Covers(year) {
			t.Errorf("Covers(%d) = false", year)
		}
	}
	if c.Covers(2150) {
		t.Error("Covers(2150) = true for a year nobody has published")
	}
}

// Deadlines across Spring Festival and National Day, counted by hand from
// the notices (the day the inspection ends is not counted; only working
// days are).
func TestDeadlinesAcrossHolidays(t *testing.T) {
	c := statutory(t)
	tests := []struct {
		name     string
		end      string
		n        int
		deadline string
	}{
		// 2025 Spring Festival: off 1/28–2/4, worked Sun 1/26 and Sat 2/8.
		{"2025 spring feedback, ends Fri before", "2025-01-24", workday.FeedbackDays, "2025-02-10"}, // 1/26, 1/27, 2/5, 2/6, 2/7, 2/8, 2/10
		{"2025 spring publication, ends Fri before", "2025-01-24", workday.PublicationDays, "2025-02-27"},
		{"2025 spring feedback, ends on the make-up Sunday", "2025-01-26", workday.FeedbackDays, "2025-02-11"},
		{"2025 spring feedback, ends during the holiday", "2025-01-30", workday.FeedbackDays, "2025-02-12"},
		{"2025 spring feedback, ends on the last working day before", "2025-01-27", workday.FeedbackDays, "2025-02-12"},
		// 2025 National Day + Mid-Autumn: off 10/1–10/8, worked Sun 9/28 and Sat 10/11.
		{"2025 national feedback, ends Fri before", "2025-09-26", workday.FeedbackDays, "2025-10-13"}, // 9/28, 9/29, 9/30, 10/9, 10/10, 10/11, 10/13
		{"2025 national feedback, ends on the eve", "2025-09-30", workday.FeedbackDays, "2025-10-16"},
		{"2025 national feedback, ends during the holiday", "2025-10-04", workday.FeedbackDays, "2025-10-16"},
		{"2025 national publication, ends on the eve", "2025-09-30", workday.PublicationDays, "2025-11-04"},
		// 2026 Spring Festival: off 2/15–2/23, worked Sat 2/14 and Sat 2/28.
		{"2026 spring feedback, deadline on the make-up Saturday", "2026-02-12", workday.FeedbackDays, "2026-02-28"}, // 2/13, 2/14, 2/24, 2/25, 2/26, 2/27, 2/28
		{"2026 spring publication", "2026-02-12", workday.PublicationDays, "2026-03-18"},
		{"2026 spring feedback, ends during the holiday", "2026-02-20", workday.FeedbackDays, "2026-03-03"},
		// 2026 Mid-Autumn 9/25–9/27 and National Day 10/1–10/7, worked Sun 9/20 and Sat 10/10.
		{"2026 national feedback, ends Fri before the make-up Sunday", "2026-09-18", workday.FeedbackDays, "2026-09-29"}, // 9/20, 9/21 … 9/24, 9/28, 9/29
		{"2026 national feedback, ends before Mid-Autumn", "2026-09-24", workday.FeedbackDays, "2026-10-12"},             // 9/28, 9/29, 9/30, 10/8, 10/9, 10/10, 10/12
		{"2026 national publication, ends before Mid-Autumn", "2026-09-24", workday.PublicationDays, "2026-10-29"},
		// Year boundary: 2025-12-31 (Wed) → 2026's New Year off 1/1–1/3, worked Sun 1/4.
		{"new year 2026 feedback", "2025-12-31", workday.FeedbackDays, "2026-01-12"}, // 1/4 (Sun), 1/5 … 1/9, 1/12
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			end := date(t, tc.end).Add(17*time.Hour + 30*time.Minute) // the time of day does not matter
			got := c.Deadline(end, tc.n)
			if want := date(t, tc.deadline); !got.Equal(want) {
				t.Fatalf("Deadline(%s, %d) = %s, want %s", tc.end, tc.n, got.Format(time.DateOnly), tc.deadline)
			}
			if got.Location() != workday.Zone || got.Hour() != 0 || got.Minute() != 0 {
				t.Fatalf("deadline %s is not midnight Beijing time", got)
			}
			if !c.IsWorkday(got) {
				t.Fatalf("deadline %s is not a working day", tc.deadline)
			}
			if n := c.WorkdaysBetween(end, got); n != tc.n {
				t.Fatalf("WorkdaysBetween(end, deadline) = %d, want %d", n, tc.n)
			}
			if c.Late(end, tc.n, got.Add(24*time.Hour-time.Nanosecond)) {
				t.Fatal("an act in the last moment of the deadline day counted as late")
			}
			if !c.Late(end, tc.n, got.Add(24*time.Hour)) {
				t.Fatal("an act at 00:00 after the deadline day counted as on time")
			}
		})
	}
}

// The calendar day is Beijing's, whatever the instant's location.
func TestBeijingDayDecides(t *testing.T) {
	c := statutory(t)
	evening := time.Date(2025, 9, 30, 15, 59, 0, 0, time.UTC) // 23:59 on 30 September in Beijing
	night := time.Date(2025, 9, 30, 16, 0, 0, 0, time.UTC)    // 00:00 on 1 October in Beijing
	if !c.IsWorkday(evening) {
		t.Error("30 September 23:59 Beijing time is a working day")
	}
	if c.IsWorkday(night) {
		t.Error("1 October 00:00 Beijing time is National Day")
	}
	// Ending at 00:00 on 1 October Beijing time, the inspection ended on a
	// holiday; ending a minute earlier, on 30 September: same deadline.
	if a, b := c.Deadline(evening, 7), c.Deadline(night, 7); !a.Equal(b) || a.Format(time.DateOnly) != "2025-10-16" {
		t.Errorf("deadlines %s and %s, want both 2025-10-16", a, b)
	}
	// 1 February 2025 02:00 in Beijing is still 31 January in UTC.
	if got := c.AddWorkdays(time.Date(2025, 1, 31, 18, 0, 0, 0, time.UTC), 1); got.Format(time.DateOnly) != "2025-02-05" {
		t.Errorf("AddWorkdays from a Spring Festival night = %s, want 2025-02-05", got.Format(time.DateOnly))
	}
}

func TestAddWorkdaysBackwardsAndZero(t *testing.T) {
	c := statutory(t)
	tests := []struct {
		from string
		n    int
		want string
	}{
		{"2025-10-13", -2, "2025-10-10"}, // 10/11 is a make-up Saturday
		{"2025-10-09", -1, "2025-09-30"}, // back over the holiday
		{"2025-10-09", -4, "2025-09-26"}, // 9/30, 9/29, 9/28 (make-up Sunday), 9/26
		{"2026-02-24", -1, "2026-02-14"}, // the make-up Saturday before Spring Festival
		{"2025-10-04", 0, "2025-10-04"},  // n = 0 is the day itself, working or not
	}
	for _, tc := range tests {
		got := c.AddWorkdays(date(t, tc.from).Add(9*time.Hour), tc.n)
		if got.Format(time.DateOnly) != tc.want {
			t.Errorf("AddWorkdays(%s, %d) = %s, want %s", tc.from, tc.n, got.Format(time.DateOnly), tc.want)
		}
	}
}

// WorkdaysBetween (computed by arithmetic) agrees with counting day by day,
// on random ranges — inside the notices' years, across years, before 1970
// (negative day numbers) and backwards.
func TestWorkdaysBetweenMatchesCounting(t *testing.T) {
	c, err := workday.New([]workday.Override{{Date: "2024-12-30", Kind: workday.Holiday, Name: "测试"}})
	if err != nil {
		t.Fatal(err)
	}
	count := func(a, b time.Time) int {
		n := 0
		for d := a.AddDate(0, 0, 1); !d.After(b); d = d.AddDate(0, 0, 1) {
			if c.IsWorkday(d) {
				n++
			}
		}
		return n
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, base := range []string{"2024-11-01", "2025-09-01", "2026-01-20", "1969-12-01", "1960-02-27"} {
		for range 200 {
			a := date(t, base).AddDate(0, 0, rng.IntN(200))
			b := a.AddDate(0, 0, rng.IntN(500))
			want := count(a, b)
			if got := c.WorkdaysBetween(a.Add(23*time.Hour), b); got != want {
				t.Fatalf("WorkdaysBetween(%s, %s) = %d, counting gives %d", a.Format(time.DateOnly), b.Format(time.DateOnly), got, want)
			}
			if got := c.WorkdaysBetween(b, a); got != -want {
				t.Fatalf("WorkdaysBetween(%s, %s) = %d, want %d", b.Format(time.DateOnly), a.Format(time.DateOnly), got, -want)
			}
			n := rng.IntN(40)
			if got := c.WorkdaysBetween(a, c.AddWorkdays(a, n)); got != n {
				t.Fatalf("WorkdaysBetween(a, AddWorkdays(a, %d)) = %d", n, got)
			}
		}
	}
	// A range of nothing but holiday has no working day.
	if n := c.WorkdaysBetween(date(t, "2025-09-30"), date(t, "2025-10-08")); n != 0 {
		t.Errorf("WorkdaysBetween over National Day 2025 = %d, want 0", n)
	}
}

// The bureau's overrides extend the calendar into a year nobody has
// published yet, and win over the library on their dates.
func TestOverridesWin(t *testing.T) {
	c, err := workday.New([]workday.Override{
		{Date: "2030-02-04", Kind: workday.Holiday, Name: "春节"},       // a Monday
		{Date: "2030-02-02", Kind: workday.Workday, Name: "春节调休上班"},   // a Saturday
		{Date: "2025-10-08", Kind: workday.Workday, Name: "取消放假（测试）"}, // a library holiday cancelled
		{Date: "2025-03-03", Kind: workday.Holiday, Name: " 临时放假 "},   // a plain Monday off
	})
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]bool{"2030-02-04": false, "2030-02-02": true, "2025-10-08": true, "2025-03-03": false, "2025-10-07": false}
	for d, want := range checks {
		if got := c.IsWorkday(date(t, d)); got != want {
			t.Errorf("IsWorkday(%s) = %v, want %v", d, got, want)
		}
	}
	// The cancelled holiday moves the 2025 National Day deadline a day earlier.
	if got := c.Deadline(date(t, "2025-09-30"), 7).Format(time.DateOnly); got != "2025-10-15" {
		t.Errorf("deadline with 10/8 worked = %s, want 2025-10-15", got)
	}
	if !c.Covers(2030) || c.Covers(2031) {
		t.Errorf("Covers(2030) = %v, Covers(2031) = %v; want true, false", c.Covers(2030), c.Covers(2031))
	}
	entries := c.Entries(2030)
	if len(entries) != 2 || entries[0].Date != "2030-02-02" || entries[1].Source != workday.Bureau || entries[1].Name != "春节" {
		t.Errorf("Entries(2030) = %+v", entries)
	}
	var found bool
	for _, e := range c.Entries(2025) {
		if e.Date == "2025-03-03" {
			found = e.Name == "临时放假" && e.Source == workday.Bureau && e.Kind == workday.Holiday
		}
	}
	if !found {
		t.Error("Entries(2025) lacks the override of 2025-03-03 (trimmed name, source override)")
	}
	// A calendar built without overrides is not changed by another's.
	if !statutory(t).IsWorkday(date(t, "2025-03-03")) {
		t.Error("an override leaked into another calendar")
	}
}

func TestBadOverridesAreNamed(t *testing.T) {
	good := workday.Override{Date: "2027-02-05", Kind: workday.Holiday, Name: "春节"}
	tests := []struct {
		name  string
		bad   workday.Override
		field string
	}{
		{"slashes", workday.Override{Date: "2027/02/05", Kind: workday.Holiday, Name: "x"}, "overrides[1].date"},
		{"no such day", workday.Override{Date: "2027-02-30", Kind: workday.Holiday, Name: "x"}, "overrides[1].date"},
		{"typo year", workday.Override{Date: "0227-02-05", Kind: workday.Holiday, Name: "x"}, "overrides[1].date"},
		{"duplicate", workday.Override{Date: "2027-02-05", Kind: workday.Workday, Name: "x"}, "overrides[1].date"},
		{"kind", workday.Override{Date: "2027-02-06", Kind: "off", Name: "x"}, "overrides[1].kind"},
		{"no name", workday.Override{Date: "2027-02-06", Kind: workday.Holiday, Name: "  "}, "overrides[1].name"},
		{"long name", workday.Override{Date: "2027-02-06", Kind: workday.Holiday, Name: strings.Repeat("名", 51)}, "overrides[1].name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := workday.New([]workday.Override{good, tc.bad})
			if err == nil || c != nil {
				t.Fatalf("accepted %+v", tc.bad)
			}
			if backend.ErrorCode(err) != backend.EINVALID {
				t.Fatalf("code %s, want EINVALID: %v", backend.ErrorCode(err), err)
			}
			if _, ok := backend.ErrorFields(err)[tc.field]; !ok {
				t.Fatalf("fields %v do not name %s", backend.ErrorFields(err), tc.field)
			}
		})
	}
	_, err := workday.New(make([]workday.Override, workday.MaxOverrides+1))
	if backend.ErrorCode(err) != backend.EINVALID || backend.ErrorFields(err)["overrides"] == "" {
		t.Fatalf("too many overrides: %v", err)
	}
}
