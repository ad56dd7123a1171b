package mobileapi

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestGrafanaDashboardQueriesExportedMetrics parses the dashboard in
// deploy/grafana and checks that every metric its queries name is one this
// server exports at /metrics (with its services wired, so the outbox
// gauges are there), and that it charts the use cases' metrics.
func TestGrafanaDashboardQueriesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../deploy/grafana/suiji.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Query string `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		exprs = append(exprs, v.Query)
	}

	env := newAPIEnv(t, Config{})
	// One request first: the HTTP series exist once a request was counted.
	if _, err := env.srv.App().Test(httptest.NewRequest("GET", "/healthz", nil), -1); err != nil {
		t.Fatal(err)
	}
	resp, err := env.srv.App().Test(httptest.NewRequest("GET", "/metrics", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name := line[:strings.IndexAny(line, "{ ")]
		exported[name] = true
	}

	// Identifiers with an underscore are metric names, except PromQL's
	// own functions (labels here have none).
	functions := []string{"histogram_quantile", "label_values"}
	ident := regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	queried := map[string]bool{}
	for _, e := range exprs {
		// Label values in quotes (routes, status patterns) are not names.
		e = regexp.MustCompile(`"[^"]*"`).ReplaceAllString(e, `""`)
		for _, id := range ident.FindAllString(e, -1) {
			if strings.Contains(id, "_") && !slices.Contains(functions, id) && !strings.HasPrefix(id, "__") {
				queried[id] = true
			}
		}
	}
	for name := range queried {
		if !exported[name] {
			t.Errorf("the dashboard queries %s, which /metrics does not export", name)
		}
	}
	for _, want := range []string{
		"suiji_http_request_duration_seconds_bucket", "suiji_dispatch_tasks_created_total",
		"suiji_push_sends_total", "suiji_evidence_uploads_total", "suiji_push_outbox_pending", "suiji_audit_outbox_pending",
	} {
		if !queried[want] {
			t.Errorf("the dashboard does not chart %s", want)
		}
	}
}
