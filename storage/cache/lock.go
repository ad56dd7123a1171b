package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/redis/go-redis/v9"

	"suiji/backend"
)

// Locks are Redis leases that let one server instance at a time run a piece
// of work (a draw for a plan). A lease has a random token and an expiry; it
// is extended while the work runs and released when it ends. A lease alone
// is not enough for exactly-once — a holder paused past its expiry may
// still act — so callers also fence their final write in MongoDB (a unique
// index or a version compare-and-set), which is the last word.
type Locks struct{ c *Cache }

// Locks returns the lock service.
func (c *Cache) Locks() *Locks { return &Locks{c: c} }

// Lease is a held lock.
type Lease struct {
	l     *Locks
	key   string
	token string
	ttl   time.Duration
}

var _ backend.Lease = (*Lease)(nil)

// Acquire takes the lock name for ttl. ECONFLICT when someone holds it,
// EUNAVAILABLE when Redis cannot be reached.
func (l *Locks) Acquire(ctx context.Context, name string, ttl time.Duration) (backend.Lease, error) {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	lease := &Lease{l: l, key: l.c.Key("lock", name), token: hex.EncodeToString(b[:]), ttl: ttl}
	ok, err := l.c.client.SetNX(ctx, lease.key, lease.token, ttl).Result()
	if err != nil {
		return nil, translate(err)
	}
	if !ok {
		return nil, backend.LeaseHeld(name)
	}
	return lease, nil
}

// extendScript extends the lease only if it is still ours.
var extendScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

// releaseScript deletes the lock only if it is still ours, so a holder
// whose lease expired cannot release its successor's.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Token identifies this lease.
func (s *Lease) Token() string { return s.token }

// Extend renews the lease for its ttl. ECONFLICT when it was lost (expired
// and perhaps taken by another), EUNAVAILABLE when Redis is unreachable:
// either way the holder must stop before writing anything.
func (s *Lease) Extend(ctx context.Context) error {
	n, err := extendScript.Run(ctx, s.l.c.client, []string{s.key}, s.token, s.ttl.Milliseconds()).Int()
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return backend.Errorf(backend.ECONFLICT, "lock lost: it expired before the work finished")
	}
	return nil
}

// Release gives the lock up if it is still held.
func (s *Lease) Release(ctx context.Context) error {
	return translate(releaseScript.Run(ctx, s.l.c.client, []string{s.key}, s.token).Err())
}
