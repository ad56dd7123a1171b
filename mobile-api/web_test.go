package mobileapi

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"suiji/backend"
	"suiji/storage/cache"
)

func get(t *testing.T, s *Server, path string, headers map[string]string) (int, map[string]string, []byte) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, body := do(t, s, req)
	h := map[string]string{}
	for k := range resp.Header {
		h[k] = resp.Header.Get(k)
	}
	return resp.StatusCode, h, body
}

func TestWebFilesAreLockedDownCachedAndCompressed(t *testing.T) {
	s := newTestServer(t, Config{})
	status, h, plain := get(t, s, "/console/", nil)
	if status != 200 || !strings.HasPrefix(h["Content-Type"], "text/html") || !bytes.Contains(plain, []byte(`<script type="module" src="/console/main.js">`)) {
		t.Fatalf("/console/: %d %q %s", status, h["Content-Type"], plain)
	}
	for name, want := range map[string]string{
		"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
	} {
		if h[name] != want {
			t.Errorf("%s = %q, want %q", name, h[name], want)
		}
	}
	for _, directive := range []string{"default-src 'self'", "script-src 'self';", "style-src 'self';", "object-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(h["Content-Security-Policy"], directive) {
			t.Errorf("CSP %q lacks %q", h["Content-Security-Policy"], directive)
		}
	}
	if strings.Contains(h["Content-Security-Policy"], "unsafe-inline") || strings.Contains(h["Content-Security-Policy"], "unsafe-eval") {
		t.Errorf("CSP allows inline code: %s", h["Content-Security-Policy"])
	}
	etag := h["Etag"]
	if etag == "" {
		t.Fatal("no ETag")
	}
	if status, _, body := get(t, s, "/console/", map[string]string{"If-None-Match": etag}); status != 304 || len(body) != 0 {
		t.Fatalf("revalidation: %d with %d bytes, want 304 without a body", status, len(body))
	}

	// A module big enough to compress comes as brotli or gzip, as asked,
	// and decompresses to the same bytes; its validator differs per encoding
	// but any of them revalidates.
	_, _, js := get(t, s, "/shared/api.js", nil)
	status, h, br := get(t, s, "/shared/api.js", map[string]string{"Accept-Encoding": "gzip, br"})
	if status != 200 || h["Content-Encoding"] != "br" || !strings.HasPrefix(h["Content-Type"], "application/javascript") || h["Vary"] != "Accept-Encoding" {
		t.Fatalf("brotli: %d %v", status, h)
	}
	if got, _ := io.ReadAll(brotli.NewReader(bytes.NewReader(br))); !bytes.Equal(got, js) || len(br) >= len(js) {
		t.Fatalf("brotli body does not decompress to the file (or is not smaller: %d vs %d)", len(br), len(js))
	}
	status, h, gz := get(t, s, "/shared/api.js", map[string]string{"Accept-Encoding": "gzip, br;q=0"})
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil || status != 200 || h["Content-Encoding"] != "gzip" {
		t.Fatalf("gzip: %d %v %v", status, h, err)
	}
	if got, _ := io.ReadAll(zr); !bytes.Equal(got, js) {
		t.Fatal("gzip body does not decompress to the file")
	}
	if status, _, _ := get(t, s, "/shared/api.js", map[string]string{"If-None-Match": h["Etag"]}); status != 304 {
		t.Fatalf("gzip validator does not revalidate: %d", status)
	}

	// A directory without its slash redirects (relative imports need it);
	// what does not exist, or climbs out, is a page that says so.
	req := httptest.NewRequest("GET", "/console?x=1", nil)
	if resp, _ := do(t, s, req); resp.StatusCode != 301 || resp.Header.Get("Location") != "/console/?x=1" {
		t.Fatalf("/console: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, path := range []string{"/console/nope.js", "/console/../web.go", "/vendor/../portal.go", "/portal/", "/draws/not-an-id!", "/plans/x%2F..%2Fy"} {
		status, h, _ := get(t, s, path, nil)
		if status != 404 || !strings.HasPrefix(h["Content-Type"], "text/html") {
			t.Errorf("%s: %d %q, want the 404 page", path, status, h["Content-Type"])
		}
	}
}

// TestWebDoesNotShadowTheAPI: the web front-ends answer only their own
// paths; everything else reaches the API table (or its JSON 404).
func TestWebDoesNotShadowTheAPI(t *testing.T) {
	s := newTestServer(t, Config{})
	for path, want := range map[string]int{"/healthz": 200, "/openapi.json": 200, "/metrics": 200} {
		if status, _, _ := get(t, s, path, nil); status != want {
			t.Errorf("%s: %d, want %d", path, status, want)
		}
	}
	for _, path := range []string{"/api/v1/nope", "/public/v1/nope", "/consoles"} {
		status, h, body := get(t, s, path, nil)
		if status != 404 || !strings.HasPrefix(h["Content-Type"], "application/json") {
			t.Errorf("%s: %d %q, want the API's JSON 404", path, status, h["Content-Type"])
			continue
		}
		decodeError(t, body)
	}
	resp, body := do(t, s, httptest.NewRequest("POST", "/console/", strings.NewReader("{}")))
	if resp.StatusCode < 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("POST /console/: %d %s", resp.StatusCode, body)
	}
}

func TestPortalPagesWorkWithoutScriptAndRevalidate(t *testing.T) {
	env := newAPIEnv(t, Config{})
	status, h, body := get(t, env.srv, "/", nil)
	if status != 200 || !strings.HasPrefix(h["Content-Type"], "text/html") || !bytes.Contains(body, []byte("双随机、一公开")) {
		t.Fatalf("/: %d %q %s", status, h["Content-Type"], body)
	}
	if bytes.Contains(body, []byte("<script")) {
		t.Error("the home page needs no script")
	}
	if h["Cache-Control"] != "public, no-cache" || !strings.HasPrefix(h["Etag"], `W/"`) || h["Content-Security-Policy"] == "" {
		t.Errorf("caching headers: %v", h)
	}
	if status, _, body := get(t, env.srv, "/", map[string]string{"If-None-Match": h["Etag"]}); status != 304 || len(body) != 0 {
		t.Errorf("revalidation: %d, %d bytes", status, len(body))
	}
	// A year without a published list says so; a plan that does not exist
	// (or is only a draft) is the 404 page, as is a malformed year.
	if status, _, body := get(t, env.srv, "/items?year=2031", nil); status != 200 || !bytes.Contains(body, []byte("2031年的事项清单尚未公布")) {
		t.Errorf("/items?year=2031: %d %s", status, body)
	}
	for _, path := range []string{"/plans/0123456789abcdef01234567", "/draws/0123456789abcdef01234567-1", "/items?year=abc"} {
		status, h, body := get(t, env.srv, path, nil)
		if status != 404 || !strings.HasPrefix(h["Content-Type"], "text/html") || !bytes.Contains(body, []byte("页面不存在")) {
			t.Errorf("%s: %d %q", path, status, h["Content-Type"])
		}
	}
	// The public API's answers get validators and compression too.
	_, h, _ = get(t, env.srv, "/public/v1/plans?year=2026", nil)
	if !strings.HasPrefix(h["Etag"], `W/"`) || h["Cache-Control"] != "public, no-cache" {
		t.Errorf("/public/v1/plans headers: %v", h)
	}
}

func TestPublicResponsesAreRateLimitedPerAddress(t *testing.T) {
	env := newAPIEnv(t, Config{})
	svc := env.svc
	svc.PublicLimit = cache.NewRequestLimiter(env.cache, "public-test", 3, time.Minute)
	s := New(Config{BodyLimit: 1 << 20}, slog.New(slog.DiscardHandler), nil, svc)
	for i := range 3 {
		if status, _, _ := get(t, s, "/public/v1/plans", nil); status != 200 {
			t.Fatalf("request %d: %d", i+1, status)
		}
	}
	status, h, body := get(t, s, "/public/v1/plans", map[string]string{"X-Forwarded-For": "203.0.113.9"})
	if status != 429 || h["Retry-After"] == "" {
		t.Fatalf("over the limit (a forged X-Forwarded-For changes nothing): %d %v", status, h)
	}
	if e := decodeError(t, body); e.Code != backend.ERATELIMIT {
		t.Fatalf("code %q", e.Code)
	}
	status, h, body = get(t, s, "/", nil)
	if status != 429 || !strings.HasPrefix(h["Content-Type"], "text/html") || !bytes.Contains(body, []byte("访问过于频繁")) {
		t.Fatalf("portal over the limit: %d %q", status, h["Content-Type"])
	}
	// Static files and the signed-in API are not counted.
	if status, _, _ := get(t, s, "/console/", nil); status != 200 {
		t.Fatalf("/console/ over the public limit: %d", status)
	}
}
