package cache_test

import (
	"fmt"
	"testing"
	"time"

	"suiji/backend"
	"suiji/storage/cache"
	"suiji/storage/storagetest"
)

// assertLimited fails unless err is ERATELIMIT carrying a delay in (0, max].
func assertLimited(t *testing.T, err error, max time.Duration, what string) {
	t.Helper()
	if backend.ErrorCode(err) != backend.ERATELIMIT {
		t.Fatalf("%s: Check = %v, want ERATELIMIT", what, err)
	}
	d, ok := backend.RetryAfter(err)
	if !ok || d <= 0 || d > max {
		t.Fatalf("%s: RetryAfter = %v, %v; want a delay in (0, %v]", what, d, ok, max)
	}
}

func TestThrottleDefaultsUsernameLimit(t *testing.T) {
	c := storagetest.Redis(t)
	l := cache.NewLoginThrottle(c, cache.ThrottleOptions{})
	ctx := t.Context()

	for i := range cache.DefaultLoginUserLimit {
		if err := l.Check(ctx, "alice", "10.0.0.1"); err != nil {
			t.Fatalf("Check before failure %d: %v", i+1, err)
		}
		// Changing the case of the name must not buy a fresh counter.
		name := "alice"
		if i%2 == 1 {
			name = "ALICE"
		}
		if err := l.Fail(ctx, name, "10.0.0.1"); err != nil {
			t.Fatalf("Fail %d: %v", i+1, err)
		}
	}
	err := l.Check(ctx, "Alice", "10.0.0.2")
	assertLimited(t, err, cache.DefaultLoginWindow, "after 10 failures, from another address")
	if msg := backend.ErrorMessage(err); msg != "too many failed sign-ins; try again in 900 s" {
		t.Errorf("message %q", msg)
	}

	// Other users, even from the same address, are unaffected.
	if err := l.Check(ctx, "bob", "10.0.0.1"); err != nil {
		t.Fatalf("Check for another username: %v", err)
	}
	// A successful sign-in clears the username's counter.
	if err := l.Succeed(ctx, "ALICE"); err != nil {
		t.Fatalf("Succeed: %v", err)
	}
	if err := l.Check(ctx, "alice", "10.0.0.1"); err != nil {
		t.Fatalf("Check after Succeed: %v", err)
	}
}

func TestThrottleAddressLimitAcrossUsernames(t *testing.T) {
	c := storagetest.Redis(t)
	l := cache.NewLoginThrottle(c, cache.ThrottleOptions{})
	ctx := t.Context()

	// One password tried against many accounts: no username reaches its
	// limit, the address does.
	for i := range cache.DefaultLoginIPLimit {
		if err := l.Check(ctx, fmt.Sprintf("user%d", i), "192.0.2.7"); err != nil {
			t.Fatalf("Check before failure %d: %v", i+1, err)
		}
		if err := l.Fail(ctx, fmt.Sprintf("user%d", i), "192.0.2.7"); err != nil {
			t.Fatal(err)
		}
	}
	assertLimited(t, l.Check(ctx, "someone-new", "192.0.2.7"), cache.DefaultLoginWindow, "after 50 failures from one address")
	// Succeeding on some account does not reset the address.
	if err := l.Succeed(ctx, "user1"); err != nil {
		t.Fatal(err)
	}
	assertLimited(t, l.Check(ctx, "user1", "192.0.2.7"), cache.DefaultLoginWindow, "after Succeed on another account")
	// Another address is not affected.
	if err := l.Check(ctx, "someone-new", "192.0.2.8"); err != nil {
		t.Fatalf("Check from another address: %v", err)
	}
}

func TestThrottleIPv6CountsPerPrefix(t *testing.T) {
	c := storagetest.Redis(t)
	l := cache.NewLoginThrottle(c, cache.ThrottleOptions{IPLimit: 3})
	ctx := t.Context()
	for i := range 3 {
		if err := l.Fail(ctx, fmt.Sprintf("u%d", i), fmt.Sprintf("2001:db8:1:2::%x", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	assertLimited(t, l.Check(ctx, "u9", "2001:db8:1:2:ffff::9"), cache.DefaultLoginWindow, "fresh address in the same /64")
	if err := l.Check(ctx, "u9", "2001:db8:1:3::1"); err != nil {
		t.Fatalf("Check from another /64: %v", err)
	}
}

func TestThrottleWindowEnds(t *testing.T) {
	c := storagetest.Redis(t)
	window := 400 * time.Millisecond
	l := cache.NewLoginThrottle(c, cache.ThrottleOptions{UserLimit: 2, Window: window})
	ctx := t.Context()
	for range 2 {
		if err := l.Fail(ctx, "carol", "10.1.1.1"); err != nil {
			t.Fatal(err)
		}
	}
	err := l.Check(ctx, "carol", "10.1.1.1")
	assertLimited(t, err, window, "after 2 failures")
	if msg := backend.ErrorMessage(err); msg != "too many failed sign-ins; try again in 1 s" {
		t.Errorf("message %q: sub-second waits round up", msg)
	}
	time.Sleep(window + 200*time.Millisecond)
	if err := l.Check(ctx, "carol", "10.1.1.1"); err != nil {
		t.Fatalf("Check after the window: %v", err)
	}
}

func TestThrottleSharedBetweenInstances(t *testing.T) {
	a := storagetest.Redis(t)
	// A second connection with the same prefix plays a second server
	// instance.
	b, err := cache.Open(t.Context(), cache.Options{URL: storagetest.Config(t).RedisURL, Prefix: a.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	la := cache.NewLoginThrottle(a, cache.ThrottleOptions{})
	lb := cache.NewLoginThrottle(b, cache.ThrottleOptions{})
	ctx := t.Context()

	for i := range cache.DefaultLoginUserLimit {
		l := la
		if i%2 == 1 {
			l = lb
		}
		if err := l.Fail(ctx, "dave", fmt.Sprintf("10.2.0.%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	assertLimited(t, la.Check(ctx, "dave", "10.2.1.1"), cache.DefaultLoginWindow, "instance A")
	assertLimited(t, lb.Check(ctx, "dave", "10.2.1.1"), cache.DefaultLoginWindow, "instance B")
	if err := lb.Succeed(ctx, "dave"); err != nil {
		t.Fatal(err)
	}
	if err := la.Check(ctx, "dave", "10.2.1.1"); err != nil {
		t.Fatalf("instance A after Succeed on B: %v", err)
	}
}

func TestThrottleUnavailable(t *testing.T) {
	c := storagetest.Redis(t)
	closed, err := cache.Open(t.Context(), cache.Options{URL: storagetest.Config(t).RedisURL, Prefix: c.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	l := cache.NewLoginThrottle(closed, cache.ThrottleOptions{})
	ctx := t.Context()
	for name, err := range map[string]error{
		"Check":   l.Check(ctx, "u", "10.0.0.1"),
		"Fail":    l.Fail(ctx, "u", "10.0.0.1"),
		"Succeed": l.Succeed(ctx, "u"),
	} {
		if backend.ErrorCode(err) != backend.EUNAVAILABLE {
			t.Errorf("%s on a closed connection: %v, want EUNAVAILABLE", name, err)
		}
	}
}
