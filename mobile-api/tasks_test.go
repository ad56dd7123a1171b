package mobileapi

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
)

// dispatchWorld is a planWorld whose eight inspectors sign in as users of
// their own (officer0 … officer7, the test password), with a plan drawn
// and ready to dispatch.
type dispatchWorld struct {
	*planWorld
	plan       planJSON
	draw       drawJSON
	inspectors map[string]*backend.User // by badge number
}

func newDispatchWorld(t *testing.T, env *apiEnv, nEnterprises int, sample string) *dispatchWorld {
	t.Helper()
	w := &dispatchWorld{planWorld: newPlanWorld(t, env, nEnterprises), inspectors: map[string]*backend.User{}}
	ctx := t.Context()
	for i, in := range w.Inspectors {
		u := &backend.User{
			Username: fmt.Sprintf("officer%d", i), DisplayName: in.Name, Roles: []backend.Role{backend.RoleInspector},
			DepartmentID: in.DepartmentID, PasswordHash: env.users["inspector"].PasswordHash,
			CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC(),
		}
		if err := env.db.Users().CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		in.UserID = u.ID
		if err := env.db.Inspectors().UpdateInspector(ctx, in); err != nil {
			t.Fatal(err)
		}
		w.inspectors[in.BadgeNo] = u
	}
	w.plan = createReadyPlan(t, env, w.planBody("undirected", sample))
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + w.plan.ID + "/draws", wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { w.draw = decode[drawJSON](t, b) }}.run(t, env)
	return w
}

// dispatch dispatches the world's draw as staff and returns the answer.
func (w *dispatchWorld) dispatch(t *testing.T, env *apiEnv) dispatchedJSON {
	t.Helper()
	var d dispatchedJSON
	scenario{as: "staff", method: "POST", path: "/api/v1/draws/" + w.draw.ID + "/dispatch", wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { d = decode[dispatchedJSON](t, b) }}.run(t, env)
	return d
}

// dispatchFirst dispatches the world's draw and returns its first task as
// stored.
func (w *dispatchWorld) dispatchFirst(t *testing.T, env *apiEnv) *backend.Task {
	t.Helper()
	d := w.dispatch(t, env)
	task, err := env.db.Tasks().FindTaskByID(t.Context(), d.TaskIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// loginAs signs in as a user the test created and returns the access token.
func (env *apiEnv) loginAs(t testing.TB, u *backend.User) string {
	t.Helper()
	resp, body := env.call(t, "", "POST", "/api/v1/auth/login", `{"username":"`+u.Username+`","password":"`+testPassword+`"}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("login as %s: %d %s", u.Username, resp.StatusCode, body)
	}
	return decode[sessionResponse](t, body).AccessToken
}

type dispatchedJSON struct {
	PlanID     string   `json:"plan_id"`
	PlanStatus string   `json:"plan_status"`
	DrawID     string   `json:"draw_id"`
	TaskIDs    []string `json:"task_ids"`
	Tasks      int      `json:"tasks"`
	Created    int      `json:"created"`
}

type taskListJSON struct {
	Tasks []taskJSON `json:"tasks"`
	Total int        `json:"total"`
}

type inboxJSON struct {
	Notifications []notificationJSON `json:"notifications"`
	Unread        int                `json:"unread"`
}

func TestDispatchCreatesTasksOnceAndLocksTheDraw(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 30, `{"ratio":0.2}`)
	path := "/api/v1/draws/" + w.draw.ID + "/dispatch"

	// Only the office dispatches; an inspector is refused at the gate.
	scenario{as: "inspector", method: "POST", path: path, wantStatus: 403}.run(t, env)
	var first dispatchedJSON
	scenario{as: "staff", method: "POST", path: path, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { first = decode[dispatchedJSON](t, b) }}.run(t, env)
	if first.Tasks != 6 || first.Created != 6 || first.PlanStatus != backend.PlanDispatched {
		t.Fatalf("first dispatch %+v", first)
	}
	// Dispatching again creates nothing and notifies nobody twice.
	scenario{as: "coordinator", method: "POST", path: path, wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
			again := decode[dispatchedJSON](t, b)
			if again.Created != 0 || !slices.Equal(again.TaskIDs, first.TaskIDs) {
				t.Fatalf("second dispatch %+v, first %+v", again, first)
			}
		}}.run(t, env)
	stored, total, err := env.db.Tasks().FindTasks(t.Context(), backend.TaskFilter{PlanID: w.plan.ID})
	if err != nil || total != 6 || len(stored) != 6 {
		t.Fatalf("%d tasks stored (%v), want 6", total, err)
	}
	// A redraw after dispatch is refused.
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + w.plan.ID + "/draws", body: `{"reason":"名录更新"}`,
		wantStatus: 409, wantCode: backend.ECONFLICT, wantContain: []string{"dispatched"}}.run(t, env)

	// Each task carries its enterprise, items with legal basis, group with
	// a leader, window and deadlines; each member got exactly one alert.
	byID := map[string]*backend.Task{}
	for _, task := range stored {
		byID[task.ID] = task
	}
	for i, sel := range w.draw.Selections {
		task := byID[first.TaskIDs[i]]
		if task == nil || task.Enterprise.USCC != sel.USCC || task.State != backend.TaskAssigned ||
			len(task.Items) != 2 || task.Items[0].LegalBasis.Law == "" || task.Deadlines.Window != "2026-12-31" {
			t.Fatalf("task %d: %+v for selection %+v", i, task, sel)
		}
		leads := 0
		for j, m := range task.Members {
			if m.BadgeNo != sel.Group[j] || m.UserID != w.inspectors[m.BadgeNo].ID || m.Name == "" {
				t.Fatalf("task %s member %d: %+v, want badge %s", task.ID, j, m, sel.Group[j])
			}
			if m.Lead {
				leads++
			}
		}
		if leads != 1 || !task.Members[0].Lead {
			t.Fatalf("task %s: the first drawn is not the one leader: %+v", task.ID, task.Members)
		}
	}
	alerts := map[string]int{} // user → task.assigned entries
	for _, u := range w.inspectors {
		list, err := env.db.Notifications().FindNotifications(t.Context(), backend.InboxQuery{UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range list {
			if n.Kind == backend.NoteTaskAssigned {
				alerts[u.ID]++
			}
		}
	}
	for _, task := range stored {
		for _, m := range task.Members {
			alerts[m.UserID]--
		}
	}
	for u, n := range alerts {
		if n != 0 {
			t.Fatalf("user %s has %+d assignment alerts beyond one per task", u, n)
		}
	}

	// An inspector sees their own tasks and inbox, and 404 for any other task.
	task := stored[0]
	member := w.inspectors[task.Members[0].BadgeNo]
	token := env.loginAs(t, member)
	scenario{token: token, method: "GET", path: "/api/v1/tasks/" + task.ID, wantStatus: 200,
		wantContain: []string{task.Enterprise.USCC, `"lead":true`, `"legal_basis"`, `"applicable":true`}}.run(t, env)
	scenario{token: token, method: "GET", path: "/api/v1/tasks", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
			for _, tj := range decode[taskListJSON](t, b).Tasks {
				if !slices.ContainsFunc(tj.Members, func(m taskMemberJSON) bool { return m.UserID == member.ID }) {
					t.Fatalf("inspector listed task %s of another group", tj.ID)
				}
			}
		}}.run(t, env)
	for _, other := range stored {
		if !other.HasMember(member.ID) {
			scenario{token: token, method: "GET", path: "/api/v1/tasks/" + other.ID, wantStatus: 404, wantCode: backend.ENOTFOUND}.run(t, env)
			break
		}
	}
	scenario{token: token, method: "GET", path: "/api/v1/me/notifications", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
			in := decode[inboxJSON](t, b)
			if in.Unread == 0 || in.Unread != len(in.Notifications) || in.Notifications[0].Title != "新检查任务" ||
				in.Notifications[0].Data["task_id"] == "" || in.Notifications[0].Data["kind"] != backend.NoteTaskAssigned {
				t.Fatalf("inbox %+v", in)
			}
			scenario{token: token, method: "POST", path: "/api/v1/me/notifications/" + in.Notifications[0].ID + "/read", wantStatus: 200,
				wantContain: []string{`"read_at":"`}}.run(t, env)
		}}.run(t, env)
	// Another user's notification is not found; read-all clears the rest.
	scenario{as: "inspector", method: "POST", path: "/api/v1/me/notifications/" + first.TaskIDs[0] + "/read", wantStatus: 404}.run(t, env)
	scenario{token: token, method: "POST", path: "/api/v1/me/notifications/read-all", wantStatus: 200}.run(t, env)
	scenario{token: token, method: "GET", path: "/api/v1/me/notifications", wantStatus: 200, wantContain: []string{`"unread":0`}}.run(t, env)

	// Staff of another department get 404 on the task and see none listed.
	other := env.users["leader"]
	other.Roles, other.DepartmentID = []backend.Role{backend.RoleStaff}, w.Office.ID
	if err := env.updateUser(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	scenario{as: "leader", method: "GET", path: "/api/v1/tasks/" + task.ID, wantStatus: 404, wantCode: backend.ENOTFOUND}.run(t, env)
	scenario{as: "leader", method: "GET", path: "/api/v1/tasks", wantStatus: 200, wantContain: []string{`"total":0`}}.run(t, env)
	scenario{as: "leader", method: "POST", path: path, wantStatus: 404, wantCode: backend.ENOTFOUND}.run(t, env)
	scenario{as: "staff", method: "GET", path: "/api/v1/tasks?plan_id=" + w.plan.ID, wantStatus: 200, wantContain: []string{`"total":6`}}.run(t, env)
}

func TestCancellingEveryTaskClosesThePlan(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 10, `{"count":2}`)
	d := w.dispatch(t, env)
	randomChecks := func(n int) {
		t.Helper()
		scenario{as: "coordinator", method: "GET", path: "/api/v1/reports/random-share?year=2026", wantStatus: 200,
			wantContain: []string{fmt.Sprintf(`"random":%d`, n)}}.run(t, env)
	}
	randomChecks(2)

	first := "/api/v1/tasks/" + d.TaskIDs[0] + "/cancel"
	scenario{as: "staff", method: "POST", path: first, body: `{"reason":""}`, wantStatus: 400, wantContain: []string{`"reason"`}}.run(t, env)
	scenario{as: "staff", method: "POST", path: first, body: `{"reason":"企业已停产","version":7}`, wantStatus: 409,
		wantContain: []string{`"code":"ECONFLICT"`, `"stale"`, `"current":{`, `"state":"assigned"`}}.run(t, env)
	scenario{as: "staff", method: "POST", path: first, body: `{"reason":"企业已停产","version":1}`, wantStatus: 200,
		wantContain: []string{`"state":"cancelled"`, "企业已停产"}}.run(t, env)
	scenario{as: "staff", method: "POST", path: first, body: `{"reason":"again"}`, wantStatus: 409}.run(t, env)
	scenario{as: "leader", method: "GET", path: "/api/v1/plans/" + w.plan.ID, wantStatus: 200, wantContain: []string{`"status":"dispatched"`}}.run(t, env)
	// A cancelled check was no inspection (art. 16): not a random check.
	randomChecks(1)

	task, err := env.db.Tasks().FindTaskByID(t.Context(), d.TaskIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	cancelled, err := env.db.Notifications().FindNotifications(t.Context(), backend.InboxQuery{UserID: task.Members[0].UserID})
	if err != nil || !slices.ContainsFunc(cancelled, func(n *backend.Notification) bool {
		return n.Kind == backend.NoteTaskCancelled && n.TaskID == task.ID
	}) {
		t.Fatalf("the group was not told of the cancellation: %v", err)
	}

	scenario{as: "coordinator", method: "POST", path: "/api/v1/tasks/" + d.TaskIDs[1] + "/cancel", body: `{"reason":"重复检查"}`, wantStatus: 200}.run(t, env)
	scenario{as: "leader", method: "GET", path: "/api/v1/plans/" + w.plan.ID, wantStatus: 200, wantContain: []string{`"status":"closed"`}}.run(t, env)
	randomChecks(0)
	env.checkFeedsNameStoredVersions(t)
}

// TestABegunInspectionIsNotCancelled: once the group recorded something
// on site the inspection ends with a result, not a cancellation, which
// would take it and its record out of the reports; nothing changes.
func TestABegunInspectionIsNotCancelled(t *testing.T) {
	env := newAPIEnv(t, Config{})
	env.withEvidence(t)
	w := newDispatchWorld(t, env, 10, `{"count":2}`)
	d := w.dispatch(t, env)
	task, err := env.db.Tasks().FindTaskByID(t.Context(), d.TaskIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	token := env.loginAs(t, w.inspectors[task.Members[0].BadgeNo])
	base := "/api/v1/tasks/" + task.ID
	scenario{token: token, method: "POST", path: base + "/check-in", body: `{"lat":35.4915,"lng":112.8569,"accuracy_m":12}`, wantStatus: 200,
		wantContain: []string{`"state":"in_progress"`}}.run(t, env)
	begun, err := env.db.Tasks().FindTaskByID(t.Context(), task.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"staff", "coordinator"} {
		scenario{as: role, method: "POST", path: base + "/cancel", body: `{"reason":"企业已停产"}`, wantStatus: 409,
			wantCode: backend.ECONFLICT, wantContain: []string{"in_progress", backend.ResultEnterpriseNotFound}}.run(t, env)
	}
	after, err := env.db.Tasks().FindTaskByID(t.Context(), task.ID)
	if err != nil || after.State != backend.TaskInProgress || after.Version != begun.Version || after.CancelledAt != nil {
		t.Fatalf("a refused cancellation changed the task: %+v, %v", after, err)
	}
	// A photo sent before anything else (the task stays assigned) begins
	// it too.
	second, err := env.db.Tasks().FindTaskByID(t.Context(), d.TaskIDs[1])
	if err != nil {
		t.Fatal(err)
	}
	photo := []byte("a photo taken at the gate")
	scenario{token: env.loginAs(t, w.inspectors[second.Members[0].BadgeNo]), method: "POST", path: "/api/v1/tasks/" + second.ID + "/evidence",
		body: fmt.Sprintf(`{"kind":"photo","content_type":"image/jpeg","size":%d,"sha256":%q}`, len(photo), sha(photo)), wantStatus: 201}.run(t, env)
	scenario{as: "staff", method: "POST", path: "/api/v1/tasks/" + second.ID + "/cancel", body: `{"reason":"企业已停产"}`, wantStatus: 409,
		wantCode: backend.ECONFLICT, wantContain: []string{"evidence"}}.run(t, env)
	scenario{as: "coordinator", method: "GET", path: "/api/v1/reports/random-share?year=2026", wantStatus: 200,
		wantContain: []string{`"random":2`}}.run(t, env)
}

func TestTargetedTasksCountInRandomShare(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 10, `{"count":3}`)
	ent := w.Enterprises[0]
	body := func(id, source, reason string, badges string) string {
		return fmt.Sprintf(`{"id":%q,"source":%q,"reason":%q,"enterprise_id":%q,"item_ids":[%q],"badge_nos":%s,"window":{"start":"2026-06-01","end":"2026-06-30"}}`,
			id, source, reason, ent.ID, w.Items[0], badges)
	}
	b0, b1 := w.Inspectors[0].BadgeNo, w.Inspectors[1].BadgeNo
	pair := fmt.Sprintf(`[%q,%q]`, b0, b1)
	for _, sc := range []scenario{
		{name: "unknown source, no reason, one inspector", as: "staff", method: "POST", path: "/api/v1/tasks",
			body: body("", "rumour", "", fmt.Sprintf(`[%q]`, b0)), wantStatus: 400, wantContain: []string{`"source"`, `"reason"`, `"badge_nos"`}},
		{name: "unpublished year", as: "staff", method: "POST", path: "/api/v1/tasks",
			body:       `{"source":"complaint","reason":"x","enterprise_id":"` + ent.ID + `","item_ids":["` + w.Items[0] + `"],"badge_nos":` + pair + `,"window":{"start":"2027-01-01","end":"2027-01-31"}}`,
			wantStatus: 400, wantContain: []string{"not published"}},
		{name: "another department", as: "staff", method: "POST", path: "/api/v1/tasks",
			body: `{"department_id":"` + w.Office.ID + `","source":"complaint","reason":"x"}`, wantStatus: 403},
		{name: "inspector", as: "inspector", method: "POST", path: "/api/v1/tasks", body: body("", "complaint", "x", pair), wantStatus: 403},
	} {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, env) })
	}
	// A conflict of interest declared by a named inspector is refused.
	in := w.Inspectors[1]
	in.Conflicts = []backend.Conflict{{EnterpriseID: ent.ID, Reason: "亲属任职"}}
	if err := env.db.Inspectors().UpdateInspector(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	scenario{as: "staff", method: "POST", path: "/api/v1/tasks", body: body("", "complaint", "群众举报", pair), wantStatus: 400,
		wantContain: []string{"回避"}}.run(t, env)

	b2 := w.Inspectors[2].BadgeNo
	good := body("6f1c2a9e-4b7d-4c1e-9a55-0d3f2b8c7e11", "complaint", "群众举报夜间违规作业", fmt.Sprintf(`[%q,%q]`, b0, b2))
	var created taskJSON
	scenario{as: "staff", method: "POST", path: "/api/v1/tasks", body: good, wantStatus: 201,
		wantContain: []string{`"kind":"targeted"`, `"source":"complaint"`},
		after:       func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { created = decode[taskJSON](t, b) }}.run(t, env)
	if created.ID != "6f1c2a9e-4b7d-4c1e-9a55-0d3f2b8c7e11" || len(created.Members) != 2 || !created.Members[0].Lead {
		t.Fatalf("targeted task %+v", created)
	}
	// Replaying the same client id creates nothing.
	scenario{as: "staff", method: "POST", path: "/api/v1/tasks", body: good, wantStatus: 200}.run(t, env)
	scenario{as: "coordinator", method: "POST", path: "/api/v1/tasks", body: good, wantStatus: 409}.run(t, env)

	scenario{as: "staff", method: "POST", path: "/api/v1/draws/" + w.draw.ID + "/dispatch", wantStatus: 201}.run(t, env)
	scenario{as: "coordinator", method: "GET", path: "/api/v1/reports/random-share?year=2026", wantStatus: 200,
		wantContain: []string{`"random":3`, `"targeted":1`, `"random_share":0.75`, `"meets_70_percent":true`}}.run(t, env)
	env.checkFeedsNameStoredVersions(t)
}

// A plan whose last task was cancelled or published without the plan
// being closed (the closing failed after the task was stored) is closed
// by the scheduler's next pass — unless a task of its draw is missing: a
// dispatch left half done is its repeat's to finish.
func TestSchedulerClosesPlansLeftOpen(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 10, `{"count":2}`)
	d := w.dispatch(t, env)
	status := func() string {
		p, err := env.db.Plans().FindPlanByID(t.Context(), w.plan.ID)
		if err != nil {
			t.Fatal(err)
		}
		return p.Status
	}
	// Both tasks cancelled in the store alone, as when the closing failed.
	var tasks []*backend.Task
	for _, id := range d.TaskIDs {
		task, err := env.db.Tasks().FindTaskByID(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		task.State = backend.TaskCancelled
		if err := env.db.Tasks().UpdateTask(t.Context(), task); err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, task)
	}
	// One of them missing: the dispatch is not whole, and the plan stays.
	if _, err := env.db.Database().Collection("tasks").DeleteOne(t.Context(), bson.D{{Key: "_id", Value: tasks[1].ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.Tasks.RunDeadlines(t.Context(), time.Now()); err != nil || status() != backend.PlanDispatched {
		t.Fatalf("a half-dispatched plan after a pass: %s, %v", status(), err)
	}
	if _, err := env.db.Tasks().InsertTasks(t.Context(), []*backend.Task{tasks[1]}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.Tasks.RunDeadlines(t.Context(), time.Now()); err != nil || status() != backend.PlanClosed {
		t.Fatalf("a plan with every task cancelled after a pass: %s, %v", status(), err)
	}
}
