package audit_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/audit"
)

// memOutbox is an in-memory backend.AuditOutbox: what a store's documents
// hold in their outbox fields, in one place.
type memOutbox struct {
	mu       sync.Mutex
	entries  []backend.AuditEvent
	clearErr error
}

// write is a store write that keeps its change's staged event, as the
// MongoDB stores do.
func (o *memOutbox) write(ctx context.Context) error {
	p := backend.PendingAuditFromContext(ctx)
	if p == nil {
		return nil
	}
	o.mu.Lock()
	o.entries = append(o.entries, p.Event)
	o.mu.Unlock()
	id := p.Event.ID
	p.Stored(func(context.Context) error { return o.clear(id) })
	return nil
}

func (o *memOutbox) clear(id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.clearErr != nil {
		return o.clearErr
	}
	o.entries = slices.DeleteFunc(o.entries, func(e backend.AuditEvent) bool { return e.ID == id })
	return nil
}

func (o *memOutbox) PendingAuditEvents(_ context.Context, before time.Time, limit int) ([]*backend.PendingAudit, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*backend.PendingAudit
	for _, e := range o.entries {
		if e.Time.Before(before) && len(out) < limit {
			p := &backend.PendingAudit{Event: e}
			id := e.ID
			p.Stored(func(context.Context) error { return o.clear(id) })
			out = append(out, p)
		}
	}
	return out, nil
}

func (o *memOutbox) CountPendingAuditEvents(context.Context) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ids := map[string]bool{}
	for _, e := range o.entries {
		ids[e.ID] = true
	}
	return len(ids), nil
}

// writeAhead keeps a bulk change's event ahead of its writes, as the
// MongoDB stores do, without storing the change.
func (o *memOutbox) writeAhead(ctx context.Context) {
	p := backend.PendingAuditFromContext(ctx)
	o.mu.Lock()
	o.entries = append(o.entries, p.Event)
	o.mu.Unlock()
	id := p.Event.ID
	p.Ahead(func(context.Context) error { return o.clear(id) })
}

func (o *memOutbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.entries)
}

var change = backend.AuditChange{Action: "item.update", ObjectType: "item", ObjectID: "i-1", Before: map[string]int{"v": 1}, After: map[string]int{"v": 2}}

func TestAuditChangeStoresTheEventWithTheChangeThenAppendsIt(t *testing.T) {
	store, outbox := &memStore{}, &memOutbox{}
	r := &audit.Recorder{Store: store, Outbox: outbox}
	var inOutbox int
	err := r.Change(actorContext(), change, func(ctx context.Context) error {
		if err := outbox.write(ctx); err != nil {
			return err
		}
		inOutbox = outbox.len()
		// A second write of the same change (its version record) carries
		// no event.
		if backend.PendingAuditFromContext(ctx) != nil {
			t.Error("the staged event is offered again after it was stored")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if inOutbox != 1 {
		t.Errorf("during the write the outbox held %d events, want 1", inOutbox)
	}
	if len(store.events) != 1 || store.events[0].Action != "item.update" || store.events[0].ActorID != "u-1" {
		t.Fatalf("chain %+v, want the one item.update event", store.events)
	}
	if outbox.len() != 0 {
		t.Errorf("outbox still holds %d events after the append", outbox.len())
	}
}

func TestAuditChangeWithoutAnOutbox(t *testing.T) {
	store := &memStore{}
	r := &audit.Recorder{Store: store}
	if err := r.Change(actorContext(), change, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(store.events) != 1 {
		t.Fatalf("%d events, want the change's one", len(store.events))
	}
	boom := backend.Errorf(backend.ECONFLICT, "stale")
	if err := r.Change(actorContext(), change, func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("error %v, want the write's", err)
	}
	if len(store.events) != 1 {
		t.Errorf("a failed write was audited: %d events", len(store.events))
	}
	if err := r.Change(actorContext(), backend.AuditChange{}, func(context.Context) error {
		t.Error("write ran for an invalid change")
		return nil
	}); backend.ErrorCode(err) != backend.EINVALID {
		t.Errorf("empty action: %v, want EINVALID", err)
	}
}

// TestAuditChangeSurvivesAFailedAppend: the change is stored, the audit
// store fails; the caller is not told to retry (that would make the change
// twice), and recovery appends the event exactly once.
func TestAuditChangeSurvivesAFailedAppend(t *testing.T) {
	down := backend.Errorf(backend.EUNAVAILABLE, "MongoDB is unavailable")
	store := &memStore{beforeInsert: func(*backend.AuditEvent) error { return down }}
	outbox := &memOutbox{}
	var deferred []error
	r := &audit.Recorder{Store: store, Outbox: outbox, Deferred: func(_ context.Context, _ *backend.AuditEvent, err error) {
		deferred = append(deferred, err)
	}}
	if err := r.Change(actorContext(), change, outbox.write); err != nil {
		t.Fatalf("Change = %v; the change is stored, so it must succeed", err)
	}
	if len(store.events) != 0 || outbox.len() != 1 || len(deferred) != 1 || !errors.Is(deferred[0], down) {
		t.Fatalf("chain %d, outbox %d, deferred %v; want 0, 1 and the store's error", len(store.events), outbox.len(), deferred)
	}
	store.beforeInsert = nil
	if n, err := r.Recover(context.Background(), time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want 1 event appended", n, err)
	}
	if n, err := r.Recover(context.Background(), time.Now().Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("second Recover = %d, %v; want nothing left", n, err)
	}
	if len(store.events) != 1 || store.events[0].ActorID != "u-1" || outbox.len() != 0 {
		t.Fatalf("chain %+v, outbox %d", store.events, outbox.len())
	}
}

// TestAuditRecoverSkipsEventsAlreadyAppended: the append succeeded and the
// process stopped before clearing the outbox; recovery only clears it.
func TestAuditRecoverSkipsEventsAlreadyAppended(t *testing.T) {
	store, outbox := &memStore{}, &memOutbox{clearErr: errors.New("crash")}
	r := &audit.Recorder{Store: store, Outbox: outbox}
	if err := r.Change(actorContext(), change, outbox.write); err != nil {
		t.Fatal(err)
	}
	outbox.clearErr = nil
	if n, err := r.Recover(context.Background(), time.Now().Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("Recover = %d, %v; want nothing appended", n, err)
	}
	if len(store.events) != 1 || outbox.len() != 0 {
		t.Errorf("chain %d events, outbox %d; want 1 and 0", len(store.events), outbox.len())
	}
	// Appending the same event again, as a racing recovery would, is a no-op.
	e := store.events[0]
	e.Seq, e.Hash, e.PrevHash = 0, "", ""
	outbox.entries = append(outbox.entries, e)
	if n, err := r.Recover(context.Background(), time.Now().Add(time.Minute)); err != nil || n != 0 || len(store.events) != 1 {
		t.Errorf("Recover = %d, %v with %d events; want no duplicate", n, err, len(store.events))
	}
}

// TestAuditChangeWhoseLaterWriteFails: the document is stored, its version
// record then fails; the change stands, so its event is appended, and the
// caller gets the error.
func TestAuditChangeWhoseLaterWriteFails(t *testing.T) {
	store, outbox := &memStore{}, &memOutbox{}
	r := &audit.Recorder{Store: store, Outbox: outbox}
	boom := backend.Errorf(backend.EUNAVAILABLE, "versions unavailable")
	err := r.Change(actorContext(), change, func(ctx context.Context) error {
		if err := outbox.write(ctx); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || len(store.events) != 1 {
		t.Errorf("Change = %v with %d events; want the write's error and the event", err, len(store.events))
	}
}

func TestAuditRecoverStopsOnRecentEvents(t *testing.T) {
	store, outbox := &memStore{beforeInsert: func(*backend.AuditEvent) error { return errors.New("down") }}, &memOutbox{}
	r := &audit.Recorder{Store: store, Outbox: outbox}
	_ = r.Change(actorContext(), change, outbox.write)
	store.beforeInsert = nil
	if n, err := r.Recover(context.Background(), time.Now().Add(-time.Hour)); err != nil || n != 0 || outbox.len() != 1 {
		t.Errorf("Recover(an hour ago) = %d, %v, outbox %d; want the recent event left alone", n, err, outbox.len())
	}
}

// TestAuditBulkChangeStagesOneEventInEveryWrite: every write of a bulk
// change takes its event (one ID); the chain gets it once; recovery after
// a failed append appends it once however many places hold it (this
// outbox hands out a copy per write); a bulk change that stored nothing
// has no event, outbox or not, and what was written ahead of it goes.
func TestAuditBulkChangeStagesOneEventInEveryWrite(t *testing.T) {
	down := backend.Errorf(backend.EUNAVAILABLE, "MongoDB is unavailable")
	store, outbox := &memStore{beforeInsert: func(*backend.AuditEvent) error { return down }}, &memOutbox{}
	r := &audit.Recorder{Store: store, Outbox: outbox}
	bulk := change
	bulk.Bulk = true
	err := r.Change(actorContext(), bulk, func(ctx context.Context) error {
		for range 3 {
			if err := outbox.write(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Change = %v; the change is stored, so it must succeed", err)
	}
	if outbox.len() != 3 || len(store.events) != 0 {
		t.Fatalf("outbox %d, chain %d; want the event in all 3 writes and not in the chain", outbox.len(), len(store.events))
	}
	ids := map[string]bool{}
	for _, e := range outbox.entries {
		ids[e.ID] = true
	}
	if len(ids) != 1 {
		t.Fatalf("the writes hold %d event IDs, want one", len(ids))
	}
	store.beforeInsert = nil
	if n, err := r.Recover(context.Background(), time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want the one event appended once", n, err)
	}
	if len(store.events) != 1 || outbox.len() != 0 {
		t.Fatalf("chain %d, outbox %d; want 1 and 0", len(store.events), outbox.len())
	}

	for _, o := range []backend.AuditOutbox{nil, outbox} {
		r := &audit.Recorder{Store: store, Outbox: o}
		if err := r.Change(actorContext(), bulk, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	// Written ahead, and then nothing stored: the event goes again.
	if err := r.Change(actorContext(), bulk, func(ctx context.Context) error { outbox.writeAhead(ctx); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(store.events) != 1 || outbox.len() != 0 {
		t.Errorf("a bulk change that stored nothing was recorded: %d events, %d staged", len(store.events), outbox.len())
	}
	// Written ahead, and the write failed: what landed is not known, so
	// the event stays for recovery to decide.
	boom := backend.Errorf(backend.EUNAVAILABLE, "gone")
	if err := r.Change(actorContext(), bulk, func(ctx context.Context) error { outbox.writeAhead(ctx); return boom }); !errors.Is(err, boom) {
		t.Fatalf("Change = %v, want the write's error", err)
	}
	if len(store.events) != 1 || outbox.len() != 1 {
		t.Errorf("after a failed bulk write: %d events, %d staged; want 1 and the event kept", len(store.events), outbox.len())
	}
	if n, err := r.Backlog(context.Background()); err != nil || n != 1 {
		t.Errorf("Backlog = %d, %v; want 1", n, err)
	}
}

// TestAuditChangeNamedByAKeyIsRecordedOnce: a change named by a key has
// the event ID the key gives, so a repeat — immediate, or after a crash
// left the first event in the outbox — adds no second event.
func TestAuditChangeNamedByAKeyIsRecordedOnce(t *testing.T) {
	store, outbox := &memStore{}, &memOutbox{}
	r := &audit.Recorder{Store: store, Outbox: outbox}
	keyed := change
	keyed.Key = "plan.dispatch\x00draw-1"
	for range 2 {
		if err := r.Change(actorContext(), keyed, outbox.write); err != nil {
			t.Fatal(err)
		}
	}
	if len(store.events) != 1 || store.events[0].ID != backend.AuditEventID(keyed.Key) || outbox.len() != 0 {
		t.Fatalf("chain %+v, outbox %d; want one event with the key's ID and an empty outbox", store.events, outbox.len())
	}
	// A copy of the event left in the outbox (a crash before its clear)
	// and staged again by a repeat: recovery appends nothing.
	outbox.clearErr = errors.New("crash")
	_ = r.Change(actorContext(), keyed, outbox.write)
	outbox.clearErr = nil
	if n, err := r.Recover(context.Background(), time.Now().Add(time.Minute)); err != nil || n != 0 || len(store.events) != 1 {
		t.Errorf("Recover = %d, %v with %d events; want no duplicate", n, err, len(store.events))
	}
	if other := backend.AuditEventID("plan.dispatch\x00draw-2"); other == store.events[0].ID || len(other) != 32 {
		t.Errorf("event ID of another key %q", other)
	}
}
