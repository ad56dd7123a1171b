// Package itemlist is the yearly list of inspection items (随机抽查事项清单):
// each item with its legal basis, subject department, content, method and
// required qualification (art. 9, 10). A year's list is published once;
// after that it changes only by new versions that say why (the law changed).
//
// It depends on backend interfaces only; it imports no driver and no HTTP.
package itemlist

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

// Departments is what the item list needs of the department store: to
// check the subject department, and to name departments in spreadsheets.
type Departments interface {
	// FindDepartmentByID returns a department. ENOTFOUND.
	FindDepartmentByID(ctx context.Context, id string) (*backend.Department, error)
	// FindDepartments lists all departments by name.
	FindDepartments(ctx context.Context) ([]*backend.Department, error)
}

// Service is the item-list use case.
type Service struct {
	Items          backend.ItemStore
	Qualifications backend.QualificationStore
	Departments    Departments
	Versions       backend.VersionStore
	Audit          backend.Auditor
	Now            func() time.Time

	seeded atomic.Bool // the default qualifications are known to be stored
}

// ObjectType names items in versions and the audit trail.
const ObjectType = "item"

// Page sizes of item listings.
const (
	DefaultLimit = 100
	MaxLimit     = 500
)

// Years an item list may be kept for.
const (
	MinYear = 2000
	MaxYear = 2100
)

var codePattern = regexp.MustCompile(`^[A-Z0-9][A-Z0-9._-]{0,39}$`)

// NewItem is the input of CreateItem. Reason is required when the year is
// already published: adding an item then amends a published list (art. 10).
type NewItem struct {
	Year          int
	Code          string
	Name          string
	LegalBasis    backend.LegalBasis
	DepartmentID  string
	Content       string
	Method        string
	Qualification string
	Categories    []string
	Reason        string
}

// ItemPatch changes some fields of an item; nil fields stay as they are.
// Version, when given, must be the version the caller read. Reason is
// required once the item's year is published.
type ItemPatch struct {
	Year          *int
	Code          *string
	Name          *string
	LegalBasis    *backend.LegalBasis
	DepartmentID  *string
	Content       *string
	Method        *string
	Qualification *string
	Categories    *[]string
	Reason        *string
	Version       *int
}

// CreateItem validates and stores an item, version 1. EINVALID naming every
// bad field; ECONFLICT (fields.code) when the year has that code;
// EFORBIDDEN when staff create an item of another department.
func (s *Service) CreateItem(ctx context.Context, in NewItem) (*backend.Item, error) {
	now := s.Now().UTC()
	it := &backend.Item{
		Year: in.Year, Code: normalizeCode(in.Code), Name: strings.TrimSpace(in.Name),
		LegalBasis:   backend.LegalBasis{Law: strings.TrimSpace(in.LegalBasis.Law), Article: strings.TrimSpace(in.LegalBasis.Article)},
		DepartmentID: strings.TrimSpace(in.DepartmentID), Content: strings.TrimSpace(in.Content),
		Method: strings.TrimSpace(in.Method), Qualification: strings.TrimSpace(in.Qualification),
		Categories: normalizeList(in.Categories), Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if err := authorizeWrite(ctx, "", it.DepartmentID); err != nil {
		return nil, err
	}
	fields := map[string]string{}
	pub, err := s.publication(ctx, it.Year)
	if err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(in.Reason)
	if pub != nil {
		if reason == "" {
			fields["reason"] = fmt.Sprintf("the item list of %d is published; say why it changes (e.g. the law changed)", it.Year)
		}
		it.PublishedAt, it.PublishedBy, it.AmendmentReason = &now, pub.PublishedBy, reason
	}
	if err := s.validate(ctx, it, nil, fields); err != nil {
		return nil, err
	}
	action := "create"
	if pub != nil {
		action = "amend"
	}
	it.ID = backend.NewID()
	if err := s.save(ctx, action, nil, it, func(ctx context.Context) error { return s.Items.CreateItem(ctx, it) }); err != nil {
		return nil, err
	}
	if pub == nil {
		// The year may have been published between the check above and the
		// insert; then the publication missed this item, so stamp it now.
		if pub, err = s.publication(ctx, it.Year); err != nil {
			return nil, err
		} else if pub != nil {
			return s.stamp(ctx, it, pub)
		}
	}
	return it, nil
}

// GetItem returns an item. ENOTFOUND. Every signed-in user may read items:
// inspectors check them on site.
func (s *Service) GetItem(ctx context.Context, id string) (*backend.Item, error) {
	return s.Items.FindItemByID(ctx, id)
}

// ListItems lists items matching f by year and code, and the total count.
func (s *Service) ListItems(ctx context.Context, f backend.ItemFilter) ([]*backend.Item, int, error) {
	if f.Limit <= 0 || f.Limit > MaxLimit {
		f.Limit = DefaultLimit
	}
	return s.Items.FindItems(ctx, f)
}

// UpdateItem applies a patch. Before publication, drafts change freely;
// after it, a non-empty Reason is required and the change is an
// amendment: a new version carrying the reason (art. 10). Nothing is ever
// deleted. A patch that changes nothing stores nothing. EINVALID naming
// every bad field; ECONFLICT for a stale version or a taken code;
// EFORBIDDEN when staff touch another department's item.
func (s *Service) UpdateItem(ctx context.Context, id string, p ItemPatch) (*backend.Item, error) {
	old, err := s.Items.FindItemByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := authorizeWrite(ctx, old.DepartmentID, ""); err != nil {
		return nil, err
	}
	if p.Version != nil && *p.Version != old.Version {
		return nil, &backend.Error{Code: backend.ECONFLICT, Message: fmt.Sprintf("the item is at version %d, not %d; reload and try again", old.Version, *p.Version), Fields: map[string]string{"version": "stale"}}
	}
	pub, err := s.publication(ctx, old.Year)
	if err != nil {
		return nil, err
	}
	it := *old
	fields := map[string]string{}
	if p.Year != nil && *p.Year != old.Year {
		fields["year"] = "cannot change; create the item in the other year's list"
	}
	if p.Code != nil {
		it.Code = normalizeCode(*p.Code)
		if pub != nil && it.Code != old.Code {
			fields["code"] = "cannot change after the list is published"
		}
	}
	if p.Name != nil {
		it.Name = strings.TrimSpace(*p.Name)
	}
	if p.LegalBasis != nil {
		it.LegalBasis = backend.LegalBasis{Law: strings.TrimSpace(p.LegalBasis.Law), Article: strings.TrimSpace(p.LegalBasis.Article)}
	}
	if p.DepartmentID != nil {
		it.DepartmentID = strings.TrimSpace(*p.DepartmentID)
	}
	if p.Content != nil {
		it.Content = strings.TrimSpace(*p.Content)
	}
	if p.Method != nil {
		it.Method = strings.TrimSpace(*p.Method)
	}
	if p.Qualification != nil {
		it.Qualification = strings.TrimSpace(*p.Qualification)
	}
	if p.Categories != nil {
		it.Categories = normalizeList(*p.Categories)
	}
	reason := ""
	if p.Reason != nil {
		reason = strings.TrimSpace(*p.Reason)
	}
	if pub != nil && reason == "" {
		fields["reason"] = fmt.Sprintf("the item list of %d is published; say why it changes (e.g. the law changed)", old.Year)
	}
	if err := authorizeWrite(ctx, "", it.DepartmentID); err != nil {
		return nil, err
	}
	if err := s.validate(ctx, &it, old, fields); err != nil {
		return nil, err
	}
	if len(backend.Diff(itemRecord(old), itemRecord(&it))) == 0 {
		return old, nil
	}
	action := "update"
	if pub != nil {
		action = "amend"
		it.AmendmentReason = reason
		if it.PublishedAt == nil { // a publication interrupted before stamping this item
			t := pub.PublishedAt
			it.PublishedAt, it.PublishedBy = &t, pub.PublishedBy
		}
	}
	it.UpdatedAt = s.Now().UTC()
	if err := s.save(ctx, action, old, &it, func(ctx context.Context) error { return s.Items.UpdateItem(ctx, &it) }); err != nil {
		return nil, err
	}
	return &it, nil
}

// ItemVersions returns an item's versions, oldest first. ENOTFOUND.
func (s *Service) ItemVersions(ctx context.Context, id string) ([]*backend.Version, error) {
	if _, err := s.Items.FindItemByID(ctx, id); err != nil {
		return nil, err
	}
	return s.Versions.FindVersions(ctx, ObjectType, id)
}

// Publish publishes a year's item list: from now on it is public, plans may
// use it, and it changes only by amendments. Every item gets a version
// with action "publish". EINVALID when the year has no items; ECONFLICT
// when it is already published.
//
// The publication record is written first and is the authority: a second
// Publish of the year fails on its unique key even when two run at once,
// and if stamping the items is interrupted, the year still counts as
// published and later changes still need a reason.
func (s *Service) Publish(ctx context.Context, year int) (*backend.ItemPublication, error) {
	actor := backend.ActorFromContext(ctx)
	if !actor.HasRole(backend.RoleCoordinator) {
		return nil, backend.Errorf(backend.EFORBIDDEN, "only coordinators publish item lists")
	}
	if year < MinYear || year > MaxYear {
		return nil, backend.InvalidFields("invalid year", map[string]string{"year": fmt.Sprintf("must be from %d to %d", MinYear, MaxYear)})
	}
	items, total, err := s.Items.FindItems(ctx, backend.ItemFilter{Year: year})
	if err != nil {
		return nil, err
	}
	if total == 0 {
		return nil, backend.InvalidFields("nothing to publish", map[string]string{"year": fmt.Sprintf("the item list of %d is empty", year)})
	}
	pub := &backend.ItemPublication{Year: year, PublishedAt: s.Now().UTC(), PublishedBy: actor.UserID, ItemCount: total}
	err = s.Audit.Change(ctx, backend.AuditChange{Action: "item_list.publish", ObjectType: "item_list", ObjectID: fmt.Sprint(year),
		After: map[string]any{"year": year, "item_count": total, "published_at": pub.PublishedAt}},
		func(ctx context.Context) error { return s.Items.CreateItemPublication(ctx, pub) })
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if _, err := s.stamp(ctx, it, pub); err != nil {
			return nil, err
		}
	}
	return pub, nil
}

// stamp marks one item as published with its own "publish" version,
// retrying on a concurrent edit of the item.
func (s *Service) stamp(ctx context.Context, it *backend.Item, pub *backend.ItemPublication) (*backend.Item, error) {
	for attempt := 0; ; attempt++ {
		if it.PublishedAt != nil && it.PublishedBy != "" {
			return it, nil
		}
		next := *it
		t := pub.PublishedAt
		next.PublishedAt, next.PublishedBy = &t, pub.PublishedBy
		next.UpdatedAt = s.Now().UTC()
		err := s.save(ctx, "publish", it, &next, func(ctx context.Context) error { return s.Items.UpdateItem(ctx, &next) })
		if err == nil {
			return &next, nil
		}
		if backend.ErrorCode(err) != backend.ECONFLICT || attempt >= 5 {
			return nil, err
		}
		if it, err = s.Items.FindItemByID(ctx, it.ID); err != nil {
			return nil, err
		}
	}
}

// Publication returns a year's publication. ENOTFOUND when the year's list
// is not published.
func (s *Service) Publication(ctx context.Context, year int) (*backend.ItemPublication, error) {
	return s.Items.FindItemPublication(ctx, year)
}

// PublishedItems returns a year's published list by code: what plans of
// that year may use (art. 9) and what the public sees (art. 10). ENOTFOUND
// when the year is not published.
func (s *Service) PublishedItems(ctx context.Context, year int) ([]*backend.Item, error) {
	if _, err := s.Items.FindItemPublication(ctx, year); err != nil {
		return nil, err
	}
	items, _, err := s.Items.FindItems(ctx, backend.ItemFilter{Year: year})
	return items, err
}

// IsPublished reports whether itemID is an item of year's list and that
// list is published, so that a plan of that year may use it (art. 9).
func (s *Service) IsPublished(ctx context.Context, year int, itemID string) (bool, error) {
	it, err := s.Items.FindItemByID(ctx, itemID)
	if backend.ErrorCode(err) == backend.ENOTFOUND {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if it.Year != year {
		return false, nil
	}
	pub, err := s.publication(ctx, year)
	return pub != nil, err
}

// publication returns a year's publication, or nil when it has none.
func (s *Service) publication(ctx context.Context, year int) (*backend.ItemPublication, error) {
	pub, err := s.Items.FindItemPublication(ctx, year)
	if backend.ErrorCode(err) == backend.ENOTFOUND {
		return nil, nil
	}
	return pub, err
}

// validate checks it (old is the item before the change, nil on creation),
// adding to fields, and returns EINVALID naming every bad field.
func (s *Service) validate(ctx context.Context, it, old *backend.Item, fields map[string]string) error {
	if it.Year < MinYear || it.Year > MaxYear {
		fields["year"] = fmt.Sprintf("must be from %d to %d", MinYear, MaxYear)
	}
	if !codePattern.MatchString(it.Code) {
		fields["code"] = "1–40 letters, digits, '.', '_' or '-'"
	}
	checkText(fields, "name", it.Name, 200)
	checkText(fields, "legal_basis.law", it.LegalBasis.Law, 200)
	checkText(fields, "legal_basis.article", it.LegalBasis.Article, 200)
	checkText(fields, "content", it.Content, 4000)
	if !slices.Contains(backend.ItemMethods, it.Method) {
		fields["method"] = "one of " + strings.Join(backend.ItemMethods, ", ")
	}
	var unknown []string
	for _, c := range it.Categories {
		if !slices.Contains(backend.Categories, c) {
			unknown = append(unknown, c)
		}
	}
	if len(unknown) > 0 {
		fields["categories"] = "unknown: " + sheet.QuoteAll(unknown)
	}
	if it.DepartmentID == "" {
		fields["department_id"] = "required"
	} else if old == nil || it.DepartmentID != old.DepartmentID {
		if _, err := s.Departments.FindDepartmentByID(ctx, it.DepartmentID); backend.ErrorCode(err) == backend.ENOTFOUND {
			fields["department_id"] = "no such department"
		} else if err != nil {
			return err
		}
	}
	if it.Qualification == "" {
		fields["qualification"] = "required"
	} else if old == nil || it.Qualification != old.Qualification {
		known, err := s.knownQualifications(ctx)
		if err != nil {
			return err
		}
		if !known[it.Qualification] {
			fields["qualification"] = "not on the qualification list"
		}
	}
	if len(fields) > 0 {
		return backend.InvalidFields("invalid item", fields)
	}
	if old == nil || it.Code != old.Code {
		other, err := s.Items.FindItemByCode(ctx, it.Year, it.Code)
		if err == nil && other.ID != it.ID {
			return &backend.Error{Code: backend.ECONFLICT, Message: "this year already has an item with that code", Fields: map[string]string{"code": "taken in this year"}}
		} else if err != nil && backend.ErrorCode(err) != backend.ENOTFOUND {
			return err
		}
	}
	return nil
}

// knownQualifications returns the managed qualification codes, storing the
// defaults first if this service has not yet seen them stored.
func (s *Service) knownQualifications(ctx context.Context) (map[string]bool, error) {
	if !s.seeded.Load() {
		if err := backend.EnsureDefaultQualifications(ctx, s.Qualifications, s.Now().UTC()); err != nil {
			return nil, err
		}
		s.seeded.Store(true)
	}
	qs, err := s.Qualifications.FindQualifications(ctx)
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(qs))
	for _, q := range qs {
		known[q.Code] = true
	}
	return known, nil
}

// authorizeWrite checks that the actor may write an item of department
// oldDept (when set) and make one belong to newDept (when set):
// coordinators and admins anywhere, staff only for their own department.
func authorizeWrite(ctx context.Context, oldDept, newDept string) error {
	actor := backend.ActorFromContext(ctx)
	if actor.HasRole(backend.RoleCoordinator) {
		return nil
	}
	if !actor.HasRole(backend.RoleStaff) {
		return backend.Errorf(backend.EFORBIDDEN, "only coordinators and department staff may change items")
	}
	if (oldDept != "" && oldDept != actor.DepartmentID) || (newDept != "" && newDept != actor.DepartmentID) {
		return backend.Errorf(backend.EFORBIDDEN, "staff may change only their own department's items")
	}
	return nil
}

// save makes a change from before (nil on creation) to after: write
// stores the item, with the change's audit event in the same write
// (backend.Auditor.Change), and then its version is appended.
func (s *Service) save(ctx context.Context, action string, before, after *backend.Item, write func(context.Context) error) error {
	c := backend.AuditChange{Action: ObjectType + "." + action, ObjectType: ObjectType, ObjectID: after.ID, After: itemRecord(after)}
	if before != nil {
		c.Before = itemRecord(before)
	}
	return s.Audit.Change(ctx, c, func(ctx context.Context) error {
		if err := write(ctx); err != nil {
			return err
		}
		return s.appendVersion(ctx, action, before, after)
	})
}

// appendVersion appends the version record of a change.
func (s *Service) appendVersion(ctx context.Context, action string, before, after *backend.Item) error {
	var b map[string]any
	if before != nil {
		b = itemRecord(before)
	}
	a := itemRecord(after)
	changes := backend.Diff(b, a)
	if action == "amend" && !slices.ContainsFunc(changes, func(c backend.FieldChange) bool { return c.Field == "amendment_reason" }) {
		// The same reason as last time is still this change's reason: keep
		// it in the version so that every amendment says why.
		changes = append(changes, backend.FieldChange{Field: "amendment_reason", Before: b["amendment_reason"], After: a["amendment_reason"]})
	}
	actor := backend.ActorFromContext(ctx)
	return s.Versions.AppendVersion(ctx, &backend.Version{
		ObjectType: ObjectType, ObjectID: after.ID, Number: after.Version, At: after.UpdatedAt,
		ActorID: actor.UserID, ActorName: actor.Username, Action: action, Changes: changes,
	})
}

// itemRecord is the item as a JSON-like map for versions and the audit
// trail, without bookkeeping fields.
func itemRecord(it *backend.Item) map[string]any {
	m := map[string]any{
		"year": it.Year, "code": it.Code, "name": it.Name,
		"legal_basis":   map[string]any{"law": it.LegalBasis.Law, "article": it.LegalBasis.Article},
		"department_id": it.DepartmentID, "content": it.Content, "method": it.Method,
		"qualification": it.Qualification, "categories": append([]string{}, it.Categories...),
		"published_by": it.PublishedBy, "amendment_reason": it.AmendmentReason,
	}
	if it.PublishedAt != nil {
		m["published_at"] = it.PublishedAt.UTC().Format(time.RFC3339)
	}
	return m
}

// normalizeCode trims and upper-cases an item code, so that "zz-01" and
// "ZZ-01" are the same item.
func normalizeCode(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// normalizeList trims, de-duplicates and sorts a list of codes.
func normalizeList(in []string) []string {
	out := []string{}
	for _, c := range in {
		if c = strings.TrimSpace(c); c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// checkText requires a non-empty value of at most limit characters.
func checkText(fields map[string]string, name, v string, limit int) {
	if n := utf8.RuneCountInString(v); n == 0 || n > limit {
		fields[name] = fmt.Sprintf("required, at most %d characters", limit)
	}
}
