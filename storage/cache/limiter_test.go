package cache_test

import (
	"fmt"
	"sync"
	"sync/atomic"
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
		t.Fatalf("%s: %v, want ERATELIMIT", what, err)
	}
	d, ok := backend.RetryAfter(err)
	if !ok || d <= 0 || d > max {
		t.Fatalf("%s: RetryAfter = %v, %v; want a delay in (0, %v]", what, d, ok, max)
	}
}

// fail makes n counted attempts of username from ip that all fail.
func fail(t *testing.T, l *cache.LoginThrottle, username, ip string, n int) {
	t.Helper()
	for i := range n {
		if err := l.Attempt(t.Context(), username, ip); err != nil {
			t.Fatalf("attempt %d of %s from %s: %v", i+1, username, ip, err)
		}
		if err := l.Fail(t.Context(), username, ip); err != nil {
			t.Fatal(err)
		}
	}
}

// TestThrottleLocksThePairNotTheUser: ten failures for a username from one
// address lock that pair for the first lock period; the same username
// from another address, and another username from the first address,
// still go ahead — a stranger cannot lock the owner out.
func TestThrottleLocksThePairNotTheUser(t *testing.T) {
	l := cache.NewLoginThrottle(storagetest.Redis(t), cache.ThrottleOptions{})
	ctx := t.Context()
	fail(t, l, "coordinator", "203.0.113.66", cache.DefaultLoginPairLimit)
	assertLimited(t, l.Attempt(ctx, "Coordinator", "203.0.113.66"), cache.DefaultLoginLock, "the locked pair (any case)")
	if err := l.Attempt(ctx, "coordinator", "10.0.0.1"); err != nil {
		t.Fatalf("the owner from the office: %v", err)
	}
	if err := l.Succeed(ctx, "coordinator", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Attempt(ctx, "leader", "203.0.113.66"); err != nil {
		t.Fatalf("another user from the stranger's address: %v", err)
	}
}

// TestThrottleCountsBeforeChecking: 40 attempts for one pair at once, none
// of them failed yet: exactly the limit go ahead, the rest are refused
// without being counted.
func TestThrottleCountsBeforeChecking(t *testing.T) {
	l := cache.NewLoginThrottle(storagetest.Redis(t), cache.ThrottleOptions{})
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			switch err := l.Attempt(t.Context(), "alice", "192.0.2.1"); backend.ErrorCode(err) {
			case "":
				allowed.Add(1)
			case backend.ERATELIMIT:
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != cache.DefaultLoginPairLimit {
		t.Fatalf("%d attempts went ahead, want %d", n, cache.DefaultLoginPairLimit)
	}
}

// TestThrottleLocksGrow: each lock of the same pair lasts twice as long as
// the one before, up to MaxLock, as the wait each refusal reports shows; a
// success forgets them. A lock's end is brought forward (EndPairLock)
// rather than waited for.
func TestThrottleLocksGrow(t *testing.T) {
	lock := 10 * time.Second
	l := cache.NewLoginThrottle(storagetest.Redis(t), cache.ThrottleOptions{PairLimit: 2, Lock: lock, MaxLock: 4 * lock})
	ctx := t.Context()
	locked := func(round int, want time.Duration) {
		t.Helper()
		err := l.Attempt(ctx, "bob", "198.51.100.9")
		wait, ok := backend.RetryAfter(err)
		if backend.ErrorCode(err) != backend.ERATELIMIT || !ok || wait > want || wait < want-2*time.Second {
			t.Fatalf("round %d: %v (wait %s), want locked for %s", round, err, wait, want)
		}
		if err := cache.EndPairLock(l, "bob", "198.51.100.9"); err != nil {
			t.Fatal(err)
		}
	}
	for round, want := range []time.Duration{lock, 2 * lock, 4 * lock, 4 * lock} {
		fail(t, l, "bob", "198.51.100.9", 2)
		locked(round, want)
	}
	if err := l.Attempt(ctx, "bob", "198.51.100.9"); err != nil {
		t.Fatal(err)
	}
	if err := l.Succeed(ctx, "bob", "198.51.100.9"); err != nil {
		t.Fatal(err)
	}
	fail(t, l, "bob", "198.51.100.9", 2)
	locked(4, lock)
}

func TestThrottleAddressLimitAcrossUsernames(t *testing.T) {
	l := cache.NewLoginThrottle(storagetest.Redis(t), cache.ThrottleOptions{})
	ctx := t.Context()
	for i := range cache.DefaultLoginIPLimit {
		fail(t, l, fmt.Sprintf("user%d", i), "192.0.2.7", 1)
	}
	assertLimited(t, l.Attempt(ctx, "someone-new", "192.0.2.7"), cache.DefaultLoginWindow, "after 50 failures from one address")
	// Signing in to an account of one's own does not reset the address.
	assertLimited(t, l.Attempt(ctx, "user1", "192.0.2.7"), cache.DefaultLoginWindow, "a known account from the address")
	if err := l.Attempt(ctx, "someone-new", "192.0.2.8"); err != nil {
		t.Fatalf("another address: %v", err)
	}
}

// TestThrottleSuccessGivesTheAddressItsAttemptBack: the address counts
// failures only, so staff signing in all day behind one address never
// reach its limit.
func TestThrottleSuccessGivesTheAddressItsAttemptBack(t *testing.T) {
	l := cache.NewLoginThrottle(storagetest.Redis(t), cache.ThrottleOptions{IPLimit: 3})
	ctx := t.Context()
	for i := range 10 {
		user := fmt.Sprintf("staff%d", i)
		if err := l.Attempt(ctx, user, "10.1.1.1"); err != nil {
			t.Fatalf("sign-in %d: %v", i, err)
		}
		if err := l.Succeed(ctx, user, "10.1.1.1"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestThrottleIPv6CountsPerPrefix(t *testing.T) {
	l := cache.NewLoginThrottle(storagetest.Redis(t), cache.ThrottleOptions{IPLimit: 3})
	ctx := t.Context()
	for i := range 3 {
		fail(t, l, fmt.Sprintf("u%d", i), fmt.Sprintf("2001:db8:1:2::%x", i+1), 1)
	}
	assertLimited(t, l.Attempt(ctx, "u9", "2001:db8:1:2:ffff::9"), cache.DefaultLoginWindow, "fresh address in the same /64")
	if err := l.Attempt(ctx, "u9", "2001:db8:1:3::1"); err != nil {
		t.Fatalf("another /64: %v", err)
	}
}

func TestThrottleWindowEnds(t *testing.T) {
	window := 300 * time.Millisecond
	l := cache.NewLoginThrottle(storagetest.Redis(t), cache.ThrottleOptions{IPLimit: 2, Window: window})
	ctx := t.Context()
	fail(t, l, "carol", "10.1.1.1", 1)
	fail(t, l, "dan", "10.1.1.1", 1)
	// Clients are never told to wait less than a second.
	assertLimited(t, l.Attempt(ctx, "erin", "10.1.1.1"), time.Second, "within the window")
	time.Sleep(window + 100*time.Millisecond)
	if err := l.Attempt(ctx, "erin", "10.1.1.1"); err != nil {
		t.Fatalf("after the window: %v", err)
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
	for i := range cache.DefaultLoginPairLimit {
		l := la
		if i%2 == 1 {
			l = lb
		}
		fail(t, l, "dave", "10.2.0.1", 1)
	}
	assertLimited(t, la.Attempt(ctx, "dave", "10.2.0.1"), cache.DefaultLoginLock, "instance A")
	assertLimited(t, lb.Attempt(ctx, "dave", "10.2.0.1"), cache.DefaultLoginLock, "instance B")
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
		"Attempt": l.Attempt(ctx, "u", "10.0.0.1"),
		"Fail":    l.Fail(ctx, "u", "10.0.0.1"),
		"Succeed": l.Succeed(ctx, "u", "10.0.0.1"),
		"Release": l.Release(ctx, "u", "10.0.0.1"),
	} {
		if backend.ErrorCode(err) != backend.EUNAVAILABLE {
			t.Errorf("%s on a closed connection: %v, want EUNAVAILABLE", name, err)
		}
	}
}
