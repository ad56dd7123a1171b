package directory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"suiji/backend"
)

// DepartmentKinds lists the kinds a department may have.
var DepartmentKinds = []string{backend.DepartmentInternal, backend.DepartmentBrigade, backend.DepartmentExternal}

// NewDepartment is the input of CreateDepartment.
type NewDepartment struct {
	Name string
	Kind string
}

// DepartmentPatch changes some fields of a department; nil fields stay.
type DepartmentPatch struct {
	Name *string
	Kind *string
	// Version, when given, must be the stored one: a change made on an
	// older reading is refused (ECONFLICT, fields version "stale")
	// rather than undo one made meanwhile.
	Version *int
}

// ListDepartments lists every department by name.
func (s *Service) ListDepartments(ctx context.Context) ([]*backend.Department, error) {
	return s.Departments.FindDepartments(ctx)
}

// GetDepartment returns a department. ENOTFOUND.
func (s *Service) GetDepartment(ctx context.Context, id string) (*backend.Department, error) {
	return s.Departments.FindDepartmentByID(ctx, id)
}

// CreateDepartment validates and stores a department, with version 1 and an
// audit event. EINVALID naming each bad field; ECONFLICT (fields.name) when
// the name is taken.
func (s *Service) CreateDepartment(ctx context.Context, in NewDepartment) (*backend.Department, error) {
	now := s.now()
	d := &backend.Department{ID: backend.NewID(), Name: strings.TrimSpace(in.Name), Kind: strings.TrimSpace(in.Kind), CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := checkDepartment(d); err != nil {
		return nil, err
	}
	after := departmentFields(d)
	err := s.Audit.Change(ctx, backend.AuditChange{Action: "department.create", ObjectType: "department", ObjectID: d.ID, After: after},
		func(ctx context.Context) error {
			if err := s.Departments.CreateDepartment(ctx, d); err != nil {
				return err
			}
			return s.recordVersion(ctx, "department", d.ID, 1, "create", backend.Diff(nil, after), now)
		})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// UpdateDepartment changes a department. A patch that changes nothing
// stores nothing. ENOTFOUND, EINVALID, ECONFLICT (name taken, or a
// concurrent change came first).
func (s *Service) UpdateDepartment(ctx context.Context, id string, p DepartmentPatch) (*backend.Department, error) {
	d, err := s.Departments.FindDepartmentByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Version != nil && *p.Version != d.Version {
		return nil, &backend.Error{Code: backend.ECONFLICT, Fields: map[string]string{"version": "stale"},
			Message: fmt.Sprintf("the department was changed meanwhile (version %d); reload it and try again", d.Version)}
	}
	before := departmentFields(d)
	if p.Name != nil {
		d.Name = strings.TrimSpace(*p.Name)
	}
	if p.Kind != nil {
		d.Kind = strings.TrimSpace(*p.Kind)
	}
	if err := checkDepartment(d); err != nil {
		return nil, err
	}
	after := departmentFields(d)
	changes := backend.Diff(before, after)
	if len(changes) == 0 {
		return d, nil
	}
	d.UpdatedAt = s.now()
	err = s.Audit.Change(ctx, backend.AuditChange{Action: "department.update", ObjectType: "department", ObjectID: d.ID, Before: before, After: after},
		func(ctx context.Context) error {
			if err := s.Departments.UpdateDepartment(ctx, d); err != nil {
				return err
			}
			return s.recordVersion(ctx, "department", d.ID, d.Version, "update", changes, d.UpdatedAt)
		})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// DepartmentVersions lists a department's versions, oldest first. ENOTFOUND.
func (s *Service) DepartmentVersions(ctx context.Context, id string) ([]*backend.Version, error) {
	if _, err := s.Departments.FindDepartmentByID(ctx, id); err != nil {
		return nil, err
	}
	return s.Versions.FindVersions(ctx, "department", id)
}

func checkDepartment(d *backend.Department) error {
	fields := map[string]string{}
	if n := utf8.RuneCountInString(d.Name); n == 0 || n > 100 {
		fields["name"] = "1–100 characters"
	}
	if !slices.Contains(DepartmentKinds, d.Kind) {
		fields["kind"] = "one of internal, brigade, external"
	}
	if len(fields) > 0 {
		return backend.InvalidFields("invalid department", fields)
	}
	return nil
}

func departmentFields(d *backend.Department) map[string]any {
	return map[string]any{"name": d.Name, "kind": d.Kind}
}
