package mobileapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"suiji/backend"
	"suiji/storage/storagetest"
)

func TestPoolPreviewFollowsTheFilter(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := storagetest.NewWorld(t, env.db, 40)
	count := func(keep func(e *backend.Enterprise) bool) int {
		n := 0
		for _, e := range w.Enterprises {
			if keep(e) {
				n++
			}
		}
		return n
	}
	inTown := count(func(e *backend.Enterprise) bool { return e.Town == w.Towns[0] })
	hazchemInTown := count(func(e *backend.Enterprise) bool {
		return e.Town == w.Towns[0] && slices.Contains(e.Categories, backend.CategoryHazardousChemicals)
	})
	pool := func(query string) map[string]any {
		var out map[string]any
		scenario{as: "coordinator", method: "GET", path: "/api/v1/reports/pool?year=2026&" + query, wantStatus: 200,
			after: func(t *testing.T, _ *apiEnv, _ *http.Response, body []byte) {
				if err := json.Unmarshal(body, &out); err != nil {
					t.Fatal(err)
				}
			}}.run(t, env)
		return out
	}
	if got := pool("kind=directed&count=3")["pool_size"]; got != float64(40) {
		t.Errorf("whole directory: %v, want 40", got)
	}
	town := pool("kind=directed&count=3&towns=" + w.Towns[0])
	if town["pool_size"] != float64(inTown) || town["sample_size"] != float64(3) {
		t.Errorf("one town: %v, want pool %d and sample 3", town, inTown)
	}
	if got := pool("kind=directed&ratio=0.5&towns=" + w.Towns[0] + "&categories=hazardous_chemicals"); got["pool_size"] != float64(hazchemInTown) ||
		got["sample_size"] != float64((hazchemInTown+1)/2) {
		t.Errorf("town and category, half: %v, want pool %d", got, hazchemInTown)
	}
	// The coverage rule: only key-supervision and blacklisted units.
	if got := pool("kind=coverage"); got["pool_size"] != float64(count(func(e *backend.Enterprise) bool { return len(e.Categories) > 0 })) {
		t.Errorf("coverage: %v", got)
	}
	scenario{as: "staff", method: "GET", path: "/api/v1/reports/pool?kind=random&categories=gold", wantStatus: 400, wantCode: backend.EINVALID,
		wantContain: []string{`"kind"`, `"categories"`}}.run(t, env)
	scenario{as: "staff", method: "GET", path: "/api/v1/reports/pool?ratio=2", wantStatus: 400, wantCode: backend.EINVALID,
		wantContain: []string{`"ratio"`}}.run(t, env)
}

func TestAuditVerifyReportsTheChain(t *testing.T) {
	env := newAPIEnv(t, Config{})
	scenario{as: "coordinator", method: "GET", path: "/api/v1/audit/verify", wantStatus: 200,
		wantContain: []string{`"intact":true`, `"break":null`}}.run(t, env)
}
