package mobileapi

import (
	"bytes"
	"encoding/json"
	"path"
	"regexp"
	"strings"
	"testing"
)

// TestPhoneAppIsServedInstallableAndLockedDown: the inspectors' app at
// /app/ is a page with its manifest, icons and service worker, revalidated
// on every use; the policy lets it upload to the configured object storage
// and nowhere else, and only its hash worker may compile WebAssembly.
func TestPhoneAppIsServedInstallableAndLockedDown(t *testing.T) {
	s := newTestServer(t, Config{UploadOrigins: []string{"https://files.example.org:9000", "bad; script-src *"}})

	status, h, page := get(t, s, "/app/", nil)
	if status != 200 || !bytes.Contains(page, []byte(`<link rel="manifest" href="/app/manifest.webmanifest">`)) ||
		!bytes.Contains(page, []byte(`<script type="module" src="/app/main.js">`)) || h["Cache-Control"] != "no-cache" {
		t.Fatalf("/app/: %d %v\n%s", status, h, page)
	}
	csp := h["Content-Security-Policy"]
	if !strings.Contains(csp, "connect-src 'self' https://files.example.org:9000;") {
		t.Errorf("the upload origin is not in connect-src: %s", csp)
	}
	if strings.Contains(csp, "bad") || strings.Contains(csp, "script-src *") {
		t.Errorf("a malformed origin reached the policy: %s", csp)
	}
	if strings.Contains(csp, "wasm") || !strings.Contains(csp, "script-src 'self';") {
		t.Errorf("pages may not compile WebAssembly: %s", csp)
	}

	// The hash worker alone may compile WebAssembly (hash-wasm).
	_, h, _ = get(t, s, "/app/hash-worker.js", nil)
	if w := h["Content-Security-Policy"]; !strings.Contains(w, "script-src 'self' 'wasm-unsafe-eval';") || !strings.Contains(w, "https://files.example.org:9000") {
		t.Errorf("hash worker policy: %s", w)
	}

	// The manifest makes the app installable: its own scope, standalone,
	// icons that exist and are PNG or SVG.
	status, h, body := get(t, s, "/app/manifest.webmanifest", nil)
	if status != 200 || !strings.HasPrefix(h["Content-Type"], "application/manifest+json") {
		t.Fatalf("manifest: %d %q", status, h["Content-Type"])
	}
	var m struct {
		StartURL string `json:"start_url"`
		Scope    string `json:"scope"`
		Display  string `json:"display"`
		Icons    []struct {
			Src, Sizes, Type string
		} `json:"icons"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m.StartURL != "/app/" || m.Scope != "/app/" || m.Display != "standalone" || len(m.Icons) < 3 {
		t.Fatalf("manifest: %+v", m)
	}
	for _, icon := range m.Icons {
		status, h, img := get(t, s, icon.Src, nil)
		if status != 200 || h["Content-Type"] != icon.Type || len(img) < 100 {
			t.Errorf("icon %s: %d %q (%d bytes)", icon.Src, status, h["Content-Type"], len(img))
		}
		if icon.Type == "image/png" && !bytes.HasPrefix(img, []byte("\x89PNG")) {
			t.Errorf("icon %s is not a PNG", icon.Src)
		}
	}

	// The service worker lives at /app/sw.js, so its scope is /app/, and
	// is revalidated like everything else (a new version is noticed).
	status, h, sw := get(t, s, "/app/sw.js", nil)
	if status != 200 || !strings.HasPrefix(h["Content-Type"], "application/javascript") || h["Cache-Control"] != "no-cache" || !bytes.Contains(sw, []byte("addEventListener('fetch'")) {
		t.Fatalf("sw.js: %d %v", status, h)
	}
	// It names the release it keeps, and every file says which release
	// it is of (the worker keeps a release only whole).
	version := regexp.MustCompile(`const VERSION = '([^']+)';`).FindSubmatch(sw)
	if version == nil || string(version[1]) == "dev" || h["X-Suiji-Shell"] != string(version[1]) {
		t.Fatalf("sw.js names release %q, and says it is of %q", version, h["X-Suiji-Shell"])
	}
	// Every file of the shell it caches exists (one missing file would
	// fail the whole install, and the app would not open offline).
	list := regexp.MustCompile(`(?s)const SHELL = \[(.*?)\];`).FindSubmatch(sw)
	if list == nil {
		t.Fatal("sw.js has no SHELL list")
	}
	paths := regexp.MustCompile(`'(/[^']*)'`).FindAllSubmatch(list[1], -1)
	if len(paths) < 10 {
		t.Fatalf("SHELL lists %d files", len(paths))
	}
	for _, p := range paths {
		path := string(p[1])
		if strings.HasPrefix(path, "/vendor/") {
			continue // filled by deploy/local/web.sh, absent from a fresh clone
		}
		if status, h, _ := get(t, s, path, nil); status != 200 || h["X-Suiji-Shell"] != string(version[1]) {
			t.Errorf("the shell's %s: %d, of release %q", path, status, h["X-Suiji-Shell"])
		}
	}
	// And every module the app imports, from main.js on, is in the shell:
	// one left out makes the app fail to start offline.
	inShell := map[string]bool{}
	for _, p := range paths {
		inShell[string(p[1])] = true
	}
	imports := regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'|\bimport\('([^']+)'\)`)
	seen := map[string]bool{}
	for queue := []string{"/app/main.js"}; len(queue) > 0; queue = queue[1:] {
		mod := queue[0]
		if seen[mod] {
			continue
		}
		seen[mod] = true
		if !inShell[mod] {
			t.Errorf("the app imports %s, which the service worker does not keep for offline", mod)
		}
		if strings.HasPrefix(mod, "/vendor/") {
			continue
		}
		status, _, src := get(t, s, mod, nil)
		if status != 200 {
			t.Fatalf("%s: %d", mod, status)
		}
		for _, m := range imports.FindAllSubmatch(src, -1) {
			spec := string(m[1]) + string(m[2]) + string(m[3])
			if !strings.HasPrefix(spec, "/") {
				spec = path.Join(path.Dir(mod), spec)
			}
			queue = append(queue, spec)
		}
	}
	if len(seen) < 8 || !seen["/app/task.js"] || !seen["/app/signature.js"] {
		t.Fatalf("followed the imports of %d modules only (the task page's, loaded when a task opens, among them): %v", len(seen), seen)
	}
}
