package cache_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"suiji/backend"
	"suiji/storage/cache"
	"suiji/storage/storagetest"
)

func TestKeyAndRoundTrip(t *testing.T) {
	c := storagetest.Redis(t)
	ctx := t.Context()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	key := c.Key("lock", "draw", "42")
	if want := c.Prefix() + "lock:draw:42"; key != want {
		t.Fatalf("Key = %q, want %q", key, want)
	}
	if !strings.HasPrefix(c.Prefix(), storagetest.Config(t).RedisPrefix) {
		t.Errorf("test prefix %q does not start with the configured prefix", c.Prefix())
	}
	if err := c.Client().Set(ctx, key, "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Client().Get(ctx, key).Result()
	if err != nil || got != "v" {
		t.Fatalf("Get = %q, %v; want v", got, err)
	}
}

func TestMissingKeyIsNotFound(t *testing.T) {
	c := storagetest.Redis(t)
	err := c.Client().Get(t.Context(), c.Key("nothing")).Err()
	if got := backend.ErrorCode(cache.Translate(err)); got != backend.ENOTFOUND {
		t.Errorf("GET of a missing key: code %q (%v), want ENOTFOUND", got, err)
	}
}

func TestClosedClientIsUnavailable(t *testing.T) {
	c := storagetest.Redis(t)
	// A second connection, closed, so that the helper's cleanup still works.
	cfg := storagetest.Config(t)
	other, err := cache.Open(t.Context(), cache.Options{URL: cfg.RedisURL, Prefix: c.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	err = other.Ping(t.Context())
	if got := backend.ErrorCode(err); got != backend.EUNAVAILABLE {
		t.Errorf("Ping on a closed client: code %q (%v), want EUNAVAILABLE", got, err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	// Port 1 on loopback: nothing listens there, connections are refused.
	_, err := cache.Open(t.Context(), cache.Options{URL: "redis://:secret@127.0.0.1:1/3", Prefix: "x:"})
	if code := backend.ErrorCode(err); code != backend.EUNAVAILABLE {
		t.Fatalf("Open of a closed port: code %q (%v), want EUNAVAILABLE", code, err)
	}
	if msg := backend.ErrorMessage(err); msg != "Redis unreachable at redis://127.0.0.1:1/3" {
		t.Errorf("message %q, want it to name Redis and the address", msg)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestOpenInvalidURL(t *testing.T) {
	for _, url := range []string{"http://127.0.0.1:6379/0", "redis://:secret@127.0.0.1:6379/notanumber", "redis://:secret@[::1/0"} {
		_, err := cache.Open(t.Context(), cache.Options{URL: url})
		if code := backend.ErrorCode(err); code != backend.EINVALID {
			t.Errorf("Open(%q): code %q (%v), want EINVALID", url, code, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q): error leaks the password: %v", url, err)
		}
	}
}

func TestTranslate(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("WRONGTYPE Operation against a key holding the wrong kind of value"), backend.EINTERNAL},
		{backend.Errorf(backend.ECONFLICT, "already translated"), backend.ECONFLICT},
	} {
		if got := backend.ErrorCode(cache.Translate(tc.err)); got != tc.want {
			t.Errorf("translate(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
