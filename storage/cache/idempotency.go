package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// Idempotency entry states, stored in idemEntry.State.
const (
	idemInFlight = "in_flight"
	idemDone     = "done"
)

// idemEntry is the one JSON value stored per key. An in-flight claim has only
// State and Fingerprint, so its encoding is fixed by the fingerprint; Finish
// relies on that to recognise its own claim by string comparison.
type idemEntry struct {
	State       string `json:"state"`
	Fingerprint string `json:"fp"`
	Status      int    `json:"status,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Location    string `json:"location,omitempty"`
	Body        []byte `json:"body,omitempty"` // base64 in JSON
}

// IdempotencyStore is the Redis implementation of backend.IdempotencyStore.
// Because the claim and its completion are single atomic Redis operations,
// every server instance sharing the Redis sees the same keys.
type IdempotencyStore struct {
	c *Cache
	// TTL and ClaimTTL default to IdempotencyTTL and IdempotencyClaimTTL;
	// tests shorten them. Set them before first use.
	TTL      time.Duration
	ClaimTTL time.Duration
}

var _ backend.IdempotencyStore = (*IdempotencyStore)(nil)

// NewIdempotencyStore returns an idempotency store on c with the default
// periods.
func NewIdempotencyStore(c *Cache) *IdempotencyStore {
	return &IdempotencyStore{c: c, TTL: IdempotencyTTL, ClaimTTL: IdempotencyClaimTTL}
}

// key returns the Redis key for (scope, key). The client's key is hashed so
// that whatever characters it holds, and however long it is, the Redis key
// stays short and cannot be confused with another scope's.
func (s *IdempotencyStore) key(scope, key string) string {
	sum := sha256.Sum256([]byte(key))
	return s.c.Key("idem", scope, hex.EncodeToString(sum[:]))
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

// abandonScript deletes KEYS[1] only while it is an in-flight claim, so that
// a stray Abandon cannot erase a completed response that retries rely on.
var abandonScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cjson.decode(cur).state == 'in_flight' then
	redis.call('DEL', KEYS[1])
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

// Extend implements backend.IdempotencyStore.
func (s *IdempotencyStore) Extend(ctx context.Context, scope, key, fp string) error {
	mine, err := claim(fp)
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

// claim returns the JSON of an in-flight claim for fp.
func claim(fp string) (string, error) {
	b, err := json.Marshal(idemEntry{State: idemInFlight, Fingerprint: fp})
	return string(b), err
}

// Begin implements backend.IdempotencyStore.
func (s *IdempotencyStore) Begin(ctx context.Context, scope, key, fp string) (*backend.StoredResponse, error) {
	mine, err := claim(fp)
	if err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "encoding idempotency claim")
	}
	cur, err := beginScript.Run(ctx, s.c.client, []string{s.key(scope, key)}, mine, s.ClaimTTL.Milliseconds()).Text()
	if err != nil {
		return nil, translate(err)
	}
	if cur == "" {
		return nil, nil
	}
	var e idemEntry
	if err := json.Unmarshal([]byte(cur), &e); err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "decoding idempotency entry")
	}
	switch {
	case e.Fingerprint != fp:
		return nil, backend.Errorf(backend.EUNPROCESSABLE,
			"this Idempotency-Key was already used for a different request; use a new key for a new request")
	case e.State == idemInFlight:
		return nil, backend.Errorf(backend.ECONFLICT,
			"a request with this Idempotency-Key is still in progress; retry later")
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

// Finish implements backend.IdempotencyStore.
func (s *IdempotencyStore) Finish(ctx context.Context, scope, key, fp string, r *backend.StoredResponse) error {
	mine, err := claim(fp)
	if err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "encoding idempotency claim")
	}
	done, err := json.Marshal(idemEntry{
		State:       idemDone,
		Fingerprint: fp,
		Status:      r.Status,
		ContentType: r.ContentType,
		Location:    r.Location,
		Body:        r.Body,
	})
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

// Abandon implements backend.IdempotencyStore.
func (s *IdempotencyStore) Abandon(ctx context.Context, scope, key string) error {
	return translate(abandonScript.Run(ctx, s.c.client, []string{s.key(scope, key)}).Err())
}
