package cache

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"suiji/backend"
)

// Public request limits: generous for a person reading pages (a page is a
// handful of requests), low enough that one client cannot monopolise the
// public endpoints.
const (
	PublicRequestLimit  = 600
	PublicRequestWindow = time.Minute
)

// RequestLimiter counts requests per key in fixed windows kept in Redis
// (INCR, expiry set with the first request of a window), so that every
// server instance shares the count and nothing outlives its window.
type RequestLimiter struct {
	c      *Cache
	name   string
	limit  int64
	window time.Duration
}

// NewRequestLimiter returns a limiter of limit requests per window for each
// key; name separates limiters' keys ("public").
func NewRequestLimiter(c *Cache, name string, limit int, window time.Duration) *RequestLimiter {
	return &RequestLimiter{c: c, name: name, limit: int64(limit), window: window}
}

// allowScript counts one request and returns the count and the window's
// remaining milliseconds.
var allowScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return {n, redis.call('PTTL', KEYS[1])}
`)

// Allow implements backend.RequestLimiter.
func (l *RequestLimiter) Allow(ctx context.Context, key string) error {
	res, err := allowScript.Run(ctx, l.c.client, []string{l.c.Key("ratelimit", l.name, key)}, l.window.Milliseconds()).Int64Slice()
	if err != nil {
		return translate(err)
	}
	if len(res) != 2 || res[0] <= l.limit {
		return nil
	}
	wait := remaining(time.Duration(res[1])*time.Millisecond, l.window)
	if wait <= 0 { // the window ended between the count and the read
		wait = time.Millisecond
	}
	return backend.RateLimited(wait, "too many requests from this address; try again in %d s", int((wait+time.Second-1)/time.Second))
}
