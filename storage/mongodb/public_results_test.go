package mongodb_test

import (
	"slices"
	"testing"
	"time"

	"suiji/backend"
	"suiji/storage/storagetest"
)

// TestInsertPublicResultsLeavesStoredOnes: the bulk insert stores the new
// results, reports their ids, and leaves one stored already as it was;
// what it stored is found by the search.
func TestInsertPublicResultsLeavesStoredOnes(t *testing.T) {
	t.Parallel()
	store := storagetest.Mongo(t).PublicResults()
	ctx := t.Context()
	at := time.Date(2026, 5, 6, 7, 0, 0, 0, time.UTC)
	result := func(id, name string, version int) *backend.PublicResult {
		return &backend.PublicResult{ID: id, Version: version, Year: 2026, EnterpriseName: name, USCC: "91140525MA0000000X",
			Result: backend.ResultNoProblem, FirstPublished: at, PublishedAt: at}
	}
	if err := store.PutPublicResult(ctx, result("r1", "甲化工有限公司", 2)); err != nil {
		t.Fatal(err)
	}
	ids, err := store.InsertPublicResults(ctx, []*backend.PublicResult{result("r1", "乙化工有限公司", 1), result("r2", "丙煤业有限公司", 1)})
	if err != nil || len(ids) != 1 || ids[0] != "r2" {
		t.Fatalf("inserted %v, %v; want [r2]", ids, err)
	}
	if r, err := store.FindPublicResult(ctx, "r1"); err != nil || r.EnterpriseName != "甲化工有限公司" || r.Version != 2 {
		t.Fatalf("the stored result changed: %+v, %v", r, err)
	}
	list, total, err := store.FindPublicResults(ctx, backend.PublicResultFilter{Year: 2026, Text: "煤业", Limit: 10})
	if err != nil || total != 1 || len(list) != 1 || list[0].ID != "r2" {
		t.Fatalf("search: %d of %d, %v", len(list), total, err)
	}
}

// TestPublicResultsHeadMovesOnEveryWrite: the head starts at 0 and every
// put (a new result, a newer version, a repeat) and every bulk insert
// that stores something raises it; a bulk insert storing nothing leaves
// it. The change records name what each write changed; EachPublicResult
// reads every result once, without earlier versions.
func TestPublicResultsHeadMovesOnEveryWrite(t *testing.T) {
	t.Parallel()
	store := storagetest.Mongo(t).PublicResults()
	ctx := t.Context()
	head := func() int64 {
		t.Helper()
		h, err := store.PublicResultsHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if h := head(); h != 0 {
		t.Fatalf("empty store's head %d, want 0", h)
	}
	at := time.Date(2026, 5, 6, 7, 0, 0, 0, time.UTC)
	result := func(id string, version int) *backend.PublicResult {
		r := &backend.PublicResult{ID: id, Version: version, Year: 2026, EnterpriseName: "甲化工有限公司", USCC: "91140525MA0000000X",
			Result: backend.ResultNoProblem, FirstPublished: at, PublishedAt: at}
		if version > 1 {
			r.History = []backend.PublicResult{{ID: id, Version: version - 1, Year: 2026, Result: backend.ResultNoProblem}}
		}
		return r
	}
	last := head()
	step := func(what string, moved bool, write func() error) {
		t.Helper()
		if err := write(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if h := head(); (h != last) != moved || h < last {
			t.Fatalf("%s: head %d after %d, want moved=%v", what, h, last, moved)
		} else {
			last = h
		}
	}
	step("a new result", true, func() error { return store.PutPublicResult(ctx, result("r1", 1)) })
	step("a newer version", true, func() error { return store.PutPublicResult(ctx, result("r1", 2)) })
	step("a repeat", true, func() error { return store.PutPublicResult(ctx, result("r1", 2)) })
	step("a bulk insert", true, func() error {
		_, err := store.InsertPublicResults(ctx, []*backend.PublicResult{result("r2", 1), result("r3", 1)})
		return err
	})
	step("a bulk insert of stored ones", false, func() error {
		_, err := store.InsertPublicResults(ctx, []*backend.PublicResult{result("r2", 1)})
		return err
	})
	if got, ok, err := store.PublicResultChanges(ctx, 0, last); err != nil || !ok || !slices.Equal(got, []string{"r1", "r1", "r1", "r2", "r3"}) {
		t.Fatalf("changes up to %d: %v, %v, %v", last, got, ok, err)
	}
	if got, ok, err := store.PublicResultChanges(ctx, 2, 3); err != nil || !ok || !slices.Equal(got, []string{"r1"}) {
		t.Fatalf("the third write's changes: %v, %v, %v", got, ok, err)
	}
	if _, ok, err := store.PublicResultChanges(ctx, last, last+1); err != nil || ok {
		t.Fatalf("a write not made yet: %v, %v; want not known", ok, err)
	}
	var seen []string
	if err := store.EachPublicResult(ctx, func(r *backend.PublicResult) error {
		if r.History != nil {
			t.Errorf("%s read with its history", r.ID)
		}
		seen = append(seen, r.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(seen)
	if !slices.Equal(seen, []string{"r1", "r2", "r3"}) {
		t.Fatalf("read %v", seen)
	}
}
