// Package roster is the inspector roster (执法人员名录库) use case:
// law-enforcement inspectors with their certificates, qualifications and
// declared conflicts of interest (art. 12, 15), with every change kept as a
// version, and the managed list of qualifications they hold.
//
// It depends on backend interfaces only; it imports no driver and no HTTP.
package roster

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"suiji/backend"
	"suiji/backend/sheet"
)

// Departments is what the roster needs of the department store: to check
// that a department exists, and to name departments in spreadsheets.
type Departments interface {
	// FindDepartmentByID returns a department. ENOTFOUND.
	FindDepartmentByID(ctx context.Context, id string) (*backend.Department, error)
	// FindDepartments lists all departments by name.
	FindDepartments(ctx context.Context) ([]*backend.Department, error)
}

// Enterprises is what the roster needs of the directory: to check that a
// declared conflict names a real enterprise.
type Enterprises interface {
	// FindEnterprisesByIDs returns the stored enterprises among ids, in one
	// query; unknown ones are left out.
	FindEnterprisesByIDs(ctx context.Context, ids []string) ([]*backend.Enterprise, error)
}

// Service is the roster use case.
type Service struct {
	Inspectors     backend.InspectorStore
	Qualifications backend.QualificationStore
	Users          backend.UserStore
	Departments    Departments
	// Enterprises checks conflict-of-interest references; when nil (a
	// deployment without the directory) they are stored unchecked.
	Enterprises Enterprises
	Versions    backend.VersionStore
	Audit       backend.Auditor
	Now         func() time.Time

	seeded atomic.Bool // the default qualifications are known to be stored
}

// Page sizes of roster listings.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// ObjectType names inspectors in versions and the audit trail.
const ObjectType = "inspector"

// Today returns the current calendar day in China, the day certificate
// expiry is judged on.
func (s *Service) Today() backend.Date { return backend.DateOf(s.Now()) }

// ----- qualifications -----

var qualificationCode = regexp.MustCompile(`^[a-z][a-z0-9_]{1,40}$`)

// EnsureQualifications stores the default qualifications that are missing.
// It is idempotent; the service also calls it before it first needs the
// list, so a fresh database works without a seed step.
func (s *Service) EnsureQualifications(ctx context.Context) error {
	if s.seeded.Load() {
		return nil
	}
	if err := backend.EnsureDefaultQualifications(ctx, s.Qualifications, s.Now().UTC()); err != nil {
		return err
	}
	s.seeded.Store(true)
	return nil
}

// ListQualifications returns the managed list by code.
func (s *Service) ListQualifications(ctx context.Context) ([]*backend.Qualification, error) {
	if err := s.EnsureQualifications(ctx); err != nil {
		return nil, err
	}
	return s.Qualifications.FindQualifications(ctx)
}

// CreateQualification adds a qualification to the managed list. EINVALID
// naming each bad field; ECONFLICT (fields.code) when the code exists, and
// (fields.name) when another qualification has the name: spreadsheets name
// qualifications by name, so two of one name would make a cell mean
// either.
func (s *Service) CreateQualification(ctx context.Context, code, name string) (*backend.Qualification, error) {
	code, name = strings.TrimSpace(code), strings.TrimSpace(name)
	fields := map[string]string{}
	if !qualificationCode.MatchString(code) {
		fields["code"] = "2–41 characters: lower-case letters, digits or '_', starting with a letter"
	}
	if n := utf8.RuneCountInString(name); n == 0 || n > 50 {
		fields["name"] = "required, at most 50 characters"
	}
	if len(fields) > 0 {
		return nil, backend.InvalidFields("invalid qualification", fields)
	}
	if err := s.EnsureQualifications(ctx); err != nil {
		return nil, err
	}
	// The store's unique code has the last word on codes. A name has no
	// unique index (storage/mongodb/indexes.go says why): two creates of
	// one name at the same moment may both pass this check, and an import
	// then reads that name as ambiguous (backend.NewNames) — rejected with
	// the reason, never guessed.
	if err := s.qualificationTaken(ctx, code, name, nil); err != nil {
		return nil, err
	}
	q := &backend.Qualification{Code: code, Name: name, CreatedAt: s.Now().UTC()}
	err := s.Audit.Change(ctx, backend.AuditChange{Action: "qualification.create", ObjectType: "qualification", ObjectID: q.Code,
		After: map[string]any{"code": q.Code, "name": q.Name}},
		func(ctx context.Context) error { return s.Qualifications.CreateQualification(ctx, q) })
	if backend.ErrorCode(err) == backend.ECONFLICT {
		// Another create came first: say which of the two it took.
		if taken := s.qualificationTaken(ctx, code, name, err); taken != nil {
			return nil, taken
		}
		return nil, &backend.Error{Code: backend.ECONFLICT, Message: "a qualification with this code or name exists", Fields: map[string]string{"code": "taken"}, Err: err}
	} else if err != nil {
		return nil, err
	}
	return q, nil
}

// qualificationTaken returns ECONFLICT naming code and name where a stored
// qualification has them (cause, when set, is the store's refusal it
// explains), nil when neither is taken, or the store's error.
func (s *Service) qualificationTaken(ctx context.Context, code, name string, cause error) error {
	qs, err := s.Qualifications.FindQualifications(ctx)
	if err != nil {
		return err
	}
	fields := map[string]string{}
	for _, q := range qs {
		if q.Code == code {
			fields["code"] = "taken"
		}
		if q.Name == name && q.Code != code {
			fields["name"] = "taken by qualification " + q.Code
		}
	}
	switch {
	case fields["code"] != "":
		return &backend.Error{Code: backend.ECONFLICT, Message: "a qualification with this code exists", Fields: fields, Err: cause}
	case fields["name"] != "":
		return &backend.Error{Code: backend.ECONFLICT, Message: "another qualification has this name", Fields: fields, Err: cause}
	}
	return nil
}

// knownQualifications returns the set of codes on the managed list.
func (s *Service) knownQualifications(ctx context.Context) (map[string]bool, error) {
	qs, err := s.ListQualifications(ctx)
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(qs))
	for _, q := range qs {
		known[q.Code] = true
	}
	return known, nil
}

// ----- inspectors -----

// NewInspector is the input of CreateInspector. Active defaults to true.
type NewInspector struct {
	UserID             string
	Name               string
	BadgeNo            string
	CertificateExpires string // "YYYY-MM-DD"
	DepartmentID       string
	Qualifications     []string
	Conflicts          []backend.Conflict
	Active             *bool
	Phone              string
}

// InspectorPatch changes some fields of an inspector; nil fields stay as
// they are. Version, when given, must be the version the caller read.
type InspectorPatch struct {
	UserID             *string
	Name               *string
	BadgeNo            *string
	CertificateExpires *string
	DepartmentID       *string
	Qualifications     *[]string
	Conflicts          *[]backend.Conflict
	Active             *bool
	Phone              *string
	Version            *int
}

var phonePattern = regexp.MustCompile(`^[0-9+\- ()]{5,20}$`)

var badgePattern = regexp.MustCompile(`^[0-9A-Z][0-9A-Z-]{2,31}$`)

// CreateInspector validates and stores a new roster entry, version 1.
// EINVALID naming every bad field; ECONFLICT naming badge_no or user_id when
// taken; EFORBIDDEN when staff add an inspector to another department.
func (s *Service) CreateInspector(ctx context.Context, in NewInspector) (*backend.Inspector, error) {
	active := true
	if in.Active != nil {
		active = *in.Active
	}
	now := s.Now().UTC()
	ins := &backend.Inspector{
		UserID: strings.TrimSpace(in.UserID), Name: strings.TrimSpace(in.Name),
		BadgeNo: backend.NormalizeBadgeNo(in.BadgeNo), DepartmentID: strings.TrimSpace(in.DepartmentID),
		Qualifications: normalizeCodes(in.Qualifications), Conflicts: normalizeConflicts(in.Conflicts),
		Active: active, Phone: strings.TrimSpace(in.Phone), Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	fields := map[string]string{}
	if d, err := backend.ParseDate(in.CertificateExpires); err != nil {
		fields["certificate_expires"] = "must be a date as YYYY-MM-DD"
	} else {
		ins.CertificateExpires = d
	}
	if err := s.authorizeWrite(ctx, "", ins.DepartmentID); err != nil {
		return nil, err
	}
	if err := s.validate(ctx, ins, nil, fields); err != nil {
		return nil, err
	}
	ins.ID = backend.NewID()
	if err := s.save(ctx, "create", nil, ins, func(ctx context.Context) error { return s.Inspectors.CreateInspector(ctx, ins) }); err != nil {
		return nil, err
	}
	return ins, nil
}

// GetInspector returns an inspector. Roster readers (coordinators, staff,
// leaders, admins) see every inspector; an inspector sees only their own
// record, and others are ENOTFOUND so that the roster is not probed.
func (s *Service) GetInspector(ctx context.Context, id string) (*backend.Inspector, error) {
	ins, err := s.Inspectors.FindInspectorByID(ctx, id)
	if err != nil {
		return nil, err
	}
	actor := backend.ActorFromContext(ctx)
	if !canReadRoster(actor) && ins.UserID != actor.UserID {
		return nil, backend.Errorf(backend.ENOTFOUND, "inspector not found")
	}
	return ins, nil
}

// ListInspectors lists the roster. EFORBIDDEN for callers who may not read
// the whole roster (inspectors). A Drawable filter is judged on today.
func (s *Service) ListInspectors(ctx context.Context, f backend.InspectorFilter) ([]*backend.Inspector, int, error) {
	if !canReadRoster(backend.ActorFromContext(ctx)) {
		return nil, 0, backend.Errorf(backend.EFORBIDDEN, "only roster managers and leaders may list the roster")
	}
	if f.Limit <= 0 || f.Limit > MaxLimit {
		f.Limit = DefaultLimit
	}
	f.Today = s.Today()
	f.ExpiresBy = ""
	return s.Inspectors.FindInspectors(ctx, f)
}

// ExpiringInspectors lists inspectors whose certificate expires within days
// of today, already expired ones included, by expiry date. It also returns
// the day the list was judged on.
func (s *Service) ExpiringInspectors(ctx context.Context, days int) ([]*backend.Inspector, backend.Date, error) {
	if !canReadRoster(backend.ActorFromContext(ctx)) {
		return nil, "", backend.Errorf(backend.EFORBIDDEN, "only roster managers and leaders may list the roster")
	}
	if days < 0 || days > 3660 {
		return nil, "", backend.InvalidFields("invalid query parameter", map[string]string{"days": "must be from 0 to 3660"})
	}
	today := s.Today()
	list, _, err := s.Inspectors.FindInspectors(ctx, backend.InspectorFilter{ExpiresBy: today.AddDays(days)})
	return list, today, err
}

// UpdateInspector applies a patch. A patch that changes nothing stores
// nothing. Staff may change only inspectors of their own department and
// may not move one elsewhere: EFORBIDDEN (not ENOTFOUND, since staff may
// read the whole roster anyway). ENOTFOUND, EINVALID naming every bad field,
// ECONFLICT for a stale version or a taken badge number or user.
func (s *Service) UpdateInspector(ctx context.Context, id string, p InspectorPatch) (*backend.Inspector, error) {
	old, err := s.Inspectors.FindInspectorByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeWrite(ctx, old.DepartmentID, ""); err != nil {
		return nil, err
	}
	if p.Version != nil && *p.Version != old.Version {
		return nil, &backend.Error{Code: backend.ECONFLICT, Message: fmt.Sprintf("the inspector is at version %d, not %d; reload and try again", old.Version, *p.Version), Fields: map[string]string{"version": "stale"}}
	}
	ins := *old
	fields := map[string]string{}
	if p.UserID != nil {
		ins.UserID = strings.TrimSpace(*p.UserID)
	}
	if p.Name != nil {
		ins.Name = strings.TrimSpace(*p.Name)
	}
	if p.BadgeNo != nil {
		ins.BadgeNo = backend.NormalizeBadgeNo(*p.BadgeNo)
	}
	if p.CertificateExpires != nil {
		if d, err := backend.ParseDate(*p.CertificateExpires); err != nil {
			fields["certificate_expires"] = "must be a date as YYYY-MM-DD"
		} else {
			ins.CertificateExpires = d
		}
	}
	if p.DepartmentID != nil {
		ins.DepartmentID = strings.TrimSpace(*p.DepartmentID)
	}
	if p.Qualifications != nil {
		ins.Qualifications = normalizeCodes(*p.Qualifications)
	}
	if p.Conflicts != nil {
		ins.Conflicts = normalizeConflicts(*p.Conflicts)
	}
	if p.Active != nil {
		ins.Active = *p.Active
	}
	if p.Phone != nil {
		ins.Phone = strings.TrimSpace(*p.Phone)
	}
	if err := s.authorizeWrite(ctx, "", ins.DepartmentID); err != nil {
		return nil, err
	}
	if err := s.validate(ctx, &ins, old, fields); err != nil {
		return nil, err
	}
	if len(backend.Diff(inspectorRecord(old), inspectorRecord(&ins))) == 0 {
		return old, nil
	}
	ins.UpdatedAt = s.Now().UTC()
	if err := s.save(ctx, "update", old, &ins, func(ctx context.Context) error { return s.Inspectors.UpdateInspector(ctx, &ins) }); err != nil {
		return nil, err
	}
	return &ins, nil
}

// InspectorVersions returns an inspector's versions, oldest first, to the
// callers who may read it.
func (s *Service) InspectorVersions(ctx context.Context, id string) ([]*backend.Version, error) {
	if _, err := s.GetInspector(ctx, id); err != nil {
		return nil, err
	}
	return s.Versions.FindVersions(ctx, ObjectType, id)
}

// validate checks ins (the whole record after the change; old is the
// record before, nil on creation) and fills fields. References that did
// not change are not re-checked, so that editing a phone number does not
// fail because, say, the linked user later lost a role. It returns
// EINVALID naming every bad field, else ECONFLICT naming every taken one.
func (s *Service) validate(ctx context.Context, ins, old *backend.Inspector, fields map[string]string) error {
	if n := utf8.RuneCountInString(ins.Name); n == 0 || n > 50 {
		fields["name"] = "required, at most 50 characters"
	}
	// Every path in (the API, an import row without the column or with a
	// blank cell) must end with a real expiry: without one the inspector
	// is never drawable (CertificateExpired) and the expiry list cannot
	// warn anyone, so a roster entry missing it would be silently useless.
	if _, bad := fields["certificate_expires"]; !bad && !ins.CertificateExpires.Valid() {
		fields["certificate_expires"] = "required: a date as YYYY-MM-DD"
	}
	if !badgePattern.MatchString(ins.BadgeNo) {
		fields["badge_no"] = "3–32 letters, digits or '-'"
	}
	if ins.Phone != "" && !phonePattern.MatchString(ins.Phone) {
		fields["phone"] = "5–20 digits, spaces, '+', '-' or parentheses"
	}
	conflicts := map[string]string{}
	isNew := old == nil
	if isNew {
		old = &backend.Inspector{}
	}
	changed := func(same bool) bool { return isNew || !same }

	if ins.UserID == "" {
		fields["user_id"] = "required"
	} else if changed(ins.UserID == old.UserID) {
		u, err := s.Users.FindUserByID(ctx, ins.UserID)
		switch {
		case backend.ErrorCode(err) == backend.ENOTFOUND:
			fields["user_id"] = "no such user"
		case err != nil:
			return err
		case !slices.Contains(u.Roles, backend.RoleInspector):
			fields["user_id"] = "the user does not hold the inspector role"
		default:
			other, err := s.Inspectors.FindInspectorByUserID(ctx, ins.UserID)
			if err == nil && other.ID != ins.ID {
				conflicts["user_id"] = "already linked to inspector " + other.BadgeNo
			} else if err != nil && backend.ErrorCode(err) != backend.ENOTFOUND {
				return err
			}
		}
	}
	if ins.DepartmentID == "" {
		fields["department_id"] = "required"
	} else if changed(ins.DepartmentID == old.DepartmentID) {
		if _, err := s.Departments.FindDepartmentByID(ctx, ins.DepartmentID); backend.ErrorCode(err) == backend.ENOTFOUND {
			fields["department_id"] = "no such department"
		} else if err != nil {
			return err
		}
	}
	known, err := s.knownQualifications(ctx)
	if err != nil {
		return err
	}
	var unknown []string
	for _, q := range ins.Qualifications {
		if !known[q] {
			unknown = append(unknown, q)
		}
	}
	if len(unknown) > 0 {
		fields["qualifications"] = "not on the qualification list: " + sheet.QuoteAll(unknown) // codes from a request or a cell, bounded in messages
	}
	if len(ins.Qualifications) > backend.MaxQualifications {
		fields["qualifications"] = fmt.Sprintf("at most %d", backend.MaxQualifications)
	}
	if len(ins.Conflicts) > backend.MaxConflicts {
		fields["conflicts"] = fmt.Sprintf("at most %d", backend.MaxConflicts)
		return backend.InvalidFields("invalid inspector", fields)
	}
	oldConflicts := map[string]bool{}
	for _, c := range old.Conflicts {
		oldConflicts[c.EnterpriseID] = true
	}
	// The enterprises newly named, looked up in one query.
	exists := map[string]bool{}
	if s.Enterprises != nil {
		var ids []string
		for _, c := range ins.Conflicts {
			if c.EnterpriseID != "" && !oldConflicts[c.EnterpriseID] {
				ids = append(ids, c.EnterpriseID)
			}
		}
		if len(ids) > 0 {
			found, err := s.Enterprises.FindEnterprisesByIDs(ctx, ids)
			if err != nil {
				return err
			}
			for _, e := range found {
				exists[e.ID] = true
			}
		}
	}
	seen := map[string]bool{}
	for i, c := range ins.Conflicts {
		key := fmt.Sprintf("conflicts[%d]", i)
		if c.Reason == "" || utf8.RuneCountInString(c.Reason) > 500 {
			fields[key+".reason"] = "required, at most 500 characters"
		}
		switch {
		case c.EnterpriseID == "":
			fields[key+".enterprise_id"] = "required"
		case seen[c.EnterpriseID]:
			fields[key+".enterprise_id"] = "listed twice"
		case s.Enterprises != nil && !oldConflicts[c.EnterpriseID] && !exists[c.EnterpriseID]:
			fields[key+".enterprise_id"] = "no such enterprise"
		}
		seen[c.EnterpriseID] = true
	}
	if len(fields) > 0 {
		return backend.InvalidFields("invalid inspector", fields)
	}
	if ins.BadgeNo != "" && changed(ins.BadgeNo == old.BadgeNo) {
		other, err := s.Inspectors.FindInspectorByBadgeNo(ctx, ins.BadgeNo)
		if err == nil && other.ID != ins.ID {
			conflicts["badge_no"] = "taken by another inspector"
		} else if err != nil && backend.ErrorCode(err) != backend.ENOTFOUND {
			return err
		}
	}
	if len(conflicts) > 0 {
		return &backend.Error{Code: backend.ECONFLICT, Message: "conflicts with another inspector", Fields: conflicts}
	}
	return nil
}

// authorizeWrite checks that the actor may write an inspector of
// department oldDept (when set) and put one into newDept (when set):
// admins and coordinators anywhere, staff only within their own
// department. The route table already keeps other roles out.
func (s *Service) authorizeWrite(ctx context.Context, oldDept, newDept string) error {
	actor := backend.ActorFromContext(ctx)
	if actor.HasAnyRole(backend.RoleCoordinator) {
		return nil
	}
	if !actor.HasRole(backend.RoleStaff) {
		return backend.Errorf(backend.EFORBIDDEN, "only roster managers may change the roster")
	}
	if (oldDept != "" && oldDept != actor.DepartmentID) || (newDept != "" && newDept != actor.DepartmentID) {
		return backend.Errorf(backend.EFORBIDDEN, "staff may change only inspectors of their own department")
	}
	return nil
}

// canReadRoster reports whether the actor may read the whole roster.
func canReadRoster(a *backend.Actor) bool {
	return a.HasAnyRole(backend.RoleCoordinator, backend.RoleStaff, backend.RoleLeader)
}

// save makes a change from before (nil on creation) to after: write
// stores the inspector, with the change's audit event in the same write
// (backend.Auditor.Change), and then its version is appended.
func (s *Service) save(ctx context.Context, action string, before, after *backend.Inspector, write func(context.Context) error) error {
	var b map[string]any
	c := backend.AuditChange{Action: ObjectType + "." + action, ObjectType: ObjectType, ObjectID: after.ID, After: inspectorRecord(after)}
	if before != nil {
		b = inspectorRecord(before)
		c.Before = b
	}
	return s.Audit.Change(ctx, c, func(ctx context.Context) error {
		if err := write(ctx); err != nil {
			return err
		}
		actor := backend.ActorFromContext(ctx)
		return s.Versions.AppendVersion(ctx, &backend.Version{
			ObjectType: ObjectType, ObjectID: after.ID, Number: after.Version, At: after.UpdatedAt,
			ActorID: actor.UserID, ActorName: actor.Username, Action: action, Changes: backend.Diff(b, inspectorRecord(after)),
		})
	})
}

// inspectorRecord is the inspector as a JSON-like map: what versions diff
// and the audit trail digests. Bookkeeping (version, timestamps) is left
// out so that it never shows up as a change.
func inspectorRecord(in *backend.Inspector) map[string]any {
	conflicts := make([]map[string]any, len(in.Conflicts))
	for i, c := range in.Conflicts {
		conflicts[i] = map[string]any{"enterprise_id": c.EnterpriseID, "reason": c.Reason}
	}
	return map[string]any{
		"user_id": in.UserID, "name": in.Name, "badge_no": in.BadgeNo,
		"certificate_expires": string(in.CertificateExpires), "department_id": in.DepartmentID,
		"qualifications": append([]string{}, in.Qualifications...), "conflicts": conflicts,
		"active": in.Active, "phone": in.Phone,
	}
}

// normalizeCodes trims, de-duplicates and sorts qualification codes, so
// that the same set is always stored (and diffed) the same way.
func normalizeCodes(codes []string) []string {
	out := []string{}
	for _, c := range codes {
		if c = strings.TrimSpace(c); c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// normalizeConflicts trims conflicts and keeps their order (the order is
// how people entered them; validation names entries by index).
func normalizeConflicts(cs []backend.Conflict) []backend.Conflict {
	out := make([]backend.Conflict, len(cs))
	for i, c := range cs {
		out[i] = backend.Conflict{EnterpriseID: strings.TrimSpace(c.EnterpriseID), Reason: strings.TrimSpace(c.Reason)}
	}
	return out
}
