package cache

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"suiji/backend"
)

// IdempotencyTTL is how long a completed response is kept for replay: 24
// hours from the moment the request finished. A phone that comes back online
// within a day and repeats a request gets the stored answer; after that the
// key is free again. The API documentation promises this period.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyClaimTTL is how long an in-flight claim holds its key without
// being extended. It is much shorter than IdempotencyTTL so that an
// instance that crashes between Begin and Finish does not block the key for
// a day; a request that runs longer keeps its claim alive with Extend.
const IdempotencyClaimTTL = 30 * time.Second

// Bounds on what one scope (a user; for an anonymous call, a client
// address) may keep in Redis, which runs without maxmemory: without them a
// signed-in client sending a fresh key with every request could store a
// reply of any size, each kept for a day, until Redis fills.
//
// The heaviest legitimate use they must never meet is a phone syncing after
// a day offline. An inspector with 20 tasks of 30 checklist items and three
// photos an item sends, per task, a check-in, 30 items, 90 evidence
// declarations and 90 completions, a few findings, two signatures and the
// submit: about 220 requests, 4,400 in all, each with its own key. A
// declared photo's reply (a presigned POST policy) is about 1.5 KB; the
// largest reply under the default limits is a 2 GiB video's (256 parts of
// 8 MiB, one presigned URL of about 600 bytes each): about 160 KB
// (TestIdempotencyReplaysTheLargestUploadInstructions in mobile-api).
//
// The windows are as long as a response is kept (IdempotencyTTL), so the
// bounds hold for what is stored at once: at most two windows' worth is
// alive at any time, about 2 × (20,000 entries of a few hundred bytes +
// 32 MiB of bodies, 43 MB in base64) ≈ 100 MB for a scope that does
// nothing but fill its quota. An hourly window would let 24 times as much
// pile up.
const (
	// IdempotencyMaxReply is the largest reply body kept for replay: above
	// the 2 GiB video's 160 KB, with room for longer host names and object
	// keys than the test stack's. A larger reply (a larger configured video
	// limit, a very large draw) is not kept; a retry with its key gets 422
	// saying the request was carried out and its result must be fetched
	// (see Claim): never a second run.
	IdempotencyMaxReply = 256 << 10
	// IdempotencyKeyLimit is how many new keys one scope may claim per
	// IdempotencyTTL: over four times the offline day's 4,400. Past it a
	// request with a new key is refused with 429 (and Retry-After) without
	// running; repeats of keys already used are still answered. A claim
	// given up after a server error is not counted, so retries during an
	// outage do not use the quota up.
	IdempotencyKeyLimit = 20_000
	// IdempotencyReplyBudget is how many bytes of reply bodies one scope
	// may have stored per IdempotencyTTL: the offline day stores about
	// 3 MB of photo replies plus up to 160 KB per video. Past it replies
	// are kept like those over IdempotencyMaxReply: the outcome without
	// the body. Nothing is refused for it.
	IdempotencyReplyBudget = 32 << 20
)

// Idempotency entry states, stored in idemEntry.State.
const (
	idemInFlight = "in_flight"
	idemDone     = "done"
)

// idemEntry is the one JSON value stored per key. An in-flight claim has
// only State, Fingerprint and Token — a random value of the request that
// made it — so its encoding is fixed by the fingerprint and the token;
// Extend, Finish and Abandon rely on that to act on their own claim only,
// by string comparison, and never on the claim of a retry that took the key
// after theirs expired. A done entry whose body was not kept (too large,
// or over its scope's budget) is Withheld: it still holds the key, so the
// request is never run twice, but cannot be replayed.
type idemEntry struct {
	State       string `json:"state"`
	Fingerprint string `json:"fp"`
	Token       string `json:"token,omitempty"`
	Status      int    `json:"status,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Location    string `json:"location,omitempty"`
	Body        []byte `json:"body,omitempty"` // base64 in JSON
	Withheld    bool   `json:"withheld,omitempty"`
}

// IdempotencyStore is the Redis implementation of backend.IdempotencyStore.
// Because the claim and its completion are single atomic Redis operations,
// every server instance sharing the Redis sees the same keys.
//
// backend.IdempotencyStore's methods (Claim, ExtendClaim, FinishClaim,
// AbandonClaim) carry a random token per claim, and only its holder can
// renew, complete or free it. Begin, Extend, Finish and Abandon make and
// act on token-less claims only (they can tell a caller's claim from
// another request's only by its fingerprint); nothing in the server uses
// them any more — they remain for this package's tests of the shared
// scripts, and should go with those tests' move to the token forms.
type IdempotencyStore struct {
	c *Cache
	// TTL and ClaimTTL default to IdempotencyTTL and IdempotencyClaimTTL;
	// tests shorten them. Set them before first use.
	TTL      time.Duration
	ClaimTTL time.Duration
	// MaxReply, KeyLimit and ReplyBudget default to IdempotencyMaxReply,
	// IdempotencyKeyLimit and IdempotencyReplyBudget, counted per
	// QuotaWindow (default IdempotencyTTL); tests lower them.
	MaxReply    int
	KeyLimit    int
	ReplyBudget int64
	QuotaWindow time.Duration
}

var _ backend.IdempotencyStore = (*IdempotencyStore)(nil)

// NewIdempotencyStore returns an idempotency store on c with the default
// periods and bounds.
func NewIdempotencyStore(c *Cache) *IdempotencyStore {
	return &IdempotencyStore{
		c: c, TTL: IdempotencyTTL, ClaimTTL: IdempotencyClaimTTL,
		MaxReply: IdempotencyMaxReply, KeyLimit: IdempotencyKeyLimit, ReplyBudget: IdempotencyReplyBudget,
		QuotaWindow: IdempotencyTTL,
	}
}

// key returns the Redis key for (scope, key). The client's key is hashed so
// that whatever characters it holds, and however long it is, the Redis key
// stays short and cannot be confused with another scope's.
func (s *IdempotencyStore) key(scope, key string) string {
	sum := sha256.Sum256([]byte(key))
	return s.c.Key("idem", scope, hex.EncodeToString(sum[:]))
}

// quotaKey returns the counter of a scope's new keys ("keys") or stored
// reply bytes ("bytes") in the current window.
func (s *IdempotencyStore) quotaKey(kind, scope string) string {
	return s.c.Key("idem-quota", kind, scope)
}

// beginScript claims KEYS[1] with ARGV[1] for ARGV[2] milliseconds unless it
// is taken, and otherwise returns what is there, in one step: between a
// failed SET NX and a separate GET the key could expire and the caller would
// have nothing to decide on. It returns "" when the claim is new.
var beginScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return ''
end
return redis.call('GET', KEYS[1])
`)

// finishScript replaces KEYS[1] with ARGV[2] for ARGV[3] milliseconds when it
// still holds the caller's claim ARGV[1], or when it has expired meanwhile
// (nobody else holds it, and the response is worth keeping). It returns 1
// when it stored the response and 0 when another request holds the key.
var finishScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
	redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
	return 1
end
return 0
`)

// abandonScript deletes KEYS[1] while it holds the caller's claim ARGV[1]
// — not a completed response, and not a claim another request made after
// the caller's expired. It returns 1 when it deleted the claim.
var abandonScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('DEL', KEYS[1])
	return 1
end
return 0
`)

// abandonTokenlessScript is abandonScript for the token-less methods: it
// deletes KEYS[1] only while it is an in-flight claim without a token, so
// that neither a completed response nor a token holder's claim can be
// erased by them. It returns 1 when it deleted the claim.
var abandonTokenlessScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
	local e = cjson.decode(cur)
	if e.state == 'in_flight' and e.token == nil then
		redis.call('DEL', KEYS[1])
		return 1
	end
end
return 0
`)

// extendClaimScript renews KEYS[1] for ARGV[2] milliseconds while it still holds
// the caller's claim ARGV[1]; it returns 1 when it did.
var extendClaimScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// budgetScript adds ARGV[1] bytes to the counter KEYS[1] (at most ARGV[2],
// window ARGV[3] ms, started by the first addition) and returns 1, or
// returns 0 and adds nothing when that would pass the budget. A counter
// found without an expiry gets one.
var budgetScript = redis.NewScript(`
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n == tonumber(ARGV[1]) or redis.call('PTTL', KEYS[1]) < 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
if n > tonumber(ARGV[2]) then
	redis.call('DECRBY', KEYS[1], ARGV[1])
	return 0
end
return 1
`)

// newClaimToken returns a random claim token.
func newClaimToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return hex.EncodeToString(b[:])
}

// claim returns the JSON of an in-flight claim for fp with token ("" for
// the token-less methods).
func claim(fp, token string) (string, error) {
	b, err := json.Marshal(idemEntry{State: idemInFlight, Fingerprint: fp, Token: token})
	return string(b), err
}

// Claim is Begin that also returns the new claim's token, which
// ExtendClaim, FinishClaim and AbandonClaim need: they act only on the
// claim that token names. The token is "" unless the claim is new (stored
// is nil and err is nil). Beyond Begin's errors it returns ERATELIMIT (with
// the wait) when the scope has claimed KeyLimit new keys in the current
// window, and EUNPROCESSABLE when the key's request was carried out but its
// reply was not kept (see IdempotencyMaxReply).
func (s *IdempotencyStore) Claim(ctx context.Context, scope, key, fp string) (token string, stored *backend.StoredResponse, err error) {
	token = newClaimToken()
	stored, err = s.begin(ctx, scope, key, fp, token)
	if stored != nil || err != nil {
		return "", stored, err
	}
	return token, nil, nil
}

// ExtendClaim is Extend for the claim named by token.
func (s *IdempotencyStore) ExtendClaim(ctx context.Context, scope, key, fp, token string) error {
	return s.extend(ctx, scope, key, fp, token)
}

// FinishClaim is Finish for the claim named by token. A reply body over
// MaxReply, or over what is left of the scope's ReplyBudget, is not kept:
// the key then records that the request was carried out, and a repeat gets
// EUNPROCESSABLE instead of the reply (or a second run).
func (s *IdempotencyStore) FinishClaim(ctx context.Context, scope, key, fp, token string, r *backend.StoredResponse) error {
	return s.finish(ctx, scope, key, fp, token, r)
}

// AbandonClaim is Abandon for the claim named by token: it frees the key
// only while it holds that claim, so a request whose claim expired cannot
// free the claim a retry made since. The freed claim is not counted
// against the scope's KeyLimit.
func (s *IdempotencyStore) AbandonClaim(ctx context.Context, scope, key, fp, token string) error {
	mine, err := claim(fp, token)
	if err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "encoding idempotency claim")
	}
	return s.abandon(ctx, abandonScript, scope, key, mine)
}

// Begin makes a token-less claim (see IdempotencyStore); it refuses and
// reports like Claim.
func (s *IdempotencyStore) Begin(ctx context.Context, scope, key, fp string) (*backend.StoredResponse, error) {
	return s.begin(ctx, scope, key, fp, "")
}

// Extend is ExtendClaim for a token-less claim.
func (s *IdempotencyStore) Extend(ctx context.Context, scope, key, fp string) error {
	return s.extend(ctx, scope, key, fp, "")
}

// Finish is FinishClaim for a token-less claim, with its bounds.
func (s *IdempotencyStore) Finish(ctx context.Context, scope, key, fp string, r *backend.StoredResponse) error {
	return s.finish(ctx, scope, key, fp, "", r)
}

// Abandon frees the key only while it holds a token-less in-flight claim
// (see IdempotencyStore).
func (s *IdempotencyStore) Abandon(ctx context.Context, scope, key string) error {
	return s.abandon(ctx, abandonTokenlessScript, scope, key)
}

func (s *IdempotencyStore) begin(ctx context.Context, scope, key, fp, token string) (*backend.StoredResponse, error) {
	mine, err := claim(fp, token)
	if err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "encoding idempotency claim")
	}
	k := s.key(scope, key)
	cur, err := beginScript.Run(ctx, s.c.client, []string{k}, mine, s.ClaimTTL.Milliseconds()).Text()
	if err != nil {
		return nil, translate(err)
	}
	if cur == "" {
		return nil, s.countNewKey(ctx, scope, k, mine)
	}
	var e idemEntry
	if err := json.Unmarshal([]byte(cur), &e); err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "decoding idempotency entry")
	}
	// Each refusal names its case in fields.idempotency_key, so that a
	// client tells "wait and repeat" (in_progress) and "it was done"
	// (reply_not_kept) from the request's own refusals — a phone's outbox
	// that waited on every 409 stalled behind a change refused for good.
	switch {
	case e.Fingerprint != fp:
		return nil, idempotencyError(backend.EUNPROCESSABLE, backend.IdempotencyKeyReused,
			"this Idempotency-Key was already used for a different request; use a new key for a new request")
	case e.State == idemInFlight:
		return nil, idempotencyError(backend.ECONFLICT, backend.IdempotencyKeyInProgress,
			"a request with this Idempotency-Key is still in progress; retry later")
	case e.State == idemDone && e.Withheld:
		where := ""
		if e.Location != "" {
			where = " at " + e.Location
		}
		refusal := idempotencyError(backend.EUNPROCESSABLE, backend.IdempotencyReplyNotKept, fmt.Sprintf(
			"the request with this Idempotency-Key was carried out (status %d), but its reply was not kept and cannot be sent again; "+
				"fetch the result%s instead of repeating the request (a new request needs a new key)", e.Status, where))
		// The status it was answered with: a refusal is kept without its
		// body too (past the budget), and is no change made.
		refusal.Fields["status"] = strconv.Itoa(e.Status)
		return nil, refusal
	case e.State == idemDone:
		return &backend.StoredResponse{
			Status:      e.Status,
			ContentType: e.ContentType,
			Location:    e.Location,
			Body:        e.Body,
		}, nil
	default:
		return nil, backend.Errorf(backend.EINTERNAL, "idempotency entry in unknown state %q", e.State)
	}
}

// countNewKey counts the claim mine, just made on k, against its scope's
// key quota. Over the quota (or when the count fails) the claim is freed
// again and the request refused without running.
func (s *IdempotencyStore) countNewKey(ctx context.Context, scope, k, mine string) error {
	window := s.quotaWindow()
	res, err := takeScript.Run(ctx, s.c.client, []string{s.quotaKey("keys", scope)}, s.KeyLimit, window.Milliseconds()).Int64Slice()
	if err == nil && (len(res) != 2 || res[0] == 1) {
		return nil
	}
	// Ours to free: nobody else can hold the key while our claim does.
	_ = abandonScript.Run(context.WithoutCancel(ctx), s.c.client, []string{k}, mine).Err()
	if err != nil {
		return translate(err)
	}
	wait := max(remaining(time.Duration(res[1])*time.Millisecond, window), time.Second)
	return backend.RateLimited(wait,
		"more than %d requests with a new Idempotency-Key from this account in %s; try again in %d s",
		s.KeyLimit, window, int(math.Ceil(wait.Seconds())))
}

func (s *IdempotencyStore) extend(ctx context.Context, scope, key, fp, token string) error {
	mine, err := claim(fp, token)
	if err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "encoding idempotency claim")
	}
	n, err := extendClaimScript.Run(ctx, s.c.client, []string{s.key(scope, key)}, mine, s.ClaimTTL.Milliseconds()).Int()
	if err != nil {
		return translate(err)
	}
	if n != 1 {
		return backend.Errorf(backend.ECONFLICT, "the Idempotency-Key is no longer claimed by this request")
	}
	return nil
}

func (s *IdempotencyStore) finish(ctx context.Context, scope, key, fp, token string, r *backend.StoredResponse) error {
	mine, err := claim(fp, token)
	if err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "encoding idempotency claim")
	}
	e := idemEntry{
		State:       idemDone,
		Fingerprint: fp,
		Status:      r.Status,
		ContentType: r.ContentType,
		Location:    r.Location,
		Body:        r.Body,
	}
	if !s.keepBody(ctx, scope, len(r.Body)) {
		e.Body, e.Withheld = nil, true
	}
	done, err := json.Marshal(e)
	if err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "encoding idempotency response")
	}
	stored, err := finishScript.Run(ctx, s.c.client, []string{s.key(scope, key)}, mine, done, s.TTL.Milliseconds()).Int()
	if err != nil {
		return translate(err)
	}
	if stored != 1 {
		return backend.Errorf(backend.ECONFLICT, "the Idempotency-Key is held by another request; response not stored")
	}
	return nil
}

// keepBody reports whether a reply body of n bytes may be stored: no
// larger than MaxReply and within what is left of the scope's ReplyBudget,
// which it then uses up. When the budget cannot be read the body is not
// kept, so that the outcome (which protects against a second run) still is.
func (s *IdempotencyStore) keepBody(ctx context.Context, scope string, n int) bool {
	if n == 0 {
		return true
	}
	if n > s.MaxReply {
		return false
	}
	ok, err := budgetScript.Run(ctx, s.c.client, []string{s.quotaKey("bytes", scope)}, n, s.ReplyBudget, s.quotaWindow().Milliseconds()).Int()
	return err == nil && ok == 1
}

// abandon runs script (abandonScript or abandonTokenlessScript) on the key
// and, when it freed a claim, gives its scope the counted key back.
func (s *IdempotencyStore) abandon(ctx context.Context, script *redis.Script, scope, key string, args ...any) error {
	freed, err := script.Run(ctx, s.c.client, []string{s.key(scope, key)}, args...).Int()
	if err != nil {
		return translate(err)
	}
	if freed == 1 {
		return translate(giveBackScript.Run(ctx, s.c.client, []string{s.quotaKey("keys", scope)}).Err())
	}
	return nil
}

func (s *IdempotencyStore) quotaWindow() time.Duration {
	if s.QuotaWindow > 0 {
		return s.QuotaWindow
	}
	return IdempotencyTTL
}

// idempotencyError is a refusal of the key itself, naming its case in
// fields.idempotency_key (backend.IdempotencyKey…). A request still in
// progress also says when to repeat it (Retry-After).
func idempotencyError(code, state, msg string) *backend.Error {
	e := &backend.Error{Code: code, Message: msg, Fields: map[string]string{"idempotency_key": state}}
	if state == backend.IdempotencyKeyInProgress {
		e.Err = &backend.RetryAfterError{Delay: time.Second}
	}
	return e
}
