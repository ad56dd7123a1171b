package audit_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/audit"
)

// memStore is an in-memory backend.AuditStore: a test double of our own
// interface, with the same contract as the MongoDB one (ECONFLICT on a taken
// Seq, Seq order), plus hooks to inject failures. Tests tamper with events
// directly through its events slice, as an attacker would in the database.
type memStore struct {
	mu     sync.Mutex
	events []backend.AuditEvent
	// beforeInsert, when set, runs before each insert; an error it returns is
	// the insert's result.
	beforeInsert func(e *backend.AuditEvent) error
	walkErr      error
}

func (s *memStore) LastAuditEvent(context.Context) (*backend.AuditEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var last *backend.AuditEvent
	for i := range s.events {
		if last == nil || s.events[i].Seq > last.Seq {
			last = &s.events[i]
		}
	}
	if last == nil {
		return nil, backend.Errorf(backend.ENOTFOUND, "no audit events")
	}
	e := *last
	return &e, nil
}

func (s *memStore) InsertAuditEvent(_ context.Context, e *backend.AuditEvent) error {
	if s.beforeInsert != nil {
		if err := s.beforeInsert(e); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.events {
		if have.Seq == e.Seq {
			return backend.Errorf(backend.ECONFLICT, "audit event %d exists", e.Seq)
		}
		if e.ID != "" && have.ID == e.ID {
			return backend.Errorf(backend.ECONFLICT, "audit event %s exists", e.ID)
		}
	}
	s.events = append(s.events, *e)
	return nil
}

func (s *memStore) FindAuditEvents(ctx context.Context, f backend.AuditFilter) ([]*backend.AuditEvent, error) {
	var out []*backend.AuditEvent
	err := s.WalkAuditEvents(ctx, func(e *backend.AuditEvent) error {
		if e.Seq > f.AfterSeq && (f.Action == "" || f.Action == e.Action) && (f.ID == "" || f.ID == e.ID) {
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// WalkAuditEvents visits events sorted by Seq; events sharing a Seq (which
// only tampering can produce here) keep their insertion order.
func (s *memStore) WalkAuditEvents(_ context.Context, fn func(*backend.AuditEvent) error) error {
	if s.walkErr != nil {
		return s.walkErr
	}
	s.mu.Lock()
	events := slices.Clone(s.events)
	s.mu.Unlock()
	slices.SortStableFunc(events, func(a, b backend.AuditEvent) int { return cmp.Compare(a.Seq, b.Seq) })
	for i := range events {
		if err := fn(&events[i]); err != nil {
			return err
		}
	}
	return nil
}

// at returns the stored event with the given Seq, for tampering.
func (s *memStore) at(t *testing.T, seq int64) *backend.AuditEvent {
	t.Helper()
	for i := range s.events {
		if s.events[i].Seq == seq {
			return &s.events[i]
		}
	}
	t.Fatalf("no event %d", seq)
	return nil
}

// delete removes the stored event with the given Seq.
func (s *memStore) delete(t *testing.T, seq int64) {
	t.Helper()
	n := len(s.events)
	s.events = slices.DeleteFunc(s.events, func(e backend.AuditEvent) bool { return e.Seq == seq })
	if len(s.events) == n {
		t.Fatalf("no event %d", seq)
	}
}

// fixedEvent is the event whose hash is pinned below.
func fixedEvent() backend.AuditEvent {
	return backend.AuditEvent{
		Seq:          42,
		Time:         time.Date(2026, 3, 1, 8, 15, 30, 120_000_000, time.UTC),
		ActorID:      "u-7",
		ActorName:    "王芳",
		Action:       "enterprise.update",
		ObjectType:   "enterprise",
		ObjectID:     "e-913",
		BeforeDigest: strings.Repeat("a", 64),
		AfterDigest:  strings.Repeat("b", 64),
		RequestID:    "req-1",
		ClientIP:     "203.0.113.9",
		PrevHash:     strings.Repeat("c", 64),
	}
}

// fixedHash is Hash(fixedEvent()), computed once when the encoding was
// written (and checked against an independent re-implementation of the
// documented encoding in a few lines of Python). If this test fails, the encoding changed and every stored chain
// would stop verifying: change Version instead and keep verifying v1.
const fixedHash = "28840c681ae0a1801ef76320196328cb760b9d69ca2fb590f4cea25bca5a890d"

func TestAuditHashIsStable(t *testing.T) {
	e := fixedEvent()
	if got := audit.Hash(&e); got != fixedHash {
		t.Fatalf("Hash(fixed event) = %s, want %s", got, fixedHash)
	}
	e.Hash = "anything"
	if got := audit.Hash(&e); got != fixedHash {
		t.Errorf("Hash depends on the Hash field: %s", got)
	}
	// The same instant in another zone, or with sub-millisecond digits that
	// MongoDB would drop, hashes the same.
	e.Time = e.Time.In(time.FixedZone("CST", 8*3600)).Add(999 * time.Microsecond)
	if got := audit.Hash(&e); got != fixedHash {
		t.Errorf("Hash depends on the zone or sub-millisecond time: %s", got)
	}
}

// TestAuditCanonicalMatchesTheDocumentation pins the byte layout the package
// documentation promises to outsiders.
func TestAuditCanonicalMatchesTheDocumentation(t *testing.T) {
	e := backend.AuditEvent{Seq: 1, Time: time.Unix(0, 0), Action: "user.create"}
	want := "suiji-audit-v1\n" +
		"seq 1:1\n" +
		"time 24:1970-01-01T00:00:00.000Z\n" +
		"actor_id 0:\n" +
		"actor_name 0:\n" +
		"action 11:user.create\n" +
		"object_type 0:\n" +
		"object_id 0:\n" +
		"before_digest 0:\n" +
		"after_digest 0:\n" +
		"request_id 0:\n" +
		"client_ip 0:\n" +
		"prev_hash 0:\n"
	if got := string(audit.Canonical(&e)); got != want {
		t.Fatalf("canonical encoding:\n%s\nwant:\n%s", got, want)
	}
	// Lengths count bytes, not characters.
	e.ActorName = "王芳"
	if got := string(audit.Canonical(&e)); !strings.Contains(got, "actor_name 6:王芳\n") {
		t.Errorf("UTF-8 length not in bytes:\n%s", got)
	}
}

func TestAuditHashChangesWithEveryField(t *testing.T) {
	mutations := map[string]func(e *backend.AuditEvent){
		"Seq":          func(e *backend.AuditEvent) { e.Seq++ },
		"Time":         func(e *backend.AuditEvent) { e.Time = e.Time.Add(time.Millisecond) },
		"ActorID":      func(e *backend.AuditEvent) { e.ActorID += "x" },
		"ActorName":    func(e *backend.AuditEvent) { e.ActorName = "王芬" },
		"Action":       func(e *backend.AuditEvent) { e.Action = "enterprise.delete" },
		"ObjectType":   func(e *backend.AuditEvent) { e.ObjectType = "inspector" },
		"ObjectID":     func(e *backend.AuditEvent) { e.ObjectID = "e-914" },
		"BeforeDigest": func(e *backend.AuditEvent) { e.BeforeDigest = "" },
		"AfterDigest":  func(e *backend.AuditEvent) { e.AfterDigest = strings.Repeat("d", 64) },
		"RequestID":    func(e *backend.AuditEvent) { e.RequestID = "req-2" },
		"ClientIP":     func(e *backend.AuditEvent) { e.ClientIP = "203.0.113.10" },
		"PrevHash":     func(e *backend.AuditEvent) { e.PrevHash = strings.Repeat("e", 64) },
	}
	// Every field but Hash must be covered, including fields added later.
	typ := reflect.TypeFor[backend.AuditEvent]()
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		// ID is bookkeeping for exactly-once appends, not history: see its doc.
		if _, ok := mutations[name]; !ok && name != "Hash" && name != "ID" {
			t.Errorf("field %s has no mutation here; does the canonical encoding cover it?", name)
		}
	}
	for name, mutate := range mutations {
		e := fixedEvent()
		mutate(&e)
		if got := audit.Hash(&e); got == fixedHash {
			t.Errorf("changing %s does not change the hash", name)
		}
	}
	// A byte moved from one field to the next changes the hash too: the
	// length prefixes keep field boundaries unambiguous.
	a, b := fixedEvent(), fixedEvent()
	a.ActorID, a.ActorName = "u-7x", "y"
	b.ActorID, b.ActorName = "u-7", "xy"
	if audit.Hash(&a) == audit.Hash(&b) {
		t.Error("moving a byte across a field boundary keeps the hash")
	}
}

func TestAuditDigest(t *testing.T) {
	type obj struct {
		Name string
		N    int
	}
	for _, v := range []any{nil, (*obj)(nil)} {
		if d, err := audit.Digest(v); err != nil || d != "" {
			t.Errorf("Digest(%#v) = %q, %v; want \"\"", v, d, err)
		}
	}
	d1, err := audit.Digest(&obj{"a", 1})
	if err != nil || len(d1) != 64 {
		t.Fatalf("Digest = %q, %v", d1, err)
	}
	if d2, _ := audit.Digest(obj{"a", 1}); d2 != d1 {
		t.Error("a value and a pointer to it digest differently")
	}
	if d3, _ := audit.Digest(&obj{"a", 2}); d3 == d1 {
		t.Error("different objects, same digest")
	}
	// sha256 of `{"a":1,"b":2}`: map keys are sorted whatever the order.
	m1, _ := audit.Digest(map[string]int{"b": 2, "a": 1})
	if want := "43258cff783fe7036d8a43033f830adfc60ec037382473548ac742b888292777"; m1 != want {
		t.Errorf("Digest(map) = %s, want %s", m1, want)
	}
	if _, err := audit.Digest(make(chan int)); backend.ErrorCode(err) != backend.EINVALID {
		t.Errorf("Digest(chan) error %v, want EINVALID", err)
	}
}

// clock returns a Now that starts at t0 and advances by a second per call.
func clock(t0 time.Time) func() time.Time {
	var mu sync.Mutex
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t0 = t0.Add(time.Second)
		return t0
	}
}

func actorContext() context.Context {
	ctx := backend.WithRequestID(context.Background(), "req-9")
	return backend.WithActor(ctx, &backend.Actor{UserID: "u-1", Username: "li.lei", ClientIP: "198.51.100.4"})
}

// record appends n events and fails the test on an error.
func record(t *testing.T, r *audit.Recorder, n int) {
	t.Helper()
	for i := range n {
		if err := r.Record(actorContext(), "item.update", "item", fmt.Sprint("i-", i), map[string]int{"v": i}, map[string]int{"v": i + 1}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditRecordBuildsTheChain(t *testing.T) {
	store := &memStore{}
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))
	r := &audit.Recorder{Store: store, Now: clock(t0.Add(1234 * time.Microsecond))}
	if err := r.Record(actorContext(), "user.create", "user", "u-2", nil, map[string]string{"username": "han.mei"}); err != nil {
		t.Fatal(err)
	}
	record(t, r, 2)

	first := store.events[0]
	after, _ := audit.Digest(map[string]string{"username": "han.mei"})
	want := backend.AuditEvent{
		Seq: 1, Time: t0.Add(time.Second + time.Millisecond).UTC(),
		ActorID: "u-1", ActorName: "li.lei", Action: "user.create", ObjectType: "user", ObjectID: "u-2",
		BeforeDigest: "", AfterDigest: after, RequestID: "req-9", ClientIP: "198.51.100.4", PrevHash: "",
		ID: first.ID,
	}
	want.Hash = audit.Hash(&want)
	if len(first.ID) != 32 || first.ID == store.events[1].ID {
		t.Errorf("event IDs %q, %q: want distinct 32-digit ids", first.ID, store.events[1].ID)
	}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("first event\n got %+v\nwant %+v", first, want)
	}
	for i, e := range store.events[1:] {
		if e.Seq != int64(i+2) || e.PrevHash != store.events[i].Hash || e.Hash != audit.Hash(&e) {
			t.Errorf("event %d does not follow event %d: %+v", e.Seq, store.events[i].Seq, e)
		}
	}
	rep, err := audit.Verify(context.Background(), store)
	if err != nil || rep.Break != nil || rep.Events != 3 || rep.Head != store.events[2].Hash {
		t.Errorf("Verify = %+v, %v; want 3 intact events headed by %s", rep, err, store.events[2].Hash)
	}
}

func TestAuditRecordRetriesWhenAnotherWriterWins(t *testing.T) {
	store := &memStore{}
	r := &audit.Recorder{Store: store}
	record(t, r, 1)
	// Another instance appends event 2 between our read and our insert,
	// twice in a row.
	races := 2
	store.beforeInsert = func(e *backend.AuditEvent) error {
		if races == 0 {
			return nil
		}
		races--
		last, _ := store.LastAuditEvent(context.Background())
		ev := backend.AuditEvent{Seq: last.Seq + 1, Time: time.Now().UTC().Truncate(time.Millisecond), Action: "rival", PrevHash: last.Hash}
		ev.Hash = audit.Hash(&ev)
		store.events = append(store.events, ev)
		return nil
	}
	record(t, r, 1)
	if got := len(store.events); got != 4 {
		t.Fatalf("%d events, want 4 (ours, two rivals', ours)", got)
	}
	if e := store.events[3]; e.Seq != 4 || e.Action != "item.update" {
		t.Errorf("our event became %+v, want Seq 4", e)
	}
	if rep, err := audit.Verify(context.Background(), store); err != nil || rep.Break != nil {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
}

func TestAuditRecordGivesUpUnderEndlessContention(t *testing.T) {
	attempts := 0
	store := &memStore{beforeInsert: func(*backend.AuditEvent) error {
		attempts++
		return backend.Errorf(backend.ECONFLICT, "taken")
	}}
	err := (&audit.Recorder{Store: store}).Record(context.Background(), "x.y", "", "", nil, nil)
	if backend.ErrorCode(err) != backend.EUNAVAILABLE || attempts != audit.MaxAttempts {
		t.Errorf("error %v after %d attempts; want EUNAVAILABLE after %d", err, attempts, audit.MaxAttempts)
	}
}

func TestAuditRecordPassesOtherErrorsOn(t *testing.T) {
	boom := backend.Errorf(backend.EUNAVAILABLE, "MongoDB is unavailable")
	attempts := 0
	store := &memStore{beforeInsert: func(*backend.AuditEvent) error { attempts++; return boom }}
	r := &audit.Recorder{Store: store}
	if err := r.Record(context.Background(), "x.y", "", "", nil, nil); !errors.Is(err, boom) || attempts != 1 {
		t.Errorf("error %v after %d attempts; want the store's error at once", err, attempts)
	}
	if err := r.Record(context.Background(), "", "", "", nil, nil); backend.ErrorCode(err) != backend.EINVALID {
		t.Errorf("empty action: %v, want EINVALID", err)
	}
	if err := r.Record(context.Background(), "x.y", "", "", make(chan int), nil); backend.ErrorCode(err) != backend.EINVALID {
		t.Errorf("undigestable object: %v, want EINVALID", err)
	}
}

func TestAuditRecordCancelledWhileBackingOff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	store := &memStore{beforeInsert: func(*backend.AuditEvent) error {
		cancel()
		return backend.Errorf(backend.ECONFLICT, "taken")
	}}
	err := (&audit.Recorder{Store: store}).Record(ctx, "x.y", "", "", nil, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// TestAuditConcurrentRecordersKeepOneLine is the in-memory version of the
// MongoDB test: writers racing for the same Seq never fork the chain.
func TestAuditConcurrentRecordersKeepOneLine(t *testing.T) {
	store := &memStore{}
	var wg sync.WaitGroup
	for range 4 {
		r := &audit.Recorder{Store: store}
		wg.Go(func() { record(t, r, 25) })
	}
	wg.Wait()
	rep, err := audit.Verify(context.Background(), store)
	if err != nil || rep.Break != nil || rep.Events != 100 {
		t.Fatalf("Verify = %+v (break %v), %v; want 100 intact events", rep, rep.Break, err)
	}
}

// chain returns a store holding an intact chain of n events.
func chain(t *testing.T, n int) *memStore {
	t.Helper()
	store := &memStore{}
	record(t, &audit.Recorder{Store: store, Now: clock(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))}, n)
	return store
}

func TestAuditVerifyNamesTheFirstBreak(t *testing.T) {
	rehash := func(e *backend.AuditEvent) { e.Hash = audit.Hash(e) }
	tests := []struct {
		name   string
		tamper func(t *testing.T, s *memStore)
		want   audit.Break
	}{{
		name:   "edited",
		tamper: func(t *testing.T, s *memStore) { s.at(t, 5).Action = "item.delete" },
		want:   audit.Break{Seq: 5, Found: 5, Kind: audit.BreakHash, Message: "event 5: hash mismatch (edited?)"},
	}, {
		name:   "hash replaced",
		tamper: func(t *testing.T, s *memStore) { s.at(t, 5).Hash = strings.Repeat("0", 64) },
		want:   audit.Break{Seq: 5, Found: 5, Kind: audit.BreakHash, Message: "event 5: hash mismatch (edited?)"},
	}, {
		name: "edited and rehashed",
		tamper: func(t *testing.T, s *memStore) {
			e := s.at(t, 5)
			e.ActorID = "someone-else"
			rehash(e)
		},
		want: audit.Break{Seq: 6, Found: 6, Kind: audit.BreakPrevHash, Message: "event 6: prev_hash does not match event 5"},
	}, {
		name:   "deleted",
		tamper: func(t *testing.T, s *memStore) { s.delete(t, 5) },
		want:   audit.Break{Seq: 5, Found: 6, Kind: audit.BreakGap, Message: "event 5 expected, found 6 (deleted?)"},
	}, {
		name:   "first deleted",
		tamper: func(t *testing.T, s *memStore) { s.delete(t, 1) },
		want:   audit.Break{Seq: 1, Found: 2, Kind: audit.BreakGap, Message: "event 1 expected, found 2 (deleted?)"},
	}, {
		name: "several deleted",
		tamper: func(t *testing.T, s *memStore) {
			s.delete(t, 4)
			s.delete(t, 5)
			s.delete(t, 8)
		},
		want: audit.Break{Seq: 4, Found: 6, Kind: audit.BreakGap, Message: "event 4 expected, found 6 (deleted?)"},
	}, {
		name: "inserted with a taken seq",
		tamper: func(t *testing.T, s *memStore) {
			fake := *s.at(t, 4)
			fake.Action = "plan.approve"
			rehash(&fake)
			s.events = append(s.events, fake)
		},
		want: audit.Break{Seq: 5, Found: 4, Kind: audit.BreakOrder, Message: "event 5 expected, found 4 again (duplicated or out of order?)"},
	}, {
		// A forger who knows the algorithm makes a perfect event 5 and
		// renumbers the genuine 5… to make room: the first renumbered event
		// no longer matches its hash.
		name: "inserted by renumbering",
		tamper: func(t *testing.T, s *memStore) {
			for seq := int64(10); seq >= 5; seq-- {
				s.at(t, seq).Seq++
			}
			fake := backend.AuditEvent{Seq: 5, Time: s.at(t, 4).Time, Action: "plan.approve", PrevHash: s.at(t, 4).Hash}
			rehash(&fake)
			s.events = append(s.events, fake)
		},
		want: audit.Break{Seq: 6, Found: 6, Kind: audit.BreakHash, Message: "event 6: hash mismatch (edited?)"},
	}, {
		name: "inserted by renumbering and rehashing",
		tamper: func(t *testing.T, s *memStore) {
			for seq := int64(10); seq >= 5; seq-- {
				e := s.at(t, seq)
				e.Seq++
				rehash(e)
			}
			fake := backend.AuditEvent{Seq: 5, Time: s.at(t, 4).Time, Action: "plan.approve", PrevHash: s.at(t, 4).Hash}
			rehash(&fake)
			s.events = append(s.events, fake)
		},
		want: audit.Break{Seq: 6, Found: 6, Kind: audit.BreakPrevHash, Message: "event 6: prev_hash does not match event 5"},
	}, {
		name: "reordered",
		tamper: func(t *testing.T, s *memStore) {
			a, b := s.at(t, 3), s.at(t, 4)
			a.Seq, b.Seq = b.Seq, a.Seq
		},
		want: audit.Break{Seq: 3, Found: 3, Kind: audit.BreakHash, Message: "event 3: hash mismatch (edited?)"},
	}, {
		name: "reordered and rehashed",
		tamper: func(t *testing.T, s *memStore) {
			a, b := s.at(t, 3), s.at(t, 4)
			a.Seq, b.Seq = b.Seq, a.Seq
			rehash(a)
			rehash(b)
		},
		want: audit.Break{Seq: 3, Found: 3, Kind: audit.BreakPrevHash, Message: "event 3: prev_hash does not match event 2"},
	}, {
		name: "first event given a predecessor",
		tamper: func(t *testing.T, s *memStore) {
			e := s.at(t, 1)
			e.PrevHash = strings.Repeat("f", 64)
			rehash(e)
		},
		want: audit.Break{Seq: 1, Found: 1, Kind: audit.BreakPrevHash, Message: "event 1: prev_hash must be empty"},
	}, {
		name:   "last edited",
		tamper: func(t *testing.T, s *memStore) { s.at(t, 10).ObjectID = "i-99" },
		want:   audit.Break{Seq: 10, Found: 10, Kind: audit.BreakHash, Message: "event 10: hash mismatch (edited?)"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := chain(t, 10)
			tt.tamper(t, store)
			var wantHead string // the hash of the last event that checked out
			if tt.want.Seq > 1 {
				wantHead = store.at(t, tt.want.Seq-1).Hash
			}
			rep, err := audit.Verify(context.Background(), store)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Break == nil {
				t.Fatalf("Verify found no break in %d events", rep.Events)
			}
			if *rep.Break != tt.want {
				t.Errorf("break %+v, want %+v", *rep.Break, tt.want)
			}
			if rep.Break.String() != tt.want.Message {
				t.Errorf("String() = %q", rep.Break.String())
			}
			if rep.Head != wantHead {
				t.Errorf("head %s, want the hash of the last intact event %s", rep.Head, wantHead)
			}
		})
	}
}

func TestAuditVerifyEmptyAndIntact(t *testing.T) {
	rep, err := audit.Verify(context.Background(), &memStore{})
	if err != nil || rep != (audit.Report{}) {
		t.Errorf("empty chain: %+v, %v; want 0 events and no break", rep, err)
	}
	store := chain(t, 10)
	rep, err = audit.Verify(context.Background(), store)
	if err != nil || rep.Break != nil || rep.Events != 10 || rep.Head != store.at(t, 10).Hash {
		t.Errorf("intact chain: %+v, %v", rep, err)
	}
}

func TestAuditVerifyReportsReadFailures(t *testing.T) {
	boom := backend.Errorf(backend.EUNAVAILABLE, "MongoDB is unavailable")
	_, err := audit.Verify(context.Background(), &memStore{walkErr: boom})
	if !errors.Is(err, boom) || backend.ErrorCode(err) != backend.EUNAVAILABLE {
		t.Errorf("error %v, want the store's EUNAVAILABLE", err)
	}
}
