package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"suiji/backend"
)

// Default login throttle limits: a username may fail 10 times and a client
// address 50 times in a 15-minute window before sign-ins are refused until
// the window ends. The address limit is higher because offices and mobile
// carriers put many people behind one address.
const (
	DefaultLoginUserLimit = 10
	DefaultLoginIPLimit   = 50
	DefaultLoginWindow    = 15 * time.Minute
)

// ThrottleOptions sets the login throttle's limits. Zero fields take the
// defaults above.
type ThrottleOptions struct {
	UserLimit int           // failures allowed per username in a window
	IPLimit   int           // failures allowed per client address in a window
	Window    time.Duration // fixed window, starting at the first failure
}

// LoginThrottle is the Redis implementation of backend.LoginThrottle. It
// keeps fixed-window counters, so every server instance sharing the Redis
// counts the same failures.
type LoginThrottle struct {
	c *Cache
	o ThrottleOptions
}

var _ backend.LoginThrottle = (*LoginThrottle)(nil)

// NewLoginThrottle returns a login throttle on c with the limits in o.
func NewLoginThrottle(c *Cache, o ThrottleOptions) *LoginThrottle {
	if o.UserLimit <= 0 {
		o.UserLimit = DefaultLoginUserLimit
	}
	if o.IPLimit <= 0 {
		o.IPLimit = DefaultLoginIPLimit
	}
	if o.Window <= 0 {
		o.Window = DefaultLoginWindow
	}
	return &LoginThrottle{c: c, o: o}
}

// maxUsernameKey bounds the username part of a key: longer names are hashed
// so that junk sent as a username cannot make huge keys.
const maxUsernameKey = 128

// userKey returns the counter key of a username. Names are lowercased so
// that changing the case does not buy an attacker a fresh counter.
func (l *LoginThrottle) userKey(username string) string {
	name := strings.ToLower(username)
	if len(name) > maxUsernameKey {
		sum := sha256.Sum256([]byte(name))
		name = "sha256-" + hex.EncodeToString(sum[:])
	}
	return l.c.Key("login", "user", name)
}

// ipKey returns the counter key of a client address. An IPv6 client usually
// controls a whole /64, so IPv6 addresses count per /64 prefix; otherwise
// one client could use a fresh address for every guess.
func (l *LoginThrottle) ipKey(ip string) string {
	if addr, err := netip.ParseAddr(ip); err == nil {
		addr = addr.Unmap()
		if addr.Is6() {
			p, _ := addr.WithZone("").Prefix(64)
			ip = p.String()
		} else {
			ip = addr.String()
		}
	}
	return l.c.Key("login", "ip", ip)
}

// failScript increments KEYS[1] and starts its window (ARGV[1]
// milliseconds) on the first failure. Doing both in one script means a crash
// between INCR and PEXPIRE cannot leave a counter that never expires; a
// counter found without an expiry (PTTL -1) gets one too. One key per run:
// the username's and the address's counters live in different Cluster
// slots.
var failScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return 0
`)

// Check implements backend.LoginThrottle. The error's message is the same
// whichever limit was reached, so it tells an attacker nothing about the
// account.
func (l *LoginThrottle) Check(ctx context.Context, username, ip string) error {
	uk, ik := l.userKey(username), l.ipKey(ip)
	// GET each, not MGET: the keys may live in different Cluster slots.
	pipe := l.c.client.Pipeline()
	ucount := pipe.Get(ctx, uk)
	icount := pipe.Get(ctx, ik)
	uttl := pipe.PTTL(ctx, uk)
	ittl := pipe.PTTL(ctx, ik)
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return translate(err)
	}
	var wait time.Duration
	if over(ucount.Val(), l.o.UserLimit) {
		wait = max(wait, remaining(uttl.Val(), l.o.Window))
	}
	if over(icount.Val(), l.o.IPLimit) {
		wait = max(wait, remaining(ittl.Val(), l.o.Window))
	}
	if wait <= 0 {
		return nil
	}
	return backend.RateLimited(wait, "too many failed sign-ins; try again in %d s", int(math.Ceil(wait.Seconds())))
}

// over reports whether a counter read by GET ("" when there were no
// failures in this window) has reached limit.
func over(s string, limit int) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= limit
}

// remaining turns a PTTL reply into the wait. A key that expired between the
// reads (-2 or 0) means no wait; a key without expiry (-1, which failScript
// prevents) is treated as a fresh window rather than a permanent lock.
func remaining(ttl, window time.Duration) time.Duration {
	switch {
	case ttl == -1:
		return window
	case ttl <= 0:
		return 0
	default:
		return ttl
	}
}

// Fail implements backend.LoginThrottle.
func (l *LoginThrottle) Fail(ctx context.Context, username, ip string) error {
	for _, k := range []string{l.userKey(username), l.ipKey(ip)} {
		if err := failScript.Run(ctx, l.c.client, []string{k}, l.o.Window.Milliseconds()).Err(); err != nil {
			return translate(err)
		}
	}
	return nil
}

// Succeed implements backend.LoginThrottle.
func (l *LoginThrottle) Succeed(ctx context.Context, username string) error {
	return translate(l.c.client.Del(ctx, l.userKey(username)).Err())
}
