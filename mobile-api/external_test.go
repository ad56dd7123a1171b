package mobileapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/draw"
)

// Art. 28: the bureau joins another agency's joint draw. It records the
// task that agency dispatched (agency, reference, enterprise) as a plan of
// its own whose pool is that enterprise, draws its own inspectors for it
// by the same verifiable procedure, and dispatches one task of kind
// external, which the random share counts once, as received.
func TestExternalTaskDrawsTheBureausOwnInspectors(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 12, `{"count":2}`)
	ent := w.Enterprises[5]
	items, _ := json.Marshal(w.Items[:1])
	// The agency is a partner the bureau registered (a department of kind
	// external), named as registered.
	now := time.Now().UTC()
	if err := env.db.Departments().CreateDepartment(t.Context(), &backend.Department{Name: "市市场监管局", Kind: backend.DepartmentExternal, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	body := func(external string) string {
		return fmt.Sprintf(`{"year":2026,"title":"市市场监管局联合抽查（接收）","item_ids":%s,"lead_department_id":%q,
			"group_size":2,"window":{"start":"2026-03-01","end":"2026-12-31"},"external":%s}`, items, w.Brigade.ID, external)
	}
	for _, sc := range []scenario{
		{name: "nothing named", as: "staff", method: "POST", path: "/api/v1/plans", body: body(`{}`), wantStatus: 400, wantCode: backend.EINVALID,
			wantContain: []string{`"external.agency"`, `"external.reference"`, `"external.enterprise_id"`}},
		{name: "an agency not registered", as: "staff", method: "POST", path: "/api/v1/plans",
			body:       body(fmt.Sprintf(`{"agency":"某个未登记的部门","reference":"晋市监抽〔2026〕3号","enterprise_id":%q}`, ent.ID)),
			wantStatus: 400, wantCode: backend.EINVALID, wantContain: []string{`"external.agency"`, "partner agency"}},
		{name: "an internal department as the agency", as: "staff", method: "POST", path: "/api/v1/plans",
			body:       body(fmt.Sprintf(`{"agency":%q,"reference":"晋市监抽〔2026〕3号","enterprise_id":%q}`, w.Brigade.Name, ent.ID)),
			wantStatus: 400, wantCode: backend.EINVALID, wantContain: []string{`"external.agency"`}},
		{name: "a filter of its own", as: "staff", method: "POST", path: "/api/v1/plans",
			body:       strings.Replace(body(fmt.Sprintf(`{"agency":"市市场监管局","reference":"晋市监抽〔2026〕3号","enterprise_id":%q}`, ent.ID)), `"group_size"`, `"filter":{"towns":[`+fmt.Sprintf("%q", w.Towns[0])+`]},"group_size"`, 1),
			wantStatus: 400, wantContain: []string{`"filter"`}},
	} {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, env) })
	}
	p := createReadyPlan(t, env, body(fmt.Sprintf(`{"agency":"市市场监管局","reference":"晋市监抽〔2026〕3号","enterprise_id":%q}`, ent.ID)))
	if p.Kind != backend.PlanDirected || p.Sample.Count != 1 || p.External == nil || p.External.EnterpriseID != ent.ID {
		t.Fatalf("external plan %+v", p)
	}
	// The portal says whose task it is, not "a random pick of every enterprise".
	scenario{method: "GET", path: "/plans/" + p.ID, wantStatus: 200,
		wantContain: []string{"接收联合抽查任务", "市市场监管局指定的企业（晋市监抽〔2026〕3号）"}, wantAbsent: []string{"全部在营企业"}}.run(t, env)
	var d drawJSON
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { d = decode[drawJSON](t, b) }}.run(t, env)
	if len(d.Selections) != 1 || d.Selections[0].USCC != ent.USCC || len(d.Selections[0].Group) != 2 {
		t.Fatalf("the draw of the received task: %+v", d.Selections)
	}
	for _, badge := range d.Selections[0].Group {
		if in := inspectorByBadge(t, w, badge); in.DepartmentID != w.Brigade.ID {
			t.Fatalf("inspector %s of another department drawn", badge)
		}
	}
	plain, _ := fetchRecord(t, env, d.ID, "")
	if v, err := draw.VerifyStream(bytes.NewReader(plain)); err != nil || v.Selections != 1 || len(v.Record.Candidates) != 1 {
		t.Fatalf("the record does not verify: %+v %v", v, err)
	}
	if out := pythonVerdict(t, plain); !strings.HasPrefix(out, "OK") {
		t.Fatalf("the Python verifier: %s", out)
	}

	var dispatched dispatchedJSON
	scenario{as: "staff", method: "POST", path: "/api/v1/draws/" + d.ID + "/dispatch", wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { dispatched = decode[dispatchedJSON](t, b) }}.run(t, env)
	task, err := env.db.Tasks().FindTaskByID(t.Context(), dispatched.TaskIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	if task.Kind != backend.TaskExternal || task.Source != "市市场监管局" || task.ExternalPlanRef != "晋市监抽〔2026〕3号" || task.Enterprise.ID != ent.ID {
		t.Fatalf("the received task: kind %s, source %q, reference %q, enterprise %s", task.Kind, task.Source, task.ExternalPlanRef, task.Enterprise.ID)
	}
	notes, err := env.db.Notifications().FindNotifications(t.Context(), backend.InboxQuery{UserID: task.Members[0].UserID})
	if err != nil || !slices.ContainsFunc(notes, func(n *backend.Notification) bool {
		return n.TaskID == task.ID && n.Kind == backend.NoteTaskAssigned && n.Title == "新检查任务"
	}) {
		t.Fatalf("the group was not told of a (random) task: %v", err)
	}
	// A member of it is replaced at random, like any drawn group's.
	scenario{as: "staff", method: "POST", path: "/api/v1/tasks/" + task.ID + "/replacements",
		body: `{"badge_no":"` + task.Members[0].BadgeNo + `","reason":"回避"}`, wantStatus: 201}.run(t, env)
	// The world's own draw is not dispatched: it counts 2, the received task 1.
	scenario{as: "coordinator", method: "GET", path: "/api/v1/reports/random-share?year=2026", wantStatus: 200,
		wantContain: []string{`"random":3`}}.run(t, env)
}
