package mobileapi

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/config"
	"suiji/storage/cache"
	"suiji/storage/mongodb"
	"suiji/storage/objects"
	"suiji/storage/storagetest"
)

// TestReadyzReportsEachService runs against the real test stack. For each
// service in turn, its client is connected through a relay that is then cut,
// so that service (and only it) is unreachable for this server.
func TestReadyzReportsEachService(t *testing.T) {
	live := map[string]backend.Pinger{
		"mongodb": storagetest.Mongo(t),
		"redis":   storagetest.Redis(t),
		"minio":   storagetest.Objects(t),
	}
	cfg := storagetest.Config(t)
	names := []string{"mongodb", "redis", "minio"}

	ready := func(t *testing.T, pingers map[string]backend.Pinger) (int, ReadyResponse) {
		var deps []backend.Dependency
		for _, n := range names {
			deps = append(deps, backend.Dependency{Name: n, Pinger: pingers[n]})
		}
		s := newTestServer(t, Config{ReadyTimeout: 2 * time.Second}, deps...)
		resp, body := do(t, s, httptest.NewRequest("GET", "/readyz", nil))
		var r ReadyResponse
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("readyz body %q: %v", body, err)
		}
		return resp.StatusCode, r
	}

	t.Run("all up", func(t *testing.T) {
		status, r := ready(t, live)
		if status != 200 || r.Status != "ok" || len(r.Down) != 0 {
			t.Fatalf("status %d, %+v", status, r)
		}
		for _, n := range names {
			if c := r.Checks[n]; c.Status != "ok" || c.LatencyMS <= 0 {
				t.Errorf("%s: %+v, want ok with a latency", n, c)
			}
		}
	})

	for _, down := range names {
		t.Run(down+" down", func(t *testing.T) {
			pingers := map[string]backend.Pinger{}
			for n, p := range live {
				pingers[n] = p
			}
			pingers[down] = cutOff(t, cfg, down)

			status, r := ready(t, pingers)
			if status != 503 || r.Status != "unavailable" {
				t.Fatalf("status %d %q, want 503 unavailable", status, r.Status)
			}
			if !slices.Equal(r.Down, []string{down}) {
				t.Fatalf("down = %v, want [%s]", r.Down, down)
			}
			if c := r.Checks[down]; c.Status != "down" || c.Error == "" {
				t.Errorf("%s check %+v, want down with a reason", down, c)
			}
			// Anyone may ask: the reason names no host or address.
			if c := r.Checks[down]; strings.Contains(c.Error, "127.0.0.1") || strings.Contains(c.Error, "localhost") {
				t.Errorf("%s check tells an anonymous caller where it lives: %q", down, c.Error)
			}
			for _, n := range names {
				if n != down && r.Checks[n].Status != "ok" {
					t.Errorf("%s reported %+v though it is up", n, r.Checks[n])
				}
			}
		})
	}
}

// cutOff connects a client for the named service through a relay to the
// real service, proves it works, then cuts the relay.
func cutOff(t *testing.T, cfg *config.Config, service string) backend.Pinger {
	t.Helper()
	ctx := t.Context()
	var (
		p   backend.Pinger
		err error
	)
	switch service {
	case "mongodb":
		proxy := storagetest.NewProxy(t, hostOf(t, cfg.MongoURI))
		var db *mongodb.DB
		db, err = mongodb.Open(ctx, mongodb.Options{URI: "mongodb://" + proxy.Addr() + "/?directConnection=true", Database: "readyz"})
		if err == nil {
			t.Cleanup(func() { _ = db.Close(t.Context()) })
			p = db
		}
		defer proxy.Cut()
	case "redis":
		proxy := storagetest.NewProxy(t, hostOf(t, cfg.RedisURL))
		u, _ := url.Parse(cfg.RedisURL)
		u.Host = proxy.Addr()
		var c *cache.Cache
		c, err = cache.Open(ctx, cache.Options{URL: u.String(), Prefix: cfg.RedisPrefix})
		if err == nil {
			t.Cleanup(func() { _ = c.Close() })
			p = c
		}
		defer proxy.Cut()
	case "minio":
		proxy := storagetest.NewProxy(t, cfg.MinIOEndpoint)
		p, err = objects.Open(ctx, objects.Options{
			Endpoint: proxy.Addr(), AccessKey: cfg.MinIOAccessKey, SecretKey: cfg.MinIOSecretKey,
			Region: cfg.MinIORegion, EvidenceBucket: "readyz-e", DocumentsBucket: "readyz-d",
		})
		defer proxy.Cut()
	}
	if err != nil {
		t.Fatalf("%s through relay: %v", service, err)
	}
	if err := p.Ping(ctx); err != nil {
		t.Fatalf("%s through relay before the cut: %v", service, err)
	}
	return p
}

func hostOf(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		t.Fatalf("cannot find host in %q: %v", rawURL, err)
	}
	return u.Host
}
