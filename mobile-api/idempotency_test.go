package mobileapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/storage/cache"
	"suiji/storage/storagetest"
)

// objectsHandler is a test endpoint that creates "objects" in a map and
// counts how often it actually ran, so a test can tell a replay from a
// second execution. What it does depends on the name in the body.
type objectsHandler struct {
	mu      sync.Mutex
	calls   map[string]int    // name → times the handler ran for it
	objects map[string]string // id → name
	started chan struct{}     // "block": closed when the handler is running
	release chan struct{}     // "block": the handler waits for this
}

func (h *objectsHandler) create(c *fiber.Ctx) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(c.Body(), &in); err != nil {
		return backend.Errorf(backend.EINVALID, "malformed JSON")
	}
	h.mu.Lock()
	h.calls[in.Name]++
	n := h.calls[in.Name]
	h.mu.Unlock()

	switch in.Name {
	case "invalid":
		return backend.InvalidFields("bad object", map[string]string{"name": "not allowed"})
	case "limited":
		return backend.RateLimited(30*time.Second, "slow down")
	case "leased": // in progress elsewhere the first time, free afterwards
		if n == 1 {
			return backend.LeaseHeld("draw:plan-1")
		}
	case "busy": // the record kept changing under it the first time
		if n == 1 {
			return backend.Wrap(&backend.RetryAfterError{Delay: time.Second}, backend.ECONFLICT, "the task kept changing; try again")
		}
	case "flaky": // fails the first time, works afterwards
		if n == 1 {
			return io.ErrUnexpectedEOF
		}
	case "panicky":
		if n == 1 {
			panic("boom")
		}
	case "block":
		close(h.started)
		<-h.release
	}

	h.mu.Lock()
	id := fmt.Sprintf("obj-%d", len(h.objects)+1)
	h.objects[id] = in.Name
	h.mu.Unlock()
	c.Location("/test/objects/" + id)
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"id": id, "name": in.Name, "by": backend.ActorFromContext(c.UserContext()).UserID})
}

func (h *objectsHandler) count(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[name]
}

func (h *objectsHandler) created() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.objects)
}

// testActor stands in for the authentication middleware: X-Test-User names
// the acting user; without it the request is anonymous.
func testActor(c *fiber.Ctx) error {
	if id := c.Get("X-Test-User"); id != "" {
		c.SetUserContext(backend.WithActor(c.UserContext(), &backend.Actor{UserID: strings.Clone(id)}))
	}
	return c.Next()
}

// newIdempotencyServer mounts the middleware, backed by the test's own Redis
// keys, in front of the objects handler on POST /test/objects and
// /test/other, and in front of a counting GET /test/objects.
func newIdempotencyServer(t *testing.T) (*Server, *objectsHandler, *atomic.Int32) {
	t.Helper()
	return newIdempotencyServerWith(t, nil)
}

// newIdempotencyServerWith is newIdempotencyServer with a store that
// configure has set up (bounds lowered for a test).
func newIdempotencyServerWith(t *testing.T, configure func(*cache.IdempotencyStore)) (*Server, *objectsHandler, *atomic.Int32) {
	t.Helper()
	s := newTestServer(t, Config{})
	store := cache.NewIdempotencyStore(storagetest.Redis(t))
	if configure != nil {
		configure(store)
	}
	h := &objectsHandler{
		calls:   map[string]int{},
		objects: map[string]string{},
		started: make(chan struct{}),
		release: make(chan struct{}),
	}
	gets := new(atomic.Int32)
	mw := s.idempotent(store)
	s.App().Post("/test/objects", testActor, mw, h.create)
	s.App().Put("/test/objects", testActor, mw, h.create)
	s.App().Post("/test/other", testActor, mw, h.create)
	s.App().Get("/test/objects", testActor, mw, func(c *fiber.Ctx) error {
		gets.Add(1)
		return c.SendString("list")
	})
	return s, h, gets
}

// post builds a POST with a JSON body, an optional Idempotency-Key and an
// optional acting user.
func post(path, body, key, user string) *http.Request {
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set(HeaderIdempotencyKey, key)
	}
	if user != "" {
		req.Header.Set("X-Test-User", user)
	}
	return req
}

func TestIdempotencySameKeySameBodyReplays(t *testing.T) {
	s, h, _ := newIdempotencyServer(t)
	body := `{"name":"pump"}`

	first, firstBody := do(t, s, post("/test/objects", body, "k-1", "user-1"))
	if first.StatusCode != 201 {
		t.Fatalf("first: status %d body %s", first.StatusCode, firstBody)
	}
	if v := first.Header.Get(HeaderIdempotentReplayed); v != "" {
		t.Errorf("first response carries %s: %q", HeaderIdempotentReplayed, v)
	}
	for i := range 2 {
		again, againBody := do(t, s, post("/test/objects", body, "k-1", "user-1"))
		if again.StatusCode != first.StatusCode || string(againBody) != string(firstBody) {
			t.Fatalf("repeat %d: %d %s, want %d %s", i+1, again.StatusCode, againBody, first.StatusCode, firstBody)
		}
		for _, hdr := range []string{"Content-Type", "Location"} {
			if again.Header.Get(hdr) != first.Header.Get(hdr) || first.Header.Get(hdr) == "" {
				t.Errorf("repeat %d: %s %q, first had %q", i+1, hdr, again.Header.Get(hdr), first.Header.Get(hdr))
			}
		}
		if v := again.Header.Get(HeaderIdempotentReplayed); v != "true" {
			t.Errorf("repeat %d: %s = %q, want true", i+1, HeaderIdempotentReplayed, v)
		}
	}
	if n := h.count("pump"); n != 1 || h.created() != 1 {
		t.Fatalf("handler ran %d times and created %d objects, want 1 and 1", n, h.created())
	}

	// Without the header every request runs.
	for range 2 {
		if resp, b := do(t, s, post("/test/objects", body, "", "user-1")); resp.StatusCode != 201 {
			t.Fatalf("without key: %d %s", resp.StatusCode, b)
		}
	}
	if h.created() != 3 {
		t.Errorf("requests without a key created %d objects in all, want 3", h.created())
	}
}

func TestIdempotencySameKeyOtherRequestIs422(t *testing.T) {
	s, h, _ := newIdempotencyServer(t)
	if resp, b := do(t, s, post("/test/objects", `{"name":"a"}`, "k-1", "user-1")); resp.StatusCode != 201 {
		t.Fatalf("first: %d %s", resp.StatusCode, b)
	}
	for name, req := range map[string]*http.Request{
		"another body":  post("/test/objects", `{"name":"b"}`, "k-1", "user-1"),
		"another path":  post("/test/other", `{"name":"a"}`, "k-1", "user-1"),
		"another query": post("/test/objects?x=1", `{"name":"a"}`, "k-1", "user-1"),
		"another method": func() *http.Request {
			r := post("/test/objects", `{"name":"a"}`, "k-1", "user-1")
			r.Method = "PUT"
			return r
		}(),
	} {
		resp, body := do(t, s, req)
		if resp.StatusCode != 422 {
			t.Errorf("%s: status %d body %s, want 422", name, resp.StatusCode, body)
			continue
		}
		if e := decodeError(t, body); e.Code != backend.EUNPROCESSABLE || e.Fields["idempotency_key"] != backend.IdempotencyKeyReused {
			t.Errorf("%s: code %q fields %v, want EUNPROCESSABLE with idempotency_key %q", name, e.Code, e.Fields, backend.IdempotencyKeyReused)
		}
	}
	if h.count("a") != 1 || h.count("b") != 0 {
		t.Errorf("handler ran a=%d b=%d times, want 1 and 0", h.count("a"), h.count("b"))
	}
}

func TestIdempotencyDuplicateInFlightIs409(t *testing.T) {
	s, h, _ := newIdempotencyServer(t)
	base := serveOnLoopback(t, s)
	send := func() (int, string, http.Header) {
		req, err := http.NewRequest("POST", base+"/test/objects", strings.NewReader(`{"name":"block"}`))
		if err != nil {
			t.Error(err)
			return 0, "", nil
		}
		req.Header.Set(HeaderIdempotencyKey, "k-slow")
		req.Header.Set("X-Test-User", "user-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, "", nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}

	type result struct {
		status int
		body   string
	}
	firstDone := make(chan result, 1)
	go func() {
		st, b, _ := send()
		firstDone <- result{st, b}
	}()
	select {
	case <-h.started:
	case <-time.After(10 * time.Second):
		t.Fatal("first request never reached the handler")
	}

	st, b, hdr := send()
	if st != 409 || hdr.Get("Retry-After") != "1" {
		t.Errorf("duplicate while in flight: status %d (Retry-After %q) body %s, want 409 with Retry-After 1", st, hdr.Get("Retry-After"), b)
	} else if e := decodeError(t, []byte(b)); e.Code != backend.ECONFLICT || e.Fields["idempotency_key"] != backend.IdempotencyKeyInProgress {
		// The field tells the phone's outbox to wait and repeat: every
		// other 409 is a refusal it must not wait on.
		t.Errorf("duplicate while in flight: code %q fields %v, want ECONFLICT with idempotency_key %q", e.Code, e.Fields, backend.IdempotencyKeyInProgress)
	}

	close(h.release)
	first := <-firstDone
	if first.status != 201 {
		t.Fatalf("first request: %d %s", first.status, first.body)
	}
	// Once finished, the same request is a replay.
	st, b, hdr = send()
	if st != 201 || b != first.body || hdr.Get(HeaderIdempotentReplayed) != "true" {
		t.Errorf("after the first finished: %d %s (replayed %q), want the first response replayed", st, b, hdr.Get(HeaderIdempotentReplayed))
	}
	if n := h.count("block"); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
}

func TestIdempotencyServerErrorsAreNotStored(t *testing.T) {
	s, h, _ := newIdempotencyServer(t)
	for _, name := range []string{"flaky", "panicky"} {
		body := `{"name":"` + name + `"}`
		resp, b := do(t, s, post("/test/objects", body, "k-"+name, "user-1"))
		if resp.StatusCode != 500 {
			t.Fatalf("%s first: status %d body %s, want 500", name, resp.StatusCode, b)
		}
		// The retry runs the handler again and succeeds.
		resp, b = do(t, s, post("/test/objects", body, "k-"+name, "user-1"))
		if resp.StatusCode != 201 || resp.Header.Get(HeaderIdempotentReplayed) != "" {
			t.Fatalf("%s retry: status %d body %s replayed %q, want a fresh 201", name, resp.StatusCode, b, resp.Header.Get(HeaderIdempotentReplayed))
		}
		if n := h.count(name); n != 2 {
			t.Errorf("%s: handler ran %d times, want 2", name, n)
		}
		// And that success is what is stored from now on.
		again, againBody := do(t, s, post("/test/objects", body, "k-"+name, "user-1"))
		if again.StatusCode != 201 || string(againBody) != string(b) || again.Header.Get(HeaderIdempotentReplayed) != "true" {
			t.Errorf("%s third: %d %s, want the stored 201 replayed", name, again.StatusCode, againBody)
		}
	}
}

func TestIdempotencyClientErrorsAreStoredButNotRateLimits(t *testing.T) {
	s, h, _ := newIdempotencyServer(t)

	// A rejected request is an answer: the repeat gets the same 400.
	first, firstBody := do(t, s, post("/test/objects", `{"name":"invalid"}`, "k-bad", "user-1"))
	if first.StatusCode != 400 {
		t.Fatalf("first: %d %s", first.StatusCode, firstBody)
	}
	again, againBody := do(t, s, post("/test/objects", `{"name":"invalid"}`, "k-bad", "user-1"))
	if again.StatusCode != 400 || string(againBody) != string(firstBody) || again.Header.Get(HeaderIdempotentReplayed) != "true" {
		t.Errorf("repeat: %d %s, want the stored 400 %s replayed", again.StatusCode, againBody, firstBody)
	}
	if e := decodeError(t, againBody); e.Fields["name"] != "not allowed" {
		t.Errorf("replayed error lost its fields: %+v", e)
	}
	if n := h.count("invalid"); n != 1 {
		t.Errorf("handler ran %d times for the rejected request, want 1", n)
	}

	// A rate-limited request did nothing: after the wait it must run.
	for i := range 2 {
		resp, b := do(t, s, post("/test/objects", `{"name":"limited"}`, "k-limited", "user-1"))
		if resp.StatusCode != 429 || resp.Header.Get(HeaderIdempotentReplayed) != "" {
			t.Errorf("limited %d: %d %s replayed %q, want a fresh 429", i+1, resp.StatusCode, b, resp.Header.Get(HeaderIdempotentReplayed))
		}
	}
	if n := h.count("limited"); n != 2 {
		t.Errorf("handler ran %d times for the rate-limited request, want 2", n)
	}
}

// TestIdempotencyLeaseHeldIsNotStored: a 409 because the work holds a
// lease elsewhere (another instance, or one killed whose lease has yet to
// lapse), or because the record kept changing under the request, is no
// answer: it says when to repeat (Retry-After), the retry with the same
// key runs again, and its success is what is stored.
func TestIdempotencyLeaseHeldIsNotStored(t *testing.T) {
	for _, name := range []string{"leased", "busy"} {
		t.Run(name, func(t *testing.T) {
			s, h, _ := newIdempotencyServer(t)
			body := `{"name":"` + name + `"}`
			resp, b := do(t, s, post("/test/objects", body, "k-"+name, "user-1"))
			if resp.StatusCode != 409 || decodeError(t, b).Code != backend.ECONFLICT || resp.Header.Get("Retry-After") != "1" {
				t.Fatalf("first: %d (Retry-After %q) %s, want 409 ECONFLICT with Retry-After 1: work in progress, repeat it",
					resp.StatusCode, resp.Header.Get("Retry-After"), b)
			}
			resp, b = do(t, s, post("/test/objects", body, "k-"+name, "user-1"))
			if resp.StatusCode != 201 || resp.Header.Get(HeaderIdempotentReplayed) != "" {
				t.Fatalf("retry: %d %s replayed %q, want a fresh 201", resp.StatusCode, b, resp.Header.Get(HeaderIdempotentReplayed))
			}
			again, againBody := do(t, s, post("/test/objects", body, "k-"+name, "user-1"))
			if again.StatusCode != 201 || string(againBody) != string(b) || again.Header.Get(HeaderIdempotentReplayed) != "true" {
				t.Errorf("third: %d %s, want the stored 201 replayed", again.StatusCode, againBody)
			}
			if n := h.count(name); n != 2 {
				t.Errorf("handler ran %d times, want 2", n)
			}
		})
	}
}

func TestIdempotencyKeysArePerUser(t *testing.T) {
	s, h, _ := newIdempotencyServer(t)
	body := `{"name":"shared"}`
	_, a1 := do(t, s, post("/test/objects", body, "same-key", "user-a"))
	respB, b1 := do(t, s, post("/test/objects", body, "same-key", "user-b"))
	if respB.StatusCode != 201 || respB.Header.Get(HeaderIdempotentReplayed) != "" || string(b1) == string(a1) {
		t.Fatalf("user B with user A's key: %d %s (A got %s), want B's own new object", respB.StatusCode, b1, a1)
	}
	// Anonymous callers have a scope of their own too.
	respAnon, anon := do(t, s, post("/test/objects", body, "same-key", ""))
	if respAnon.StatusCode != 201 || respAnon.Header.Get(HeaderIdempotentReplayed) != "" {
		t.Fatalf("anonymous with the same key: %d %s, want a new object", respAnon.StatusCode, anon)
	}
	if n := h.count("shared"); n != 3 {
		t.Fatalf("handler ran %d times, want 3 (one per scope)", n)
	}
	// Each scope replays its own response.
	for user, want := range map[string][]byte{"user-a": a1, "user-b": b1, "": anon} {
		resp, got := do(t, s, post("/test/objects", body, "same-key", user))
		if string(got) != string(want) || resp.Header.Get(HeaderIdempotentReplayed) != "true" {
			t.Errorf("repeat by %q: %s, want its own %s replayed", user, got, want)
		}
	}
	if n := h.count("shared"); n != 3 {
		t.Errorf("handler ran %d times after the repeats, want still 3", n)
	}
}

func TestIdempotencyKeyValidation(t *testing.T) {
	s, h, gets := newIdempotencyServer(t)
	for name, key := range map[string]string{
		"256 characters":    strings.Repeat("k", 256),
		"control character": "abc\x01def",
		"non-ASCII":         "clé",
	} {
		resp, body := do(t, s, post("/test/objects", `{"name":"v"}`, key, "user-1"))
		if resp.StatusCode != 400 {
			t.Errorf("%s: status %d, want 400", name, resp.StatusCode)
			continue
		}
		if e := decodeError(t, body); e.Code != backend.EINVALID || e.Fields[HeaderIdempotencyKey] == "" {
			t.Errorf("%s: error %+v, want EINVALID naming %s", name, e, HeaderIdempotencyKey)
		}
	}
	twice := post("/test/objects", `{"name":"v"}`, "one", "user-1")
	twice.Header.Add(HeaderIdempotencyKey, "two")
	if resp, body := do(t, s, twice); resp.StatusCode != 400 {
		t.Errorf("two Idempotency-Key headers: %d %s, want 400", resp.StatusCode, body)
	}
	if n := h.count("v"); n != 0 {
		t.Errorf("handler ran %d times for invalid keys, want 0", n)
	}

	// The longest key, spaces and punctuation included, is accepted.
	long := " ~" + strings.Repeat("x", 253)
	for range 2 {
		if resp, body := do(t, s, post("/test/objects", `{"name":"ok"}`, long, "user-1")); resp.StatusCode != 201 {
			t.Fatalf("255-character key: %d %s", resp.StatusCode, body)
		}
	}
	if n := h.count("ok"); n != 1 {
		t.Errorf("handler ran %d times for a valid key sent twice, want 1", n)
	}

	// Safe methods ignore the header.
	for range 2 {
		req := httptest.NewRequest("GET", "/test/objects", nil)
		req.Header.Set(HeaderIdempotencyKey, "get-key")
		if resp, body := do(t, s, req); resp.StatusCode != 200 || resp.Header.Get(HeaderIdempotentReplayed) != "" {
			t.Fatalf("GET with a key: %d %s", resp.StatusCode, body)
		}
	}
	if n := gets.Load(); n != 2 {
		t.Errorf("GET handler ran %d times, want 2", n)
	}
}

// TestIdempotencyClaimOutlivesALongRequest: a request that runs for longer
// than the store's claim period keeps its claim, so a retry sent meanwhile
// is refused (409) instead of running the request a second time.
func TestIdempotencyClaimOutlivesALongRequest(t *testing.T) {
	s := newTestServer(t, Config{})
	s.claimHeartbeat = 100 * time.Millisecond
	store := cache.NewIdempotencyStore(storagetest.Redis(t))
	store.ClaimTTL = 300 * time.Millisecond
	h := &objectsHandler{calls: map[string]int{}, objects: map[string]string{}, started: make(chan struct{}), release: make(chan struct{})}
	s.App().Post("/test/objects", testActor, s.idempotent(store), h.create)

	first := make(chan int, 1)
	go func() {
		resp, err := s.App().Test(post("/test/objects", `{"name":"block"}`, "k-long", "user-1"), -1)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	<-h.started
	time.Sleep(time.Second) // more than three claim periods
	resp, body := do(t, s, post("/test/objects", `{"name":"block"}`, "k-long", "user-1"))
	if resp.StatusCode != 409 {
		t.Errorf("retry while the first still runs: %d %s, want 409", resp.StatusCode, body)
	}
	close(h.release)
	if status := <-first; status != 201 {
		t.Fatalf("first request: %d", status)
	}
	if n := h.count("block"); n != 1 {
		t.Errorf("the handler ran %d times, want once", n)
	}
}

// TestIdempotencyLapsedRequestCannotFreeTheRetrysClaim: request A's claim
// lapses (no renewal arrives), retry B claims the key and runs; A then
// fails and gives its claim up. That must not free B's claim: C, sent
// while B runs, is refused (409) rather than run beside B.
func TestIdempotencyLapsedRequestCannotFreeTheRetrysClaim(t *testing.T) {
	s := newTestServer(t, Config{})
	s.claimHeartbeat = time.Hour // no renewal ever comes, as when every one fails
	store := cache.NewIdempotencyStore(storagetest.Redis(t))
	store.ClaimTTL = 300 * time.Millisecond
	var runs atomic.Int32
	started := make(chan int, 3)
	release := [3]chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{})}
	released := [3]bool{}
	free := func(i int) {
		if !released[i] {
			released[i] = true
			close(release[i])
		}
	}
	defer func() {
		for i := range release {
			free(i)
		}
	}()
	s.App().Post("/test/lapse", testActor, s.idempotent(store), func(c *fiber.Ctx) error {
		n := int(runs.Add(1))
		started <- n
		<-release[min(n, 3)-1]
		if n == 1 {
			return io.ErrUnexpectedEOF // A fails (500): its claim is given up
		}
		return c.Status(fiber.StatusCreated).JSON(fiber.Map{"run": n})
	})
	type result struct {
		status   int
		body     string
		replayed string
	}
	send := func() chan result {
		out := make(chan result, 1)
		go func() {
			resp, err := s.App().Test(post("/test/lapse", `{"name":"x"}`, "k-lapse", "user-1"), -1)
			if err != nil {
				out <- result{}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			out <- result{resp.StatusCode, string(b), resp.Header.Get(HeaderIdempotentReplayed)}
		}()
		return out
	}
	waitStart := func(who string) {
		t.Helper()
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s never reached the handler", who)
		}
	}

	a := send()
	waitStart("A")
	time.Sleep(500 * time.Millisecond) // A's claim lapses
	store.ClaimTTL = time.Minute       // B's claim holds while the test runs
	b := send()
	waitStart("B (after A's claim lapsed)")

	free(0)
	if r := <-a; r.status != 500 {
		t.Fatalf("A: %d %s, want 500", r.status, r.body)
	}
	c := send()
	select {
	case n := <-started:
		free(2)
		<-c
		t.Fatalf("C ran (run %d) beside B: A's abandon freed B's claim", n)
	case r := <-c:
		if r.status != 409 {
			t.Fatalf("C while B runs: %d %s, want 409", r.status, r.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("C got no answer")
	}

	free(1)
	if r := <-b; r.status != 201 {
		t.Fatalf("B: %d %s, want 201", r.status, r.body)
	}
	if r := <-send(); r.status != 201 || r.replayed != "true" || !strings.Contains(r.body, `"run":2`) {
		t.Errorf("D after B finished: %d %s (replayed %q), want B's 201 replayed", r.status, r.body, r.replayed)
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("the handler ran %d times, want 2 (A and B)", n)
	}
}

// TestIdempotencyReplyTooLargeToKeepIsNeverRunTwice: a reply over the
// store's size cap reaches the client but is not kept; a repeat with its
// key is refused with 422 saying where the result is, and does not run.
func TestIdempotencyReplyTooLargeToKeepIsNeverRunTwice(t *testing.T) {
	s, h, _ := newIdempotencyServerWith(t, func(st *cache.IdempotencyStore) { st.MaxReply = 40 })
	body := `{"name":"a rather long name, so that the reply passes the cap"}`
	first, firstBody := do(t, s, post("/test/objects", body, "k-big", "user-1"))
	if first.StatusCode != 201 || !strings.Contains(string(firstBody), "passes the cap") {
		t.Fatalf("first: %d %s", first.StatusCode, firstBody)
	}
	again, againBody := do(t, s, post("/test/objects", body, "k-big", "user-1"))
	if again.StatusCode != 422 {
		t.Fatalf("repeat: %d %s, want 422", again.StatusCode, againBody)
	}
	e := decodeError(t, againBody)
	if e.Code != backend.EUNPROCESSABLE || e.Fields["idempotency_key"] != backend.IdempotencyReplyNotKept || e.Fields["status"] != "201" || !strings.Contains(e.Message, "carried out (status 201)") ||
		!strings.Contains(e.Message, first.Header.Get("Location")) {
		t.Errorf("repeat: %+v, want EUNPROCESSABLE saying the request was carried out and naming %s", e, first.Header.Get("Location"))
	}
	if n := h.count("a rather long name, so that the reply passes the cap"); n != 1 || h.created() != 1 {
		t.Errorf("handler ran %d times, created %d objects; want 1 and 1", n, h.created())
	}
	// Small replies are replayed as ever.
	_, small := do(t, s, post("/test/objects", `{"name":"s"}`, "k-small", "user-1"))
	if resp, b := do(t, s, post("/test/objects", `{"name":"s"}`, "k-small", "user-1")); string(b) != string(small) || resp.Header.Get(HeaderIdempotentReplayed) != "true" {
		t.Errorf("small reply: %d %s, want %s replayed", resp.StatusCode, b, small)
	}
}

// TestIdempotencyNewKeysPerUserAreBounded: past the store's quota of new
// keys, a request with a new key is refused (429 in the error shape, with
// Retry-After) without running; repeats of used keys are still answered,
// and other users have their own quota.
func TestIdempotencyNewKeysPerUserAreBounded(t *testing.T) {
	s, h, _ := newIdempotencyServerWith(t, func(st *cache.IdempotencyStore) { st.KeyLimit = 2 })
	for _, k := range []string{"k-1", "k-2"} {
		if resp, b := do(t, s, post("/test/objects", `{"name":"`+k+`"}`, k, "user-1")); resp.StatusCode != 201 {
			t.Fatalf("%s: %d %s", k, resp.StatusCode, b)
		}
	}
	resp, b := do(t, s, post("/test/objects", `{"name":"k-3"}`, "k-3", "user-1"))
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a third new key: %d %s (Retry-After %q), want 429 with Retry-After", resp.StatusCode, b, resp.Header.Get("Retry-After"))
	}
	if e := decodeError(t, b); e.Code != backend.ERATELIMIT {
		t.Errorf("code %q, want ERATELIMIT", e.Code)
	}
	if n := h.count("k-3"); n != 0 {
		t.Errorf("the refused request ran %d times", n)
	}
	if resp, _ := do(t, s, post("/test/objects", `{"name":"k-1"}`, "k-1", "user-1")); resp.StatusCode != 201 || resp.Header.Get(HeaderIdempotentReplayed) != "true" {
		t.Errorf("a used key over the quota: %d, want its 201 replayed", resp.StatusCode)
	}
	if resp, b := do(t, s, post("/test/objects", `{"name":"k-3"}`, "k-3", "user-2")); resp.StatusCode != 201 {
		t.Errorf("another user: %d %s", resp.StatusCode, b)
	}
}

// TestIdempotencyReplaysTheLargestUploadInstructions: the largest reply a
// phone gets under the configured limits — a declared video of the largest
// size, one presigned URL per part — fits under the store's cap, so a
// repeat with its key gets it replayed, not refused.
func TestIdempotencyReplaysTheLargestUploadInstructions(t *testing.T) {
	env := newAPIEnv(t, Config{})
	env.withEvidence(t)
	w := newDispatchWorld(t, env, 12, `{"count":3}`)
	task := w.dispatchFirst(t, env)
	token := env.loginAs(t, w.inspectors[task.Members[0].BadgeNo])
	body := fmt.Sprintf(`{"id":"5b0e7a52-3c1d-4e8f-9a6b-2d4c6e8f0a1b","kind":"video","content_type":"video/mp4","size":%d,"sha256":%q}`,
		env.stack.EvidenceMaxVideo, strings.Repeat("ab", 32))
	key := map[string]string{HeaderIdempotencyKey: "k-largest-video"}
	first, firstBody := env.call(t, token, "POST", "/api/v1/tasks/"+task.ID+"/evidence", body, key)
	if first.StatusCode != 201 || !strings.Contains(string(firstBody), `"multipart"`) {
		t.Fatalf("declaring the largest video: %d %.300s", first.StatusCode, firstBody)
	}
	again, againBody := env.call(t, token, "POST", "/api/v1/tasks/"+task.ID+"/evidence", body, key)
	if again.StatusCode != 201 || again.Header.Get(HeaderIdempotentReplayed) != "true" || string(againBody) != string(firstBody) {
		t.Fatalf("repeat: %d (replayed %q) %.300s, want the %d-byte reply replayed", again.StatusCode, again.Header.Get(HeaderIdempotentReplayed), againBody, len(firstBody))
	}
	t.Logf("the largest upload instructions: %d bytes (cap %d)", len(firstBody), cache.IdempotencyMaxReply)
}
