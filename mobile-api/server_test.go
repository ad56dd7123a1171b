package mobileapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/app"
)

// newTestServer builds a server with no dependencies; tests that need real
// services build theirs with the storagetest helpers.
func newTestServer(t testing.TB, cfg Config, deps ...backend.Dependency) *Server {
	t.Helper()
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = 1 << 20
	}
	return New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), deps, app.Services{})
}

// do sends req through the app and returns the status and body.
func do(t testing.TB, s *Server, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := s.App().Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, body
}

// decodeError asserts the body has the JSON error shape and returns it.
func decodeError(t *testing.T, body []byte) ErrorDetail {
	t.Helper()
	var eb ErrorBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		t.Fatalf("body %q is not the JSON error shape: %v", body, err)
	}
	if eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("error body %q lacks code or message", body)
	}
	return eb.Error
}

func TestDomainErrorCodesMapToStatusAndShape(t *testing.T) {
	want := map[string]int{
		backend.EINVALID:        400,
		backend.EUNAUTHORIZED:   401,
		backend.EFORBIDDEN:      403,
		backend.ENOTFOUND:       404,
		backend.ECONFLICT:       409,
		backend.ETOOLARGE:       413,
		backend.EUNPROCESSABLE:  422,
		backend.ERATELIMIT:      429,
		backend.EINTERNAL:       500,
		backend.ENOTIMPLEMENTED: 501,
		backend.EUNAVAILABLE:    503,
	}
	if len(want) != len(backend.Codes) {
		t.Fatalf("test covers %d codes, backend defines %d", len(want), len(backend.Codes))
	}
	s := newTestServer(t, Config{})
	s.App().Get("/test/error/:code", func(c *fiber.Ctx) error {
		e := backend.Errorf(c.Params("code"), "shown to the client")
		e.Err = io.ErrUnexpectedEOF // a cause that must never be shown
		if e.Code == backend.EINVALID {
			e.Fields = map[string]string{"name": "required"}
		}
		return e
	})
	for _, code := range backend.Codes {
		t.Run(code, func(t *testing.T) {
			resp, body := do(t, s, httptest.NewRequest("GET", "/test/error/"+code, nil))
			if resp.StatusCode != want[code] {
				t.Errorf("status %d, want %d", resp.StatusCode, want[code])
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			got := decodeError(t, body)
			if got.Code != code {
				t.Errorf("code %q, want %q", got.Code, code)
			}
			if strings.Contains(string(body), io.ErrUnexpectedEOF.Error()) {
				t.Errorf("body leaks the cause: %s", body)
			}
			wantMsg := "shown to the client"
			if code == backend.EINTERNAL {
				wantMsg = "internal error"
			}
			if got.Message != wantMsg {
				t.Errorf("message %q, want %q", got.Message, wantMsg)
			}
			if code == backend.EINVALID && got.Fields["name"] != "required" {
				t.Errorf("fields %v, want name=required", got.Fields)
			}
		})
	}
}

func TestPlainErrorsAndPanicsAreInternalAndHidden(t *testing.T) {
	s := newTestServer(t, Config{})
	s.App().Get("/test/plain", func(c *fiber.Ctx) error { return io.ErrClosedPipe })
	s.App().Get("/test/panic", func(c *fiber.Ctx) error { panic("secret detail") })
	for _, path := range []string{"/test/plain", "/test/panic"} {
		resp, body := do(t, s, httptest.NewRequest("GET", path, nil))
		if resp.StatusCode != 500 {
			t.Errorf("%s: status %d, want 500", path, resp.StatusCode)
		}
		if e := decodeError(t, body); e.Code != backend.EINTERNAL || e.Message != "internal error" {
			t.Errorf("%s: error %+v", path, e)
		}
		if strings.Contains(string(body), "secret") || strings.Contains(string(body), "closed pipe") {
			t.Errorf("%s: body leaks internals: %s", path, body)
		}
	}
	// The server survives the panic.
	if resp, _ := do(t, s, httptest.NewRequest("GET", "/healthz", nil)); resp.StatusCode != 200 {
		t.Fatalf("healthz after panic: %d", resp.StatusCode)
	}
}

func TestUnknownRouteIsJSONNotFound(t *testing.T) {
	s := newTestServer(t, Config{})
	resp, body := do(t, s, httptest.NewRequest("GET", "/no/such/route", nil))
	if resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if e := decodeError(t, body); e.Code != backend.ENOTFOUND {
		t.Fatalf("code %q", e.Code)
	}
}

// TestBodyOverLimitGets413 runs over a real connection: Fiber's in-memory
// app.Test reports the oversized body as a transport error instead of
// returning the response the client gets.
func TestBodyOverLimitGets413(t *testing.T) {
	s := newTestServer(t, Config{BodyLimit: 4096})
	var reached atomic.Int32
	s.App().Post("/test/echo", func(c *fiber.Ctx) error {
		reached.Add(1)
		return c.Send(c.Body())
	})
	base := serveOnLoopback(t, s)

	post := func(n int) (int, []byte) {
		resp, err := http.Post(base+"/test/echo", "application/octet-stream", bytes.NewReader(make([]byte, n)))
		if err != nil {
			t.Fatalf("POST %d bytes: %v", n, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}

	if status, body := post(4096); status != 200 || len(body) != 4096 {
		t.Fatalf("at the limit: status %d, %d bytes", status, len(body))
	}
	status, body := post(4097)
	if status != 413 {
		t.Fatalf("over the limit: status %d, want 413", status)
	}
	if e := decodeError(t, body); e.Code != backend.ETOOLARGE {
		t.Fatalf("code %q, want ETOOLARGE", e.Code)
	}
	if n := reached.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want once (never for the oversized body)", n)
	}
}

func TestRequestIDIsKeptOrMade(t *testing.T) {
	s := newTestServer(t, Config{})
	var seen string
	s.App().Get("/test/rid", func(c *fiber.Ctx) error {
		seen = backend.RequestIDFromContext(c.UserContext())
		return nil
	})

	req := httptest.NewRequest("GET", "/test/rid", nil)
	req.Header.Set(HeaderRequestID, "phone-retry-42")
	resp, _ := do(t, s, req)
	if got := resp.Header.Get(HeaderRequestID); got != "phone-retry-42" || seen != got {
		t.Fatalf("client id not kept: header %q, context %q", got, seen)
	}

	req = httptest.NewRequest("GET", "/test/rid", nil)
	req.Header.Set(HeaderRequestID, "bad id\twith <html>")
	resp, _ = do(t, s, req)
	got := resp.Header.Get(HeaderRequestID)
	if !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(got) || seen != got {
		t.Fatalf("unsafe id not replaced: header %q, context %q", got, seen)
	}
}

func TestCORSOnlyForConfiguredOrigins(t *testing.T) {
	s := newTestServer(t, Config{CORSOrigins: []string{"https://console.example.gov.cn"}})
	for origin, allowed := range map[string]bool{
		"https://console.example.gov.cn": true,
		"https://evil.example.com":       false,
	} {
		req := httptest.NewRequest("OPTIONS", "/healthz", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, _ := do(t, s, req)
		got := resp.Header.Get("Access-Control-Allow-Origin")
		if allowed && got != origin {
			t.Errorf("%s: Allow-Origin %q, want it allowed", origin, got)
		}
		if !allowed && got != "" {
			t.Errorf("%s: Allow-Origin %q, want none", origin, got)
		}
	}

	plain := newTestServer(t, Config{})
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("Origin", "https://console.example.gov.cn")
	if resp, _ := do(t, plain, req); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS headers sent with no origins configured")
	}
}

func TestMetricsCountRequestsByRoute(t *testing.T) {
	s := newTestServer(t, Config{})
	s.App().Get("/test/items/:id", func(c *fiber.Ctx) error { return nil })
	for _, p := range []string{"/healthz", "/healthz", "/test/items/1", "/test/items/2", "/nope"} {
		do(t, s, httptest.NewRequest("GET", p, nil))
	}
	_, body := do(t, s, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`suiji_http_requests_total{method="GET",route="/healthz",status="200"} 2`,
		`suiji_http_requests_total{method="GET",route="/test/items/:id",status="200"} 2`,
		`suiji_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`suiji_http_request_duration_seconds_count{method="GET",route="/healthz"} 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestHealthz(t *testing.T) {
	s := newTestServer(t, Config{Version: "abc123"})
	resp, body := do(t, s, httptest.NewRequest("GET", "/healthz", nil))
	var h HealthResponse
	if err := json.Unmarshal(body, &h); err != nil || resp.StatusCode != 200 || h.Status != "ok" || h.Version != "abc123" {
		t.Fatalf("healthz: %d %s (%v)", resp.StatusCode, body, err)
	}
}

// TestOpenAPIDocumentsEveryRoute keeps the contract true: a route added
// without documenting it fails here.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	// Every route mounts whatever the services hold; no handler runs here.
	s := newTestServer(t, Config{})
	param := regexp.MustCompile(`:([a-z_]+)`)
	pages := map[string]bool{} // the web front-ends: HTML and files, not the API
	for _, r := range s.webRoutes() {
		pages[r.method+" "+r.path] = true
	}
	n := 0
	for _, r := range s.App().GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "USE" || pages[r.Method+" "+r.Path] {
			continue
		}
		n++
		path := param.ReplaceAllString(r.Path, "{$1}")
		if _, ok := doc.Paths[path][strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s %s is served but not in openapi.json", r.Method, path)
		}
	}
	if n == 0 {
		t.Fatal("no routes found")
	}
	// Every $ref points at a component that exists.
	var whole map[string]any
	if err := json.Unmarshal(OpenAPI, &whole); err != nil {
		t.Fatal(err)
	}
	for _, ref := range regexp.MustCompile(`"\$ref":\s*"#/components/([a-zA-Z]+)/([A-Za-z0-9_]+)"`).FindAllStringSubmatch(string(OpenAPI), -1) {
		comps, _ := whole["components"].(map[string]any)
		kind, _ := comps[ref[1]].(map[string]any)
		if _, ok := kind[ref[2]]; !ok {
			t.Errorf("dangling $ref to components/%s/%s", ref[1], ref[2])
		}
	}
	resp, body := do(t, s, httptest.NewRequest("GET", "/openapi.json", nil))
	if resp.StatusCode != 200 || !bytes.Equal(body, OpenAPI) {
		t.Fatalf("GET /openapi.json: %d", resp.StatusCode)
	}
}
