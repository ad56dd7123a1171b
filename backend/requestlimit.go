package backend

import "context"

// RequestLimiter bounds how many requests one client (by address) may make
// in a window, across every server instance: the public portal and the
// /public API answer anyone, so one busy scraper must not slow them for
// everyone else.
type RequestLimiter interface {
	// Allow counts one request for key. It returns ERATELIMIT, carrying the
	// delay for RetryAfter, when key is over its limit, and EUNAVAILABLE
	// when the counters cannot be reached.
	Allow(ctx context.Context, key string) error
}
