package mobileapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/andybalholm/brotli"

	"suiji/backend"
	"suiji/backend/draw"
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
		if err := env.updateUser(t.Context(), u); err != nil {
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

func decode[T any](t testing.TB, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return v
}

// createReadyPlan drafts (staff), approves (a leader) and commits (staff)
// a plan, returning it with its pending commitment.
func createReadyPlan(t *testing.T, env *apiEnv, body string) planJSON {
	t.Helper()
	var p planJSON
	scenario{as: "staff", method: "POST", path: "/api/v1/plans", body: body, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { p = decode[planJSON](t, b) }}.run(t, env)
	scenario{as: "leader", method: "POST", path: "/api/v1/plans/" + p.ID + "/approve", wantStatus: 200}.run(t, env)
	commit(t, env, &p, "")
	return p
}

// commit commits the plan's next attempt with an entropy source.
func commit(t *testing.T, env *apiEnv, p *planJSON, source string) commitJSON {
	t.Helper()
	var c commitJSON
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/commit", body: fmt.Sprintf(`{"entropy_source":%q}`, source), wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { c = decode[commitJSON](t, b) }}.run(t, env)
	p.SeedCommitment = c.SeedCommitment
	return c
}

// fetchRecord gets a public record as a client asking for encoding would,
// and returns its decompressed bytes and the response.
func fetchRecord(t *testing.T, env *apiEnv, id, encoding string) ([]byte, *http.Response) {
	t.Helper()
	headers := map[string]string{}
	if encoding != "" {
		headers["Accept-Encoding"] = encoding
	}
	resp, body := env.call(t, "", "GET", "/public/v1/draws/"+id, "", headers)
	if resp.StatusCode != 200 {
		t.Fatalf("GET record %s: %d %s", id, resp.StatusCode, body)
	}
	var r io.Reader = bytes.NewReader(body)
	switch got := resp.Header.Get("Content-Encoding"); got {
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "br":
		r = brotli.NewReader(r)
	case "":
	default:
		t.Fatalf("unexpected encoding %q", got)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return plain, resp
}

// pythonVerdict runs the standalone verifier on a record file.
func pythonVerdict(t *testing.T, record []byte) string {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is needed: %v", err)
	}
	file := filepath.Join(t.TempDir(), "record.json")
	if err := os.WriteFile(file, record, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(python, "../backend/draw/verify_draw.py", file).CombinedOutput()
	return string(out)
}

func TestPlanLifecycleAndVerifiableDraw(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newPlanWorld(t, env, 30)
	var p planJSON
	scenario{as: "staff", method: "POST", path: "/api/v1/plans", body: w.planBody("undirected", `{"ratio":0.2}`), wantStatus: 201,
		wantContain: []string{`"status":"draft"`, `"ratio":0.2`},
		after:       func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { p = decode[planJSON](t, b) }}.run(t, env)

	// A draft is not public; drawing it is refused.
	scenario{method: "GET", path: "/public/v1/plans/" + p.ID, wantStatus: 404, wantCode: backend.ENOTFOUND}.run(t, env)
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", wantStatus: 409, wantCode: backend.ECONFLICT}.run(t, env)
	// Only a leader approves, and not the plan's own drafter.
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/approve", wantStatus: 403, wantCode: backend.EFORBIDDEN}.run(t, env)
	scenario{as: "leader", method: "POST", path: "/api/v1/plans/" + p.ID + "/approve", wantStatus: 200, wantContain: []string{`"status":"approved"`}}.run(t, env)
	// Approved but not committed: no draw yet.
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", wantStatus: 409, wantCode: backend.ECONFLICT,
		wantContain: []string{"commit"}}.run(t, env)

	c := commit(t, env, &p, "福彩3D 2026-03-05 开奖号码")
	if c.Seq != 1 || c.PoolSize != 30 || c.SampleSize != 6 || len(c.PoolSHA256) != 64 || c.EntropySource != "福彩3D 2026-03-05 开奖号码" {
		t.Fatalf("commitment %+v", c)
	}
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/commit", wantStatus: 409, wantCode: backend.ECONFLICT}.run(t, env)
	// The commitment, the entropy source and the pool's hash are public
	// before the draw; the seed is not.
	scenario{method: "GET", path: "/public/v1/plans/" + p.ID, wantStatus: 200,
		wantContain: []string{c.SeedCommitment, c.PoolSHA256, "福彩3D 2026-03-05 开奖号码"}}.run(t, env)
	// The entropy's value is required, as the commitment named a source.
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", body: `{}`, wantStatus: 400, wantCode: backend.EINVALID,
		wantContain: []string{"public_entropy"}}.run(t, env)

	var d1 drawJSON
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", body: `{"public_entropy":"4 7 1"}`, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { d1 = decode[drawJSON](t, b) }}.run(t, env)
	if d1.Outcome != draw.OutcomeDrawn || len(d1.Selections) != 6 || d1.SeedCommitment != c.SeedCommitment ||
		draw.SealedSeed(d1.Seed).Commitment() != c.SeedCommitment || d1.EntropySource != c.EntropySource {
		t.Fatalf("draw %+v does not keep its commitment or size", d1)
	}
	for _, sel := range d1.Selections {
		if len(sel.Group) != 2 {
			t.Fatalf("group %v is not of 2", sel.Group)
		}
	}

	// The public record: compressed as asked, the same record either way,
	// immutable with an ETag per encoding, and it re-computes.
	plain, resp := fetchRecord(t, env, d1.ID, "")
	zipped, zresp := fetchRecord(t, env, d1.ID, "gzip")
	brotlied, bresp := fetchRecord(t, env, d1.ID, "br, gzip")
	if !bytes.Equal(plain, zipped) || !bytes.Equal(plain, brotlied) || zresp.Header.Get("Content-Encoding") != "gzip" || bresp.Header.Get("Content-Encoding") != "br" {
		t.Fatal("the encodings give different records")
	}
	if !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || resp.Header.Get("ETag") == "" || resp.Header.Get("ETag") == zresp.Header.Get("ETag") {
		t.Fatalf("caching headers %v / %v", resp.Header, zresp.Header)
	}
	scenario{method: "GET", path: "/public/v1/draws/" + d1.ID, headers: map[string]string{"If-None-Match": zresp.Header.Get("ETag")}, wantStatus: 304}.run(t, env)
	if bytes.Contains(plain, []byte("检查员")) || bytes.Contains(plain, []byte("phone")) {
		t.Fatal("the record carries personal data")
	}
	v, err := draw.VerifyStream(bytes.NewReader(plain))
	if err != nil || v.Selections != 6 || len(v.Record.Candidates) != 30 {
		t.Fatalf("published record does not verify: %+v %v", v, err)
	}
	if out := pythonVerdict(t, plain); !strings.HasPrefix(out, "OK") {
		t.Fatalf("the Python verifier: %s", out)
	}
	// The specification every record links to is served.
	scenario{method: "GET", path: draw.SpecPath, wantStatus: 200, wantContain: []string{"# suiji-draw/2", "## 9. Inspector groups"}}.run(t, env)

	// A redraw needs a leader's approval with its reason and a fresh
	// commitment: without them it is refused, with them it verifies.
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", body: `{"public_entropy":"4 7 1"}`, wantStatus: 409, wantCode: backend.ECONFLICT}.run(t, env)
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/commit", body: `{}`, wantStatus: 409, wantCode: backend.ECONFLICT,
		wantContain: []string{"approval"}}.run(t, env)
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/redraw-approvals", body: `{"reason":"x"}`, wantStatus: 403}.run(t, env)
	scenario{as: "leader", method: "POST", path: "/api/v1/plans/" + p.ID + "/redraw-approvals", body: `{"reason":""}`, wantStatus: 400, wantCode: backend.EINVALID}.run(t, env)
	scenario{as: "leader", method: "POST", path: "/api/v1/plans/" + p.ID + "/redraw-approvals", body: `{"reason":"企业名录更新后重新抽取"}`, wantStatus: 201,
		wantContain: []string{`"redraw_approval":{"seq":2`, `"approved_by":"` + env.users["leader"].ID + `"`}}.run(t, env)
	// Who approved is the office's to know (the console offers the
	// commitment to someone else), not the public's.
	scenario{method: "GET", path: "/public/v1/plans/" + p.ID, wantStatus: 200,
		wantContain: []string{`"redraw_approval":{"seq":2`}, wantAbsent: []string{`"approved_by"`, env.users["leader"].ID}}.run(t, env)
	scenario{method: "GET", path: "/public/v1/plans?year=2026", wantStatus: 200,
		wantContain: []string{`"redraw_approval":{"seq":2`}, wantAbsent: []string{`"approved_by"`}}.run(t, env)
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", body: `{}`, wantStatus: 409, wantCode: backend.ECONFLICT}.run(t, env)
	c2 := commit(t, env, &p, "")
	var d2 drawJSON
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", body: `{}`, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { d2 = decode[drawJSON](t, b) }}.run(t, env)
	if d2.Seq != 2 || d2.ID == d1.ID || d2.Reason != "企业名录更新后重新抽取" || d2.SeedCommitment != c2.SeedCommitment || d2.Seed == d1.Seed {
		t.Fatalf("redraw %+v", d2)
	}
	plain2, _ := fetchRecord(t, env, d2.ID, "gzip")
	if v, err := draw.VerifyStream(bytes.NewReader(plain2)); err != nil || v.Seq != 2 {
		t.Fatalf("the redraw's record: %v", err)
	}
	scenario{as: "leader", method: "GET", path: "/api/v1/plans/" + p.ID + "/draws", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
			l := decode[struct{ Draws []drawJSON }](t, b)
			if len(l.Draws) != 2 || !l.Draws[0].Superseded || l.Draws[1].Superseded || l.Draws[0].Reason != "" || l.Draws[1].Reason == "" {
				t.Fatalf("draw history %+v", l.Draws)
			}
		}}.run(t, env)
	scenario{method: "GET", path: "/public/v1/plans/" + p.ID + "/draws", wantStatus: 200,
		wantContain: []string{d1.ID, d2.ID, `"superseded":true`, "企业名录更新后重新抽取"}, wantAbsent: []string{`"created_by"`}}.run(t, env)
	scenario{method: "GET", path: "/public/v1/plans/" + p.ID, wantStatus: 200, wantContain: []string{`"current_draw_id":"` + d2.ID + `"`}}.run(t, env)
	scenario{method: "GET", path: "/public/v1/plans?year=2026", wantStatus: 200, wantContain: []string{p.ID}}.run(t, env)
	// The portal's page of the plan: its ratio as written, and the
	// commitment of the draw in force.
	scenario{method: "GET", path: "/plans/" + p.ID, wantStatus: 200, wantContain: []string{"按比例 20%", d2.SeedCommitment}}.run(t, env)
	scenario{method: "GET", path: "/draws/" + d2.ID, wantStatus: 200, wantContain: []string{d2.Seed, "企业名录更新后重新抽取"}}.run(t, env)

	// Reports.
	scenario{as: "coordinator", method: "GET", path: "/api/v1/reports/random-share?year=2026", wantStatus: 200,
		wantContain: []string{`"random":6`, `"meets_70_percent":true`}}.run(t, env)
	scenario{as: "leader", method: "GET", path: "/api/v1/reports/coverage?year=2026", wantStatus: 200, wantContain: []string{`"total":8`}}.run(t, env)
}

// TestFailedDrawIsRecordedAndRevealsNoEnterprise: five of six enterprises
// may only be inspected by the same two inspectors, whose load caps cannot
// take five groups. The commitment passes (each has a group on its own);
// the draw of all six cannot form groups: the attempt is recorded in the
// public history with its reason, and neither the answer nor the record
// reveals a seed or an enterprise it drew.
func TestFailedDrawIsRecordedAndRevealsNoEnterprise(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newPlanWorld(t, env, 6)
	for i, in := range w.Inspectors {
		switch {
		case i >= 4:
			in.Active = false
		case i < 2:
			for _, e := range w.Enterprises[:5] {
				in.Conflicts = append(in.Conflicts, backend.Conflict{EnterpriseID: e.ID})
			}
		}
		if err := env.db.Inspectors().UpdateInspector(t.Context(), in); err != nil {
			t.Fatal(err)
		}
	}
	p := createReadyPlan(t, env, w.planBody("directed", `{"count":6}`))
	var d drawJSON
	var answer []byte
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", body: `{}`, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { d, answer = decode[drawJSON](t, b), b }}.run(t, env)
	if d.Outcome != draw.OutcomeFailed || d.Failure == "" || d.Seed != "" || len(d.Selections) != 0 || d.Seq != 1 {
		t.Fatalf("failed attempt %+v", d)
	}
	record, _ := fetchRecord(t, env, d.ID, "")
	var history []byte
	scenario{method: "GET", path: "/public/v1/plans/" + p.ID + "/draws", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { history = b }}.run(t, env)
	if !bytes.Contains(history, []byte(d.Failure)) || !bytes.Contains(history, []byte(`"outcome":"failed"`)) {
		t.Fatalf("the public history lacks the failed attempt: %s", history)
	}
	var rec draw.Record
	if err := json.Unmarshal(record, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Seed != "" || len(rec.Selections) != 0 || len(rec.Candidates) != 6 {
		t.Fatalf("the failed attempt's record reveals %q %v", rec.Seed, rec.Selections)
	}
	if _, err := draw.VerifyStream(bytes.NewReader(record)); err != nil {
		t.Fatalf("the failed attempt's record (pool, roster) must verify: %v", err)
	}
	// The answer names no enterprise (the record lists them all, as candidates).
	for _, e := range w.Enterprises {
		if bytes.Contains(answer, []byte(e.USCC)) {
			t.Fatalf("the answer names %s: %s", e.USCC, answer)
		}
	}
	// The sequence number is used: the next attempt is 2, after approval.
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/commit", body: `{}`, wantStatus: 409, wantContain: []string{"attempt 2"}}.run(t, env)
}

// TestVerifiersRejectAlteredRealRecord: a real record whose pool holds
// enterprises left out under art. 16 (drawn twice this year by two other
// plans) verifies; altered to readmit one, or to hide one of its draws, it
// is rejected by the Go and the Python verifier, each naming the field.
func TestVerifiersRejectAlteredRealRecord(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newPlanWorld(t, env, 6)
	// Draws of 4 and then 5 of the 6 share at least 3 (drawn twice) and
	// leave at least one drawn once, whatever the seeds (two draws of 4
	// could pick the same 4).
	for _, n := range []int{4, 5} {
		p := createReadyPlan(t, env, w.planBody("directed", fmt.Sprintf(`{"count":%d}`, n)))
		scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", body: `{}`, wantStatus: 201}.run(t, env)
	}
	p := createReadyPlan(t, env, w.planBody("directed", `{"count":1}`))
	var d drawJSON
	scenario{as: "staff", method: "POST", path: "/api/v1/plans/" + p.ID + "/draws", body: `{}`, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { d = decode[drawJSON](t, b) }}.run(t, env)
	raw, _ := fetchRecord(t, env, d.ID, "gzip")
	var rec draw.Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	excluded, drawnOnce := -1, -1
	for i, c := range rec.Candidates {
		switch {
		case c.Excluded == draw.ExcludedDrawnTwice && excluded < 0:
			excluded = i
		case c.RandomDraws == 1 && drawnOnce < 0:
			drawnOnce = i
		}
	}
	if excluded < 0 || drawnOnce < 0 {
		t.Fatalf("no capped or once-drawn unit among %+v", rec.Candidates)
	}
	if _, err := draw.VerifyStream(bytes.NewReader(raw)); err != nil {
		t.Fatalf("the genuine record: %v", err)
	}
	for _, alter := range []struct {
		name, path string
		change     func(r *draw.Record)
	}{
		{"exclusion removed", fmt.Sprintf("candidates[%d].excluded", excluded), func(r *draw.Record) { r.Candidates[excluded].Excluded = "" }},
		{"history count lowered", fmt.Sprintf("candidates[%d].random_draws", excluded), func(r *draw.Record) { r.Candidates[excluded].RandomDraws = 1 }},
		{"a draw hidden", fmt.Sprintf("candidates[%d].random_draws", drawnOnce), func(r *draw.Record) { r.Candidates[drawnOnce].DrawIDs = []string{} }},
	} {
		t.Run(alter.name, func(t *testing.T) {
			var r draw.Record
			_ = json.Unmarshal(raw, &r)
			alter.change(&r)
			altered, _ := json.Marshal(&r)
			var m *draw.Mismatch
			if _, err := draw.VerifyStream(bytes.NewReader(altered)); !errors.As(err, &m) || m.Path != alter.path {
				t.Fatalf("the Go verifier: %v, want a mismatch at %s", err, alter.path)
			}
			if out := pythonVerdict(t, altered); !strings.HasPrefix(out, "MISMATCH: "+alter.path+":") {
				t.Fatalf("the Python verifier: %s, want a mismatch at %s", out, alter.path)
			}
		})
	}
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
	if err := env.updateUser(t.Context(), other); err != nil {
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
		case 409: // in progress, or the commitment used
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
