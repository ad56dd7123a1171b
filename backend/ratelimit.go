package backend

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// LoginThrottle limits password guessing, for sign-ins and for the current
// password PATCH /me asks for. Its counters are shared by every server
// instance.
//
// Attempts are counted before the password is checked, so that parallel
// guesses cannot all pass a check made before any of them had failed. The
// lock is per (username, client address): a stranger who fails ten times
// locks only themselves out of that account, not its owner signing in from
// elsewhere, and each lock of the same pair lasts twice as long as the one
// before. The address also has a limit of its own across all usernames, so
// that one password tried on many accounts is slow too.
type LoginThrottle interface {
	// Attempt counts an attempt by username from ip whose password is
	// about to be checked. It returns ERATELIMIT, carrying the wait for
	// RetryAfter, when the pair is locked or has used its attempts, or the
	// address has; a refused attempt is not counted. EUNAVAILABLE when the
	// counters cannot be reached.
	Attempt(ctx context.Context, username, ip string) error
	// Fail records that the counted attempt failed. The pair's last allowed
	// failure locks the pair. EUNAVAILABLE when the counters cannot be
	// written.
	Fail(ctx context.Context, username, ip string) error
	// Succeed records that the counted attempt succeeded: the pair's
	// failures and past locks are forgotten, and the address gets its
	// attempt back (it counts failures only). EUNAVAILABLE when the
	// counters cannot be written.
	Succeed(ctx context.Context, username, ip string) error
	// Release gives back an attempt whose password was never checked (the
	// server was too busy). EUNAVAILABLE when the counters cannot be
	// written.
	Release(ctx context.Context, username, ip string) error
}

// RetryAfterError is the cause inside an ERATELIMIT error that says how long
// the caller must wait; the HTTP layer turns it into a Retry-After header.
// Build one with RateLimited and read it with RetryAfter.
type RetryAfterError struct {
	Delay time.Duration
}

// Error implements the error interface.
func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("retry after %s", e.Delay)
}

// RateLimited returns an ERATELIMIT error with the given client-safe message
// whose cause carries delay, so that RetryAfter can find it.
func RateLimited(delay time.Duration, format string, args ...any) error {
	return Wrap(&RetryAfterError{Delay: delay}, ERATELIMIT, format, args...)
}

// RetryAfter returns the delay carried by a *RetryAfterError in err's chain
// and whether there is one.
func RetryAfter(err error) (time.Duration, bool) {
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return ra.Delay, true
	}
	return 0, false
}

// AddressBucket is what a client address counts as for the per-address
// limits (the sign-in throttle, the public request limit, the connection
// cap, an anonymous caller's idempotency scope). An IPv6 client is usually
// given a whole /64 and can pick any address in it, so IPv6 addresses count
// per /64 prefix ("2001:db8:1:2::/64"); otherwise one client could take a
// fresh budget with every address. IPv4 addresses, and IPv4 addresses
// written as IPv6 (::ffff:a.b.c.d), count on their own ("192.0.2.7").
// Something that does not parse is its own bucket.
func AddressBucket(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.WithZone("").Prefix(64)
		return p.String()
	}
	return addr.String()
}
