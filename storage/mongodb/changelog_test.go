package mongodb_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/uscc"
	"suiji/storage/mongodb"
	"suiji/storage/storagetest"
)

// TestChangeLogKeepsTheNewest: a log keeps its newest records (1,000 in
// use; 5 here); asked about writes further back, or about a write whose
// record was dropped, it cannot tell (false), and the reader reads
// everything again.
func TestChangeLogKeepsTheNewest(t *testing.T) {
	t.Parallel()
	db := storagetest.Mongo(t)
	ctx := t.Context()
	const kept, writes = 5, 7
	log := mongodb.NewTestLog(db, "things", kept)
	for i := 1; i <= writes; i++ {
		if err := log.Bump(ctx, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if h, err := log.Head(ctx); err != nil || h != writes {
		t.Fatalf("head %d, %v; want %d", h, err, writes)
	}
	cases := []struct {
		after, upTo int64
		known       bool
	}{
		{0, writes, false},              // further back than the log keeps
		{1, 3, false},                   // the second write's record was dropped
		{writes - kept, writes, true},   // the whole log
		{writes - 1, writes, true},      // the newest
		{writes, writes, true},          // nothing since
		{writes, writes + 1, false},     // a write not made (or not recorded) yet
		{writes - 2, writes - 3, false}, // backwards
		{-1, 3, false},                  // before the first
		{writes - 3, writes - 1, true},  // a range in the middle
	}
	for _, c := range cases {
		ids, ok, err := log.Since(ctx, c.after, c.upTo)
		if err != nil || ok != c.known {
			t.Fatalf("(%d, %d]: known %v, %v; want %v", c.after, c.upTo, ok, err, c.known)
		}
		if !ok {
			continue
		}
		want := []string{}
		for i := c.after + 1; i <= c.upTo; i++ {
			want = append(want, fmt.Sprint(i))
		}
		if !slices.Equal(append([]string{}, ids...), want) {
			t.Fatalf("(%d, %d]: %v, want %v", c.after, c.upTo, ids, want)
		}
	}
	// A write that cannot say what it changed sends readers to read everything.
	if err := log.Bump(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := log.Since(ctx, writes-1, writes+1); err != nil || ok {
		t.Fatalf("a write without ids: known %v, %v; want not known", ok, err)
	}
}

// TestEnterprisesHeadMovesOnEveryWrite: every write path of the
// enterprise store — one create, a bulk create, one update, a bulk update
// — raises the head and records the enterprises it wrote; a write refused
// (a USCC taken, a stale version) leaves it. EachEnterprise reads every
// enterprise once, as FindEnterpriseByID reads it.
func TestEnterprisesHeadMovesOnEveryWrite(t *testing.T) {
	t.Parallel()
	store := storagetest.Mongo(t).Enterprises()
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(8, 8))
	now := time.Now().UTC().Truncate(time.Millisecond)
	newEnterprise := func(name string) *backend.Enterprise {
		return &backend.Enterprise{USCC: uscc.Generate(rng), Name: name, Town: "巴公镇", Status: backend.EnterpriseActive,
			Categories: []string{}, Flags: []string{}, CreatedAt: now, UpdatedAt: now}
	}
	if h, err := store.EnterprisesHead(ctx); err != nil || h != 0 {
		t.Fatalf("an empty store's head: %d, %v; want 0", h, err)
	}
	last := int64(0)
	// step runs a write, and then checks that the head moved exactly when
	// it wrote something, and that the log names what it wrote (wrote,
	// asked after the write, since the ids are the store's).
	step := func(what string, write func() error, wrote func() []string) {
		t.Helper()
		err := write()
		ids := wrote()
		if len(ids) == 0 && backend.ErrorCode(err) != backend.ECONFLICT {
			t.Fatalf("%s: %v; want ECONFLICT", what, err)
		} else if len(ids) > 0 && err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		h, err := store.EnterprisesHead(ctx)
		if err != nil || (h != last) != (len(ids) > 0) || h < last {
			t.Fatalf("%s: head %d after %d (%v); want moved=%v", what, h, last, err, len(ids) > 0)
		}
		if len(ids) > 0 {
			got, ok, err := store.EnterpriseChanges(ctx, last, h)
			if err != nil || !ok || !slices.Equal(got, ids) {
				t.Fatalf("%s: changes %v, %v, %v; want %v", what, got, ok, err, ids)
			}
		}
		last = h
	}
	none := func() []string { return nil }
	a, b, c := newEnterprise("甲"), newEnterprise("乙"), newEnterprise("丙")
	step("a create", func() error { return store.CreateEnterprise(ctx, a) }, func() []string { return []string{a.ID} })
	dup := newEnterprise("甲的重复")
	dup.USCC = a.USCC
	step("a create of a USCC taken", func() error { return store.CreateEnterprise(ctx, dup) }, none)
	a.Name = "甲改"
	step("an update", func() error { return store.UpdateEnterprise(ctx, a) }, func() []string { return []string{a.ID} })
	stale := *a
	stale.Version--
	step("an update of a stale version", func() error { return store.UpdateEnterprise(ctx, &stale) }, none)
	var errs []error
	bulkWrite := func(write func() ([]error, error)) func() error {
		return func() error {
			var err error
			errs, err = write()
			if err == nil && !slices.Contains(errs, nil) {
				return backend.Errorf(backend.ECONFLICT, "all refused")
			}
			return err
		}
	}
	dup2 := newEnterprise("又一个重复")
	dup2.USCC = a.USCC
	step("a bulk create, one refused", bulkWrite(func() ([]error, error) {
		return store.CreateEnterprises(ctx, []*backend.Enterprise{b, dup2, c})
	}), func() []string {
		if errs[0] != nil || backend.ErrorCode(errs[1]) != backend.ECONFLICT || errs[2] != nil {
			t.Fatalf("bulk create: %v", errs)
		}
		return []string{b.ID, c.ID}
	})
	step("a bulk create, all refused", bulkWrite(func() ([]error, error) {
		return store.CreateEnterprises(ctx, []*backend.Enterprise{dup2})
	}), none)
	staleC := *c // c as read before another writer changes it
	c.Name, c.UpdatedAt = "丙改", now.Add(time.Second)
	step("another update", func() error { return store.UpdateEnterprise(ctx, c) }, func() []string { return []string{c.ID} })
	b.Name, staleC.Name = "乙改", "丙又改"
	step("a bulk update, one stale", bulkWrite(func() ([]error, error) {
		return store.UpdateEnterprises(ctx, []*backend.Enterprise{b, &staleC})
	}), func() []string {
		if errs[0] != nil || backend.ErrorCode(errs[1]) != backend.ECONFLICT {
			t.Fatalf("bulk update: %v", errs)
		}
		return []string{b.ID}
	})
	step("a bulk update, all stale", bulkWrite(func() ([]error, error) {
		return store.UpdateEnterprises(ctx, []*backend.Enterprise{&staleC})
	}), none)
	if got, ok, err := store.EnterpriseChanges(ctx, 0, last); err != nil || !ok || !slices.Equal(got, []string{a.ID, a.ID, b.ID, c.ID, c.ID, b.ID}) {
		t.Fatalf("every change: %v, %v, %v", got, ok, err)
	}
	seen := map[string]*backend.Enterprise{}
	if err := store.EachEnterprise(ctx, func(e *backend.Enterprise) error {
		if seen[e.ID] != nil {
			t.Errorf("%s read twice", e.ID)
		}
		seen[e.ID] = e
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []*backend.Enterprise{a, b, c} {
		one, err := store.FindEnterpriseByID(ctx, want.ID)
		if err != nil || !reflect.DeepEqual(seen[want.ID], one) || one.Name != want.Name {
			t.Fatalf("%s: read whole %+v, by id %+v (%v)", want.ID, seen[want.ID], one, err)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("read %d enterprises, want 3", len(seen))
	}
}
