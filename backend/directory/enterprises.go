package directory

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"suiji/backend"
	"suiji/backend/sheet"
	"suiji/backend/uscc"
)

// NewEnterprise is the input of CreateEnterprise. Status defaults to active.
type NewEnterprise struct {
	USCC                string
	Name                string
	Town                string
	Industry            string
	Address             string
	Location            *backend.GeoPoint
	Categories          []string
	Flags               []string
	Status              string
	LegalRepresentative string
	SafetyManager       string
	Phone               string
}

// EnterprisePatch changes some fields of an enterprise; nil fields stay as
// they are. Version, when set, is the version the caller last read: if the
// enterprise has moved on since, the patch is refused with ECONFLICT rather
// than silently overwriting someone else's change.
type EnterprisePatch struct {
	USCC                *string
	Name                *string
	Town                *string
	Industry            *string
	Address             *string
	Location            *backend.GeoPoint
	Categories          *[]string
	Flags               *[]string
	Status              *string
	LegalRepresentative *string
	SafetyManager       *string
	Phone               *string
	Version             *int
}

// StaleEnterprise is one line of the staleness report (art. 7).
type StaleEnterprise struct {
	Enterprise *backend.Enterprise
	// DaysSinceReview is whole days since the last review; nil when the
	// record was never reviewed.
	DaysSinceReview *int
	// DaysOnRecord is whole days since the record was created, which for a
	// never-reviewed record is how long it has gone unreviewed.
	DaysOnRecord int
}

// CreateEnterprise validates and stores a new enterprise as version 1, with
// its version record and an audit event. EINVALID naming every bad field;
// ECONFLICT (fields.uscc) when the USCC is already registered.
func (s *Service) CreateEnterprise(ctx context.Context, in NewEnterprise) (*backend.Enterprise, error) {
	e := &backend.Enterprise{
		USCC: in.USCC, Name: in.Name, Town: in.Town, Industry: in.Industry, Address: in.Address,
		Location: in.Location, Categories: in.Categories, Flags: in.Flags, Status: in.Status,
		LegalRepresentative: in.LegalRepresentative, SafetyManager: in.SafetyManager, Phone: in.Phone,
	}
	if e.Status == "" {
		e.Status = backend.EnterpriseActive
	}
	if err := s.checkEnterprise(ctx, e, ""); err != nil {
		return nil, err
	}
	now := s.now()
	e.ID, e.Version, e.CreatedAt, e.UpdatedAt = backend.NewID(), 1, now, now
	after := EnterpriseFields(e)
	err := s.Audit.Change(ctx, backend.AuditChange{Action: "enterprise.create", ObjectType: "enterprise", ObjectID: e.ID, After: withID(e, after)},
		func(ctx context.Context) error {
			if err := s.Enterprises.CreateEnterprise(ctx, e); err != nil {
				return err
			}
			// Written after the enterprise, as in every change: see saveChange.
			return s.recordVersion(ctx, "enterprise", e.ID, 1, "create", backend.Diff(nil, after), now)
		})
	s.enterprisesWritten() // even after an error: the write may have happened
	if err != nil {
		return nil, err
	}
	return e, nil
}

// GetEnterprise returns an enterprise. ENOTFOUND.
// Its contact fields are empty for a caller who may not read them (see
// MayReadContacts).
func (s *Service) GetEnterprise(ctx context.Context, id string) (*backend.Enterprise, error) {
	e, err := s.Enterprises.FindEnterpriseByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if ok, err := s.mayReadContactsOf(ctx, id); err != nil {
		return nil, err
	} else if !ok {
		return withoutContacts(e), nil
	}
	return e, nil
}

// ListEnterprises lists enterprises matching f, ordered by USCC, and the
// total (from the index, index.go), with the contact fields empty for a caller who may not read every
// enterprise's (MayReadContacts). EINVALID naming a filter with an unknown
// category, flag or status.
func (s *Service) ListEnterprises(ctx context.Context, f backend.EnterpriseFilter) ([]*backend.Enterprise, int, error) {
	list, total, err := s.listEnterprises(ctx, f)
	if err != nil || MayReadContacts(backend.ActorFromContext(ctx)) {
		return list, total, err
	}
	for i, e := range list {
		list[i] = withoutContacts(e)
	}
	return list, total, nil
}

// listEnterprises is ListEnterprises with the contact fields as stored,
// for the export (which the route table gives only to the directory's
// clerks) and the command line.
func (s *Service) listEnterprises(ctx context.Context, f backend.EnterpriseFilter) ([]*backend.Enterprise, int, error) {
	fields := map[string]string{}
	if f.Category != "" && !slices.Contains(backend.Categories, f.Category) {
		fields["category"] = "unknown category '" + sheet.Clip(f.Category) + "'"
	}
	if f.Flag != "" && !slices.Contains(backend.Flags, f.Flag) {
		fields["flag"] = "unknown flag '" + sheet.Clip(f.Flag) + "'"
	}
	if f.Status != "" && f.Status != backend.EnterpriseActive && f.Status != backend.EnterpriseClosed {
		fields["status"] = "active or closed"
	}
	if len(fields) > 0 {
		return nil, 0, backend.InvalidFields("invalid filter", fields)
	}
	return s.findEnterprises(ctx, f)
}

// StaleEnterprises is the staleness report: active enterprises not reviewed
// within the last ReviewMonths months (never reviewed counts as stale),
// narrowed by the other fields of f, with how long each has gone unreviewed.
func (s *Service) StaleEnterprises(ctx context.Context, f backend.EnterpriseFilter) ([]StaleEnterprise, int, error) {
	now := s.now()
	cutoff := now.AddDate(0, -backend.ReviewMonths, 0)
	f.Status = backend.EnterpriseActive
	f.NotReviewedSince = &cutoff
	list, total, err := s.ListEnterprises(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	out := make([]StaleEnterprise, len(list))
	for i, e := range list {
		out[i] = StaleEnterprise{Enterprise: e, DaysOnRecord: days(now.Sub(e.CreatedAt))}
		if e.ReviewedAt != nil {
			d := days(now.Sub(*e.ReviewedAt))
			out[i].DaysSinceReview = &d
		}
	}
	return out, total, nil
}

func days(d time.Duration) int { return int(d / (24 * time.Hour)) }

// UpdateEnterprise applies a patch. The result is validated as a whole, with
// the same rules as CreateEnterprise; a patch that changes nothing stores
// nothing and returns the enterprise as it is. ENOTFOUND; EINVALID naming
// every bad field; ECONFLICT when p.Version (or the version read here) is
// stale, or the new USCC is taken.
func (s *Service) UpdateEnterprise(ctx context.Context, id string, p EnterprisePatch) (*backend.Enterprise, error) {
	e, err := s.Enterprises.FindEnterpriseByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := checkVersion(e, p.Version); err != nil {
		return nil, err
	}
	before := EnterpriseFields(e)
	applyPatch(e, p)
	if err := s.checkEnterprise(ctx, e, id); err != nil {
		return nil, err
	}
	return s.saveChange(ctx, e, before, "update")
}

// ReviewEnterprise records the yearly review of an enterprise's record
// (art. 7): reviewed_at becomes now, as a new version with action "review".
// version, when set, must be the current one. ENOTFOUND, ECONFLICT.
func (s *Service) ReviewEnterprise(ctx context.Context, id string, version *int) (*backend.Enterprise, error) {
	e, err := s.Enterprises.FindEnterpriseByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := checkVersion(e, version); err != nil {
		return nil, err
	}
	before := EnterpriseFields(e)
	now := s.now()
	e.ReviewedAt = &now
	return s.saveChange(ctx, e, before, "review")
}

// EnterpriseVersions lists an enterprise's versions, oldest first. ENOTFOUND.
// The changes to contact fields are left out for a caller who may not read
// them.
func (s *Service) EnterpriseVersions(ctx context.Context, id string) ([]*backend.Version, error) {
	if _, err := s.Enterprises.FindEnterpriseByID(ctx, id); err != nil {
		return nil, err
	}
	versions, err := s.Versions.FindVersions(ctx, "enterprise", id)
	if err != nil {
		return nil, err
	}
	if ok, err := s.mayReadContactsOf(ctx, id); err != nil {
		return nil, err
	} else if !ok {
		for i, v := range versions {
			versions[i] = changesWithoutContacts(v)
		}
	}
	return versions, nil
}

// saveChange stores e, changed from before, as the next version: the
// enterprise first, by compare-and-set on the version it was read at, with
// its audit event in the same document write (backend.Auditor.Change),
// then the version record. Nothing is stored when nothing changed.
//
// FerretDB v1 has no multi-document transactions, so the enterprise and
// its version record are two writes. The enterprise goes first because it
// is the record of truth and its compare-and-set is what decides between
// concurrent writers; a version written first could describe a change that
// then loses the race. If the version write fails after the enterprise was
// stored (a crash, a lost connection), the change stands — audited, since
// its event travels with it — but its history row is missing: the caller
// gets an error, and the enterprise's version numbers show a gap that a
// check can find (versions are numbered without gaps otherwise). Later
// changes are unaffected, since they take later numbers.
func (s *Service) saveChange(ctx context.Context, e *backend.Enterprise, before map[string]any, action string) (*backend.Enterprise, error) {
	after := EnterpriseFields(e)
	changes := backend.Diff(before, after)
	if len(changes) == 0 {
		return e, nil
	}
	e.UpdatedAt = s.now()
	err := s.Audit.Change(ctx, backend.AuditChange{Action: "enterprise." + action, ObjectType: "enterprise", ObjectID: e.ID,
		Before: withID(e, before), After: withID(e, after)},
		func(ctx context.Context) error {
			if err := s.Enterprises.UpdateEnterprise(ctx, e); err != nil {
				return err
			}
			return s.recordVersion(ctx, "enterprise", e.ID, e.Version, action, changes, e.UpdatedAt)
		})
	s.enterprisesWritten()
	if err != nil {
		return nil, err
	}
	return e, nil
}

func checkVersion(e *backend.Enterprise, version *int) error {
	if version != nil && *version != e.Version {
		return &backend.Error{Code: backend.ECONFLICT,
			Message: fmt.Sprintf("the enterprise is at version %d, not %d: someone changed it since you read it; reload and try again", e.Version, *version),
			Fields:  map[string]string{"version": "stale"}}
	}
	return nil
}

func applyPatch(e *backend.Enterprise, p EnterprisePatch) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&e.USCC, p.USCC)
	set(&e.Name, p.Name)
	set(&e.Town, p.Town)
	set(&e.Industry, p.Industry)
	set(&e.Address, p.Address)
	set(&e.Status, p.Status)
	set(&e.LegalRepresentative, p.LegalRepresentative)
	set(&e.SafetyManager, p.SafetyManager)
	set(&e.Phone, p.Phone)
	if p.Location != nil {
		loc := *p.Location
		e.Location = &loc
	}
	if p.Categories != nil {
		e.Categories = *p.Categories
	}
	if p.Flags != nil {
		e.Flags = *p.Flags
	}
}

// phoneChars is what a phone number may be written with: digits, spaces,
// hyphens, parentheses, an extension mark and a leading plus.
var phoneChars = regexp.MustCompile(`^\+?[0-9 ()\-]+((转|ext\.?|x)[0-9]{1,6})?$`)

// checkEnterprise normalises e in place (trimmed text, upper-case USCC,
// enumerations sorted and without duplicates) and validates it, naming
// every bad field at once. selfID is the enterprise being changed, "" for
// a new one, so that keeping one's own USCC is no conflict.
func (s *Service) checkEnterprise(ctx context.Context, e *backend.Enterprise, selfID string) error {
	fields := enterpriseProblems(e)
	if town, reason, err := s.checkTown(ctx, e.Town); err != nil {
		return err
	} else if reason != "" {
		fields["town"] = reason
	} else {
		e.Town = town
	}
	if len(fields) > 0 {
		return backend.InvalidFields("invalid enterprise", fields)
	}
	// The unique index has the last word; this check gives the friendly
	// message in the common case.
	other, err := s.Enterprises.FindEnterpriseByUSCC(ctx, e.USCC)
	switch {
	case err == nil && other.ID != selfID:
		return &backend.Error{Code: backend.ECONFLICT, Message: "an enterprise with USCC " + e.USCC + " already exists",
			Fields: map[string]string{"uscc": "already registered to " + other.Name}}
	case err != nil && backend.ErrorCode(err) != backend.ENOTFOUND:
		return err
	}
	return nil
}

// enterpriseProblems normalises e and returns its field problems, without
// the checks that need the stores (town, USCC uniqueness).
func enterpriseProblems(e *backend.Enterprise) map[string]string {
	fields := map[string]string{}
	for _, f := range []*string{&e.Name, &e.Town, &e.Industry, &e.Address, &e.Status, &e.LegalRepresentative, &e.SafetyManager, &e.Phone} {
		*f = strings.TrimSpace(*f)
	}
	code, err := uscc.Validate(e.USCC)
	e.USCC = code
	if e.USCC == "" {
		fields["uscc"] = "required"
	} else if err != nil {
		fields["uscc"] = err.Error()
	}
	textLimit(fields, "name", e.Name, 1, 200)
	textLimit(fields, "industry", e.Industry, 0, 100)
	textLimit(fields, "address", e.Address, 0, 300)
	textLimit(fields, "legal_representative", e.LegalRepresentative, 0, 50)
	textLimit(fields, "safety_manager", e.SafetyManager, 0, 50)
	if e.Status != backend.EnterpriseActive && e.Status != backend.EnterpriseClosed {
		fields["status"] = "active or closed"
	}
	if e.Location != nil {
		// NaN fails every comparison, so a range check alone lets it
		// through ("NaN" parses as a number); stored, it would make every
		// listing holding it, and the phones' task sync, fail to encode
		// as JSON. Infinities are outside the range anyway.
		if lat := e.Location.Lat; math.IsNaN(lat) || lat < -90 || lat > 90 {
			fields["location.lat"] = "a latitude from -90 to 90"
		}
		if lng := e.Location.Lng; math.IsNaN(lng) || lng < -180 || lng > 180 {
			fields["location.lng"] = "a longitude from -180 to 180"
		}
	}
	var bad string
	// The value is clipped: it comes from a spreadsheet cell or a request
	// body, and the message goes into every report row and error naming it.
	e.Categories, bad = enumeration(e.Categories, backend.Categories)
	if bad != "" {
		fields["categories"] = "unknown category '" + sheet.Clip(bad) + "'"
	}
	e.Flags, bad = enumeration(e.Flags, backend.Flags)
	if bad != "" {
		fields["flags"] = "unknown flag '" + sheet.Clip(bad) + "'"
	}
	if e.Phone != "" && !plausiblePhone(e.Phone) {
		fields["phone"] = "not a plausible phone number (7–15 digits, e.g. 0356-1234567 or 13912345678)"
	}
	return fields
}

func textLimit(fields map[string]string, name, v string, lo, hi int) {
	n := utf8.RuneCountInString(v)
	switch {
	case n < lo && lo == 1:
		fields[name] = "required"
	case n > hi:
		fields[name] = fmt.Sprintf("at most %d characters", hi)
	}
}

// enumeration returns values in the order of allowed, without duplicates
// (so that the same set always diffs equal), and the first unknown value.
func enumeration(values, allowed []string) ([]string, string) {
	out := []string{}
	for _, a := range allowed {
		for _, v := range values {
			if strings.TrimSpace(v) == a {
				out = append(out, a)
				break
			}
		}
	}
	for _, v := range values {
		if !slices.Contains(allowed, strings.TrimSpace(v)) {
			return out, v
		}
	}
	return out, ""
}

func plausiblePhone(p string) bool {
	if !phoneChars.MatchString(p) {
		return false
	}
	main := p
	if i := strings.IndexAny(p, "转ex"); i >= 0 {
		main = p[:i]
	}
	digits := 0
	for _, r := range main {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	return digits >= 7 && digits <= 15
}

// EnterpriseFields is an enterprise as the field → value map that versions
// diff and the audit trail digests: the facts a clerk maintains, without
// the bookkeeping (id, version, timestamps).
func EnterpriseFields(e *backend.Enterprise) map[string]any {
	var loc any
	if e.Location != nil {
		loc = map[string]any{"lat": e.Location.Lat, "lng": e.Location.Lng}
	}
	var reviewed any
	if e.ReviewedAt != nil {
		reviewed = e.ReviewedAt.UTC().Format(time.RFC3339Nano)
	}
	return map[string]any{
		"uscc": e.USCC, "name": e.Name, "town": e.Town, "industry": e.Industry, "address": e.Address,
		"location": loc, "categories": slices.Clone(e.Categories), "flags": slices.Clone(e.Flags),
		"status": e.Status, "legal_representative": e.LegalRepresentative,
		"safety_manager": e.SafetyManager, "phone": e.Phone, "reviewed_at": reviewed,
	}
}

// withID adds the id to a field map for the audit trail, so that an event's
// digests pin which record they describe.
func withID(e *backend.Enterprise, fields map[string]any) map[string]any {
	out := make(map[string]any, len(fields)+2)
	for k, v := range fields {
		out[k] = v
	}
	out["id"] = e.ID
	return out
}
