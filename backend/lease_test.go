package backend

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
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

func TestKeepAliveExtendsUntilStopped(t *testing.T) {
	l := &fakeLease{}
	work, stop := KeepAlive(t.Context(), l, 10*time.Millisecond)
	time.Sleep(80 * time.Millisecond)
	if err := stop(); err != nil || work.Err() == nil {
		t.Fatalf("stop: %v, work %v", err, work.Err())
	}
	n := l.extended.Load()
	if n < 3 {
		t.Fatalf("extended %d times in 80 ms at a 10 ms interval", n)
	}
	time.Sleep(30 * time.Millisecond)
	if l.extended.Load() != n {
		t.Fatal("extensions went on after stop")
	}
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
