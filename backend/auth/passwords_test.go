package auth

import (
	"context"
	"sync"
	"testing"
	"time"

	"suiji/backend"
)

// countingThrottle is an in-memory backend.LoginThrottle that lets every
// attempt go ahead and counts what it is told.
type countingThrottle struct {
	mu                                 sync.Mutex
	attempts, fails, succeeds, returns int
}

func (c *countingThrottle) Attempt(context.Context, string, string) error {
	c.add(&c.attempts)
	return nil
}
func (c *countingThrottle) Fail(context.Context, string, string) error { c.add(&c.fails); return nil }
func (c *countingThrottle) Succeed(context.Context, string, string) error {
	c.add(&c.succeeds)
	return nil
}
func (c *countingThrottle) Release(context.Context, string, string) error {
	c.add(&c.returns)
	return nil
}
func (c *countingThrottle) add(n *int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*n++
}

// TestPasswordsBoundTheArgonWork: with one slot and almost no wait, checks
// made at once mostly find the slot taken and are refused (ERATELIMIT,
// retry after a second) instead of running side by side; a refused check
// gives its attempt back. With time to wait, all go through.
func TestPasswordsBoundTheArgonWork(t *testing.T) {
	hash, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	throttle := &countingThrottle{}
	p := NewPasswords(throttle, 1)
	p.wait = time.Millisecond
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = p.Check(context.Background(), "alice", "10.0.0.1", "correct horse battery", func() (string, error) { return hash, nil })
		})
	}
	wg.Wait()
	busy := 0
	for _, err := range errs {
		switch {
		case err == nil:
		case backend.ErrorCode(err) == backend.ERATELIMIT:
			busy++
			if d, ok := backend.RetryAfter(err); !ok || d != time.Second {
				t.Errorf("busy answer %v without a one-second Retry-After", err)
			}
		default:
			t.Fatal(err)
		}
	}
	if busy == 0 {
		t.Fatal("eight checks ran through one slot without waiting")
	}
	if throttle.returns != busy || throttle.succeeds != len(errs)-busy {
		t.Errorf("throttle told %+v; want %d attempts given back and %d successes", throttle, busy, len(errs)-busy)
	}

	p.wait = time.Minute
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = p.Check(context.Background(), "alice", "10.0.0.1", "correct horse battery", func() (string, error) { return hash, nil })
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("with time to wait: %v", err)
		}
	}
}

// TestPasswordsUnknownUsersFail: no such user (hashOf returns "") fails and
// counts as a failure, like a wrong password.
func TestPasswordsUnknownUsersFail(t *testing.T) {
	throttle := &countingThrottle{}
	p := NewPasswords(throttle, 0)
	ok, err := p.Check(context.Background(), "nobody", "10.0.0.1", "suiji-timing-equaliser", func() (string, error) { return "", nil })
	if ok || err != nil || throttle.fails != 1 {
		t.Fatalf("unknown user: %v, %v, fails %d; want a counted failure", ok, err, throttle.fails)
	}
}
