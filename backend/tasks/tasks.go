// Package tasks turns draws into work on inspectors' phones and puts the
// statutory clock on it (art. 2, 15, 18, 21, 24, 27, 28).
//
// Dispatch makes one task per selection of a plan's draw in force, with a
// deterministic id (draw + enterprise), so that dispatching twice — or
// again after a crash half-way — creates nothing twice. The plan moves from
// drawn to dispatched under the same Redis lease a draw takes (so a draw
// and a dispatch of one plan never run at once), fenced by the plan's
// version compare-and-set; from then on a redraw is refused (package
// plans). Targeted tasks (complaints, assignments, referrals) are recorded
// with their source and reason; they are not double-random but count as
// enforcement checks in the random-share report.
//
// Every assignment, cancellation and reminder is written to the recipients'
// inboxes (package notify) with deterministic ids, so a repeat notifies
// nobody twice; every other change to a task writes a silent entry for
// its members. Notify also appends the task to each recipient's task feed,
// which phones sync from (Sync): one read by _id of the user's feed, then
// the tasks it names, each by _id — on MongoDB index lookups for the
// caller's tasks, whatever the size of the collections. A request repeated after a crash between its task write and
// its notification tells the group again (a cancel, a targeted create, a
// replacement draw, a dispatch), so the change reaches the feeds.
//
// Deadlines: the plan window's end from the start; feedback (7 working
// days, art. 21) and publication (20 working days, art. 24) once the
// inspection has ended, counted on the working-day calendar (package
// workday) with the bureau's overrides. A scheduler that runs on one
// instance at a time (a Redis lease) reminds 2 working days ahead and marks
// missed deadlines.
//
// It depends on backend interfaces and the pure workday package only.
package tasks

import (
	"context"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"suiji/backend"
)

// Notifier writes notifications inbox first (notify.Service).
type Notifier interface {
	Notify(ctx context.Context, ns []*backend.Notification) error
}

// EnterpriseLookup finds enterprises by USCC as the directory holds them
// now (directory.Service, from its index in memory).
type EnterpriseLookup interface {
	EnterprisesByUSCC(ctx context.Context, usccs []string) ([]*backend.Enterprise, error)
}

// Service is the tasks use case.
type Service struct {
	Tasks       backend.TaskStore
	Plans       backend.PlanStore
	Draws       backend.DrawStore
	Enterprises backend.EnterpriseStore
	// Directory, when set, is where a dispatch reads the enterprises it
	// copies into its tasks, rather than Enterprises.
	Directory   EnterpriseLookup
	Inspectors  backend.InspectorStore
	Items       backend.ItemStore
	Departments backend.DepartmentStore
	Users       backend.UserStore
	Calendar    backend.CalendarStore
	// Versions are the directory's and the roster's change histories: a
	// dispatch reads those of its records changed since the draw.
	Versions backend.VersionStore
	// Replacements after dispatch, their sealed seeds encrypted with
	// SeedKey (SUIJI_SEED_KEY) and made from Rand (crypto/rand).
	Replacements backend.ReplacementStore
	SeedKey      string
	Rand         io.Reader
	// On site: findings, non-cooperation, evidence records and the
	// evidence bucket, with the limits that apply.
	Findings       backend.FindingStore
	NonCooperation backend.NonCooperationStore
	Evidence       backend.EvidenceStore
	Objects        backend.EvidenceObjects
	Limits         Limits
	Inbox          backend.NotificationStore // the users' streams, read by sync until the feeds are built
	Feeds          backend.TaskFeedStore     // the users' task feeds, read by sync
	Locks          backend.Locker
	Notifier       Notifier
	Audit          backend.Auditor
	Now            func() time.Time

	// CacheMax bounds the tasks the instance holds for syncs (0:
	// TaskCacheMax; below 0: none).
	CacheMax int

	cache      taskCache    // tasks as stored, for syncs (taskcache.go)
	feedsBuild sync.Mutex   // one build of the feeds at a time (BuildFeeds)
	feedsBuilt atomic.Bool  // the feeds are ready
	feedsRetry atomic.Int64 // syncs build the feeds again from then (unix ns)

	cancellations publicCancellations // the draws' cancelled selections, as the portal shows them (publiccancel.go)
}

// mayView reports whether the actor may see a task: coordinators, leaders
// and admins see every task; staff those their department takes part in
// (a joint plan's partners see their share, art. 27); inspectors those
// whose group they are in.
func mayView(a *backend.Actor, t *backend.Task) bool {
	return a.HasAnyRole(backend.RoleCoordinator, backend.RoleLeader) ||
		(a.HasRole(backend.RoleStaff) && t.HasDepartment(a.DepartmentID)) ||
		(a.HasRole(backend.RoleInspector) && t.HasMember(a.UserID))
}

// mayManage reports whether the actor may change a task's staffing or
// cancel it: the coordinator, or staff of its lead department.
func mayManage(a *backend.Actor, t *backend.Task) bool {
	return a.HasRole(backend.RoleCoordinator) || (a.HasRole(backend.RoleStaff) && a.DepartmentID == t.LeadDepartmentID)
}

// GetTask returns a task the actor may see. ENOTFOUND for one they may not
// (so ids cannot be probed).
func (s *Service) GetTask(ctx context.Context, id string) (*backend.Task, error) {
	t, err := s.Tasks.FindTaskByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !mayView(backend.ActorFromContext(ctx), t) {
		return nil, backend.Errorf(backend.ENOTFOUND, "task not found")
	}
	return t, nil
}

// ListTasks lists the tasks matching f that the actor may see, and how
// many match: staff are narrowed to their department, inspectors to their
// own groups.
func (s *Service) ListTasks(ctx context.Context, f backend.TaskFilter) ([]*backend.Task, int, error) {
	a := backend.ActorFromContext(ctx)
	switch {
	case a.HasAnyRole(backend.RoleCoordinator, backend.RoleLeader):
	case a.HasRole(backend.RoleStaff):
		f.DepartmentIDs = []string{a.DepartmentID}
	default:
		f.MemberUserID = a.UserID
		if f.MemberUserID == "" {
			return nil, 0, nil
		}
	}
	if f.Limit <= 0 {
		f.Limit = backend.TaskDefaultLimit
	}
	f.Limit = min(f.Limit, backend.TaskMaxLimit)
	return s.Tasks.FindTasks(ctx, f)
}

// taskID is a random task's deterministic id: the same draw and enterprise
// always give the same task.
func taskID(drawID, uscc string) string {
	return backend.HashID("task", drawID, uscc)
}

// updateTask stores t (a compare-and-set on its version: ECONFLICT when
// it changed meanwhile) together with the audit event of action, whose
// before digest the caller took before changing t: the event travels in
// the task's own write (backend.Auditor.Change), so a crash between the
// two cannot leave an unaudited change.
func (s *Service) updateTask(ctx context.Context, t *backend.Task, action string, before map[string]any) error {
	err := s.Audit.Change(ctx, backend.AuditChange{Action: action, ObjectType: "task", ObjectID: t.ID, Before: before, After: taskDigest(t)},
		func(ctx context.Context) error { return s.Tasks.UpdateTask(ctx, t) })
	if err == nil {
		s.remember(t)
	}
	return err
}

// taskDigest is what the audit trail keeps of a task.
func taskDigest(t *backend.Task) map[string]any {
	var members []string
	for _, m := range t.Members {
		state := "active"
		if !m.Active() {
			state = "removed:" + m.RemoveReason
		}
		members = append(members, m.BadgeNo+":"+state)
	}
	return map[string]any{
		"id": t.ID, "kind": t.Kind, "source": t.Source, "reason": t.Reason, "plan_id": t.PlanID, "draw_id": t.DrawID,
		"enterprise": t.Enterprise.USCC, "members": members, "state": t.State, "deadlines": t.Deadlines,
		"overdue": t.Overdue, "cancelled_reason": t.CancelledReason,
	}
}

// memberNotes builds one notification of kind for each of userIDs about t,
// as stored: callers make them after the change they tell of, so that the
// task feeds name the version it made (backend.Notification.TaskVersion).
// round distinguishes repeats of the same kind about the same task (a
// second replacement, a reminder of another deadline).
func memberNotes(t *backend.Task, userIDs []string, kind, round, title, body string) []*backend.Notification {
	var out []*backend.Notification
	for _, u := range userIDs {
		out = append(out, &backend.Notification{
			ID: backend.NoteID(kind, t.ID, u, round), UserID: u, Kind: kind, TaskID: t.ID, TaskVersion: int64(t.Version), PlanID: t.PlanID,
			Title: title, Body: body,
		})
	}
	return out
}

// departmentStaff returns the user ids of the staff of a department, who
// hear of a task's feedback and publication deadlines.
func (s *Service) departmentStaff(ctx context.Context, departmentID string) ([]string, error) {
	users, _, err := s.Users.FindUsers(ctx, backend.UserFilter{Role: backend.RoleStaff, DepartmentID: departmentID})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, u := range users {
		if !u.Disabled && slices.Contains(u.Roles, backend.RoleStaff) {
			out = append(out, u.ID)
		}
	}
	return out, nil
}
