package auth

import (
	"context"
	"runtime"
	"time"

	"suiji/backend"
)

// DefaultHashWait is how long a password check waits for a free argon2id
// slot before the caller is asked to come back.
const DefaultHashWait = 2 * time.Second

// Passwords checks and hashes passwords under two bounds. Every check is
// first counted by the login throttle, before argon2id runs, so parallel
// wrong guesses cannot all slip past a limit none of them has reached yet.
// And argon2id — 19 MiB and most of a core for tens of milliseconds each —
// runs in a fixed number of slots, so that anonymous callers cannot make
// the server hash without bound; a check that finds no free slot within
// the wait is refused (ERATELIMIT, retry after a second) rather than
// queued for ever.
type Passwords struct {
	throttle backend.LoginThrottle
	slots    chan struct{}
	wait     time.Duration
}

// NewPasswords returns the password checker with throttle and slots
// concurrent argon2id computations (the number of CPUs, at least 2, when
// slots <= 0).
func NewPasswords(throttle backend.LoginThrottle, slots int) *Passwords {
	if slots <= 0 {
		slots = max(2, runtime.NumCPU())
	}
	return &Passwords{throttle: throttle, slots: make(chan struct{}, slots), wait: DefaultHashWait}
}

// Check tells whether password is username's, asked from ip. hashOf looks
// the hash up once the attempt is counted; it returns "" when there is no
// such user, or none that may sign in, and then a dummy hash is checked so
// that the answer takes as long. The outcome goes to the throttle: a
// failure may lock the (username, ip) pair, a success clears it.
//
// ERATELIMIT when the throttle refuses the attempt or no argon2id slot
// frees in time; hashOf's error as it is.
func (p *Passwords) Check(ctx context.Context, username, ip, password string, hashOf func() (string, error)) (bool, error) {
	if err := p.throttle.Attempt(ctx, username, ip); err != nil {
		return false, err
	}
	hash, err := hashOf()
	if err != nil {
		p.release(ctx, username, ip)
		return false, err
	}
	known := hash != ""
	if !known {
		hash = dummyHash
	}
	ok, err := p.verify(ctx, hash, password)
	if err != nil {
		p.release(ctx, username, ip)
		return false, err
	}
	if ok && known {
		return true, p.throttle.Succeed(ctx, username, ip)
	}
	return false, p.throttle.Fail(ctx, username, ip)
}

// release gives back an attempt whose password was not checked; failing
// that, the attempt just stays counted until its window ends.
func (p *Passwords) release(ctx context.Context, username, ip string) {
	_ = p.throttle.Release(context.WithoutCancel(ctx), username, ip)
}

// Hash hashes a new password in one of the slots.
func (p *Passwords) Hash(ctx context.Context, password string) (string, error) {
	if err := p.acquire(ctx); err != nil {
		return "", err
	}
	defer p.releaseSlot()
	hash, err := HashPassword(password)
	if err != nil {
		return "", backend.Wrap(err, backend.EINTERNAL, "hashing password")
	}
	return hash, nil
}

// verify checks a password against a hash in one of the slots.
func (p *Passwords) verify(ctx context.Context, hash, password string) (bool, error) {
	if err := p.acquire(ctx); err != nil {
		return false, err
	}
	defer p.releaseSlot()
	return VerifyPassword(hash, password), nil
}

func (p *Passwords) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-t.C:
		return backend.RateLimited(time.Second, "the server is checking many passwords at once; try again in a second")
	case <-ctx.Done():
		return backend.Wrap(ctx.Err(), backend.EUNAVAILABLE, "the request ended while waiting to check a password")
	}
}

func (p *Passwords) releaseSlot() { <-p.slots }
