package mobileapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"suiji/backend"
	"suiji/backend/draw/drawv1"
	"suiji/storage/storagetest"
)

// planWorld is storagetest's small county, with the test users (staff,
// coordinator, leader) moved into its brigade so staff1 may plan for it.
type planWorld struct{ *storagetest.World }

func newPlanWorld(t *testing.T, env *apiEnv, nEnterprises int) *planWorld {
	t.Helper()
	w := &planWorld{storagetest.NewWorld(t, env.db, nEnterprises)}
	for _, role := range []string{"staff", "coordinator", "leader"} {
		u := env.users[role]
		u.DepartmentID = w.Brigade.ID
		if err := env.db.Users().UpdateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *planWorld) planBody(kind, sample string) string {
	items, _ := json.Marshal(w.Items)
	return fmt.Sprintf(`{"year":2026,"title":"2026年度双随机抽查","kind":%q,"item_ids":%s,"lead_department_id":%q,
		"sample":%s,"group_size":2,"window":{"start":"2026-03-01","end":"2026-12-31"}}`, kind, items, w.Brigade.ID, sample)
}

func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return v
}

// createReadyPlan drafts, approves and commits a plan, returning it.
func createReadyPlan(t *testing.T, env *apiEnv, body string) planJSON {
	t.Helper()
	var p planJSON
	scenario{as: "staff", method: "POST", path: "/api/v1/plans", body: body, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { p = decode[planJSON](t, b) }}.run(t, env)
	scenario{as: "leader", method: "POST", path: "/api/v1/plans/" + p.ID + "/approve", wantStatus: 200}.run(t, env)
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/commit", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
			p.SeedCommitment = decode[map[string]string](t, b)["seed_commitment"]
		}}.run(t, env)
	return p
}

func TestPlanLifecycleAndVerifiableDraw(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newPlanWorld(t, env, 30)
	var p planJSON
	scenario{as: "staff", method: "POST", path: "/api/v1/plans", body: w.planBody("undirected", `{"ratio":0.2}`), wantStatus: 201,
		wantContain: []string{`"status":"draft"`},
		after:       func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { p = decode[planJSON](t, b) }}.run(t, env)

	// A draft is not public; drawing it is refused.
	scenario{method: "GET", path: "/public/v1/plans/" + p.ID, wantStatus: 404, wantCode: backend.ENOTFOUND}.run(t, env)
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", wantStatus: 409, wantCode: backend.ECONFLICT}.run(t, env)
	// Only a leader approves.
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/approve", wantStatus: 403, wantCode: backend.EFORBIDDEN}.run(t, env)
	scenario{as: "leader", method: "POST", path: "/api/v1/plans/" + p.ID + "/approve", wantStatus: 200, wantContain: []string{`"status":"approved"`}}.run(t, env)
	// Approved but not committed: no draw yet.
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", wantStatus: 409, wantCode: backend.ECONFLICT,
		wantContain: []string{"commit"}}.run(t, env)

	var commitment string
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/commit", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
			commitment = decode[map[string]string](t, b)["seed_commitment"]
		}}.run(t, env)
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/commit", wantStatus: 409, wantCode: backend.ECONFLICT}.run(t, env)
	// The commitment is public before the draw; the seed is not.
	scenario{method: "GET", path: "/public/v1/plans/" + p.ID, wantStatus: 200, wantContain: []string{commitment}}.run(t, env)

	var d1 drawJSON
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", body: `{"public_entropy":"2026-11-28 福彩3D 4 7 1"}`, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { d1 = decode[drawJSON](t, b) }}.run(t, env)
	if len(d1.Selections) != 6 || d1.SeedCommitment != commitment || drawv1.SeedCommitment(d1.Seed) != commitment {
		t.Fatalf("draw %+v does not keep its commitment or size", d1)
	}
	for _, sel := range d1.Selections {
		if len(sel.Group) != 2 {
			t.Fatalf("group %v is not of 2", sel.Group)
		}
	}

	// The public record re-computes.
	var rec drawv1.Record
	scenario{method: "GET", path: "/public/v1/draws/" + d1.ID, wantStatus: 200, wantAbsent: []string{"检查员", "phone"},
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { rec = decode[drawv1.Record](t, b) }}.run(t, env)
	if err := drawv1.Verify(&rec); err != nil {
		t.Fatalf("published record does not verify: %v", err)
	}
	rec.Selections[0].Group[0], rec.Selections[0].Group[1] = rec.Selections[0].Group[1], rec.Selections[0].Group[0]
	if drawv1.Verify(&rec) == nil {
		t.Fatal("an altered record verified")
	}

	// A redraw needs a reason, supersedes the first and keeps it visible.
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", body: `{}`, wantStatus: 400, wantCode: backend.EINVALID,
		wantContain: []string{`"reason"`}}.run(t, env)
	var d2 drawJSON
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", body: `{"reason":"企业名录更新后重新抽取"}`, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { d2 = decode[drawJSON](t, b) }}.run(t, env)
	if d2.Seq != 2 || d2.ID == d1.ID {
		t.Fatalf("redraw %+v", d2)
	}
	scenario{as: "leader", method: "GET", path: "/api/v1/plans/" + p.ID + "/draws", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
			l := decode[struct{ Draws []drawJSON }](t, b)
			if len(l.Draws) != 2 || !l.Draws[0].Superseded || l.Draws[1].Superseded || l.Draws[0].Reason != "" || l.Draws[1].Reason == "" {
				t.Fatalf("draw history %+v", l.Draws)
			}
		}}.run(t, env)
	scenario{method: "GET", path: "/public/v1/draws/" + d1.ID, wantStatus: 200, wantContain: []string{`"superseded":true`}}.run(t, env)
	scenario{method: "GET", path: "/public/v1/plans/" + p.ID, wantStatus: 200, wantContain: []string{`"current_draw_id":"` + d2.ID + `"`}}.run(t, env)
	scenario{method: "GET", path: "/public/v1/plans?year=2026", wantStatus: 200, wantContain: []string{p.ID}}.run(t, env)

	// Reports.
	scenario{as: "coordinator", method: "GET", path: "/api/v1/reports/random-share?year=2026", wantStatus: 200,
		wantContain: []string{`"random":6`, `"meets_70_percent":true`}}.run(t, env)
	scenario{as: "leader", method: "GET", path: "/api/v1/reports/coverage?year=2026", wantStatus: 200, wantContain: []string{`"total":8`}}.run(t, env)
}

func TestPlanBadInputAndAccess(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newPlanWorld(t, env, 6)
	for _, sc := range []scenario{
		{name: "invalid fields", as: "staff", method: "POST", path: "/api/v1/plans",
			body:       `{"year":1999,"title":"","kind":"lottery","item_ids":["nope"],"lead_department_id":"` + w.Brigade.ID + `","group_size":1,"window":{"start":"2026-05-01","end":"2026-04-01"},"filter":{"categories":["bakery"],"towns":["火星镇"]}}`,
			wantStatus: 400, wantCode: backend.EINVALID,
			wantContain: []string{`"year"`, `"title"`, `"kind"`, `"group_size"`, `"window.end"`, `"filter.categories"`, `"filter.towns"`, `"item_ids"`}},
		{name: "unpublished year", as: "staff", method: "POST", path: "/api/v1/plans",
			body: `{"year":2027,"title":"x","kind":"directed","item_ids":["x"],"lead_department_id":"` + w.Brigade.ID + `","sample":{"count":1},"group_size":2,"window":{"start":"2027-01-01","end":"2027-12-31"}}`, wantStatus: 400, wantContain: []string{"not published"}},
		{name: "staff of another department", as: "staff", method: "POST", path: "/api/v1/plans",
			body: `{"year":2026,"title":"x","kind":"directed","item_ids":[],"lead_department_id":"` + w.Office.ID + `","sample":{"count":1},"group_size":2,"window":{"start":"2026-01-01","end":"2026-12-31"}}`, wantStatus: 403, wantCode: backend.EFORBIDDEN},
		{name: "inspector", as: "inspector", method: "POST", path: "/api/v1/plans", body: w.planBody("directed", `{"count":2}`), wantStatus: 403},
		{name: "malformed", as: "staff", method: "POST", path: "/api/v1/plans", body: `{"year":`, wantStatus: 400, wantCode: backend.EINVALID},
	} {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, env) })
	}
	if list, _ := env.db.Plans().FindPlans(t.Context(), backend.PlanQuery{}); len(list) != 0 {
		t.Fatalf("bad requests stored %d plans", len(list))
	}

	// A plan led by another department is invisible to staff outside it.
	p := createReadyPlan(t, env, w.planBody("directed", `{"count":2}`))
	other := env.users["staff"]
	other.DepartmentID = w.Office.ID
	if err := env.db.Users().UpdateUser(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	scenario{as: "staff", method: "GET", path: "/api/v1/plans/" + p.ID, wantStatus: 404, wantCode: backend.ENOTFOUND}.run(t, env)
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", wantStatus: 404, wantCode: backend.ENOTFOUND}.run(t, env)
	scenario{as: "coordinator", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", wantStatus: 201}.run(t, env)
}

// TestConcurrentDrawsStoreExactlyOne sends 20 draw requests for one plan at
// once: one draws, the others are refused, and one draw is stored.
func TestConcurrentDrawsStoreExactlyOne(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newPlanWorld(t, env, 30)
	p := createReadyPlan(t, env, w.planBody("undirected", `{"ratio":0.3}`))
	token := env.login(t, "staff").AccessToken

	statuses := make([]int, 20)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := env.call(t, token, "POST", "/api/v1/plans/"+p.ID+"/draws", `{}`, nil)
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 400, 409: // in progress, or already drawn without a reason
		default:
			t.Fatalf("unexpected status %d among %v", s, statuses)
		}
	}
	draws, err := env.db.Draws().FindDrawsByPlan(t.Context(), p.ID)
	if err != nil || created != 1 || len(draws) != 1 {
		t.Fatalf("%d created, %d stored (%v), want exactly one: %v", created, len(draws), err, statuses)
	}
}

func TestEditDraftPlan(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newPlanWorld(t, env, 6)
	var p planJSON
	scenario{as: "staff", method: "POST", path: "/api/v1/plans", body: w.planBody("directed", `{"count":2}`), wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { p = decode[planJSON](t, b) }}.run(t, env)

	edited := strings.Replace(w.planBody("directed", `{"count":3}`), "2026年度双随机抽查", "2026年度双随机抽查（修订）", 1)
	withVersion := func(body string, v int) string {
		return strings.TrimSuffix(strings.TrimSpace(body), "}") + fmt.Sprintf(`,"version":%d}`, v)
	}
	scenario{as: "staff", method: "PATCH", path: "/api/v1/plans/" + p.ID, body: withVersion(edited, 1), wantStatus: 200,
		wantContain: []string{"（修订）", `"count":3`, `"version":2`}}.run(t, env)
	// A stale edit is refused; an invalid one names its fields; neither changes it.
	scenario{as: "staff", method: "PATCH", path: "/api/v1/plans/" + p.ID, body: withVersion(w.planBody("directed", `{"count":4}`), 1),
		wantStatus: 409, wantCode: backend.ECONFLICT}.run(t, env)
	scenario{as: "staff", method: "PATCH", path: "/api/v1/plans/" + p.ID, body: w.planBody("lottery", `{"count":4}`),
		wantStatus: 400, wantCode: backend.EINVALID, wantContain: []string{`"kind"`}}.run(t, env)
	scenario{as: "leader", method: "GET", path: "/api/v1/plans/" + p.ID, wantStatus: 200, wantContain: []string{`"count":3`, `"version":2`}}.run(t, env)

	// Approved plans are published and fixed.
	scenario{as: "leader", method: "POST", path: "/api/v1/plans/" + p.ID + "/approve", wantStatus: 200}.run(t, env)
	scenario{as: "staff", method: "PATCH", path: "/api/v1/plans/" + p.ID, body: edited, wantStatus: 409, wantCode: backend.ECONFLICT}.run(t, env)
}
