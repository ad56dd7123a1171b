package tasks

import (
	"context"
	"strings"
	"unicode/utf8"

	"suiji/backend"
)

// Cancel cancels a task whose inspection has not begun (assigned:
// nothing recorded on site yet), with a reason, and tells its group.
// version, when not 0, must be the stored one. A plan whose tasks are
// then all published or cancelled is closed. Once the group has recorded
// anything on site the inspection ends with a result — "enterprise not
// found" when the unit is gone, "not cooperating" when it refused — which
// is fed back and published (art. 21, 24): a cancellation would take a
// check that took place, and what it recorded, out of the reports and the
// public record. ENOTFOUND, EFORBIDDEN, EINVALID (no reason), ECONFLICT
// (state or version).
func (s *Service) Cancel(ctx context.Context, id string, version int, reason string) (*backend.Task, error) {
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n == 0 || n > 1000 {
		return nil, backend.InvalidFields("a cancellation needs a reason", map[string]string{"reason": "required, at most 1000 characters"})
	}
	t, err := s.GetTask(ctx, id)
	if err != nil {
		return nil, err
	}
	actor := backend.ActorFromContext(ctx)
	if !mayManage(actor, t) {
		return nil, backend.Errorf(backend.EFORBIDDEN, "only the coordinator or the lead department's staff cancel a task")
	}
	if !backend.TaskOpen(t.State) {
		if t.State == backend.TaskCancelled {
			// A repeat tells the group again, in case the request that
			// cancelled it died before it did (the entries have fixed ids,
			// so only what is missing is written; the feeds get the task).
			if err := s.Notifier.Notify(ctx, cancelNotes(t)); err != nil {
				return nil, err
			}
		}
		return nil, backend.Errorf(backend.ECONFLICT, "only a task not yet completed can be cancelled; this task is %s", t.State)
	}
	if t.State != backend.TaskAssigned {
		return nil, backend.Errorf(backend.ECONFLICT, "the inspection has begun (this task is %s, with what was recorded on site): it ends with a result, such as %q when the unit is gone, not a cancellation",
			t.State, backend.ResultEnterpriseNotFound)
	}
	// Evidence is declared without moving the task on (a phone may send
	// its photos before anything else): a task with some is begun too.
	// The declarations' lease is held to the cancellation's write, and a
	// declaration looks at the task again under it (CreateEvidence), so a
	// photo sent at the same moment is either counted here or refused.
	release, err := s.lockEvidence(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	err = s.cancelUnbegun(ctx, t, version, actor.UserID, reason)
	release()
	if err != nil {
		return nil, err
	}
	s.cancellations.forget(t.DrawID) // this instance's portal shows it at once
	if err := s.Notifier.Notify(ctx, cancelNotes(t)); err != nil {
		return nil, err
	}
	return t, s.ClosePlanIfDone(ctx, t.PlanID)
}

// cancelUnbegun cancels t, which must have no evidence and be at version
// (when not 0); the caller holds the task's evidence lease.
func (s *Service) cancelUnbegun(ctx context.Context, t *backend.Task, version int, by, reason string) error {
	if s.Evidence != nil {
		ev, err := s.Evidence.FindEvidenceByTask(ctx, t.ID)
		if err != nil {
			return err
		}
		if len(ev) > 0 {
			return backend.Errorf(backend.ECONFLICT, "the inspection has begun (%d pieces of evidence are recorded for it): it ends with a result, such as %q when the unit is gone, not a cancellation",
				len(ev), backend.ResultEnterpriseNotFound)
		}
	}
	if version != 0 && version != t.Version {
		return staleVersion(t)
	}
	before := taskDigest(t)
	now := s.Now().UTC()
	t.State, t.CancelledAt, t.CancelledBy, t.CancelledReason, t.UpdatedAt = backend.TaskCancelled, &now, by, reason, now
	return s.updateTask(ctx, t, "task.cancel", before)
}

// cancelNotes tells a cancelled task's group.
func cancelNotes(t *backend.Task) []*backend.Notification {
	return memberNotes(t, t.MemberUserIDs(), backend.NoteTaskCancelled, "1", "检查任务已取消",
		t.Enterprise.Name+" · 原因："+t.CancelledReason)
}

// staleVersion is the ECONFLICT a request based on an old version gets.
func staleVersion(t *backend.Task) error {
	return &backend.Error{Code: backend.ECONFLICT, Fields: map[string]string{"version": "stale"},
		Message: "the task was changed meanwhile (version " + itoa(t.Version) + "); reload it and try again"}
}

// ClosePlanIfDone closes a dispatched plan once every selection of its
// draw has its task and every task is published or cancelled. It does
// nothing for "" (a task without a plan), a plan with open tasks, or one
// dispatched only in part.
func (s *Service) ClosePlanIfDone(ctx context.Context, planID string) error {
	if planID == "" {
		return nil
	}
	open, _, err := s.Tasks.FindTasks(ctx, backend.TaskFilter{PlanID: planID, Open: true, Limit: 1, NoTotal: true})
	if err != nil || len(open) > 0 {
		return err
	}
	for range 5 {
		p, err := s.Plans.FindPlanByID(ctx, planID)
		if err != nil || p.Status != backend.PlanDispatched {
			return err
		}
		// A dispatch left half done (or running now) is its repeat's to
		// finish: closed, the plan would refuse the repeat, and the drawn
		// enterprises without a task would never be inspected.
		if whole, err := s.whollyDispatched(ctx, p); err != nil || !whole {
			return err
		}
		before := map[string]any{"id": p.ID, "status": p.Status}
		p.Status, p.UpdatedAt = backend.PlanClosed, s.Now().UTC()
		err = s.Audit.Change(ctx, backend.AuditChange{Action: "plan.close", ObjectType: "plan", ObjectID: p.ID,
			Before: before, After: map[string]any{"id": p.ID, "status": p.Status}},
			func(ctx context.Context) error { return s.Plans.UpdatePlan(ctx, p) })
		if backend.ErrorCode(err) != backend.ECONFLICT {
			return err
		}
	}
	return backend.Errorf(backend.ECONFLICT, "the plan kept changing while being closed")
}
