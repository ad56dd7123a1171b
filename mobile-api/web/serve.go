package web

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Policy is the content security policy every page and file is served
// with: scripts, styles, fonts and connections only from suiji itself (and
// the object storage phones upload evidence to), no inline script or
// style, no plugins, no framing. Images may also be data: and blob: URLs
// (charts, QR codes, photos picked on the phone).
type Policy struct {
	page   string // every page and file
	hasher string // the phone app's hash worker: the same, and WebAssembly
}

// hashWorker is the one file whose scripts may compile WebAssembly: the
// phone app's worker that hashes evidence with hash-wasm. A dedicated
// worker runs under the policy of its own response, so the permission
// stops there; pages never get it.
const hashWorker = "app/hash-worker.js"

// NewPolicy returns the policy, with connect (origins such as
// "https://minio.example.org") allowed in connect-src besides 'self'.
func NewPolicy(connect ...string) Policy {
	sources := "'self'"
	for _, o := range connect {
		if o = strings.TrimSpace(o); o != "" && !strings.ContainsAny(o, "; ,'\"") {
			sources += " " + o
		}
	}
	policy := func(script string) string {
		return "default-src 'self'; script-src " + script + "; style-src 'self'; " +
			"img-src 'self' data: blob:; connect-src " + sources + "; font-src 'self'; object-src 'none'; " +
			"base-uri 'none'; form-action 'self'; frame-ancestors 'none'; worker-src 'self'; manifest-src 'self'"
	}
	return Policy{page: policy("'self'"), hasher: policy("'self' 'wasm-unsafe-eval'")}
}

// String returns the header value pages get.
func (p Policy) String() string { return p.page }

// Cache-Control values. Entry points and modules are revalidated on every
// use (a 304 costs no body): no stale mix of old and new modules after an
// upgrade, and no build step to hash file names.
const (
	CacheRevalidate = "no-cache"
	CachePublic     = "public, no-cache"
)

// roots are the first path segments served from the embedded files.
var roots = map[string]bool{"app": true, "console": true, "portal": true, "shared": true, "vendor": true}

// IsStatic reports whether urlPath belongs to the embedded files' part of
// the URL space (/console, /app, /portal, /shared, /vendor and below).
func IsStatic(urlPath string) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(urlPath, "/"), "/")
	return roots[first]
}

// Resolve maps a URL path under one of the static roots to its asset. A
// directory's path without the final slash returns the path to redirect to
// instead ("/console" → "/console/"), so that the page's relative module
// imports resolve. Paths that try to climb out (..) find nothing.
func (s *Site) Resolve(urlPath string) (a *Asset, redirect string) {
	if !IsStatic(urlPath) || strings.Contains(urlPath, "..") || strings.Contains(urlPath, "//") || strings.Contains(urlPath, "\\") {
		return nil, ""
	}
	name := strings.TrimPrefix(urlPath, "/")
	if name == "" || strings.HasSuffix(name, "/") {
		return s.assets[name+"index.html"], ""
	}
	if a := s.assets[name]; a != nil {
		return a, ""
	}
	if s.assets[name+"/index.html"] != nil {
		return nil, urlPath + "/"
	}
	return nil, ""
}

// SecurityHeaders sets the headers every page and file carries.
func SecurityHeaders(c *fiber.Ctx, p Policy) {
	c.Set("Content-Security-Policy", p.page)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "same-origin")
}

// Serve answers with asset a: 304 when the client's copy is current,
// otherwise the best encoding the client accepts.
func Serve(c *fiber.Ctx, a *Asset, p Policy) error {
	SecurityHeaders(c, p)
	if a.Name == hashWorker {
		c.Set("Content-Security-Policy", p.hasher)
	}
	c.Set(fiber.HeaderCacheControl, CacheRevalidate)
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	body, encoding, etag := a.Body, "", a.ETag
	accept := c.Get(fiber.HeaderAcceptEncoding)
	switch {
	case accepts(accept, "br") && a.Brotli() != nil:
		body, encoding, etag = a.Brotli(), "br", withSuffix(a.ETag, "-br")
	case accepts(accept, "gzip") && a.Gzip() != nil:
		body, encoding, etag = a.Gzip(), "gzip", withSuffix(a.ETag, "-gz")
	}
	c.Set(fiber.HeaderETag, etag)
	if NotModified(c.Get(fiber.HeaderIfNoneMatch), a.ETag, withSuffix(a.ETag, "-br"), withSuffix(a.ETag, "-gz")) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, a.ContentType)
	if encoding != "" {
		c.Set(fiber.HeaderContentEncoding, encoding)
	}
	return c.Send(body)
}

// withSuffix puts suffix inside a quoted ETag.
func withSuffix(etag, suffix string) string {
	return strings.TrimSuffix(etag, `"`) + suffix + `"`
}

// NotModified reports whether an If-None-Match header names one of etags
// (weak comparison, as RFC 9110 asks for If-None-Match).
func NotModified(ifNoneMatch string, etags ...string) bool {
	if ifNoneMatch == "" {
		return false
	}
	if strings.TrimSpace(ifNoneMatch) == "*" {
		return true
	}
	for _, tag := range strings.Split(ifNoneMatch, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		for _, e := range etags {
			if tag == e {
				return true
			}
		}
	}
	return false
}

// Accepts reports whether an Accept-Encoding header allows coding (present
// and not refused with q=0).
func Accepts(header, coding string) bool { return accepts(header, coding) }

func accepts(header, coding string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), coding) {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// Finish gives a dynamic 200 response (a portal page, a /public answer) its
// validator and compression: a weak ETag over the body (weak, since the
// bytes on the wire vary with the encoding), 304 when the client's copy is
// current, then brotli or gzip for bodies worth compressing.
func Finish(c *fiber.Ctx, cacheControl string) {
	resp := c.Response()
	// A streamed body (a draw record) brings its own validator and
	// encoding; reading it here would hold it whole in memory.
	if resp.StatusCode() != fiber.StatusOK || len(resp.Header.Peek(fiber.HeaderContentEncoding)) > 0 || resp.IsBodyStream() {
		return
	}
	body := resp.Body()
	sum := sha256.Sum256(body)
	etag := `W/"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderCacheControl, cacheControl)
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	if NotModified(c.Get(fiber.HeaderIfNoneMatch), strings.TrimPrefix(etag, "W/")) {
		resp.ResetBody()
		c.Status(fiber.StatusNotModified)
		return
	}
	if len(body) < 1024 {
		return
	}
	accept := c.Get(fiber.HeaderAcceptEncoding)
	switch {
	case accepts(accept, "br"):
		resp.SetBodyRaw(brotliLevel(body, dynamicBrotliLevel))
		c.Set(fiber.HeaderContentEncoding, "br")
	case accepts(accept, "gzip"):
		resp.SetBodyRaw(gzipLevel(body, gzip.DefaultCompression))
		c.Set(fiber.HeaderContentEncoding, "gzip")
	}
}

// dynamicBrotliLevel trades a little size for speed on responses
// compressed per request (static files get the best level once).
const dynamicBrotliLevel = 5
