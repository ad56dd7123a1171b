package cache_test

import (
	"errors"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"suiji/backend"
	"suiji/storage/cache"
	"suiji/storage/storagetest"
)

func TestLockIsExclusiveAndFenced(t *testing.T) {
	c := storagetest.Redis(t)
	locks := c.Locks()
	ctx := t.Context()

	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := locks.Acquire(ctx, "draw:plan-1", time.Minute); err == nil {
				wins.Add(1)
			} else if backend.ErrorCode(err) != backend.ECONFLICT || !errors.Is(err, backend.ErrLeaseHeld) {
				t.Errorf("Acquire of a held lease: %v, want ECONFLICT with cause ErrLeaseHeld", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d holders at once, want 1", wins.Load())
	}

	// A lease that expired is lost: it cannot extend or release the next
	// holder's lock.
	short, err := locks.Acquire(ctx, "draw:plan-2", 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(120 * time.Millisecond)
	next, err := locks.Acquire(ctx, "draw:plan-2", time.Minute)
	if err != nil {
		t.Fatalf("expired lock not free: %v", err)
	}
	if err := short.Extend(ctx); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("stale holder extended: %v", err)
	}
	if err := short.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := next.Extend(ctx); err != nil {
		t.Fatalf("the stale holder's release freed the new holder's lock: %v", err)
	}
	if err := next.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := locks.Acquire(ctx, "draw:plan-2", time.Minute); err != nil {
		t.Fatalf("released lock not free: %v", err)
	}
}

func TestLockWithRedisGoneCannotExtend(t *testing.T) {
	cfg := storagetest.Config(t)
	shared := storagetest.Redis(t)
	u, _ := url.Parse(cfg.RedisURL)
	proxy := storagetest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	c, err := cache.Open(t.Context(), cache.Options{URL: u.String(), Prefix: shared.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lease, err := c.Locks().Acquire(t.Context(), "draw:plan-3", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	if err := lease.Extend(t.Context()); backend.ErrorCode(err) != backend.EUNAVAILABLE {
		t.Fatalf("Extend with Redis gone: %v, want EUNAVAILABLE", err)
	}
	// Through a working connection the lock is still held until it expires.
	if _, err := shared.Locks().Acquire(t.Context(), "draw:plan-3", time.Minute); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("lock vanished: %v", err)
	}
}
