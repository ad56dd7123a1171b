package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"suiji/backend"
)

// Default login throttle limits: a (username, client address) pair may fail
// 10 times in a 15-minute window and is then locked for a minute, each
// further lock of the pair twice as long as the one before (up to an hour;
// the count of locks is forgotten a day after the last); a client address
// may fail 50 times per window across all usernames, since offices and
// mobile carriers put many people behind one address.
const (
	DefaultLoginPairLimit = 10
	DefaultLoginIPLimit   = 50
	DefaultLoginWindow    = 15 * time.Minute
	DefaultLoginLock      = time.Minute
	DefaultLoginMaxLock   = time.Hour
	loginStrikesTTL       = 24 * time.Hour
)

// ThrottleOptions sets the login throttle's limits. Zero fields take the
// defaults above.
type ThrottleOptions struct {
	PairLimit int           // failures per (username, address) before the pair is locked
	IPLimit   int           // failures per address in a window
	Window    time.Duration // fixed window of both counters, from the first attempt
	Lock      time.Duration // the first lock of a pair; each further one doubles
	MaxLock   time.Duration // the longest lock
}

// LoginThrottle is the Redis implementation of backend.LoginThrottle. Each
// decision is one script on one Redis key or on keys that share a hash tag
// (a pair's counter, lock and lock count), so it is atomic — also on a
// Cluster — and every server instance sees the same counts.
type LoginThrottle struct {
	c *Cache
	o ThrottleOptions
}

var _ backend.LoginThrottle = (*LoginThrottle)(nil)

// NewLoginThrottle returns a login throttle on c with the limits in o.
func NewLoginThrottle(c *Cache, o ThrottleOptions) *LoginThrottle {
	if o.PairLimit <= 0 {
		o.PairLimit = DefaultLoginPairLimit
	}
	if o.IPLimit <= 0 {
		o.IPLimit = DefaultLoginIPLimit
	}
	if o.Window <= 0 {
		o.Window = DefaultLoginWindow
	}
	if o.Lock <= 0 {
		o.Lock = DefaultLoginLock
	}
	if o.MaxLock <= 0 {
		o.MaxLock = DefaultLoginMaxLock
	}
	return &LoginThrottle{c: c, o: o}
}

// maxUsernameKey bounds the username part of a key: longer names are hashed
// so that junk sent as a username cannot make huge keys.
const maxUsernameKey = 128

// pairKeys returns the counter, lock and lock-count keys of a (username,
// address) pair, in one Cluster slot. Names are lowercased so that
// changing the case does not buy an attacker a fresh counter; names that
// are long or hold braces (which would move the hash tag) are hashed.
func (l *LoginThrottle) pairKeys(username, ip string) (count, lock, strikes string) {
	name := strings.ToLower(username)
	if len(name) > maxUsernameKey || strings.ContainsAny(name, "{}") {
		sum := sha256.Sum256([]byte(name))
		name = "sha256-" + hex.EncodeToString(sum[:])
	}
	tag := "{" + name + "|" + addressBucket(ip) + "}"
	return l.c.Key("login", "pair", tag), l.c.Key("login", "pair", tag, "lock"), l.c.Key("login", "pair", tag, "strikes")
}

// ipKey returns the counter key of a client address.
func (l *LoginThrottle) ipKey(ip string) string {
	return l.c.Key("login", "ip", addressBucket(ip))
}

// addressBucket is what a client address counts as (backend.AddressBucket),
// with braces, which would end a Redis hash tag, replaced.
func addressBucket(ip string) string {
	return strings.NewReplacer("{", "_", "}", "_").Replace(backend.AddressBucket(ip))
}

// takeScript counts one attempt on KEYS[1] (limit ARGV[1], window ARGV[2]
// ms, started by the first attempt) unless KEYS[2], a lock, is set. It
// returns {1, 0} when the attempt may go ahead, and {0, wait ms} when it
// may not — locked, or over the limit, in which case it is not counted. A
// counter found without an expiry gets one, so a crash can never leave a
// counter that lasts for ever.
var takeScript = redis.NewScript(`
if KEYS[2] then
	local lock = redis.call('PTTL', KEYS[2])
	if lock > 0 then return {0, lock} end
end
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if n > tonumber(ARGV[1]) then
	redis.call('DECR', KEYS[1])
	return {0, redis.call('PTTL', KEYS[1])}
end
return {1, 0}
`)

// giveBackScript uncounts one attempt on KEYS[1], if any is counted.
var giveBackScript = redis.NewScript(`
if (tonumber(redis.call('GET', KEYS[1])) or 0) > 0 then
	redis.call('DECR', KEYS[1])
end
return 0
`)

// lockScript runs after a failed attempt of a pair: when the pair's counter
// KEYS[1] has reached its limit ARGV[1], the pair is locked (KEYS[2]) for
// ARGV[2] ms doubled for every earlier lock counted in KEYS[3] (kept ARGV[4]
// ms), at most ARGV[3] ms, and its counter starts again.
var lockScript = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1])) or 0
if n < tonumber(ARGV[1]) then return 0 end
local s = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
local d = tonumber(ARGV[2]) * 2 ^ (s - 1)
if d > tonumber(ARGV[3]) then d = tonumber(ARGV[3]) end
d = math.floor(d)
redis.call('SET', KEYS[2], '1', 'PX', d)
redis.call('DEL', KEYS[1])
return d
`)

// Attempt implements backend.LoginThrottle. The error's message is the
// same whichever limit was reached, so it tells an attacker nothing about
// the account.
func (l *LoginThrottle) Attempt(ctx context.Context, username, ip string) error {
	count, lock, _ := l.pairKeys(username, ip)
	wait, err := l.take(ctx, []string{count, lock}, l.o.PairLimit)
	if err != nil || wait > 0 {
		return limited(wait, err)
	}
	wait, err = l.take(ctx, []string{l.ipKey(ip)}, l.o.IPLimit)
	if err != nil || wait > 0 {
		// The pair's attempt does not go ahead either.
		if gerr := giveBackScript.Run(ctx, l.c.client, []string{count}).Err(); gerr != nil && err == nil {
			err = gerr
		}
		return limited(wait, err)
	}
	return nil
}

// take runs takeScript and returns the wait (0: go ahead).
func (l *LoginThrottle) take(ctx context.Context, keys []string, limit int) (time.Duration, error) {
	res, err := takeScript.Run(ctx, l.c.client, keys, limit, l.o.Window.Milliseconds()).Int64Slice()
	if err != nil {
		return 0, err
	}
	if len(res) != 2 || res[0] == 1 {
		return 0, nil
	}
	return remaining(time.Duration(res[1])*time.Millisecond, l.o.Window), nil
}

// limited is Attempt's answer for a refused attempt (or a Redis error).
func limited(wait time.Duration, err error) error {
	if err != nil {
		return translate(err)
	}
	wait = max(wait, time.Second)
	return backend.RateLimited(wait, "too many failed sign-ins; try again in %d s", int(math.Ceil(wait.Seconds())))
}

// remaining turns a PTTL reply into the wait. A key that expired between the
// reads (-2 or 0) means a second; a key without expiry (-1, which the
// scripts prevent) is treated as a fresh window rather than a permanent
// lock.
func remaining(ttl, window time.Duration) time.Duration {
	switch {
	case ttl == -1:
		return window
	case ttl <= 0:
		return time.Second
	default:
		return ttl
	}
}

// Fail implements backend.LoginThrottle.
func (l *LoginThrottle) Fail(ctx context.Context, username, ip string) error {
	count, lock, strikes := l.pairKeys(username, ip)
	return translate(lockScript.Run(ctx, l.c.client, []string{count, lock, strikes},
		l.o.PairLimit, l.o.Lock.Milliseconds(), l.o.MaxLock.Milliseconds(), loginStrikesTTL.Milliseconds()).Err())
}

// Succeed implements backend.LoginThrottle.
func (l *LoginThrottle) Succeed(ctx context.Context, username, ip string) error {
	count, lock, strikes := l.pairKeys(username, ip)
	if err := l.c.client.Del(ctx, count, lock, strikes).Err(); err != nil {
		return translate(err)
	}
	return translate(giveBackScript.Run(ctx, l.c.client, []string{l.ipKey(ip)}).Err())
}

// Release implements backend.LoginThrottle.
func (l *LoginThrottle) Release(ctx context.Context, username, ip string) error {
	count, _, _ := l.pairKeys(username, ip)
	for _, k := range []string{count, l.ipKey(ip)} {
		if err := giveBackScript.Run(ctx, l.c.client, []string{k}).Err(); err != nil {
			return translate(err)
		}
	}
	return nil
}
