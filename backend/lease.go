package backend

import (
	"context"
	"sync"
	"time"
)

// KeepAlive extends lease every interval for as long as the work it guards
// runs, so that a lease lives as long as the work and not a fixed time. It
// returns the context the work must use: it is cancelled, with the
// extension's error as its cause (context.Cause), as soon as an extension
// fails — Redis gone, or the lease taken over after a pause — so that the
// work stops at once and stores nothing. stop ends the extensions and
// reports that error, or nil. A lease alone is not exactly-once: the
// work's final write must still be fenced in the database.
func KeepAlive(ctx context.Context, lease Lease, interval time.Duration) (work context.Context, stop func() error) {
	work, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-work.Done():
				return
			case <-t.C:
				extend, cancelExtend := context.WithTimeout(ctx, interval)
				err := lease.Extend(extend)
				cancelExtend()
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					cancel(err)
					return
				}
			}
		}
	}()
	var once sync.Once
	return work, func() error {
		once.Do(func() {
			close(done)
			wg.Wait()
			cancel(nil)
		})
		mu.Lock()
		defer mu.Unlock()
		return failed
	}
}
