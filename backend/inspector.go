package backend

import (
	"context"
	"strings"
	"time"
)

// Qualification is one entry of the managed list of inspector
// qualifications (综合, 煤矿 …). Items name the qualification they need; a
// draw builds groups whose members together hold every one (art. 15).
type Qualification struct {
	Code      string // e.g. "coal_mine"; the stable key items and inspectors use
	Name      string // e.g. "煤矿"; what people read
	CreatedAt time.Time
}

// DefaultQualifications are the qualifications every installation starts
// with; the list is extensible, so more may be added later.
var DefaultQualifications = []Qualification{
	{Code: "general", Name: "综合"},
	{Code: CategoryCoalMine, Name: "煤矿"},
	{Code: CategoryNonCoalMine, Name: "非煤矿山"},
	{Code: CategoryHazardousChemicals, Name: "危险化学品"},
	{Code: CategoryMetallurgyIndustryTrade, Name: "冶金工贸"},
}

// QualificationStore keeps the managed list of qualifications.
type QualificationStore interface {
	// CreateQualification stores q. ECONFLICT when the code is taken.
	CreateQualification(ctx context.Context, q *Qualification) error
	// EnsureQualifications stores each of qs whose code is not stored yet
	// and leaves existing ones untouched, so that seeding is idempotent and
	// safe to run from several instances at once.
	EnsureQualifications(ctx context.Context, qs []Qualification) error
	// FindQualifications lists every qualification by code.
	FindQualifications(ctx context.Context) ([]*Qualification, error)
}

// Conflict is a declared conflict of interest (回避) between an inspector
// and an enterprise: the draw never sends the inspector there (art. 15).
type Conflict struct {
	EnterpriseID string
	Reason       string
}

// Bounds on an inspector's lists: generous for any real inspector, small
// enough that one request cannot make the server check thousands of
// entries.
const (
	MaxQualifications = 50
	MaxConflicts      = 200
)

// Inspector is a law-enforcement officer on the roster (执法人员名录库),
// linked to the user account they sign in with.
type Inspector struct {
	ID                 string
	UserID             string
	Name               string
	BadgeNo            string // 执法证号, normalised by NormalizeBadgeNo; unique
	CertificateExpires Date   // the last day the certificate is valid
	DepartmentID       string
	Qualifications     []string   // codes from the managed list; at most MaxQualifications
	Conflicts          []Conflict // at most MaxConflicts
	Active             bool
	Phone              string
	Version            int // 1 on creation, +1 on every change
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// Drawable reports whether the inspector may be drawn on the given calendar
// day: active, and the certificate not expired. A certificate is valid up to
// and including its expiry day, so an inspector whose certificate expires
// today can still be drawn today (art. 12, 15). It is pure so that the draw
// and its public re-computation give the same answer for the same day.
func Drawable(in *Inspector, day Date) bool {
	return in != nil && in.Active && !CertificateExpired(in.CertificateExpires, day)
}

// CertificateExpired reports whether a certificate valid through expires is
// expired on day. A missing or malformed expiry counts as expired, so an
// unknown certificate never lets anyone be drawn.
func CertificateExpired(expires, day Date) bool {
	if !expires.Valid() {
		return true
	}
	return expires < day
}

// NormalizeBadgeNo returns the canonical form of a badge number (执法证号):
// full-width letters and digits folded to ASCII, spaces removed, letters in
// upper case. People type badge numbers from printed cards in either width,
// and the same badge must never be stored twice in two spellings.
func NormalizeBadgeNo(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '！' && r <= '～' { // full-width ASCII block
			r -= 0xFEE0
		}
		switch r {
		case ' ', '\t', '\n', '\r', '\u3000':
			continue
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// InspectorFilter selects inspectors in a listing. Zero fields select all.
type InspectorFilter struct {
	DepartmentID  string
	Qualification string // holds this qualification
	Active        *bool
	// Drawable selects inspectors who are (true) or are not (false)
	// drawable on Today.
	Drawable *bool
	Today    Date
	// ExpiresBy selects inspectors whose certificate expires on or before
	// this day (already expired included); the listing is then ordered by
	// expiry, then badge number.
	ExpiresBy Date
	Query     string // name substring, or badge number prefix
	After     Cursor // keyset position (see Cursor)
	Offset    int    // at most MaxOffset; use After beyond
	Limit     int    // 0 for no limit
	// NoTotal leaves the total out (0) for a caller that ignores it: on
	// FerretDB counting is a scan of its own.
	NoTotal bool
}

// CursorOf is the cursor that continues a listing after in: by badge
// number, or by expiry and badge number when ExpiresBy orders by expiry.
func (f InspectorFilter) CursorOf(in *Inspector) Cursor {
	if f.ExpiresBy != "" {
		return Cursor{string(in.CertificateExpires), in.BadgeNo}
	}
	return Cursor{in.BadgeNo}
}

// InspectorStore keeps the roster. Writers pass the version they read; the
// store refuses a stale one, so two concurrent edits cannot both win.
type InspectorStore interface {
	// CreateInspector stores in with its ID set. ECONFLICT when the badge
	// number or the user is taken.
	CreateInspector(ctx context.Context, in *Inspector) error
	// FindInspectorByID returns an inspector. ENOTFOUND.
	FindInspectorByID(ctx context.Context, id string) (*Inspector, error)
	// FindInspectorByBadgeNo returns an inspector by normalised badge
	// number. ENOTFOUND.
	FindInspectorByBadgeNo(ctx context.Context, badgeNo string) (*Inspector, error)
	// FindInspectorByUserID returns the inspector linked to a user. ENOTFOUND.
	FindInspectorByUserID(ctx context.Context, userID string) (*Inspector, error)
	// FindInspectors lists inspectors matching f ordered by badge number
	// (or by expiry when f.ExpiresBy is set), and the total count.
	FindInspectors(ctx context.Context, f InspectorFilter) ([]*Inspector, int, error)
	// UpdateInspector replaces the stored inspector with in if its stored
	// version is still in.Version, and then increments in.Version.
	// ENOTFOUND when it does not exist; ECONFLICT when its version moved
	// on, or the badge number or user is taken.
	UpdateInspector(ctx context.Context, in *Inspector) error
}

// Date is a calendar date as "YYYY-MM-DD". Dates in this form compare
// correctly as strings, which both Go code and MongoDB range queries rely on.
// The zero Date is "" (no date).
type Date string

// dateLayout is the one accepted spelling of a Date.
const dateLayout = "2006-01-02"

// ChinaTime is the bureau's time zone (Asia/Shanghai). China has had no
// daylight saving time since 1991, so a fixed offset is exact and needs no
// time-zone database on the server.
var ChinaTime = time.FixedZone("CST", 8*60*60)

// ParseDate parses "YYYY-MM-DD" and refuses anything else, including dates
// that do not exist (2026-02-30) and years outside 1900–9999. EINVALID.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(dateLayout, strings.TrimSpace(s))
	if err != nil || t.Year() < 1900 {
		return "", Errorf(EINVALID, "%q is not a date (YYYY-MM-DD)", s)
	}
	return Date(t.Format(dateLayout)), nil
}

// DateOf returns the calendar day t falls on in China: the day that counts
// for certificates and deadlines, whatever the server's zone.
func DateOf(t time.Time) Date { return Date(t.In(ChinaTime).Format(dateLayout)) }

// Valid reports whether d is a real date in canonical form.
func (d Date) Valid() bool {
	p, err := ParseDate(string(d))
	return err == nil && p == d
}

// AddDays returns the date n days after d (before, for negative n). It
// returns "" when d is not valid.
func (d Date) AddDays(n int) Date {
	t, err := time.Parse(dateLayout, string(d))
	if err != nil {
		return ""
	}
	return Date(t.AddDate(0, 0, n).Format(dateLayout))
}

// DaysUntil returns the number of days from d to other (negative when other
// is earlier); 0 when either is not valid.
func (d Date) DaysUntil(other Date) int {
	a, errA := time.Parse(dateLayout, string(d))
	b, errB := time.Parse(dateLayout, string(other))
	if errA != nil || errB != nil {
		return 0
	}
	return int(b.Sub(a).Hours() / 24)
}

// String returns the date as "YYYY-MM-DD".
func (d Date) String() string { return string(d) }

// QualificationNames is the qualification list as Names (code → name).
func QualificationNames(qs []*Qualification) Names {
	pairs := make(map[string]string, len(qs))
	for _, q := range qs {
		pairs[q.Code] = q.Name
	}
	return NewNames(pairs)
}

// EnsureDefaultQualifications stores whichever of DefaultQualifications are
// missing. It is idempotent and safe from several instances at once.
func EnsureDefaultQualifications(ctx context.Context, store QualificationStore, now time.Time) error {
	defaults := make([]Qualification, len(DefaultQualifications))
	for i, q := range DefaultQualifications {
		q.CreatedAt = now
		defaults[i] = q
	}
	return store.EnsureQualifications(ctx, defaults)
}

// Stamp sets the bookkeeping times of a change made at now: UpdatedAt, and
// CreatedAt too when the inspector is new.
func (in *Inspector) Stamp(created bool, now time.Time) {
	in.UpdatedAt = now
	if created {
		in.CreatedAt = now
	}
}
