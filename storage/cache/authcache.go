package cache

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The sessions' copy in memory. Every signed-in request asks Redis whether
// its session is still active and what its user's change stamp is
// (Sessions.FamilyActiveStamp): one round trip, the largest part of a
// phone's sync once everything else answers from memory. So each process
// keeps what it read, per Cache, and drops it whenever it may be wrong:
//
//   - a change through this process (a revocation, a replayed refresh that
//     revokes a family, a user's stamp moving) drops the copy at once,
//     after the change is in Redis, and publishes the family or user on
//     the invalidation channel;
//   - every process drops what such a message names as it arrives, and
//     everything when its subscription is (re)established — a message
//     published while it was not subscribed is lost, so the copy is used
//     only while the subscription stands;
//   - a read of Redis is kept only if nothing was dropped while it ran
//     (gen), so a read that saw the state before a change cannot be kept
//     after the change's message;
//   - only an active family is kept, and a copy answers authCacheTTL at
//     most (a process that died between a change and its message, or a
//     message lost without a broken connection).
//
// So a revocation or a user's change takes effect in this process when it
// returns, and in the others as soon as Redis delivers the message — a
// fraction of a millisecond on one network — rather than at their next
// read of Redis.
type authCache struct {
	mu       sync.Mutex
	live     bool   // subscribed: the copy may answer
	gen      uint64 // moves at every drop
	families map[string]cachedFamily
	stamps   map[string]cachedStamp
	started  bool
	stop     func()
	hits     uint64 // answers from the copy (tests)
}

type cachedFamily struct {
	user string
	at   time.Time
}

type cachedStamp struct {
	stamp int64
	at    time.Time
}

// authCacheTTL bounds how long a copy answers.
const authCacheTTL = 30 * time.Second

// authCacheMax bounds each map; past it, the copy is emptied.
const authCacheMax = 50000

func (c *Cache) invalidationChannel() string { return c.Key("auth", "invalidate") }

// lookup returns the copy's answer for a family and its user, if it has
// one, and otherwise the generation a read of Redis must be kept under.
func (a *authCache) lookup(familyID, userID string) (stamp int64, ok bool, gen uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.live {
		return 0, false, a.gen
	}
	f, fok := a.families[familyID]
	s, sok := a.stamps[userID]
	if fok && sok && f.user == userID && time.Since(f.at) < authCacheTTL && time.Since(s.at) < authCacheTTL {
		a.hits++
		return s.stamp, true, a.gen
	}
	return 0, false, a.gen
}

// keep stores what a read of Redis under gen found, unless something was
// dropped since (or the copy is not in use).
func (a *authCache) keep(gen uint64, familyID, userID string, active bool, stamp int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.live || a.gen != gen || !active {
		return
	}
	if a.families == nil || len(a.families) >= authCacheMax || len(a.stamps) >= authCacheMax {
		a.families, a.stamps = map[string]cachedFamily{}, map[string]cachedStamp{}
	}
	now := time.Now()
	a.families[familyID] = cachedFamily{user: userID, at: now}
	a.stamps[userID] = cachedStamp{stamp: stamp, at: now}
}

// drop forgets what message names ("f:<family>", "u:<user>", or "" for
// everything).
func (a *authCache) drop(message string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gen++
	switch {
	case strings.HasPrefix(message, "f:"):
		delete(a.families, message[2:])
	case strings.HasPrefix(message, "u:"):
		user := message[2:]
		delete(a.stamps, user)
		for f, c := range a.families {
			if c.user == user {
				delete(a.families, f)
			}
		}
	default:
		a.families, a.stamps = nil, nil
	}
}

// setLive records whether the subscription stands; either way the copy
// starts empty.
func (a *authCache) setLive(live bool) {
	a.mu.Lock()
	a.live, a.gen, a.families, a.stamps = live, a.gen+1, nil, nil
	a.mu.Unlock()
}

// startAuthCache subscribes to the invalidation channel, once per Cache,
// in the background; until the subscription is confirmed the copy is not
// used. Close stops it.
func (c *Cache) startAuthCache() {
	a := &c.auth
	a.mu.Lock()
	if a.started {
		a.mu.Unlock()
		return
	}
	a.started = true
	ctx, cancel := context.WithCancel(context.Background())
	ps := c.client.Subscribe(ctx, c.invalidationChannel())
	a.stop = func() { cancel(); _ = ps.Close() }
	a.mu.Unlock()
	go func() {
		defer a.setLive(false)
		for msg := range ps.ChannelWithSubscriptions() {
			switch m := msg.(type) {
			case *redis.Subscription: // (re)subscribed: what was published meanwhile is lost
				a.setLive(m.Kind == "subscribe")
			case *redis.Message:
				a.drop(m.Payload)
			}
		}
	}()
}

// stopAuthCache ends the subscription, if any.
func (c *Cache) stopAuthCache() {
	c.auth.mu.Lock()
	stop := c.auth.stop
	c.auth.stop, c.auth.started = nil, false
	c.auth.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// invalidate drops what message names here, at once, and tells the other
// processes. A failed publish is returned: the change is made, but others
// keep their copies up to authCacheTTL.
func (c *Cache) invalidate(ctx context.Context, message string) error {
	c.auth.drop(message)
	return translate(c.client.Publish(ctx, c.invalidationChannel(), message).Err())
}
