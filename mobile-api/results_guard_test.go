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
	"suiji/backend/results"
	"suiji/backend/sheet"
)

// storedResult is everything stored of task id's result side — the task,
// its result, its public record — and what the anonymous public reads of
// it, so that a test can say a refusal changed none of them.
func storedResult(t *testing.T, env *apiEnv, id string) string {
	t.Helper()
	task, r, err := env.db.TaskResults().FindTaskResult(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := env.db.PublicResults().FindPublicResult(t.Context(), id)
	if err != nil && backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Fatal(err)
	}
	resp, body := env.call(t, "", "GET", "/public/v1/results/"+id, "", nil)
	out, err := json.Marshal([]any{task, r, pub, resp.StatusCode, string(body)})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// refusedUnchanged runs sc, a refusal, and checks that nothing stored of
// the task's result, nor anything public, changed.
func refusedUnchanged(t *testing.T, env *apiEnv, id string, sc scenario) {
	t.Helper()
	before := storedResult(t, env, id)
	sc.run(t, env)
	if after := storedResult(t, env, id); after != before {
		t.Fatalf("%s %s was refused but changed the stored record:\nbefore %s\nafter  %s", sc.method, sc.path, before, after)
	}
}

// TestAGroupMemberCannotRewriteThePublishedResult: a member of the task's
// group who also holds the staff role of the lead department — refused
// the review of his own group's work — is refused, as the review refuses
// him (403 EFORBIDDEN), a correction of the published result and any
// disposition (which the public record shows), before and after the
// publication and after he left the group; nothing stored or public
// changes. The same correction by the coordinator is taken.
func TestAGroupMemberCannotRewriteThePublishedResult(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newResultWorld(t, env)
	ctx := t.Context()
	task := w.complete(t, env, 0, cst(2026, 9, 29, 15, 0))
	path := "/api/v1/tasks/" + task.ID
	w.clock.Set(cst(2026, 10, 12, 9, 0))

	member := w.inspectors[task.Members[1].BadgeNo]
	member.Roles, member.DepartmentID = []backend.Role{backend.RoleInspector, backend.RoleStaff}, w.Brigade.ID
	if err := env.updateUser(ctx, member); err != nil {
		t.Fatal(err)
	}
	token := env.loginAs(t, member)
	refused := func(method, p, body string) scenario {
		return scenario{token: token, method: method, path: p, body: body, wantStatus: 403, wantCode: backend.EFORBIDDEN,
			wantContain: []string{"a member of the task's group cannot"}}
	}
	// The review's refusal, which the others match.
	refusedUnchanged(t, env, task.ID, refused("POST", path+"/review", `{"decision":"approve","result":"no_problem"}`))
	scenario{as: "coordinator", method: "POST", path: path + "/review",
		body: `{"decision":"approve","result":"problems_found_rectification_ordered"}`, wantStatus: 200}.run(t, env)

	// Reviewed, not yet published: a disposition would be shown with the
	// first publication.
	disposition := `{"kind":"case_opened","case_no":"泽应急立〔2026〕7号","date":"2026-10-09","document_no":"立案审批表7"}`
	refusedUnchanged(t, env, task.ID, refused("POST", path+"/dispositions", disposition))

	scenario{as: "coordinator", method: "POST", path: path + "/publish", wantStatus: 200}.run(t, env)
	correction := `{"result":"no_problem","reason":"复核后更正为未发现问题"}`
	refusedUnchanged(t, env, task.ID, refused("POST", path+"/publish", correction))
	refusedUnchanged(t, env, task.ID, refused("POST", path+"/dispositions", disposition))

	// Replaced out of the group, he is still refused.
	stored, err := env.db.Tasks().FindTaskByID(ctx, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	removed := time.Now().UTC()
	stored.Members[1].RemovedAt, stored.Members[1].RemovedBy, stored.Members[1].RemoveReason = &removed, env.users["coordinator"].ID, "回避"
	if err := env.db.Tasks().UpdateTask(ctx, stored); err != nil {
		t.Fatal(err)
	}
	refusedUnchanged(t, env, task.ID, refused("POST", path+"/publish", correction))

	// The refusals are the member's, not the requests': the coordinator's
	// same correction and disposition are taken.
	resultScenario("coordinator", "POST", path+"/publish", correction, 200, func(t *testing.T, r resultView) {
		if r.Result != backend.ResultNoProblem || len(r.Publications) != 2 {
			t.Fatalf("the coordinator's correction: %+v", r)
		}
	}).run(t, env)
	resultScenario("coordinator", "POST", path+"/dispositions", disposition, 201, func(t *testing.T, r resultView) {
		if len(r.Dispositions) != 1 || len(r.Publications) != 3 {
			t.Fatalf("the coordinator's disposition: %+v", r)
		}
	}).run(t, env)
}

// TestCorrectionsAreCapped: a result is published at most
// results.MaxPublications times (the first publication and its
// corrections); the next correction is refused with ECONFLICT saying so,
// and nothing stored or public changes. A disposition, the statutory
// record of what followed, still adds its version.
func TestCorrectionsAreCapped(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newResultWorld(t, env)
	task := w.complete(t, env, 0, cst(2026, 9, 29, 15, 0))
	path := "/api/v1/tasks/" + task.ID
	w.clock.Set(cst(2026, 10, 12, 9, 0))
	w.reviewAndPublish(t, env, task.ID, backend.ResultNoProblem)

	// Each correction changes the result, so each is a real one.
	token := env.login(t, "coordinator").AccessToken
	swap := []string{backend.ResultRectificationOrdered, backend.ResultNoProblem}
	for v := 2; v <= results.MaxPublications; v++ {
		scenario{token: token, method: "POST", path: path + "/publish", wantStatus: 200,
			body: fmt.Sprintf(`{"result":%q,"reason":"第%d次更正"}`, swap[v%2], v)}.run(t, env)
	}
	_, r, err := env.db.TaskResults().FindTaskResult(t.Context(), task.ID)
	if err != nil || len(r.Publications) != results.MaxPublications {
		t.Fatalf("after %d publications the task holds %d (%v)", results.MaxPublications, len(r.Publications), err)
	}
	refusedUnchanged(t, env, task.ID, scenario{token: token, method: "POST", path: path + "/publish", wantStatus: 409, wantCode: backend.ECONFLICT,
		body:        fmt.Sprintf(`{"result":%q,"reason":"再次更正"}`, swap[(results.MaxPublications+1)%2]),
		wantContain: []string{fmt.Sprintf("at most %d times", results.MaxPublications)}})

	resultScenario("coordinator", "POST", path+"/dispositions",
		`{"kind":"case_opened","case_no":"泽应急立〔2026〕8号","date":"2026-10-09","document_no":"立案审批表8"}`, 201,
		func(t *testing.T, r resultView) {
			if len(r.Publications) != results.MaxPublications+1 {
				t.Fatalf("a disposition at the cap: %d publications", len(r.Publications))
			}
		}).run(t, env)
}

// TestStatisticsOweNoFeedbackWhereNoUnitWasFound: a task whose result is
// "enterprise not found" owes no feedback — the scheduler neither reminds
// of it nor marks it missed — and the statistics, as JSON and as XLSX,
// neither count it due nor list it as missed; its publication is counted
// as any other's.
func TestStatisticsOweNoFeedbackWhereNoUnitWasFound(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newResultWorld(t, env)
	ctx := t.Context()
	gone := w.complete(t, env, 0, cst(2026, 9, 29, 15, 0))
	gone.SubmittedResult = backend.ResultEnterpriseNotFound
	if err := env.db.Tasks().UpdateTask(ctx, gone); err != nil {
		t.Fatal(err)
	}
	found := w.complete(t, env, 1, cst(2026, 9, 29, 15, 0))
	// Both deadlines (14 October, 2 November) have passed.
	now := cst(2026, 11, 20, 9, 0)
	w.clock.Set(now)

	// The scheduler's view: publication missed, feedback not owed.
	if _, err := env.svc.Tasks.RunDeadlines(ctx, now); err != nil {
		t.Fatal(err)
	}
	if stored, err := env.db.Tasks().FindTaskByID(ctx, gone.ID); err != nil ||
		slices.Contains(stored.Overdue, backend.DeadlineFeedback) || !slices.Contains(stored.Overdue, backend.DeadlinePublication) {
		t.Fatalf("the scheduler marked the task without a unit overdue for %v (%v)", stored.Overdue, err)
	}

	var st statsJSON
	scenario{as: "coordinator", method: "GET", path: "/api/v1/stats?year=2026", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { st = decode[statsJSON](t, b) }}.run(t, env)
	missed := func(tl timelinessJSON) []string {
		var ids []string
		for _, m := range tl.Missed {
			ids = append(ids, m.TaskID)
		}
		slices.Sort(ids)
		return ids
	}
	both := []string{gone.ID, found.ID}
	slices.Sort(both)
	if st.Feedback.Due != 1 || st.Feedback.Overdue != 1 || !slices.Equal(missed(st.Feedback), []string{found.ID}) {
		t.Errorf("feedback counts the task without a unit: due %d, overdue %d, missed %v; want 1, 1, [%s]",
			st.Feedback.Due, st.Feedback.Overdue, missed(st.Feedback), found.ID)
	}
	if st.Publication.Due != 2 || st.Publication.Overdue != 2 || !slices.Equal(missed(st.Publication), both) {
		t.Errorf("publication: due %d, overdue %d, missed %v; want 2, 2, %v", st.Publication.Due, st.Publication.Overdue, missed(st.Publication), both)
	}

	// The workbook says the same.
	resp, body := env.call(t, env.login(t, "coordinator").AccessToken, "GET", "/api/v1/stats?year=2026&format=xlsx", "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != contentTypeXLSX {
		t.Fatalf("xlsx: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	table, err := sheet.Read(bytes.NewReader(body), "stats.xlsx", sheet.Schema{Name: "统计", Columns: []sheet.Column{
		{Key: "key", Headers: []string{"代码"}, Required: true}, {Key: "value", Headers: []string{"数值"}, Required: true}}}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, row := range table.Rows {
		rows[row.Values["key"]] = row.Values["value"]
	}
	if _, listed := rows["feedback.missed."+gone.ID]; listed || rows["feedback.due"] != "1" {
		t.Errorf("the workbook counts the task without a unit's feedback: due %q, listed %v", rows["feedback.due"], listed)
	}
	if _, listed := rows["publication.missed."+gone.ID]; !listed || rows["publication.due"] != "2" {
		t.Errorf("the workbook lost the task without a unit's publication: due %q, listed %v", rows["publication.due"], listed)
	}
	for k := range rows {
		if strings.HasPrefix(k, "feedback.missed.") && k != "feedback.missed."+found.ID {
			t.Errorf("the workbook lists %s", k)
		}
	}
}
