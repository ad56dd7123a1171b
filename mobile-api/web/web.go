// Package web holds the web front-ends suiji serves and embeds them in the
// binary: the bureau's console (console/, at /console/), the inspectors'
// phone app (app/, at /app/), the public portal's static files (portal/)
// and page templates (templates/), and what they share (shared/, vendor/).
//
// Nothing here is built: the browser loads the ES modules as they are in
// the repository — but for the phone app's service worker, into which the
// server writes the version of the app's shell (stampShell) — and
// vendor/, which deploy/local/web.sh
// fills from npm packages pinned by package-lock.json (chart and QR code
// libraries, and the phone app's IndexedDB wrapper and streaming hash); a
// fresh clone holds only its README there, so `go build` works without
// Node and the pages degrade (tables without charts; the phone app needs
// the step) until it has run.
//
// Files are served with strong ETags, `Cache-Control: no-cache` (a
// revalidation costs a 304 without a body), gzip and brotli compressed once
// each on first request, and a strict content security policy (no inline
// script or style; see Policy). The package imports Fiber and the standard library only; the
// handlers that read data for the portal's pages live in mobileapi.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
)

// files are the static front-end files, served under their own path
// (/console/…, /app/…, /portal/…, /shared/…, /vendor/…).
//
//go:embed app console portal shared vendor
var files embed.FS

// Asset is one static file, ready to serve: its bytes in every encoding
// worth having and its validator.
type Asset struct {
	Name        string // path in the site, without a leading slash ("console/index.html")
	ContentType string
	Body        []byte // identity
	ETag        string // strong, quoted; the encoding is appended for compressed bodies

	compressed func() encodings // the compressed bodies, made once on first use
}

// encodings are an asset's compressed bodies; nil where compression does
// not pay.
type encodings struct{ gzip, brotli []byte }

// Gzip returns the gzip body, or nil when compression does not pay.
func (a *Asset) Gzip() []byte { return a.compressed().gzip }

// Brotli returns the brotli body, or nil when compression does not pay.
func (a *Asset) Brotli() []byte { return a.compressed().brotli }

// Site is the set of embedded static files.
type Site struct {
	assets map[string]*Asset
	// ShellVersion is the version of the phone app's shell (stampShell).
	ShellVersion string
}

// compressible names the content types worth compressing.
func compressible(ctype string) bool {
	for _, p := range []string{"text/", "application/javascript", "application/json", "application/manifest+json", "image/svg+xml"} {
		if strings.HasPrefix(ctype, p) {
			return true
		}
	}
	return false
}

// contentTypes fixes the types mime's system table may not know or may
// name differently on other machines.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".js":          "application/javascript; charset=utf-8",
	".mjs":         "application/javascript; charset=utf-8",
	".json":        "application/json; charset=utf-8",
	".webmanifest": "application/manifest+json; charset=utf-8",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".md":          "text/plain; charset=utf-8",
	".txt":         "text/plain; charset=utf-8",
}

// Load returns every embedded file, read and compressed (once per process;
// later calls share the same read-only Site). It fails only if the
// embedded tree is unreadable, which would be a build error.
func Load() (*Site, error) { return loadSite() }

// loadSite reads and compresses the embedded files once per process: they
// never change, a Site is read-only, and compressing them at the highest
// levels takes seconds (every test server would pay it again).
var loadSite = sync.OnceValues(func() (*Site, error) {
	s := &Site{assets: map[string]*Asset{}}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		s.assets[name] = newAsset(name, body)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: reading embedded files: %w", err)
	}
	if err := s.stampShell(); err != nil {
		return nil, err
	}
	return s, nil
})

// The phone app's service worker names its cache by the version of the
// app it keeps, which the server writes into it in place of this line's
// 'dev'.
const (
	swName          = "app/sw.js"
	swVersionMarker = "const VERSION = 'dev';"
	// ShellHeader names, on every static file, the shell's version of the
	// server that serves it.
	ShellHeader = "X-Suiji-Shell"
)

// stampShell writes the version of the phone app's shell — a hash of every
// file the service worker may keep (app/, shared/, vendor/) — into the
// service worker. A release that changes any of them changes the worker,
// so phones install the new shell whole, in a cache of its own, beside
// the one the open page runs on: a page never mixes modules of two
// releases (SHELL in sw.js).
func (s *Site) stampShell() error {
	sw := s.assets[swName]
	if sw == nil || bytes.Count(sw.Body, []byte(swVersionMarker)) != 1 {
		return fmt.Errorf("web: %s must hold %q once", swName, swVersionMarker)
	}
	names := make([]string, 0, len(s.assets))
	for name := range s.assets {
		if name != swName && (strings.HasPrefix(name, "app/") || strings.HasPrefix(name, "shared/") || strings.HasPrefix(name, "vendor/")) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	h := sha256.New()
	for _, name := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(s.assets[name].Body))
		h.Write(s.assets[name].Body)
	}
	version := base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
	s.ShellVersion = version
	s.assets[swName] = newAsset(swName, bytes.Replace(sw.Body, []byte(swVersionMarker), []byte("const VERSION = '"+version+"';"), 1))
	return nil
}

func newAsset(name string, body []byte) *Asset {
	ext := path.Ext(name)
	ctype, ok := contentTypes[ext]
	if !ok {
		if ctype = mime.TypeByExtension(ext); ctype == "" {
			ctype = "application/octet-stream"
		}
	}
	sum := sha256.Sum256(body)
	a := &Asset{Name: name, ContentType: ctype, Body: body,
		ETag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
	// Compressed at the highest levels, each asset when it is first asked
	// for: it costs a second or more for the whole site, which a server
	// (or a test) that never serves a file should not pay at start.
	a.compressed = sync.OnceValue(func() encodings {
		var e encodings
		if !compressible(ctype) || len(body) < 256 {
			return e
		}
		if gz := gzipLevel(body, gzip.BestCompression); len(gz) < len(body)*9/10 {
			e.gzip = gz
		}
		if br := brotliLevel(body, brotli.BestCompression); len(br) < len(body)*9/10 {
			e.brotli = br
		}
		return e
	})
	return a
}

func gzipLevel(b []byte, level int) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, level) // callers pass valid levels
	_, _ = w.Write(b)                        // writes to a bytes.Buffer do not fail
	_ = w.Close()
	return buf.Bytes()
}

func brotliLevel(b []byte, level int) []byte {
	var buf bytes.Buffer
	w := brotli.NewWriterLevel(&buf, level)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

// Lookup returns the asset at name ("console/app.js"), or nil.
func (s *Site) Lookup(name string) *Asset { return s.assets[name] }

// Names lists every asset's name (for tests and diagnostics).
func (s *Site) Names() []string {
	out := make([]string, 0, len(s.assets))
	for n := range s.assets {
		out = append(out, n)
	}
	return out
}
