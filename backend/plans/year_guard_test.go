package plans_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/draw"
	"suiji/backend/plans"
	"suiji/storage/storagetest"
)

// The tests of the year's lease: a commitment counts exactly the draws of
// the year's other plans stored before its committed_at (SPEC.md §6.3),
// however the commits and draws of different plans interleave. Each test
// makes one interleaving happen for sure by pausing one operation in the
// test's store wrapper until the other has either finished or been told
// the year is busy (seen in the test's locker wrapper).

// hookedDraws is the draw store with a pause after the year's history is
// read (a commit's freeze) and before an attempt is inserted.
type hookedDraws struct {
	backend.DrawStore
	mu           sync.Mutex
	afterHistory func()              // run once, after the next FindDrawsInForce
	beforeInsert func(*backend.Draw) // run once, before the next InsertDraw
}

func (h *hookedDraws) FindDrawsInForce(ctx context.Context, year int) ([]*backend.Draw, error) {
	out, err := h.DrawStore.FindDrawsInForce(ctx, year)
	h.mu.Lock()
	hook := h.afterHistory
	h.afterHistory = nil
	h.mu.Unlock()
	if hook != nil {
		hook()
	}
	return out, err
}

func (h *hookedDraws) InsertDraw(ctx context.Context, d *backend.Draw) error {
	h.mu.Lock()
	hook := h.beforeInsert
	h.beforeInsert = nil
	h.mu.Unlock()
	if hook != nil {
		hook(d)
	}
	return h.DrawStore.InsertDraw(ctx, d)
}

// watchedLocks is the locker telling busy on each refusal of a year's
// lease.
type watchedLocks struct {
	backend.Locker
	busy chan struct{}
}

func (w *watchedLocks) Acquire(ctx context.Context, name string, ttl time.Duration) (backend.Lease, error) {
	l, err := w.Locker.Acquire(ctx, name, ttl)
	if errors.Is(err, backend.ErrLeaseHeld) && strings.HasPrefix(name, "draw-year:") {
		select {
		case w.busy <- struct{}{}:
		default:
		}
	}
	return l, err
}

// meanwhile runs op in the background and waits until it has finished or
// has been refused the year's lease (it then waits for it, in the
// background).
func meanwhile(t *testing.T, locks *watchedLocks, op func() error) (wait func() error) {
	t.Helper()
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = op()
	}()
	select {
	case <-done:
	case <-locks.busy:
	case <-time.After(20 * time.Second):
		t.Error("the other operation neither finished nor waited for the year")
	}
	return func() error { <-done; return err }
}

// verifiedWith checks each record's history against the others, as a
// citizen given every attempt of the year would.
func verifiedWith(t *testing.T, s *plans.Service, ids ...string) {
	t.Helper()
	var records []*draw.Verdict
	for _, id := range ids {
		v, err := publicRecord(t, s, id)
		if err != nil || v.Past == nil {
			t.Fatalf("record %s: %v", id, err)
		}
		records = append(records, v)
	}
	for i, v := range records {
		var others []draw.Past
		for j, o := range records {
			if j != i {
				others = append(others, *o.Past)
			}
		}
		if err := draw.VerifyHistory(v.Record, others); err != nil {
			t.Errorf("the honest record %s fails its history check: %v", v.ID, err)
		}
	}
}

func guardedService(t *testing.T, n int) (*plans.Service, *storagetest.World, *hookedDraws, *watchedLocks) {
	db, c := storagetest.Mongo(t), storagetest.Redis(t)
	w := storagetest.NewWorld(t, db, n)
	s := newService(t, db, c)
	draws := &hookedDraws{DrawStore: db.Draws()}
	locks := &watchedLocks{Locker: c.Locks(), busy: make(chan struct{}, 1)}
	s.Draws, s.Locks = draws, locks
	return s, w, draws, locks
}

// TestCommitCountsADrawMadeWhileItFroze: plan A's commit has read the
// year's history when plan B (same year) is drawn. Unserialised, B's
// attempt is stored with a drawn_at before A's committed_at yet missing
// from A's pool, and A's honest record fails verification; with the
// year's lease, B waits for A's commitment, and both records verify.
func TestCommitCountsADrawMadeWhileItFroze(t *testing.T) {
	s, w, draws, locks := guardedService(t, 6)
	ctx := office(t.Context())
	b := readyPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 6})
	a := approvedPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 1})

	var db *backend.Draw
	var drawB func() error
	draws.afterHistory = func() {
		drawB = meanwhile(t, locks, func() (err error) { db, err = s.Draw(ctx, b.ID, ""); return err })
	}
	a, err := s.CommitSeed(ctx, a.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if drawB == nil {
		t.Fatal("the commit read no history")
	}
	if err := drawB(); err != nil {
		t.Fatalf("plan B's draw: %v", err)
	}
	da, err := s.Draw(ctx, a.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	verifiedWith(t, s, da.ID, db.ID)
	if !db.CreatedAt.After(a.Commitment.CommittedAt) {
		t.Errorf("B was drawn at %v, before A's commitment of %v, without being counted in A's pool", db.CreatedAt, a.Commitment.CommittedAt)
	}
}

// TestCommitWaitsForADrawBeingStored: plan B's attempt is made (its
// drawn_at set) and not yet stored when plan A (same year) commits.
// Unserialised, A's commit reads the history without B, commits after
// B's drawn_at, and B is then stored: A's record fails verification.
// With the year's lease A waits for B and counts it.
func TestCommitWaitsForADrawBeingStored(t *testing.T) {
	s, w, draws, locks := guardedService(t, 6)
	ctx := office(t.Context())
	b := readyPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 6})
	a := approvedPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 1})

	var commitA func() error
	draws.beforeInsert = func(*backend.Draw) {
		commitA = meanwhile(t, locks, func() (err error) { a, err = s.CommitSeed(ctx, a.ID, ""); return err })
	}
	db, err := s.Draw(ctx, b.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := commitA(); err != nil {
		t.Fatalf("plan A's commit: %v", err)
	}
	da, err := s.Draw(ctx, a.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := publicRecord(t, s, da.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range v.Record.Candidates {
		if len(c.DrawIDs) != 1 {
			t.Errorf("A's pool counts %v for %s, want B's draw %s", c.DrawIDs, c.USCC, db.ID)
		}
	}
	verifiedWith(t, s, da.ID, db.ID)
}

// TestBusyYearIsRefusedWithARetry: while another plan of the year holds
// the year's lease past the wait, a commit and a draw are refused with a
// retryable ECONFLICT (backend.ErrLeaseHeld: mobile-api answers
// Retry-After and keeps no idempotent answer), store nothing, and leave
// the plan's lease free; once the year is free they run.
func TestBusyYearIsRefusedWithARetry(t *testing.T) {
	defer plans.SetYearLeaseWait(200 * time.Millisecond)()
	db, c := storagetest.Mongo(t), storagetest.Redis(t)
	w := storagetest.NewWorld(t, db, 6)
	s := newService(t, db, c)
	ctx := office(t.Context())
	ready := readyPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 2})
	approved := approvedPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 2})

	other, err := c.Locks().Acquire(t.Context(), "draw-year:2026", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	busy := func(what string, err error) {
		t.Helper()
		if backend.ErrorCode(err) != backend.ECONFLICT || !errors.Is(err, backend.ErrLeaseHeld) || !strings.Contains(err.Error(), "another plan of 2026") {
			t.Fatalf("%s while the year is busy: %v, want a retryable ECONFLICT naming the year", what, err)
		}
	}
	_, err = s.Draw(ctx, ready.ID, "")
	busy("a draw", err)
	_, err = s.CommitSeed(ctx, approved.ID, "")
	busy("a commit", err)
	if got, _ := db.Draws().FindDrawsByPlan(t.Context(), ready.ID); len(got) != 0 {
		t.Fatalf("%d draws stored by a refused draw", len(got))
	}
	if got, _ := db.Plans().FindPlanByID(t.Context(), approved.ID); got.Commitment != nil || got.Version != approved.Version {
		t.Fatalf("a refused commit changed the plan: %+v", got)
	}
	for _, p := range []string{ready.ID, approved.ID} {
		l, err := c.Locks().Acquire(t.Context(), "draw:"+p, time.Second)
		if err != nil {
			t.Fatalf("the plan's lease was kept after the refusal: %v", err)
		}
		_ = l.Release(t.Context())
	}

	if err := other.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Draw(ctx, ready.ID, ""); err != nil {
		t.Fatalf("the draw once the year is free: %v", err)
	}
	if _, err := s.CommitSeed(ctx, approved.ID, ""); err != nil {
		t.Fatalf("the commit once the year is free: %v", err)
	}
}

// TestCommitStoresNothingOnceTheYearIsLost: the year's lease is lost
// while a commit freezes (its holder paused past its life, and another
// instance took it): the history it read may be stale, so the commit
// stores no seed and no commitment.
func TestCommitStoresNothingOnceTheYearIsLost(t *testing.T) {
	db, c := storagetest.Mongo(t), storagetest.Redis(t)
	w := storagetest.NewWorld(t, db, 6)
	s := newService(t, db, c)
	draws := &hookedDraws{DrawStore: db.Draws()}
	s.Draws = draws
	p := approvedPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 2})
	draws.afterHistory = func() {
		if err := c.Client().Del(t.Context(), c.Key("lock", "draw-year:2026")).Err(); err != nil {
			t.Error(err)
		}
		if _, err := c.Locks().Acquire(t.Context(), "draw-year:2026", time.Minute); err != nil {
			t.Error(err)
		}
	}
	if _, err := s.CommitSeed(office(t.Context()), p.ID, ""); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("a commit whose year's lease was taken over: %v, want ECONFLICT", err)
	}
	if got, _ := db.Plans().FindPlanByID(t.Context(), p.ID); got.Commitment != nil || got.Version != p.Version {
		t.Fatalf("the commit was published: %+v", got.Commitment)
	}
	if seed, _ := db.Plans().LoadSeed(t.Context(), p.ID, 1); seed != nil {
		t.Fatal("a seed was stored")
	}
}
