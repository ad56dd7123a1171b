package audit

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
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

// appendTimeout bounds appending an event whose change is already stored:
// the append then runs even if the request was cancelled, since the change
// stands either way, but it must not hold the caller for ever.
const appendTimeout = 10 * time.Second

// Recorder appends events to the audit chain. It implements backend.Auditor
// and is safe for concurrent use, also by several server instances sharing
// one database.
type Recorder struct {
	// Store is where the chain lives.
	Store backend.AuditStore
	// Outbox is where Recover finds events staged with changes whose append
	// did not complete; nil means there is nothing to recover.
	Outbox backend.AuditOutbox
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Deferred, when set, is told of an event whose change is stored but
	// whose append failed (err): Recover appends it later. The binary logs
	// it, so a failing audit store does not go unnoticed.
	Deferred func(ctx context.Context, e *backend.AuditEvent, err error)
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
func (r *Recorder) Record(ctx context.Context, action, objectType, objectID string, before, after any) error {
	p, err := r.stage(ctx, backend.AuditChange{Action: action, ObjectType: objectType, ObjectID: objectID, Before: before, After: after})
	if err != nil {
		return err
	}
	return r.append(ctx, &p.Event)
}

// Change implements backend.Auditor: it stages the event, runs write with
// the event in its context, and appends the event once write has stored it
// with the change. A store that keeps no outbox leaves the event staged;
// it is then appended after a successful write, as Record would.
//
// A bulk change (c.Bulk) that stored nothing — every row lost its race,
// every task existed already — has no event, outbox or not: what a store
// wrote ahead of it is removed again. (When write failed, what landed is
// not known; recovery finds out.)
//
// It returns Record's errors for a bad change, before anything is written;
// write's error when write stored nothing; and otherwise write's error (nil
// on success) even when the append failed, since the event is safe in the
// outbox and Recover appends it: answering with an error would invite the
// caller to make the change a second time.
func (r *Recorder) Change(ctx context.Context, c backend.AuditChange, write func(context.Context) error) error {
	p, err := r.stage(ctx, c)
	if err != nil {
		return err
	}
	werr := write(backend.WithPendingAudit(ctx, p))
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), appendTimeout)
	defer cancel()
	if !p.IsStored() {
		switch {
		case werr == nil && c.Bulk:
			if err := p.Clear(actx); err != nil {
				r.deferred(ctx, &p.Event, err) // recovery drops it
			}
			return nil
		case werr != nil || c.Bulk:
			return werr
		}
		return r.append(ctx, &p.Event)
	}
	if err := r.append(actx, &p.Event); err != nil {
		r.deferred(ctx, &p.Event, err)
		return werr
	}
	if err := p.Clear(actx); err != nil {
		// The event is in the chain; Recover will find the entry, see
		// that and clear it.
		r.deferred(ctx, &p.Event, err)
	}
	return werr
}

// Recover appends every event staged before the given time whose append
// did not complete, oldest first, and clears it from the outbox; an event
// that is in the chain already (a crash after the append, before the
// clear) is only cleared. Each event ID is appended once, however many
// places hold the event (a bulk change's is written ahead once per
// collection it writes; a change named by a key may be staged again by a
// retry): the outbox hands out each ID once per call, this loop skips an
// ID it has handled, and the store refuses a second event with an ID it
// holds, which also makes it safe to run from several instances at once
// and beside requests making changes. It returns how many events it
// appended.
//
// Run it at start and then periodically with a time somewhat in the past,
// so that it does not race requests still completing their own appends
// (it would be harmless, only wasted work).
func (r *Recorder) Recover(ctx context.Context, before time.Time) (int, error) {
	if r.Outbox == nil {
		return 0, nil
	}
	const batch = 100
	appended := 0
	handled := map[string]bool{} // event IDs in the chain by now
	for {
		pending, err := r.Outbox.PendingAuditEvents(ctx, before, batch)
		if err != nil {
			return appended, err
		}
		for _, p := range pending {
			done := handled[p.Event.ID]
			if !done {
				if done, err = r.inChain(ctx, p.Event.ID); err != nil {
					return appended, err
				}
			}
			if !done {
				if err := r.append(ctx, &p.Event); err != nil {
					return appended, err
				}
				appended++
			}
			handled[p.Event.ID] = true
			if err := p.Clear(ctx); err != nil {
				return appended, err
			}
		}
		if len(pending) < batch {
			return appended, nil
		}
	}
}

// Head returns the newest event of the chain, whose Hash stands for the
// whole chain: published (GET /public/v1/audit/head, the daily log line),
// it lets anyone notice later that newest events were deleted or the chain
// rebuilt. ENOTFOUND when the chain is empty.
func Head(ctx context.Context, store backend.AuditStore) (*backend.AuditEvent, error) {
	return store.LastAuditEvent(ctx)
}

// stage builds the event of change c, without its place in the chain.
// Its time is the time of the change, whenever the event is appended.
func (r *Recorder) stage(ctx context.Context, c backend.AuditChange) (*backend.PendingAudit, error) {
	if c.Action == "" {
		return nil, backend.Errorf(backend.EINVALID, "audit: an event needs an action")
	}
	beforeDigest, err := Digest(c.Before)
	if err != nil {
		return nil, err
	}
	afterDigest, err := Digest(c.After)
	if err != nil {
		return nil, err
	}
	id := newEventID()
	if c.Key != "" {
		id = backend.AuditEventID(c.Key)
	}
	actor := backend.ActorFromContext(ctx)
	return &backend.PendingAudit{Bulk: c.Bulk, Event: backend.AuditEvent{
		ID:           id,
		Time:         r.now().UTC().Truncate(time.Millisecond),
		ActorID:      actor.UserID,
		ActorName:    actor.Username,
		Action:       c.Action,
		ObjectType:   c.ObjectType,
		ObjectID:     c.ObjectID,
		BeforeDigest: beforeDigest,
		AfterDigest:  afterDigest,
		RequestID:    backend.RequestIDFromContext(ctx),
		ClientIP:     actor.ClientIP,
	}}, nil
}

// append adds ev to the chain, setting its Seq, PrevHash and Hash.
//
// Concurrency: the chain must stay one line even when several instances
// append at once, and FerretDB v1 has no transactions to make "read the last
// event, write the next" atomic. So each attempt reads the last event, builds
// Seq = last.Seq+1 with PrevHash = last.Hash, and inserts; the store's unique
// index on Seq lets exactly one writer have each Seq, and a loser (ECONFLICT)
// reads the new last event and rebuilds on top of it. Two events can never
// share a Seq (no fork) and a loser never leaves a gap, because it writes
// nothing until it wins. The unique ID makes a repeated append (recovery
// racing the request, a retry after a lost answer) a no-op.
func (r *Recorder) append(ctx context.Context, ev *backend.AuditEvent) error {
	for attempt := 0; attempt < MaxAttempts; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return backend.Wrap(err, backend.EUNAVAILABLE, "audit: gave up appending %s", ev.Action)
			}
		}
		e := *ev
		e.Seq, e.PrevHash = 1, ""
		last, err := r.Store.LastAuditEvent(ctx)
		switch {
		case err == nil:
			e.Seq, e.PrevHash = last.Seq+1, last.Hash
		case backend.ErrorCode(err) == backend.ENOTFOUND:
			// The first event of the chain.
		default:
			return err
		}
		e.Hash = Hash(&e)
		err = r.Store.InsertAuditEvent(ctx, &e)
		if err == nil {
			*ev = e
			return nil
		}
		if backend.ErrorCode(err) != backend.ECONFLICT {
			return err
		}
		if done, err := r.inChain(ctx, ev.ID); err != nil || done {
			return err
		}
	}
	return backend.Errorf(backend.EUNAVAILABLE,
		"audit: could not append %s after %d attempts; the audit trail is too busy", ev.Action, MaxAttempts)
}

// inChain reports whether the event with this ID was appended already.
func (r *Recorder) inChain(ctx context.Context, id string) (bool, error) {
	if id == "" {
		return false, nil
	}
	found, err := r.Store.FindAuditEvents(ctx, backend.AuditFilter{ID: id, Limit: 1})
	return len(found) > 0, err
}

// deferred reports an event left for Recover.
func (r *Recorder) deferred(ctx context.Context, e *backend.AuditEvent, err error) {
	if r.Deferred != nil {
		r.Deferred(ctx, e, err)
	}
}

// newEventID returns a random event ID.
func newEventID() string {
	var b [16]byte
	_, _ = crand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return hex.EncodeToString(b[:])
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

// Backlog counts the events staged with their change but not yet in the
// chain: zero in a healthy system, growing while the audit store is
// unreachable, for metrics.
func (r *Recorder) Backlog(ctx context.Context) (int, error) {
	if r.Outbox == nil {
		return 0, nil
	}
	return r.Outbox.CountPendingAuditEvents(ctx)
}
