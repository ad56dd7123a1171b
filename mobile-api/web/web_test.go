package web

import (
	"bytes"
	"strings"
	"testing"
)

// TestShellVersion: the service worker is served with the shell's version
// in place of 'dev'; the version follows every file the worker may keep
// (app/, shared/, vendor/), and no other.
func TestShellVersion(t *testing.T) {
	site := func(files map[string]string) *Site {
		t.Helper()
		s := &Site{assets: map[string]*Asset{}}
		for name, body := range files {
			s.assets[name] = newAsset(name, []byte(body))
		}
		if err := s.stampShell(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	files := map[string]string{
		swName:        "// the worker\n" + swVersionMarker + "\nconst CACHE = `x-${VERSION}`;\n",
		"app/main.js": "main", "shared/api.js": "api", "vendor/idb.js": "idb", "console/main.js": "console", "portal/verify-page.js": "portal",
	}
	base := site(files)
	sw := base.Lookup(swName).Body
	if len(base.ShellVersion) < 16 || !bytes.Contains(sw, []byte("const VERSION = '"+base.ShellVersion+"';")) || bytes.Contains(sw, []byte("'dev'")) {
		t.Fatalf("the worker as served:\n%s\n(version %q)", sw, base.ShellVersion)
	}
	if site(files).ShellVersion != base.ShellVersion {
		t.Fatal("the same files made another version")
	}
	for name, changed := range map[string]bool{"app/main.js": true, "shared/api.js": true, "vendor/idb.js": true, "console/main.js": false, "portal/verify-page.js": false} {
		edited := map[string]string{}
		for n, b := range files {
			edited[n] = b
		}
		edited[name] += " "
		if got := site(edited).ShellVersion != base.ShellVersion; got != changed {
			t.Errorf("a change to %s changed the version: %v, want %v", name, got, changed)
		}
	}
	// A worker without the line (or with two) is refused.
	for _, body := range []string{"const VERSION = 'v1';", swVersionMarker + swVersionMarker} {
		s := &Site{assets: map[string]*Asset{swName: newAsset(swName, []byte(body))}}
		if err := s.stampShell(); err == nil || !strings.Contains(err.Error(), "must hold") {
			t.Errorf("a worker holding %q was stamped: %v", body, err)
		}
	}
	// The embedded site is stamped.
	real, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(real.Lookup(swName).Body, []byte("const VERSION = '"+real.ShellVersion+"';")) {
		t.Fatal("the embedded worker is not stamped with the shell's version")
	}
}
