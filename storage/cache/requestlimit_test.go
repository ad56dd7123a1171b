package cache_test

import (
	"testing"
	"time"

	"suiji/storage/cache"
	"suiji/storage/storagetest"
)

func TestRequestLimiterCountsEachKeyInItsWindow(t *testing.T) {
	c := storagetest.Redis(t)
	window := 800 * time.Millisecond
	l := cache.NewRequestLimiter(c, "test", 3, window)
	ctx := t.Context()
	for i := range 3 {
		if err := l.Allow(ctx, "10.0.0.1"); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	assertLimited(t, l.Allow(ctx, "10.0.0.1"), window, "fourth request")
	// Another address has its own count; another limiter its own keys.
	if err := l.Allow(ctx, "10.0.0.2"); err != nil {
		t.Fatalf("other address: %v", err)
	}
	if err := cache.NewRequestLimiter(c, "other", 3, window).Allow(ctx, "10.0.0.1"); err != nil {
		t.Fatalf("other limiter: %v", err)
	}
	// The window ends and the address may come back.
	time.Sleep(window + 200*time.Millisecond)
	if err := l.Allow(ctx, "10.0.0.1"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}
