package mobileapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/cmd/wire"
)

// resultWorld is a dispatched plan whose tasks the test completes itself,
// as the on-site inspection (issue 9) does when the last member submits,
// and whose result-side clock the test sets.
type resultWorld struct {
	*dispatchWorld
	tasks []*backend.Task // in selection order
	clock *testClock
}

// testClock is a clock a test moves; the results use case reads it.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// cst builds an instant in Beijing time.
func cst(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, backend.ChinaTime)
}

func newResultWorld(t *testing.T, env *apiEnv) *resultWorld {
	t.Helper()
	w := &resultWorld{dispatchWorld: newDispatchWorld(t, env, 30, `{"ratio":0.2}`), clock: &testClock{now: time.Now().UTC()}}
	env.svc.Results.Now = w.clock.Now
	// Contact data the public must never see.
	for _, e := range w.Enterprises {
		e.LegalRepresentative, e.SafetyManager, e.Phone = "法人张某某", "安全员李某某", "13900001111"
		if err := env.db.Enterprises().UpdateEnterprise(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	d := w.dispatch(t, env)
	for _, id := range d.TaskIDs {
		task, err := env.db.Tasks().FindTaskByID(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		w.tasks = append(w.tasks, task)
	}
	return w
}

// complete ends task i's inspection at at and marks it completed, as the
// last member's submission does.
func (w *resultWorld) complete(t *testing.T, env *apiEnv, i int, at time.Time) *backend.Task {
	t.Helper()
	task, err := env.db.Tasks().FindTaskByID(t.Context(), w.tasks[i].ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.svc.Tasks.EndInspection(t.Context(), task, at); err != nil {
		t.Fatal(err)
	}
	task.State = backend.TaskCompleted
	if err := env.db.Tasks().UpdateTask(t.Context(), task); err != nil {
		t.Fatal(err)
	}
	w.tasks[i] = task
	return task
}

// resultView decodes the bureau's result JSON.
type resultView struct {
	TaskID    string `json:"task_id"`
	State     string `json:"state"`
	Version   int    `json:"version"`
	Deadlines struct {
		Feedback    string `json:"feedback"`
		Publication string `json:"publication"`
	} `json:"deadlines"`
	Result   string       `json:"result"`
	Reviews  []reviewJSON `json:"reviews"`
	Feedback *struct {
		Late         bool   `json:"late"`
		WorkdaysLate int    `json:"workdays_late"`
		Due          string `json:"due"`
		Receiver     string `json:"receiver"`
	} `json:"feedback"`
	Dispositions []dispositionJSON `json:"dispositions"`
	Publications []publicationJSON `json:"publications"`
}

// publicView is exactly the public shape: decoding refuses any other field.
type publicView struct {
	ID         string `json:"id"`
	Version    int    `json:"version"`
	Enterprise struct {
		Name string `json:"name"`
		USCC string `json:"uscc"`
	} `json:"enterprise"`
	Plan *struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	} `json:"plan"`
	Department struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"department"`
	Date  string `json:"date"`
	Items []struct {
		Code string `json:"code"`
		Name string `json:"name"`
	} `json:"items"`
	Result       string `json:"result"`
	Dispositions []struct {
		Kind   string `json:"kind"`
		Date   string `json:"date"`
		CaseNo string `json:"case_no"`
		Agency string `json:"agency"`
	} `json:"dispositions"`
	PublishedAt time.Time `json:"published_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Corrections []struct {
		Version     int       `json:"version"`
		CorrectedAt time.Time `json:"corrected_at"`
		Reason      string    `json:"reason"`
	} `json:"corrections"`
	Versions []json.RawMessage `json:"versions"` // the single result only
}

type publicListView struct {
	Year    int          `json:"year"`
	Results []publicView `json:"results"`
	Total   int          `json:"total"`
	Limit   int          `json:"limit"`
	Offset  int          `json:"offset"`
	Next    string       `json:"next"`
}

// strictDecode decodes body into T refusing unknown fields: the public
// answers must hold no field beyond their documented shape.
func strictDecode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s has a field beyond the public shape: %v", body, err)
	}
	return v
}

// publicSearch runs an anonymous search and returns the decoded page.
func publicSearch(t *testing.T, env *apiEnv, query string) publicListView {
	t.Helper()
	resp, body := env.call(t, "", "GET", "/public/v1/results?"+query, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /public/v1/results?%s: %d %s", query, resp.StatusCode, body)
	}
	return strictDecode[publicListView](t, body)
}

func resultScenario(as, method, path, body string, want int, after func(*testing.T, resultView)) scenario {
	sc := scenario{as: as, method: method, path: path, body: body, wantStatus: want}
	if after != nil {
		sc.after = func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { after(t, decode[resultView](t, b)) }
	}
	return sc
}

// TestResultLifecycle: a completed task is reviewed (never by a member of
// its group, never by another department), returned with a comment and
// approved, fed back late and published late — each late mark kept — and
// is invisible to the public until published, then visible without login
// with no field beyond the public list and no contact data; a correction is
// a new version with its reason; a disposition on a published result is
// another; a plan whose tasks are all published or cancelled closes.
func TestResultLifecycle(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newResultWorld(t, env)
	ctx := t.Context()
	task := w.complete(t, env, 0, cst(2026, 9, 29, 15, 0)) // a Tuesday before 中秋/国庆
	path := "/api/v1/tasks/" + task.ID

	// Unpublished: not in the public search, not found by id.
	w.clock.Set(cst(2026, 10, 12, 9, 0))
	if got := publicSearch(t, env, "year=2026"); got.Total != 0 {
		t.Fatalf("an unpublished result is public: %+v", got)
	}
	scenario{method: "GET", path: "/public/v1/results/" + task.ID, wantStatus: 404}.run(t, env)
	scenario{method: "GET", path: "/results/" + task.ID, wantStatus: 404, wantContain: []string{"页面不存在"}}.run(t, env)

	// Who may review: not an inspector (the route), not staff of another
	// department (the task is not theirs: 404), not a member of the group
	// even when they hold the staff role too, and not a task still open.
	resultScenario("inspector", "POST", path+"/review", `{"decision":"approve","result":"no_problem"}`, 403, nil).run(t, env)
	outsider := env.users["leader"]
	outsider.Roles, outsider.DepartmentID = []backend.Role{backend.RoleStaff}, w.Office.ID
	if err := env.updateUser(ctx, outsider); err != nil {
		t.Fatal(err)
	}
	resultScenario("leader", "POST", path+"/review", `{"decision":"approve","result":"no_problem"}`, 404, nil).run(t, env)
	member := w.inspectors[task.Members[1].BadgeNo]
	member.Roles, member.DepartmentID = []backend.Role{backend.RoleInspector, backend.RoleStaff}, w.Brigade.ID
	if err := env.updateUser(ctx, member); err != nil {
		t.Fatal(err)
	}
	scenario{token: env.loginAs(t, member), method: "POST", path: path + "/review", body: `{"decision":"approve","result":"no_problem"}`,
		wantStatus: 403, wantCode: backend.EFORBIDDEN, wantContain: []string{"member"}}.run(t, env)
	scenario{as: "staff", method: "POST", path: "/api/v1/tasks/" + w.tasks[1].ID + "/review", body: `{"decision":"approve","result":"no_problem"}`,
		wantStatus: 409, wantCode: backend.ECONFLICT}.run(t, env)
	// Bad input is named and changes nothing.
	scenario{as: "staff", method: "POST", path: path + "/review", body: `{"decision":"return"}`,
		wantStatus: 400, wantCode: backend.EINVALID, wantContain: []string{`"comment":"required"`}}.run(t, env)
	scenario{as: "staff", method: "POST", path: path + "/review", body: `{"decision":"approve","result":"fine"}`,
		wantStatus: 400, wantCode: backend.EINVALID, wantContain: []string{`"result"`}}.run(t, env)
	scenario{as: "staff", method: "POST", path: path + "/review", body: `{"decision":"maybe","result":"no_problem"}`,
		wantStatus: 400, wantCode: backend.EINVALID, wantContain: []string{`"decision"`}}.run(t, env)
	// A stale version is refused.
	scenario{as: "staff", method: "POST", path: path + "/review", body: fmt.Sprintf(`{"decision":"approve","result":"no_problem","version":%d}`, task.Version-1),
		wantStatus: 409, wantCode: backend.ECONFLICT, wantContain: []string{`"version":"stale"`}}.run(t, env)

	// Returned: in progress again, the group is told with the comment.
	resultScenario("staff", "POST", path+"/review", `{"decision":"return","comment":"现场照片不清晰，请补充"}`, 200, func(t *testing.T, r resultView) {
		if r.State != backend.TaskInProgress || len(r.Reviews) != 1 || r.Reviews[0].Decision != "return" || r.Reviews[0].Reviewer != "Test staff" {
			t.Fatalf("after return: %+v", r)
		}
	}).run(t, env)
	for _, m := range task.Members {
		notes, err := env.db.Notifications().FindNotifications(ctx, backend.InboxQuery{UserID: m.UserID})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(notes, func(n *backend.Notification) bool {
			return n.Kind == backend.NoteTaskReturned && n.TaskID == task.ID && strings.Contains(n.Body, "现场照片不清晰")
		}) {
			t.Fatalf("member %s was not told of the return: %+v", m.BadgeNo, notes)
		}
	}
	// The group submits again (the on-site flow); a coordinator approves.
	task = w.complete(t, env, 0, cst(2026, 9, 29, 17, 0))
	// The leader's phone syncs now; its later syncs must bring each state
	// the review, feedback and publication give the task.
	leadToken := env.loginAs(t, w.inspectors[task.Members[0].BadgeNo])
	phoneState := func(since string) (string, string) {
		t.Helper()
		resp, body := env.call(t, leadToken, "GET", "/api/v1/me/tasks?since="+url.QueryEscape(since), "", nil)
		var page struct {
			Tasks []struct {
				ID    string `json:"id"`
				State string `json:"state"`
			} `json:"tasks"`
			Cursor string `json:"cursor"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(body, &page) != nil {
			t.Fatalf("sync: %d %s", resp.StatusCode, body)
		}
		for _, x := range page.Tasks {
			if x.ID == task.ID {
				return x.State, page.Cursor
			}
		}
		return "", page.Cursor
	}
	_, cursor := phoneState("")
	resultScenario("coordinator", "POST", path+"/review", `{"decision":"approve","result":"problems_found_rectification_ordered","comment":"同意"}`, 200,
		func(t *testing.T, r resultView) {
			if r.State != backend.TaskReviewed || r.Result != backend.ResultRectificationOrdered || len(r.Reviews) != 2 {
				t.Fatalf("after approval: %+v", r)
			}
		}).run(t, env)
	resultScenario("staff", "POST", path+"/review", `{"decision":"approve","result":"no_problem"}`, 409, nil).run(t, env)

	// Feedback (art. 21): due 7 working days after 29 September across
	// the National Day holiday and the make-up Saturday, 10 October: 30
	// Sep, 8, 9, 10, 12, 13, 14 October.
	scenario{as: "staff", method: "POST", path: path + "/feedback", body: `{"method":"postal","delivered_at":"2026-10-15T10:00:00+08:00","receiver":"王某"}`,
		wantStatus: 400, wantContain: []string{`"tracking_no":"required"`}}.run(t, env)
	scenario{as: "staff", method: "POST", path: path + "/feedback", body: `{"method":"direct","delivered_at":"2026-12-15T10:00:00+08:00","receiver":"王某"}`,
		wantStatus: 400, wantContain: []string{`"delivered_at":"in the future"`}}.run(t, env)
	scenario{as: "staff", method: "POST", path: path + "/feedback", body: `{"method":"direct","delivered_at":"2026-09-28T10:00:00+08:00","receiver":"王某"}`,
		wantStatus: 400, wantContain: []string{`"delivered_at":"before the inspection ended`}}.run(t, env)
	scenario{as: "staff", method: "POST", path: path + "/feedback", body: `{"method":"pigeon","delivered_at":"yesterday","receiver":""}`,
		wantStatus: 400, wantContain: []string{`"method"`, `"delivered_at"`, `"receiver":"required"`}}.run(t, env)
	w.clock.Set(cst(2026, 10, 20, 9, 0))
	resultScenario("staff", "POST", path+"/feedback", `{"method":"postal","delivered_at":"2026-10-15T10:00:00+08:00","receiver":"王某","tracking_no":"EMS1234567890"}`, 201,
		func(t *testing.T, r resultView) {
			if r.Deadlines.Feedback != "2026-10-14" || r.Feedback == nil || r.Feedback.Due != "2026-10-14" || !r.Feedback.Late || r.Feedback.WorkdaysLate != 1 {
				t.Fatalf("feedback on 15 October: %+v %+v", r.Deadlines, r.Feedback)
			}
		}).run(t, env)
	scenario{as: "staff", method: "POST", path: path + "/feedback", body: `{"method":"direct","delivered_at":"2026-10-16T10:00:00+08:00","receiver":"王某"}`,
		wantStatus: 409, wantCode: backend.ECONFLICT}.run(t, env)

	// Publication (art. 24): due 20 working days after, 2 November; on 3
	// November it is late and says so.
	w.clock.Set(cst(2026, 11, 3, 9, 30))
	scenario{as: "staff", method: "POST", path: path + "/publish", body: `{"reason":"首次公示"}`, wantStatus: 400,
		wantContain: []string{`"reason"`}}.run(t, env)
	resultScenario("staff", "POST", path+"/publish", ``, 200, func(t *testing.T, r resultView) {
		if r.State != backend.TaskPublished || r.Deadlines.Publication != "2026-11-02" || len(r.Publications) != 1 ||
			!r.Publications[0].Late || r.Publications[0].Due != "2026-11-02" || r.Publications[0].Version != 1 {
			t.Fatalf("publication on 3 November: %+v", r)
		}
	}).run(t, env)
	// Each step reached the group's phones: a delta from before the
	// approval brings the task published, and so does a first sync.
	for _, since := range []string{cursor, ""} {
		if state, _ := phoneState(since); state != backend.TaskPublished {
			t.Fatalf("the leader's phone syncing from %q sees the task %q, want published", since, state)
		}
	}
	// The late feedback stays visible as late.
	resultScenario("inspector", "GET", path+"/result", ``, 404, nil).run(t, env)
	resultScenario("staff", "GET", path+"/result", ``, 200, func(t *testing.T, r resultView) {
		if r.Feedback == nil || !r.Feedback.Late || r.Feedback.WorkdaysLate != 1 {
			t.Fatalf("the late feedback is no longer late: %+v", r.Feedback)
		}
	}).run(t, env)

	// Public now, without login, with exactly the public fields.
	resp, body := env.call(t, "", "GET", "/public/v1/results?year=2026&text=测试企业", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("public search: %d %s", resp.StatusCode, body)
	}
	page := strictDecode[publicListView](t, body)
	if page.Total != 1 || len(page.Results) != 1 {
		t.Fatalf("public search: %s", body)
	}
	pub := page.Results[0]
	if pub.ID != task.ID || pub.Version != 1 || pub.Enterprise.Name != task.Enterprise.Name || pub.Enterprise.USCC != task.Enterprise.USCC ||
		pub.Plan == nil || pub.Plan.Title != "2026年度双随机抽查" || pub.Department.Name != "综合执法大队" || pub.Date != "2026-09-29" ||
		len(pub.Items) == 0 || pub.Result != backend.ResultRectificationOrdered || len(pub.Corrections) != 0 || pub.Versions != nil {
		t.Fatalf("public result %+v", pub)
	}
	for _, private := range privateStrings(task) {
		if strings.Contains(string(body), private) {
			t.Fatalf("the public answer contains %q: %s", private, body)
		}
	}
	// The portal's search page finds it by part of the name, without
	// script, showing the same public record and nothing private.
	resp, body = env.call(t, "", "GET", "/results?year=2026&q="+url.QueryEscape("测试企业"), "", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(body), task.Enterprise.Name) || !strings.Contains(string(body), "发现问题，责令整改") ||
		!strings.Contains(string(body), "共 1 条结果") || strings.Contains(string(body), "<script") {
		t.Fatalf("/results: %d %s", resp.StatusCode, body)
	}
	for _, private := range privateStrings(task) {
		if strings.Contains(string(body), private) {
			t.Fatalf("the portal's results page contains %q", private)
		}
	}
	if resp, body := env.call(t, "", "GET", "/results?year=2026&q="+url.QueryEscape("没有这家企业"), "", nil); resp.StatusCode != 200 || !strings.Contains(string(body), "共 0 条结果") {
		t.Fatalf("/results with no match: %d %s", resp.StatusCode, body)
	}

	// A correction needs a reason and a change; it is a new version, and
	// the earlier one stays readable.
	scenario{as: "staff", method: "POST", path: path + "/publish", body: `{}`, wantStatus: 400, wantContain: []string{`"reason":"required"`}}.run(t, env)
	scenario{as: "staff", method: "POST", path: path + "/publish", body: `{"reason":"重新公示"}`, wantStatus: 400,
		wantContain: []string{`would not change`}}.run(t, env)
	resultScenario("staff", "POST", path+"/publish", `{"reason":"整改指令书已撤销，更正为未发现问题","result":"no_problem"}`, 200, func(t *testing.T, r resultView) {
		if r.Result != backend.ResultNoProblem || len(r.Publications) != 2 || r.Publications[1].Reason == "" || r.Publications[1].Late {
			t.Fatalf("correction: %+v", r)
		}
	}).run(t, env)
	// A disposition on a published result is another version, saying so.
	w.clock.Set(cst(2026, 11, 10, 9, 30))
	scenario{as: "staff", method: "POST", path: path + "/dispositions", body: `{"kind":"case_opened","date":"2026-11-09"}`,
		wantStatus: 400, wantContain: []string{`"case_no":"required"`, `"document_no":"required"`}}.run(t, env)
	scenario{as: "staff", method: "POST", path: path + "/dispositions", body: `{"kind":"transferred_to_agency","date":"2026-11-09","document_no":"泽应急移〔2026〕3号"}`,
		wantStatus: 400, wantContain: []string{`"agency":"required"`}}.run(t, env)
	scenario{as: "staff", method: "POST", path: path + "/dispositions", body: `{"kind":"case_opened","case_no":"泽应急立〔2026〕12号","date":"2026-11-11","document_no":"立案审批表12"}`,
		wantStatus: 400, wantContain: []string{`"date":"in the future"`}}.run(t, env)
	resultScenario("staff", "POST", path+"/dispositions", `{"kind":"case_opened","case_no":"泽应急立〔2026〕12号","date":"2026-11-09","document_no":"立案审批表12"}`, 201,
		func(t *testing.T, r resultView) {
			if len(r.Dispositions) != 1 || r.Dispositions[0].CaseNo != "泽应急立〔2026〕12号" || len(r.Publications) != 3 ||
				!strings.Contains(r.Publications[2].Reason, "立案") {
				t.Fatalf("disposition: %+v", r)
			}
		}).run(t, env)
	resp, body = env.call(t, "", "GET", "/public/v1/results/"+task.ID, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("public result: %d %s", resp.StatusCode, body)
	}
	one := strictDecode[publicView](t, body)
	if one.Version != 3 || one.Result != backend.ResultNoProblem || len(one.Corrections) != 2 || one.Corrections[0].Version != 2 ||
		!strings.Contains(one.Corrections[0].Reason, "更正") || len(one.Dispositions) != 1 || one.Dispositions[0].CaseNo == "" ||
		len(one.Versions) != 2 || !one.PublishedAt.Before(one.UpdatedAt) {
		t.Fatalf("corrected result: %s", body)
	}
	first := strictDecode[publicView](t, one.Versions[0])
	if first.Version != 1 || first.Result != backend.ResultRectificationOrdered || len(first.Dispositions) != 0 {
		t.Fatalf("the first version as shown: %s", one.Versions[0])
	}
	// Its page, linked from the search: the record as it stands, each
	// correction's reason, and what was shown before — nothing private.
	resp, body = env.call(t, "", "GET", "/results?year=2026&q="+url.QueryEscape("测试企业"), "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `href="/results/`+task.ID+`"`) {
		t.Fatalf("/results does not link the result's page: %s", body)
	}
	resp, body = env.call(t, "", "GET", "/results/"+task.ID, "", nil)
	html := string(body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || strings.Contains(html, "<script") {
		t.Fatalf("/results/%s: %d %s", task.ID, resp.StatusCode, body)
	}
	for _, want := range []string{task.Enterprise.Name, "更正记录", "第 2 版", "第 3 版", "整改指令书已撤销，更正为未发现问题", one.Corrections[1].Reason,
		"泽应急立〔2026〕12号", "此前公示的内容", "第 1 版 · 公示于", "发现问题，责令整改", "已更正 2 次"} {
		if !strings.Contains(html, want) {
			t.Errorf("the result's page lacks %q", want)
		}
	}
	if current, earlier := strings.Index(html, "未发现问题</dd>"), strings.Index(html, "发现问题，责令整改</dd>"); current < 0 || earlier < current {
		t.Errorf("the page does not show the current result (未发现问题) before the earlier version's")
	}
	for _, private := range privateStrings(task) {
		if strings.Contains(html, private) {
			t.Fatalf("the result's page contains %q", private)
		}
	}
	for _, private := range privateStrings(task) {
		if strings.Contains(string(body), private) {
			t.Fatalf("the public result contains %q: %s", private, body)
		}
	}

	// Every step is in the audit trail.
	events, err := env.db.AuditEvents().FindAuditEvents(ctx, backend.AuditFilter{ObjectType: "task", ObjectID: task.ID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action)
	}
	for _, want := range []string{"task.review", "task.feedback", "task.publish", "task.disposition"} {
		if !slices.Contains(actions, want) {
			t.Fatalf("audit trail of the task %v lacks %s", actions, want)
		}
	}

	// The plan closes when its last task is published; cancelled ones count.
	for _, other := range w.tasks[1:] {
		scenario{as: "staff", method: "POST", path: "/api/v1/tasks/" + other.ID + "/cancel", body: `{"reason":"企业已停产"}`, wantStatus: 200}.run(t, env)
	}
	plan, err := env.db.Plans().FindPlanByID(ctx, w.plan.ID)
	if err != nil || plan.Status != backend.PlanClosed {
		t.Fatalf("plan after every task is published or cancelled: %+v %v", plan, err)
	}
	env.checkFeedsNameStoredVersions(t)
}

// privateStrings are what the public must never read about a task: the
// enterprise's contact data, the inspectors' names and badge numbers.
func privateStrings(task *backend.Task) []string {
	out := []string{"法人张某某", "安全员李某某", "13900001111", "王某", "EMS1234567890"}
	for _, m := range task.Members {
		out = append(out, m.Name, m.BadgeNo)
	}
	return out
}

// reviewAndPublish takes a completed task through approval and first
// publication at the world's clock.
func (w *resultWorld) reviewAndPublish(t *testing.T, env *apiEnv, id, result string) {
	t.Helper()
	scenario{as: "coordinator", method: "POST", path: "/api/v1/tasks/" + id + "/review",
		body: `{"decision":"approve","result":"` + result + `"}`, wantStatus: 200}.run(t, env)
	scenario{as: "coordinator", method: "POST", path: "/api/v1/tasks/" + id + "/publish", wantStatus: 200}.run(t, env)
}

// TestNonCooperationCountsOnceApproved: serious non-cooperation a member
// recorded marks the enterprise for key checks (the draws' input, which
// lifts the two-a-year cap) only once the office approved the task's
// result as "not cooperating" — not while it is completed and unreviewed,
// nor after it was sent back, nor when another result was approved — and
// then from the review on, published or not (a correction of the
// published result counts too).
func TestNonCooperationCountsOnceApproved(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newResultWorld(t, env)
	record := func(i int) {
		t.Helper()
		task := w.tasks[i]
		member := env.loginAs(t, w.inspectors[task.Members[0].BadgeNo])
		scenario{token: member, method: "POST", path: "/api/v1/tasks/" + task.ID + "/non-cooperation",
			body: `{"type":"refused_entry","description":"拒绝检查人员进入生产区域"}`, wantStatus: 201}.run(t, env)
	}
	marked := func(i int, want bool) {
		t.Helper()
		got, err := env.svc.Plans.NonCooperating(t.Context())
		if uscc := w.tasks[i].Enterprise.USCC; err != nil || got[uscc] != want {
			t.Fatalf("task %d's enterprise marked for key checks: %v (%v), want %v", i, got[uscc], err, want)
		}
	}
	review := func(i int, body string) {
		t.Helper()
		scenario{as: "coordinator", method: "POST", path: "/api/v1/tasks/" + w.tasks[i].ID + "/review", body: body, wantStatus: 200}.run(t, env)
	}

	// Upheld at the review.
	record(0)
	marked(0, false)
	w.complete(t, env, 0, cst(2026, 6, 10, 10, 0))
	marked(0, false)
	review(0, `{"decision":"return","comment":"证据不足，请补充现场照片"}`)
	marked(0, false)
	w.complete(t, env, 0, cst(2026, 6, 10, 10, 0))
	review(0, `{"decision":"approve","result":"`+backend.ResultNotCooperating+`"}`)
	marked(0, true)

	// Not upheld: another result approved and published; then corrected.
	record(1)
	w.complete(t, env, 1, cst(2026, 6, 11, 10, 0))
	w.reviewAndPublish(t, env, w.tasks[1].ID, backend.ResultRectificationOrdered)
	marked(1, false)
	scenario{as: "coordinator", method: "POST", path: "/api/v1/tasks/" + w.tasks[1].ID + "/publish",
		body: `{"result":"` + backend.ResultNotCooperating + `","reason":"复核现场视频，企业拒绝检查人员进入"}`, wantStatus: 200}.run(t, env)
	marked(1, true)
	marked(0, true)
}

// TestDeadlinesAcrossHolidays: feedback and publication are measured
// against 7 and 20 working days after the inspection, counted across the
// 2026 National Day holiday and its make-up Saturday (10 October): the last
// minute of the deadline day is on time, a Saturday after it is late by
// the working days between.
func TestDeadlinesAcrossHolidays(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newResultWorld(t, env)
	// Ended 29 Sep: 30 Sep, 8, 9, 10 (Sat, worked), 12, 13, 14 Oct →
	// feedback 14 Oct; … 20 working days → publication 2 Nov.
	// Ended 30 Sep: feedback 15 Oct, publication 3 Nov.
	cases := []struct {
		ended, delivered, published time.Time
		feedbackDue, publicationDue string
		late                        bool
		workdaysLate                int
		publishedLate               bool
	}{
		{cst(2026, 9, 29, 15, 0), cst(2026, 10, 14, 23, 30), cst(2026, 11, 2, 23, 59), "2026-10-14", "2026-11-02", false, 0, false},
		{cst(2026, 9, 30, 10, 0), cst(2026, 10, 17, 10, 0), cst(2026, 11, 4, 0, 1), "2026-10-15", "2026-11-03", true, 1, true},
		{cst(2026, 9, 30, 10, 0), cst(2026, 10, 10, 9, 0), cst(2026, 11, 3, 18, 0), "2026-10-15", "2026-11-03", false, 0, false},
	}
	for i, c := range cases {
		task := w.complete(t, env, i, c.ended)
		path := "/api/v1/tasks/" + task.ID
		w.clock.Set(c.published)
		scenario{as: "staff", method: "POST", path: path + "/review", body: `{"decision":"approve","result":"no_problem"}`, wantStatus: 200}.run(t, env)
		resultScenario("staff", "POST", path+"/feedback",
			fmt.Sprintf(`{"method":"direct","delivered_at":%q,"receiver":"王某"}`, c.delivered.Format(time.RFC3339)), 201,
			func(t *testing.T, r resultView) {
				if r.Deadlines.Feedback != c.feedbackDue || r.Deadlines.Publication != c.publicationDue ||
					r.Feedback.Late != c.late || r.Feedback.WorkdaysLate != c.workdaysLate {
					t.Fatalf("case %d: deadlines %+v, feedback %+v", i, r.Deadlines, r.Feedback)
				}
			}).run(t, env)
		resultScenario("staff", "POST", path+"/publish", ``, 200, func(t *testing.T, r resultView) {
			if r.Publications[0].Late != c.publishedLate || r.Publications[0].Due != c.publicationDue {
				t.Fatalf("case %d: publication %+v", i, r.Publications[0])
			}
		}).run(t, env)
	}
}

// TestPublicResultsSearch: the public search filters by year, town, plan,
// department, result and text (part of the name, or the USCC's
// beginning), pages newest first by cursor without loss or repeat, never
// shows an unpublished result, and names bad parameters.
func TestPublicResultsSearch(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newResultWorld(t, env)
	results := []string{backend.ResultNoProblem, backend.ResultRectificationOrdered, backend.ResultNoProblem, backend.ResultCaseOpened}
	start := cst(2026, 11, 20, 9, 0)
	for i, res := range results {
		w.complete(t, env, i, cst(2026, 11, 2, 10, 0))
		w.clock.Set(start.Add(time.Duration(i) * time.Hour))
		w.reviewAndPublish(t, env, w.tasks[i].ID, res)
	}
	w.complete(t, env, 4, cst(2026, 11, 2, 10, 0)) // reviewed, never published
	scenario{as: "coordinator", method: "POST", path: "/api/v1/tasks/" + w.tasks[4].ID + "/review",
		body: `{"decision":"approve","result":"no_problem"}`, wantStatus: 200}.run(t, env)
	// A targeted check of the office, published last.
	badges := []string{w.Inspectors[0].BadgeNo, w.Inspectors[1].BadgeNo}
	body, _ := json.Marshal(map[string]any{"source": "complaint", "reason": "群众举报", "enterprise_id": w.Enterprises[29].ID,
		"item_ids": w.Items[:1], "department_id": w.Office.ID, "badge_nos": badges,
		"window": map[string]string{"start": "2026-11-01", "end": "2026-11-30"}})
	var targeted taskJSON
	scenario{as: "coordinator", method: "POST", path: "/api/v1/tasks", body: string(body), wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { targeted = decode[taskJSON](t, b) }}.run(t, env)
	tt, err := env.db.Tasks().FindTaskByID(t.Context(), targeted.ID)
	if err != nil {
		t.Fatal(err)
	}
	w.tasks = append(w.tasks, tt)
	w.complete(t, env, len(w.tasks)-1, cst(2026, 11, 3, 10, 0))
	w.clock.Set(start.Add(10 * time.Hour))
	w.reviewAndPublish(t, env, targeted.ID, backend.ResultTransferredToAgency)

	published := append(append([]*backend.Task{}, w.tasks[:4]...), w.tasks[len(w.tasks)-1])
	resultOf := map[string]string{targeted.ID: backend.ResultTransferredToAgency}
	for i, res := range results {
		resultOf[w.tasks[i].ID] = res
	}
	// expect lists, newest first, the published tasks keep says match.
	expect := func(keep func(*backend.Task) bool) []string {
		var ids []string
		for i := len(published) - 1; i >= 0; i-- {
			if keep(published[i]) {
				ids = append(ids, published[i].ID)
			}
		}
		return ids
	}
	ids := func(p publicListView) []string {
		var out []string
		for _, r := range p.Results {
			out = append(out, r.ID)
		}
		return out
	}
	town := published[1].Enterprise.Town
	checks := []struct {
		query string
		want  []string
	}{
		{"year=2026", expect(func(*backend.Task) bool { return true })},
		{"year=0", expect(func(*backend.Task) bool { return true })},
		{"year=2025", nil},
		{"year=2026&town=" + town, expect(func(t *backend.Task) bool { return t.Enterprise.Town == town })},
		{"plan_id=" + w.plan.ID, expect(func(t *backend.Task) bool { return t.PlanID == w.plan.ID })},
		{"department_id=" + w.Office.ID, []string{targeted.ID}},
		{"department_id=" + w.Brigade.ID, expect(func(t *backend.Task) bool { return t.LeadDepartmentID == w.Brigade.ID })},
		{"result=no_problem", expect(func(t *backend.Task) bool { return resultOf[t.ID] == backend.ResultNoProblem })},
		{"result=no_problem&town=" + town, expect(func(t *backend.Task) bool {
			return resultOf[t.ID] == backend.ResultNoProblem && t.Enterprise.Town == town
		})},
		// Every published task of that enterprise: the targeted task may
		// have been made for an enterprise the draw picked too.
		{"text=" + published[2].Enterprise.Name, expect(func(t *backend.Task) bool {
			return strings.Contains(t.Enterprise.Name, published[2].Enterprise.Name)
		})},
		{"text=" + strings.ToLower(published[3].Enterprise.USCC[:10]), expect(func(t *backend.Task) bool {
			return strings.HasPrefix(t.Enterprise.USCC, published[3].Enterprise.USCC[:10])
		})},
		{"text=测试企业", expect(func(*backend.Task) bool { return true })},
		{"text=不存在的企业", nil},
		{"text=.*", nil}, // a pattern is text, not a regular expression
	}
	for _, c := range checks {
		got := publicSearch(t, env, c.query)
		if !slices.Equal(ids(got), c.want) || got.Total != len(c.want) {
			t.Errorf("%s: got %v (total %d), want %v", c.query, ids(got), got.Total, c.want)
		}
	}
	// Paging by cursor: every result once, newest first.
	var seen []string
	query := "year=2026&limit=2"
	for range 10 {
		p := publicSearch(t, env, query)
		if p.Total != len(published) || p.Limit != 2 {
			t.Fatalf("page %s: %+v", query, p)
		}
		seen = append(seen, ids(p)...)
		if p.Next == "" {
			break
		}
		query = "year=2026&limit=2&after=" + p.Next
	}
	if want := expect(func(*backend.Task) bool { return true }); !slices.Equal(seen, want) {
		t.Fatalf("paged %v, want %v", seen, want)
	}
	for _, bad := range []struct{ query, field string }{
		{"year=abc", "year"}, {"year=1999", "year"}, {"result=fine", "result"}, {"plan_id=../etc", "plan_id"},
		{"limit=1000", "limit"}, {"after=garbage", "after"}, {"text=" + strings.Repeat("字", 101), "text"},
	} {
		scenario{method: "GET", path: "/public/v1/results?" + bad.query, wantStatus: 400, wantCode: backend.EINVALID,
			wantContain: []string{`"` + bad.field + `"`}}.run(t, env)
	}
	scenario{method: "GET", path: "/public/v1/results/" + w.tasks[4].ID, wantStatus: 404}.run(t, env)
}

// TestPublicationShowsOnAnotherInstance: two instances on one database,
// each with its own search index. A publication through the first shows
// in its own search at once and in the second's within the second's
// interval (the head is read again after it).
func TestPublicationShowsOnAnotherInstance(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newResultWorld(t, env)
	other := wire.Services(&wire.Stores{Mongo: env.db, Cache: env.cache}, env.stack, func() time.Time { return time.Now().UTC() })
	const interval = 300 * time.Millisecond
	other.Results.PublicIndexInterval = interval
	search := func() int {
		t.Helper()
		_, total, err := other.Results.PublicResults(t.Context(), backend.PublicResultFilter{Text: w.tasks[0].Enterprise.Name})
		if err != nil {
			t.Fatal(err)
		}
		return total
	}
	if n := search(); n != 0 {
		t.Fatalf("before the publication the other instance found %d", n)
	}
	w.complete(t, env, 0, cst(2026, 11, 2, 10, 0))
	w.reviewAndPublish(t, env, w.tasks[0].ID, backend.ResultNoProblem)
	if got := publicSearch(t, env, "text="+url.QueryEscape(w.tasks[0].Enterprise.Name)); got.Total != 1 {
		t.Fatalf("the publishing instance found %d", got.Total)
	}
	time.Sleep(interval)
	if n := search(); n != 1 {
		t.Fatalf("after its interval the other instance found %d, want 1", n)
	}
}

// TestPublicationInterruptedIsRepaired: a publication whose public record
// was never written (the process stopped between the two writes) is
// completed by RepairPublic, once.
func TestPublicationInterruptedIsRepaired(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newResultWorld(t, env)
	ctx := t.Context()
	for i := range 2 {
		w.complete(t, env, i, cst(2026, 11, 2, 10, 0))
		scenario{as: "staff", method: "POST", path: "/api/v1/tasks/" + w.tasks[i].ID + "/review",
			body: `{"decision":"approve","result":"no_problem"}`, wantStatus: 200}.run(t, env)
		// The first write of a publication, as a crash would leave it.
		task, r, err := env.db.TaskResults().FindTaskResult(ctx, w.tasks[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		task.State, task.PublishedAt = backend.TaskPublished, &now
		r.Publications = append(r.Publications, backend.Publication{Version: 1, At: now, By: env.users["staff"].ID})
		r.PublicPending = true
		if err := env.db.TaskResults().UpdateTaskResult(ctx, task, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := publicSearch(t, env, "year=2026"); got.Total != 0 {
		t.Fatalf("a half-written publication is public: %+v", got)
	}
	n, err := env.svc.Results.RepairPublic(ctx)
	if err != nil || n != 2 {
		t.Fatalf("repair: %d, %v", n, err)
	}
	if n, err := env.svc.Results.RepairPublic(ctx); err != nil || n != 0 {
		t.Fatalf("second repair: %d, %v", n, err)
	}
	got := publicSearch(t, env, "year=2026")
	if got.Total != 2 || got.Results[0].Version != 1 {
		t.Fatalf("after repair: %+v", got)
	}
	if _, r, _ := env.db.TaskResults().FindTaskResult(ctx, w.tasks[0].ID); r.PublicPending || len(r.Publications) != 1 {
		t.Fatalf("after repair the task still waits: %+v", r)
	}
}
