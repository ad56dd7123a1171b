package audit

import (
	"context"
	"math/rand/v2"
	"time"

	"suiji/backend"
)

// MaxAttempts bounds how often Record rebuilds an event after losing a race
// for its Seq. Each lost race means another writer appended in the meantime,
// so running out takes sustained contention from many writers; the caller
// then gets EUNAVAILABLE and may retry the whole request.
const MaxAttempts = 50

// Backoff bounds: the wait before attempt n (n ≥ 1) is drawn uniformly from
// [0, min(backoffBase·2ⁿ, backoffMax)). Full jitter spreads writers that
// collided so that they do not collide again in lock step.
const (
	backoffBase = 500 * time.Microsecond
	backoffMax  = 20 * time.Millisecond
)

// Recorder appends events to the audit chain. It implements backend.Auditor
// and is safe for concurrent use, also by several server instances sharing
// one database.
type Recorder struct {
	// Store is where the chain lives.
	Store backend.AuditStore
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var _ backend.Auditor = (*Recorder)(nil)

// Record appends one event: action (e.g. "user.create") on the object of
// objectType and objectID, with digests of the object before and after (nil
// for none; see Digest). The actor, request id and client address come from
// ctx (backend.ActorFromContext, backend.RequestIDFromContext).
//
// It returns EINVALID when action is empty or an object cannot be digested,
// EUNAVAILABLE when it lost the race for the next Seq MaxAttempts times, and
// the store's errors otherwise.
//
// Concurrency: the chain must stay one line even when several instances
// append at once, and FerretDB v1 has no transactions to make "read the last
// event, write the next" atomic. So each attempt reads the last event, builds
// Seq = last.Seq+1 with PrevHash = last.Hash, and inserts; the store's unique
// index on Seq lets exactly one writer have each Seq, and a loser (ECONFLICT)
// reads the new last event and rebuilds on top of it. Two events can never
// share a Seq (no fork) and a loser never leaves a gap, because it writes
// nothing until it wins.
func (r *Recorder) Record(ctx context.Context, action, objectType, objectID string, before, after any) error {
	if action == "" {
		return backend.Errorf(backend.EINVALID, "audit: an event needs an action")
	}
	beforeDigest, err := Digest(before)
	if err != nil {
		return err
	}
	afterDigest, err := Digest(after)
	if err != nil {
		return err
	}
	actor := backend.ActorFromContext(ctx)
	requestID := backend.RequestIDFromContext(ctx)

	for attempt := 0; attempt < MaxAttempts; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return backend.Wrap(err, backend.EUNAVAILABLE, "audit: gave up appending %s", action)
			}
		}
		var seq int64 = 1
		var prev string
		last, err := r.Store.LastAuditEvent(ctx)
		switch {
		case err == nil:
			seq, prev = last.Seq+1, last.Hash
		case backend.ErrorCode(err) == backend.ENOTFOUND:
			// The first event of the chain.
		default:
			return err
		}
		e := &backend.AuditEvent{
			Seq: seq,
			// Read the clock on each attempt, so that an event that had to
			// wait is not stamped earlier than the one it follows.
			Time:         r.now().UTC().Truncate(time.Millisecond),
			ActorID:      actor.UserID,
			ActorName:    actor.Username,
			Action:       action,
			ObjectType:   objectType,
			ObjectID:     objectID,
			BeforeDigest: beforeDigest,
			AfterDigest:  afterDigest,
			RequestID:    requestID,
			ClientIP:     actor.ClientIP,
			PrevHash:     prev,
		}
		e.Hash = Hash(e)
		err = r.Store.InsertAuditEvent(ctx, e)
		if backend.ErrorCode(err) != backend.ECONFLICT {
			return err // nil on success
		}
	}
	return backend.Errorf(backend.EUNAVAILABLE,
		"audit: could not append %s after %d attempts; the audit trail is too busy", action, MaxAttempts)
}

func (r *Recorder) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// backoff returns the jittered wait before the given attempt (≥ 1).
func backoff(attempt int) time.Duration {
	ceiling := backoffMax
	if attempt < 16 {
		ceiling = min(backoffBase<<attempt, backoffMax)
	}
	// Jitter is not a secret and not part of any record, so it need not be
	// injected like the draw's randomness.
	return rand.N(ceiling)
}

// sleep waits for d or until ctx ends, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
