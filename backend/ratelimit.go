package backend

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// LoginThrottle counts failed sign-ins per username and per client address,
// so that guessing passwords is slow whether an attacker tries many
// passwords on one account or one password on many accounts. Its counters
// are shared by every server instance.
type LoginThrottle interface {
	// Check returns ERATELIMIT, carrying the delay for RetryAfter, when the
	// username's or the address's failures have reached their limit. It
	// returns EUNAVAILABLE when the counters cannot be read.
	Check(ctx context.Context, username, ip string) error
	// Fail records a failed sign-in for username from ip. It returns
	// EUNAVAILABLE when the counters cannot be written.
	Fail(ctx context.Context, username, ip string) error
	// Succeed clears the username's failures after a successful sign-in.
	// The address's failures stay, so that an attacker who owns one account
	// cannot reset the count of guesses made against others. It returns
	// EUNAVAILABLE when the counters cannot be written.
	Succeed(ctx context.Context, username string) error
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
