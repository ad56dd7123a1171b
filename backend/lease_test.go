package backend

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// fakeLease fails its extensions from the n-th on.
type fakeLease struct {
	extended atomic.Int32
	failFrom int32
}

func (l *fakeLease) Token() string                 { return "t" }
func (l *fakeLease) Release(context.Context) error { return nil }
func (l *fakeLease) Extend(context.Context) error {
	if n := l.extended.Add(1); l.failFrom > 0 && n >= l.failFrom {
		return Errorf(EUNAVAILABLE, "redis gone")
	}
	return nil
}

// TestKeepAliveExtendsUntilStopped runs in a synctest bubble: its clock
// moves only when every goroutine in it is blocked, so the count of
// extensions does not depend on how loaded the machine is.
func TestKeepAliveExtendsUntilStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &fakeLease{}
		work, stop := KeepAlive(t.Context(), l, 10*time.Millisecond)
		time.Sleep(85 * time.Millisecond)
		synctest.Wait()
		if n := l.extended.Load(); n != 8 {
			t.Fatalf("extended %d times in 85 ms at a 10 ms interval, want 8", n)
		}
		if err := stop(); err != nil || work.Err() == nil {
			t.Fatalf("stop: %v, work %v", err, work.Err())
		}
		time.Sleep(30 * time.Millisecond)
		synctest.Wait()
		if n := l.extended.Load(); n != 8 {
			t.Fatalf("%d extensions after stop, want none", n-8)
		}
	})
}

func TestKeepAliveStopsTheWorkWhenAnExtensionFails(t *testing.T) {
	l := &fakeLease{failFrom: 2}
	work, stop := KeepAlive(t.Context(), l, 10*time.Millisecond)
	select {
	case <-work.Done():
	case <-time.After(time.Second):
		t.Fatal("the work went on after the lease was lost")
	}
	if cause := context.Cause(work); ErrorCode(cause) != EUNAVAILABLE {
		t.Fatalf("cause %v, want the extension's error", cause)
	}
	if err := stop(); ErrorCode(err) != EUNAVAILABLE || errors.Is(err, context.Canceled) {
		t.Fatalf("stop: %v", err)
	}
}

// heldLocker refuses the lease as held until freeAt, then hands it out.
type heldLocker struct {
	freeAt time.Time
	tries  atomic.Int32
}

func (l *heldLocker) Acquire(_ context.Context, name string, _ time.Duration) (Lease, error) {
	l.tries.Add(1)
	if time.Now().Before(l.freeAt) {
		return nil, LeaseHeld(name)
	}
	return &fakeLease{failFrom: 1 << 30}, nil
}

// TestAcquireWaitingWaitsItsTimeOnly: a lease let go within the wait is
// taken; one held past it is the locker's held refusal, after the wait and
// not much later; a context ended meanwhile is EUNAVAILABLE.
func TestAcquireWaitingWaitsItsTimeOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &heldLocker{freeAt: time.Now().Add(time.Second)}
		if lease, err := AcquireWaiting(t.Context(), l, "x", time.Minute, 2*time.Second); err != nil || lease == nil {
			t.Fatalf("freed within the wait: %v", err)
		}
		if n := l.tries.Load(); n < 3 || n > 20 {
			t.Errorf("%d tries in a second: want it to poll, backing off", n)
		}

		l = &heldLocker{freeAt: time.Now().Add(time.Hour)}
		start := time.Now()
		_, err := AcquireWaiting(t.Context(), l, "x", time.Minute, 2*time.Second)
		if !errors.Is(err, ErrLeaseHeld) || ErrorCode(err) != ECONFLICT {
			t.Fatalf("held past the wait: %v", err)
		}
		if waited := time.Since(start); waited < 1500*time.Millisecond || waited > 2*time.Second {
			t.Errorf("gave up after %v, want about the 2 s wait", waited)
		}

		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		if _, err := AcquireWaiting(ctx, l, "x", time.Minute, 2*time.Second); ErrorCode(err) != EUNAVAILABLE {
			t.Fatalf("a context ended while waiting: %v", err)
		}
	})
}
