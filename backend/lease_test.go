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
