package tasks

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"suiji/backend"
	"suiji/backend/telemetry"
)

// LockTTL is how long a dispatch holds the plan's lease (the one a draw
// takes) without extending it.
const LockTTL = 60 * time.Second

// Dispatched is the outcome of a dispatch.
type Dispatched struct {
	Plan    *backend.Plan
	DrawID  string
	TaskIDs []string // every task of the draw, in selection order
	Created int      // how many of them this call created
}

// Dispatch turns each selection of a plan's draw in force into a task and
// alerts the group (art. 18). It may be repeated: a repeat (or a retry
// after a crash half-way) creates and notifies only what is missing.
//
// ENOTFOUND for a draw of a plan the actor may not see; EFORBIDDEN unless
// the actor is the coordinator or staff of the plan's lead department;
// ECONFLICT when the draw is superseded, the plan is not drawn (or already
// closed), or a draw of the plan is running.
func (s *Service) Dispatch(ctx context.Context, drawID string) (*Dispatched, error) {
	actor := backend.ActorFromContext(ctx)
	d, err := s.Draws.FindDrawByID(ctx, drawID)
	if err != nil {
		return nil, err
	}
	p, err := s.Plans.FindPlanByID(ctx, d.PlanID)
	if err != nil {
		return nil, err
	}
	if !mayViewPlan(actor, p) {
		return nil, backend.Errorf(backend.ENOTFOUND, "draw not found")
	}
	if !actor.HasRole(backend.RoleCoordinator) && !(actor.HasRole(backend.RoleStaff) && actor.DepartmentID == p.LeadDepartmentID) {
		return nil, backend.Errorf(backend.EFORBIDDEN, "only the coordinator or the lead department's staff dispatch a plan's draw")
	}

	// The lease a draw takes: no redraw can run while the plan is being
	// dispatched, and the version compare-and-set below fences the rest.
	lease, err := s.Locks.Acquire(ctx, "draw:"+p.ID, LockTTL)
	if err != nil {
		return nil, err
	}
	defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
	if p, err = s.Plans.FindPlanByID(ctx, d.PlanID); err != nil {
		return nil, err
	}
	switch {
	case p.CurrentDrawID != d.ID:
		return nil, backend.Errorf(backend.ECONFLICT, "draw %s was superseded by %s; dispatch the draw in force", d.ID, p.CurrentDrawID)
	case p.Status != backend.PlanDrawn && p.Status != backend.PlanDispatched:
		return nil, backend.Errorf(backend.ECONFLICT, "a plan is dispatched once drawn; this plan is %s", p.Status)
	}

	stored, err := s.storedOfDraw(ctx, p, d)
	if err != nil {
		return nil, err
	}
	tasks, err := s.buildTasks(ctx, p, d, stored)
	if err != nil {
		return nil, err
	}
	var fresh []*backend.Task // those to insert: not stored by an earlier call
	for _, t := range tasks {
		if stored[t.ID] == nil {
			fresh = append(fresh, t)
		}
	}
	out := &Dispatched{Plan: p, DrawID: d.ID}
	for _, t := range tasks {
		out.TaskIDs = append(out.TaskIDs, t.ID)
	}
	// The dispatch's one audit event travels with its writes — it is
	// written ahead, and the plan's move to dispatched and every task
	// inserted bear its mark (a bulk change; backend.Auditor.Change) — so
	// whatever part of the dispatch landed before a crash brings the event
	// with it. It claims the dispatch as a
	// whole, as the draw fixes it (the plan drawn → dispatched, the draw's
	// task ids), not what one call wrote: a crash half-way leaves the rest
	// to a repeat, which writes the missing tasks and stages the same
	// event again — its ID is derived from the draw (Key) — so the chain
	// holds one plan.dispatch per draw, whichever call's copy reaches it
	// first. A repeat that writes nothing records nothing.
	var created []string
	err = s.Audit.Change(ctx, backend.AuditChange{Action: "plan.dispatch", ObjectType: "plan", ObjectID: p.ID,
		Before: map[string]any{"id": p.ID, "status": backend.PlanDrawn, "draw_id": d.ID},
		After:  map[string]any{"id": p.ID, "status": backend.PlanDispatched, "draw_id": d.ID, "tasks": out.TaskIDs},
		Bulk:   true, Key: "plan.dispatch\x00" + d.ID,
	}, func(wctx context.Context) error {
		if p.Status == backend.PlanDrawn {
			if err := lease.Extend(ctx); err != nil {
				return err
			}
			p.Status, p.UpdatedAt = backend.PlanDispatched, s.Now().UTC()
			if err := s.Plans.UpdatePlan(wctx, p); err != nil {
				return err
			}
		}
		// The tasks in one insert, then their alerts in one Notify: on
		// FerretDB each call of the notifier pays for the inbox stream and
		// heads it reads and rewrites, whatever it carries, so writing the
		// draw in chunks — to ring the first groups' phones sooner — costs
		// more than it overlaps. Notifications carry no audit event (ctx,
		// not wctx).
		ids, err := s.Tasks.InsertTasks(wctx, fresh)
		if err != nil {
			return err
		}
		// A task id held by anything but this draw's task is refused —
		// after the others' groups are told of theirs, so that one such
		// task does not keep every group of the draw waiting.
		held, err := s.heldByDraw(ctx, d, fresh, ids)
		if err != nil {
			return err
		}
		created = ids
		s.rememberCreated(fresh, ids)
		// Every task's group is told — those an earlier call stored too,
		// while nothing happened to them since, in case it died before
		// telling them (the entries have fixed ids: only what is missing
		// is written).
		var notes []*backend.Notification
		for _, t := range tasks {
			switch {
			case held[t.ID] != nil:
			case stored[t.ID] == nil:
				notes = append(notes, assignmentNotes(t, t.MemberUserIDs())...)
			case t.State == backend.TaskAssigned:
				// The members drawn, still in the group: one who came in
				// by a replacement was told by it.
				var drawn []string
				for _, m := range t.Members {
					if m.Active() && m.AddedReason == "" && m.UserID != "" {
						drawn = append(drawn, m.UserID)
					}
				}
				notes = append(notes, assignmentNotes(t, drawn)...)
			}
		}
		if err := s.Notifier.Notify(ctx, notes); err != nil {
			return err
		}
		for _, t := range held {
			return backend.Errorf(backend.ECONFLICT, "task id %s of draw %s (enterprise %s) is held by a %s task of %q; its inspection is not dispatched",
				t.ID, d.ID, t.Enterprise.USCC, t.Kind, t.DrawID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.Created = len(created)
	telemetry.Dispatched(len(created))
	return out, nil
}

// mayViewPlan mirrors plans' visibility: coordinators and leaders see every
// plan, staff those their department leads or joins.
func mayViewPlan(a *backend.Actor, p *backend.Plan) bool {
	return a.HasAnyRole(backend.RoleCoordinator, backend.RoleLeader) ||
		(a.DepartmentID != "" && (p.LeadDepartmentID == a.DepartmentID || slices.Contains(p.JointDepartmentIDs, a.DepartmentID)))
}

// storedOfDraw returns, by id, the tasks of the draw that an earlier
// dispatch of it stored (the plan is dispatched: that call stopped
// half-way, or its answer was lost). A repeat leaves them as they are —
// they may have changed since — and makes only the missing ones: the
// lists changing since (a transfer, a new badge) concern only those,
// which is what sameSinceDraw then checks.
func (s *Service) storedOfDraw(ctx context.Context, p *backend.Plan, d *backend.Draw) (map[string]*backend.Task, error) {
	if p.Status != backend.PlanDispatched {
		return nil, nil
	}
	ids := make([]string, len(d.Record.Selections))
	for i, sel := range d.Record.Selections {
		ids[i] = taskID(d.ID, sel.USCC)
	}
	found, err := s.Tasks.FindTasksByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*backend.Task, len(found))
	for _, t := range found {
		if t.DrawID == d.ID && (t.Kind == backend.TaskRandom || t.Kind == backend.TaskExternal) {
			out[t.ID] = t
		}
	}
	return out, nil
}

// buildTasks makes the tasks of a draw from its selections: the enterprise
// as the directory has it now, the plan's items as published, the group
// with names and accounts from the roster. The group leader is the first
// member drawn from the lead department. A task stored already (stored)
// is taken as it is.
func (s *Service) buildTasks(ctx context.Context, p *backend.Plan, d *backend.Draw, stored map[string]*backend.Task) ([]*backend.Task, error) {
	usccs := make([]string, len(d.Record.Selections))
	for i, sel := range d.Record.Selections {
		usccs[i] = sel.USCC
	}
	// The three reads are independent: the enterprises (from the
	// directory's index when there is one; from the store a scan on
	// FerretDB) are read beside the roster and the items.
	var (
		ents   []*backend.Enterprise
		entErr error
		read   = make(chan struct{})
	)
	go func() {
		defer close(read)
		if s.Directory != nil {
			ents, entErr = s.Directory.EnterprisesByUSCC(ctx, usccs)
		} else {
			ents, entErr = s.Enterprises.FindEnterprisesByUSCC(ctx, usccs)
		}
	}()
	roster, _, err := s.Inspectors.FindInspectors(ctx, backend.InspectorFilter{NoTotal: true})
	var items []backend.TaskItem
	if err == nil {
		items, err = s.taskItems(ctx, p.ItemIDs)
	}
	<-read
	if err != nil {
		return nil, err
	}
	if entErr != nil {
		return nil, entErr
	}
	byUSCC := make(map[string]*backend.Enterprise, len(ents))
	for _, e := range ents {
		byUSCC[e.USCC] = e
	}
	byBadge := make(map[string]*backend.Inspector, len(roster))
	for _, in := range roster {
		byBadge[in.BadgeNo] = in
	}

	if err := s.sameSinceDraw(ctx, d, stored, byUSCC, byBadge); err != nil {
		return nil, err
	}

	now := s.Now().UTC()
	actor := backend.ActorFromContext(ctx)
	departments := append([]string{p.LeadDepartmentID}, p.JointDepartmentIDs...)
	out := make([]*backend.Task, 0, len(d.Record.Selections))
	for _, sel := range d.Record.Selections {
		if t := stored[taskID(d.ID, sel.USCC)]; t != nil {
			out = append(out, t)
			continue
		}
		e, ok := byUSCC[sel.USCC]
		if !ok {
			return nil, backend.Errorf(backend.ECONFLICT, "enterprise %s of draw %s is no longer in the directory (its record was changed or removed after the draw); restore it, or redraw with a leader's approval", sel.USCC, d.ID)
		}
		t := &backend.Task{
			ID: taskID(d.ID, sel.USCC), Kind: backend.TaskRandom, PlanID: p.ID, DrawID: d.ID, Year: p.Year,
			LeadDepartmentID: p.LeadDepartmentID, DepartmentIDs: departments,
			Enterprise: taskEnterprise(e), Items: items, WindowStart: p.WindowStart, WindowEnd: p.WindowEnd,
			Deadlines: backend.TaskDeadlines{Window: p.WindowEnd}, State: backend.TaskAssigned,
			CreatedBy: actor.UserID, CreatedAt: now, UpdatedAt: now,
		}
		lead := false
		for _, badge := range sel.Group {
			in, ok := byBadge[badge]
			if !ok {
				return nil, backend.Errorf(backend.ECONFLICT, "inspector %s of draw %s is no longer on the roster (the record was changed or removed after the draw); restore it, or redraw with a leader's approval", badge, d.ID)
			}
			m := member(in, now, "")
			if !lead && in.DepartmentID == p.LeadDepartmentID {
				m.Lead, lead = true, true
			}
			t.Members = append(t.Members, m)
		}
		if x := p.External; x != nil { // the bureau's share of another agency's joint draw (art. 28)
			t.Kind, t.Source, t.ExternalPlanRef = backend.TaskExternal, x.Agency, x.Reference
		}
		out = append(out, t)
	}
	return out, nil
}

// heldByDraw returns, by id, the tasks stored under ids of the draw's
// tasks that an insert found stored already (not among created) and that
// are not that draw's: a task id is derived from the draw and the USCC,
// and a task stored under it by anything else — which CreateTargeted's
// rule on client ids is there to prevent — would otherwise pass for the
// drawn enterprise's inspection while none is made.
func (s *Service) heldByDraw(ctx context.Context, d *backend.Draw, tasks []*backend.Task, created []string) (map[string]*backend.Task, error) {
	held := map[string]*backend.Task{}
	if len(created) == len(tasks) {
		return held, nil
	}
	fresh := make(map[string]bool, len(created))
	for _, id := range created {
		fresh[id] = true
	}
	var stored []string
	for _, t := range tasks {
		if !fresh[t.ID] {
			stored = append(stored, t.ID)
		}
	}
	found, err := s.Tasks.FindTasksByIDs(ctx, stored)
	if err != nil {
		return nil, err
	}
	for _, t := range found {
		if t.DrawID != d.ID || (t.Kind != backend.TaskRandom && t.Kind != backend.TaskExternal) {
			held[t.ID] = t
		}
	}
	return held, nil
}

// sameSinceDraw refuses to dispatch a draw whose enterprises or
// inspectors the directory or the roster re-assigned after it: a drawn
// USCC or badge number now held by a record created since, or by one
// that held another then (or, for an inspector, was linked to another
// account, or moved to another department — the draw took each
// department's share of a group, and the group's leader is its member
// from the lead department). The draw chose the enterprise and the inspectors those named
// when it ran; sending the task to whoever holds them now would let
// anyone who edits the lists pick, after seeing the outcome, who inspects
// where (SPEC §1). Other changes since (a phone number, an address) are
// fine, and so is a change undone. Only the records changed since the
// draw have their versions read. Without a version store (tests that
// build the service by hand) nothing is checked.
func (s *Service) sameSinceDraw(ctx context.Context, d *backend.Draw, stored map[string]*backend.Task, ents map[string]*backend.Enterprise, roster map[string]*backend.Inspector) error {
	if s.Versions == nil {
		return nil
	}
	since := d.CreatedAt
	for _, sel := range d.Record.Selections {
		if stored[taskID(d.ID, sel.USCC)] != nil {
			continue // a repeat's task stored already: not sent again
		}
		if e := ents[sel.USCC]; e != nil {
			moved, err := s.movedSince(ctx, "enterprise", e.ID, e.Version, e.CreatedAt, e.UpdatedAt, since, map[string]string{"uscc": e.USCC})
			if err != nil {
				return err
			}
			if moved {
				return backend.Errorf(backend.ECONFLICT, "the directory gave USCC %s to enterprise %s (%s) after draw %s chose it; restore the record, or redraw with a leader's approval",
					sel.USCC, e.ID, e.Name, d.ID)
			}
		}
		for _, badge := range sel.Group {
			if in := roster[badge]; in != nil {
				moved, err := s.movedSince(ctx, "inspector", in.ID, in.Version, in.CreatedAt, in.UpdatedAt, since,
					map[string]string{"badge_no": in.BadgeNo, "user_id": in.UserID, "department_id": in.DepartmentID})
				if err != nil {
					return err
				}
				if moved {
					return backend.Errorf(backend.ECONFLICT, "the roster gave badge %s to inspector %s (%s), linked it to another account or moved it to another department, after draw %s chose it; restore the record, or redraw with a leader's approval",
						badge, in.ID, in.Name, d.ID)
				}
			}
		}
	}
	return nil
}

// movedSince reports whether a record (at version) was created after
// since, or held other values of the fields in now (field → value now)
// then: the value before the first of its versions after since that
// changed the field. A record whose newest change has no version yet (a
// change is stored before its version; an import stores a batch of
// records before their versions) counts as moved: what it changed cannot
// be told yet, and the next dispatch will know.
func (s *Service) movedSince(ctx context.Context, objectType, id string, version int, created, updated, since time.Time, now map[string]string) (bool, error) {
	if created.After(since) {
		return true, nil
	}
	if !updated.After(since) {
		return false, nil
	}
	versions, err := s.Versions.FindVersions(ctx, objectType, id)
	if err != nil {
		return false, err
	}
	if len(versions) == 0 || versions[len(versions)-1].Number < version {
		return true, nil
	}
	// The value at the draw: the last one a version up to it set (a
	// record made through the services has its creation's), else the one
	// the first version after it changed.
	then := map[string]string{}
	for _, v := range versions { // oldest first
		for _, c := range v.Changes {
			if _, ok := now[c.Field]; !ok {
				continue
			}
			if !v.At.After(since) {
				then[c.Field], _ = c.After.(string)
			} else if _, ok := then[c.Field]; !ok {
				then[c.Field], _ = c.Before.(string)
			}
		}
	}
	for field, value := range now {
		if was, ok := then[field]; ok && was != value {
			return true, nil
		}
	}
	return false, nil
}

func member(in *backend.Inspector, at time.Time, reason string) backend.TaskMember {
	return backend.TaskMember{
		BadgeNo: in.BadgeNo, InspectorID: in.ID, UserID: in.UserID, Name: in.Name,
		DepartmentID: in.DepartmentID, AddedAt: at, AddedReason: reason,
	}
}

func taskEnterprise(e *backend.Enterprise) backend.TaskEnterprise {
	return backend.TaskEnterprise{
		ID: e.ID, USCC: e.USCC, Name: e.Name, Town: e.Town, Address: e.Address,
		Location: e.Location, Categories: e.Categories,
	}
}

// taskItems copies items as they stand on the published list.
func (s *Service) taskItems(ctx context.Context, ids []string) ([]backend.TaskItem, error) {
	out := make([]backend.TaskItem, 0, len(ids))
	for _, id := range ids {
		it, err := s.Items.FindItemByID(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, backend.TaskItem{
			ID: it.ID, Code: it.Code, Name: it.Name, LegalBasis: it.LegalBasis, DepartmentID: it.DepartmentID,
			Content: it.Content, Method: it.Method, Qualification: it.Qualification, Categories: it.Categories,
		})
	}
	return out, nil
}

// assignmentNotes tells users (members of a new task's group) of it.
func assignmentNotes(t *backend.Task, users []string) []*backend.Notification {
	title := "新检查任务"
	if t.Kind == backend.TaskTargeted {
		title = "新检查任务（非随机）"
	}
	body := fmt.Sprintf("%s（%s）· 请于 %s 前完成检查", t.Enterprise.Name, t.Enterprise.Town, t.Deadlines.Window)
	return memberNotes(t, users, backend.NoteTaskAssigned, "1", title, body)
}

func itoa(n int) string { return strconv.Itoa(n) }

// rememberCreated keeps for syncs the tasks this call created (ids, of
// tasks): the group's phones ask for them next. A task created by an
// earlier call is left to the store — it may have changed since.
func (s *Service) rememberCreated(tasks []*backend.Task, ids []string) {
	created := make(map[string]bool, len(ids))
	for _, id := range ids {
		created[id] = true
	}
	var ts []*backend.Task
	for _, t := range tasks {
		if created[t.ID] {
			ts = append(ts, t)
		}
	}
	s.remember(ts...)
}
