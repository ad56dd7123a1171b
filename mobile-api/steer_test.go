package mobileapi

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
	"suiji/backend/draw"
	"suiji/backend/uscc"
)

// After a draw is public, nobody who edits the lists may change who
// inspects where: a drawn badge number moved to another inspector, a
// drawn inspector linked to another account or a drawn USCC moved to
// another enterprise makes the dispatch refuse, naming it, until the
// change is undone; changes that keep who is who (a phone number) do not.
func TestDispatchRefusesListsReassignedAfterTheDraw(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 30, `{"ratio":0.2}`)
	dispatchPath := "/api/v1/draws/" + w.draw.ID + "/dispatch"
	sel := w.draw.Selections[0]
	drawn := inspectorByBadge(t, w, sel.Group[0])
	var other *backend.Inspector
	for _, in := range w.Inspectors {
		if !slices.Contains(sel.Group, in.BadgeNo) {
			other = in
			break
		}
	}
	otherBadge := other.BadgeNo
	patch := func(id, body string) {
		t.Helper()
		scenario{as: "coordinator", method: "PATCH", path: "/api/v1/inspectors/" + id, body: body, wantStatus: 200}.run(t, env)
	}
	refused := func(want ...string) {
		t.Helper()
		scenario{as: "staff", method: "POST", path: dispatchPath, wantStatus: 409, wantCode: backend.ECONFLICT,
			wantContain: append(want, "redraw")}.run(t, env)
		if _, n, err := env.db.Tasks().FindTasks(t.Context(), backend.TaskFilter{PlanID: w.plan.ID}); err != nil || n != 0 {
			t.Fatalf("%d tasks stored by a refused dispatch (%v)", n, err)
		}
		if p, err := env.db.Plans().FindPlanByID(t.Context(), w.plan.ID); err != nil || p.Status != backend.PlanDrawn {
			t.Fatalf("plan after a refused dispatch: %+v, %v", p, err)
		}
	}

	// A change that keeps who is who.
	patch(drawn.ID, `{"phone":"13800000000"}`)

	// The drawn badge handed to another inspector.
	patch(drawn.ID, `{"badge_no":"TMP-0001"}`)
	patch(other.ID, fmt.Sprintf(`{"badge_no":%q}`, sel.Group[0]))
	refused(sel.Group[0], other.ID)
	patch(other.ID, fmt.Sprintf(`{"badge_no":%q}`, otherBadge))
	patch(drawn.ID, fmt.Sprintf(`{"badge_no":%q}`, sel.Group[0]))

	// The drawn inspector linked to another account.
	friend := &backend.User{Username: "friend", DisplayName: "另一账号", Roles: []backend.Role{backend.RoleInspector},
		DepartmentID: drawn.DepartmentID, PasswordHash: env.users["inspector"].PasswordHash, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
	if err := env.db.Users().CreateUser(t.Context(), friend); err != nil {
		t.Fatal(err)
	}
	patch(drawn.ID, fmt.Sprintf(`{"user_id":%q}`, friend.ID))
	refused(sel.Group[0], drawn.ID)
	patch(drawn.ID, fmt.Sprintf(`{"user_id":%q}`, drawn.UserID))

	// The drawn inspector moved to another department (which decides who
	// leads the group, and each department's share of it).
	patch(drawn.ID, fmt.Sprintf(`{"department_id":%q}`, w.Office.ID))
	refused(sel.Group[0], drawn.ID, "department")
	patch(drawn.ID, fmt.Sprintf(`{"department_id":%q}`, drawn.DepartmentID))

	// The drawn USCC moved to another enterprise.
	var ent *backend.Enterprise
	for _, e := range w.Enterprises {
		if e.USCC == w.draw.Selections[1].USCC {
			ent = e
		}
	}
	if ent == nil {
		t.Fatal("the second selection's enterprise is not in the world")
	}
	var elsewhere *backend.Enterprise
	for _, e := range w.Enterprises {
		if !slices.ContainsFunc(w.draw.Selections, func(s draw.Selection) bool { return s.USCC == e.USCC }) {
			elsewhere = e
			break
		}
	}
	patchEnterprise := func(e *backend.Enterprise, code string) {
		t.Helper()
		scenario{as: "coordinator", method: "PATCH", path: "/api/v1/enterprises/" + e.ID, body: fmt.Sprintf(`{"uscc":%q}`, code), wantStatus: 200}.run(t, env)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	patchEnterprise(ent, uscc.Generate(rng))
	refused(ent.USCC, "no longer in the directory")
	patchEnterprise(elsewhere, ent.USCC)
	refused(ent.USCC, elsewhere.ID)
	patchEnterprise(elsewhere, elsewhere.USCC)
	patchEnterprise(ent, ent.USCC)

	// Every change undone: the draw goes out to the inspectors it chose.
	d := w.dispatch(t, env)
	if d.Created != len(w.draw.Selections) {
		t.Fatalf("dispatch after the changes were undone: %+v", d)
	}
	task, err := env.db.Tasks().FindTaskByID(t.Context(), d.TaskIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	if task.Members[0].BadgeNo != sel.Group[0] || task.Members[0].UserID != drawn.UserID || task.Members[0].InspectorID != drawn.ID {
		t.Fatalf("the first task's first member is %+v, want inspector %s (user %s)", task.Members[0], drawn.ID, drawn.UserID)
	}
}

// A dispatched task's id is derived from its draw and enterprise, both
// public: a targeted task may not take it first, and if a task not of
// the draw holds it anyway, the dispatch says so rather than counting
// the drawn enterprise as dispatched.
func TestDispatchedTaskIDsCannotBeTakenFirst(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 10, `{"count":3}`)
	sel := w.draw.Selections[0]
	id := backend.HashID("task", w.draw.ID, sel.USCC)
	var ent *backend.Enterprise
	for _, e := range w.Enterprises {
		if e.USCC == sel.USCC {
			ent = e
		}
	}
	body := fmt.Sprintf(`{"id":%q,"department_id":%q,"source":"complaint","reason":"群众举报","enterprise_id":%q,"item_ids":[%q],"badge_nos":[%q,%q],"window":{"start":"2026-06-01","end":"2026-06-30"}}`,
		id, w.Brigade.ID, ent.ID, w.Items[0], w.Inspectors[0].BadgeNo, w.Inspectors[1].BadgeNo)
	scenario{as: "coordinator", method: "POST", path: "/api/v1/tasks", body: body, wantStatus: 400, wantCode: backend.EINVALID,
		wantContain: []string{`"id"`, "24 hex"}}.run(t, env)
	if _, err := env.db.Tasks().FindTaskByID(t.Context(), id); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Fatalf("the refused targeted task was stored: %v", err)
	}

	// Stored by other means, it stops the dispatch, named.
	squat := &backend.Task{ID: id, Kind: backend.TaskTargeted, Source: "complaint", Reason: "x", Year: 2026,
		LeadDepartmentID: w.Brigade.ID, DepartmentIDs: []string{w.Brigade.ID}, State: backend.TaskCancelled,
		Enterprise: backend.TaskEnterprise{ID: ent.ID, USCC: ent.USCC, Name: ent.Name}}
	if _, err := env.db.Tasks().InsertTasks(t.Context(), []*backend.Task{squat}); err != nil {
		t.Fatal(err)
	}
	scenario{as: "staff", method: "POST", path: "/api/v1/draws/" + w.draw.ID + "/dispatch", wantStatus: 409, wantCode: backend.ECONFLICT,
		wantContain: []string{id, sel.USCC, "not dispatched"}}.run(t, env)
	// The draw's other groups were told of their tasks all the same; the
	// held task's group was not told of a task that is not theirs.
	told := func(badge, taskID string) bool {
		notes, err := env.db.Notifications().FindNotifications(t.Context(), backend.InboxQuery{UserID: w.inspectors[badge].ID})
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(notes, func(n *backend.Notification) bool { return n.TaskID == taskID && n.Kind == backend.NoteTaskAssigned })
	}
	other := w.draw.Selections[1]
	if !told(other.Group[0], backend.HashID("task", w.draw.ID, other.USCC)) {
		t.Fatal("another group of the draw was not told of its task")
	}
	if told(sel.Group[0], id) {
		t.Fatal("the held task's group was told of it")
	}
}

func inspectorByBadge(t *testing.T, w *dispatchWorld, badge string) *backend.Inspector {
	t.Helper()
	for _, in := range w.Inspectors {
		if in.BadgeNo == badge {
			return in
		}
	}
	t.Fatalf("no inspector has badge %s", badge)
	return nil
}

// A change stored before its version (an import stores a batch of records
// first): what it changed cannot be told yet, so the dispatch waits.
func TestDispatchWaitsForAChangesVersion(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 10, `{"count":2}`)
	drawn := inspectorByBadge(t, w, w.draw.Selections[0].Group[0])
	scenario{as: "coordinator", method: "PATCH", path: "/api/v1/inspectors/" + drawn.ID, body: `{"phone":"13800000001"}`, wantStatus: 200}.run(t, env)
	current, err := env.db.Inspectors().FindInspectorByID(t.Context(), drawn.ID)
	if err != nil {
		t.Fatal(err)
	}
	other := inspectorByBadge(t, w, w.draw.Selections[1].Group[0])
	current.UserID, current.UpdatedAt = other.UserID+"-elsewhere", time.Now().UTC()
	if err := env.db.Inspectors().UpdateInspector(t.Context(), current); err != nil {
		t.Fatal(err)
	}
	scenario{as: "staff", method: "POST", path: "/api/v1/draws/" + w.draw.ID + "/dispatch", wantStatus: 409, wantCode: backend.ECONFLICT,
		wantContain: []string{drawn.BadgeNo, drawn.ID}}.run(t, env)
}

// TestARepeatDispatchMakesOnlyWhatIsMissing: a dispatch repeated after
// one that stopped half-way (here: a task of the draw missing) leaves the
// stored tasks as they are — a drawn inspector transferred since, whose
// task exists, does not block it — and makes only the missing task; a
// change touching the missing task's group still refuses it.
func TestARepeatDispatchMakesOnlyWhatIsMissing(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 30, `{"count":3}`)
	// Two selections, and a member of the first not in the second's group.
	var kept, lost int
	var moved string
	for i := range w.draw.Selections {
		for j := range w.draw.Selections {
			for _, badge := range w.draw.Selections[i].Group {
				if i != j && moved == "" && !slices.Contains(w.draw.Selections[j].Group, badge) {
					kept, lost, moved = i, j, badge
				}
			}
		}
	}
	if moved == "" {
		t.Fatalf("every group of the draw is the same: %+v", w.draw.Selections)
	}
	d := w.dispatch(t, env)
	lostID, keptID := d.TaskIDs[lost], d.TaskIDs[kept]
	forget := func() {
		t.Helper()
		if _, err := env.db.Database().Collection("tasks").DeleteOne(t.Context(), bson.D{{Key: "_id", Value: lostID}}); err != nil {
			t.Fatal(err)
		}
	}
	forget()
	keptBefore, err := env.db.Tasks().FindTaskByID(t.Context(), keptID)
	if err != nil {
		t.Fatal(err)
	}
	in := inspectorByBadge(t, w, moved)
	scenario{as: "coordinator", method: "PATCH", path: "/api/v1/inspectors/" + in.ID, body: fmt.Sprintf(`{"department_id":%q}`, w.Office.ID), wantStatus: 200}.run(t, env)

	again := w.dispatch(t, env)
	if again.Created != 1 {
		t.Fatalf("the repeat created %d tasks, want the missing one", again.Created)
	}
	if _, err := env.db.Tasks().FindTaskByID(t.Context(), lostID); err != nil {
		t.Fatalf("the missing task was not made: %v", err)
	}
	if kept, err := env.db.Tasks().FindTaskByID(t.Context(), keptID); err != nil || kept.Version != keptBefore.Version {
		t.Fatalf("a stored task changed under the repeat: %+v (%v)", kept, err)
	}
	for _, m := range keptBefore.Members { // told once, however often dispatched
		notes, err := env.db.Notifications().FindNotifications(t.Context(), backend.InboxQuery{UserID: m.UserID})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, note := range notes {
			if note.TaskID == keptID && note.Kind == backend.NoteTaskAssigned {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%s has %d assignment entries of the stored task, want 1", m.BadgeNo, n)
		}
	}

	// A change in the missing task's group refuses the repeat.
	forget()
	other := inspectorByBadge(t, w, w.draw.Selections[lost].Group[0])
	scenario{as: "coordinator", method: "PATCH", path: "/api/v1/inspectors/" + other.ID, body: fmt.Sprintf(`{"department_id":%q}`, w.Office.ID), wantStatus: 200}.run(t, env)
	scenario{as: "staff", method: "POST", path: "/api/v1/draws/" + w.draw.ID + "/dispatch", wantStatus: 409, wantCode: backend.ECONFLICT,
		wantContain: []string{w.draw.Selections[lost].Group[0], "department"}}.run(t, env)

	// Every stored task cancelled meanwhile: the plan is not wholly
	// dispatched, so it stays open for the repair, which then goes out.
	for i, id := range d.TaskIDs {
		if i != lost {
			scenario{as: "staff", method: "POST", path: "/api/v1/tasks/" + id + "/cancel", body: `{"reason":"企业已停产"}`, wantStatus: 200}.run(t, env)
		}
	}
	if p, err := env.db.Plans().FindPlanByID(t.Context(), w.plan.ID); err != nil || p.Status != backend.PlanDispatched {
		t.Fatalf("a plan dispatched in part, its stored tasks cancelled: %+v (%v), want it still dispatched", p, err)
	}
	scenario{as: "coordinator", method: "PATCH", path: "/api/v1/inspectors/" + other.ID, body: fmt.Sprintf(`{"department_id":%q}`, other.DepartmentID), wantStatus: 200}.run(t, env)
	if last := w.dispatch(t, env); last.Created != 1 {
		t.Fatalf("the repair created %d tasks, want the missing one", last.Created)
	}
}
