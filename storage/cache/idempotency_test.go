package cache_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"suiji/backend"
	"suiji/storage/cache"
	"suiji/storage/storagetest"
)

func TestIdempotencyBeginFinishReplay(t *testing.T) {
	c := storagetest.Redis(t)
	s := cache.NewIdempotencyStore(c)
	ctx := t.Context()

	got, err := s.Begin(ctx, "user-1", "key-1", "fp-a")
	if err != nil || got != nil {
		t.Fatalf("first Begin = %v, %v; want a new claim (nil, nil)", got, err)
	}
	// While the first request runs, a duplicate is refused and a different
	// request under the same key is unprocessable.
	if _, err := s.Begin(ctx, "user-1", "key-1", "fp-a"); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("Begin while in flight: %v, want ECONFLICT", err)
	}
	if _, err := s.Begin(ctx, "user-1", "key-1", "fp-b"); backend.ErrorCode(err) != backend.EUNPROCESSABLE {
		t.Fatalf("Begin with another fingerprint while in flight: %v, want EUNPROCESSABLE", err)
	}

	want := &backend.StoredResponse{
		Status:      201,
		ContentType: "application/json",
		Location:    "/api/v1/things/7",
		Body:        []byte{'{', 0, 0xff, '}'}, // not UTF-8: bodies are bytes
	}
	if err := s.Finish(ctx, "user-1", "key-1", "fp-a", want); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	for range 2 {
		got, err := s.Begin(ctx, "user-1", "key-1", "fp-a")
		if err != nil || got == nil {
			t.Fatalf("Begin after Finish = %v, %v; want the stored response", got, err)
		}
		if got.Status != want.Status || got.ContentType != want.ContentType ||
			got.Location != want.Location || !bytes.Equal(got.Body, want.Body) {
			t.Fatalf("replayed %+v, want %+v", got, want)
		}
	}
	if _, err := s.Begin(ctx, "user-1", "key-1", "fp-b"); backend.ErrorCode(err) != backend.EUNPROCESSABLE {
		t.Fatalf("Begin with another fingerprint after Finish: %v, want EUNPROCESSABLE", err)
	}

	// The stored response lives a day; the claim only minutes.
	ttl := c.Client().PTTL(ctx, c.Key("idem", "user-1", sha256Hex("key-1"))).Val()
	if ttl < cache.IdempotencyTTL-time.Minute || ttl > cache.IdempotencyTTL {
		t.Errorf("TTL after Finish = %v, want about %v", ttl, cache.IdempotencyTTL)
	}
	if _, err := s.Begin(ctx, "user-1", "key-2", "fp-a"); err != nil {
		t.Fatal(err)
	}
	ttl = c.Client().PTTL(ctx, c.Key("idem", "user-1", sha256Hex("key-2"))).Val()
	if ttl <= 0 || ttl > cache.IdempotencyClaimTTL {
		t.Errorf("TTL of an in-flight claim = %v, want in (0, %v]", ttl, cache.IdempotencyClaimTTL)
	}
}

func TestIdempotencyScopes(t *testing.T) {
	c := storagetest.Redis(t)
	s := cache.NewIdempotencyStore(c)
	ctx := t.Context()
	for _, scope := range []string{"user-1", "user-2", "anon:10.0.0.1"} {
		if got, err := s.Begin(ctx, scope, "same-key", "fp-"+scope); err != nil || got != nil {
			t.Fatalf("Begin in scope %s = %v, %v; want a new claim: scopes must not share keys", scope, got, err)
		}
	}
}

func TestIdempotencyAbandonFreesTheKey(t *testing.T) {
	c := storagetest.Redis(t)
	s := cache.NewIdempotencyStore(c)
	ctx := t.Context()

	if _, err := s.Begin(ctx, "u", "k", "fp-a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Abandon(ctx, "u", "k"); err != nil {
		t.Fatalf("Abandon: %v", err)
	}
	// Freed: a retry, even with another body, claims it anew.
	if got, err := s.Begin(ctx, "u", "k", "fp-b"); err != nil || got != nil {
		t.Fatalf("Begin after Abandon = %v, %v; want a new claim", got, err)
	}
	// The first request, finishing late, must not overwrite the new claim.
	err := s.Finish(ctx, "u", "k", "fp-a", &backend.StoredResponse{Status: 200})
	if backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("Finish of a lost claim: %v, want ECONFLICT", err)
	}
	if _, err := s.Begin(ctx, "u", "k", "fp-b"); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("the new claim was disturbed: Begin = %v, want ECONFLICT (still in flight)", err)
	}

	// Abandon never erases a completed response, and a missing key is fine.
	if err := s.Finish(ctx, "u", "k", "fp-b", &backend.StoredResponse{Status: 204}); err != nil {
		t.Fatal(err)
	}
	if err := s.Abandon(ctx, "u", "k"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Begin(ctx, "u", "k", "fp-b"); err != nil || got == nil || got.Status != 204 {
		t.Fatalf("Begin after Abandon of a completed key = %+v, %v; want the stored 204", got, err)
	}
	if err := s.Abandon(ctx, "u", "never-used"); err != nil {
		t.Fatalf("Abandon of an unknown key: %v", err)
	}
}

func TestIdempotencyCrashedClaimExpires(t *testing.T) {
	c := storagetest.Redis(t)
	s := cache.NewIdempotencyStore(c)
	s.ClaimTTL = 200 * time.Millisecond
	ctx := t.Context()

	if _, err := s.Begin(ctx, "u", "k", "fp"); err != nil {
		t.Fatal(err)
	}
	// The instance that claimed the key "crashes": nobody finishes it.
	time.Sleep(300 * time.Millisecond)
	if got, err := s.Begin(ctx, "u", "k", "fp"); err != nil || got != nil {
		t.Fatalf("Begin after the claim expired = %v, %v; want a new claim", got, err)
	}

	// A request that outlives its claim still stores its response when
	// nobody else took the key meanwhile.
	time.Sleep(300 * time.Millisecond)
	if err := s.Finish(ctx, "u", "k", "fp", &backend.StoredResponse{Status: 201}); err != nil {
		t.Fatalf("Finish after the claim expired: %v", err)
	}
	if got, err := s.Begin(ctx, "u", "k", "fp"); err != nil || got == nil || got.Status != 201 {
		t.Fatalf("Begin = %+v, %v; want the stored 201", got, err)
	}
}

func TestIdempotencyConcurrentBeginClaimsOnce(t *testing.T) {
	c := storagetest.Redis(t)
	s := cache.NewIdempotencyStore(c)
	ctx := t.Context()

	const n = 20
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		mu      sync.Mutex
		claimed int
		codes   = map[string]int{}
	)
	for range n {
		wg.Go(func() {
			<-start
			got, err := s.Begin(ctx, "u", "race", "fp")
			mu.Lock()
			defer mu.Unlock()
			if err == nil && got == nil {
				claimed++
			} else {
				codes[backend.ErrorCode(err)]++
			}
		})
	}
	close(start)
	wg.Wait()
	if claimed != 1 || codes[backend.ECONFLICT] != n-1 {
		t.Fatalf("%d goroutines claimed the key and the others got %v; want exactly 1 claim and %d ECONFLICT", claimed, codes, n-1)
	}
}

func TestIdempotencyUnavailable(t *testing.T) {
	c := storagetest.Redis(t)
	closed, err := cache.Open(t.Context(), cache.Options{URL: storagetest.Config(t).RedisURL, Prefix: c.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	s := cache.NewIdempotencyStore(closed)
	ctx := t.Context()
	if _, err := s.Begin(ctx, "u", "k", "fp"); backend.ErrorCode(err) != backend.EUNAVAILABLE {
		t.Errorf("Begin on a closed connection: %v, want EUNAVAILABLE", err)
	}
	if err := s.Finish(ctx, "u", "k", "fp", &backend.StoredResponse{Status: 200}); backend.ErrorCode(err) != backend.EUNAVAILABLE {
		t.Errorf("Finish on a closed connection: %v, want EUNAVAILABLE", err)
	}
	if err := s.Abandon(ctx, "u", "k"); backend.ErrorCode(err) != backend.EUNAVAILABLE {
		t.Errorf("Abandon on a closed connection: %v, want EUNAVAILABLE", err)
	}
}

// sha256Hex is how the store names a client's key inside Redis.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestIdempotencyExtendKeepsALongClaim: a claim renewed with Extend outlives
// its period for as long as it is renewed; Extend fails once the key holds
// someone else's claim or a finished response.
func TestIdempotencyExtendKeepsALongClaim(t *testing.T) {
	c := storagetest.Redis(t)
	s := cache.NewIdempotencyStore(c)
	s.ClaimTTL = 300 * time.Millisecond
	ctx := t.Context()
	if _, err := s.Begin(ctx, "u", "k", "fp"); err != nil {
		t.Fatal(err)
	}
	for range 6 { // 600 ms: twice the period
		time.Sleep(100 * time.Millisecond)
		if err := s.Extend(ctx, "u", "k", "fp"); err != nil {
			t.Fatalf("Extend: %v", err)
		}
	}
	if _, err := s.Begin(ctx, "u", "k", "fp"); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("Begin while the renewed claim runs: %v, want ECONFLICT", err)
	}
	if err := s.Extend(ctx, "u", "k", "another-fp"); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Errorf("Extend of someone else's claim: %v, want ECONFLICT", err)
	}
	if err := s.Finish(ctx, "u", "k", "fp", &backend.StoredResponse{Status: 201}); err != nil {
		t.Fatal(err)
	}
	if err := s.Extend(ctx, "u", "k", "fp"); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Errorf("Extend of a finished key: %v, want ECONFLICT", err)
	}
}
