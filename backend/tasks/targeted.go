package tasks

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"suiji/backend"
)

// TargetedInput is what a targeted (non-random) task is created from
// (art. 2): a complaint, a superior's assignment or a referral, with its
// reason. Its inspectors are named, not drawn — such checks are not
// double-random — but the group follows the same rules: at least two
// active, certified inspectors without a declared conflict of interest.
type TargetedInput struct {
	ID           string // optional client-generated id (a UUID), for offline creation
	Source       string
	Reason       string
	EnterpriseID string
	ItemIDs      []string
	DepartmentID string   // the responsible department; staff: their own (default)
	BadgeNos     []string // the group; the first is its leader
	WindowStart  string
	WindowEnd    string
}

// clientID is what a client-generated id may look like: a UUID or any
// 8–64 letters, digits and hyphens — but not serverID.
var clientID = regexp.MustCompile(`^[A-Za-z0-9-]{8,64}$`)

// serverID is the shape of every id the server makes (backend.NewID,
// backend.HashID): 24 lowercase hex digits. A dispatched task's id is
// derived from its draw and enterprise, both public; a client id of that
// shape could take it before the dispatch does.
var serverID = regexp.MustCompile(`^[0-9a-f]{24}$`)

// CreateTargeted records a targeted task and alerts its group. A repeat
// with the same client id by the same user returns the stored task.
// EINVALID naming every bad field; EFORBIDDEN for another department's
// staff; ECONFLICT when the id is someone else's task.
func (s *Service) CreateTargeted(ctx context.Context, in TargetedInput) (*backend.Task, bool, error) {
	actor := backend.ActorFromContext(ctx)
	if in.DepartmentID == "" && !actor.HasRole(backend.RoleCoordinator) {
		in.DepartmentID = actor.DepartmentID
	}
	if !actor.HasRole(backend.RoleCoordinator) && in.DepartmentID != actor.DepartmentID {
		return nil, false, backend.Errorf(backend.EFORBIDDEN, "staff record targeted tasks only for their own department")
	}
	if in.ID != "" {
		if t, err := s.Tasks.FindTaskByID(ctx, in.ID); err == nil {
			if t.CreatedBy != actor.UserID || t.Kind != backend.TaskTargeted {
				return nil, false, backend.Errorf(backend.ECONFLICT, "task id %s is taken", in.ID)
			}
			if t.Version == 1 {
				// Unchanged since: tell the group again, in case the request
				// that created it died before it did (fixed entry ids; the
				// feeds get the task). A later change told them itself.
				err = s.Notifier.Notify(ctx, assignmentNotes(t, t.MemberUserIDs()))
			}
			return t, false, err
		} else if backend.ErrorCode(err) != backend.ENOTFOUND {
			return nil, false, err
		}
	}

	fields := map[string]string{}
	t, err := s.targetedTask(ctx, &in, fields)
	if err != nil {
		return nil, false, err
	}
	if len(fields) > 0 {
		return nil, false, backend.InvalidFields("invalid targeted task", fields)
	}
	err = s.Audit.Change(ctx, backend.AuditChange{Action: "task.create", ObjectType: "task", ObjectID: t.ID, After: taskDigest(t)},
		func(ctx context.Context) error {
			created, err := s.Tasks.InsertTasks(ctx, []*backend.Task{t})
			if err == nil && len(created) == 0 { // the same client id won a race just now
				err = backend.Errorf(backend.ECONFLICT, "task id %s is taken", t.ID)
			}
			return err
		})
	if err != nil {
		return nil, false, err
	}
	if err := s.Notifier.Notify(ctx, assignmentNotes(t, t.MemberUserIDs())); err != nil {
		return nil, false, err
	}
	return t, true, nil
}

// targetedTask validates in and builds the task, naming each problem in
// fields.
func (s *Service) targetedTask(ctx context.Context, in *TargetedInput, fields map[string]string) (*backend.Task, error) {
	if in.ID != "" && (!clientID.MatchString(in.ID) || serverID.MatchString(in.ID)) {
		fields["id"] = "a UUID (8–64 letters, digits, hyphens; not 24 hex digits, the shape of the server's ids)"
	}
	if !slices.Contains(backend.TargetedSources, in.Source) {
		fields["source"] = "complaint, assigned or referral"
	}
	in.Reason = strings.TrimSpace(in.Reason)
	if n := utf8.RuneCountInString(in.Reason); n == 0 || n > 2000 {
		fields["reason"] = "required (art. 2: why this check is not random), at most 2000 characters"
	}
	start, errS := backend.ParseDate(in.WindowStart)
	end, errE := backend.ParseDate(in.WindowEnd)
	switch {
	case errS != nil:
		fields["window.start"] = "a date YYYY-MM-DD"
	case errE != nil:
		fields["window.end"] = "a date YYYY-MM-DD"
	case end < start:
		fields["window.end"] = "on or after window.start"
	}
	if _, err := s.Departments.FindDepartmentByID(ctx, in.DepartmentID); backend.ErrorCode(err) == backend.ENOTFOUND {
		fields["department_id"] = "unknown department"
	} else if err != nil {
		return nil, err
	}
	e, err := s.Enterprises.FindEnterpriseByID(ctx, in.EnterpriseID)
	if backend.ErrorCode(err) == backend.ENOTFOUND {
		fields["enterprise_id"] = "unknown enterprise"
	} else if err != nil {
		return nil, err
	}
	year := 0
	if errS == nil {
		year, _ = strconv.Atoi(string(start)[:4])
	}
	items, err := s.publishedItems(ctx, year, in.ItemIDs, fields)
	if err != nil {
		return nil, err
	}
	members, err := s.namedGroup(ctx, in.BadgeNos, e, string(end), fields)
	if err != nil || len(fields) > 0 {
		return nil, err
	}

	now := s.Now().UTC()
	t := &backend.Task{
		ID: in.ID, Kind: backend.TaskTargeted, Source: in.Source, Reason: in.Reason, Year: year,
		LeadDepartmentID: in.DepartmentID, DepartmentIDs: []string{in.DepartmentID},
		Enterprise: taskEnterprise(e), Items: items, Members: members,
		WindowStart: in.WindowStart, WindowEnd: in.WindowEnd, Deadlines: backend.TaskDeadlines{Window: in.WindowEnd},
		State: backend.TaskAssigned, CreatedBy: backend.ActorFromContext(ctx).UserID, CreatedAt: now, UpdatedAt: now,
	}
	for _, m := range members {
		if m.DepartmentID != in.DepartmentID && !slices.Contains(t.DepartmentIDs, m.DepartmentID) {
			t.DepartmentIDs = append(t.DepartmentIDs, m.DepartmentID)
		}
	}
	return t, nil
}

// publishedItems checks that every item is on year's published list
// (art. 9) and copies them.
func (s *Service) publishedItems(ctx context.Context, year int, ids []string, fields map[string]string) ([]backend.TaskItem, error) {
	if len(ids) == 0 || len(ids) > 100 {
		fields["item_ids"] = "1–100 items of the year's published list"
		return nil, nil
	}
	if year == 0 {
		return nil, nil
	}
	if _, err := s.Items.FindItemPublication(ctx, year); backend.ErrorCode(err) == backend.ENOTFOUND {
		fields["item_ids"] = fmt.Sprintf("the item list of %d is not published yet", year)
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	for _, id := range ids {
		it, err := s.Items.FindItemByID(ctx, id)
		if backend.ErrorCode(err) == backend.ENOTFOUND || (err == nil && it.Year != year) {
			fields["item_ids"] = fmt.Sprintf("item %s is not on the published list of %d", id, year)
			return nil, nil
		} else if err != nil {
			return nil, err
		}
	}
	return s.taskItems(ctx, ids)
}

// namedGroup checks a named group: 2–10 distinct inspectors on the roster,
// active, certified through the window's end, without a declared conflict
// with the enterprise.
func (s *Service) namedGroup(ctx context.Context, badges []string, e *backend.Enterprise, end string, fields map[string]string) ([]backend.TaskMember, error) {
	if len(badges) < 2 || len(badges) > 10 {
		fields["badge_nos"] = "2–10 inspectors (national law requires at least two)"
		return nil, nil
	}
	now := s.Now().UTC()
	var out []backend.TaskMember
	seen := map[string]bool{}
	for i, raw := range badges {
		badge := backend.NormalizeBadgeNo(raw)
		if seen[badge] {
			fields["badge_nos"] = "inspector " + badge + " is named twice"
			return nil, nil
		}
		seen[badge] = true
		in, err := s.Inspectors.FindInspectorByBadgeNo(ctx, badge)
		if backend.ErrorCode(err) == backend.ENOTFOUND {
			fields["badge_nos"] = "no inspector with badge " + badge
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		switch {
		case !in.Active:
			fields["badge_nos"] = "inspector " + badge + " is not active"
		case end != "" && backend.CertificateExpired(in.CertificateExpires, backend.Date(end)):
			fields["badge_nos"] = "the certificate of " + badge + " expires before the window ends"
		case e != nil && slices.ContainsFunc(in.Conflicts, func(c backend.Conflict) bool { return c.EnterpriseID == e.ID }):
			fields["badge_nos"] = "inspector " + badge + " declared a conflict of interest with the enterprise (回避)"
		}
		m := member(in, now, "")
		m.Lead = i == 0
		out = append(out, m)
	}
	return out, nil
}
