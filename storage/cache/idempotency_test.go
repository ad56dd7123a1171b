package cache_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
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

// TestIdempotencyClaimTokensKeepALapsedRequestOffTheRetrysClaim: request A
// claims a key and its claim lapses (its renewals failed); retry B claims
// the key anew. A, giving up or finishing late, must not touch B's claim —
// else a third copy C could claim the key and run beside B.
func TestIdempotencyClaimTokensKeepALapsedRequestOffTheRetrysClaim(t *testing.T) {
	c := storagetest.Redis(t)
	s := cache.NewIdempotencyStore(c)
	s.ClaimTTL = 200 * time.Millisecond
	ctx := t.Context()

	tokenA, got, err := s.Claim(ctx, "u", "k", "fp")
	if err != nil || got != nil || tokenA == "" {
		t.Fatalf("A: Claim = %q, %v, %v; want a new claim with a token", tokenA, got, err)
	}
	time.Sleep(300 * time.Millisecond) // A's claim lapses
	tokenB, got, err := s.Claim(ctx, "u", "k", "fp")
	if err != nil || got != nil || tokenB == "" || tokenB == tokenA {
		t.Fatalf("B: Claim = %q, %v, %v; want a new claim with a token of its own", tokenB, got, err)
	}
	s.ClaimTTL = time.Minute // B's claim holds from here on
	if err := s.ExtendClaim(ctx, "u", "k", "fp", tokenB); err != nil {
		t.Fatal(err)
	}

	// A gives up: B's claim stays, so C is refused as in flight.
	if err := s.AbandonClaim(ctx, "u", "k", "fp", tokenA); err != nil {
		t.Fatalf("A: AbandonClaim: %v", err)
	}
	if _, _, err := s.Claim(ctx, "u", "k", "fp"); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("C after A abandoned: Claim = %v, want ECONFLICT (B still in flight)", err)
	}
	// Neither can A renew or complete B's claim, nor can the token-less
	// methods of backend.IdempotencyStore free it.
	if err := s.ExtendClaim(ctx, "u", "k", "fp", tokenA); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Errorf("A: ExtendClaim of B's claim = %v, want ECONFLICT", err)
	}
	if err := s.FinishClaim(ctx, "u", "k", "fp", tokenA, &backend.StoredResponse{Status: 500}); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Errorf("A: FinishClaim over B's claim = %v, want ECONFLICT", err)
	}
	if err := s.Abandon(ctx, "u", "k"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Claim(ctx, "u", "k", "fp"); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("C after a token-less Abandon: Claim = %v, want ECONFLICT (B still in flight)", err)
	}

	// B finishes; its answer is what C gets.
	if err := s.FinishClaim(ctx, "u", "k", "fp", tokenB, &backend.StoredResponse{Status: 201, Body: []byte(`{"by":"B"}`)}); err != nil {
		t.Fatalf("B: FinishClaim: %v", err)
	}
	tokenC, got, err := s.Claim(ctx, "u", "k", "fp")
	if err != nil || got == nil || got.Status != 201 || string(got.Body) != `{"by":"B"}` || tokenC != "" {
		t.Fatalf("C after B finished: Claim = %q, %+v, %v; want B's stored 201", tokenC, got, err)
	}
	// And B's own abandon, had it come, frees only its own claim.
	tokenD, _, err := s.Claim(ctx, "u", "k2", "fp")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AbandonClaim(ctx, "u", "k2", "fp", tokenD); err != nil {
		t.Fatal(err)
	}
	if tok, got, err := s.Claim(ctx, "u", "k2", "fp"); err != nil || got != nil || tok == "" {
		t.Fatalf("Claim after its holder abandoned = %q, %v, %v; want a new claim", tok, got, err)
	}
}

// TestIdempotencyRepliesOverTheCapAreNotKept: a reply larger than MaxReply
// is not stored; the key records the outcome, so a repeat is refused with
// 422 naming the result to fetch — never run again.
func TestIdempotencyRepliesOverTheCapAreNotKept(t *testing.T) {
	c := storagetest.Redis(t)
	s := cache.NewIdempotencyStore(c)
	s.MaxReply = 1000
	ctx := t.Context()

	for key, size := range map[string]int{"small": 1000, "large": 1001} {
		tok, _, err := s.Claim(ctx, "u", key, "fp")
		if err != nil {
			t.Fatal(err)
		}
		r := &backend.StoredResponse{Status: 201, ContentType: "application/json", Location: "/api/v1/evidence/e-" + key, Body: bytes.Repeat([]byte("x"), size)}
		if err := s.FinishClaim(ctx, "u", key, "fp", tok, r); err != nil {
			t.Fatalf("%s: FinishClaim: %v", key, err)
		}
	}
	if _, got, err := s.Claim(ctx, "u", "small", "fp"); err != nil || got == nil || len(got.Body) != 1000 {
		t.Fatalf("a reply of MaxReply bytes: Claim replays %v, error %v; want it replayed", got != nil, err)
	}
	_, got, err := s.Claim(ctx, "u", "large", "fp")
	if backend.ErrorCode(err) != backend.EUNPROCESSABLE || got != nil {
		t.Fatalf("a reply over MaxReply: Claim replays %v, error %v; want EUNPROCESSABLE", got != nil, err)
	}
	if msg := backend.ErrorMessage(err); !strings.Contains(msg, "carried out (status 201)") || !strings.Contains(msg, "/api/v1/evidence/e-large") {
		t.Errorf("message %q does not say the request was carried out and where its result is", msg)
	}
	// Only the outcome is in Redis, not the body.
	if n := c.Client().StrLen(ctx, c.Key("idem", "u", sha256Hex("large"))).Val(); n == 0 || n > 400 {
		t.Errorf("the entry of a reply over MaxReply holds %d bytes", n)
	}
	// The default is above the largest reply of the default limits: a
	// 2 GiB video's 256 presigned part URLs, about 150 KB.
	if cache.IdempotencyMaxReply < 200<<10 {
		t.Errorf("IdempotencyMaxReply = %d, below a 2 GiB video's upload instructions", cache.IdempotencyMaxReply)
	}
}

// TestIdempotencyReplyBudgetPerScope: once a scope's reply bodies reach
// ReplyBudget in the window, further replies are kept without their bodies
// (nothing is refused); another scope has its own budget.
func TestIdempotencyReplyBudgetPerScope(t *testing.T) {
	c := storagetest.Redis(t)
	s := cache.NewIdempotencyStore(c)
	s.ReplyBudget = 2500
	ctx := t.Context()
	finish := func(scope, key string) {
		t.Helper()
		tok, _, err := s.Claim(ctx, scope, key, "fp")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.FinishClaim(ctx, scope, key, "fp", tok, &backend.StoredResponse{Status: 200, Body: bytes.Repeat([]byte("y"), 1000)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"k1", "k2", "k3"} {
		finish("u", k)
	}
	finish("v", "k1")
	for _, tc := range []struct {
		scope, key string
		kept       bool
	}{{"u", "k1", true}, {"u", "k2", true}, {"u", "k3", false}, {"v", "k1", true}} {
		_, got, err := s.Claim(ctx, tc.scope, tc.key, "fp")
		if tc.kept && (err != nil || got == nil || len(got.Body) != 1000) {
			t.Errorf("%s/%s: replayed %v, error %v; want the reply replayed", tc.scope, tc.key, got != nil, err)
		}
		if !tc.kept && backend.ErrorCode(err) != backend.EUNPROCESSABLE {
			t.Errorf("%s/%s over the budget: replayed %v, error %v; want EUNPROCESSABLE", tc.scope, tc.key, got != nil, err)
		}
	}
	ttl := c.Client().PTTL(ctx, c.Key("idem-quota", "bytes", "u")).Val()
	if ttl <= 0 || ttl > cache.IdempotencyTTL {
		t.Errorf("the budget's counter expires in %v, want within %v", ttl, cache.IdempotencyTTL)
	}
}

// TestIdempotencyNewKeysPerScopeAreBounded: a scope claims at most KeyLimit
// new keys per window; past it a new key is refused (ERATELIMIT with the
// wait) and left free, while repeats of keys it used are still answered. A
// claim given up after a server error is not counted.
func TestIdempotencyNewKeysPerScopeAreBounded(t *testing.T) {
	c := storagetest.Redis(t)
	s := cache.NewIdempotencyStore(c)
	s.KeyLimit = 3
	ctx := t.Context()

	tok1, _, err := s.Claim(ctx, "u", "k1", "fp")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FinishClaim(ctx, "u", "k1", "fp", tok1, &backend.StoredResponse{Status: 201}); err != nil {
		t.Fatal(err)
	}
	tok2, _, err := s.Claim(ctx, "u", "k2", "fp")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AbandonClaim(ctx, "u", "k2", "fp", tok2); err != nil { // a 5xx: not counted
		t.Fatal(err)
	}
	for _, k := range []string{"k2", "k3"} {
		if _, _, err := s.Claim(ctx, "u", k, "fp"); err != nil {
			t.Fatalf("Claim %s: %v", k, err)
		}
	}
	_, _, err = s.Claim(ctx, "u", "k4", "fp")
	if backend.ErrorCode(err) != backend.ERATELIMIT {
		t.Fatalf("a fourth new key: %v, want ERATELIMIT", err)
	}
	if wait, ok := backend.RetryAfter(err); !ok || wait < time.Second || wait > cache.IdempotencyTTL {
		t.Errorf("Retry-After %v (%v), want within the window", wait, ok)
	}
	if n := c.Client().Exists(ctx, c.Key("idem", "u", sha256Hex("k4"))).Val(); n != 0 {
		t.Errorf("the refused key is held in Redis")
	}
	// Keys already used still answer: a replay, an in-flight refusal.
	if _, got, err := s.Claim(ctx, "u", "k1", "fp"); err != nil || got == nil || got.Status != 201 {
		t.Errorf("replay over the limit: %v, %v; want the stored 201", got, err)
	}
	if _, _, err := s.Claim(ctx, "u", "k3", "fp"); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Errorf("in-flight key over the limit: %v, want ECONFLICT", err)
	}
	// Other scopes have their own count; the token-less Begin is counted too.
	if _, _, err := s.Claim(ctx, "v", "k4", "fp"); err != nil {
		t.Errorf("another scope: %v", err)
	}
	if _, err := s.Begin(ctx, "u", "k5", "fp"); backend.ErrorCode(err) != backend.ERATELIMIT {
		t.Errorf("token-less Begin over the limit: %v, want ERATELIMIT", err)
	}
	// The window is the period responses are kept.
	ttl := c.Client().PTTL(ctx, c.Key("idem-quota", "keys", "u")).Val()
	if ttl <= cache.IdempotencyTTL-time.Minute || ttl > cache.IdempotencyTTL {
		t.Errorf("the key count expires in %v, want about %v", ttl, cache.IdempotencyTTL)
	}
}
