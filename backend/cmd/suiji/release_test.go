package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"

	"suiji/mobile-api/web"
)

// releaseProxy stands for a deployment of the next release of the phone
// app, for the browser scenario that follows a phone through an update:
// a reverse proxy on an origin of its own in front of the server, which
// forwards everything as it is until told otherwise. POST
// /__next-release?half=1 serves the service worker of another release
// while every other file still comes from the running one (a rolling
// deploy half-way); POST /__next-release serves the next release whole:
// the worker with its version, every file naming it (X-Suiji-Shell) and a
// task page that marks the document (data-release="next"). The server
// itself is the one under test; only responses are rewritten on their way.
func releaseProxy(t *testing.T, base string) string {
	t.Helper()
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	const (
		current = iota
		half
		next
	)
	var mode atomic.Int32
	rewrites := map[string]func([]byte) []byte{
		"/app/sw.js": func(b []byte) []byte {
			return regexp.MustCompile(`const VERSION = '[^']*';`).ReplaceAll(b, []byte("const VERSION = 'next-release';"))
		},
		"/app/task.js": func(b []byte) []byte {
			if mode.Load() != next {
				return b
			}
			return append(b, "\ndocument.documentElement.dataset.release = 'next';\n"...)
		},
	}
	proxy := &httputil.ReverseProxy{FlushInterval: -1} // the live events stream through at once
	proxy.Rewrite = func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
		if mode.Load() != current && rewrites[r.Out.URL.Path] != nil {
			// The whole body, uncompressed, to rewrite.
			for _, h := range []string{"Accept-Encoding", "If-None-Match", "If-Modified-Since"} {
				r.Out.Header.Del(h)
			}
		}
	}
	proxy.ModifyResponse = func(resp *http.Response) error {
		if mode.Load() == next && resp.Header.Get(web.ShellHeader) != "" {
			resp.Header.Set(web.ShellHeader, "next-release")
		}
		rewrite := rewrites[resp.Request.URL.Path]
		if mode.Load() == current || rewrite == nil || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		body = rewrite(body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		resp.Header.Del("ETag")
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/__next-release" && r.Method == http.MethodPost {
			if r.URL.Query().Get("half") != "" {
				mode.Store(half)
			} else {
				mode.Store(next)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
