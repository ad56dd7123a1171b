package results_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/results"
	"suiji/storage/mongodb"
	"suiji/storage/storagetest"
)

// countingStore counts the reads of the real store under it.
type countingStore struct {
	backend.PublicResultStore
	finds, loads, heads atomic.Int64
}

func (c *countingStore) FindPublicResults(ctx context.Context, f backend.PublicResultFilter) ([]*backend.PublicResult, int, error) {
	c.finds.Add(1)
	return c.PublicResultStore.FindPublicResults(ctx, f)
}

func (c *countingStore) EachPublicResult(ctx context.Context, fn func(*backend.PublicResult) error) error {
	c.loads.Add(1)
	return c.PublicResultStore.EachPublicResult(ctx, fn)
}

func (c *countingStore) PublicResultsHead(ctx context.Context) (int64, error) {
	c.heads.Add(1)
	return c.PublicResultStore.PublicResultsHead(ctx)
}

// publicFixture stores n published results with varied fields: years
// 2025/2026, three towns, two plans (and none), two departments, the
// results in turn, names with Latin letters in both cases, USCCs with a
// letter; some share a publication time, so the id breaks the tie.
func publicFixture(t *testing.T, db *mongodb.DB, n int) []*backend.PublicResult {
	t.Helper()
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	names := []string{"甲Abc化工有限公司", "乙abc煤业有限公司", "丙.*建材有限公司", "丁 ABC 食品厂"}
	var out []*backend.PublicResult
	for i := range n {
		at := base.Add(time.Duration(i/3) * time.Hour) // three at a time
		r := &backend.PublicResult{
			ID: fmt.Sprintf("r%03d", (i*7)%n), Version: 1, Year: 2025 + i%2, Town: []string{"城关镇", "东关镇", "西关镇"}[i%3],
			PlanID: []string{"p1", "p2", ""}[i%3], DepartmentID: []string{"d1", "d2"}[i%2],
			EnterpriseName: fmt.Sprintf("%s%d号", names[i%4], i), USCC: fmt.Sprintf("91140525MA%07dX", i),
			Result: backend.InspectionResults[i%len(backend.InspectionResults)], FirstPublished: at, PublishedAt: at,
			Items: []backend.PublicItem{{Code: "A1", Name: "安全生产责任制"}},
		}
		if err := db.PublicResults().PutPublicResult(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func ids(rs []*backend.PublicResult) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// TestPublicIndexAnswersAsTheStore: every filter, text rule, page by
// offset and by cursor answers from the index exactly what the store's
// query answers, and the store is not searched.
func TestPublicIndexAnswersAsTheStore(t *testing.T) {
	t.Parallel()
	db := storagetest.Mongo(t)
	publicFixture(t, db, 40)
	store := &countingStore{PublicResultStore: db.PublicResults()}
	svc := &results.Service{Public: store}
	ctx := t.Context()
	filters := []backend.PublicResultFilter{
		{}, {Year: 2026}, {Year: 2024}, {Town: "东关镇"}, {PlanID: "p2"}, {DepartmentID: "d1", Year: 2025},
		{Result: backend.ResultNoProblem}, {Result: backend.ResultNoProblem, Town: "城关镇"},
		{Text: "abc"}, {Text: "Abc"}, {Text: "ABC"}, {Text: "  煤业 "}, {Text: ".*"}, {Text: "丙.*建材"},
		{Text: "91140525ma00000"}, {Text: "91140525MA000001"}, {Text: "0525"}, {Text: "1号"}, {Text: "不存在"},
		{Limit: 7}, {Limit: 7, Offset: 5}, {Year: 2026, Offset: 30}, {Text: "有限公司", Limit: 3, Offset: 2},
	}
	for _, f := range filters {
		if f.Limit == 0 {
			f.Limit = backend.PublicResultMaxLimit
		}
		want, wantTotal, err := db.PublicResults().FindPublicResults(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		got, total, err := svc.PublicResults(ctx, f)
		if err != nil || total != wantTotal || !slices.Equal(ids(got), ids(want)) {
			t.Errorf("%+v: got %v (total %d, %v), want %v (total %d)", f, ids(got), total, err, ids(want), wantTotal)
		}
		for i := range min(len(got), len(want)) {
			if got[i].EnterpriseName != want[i].EnterpriseName || got[i].USCC != want[i].USCC || len(got[i].Items) != 1 ||
				!got[i].FirstPublished.Equal(want[i].FirstPublished) || got[i].Town != want[i].Town {
				t.Errorf("%+v: %d differs: %+v, want %+v", f, i, got[i], want[i])
			}
		}
	}
	// Paging by cursor, with a filter: every match once, in the store's order.
	for _, f := range []backend.PublicResultFilter{{Limit: 3}, {Year: 2026, Limit: 4}, {Text: "abc", Limit: 2}} {
		want, _, err := db.PublicResults().FindPublicResults(ctx, backend.PublicResultFilter{Year: f.Year, Text: f.Text, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var seen []string
		for range 50 {
			page, total, err := svc.PublicResults(ctx, f)
			if err != nil || total != len(want) {
				t.Fatalf("%+v: total %d, %v; want %d", f, total, err, len(want))
			}
			seen = append(seen, ids(page)...)
			if len(page) < f.Limit {
				break
			}
			f.After = f.CursorOf(page[len(page)-1])
		}
		if !slices.Equal(seen, ids(want)) {
			t.Errorf("paged %v, want %v", seen, ids(want))
		}
	}
	for _, f := range []backend.PublicResultFilter{{Offset: backend.MaxOffset + 1}, {After: backend.Cursor{"x"}}} {
		if _, _, err := svc.PublicResults(ctx, f); backend.ErrorCode(err) != backend.EINVALID {
			t.Errorf("%+v: %v, want EINVALID", f, err)
		}
	}
	if store.finds.Load() != 0 || store.loads.Load() != 1 {
		t.Fatalf("the store was searched %d times and read whole %d times; want 0 and 1", store.finds.Load(), store.loads.Load())
	}
}

// TestPublicIndexFollowsTheHead: a write on one instance (its own
// Service) shows on another within the interval, and not before the head
// is read again; searches at once share one refresh, which reads only the
// results written since, by id — or everything, when the store cannot
// tell which.
func TestPublicIndexFollowsTheHead(t *testing.T) {
	t.Parallel()
	db := storagetest.Mongo(t)
	publicFixture(t, db, 5)
	ctx := t.Context()
	store := &countingStore{PublicResultStore: db.PublicResults()}
	const interval = 300 * time.Millisecond
	fresh := &results.Service{Public: store, PublicIndexInterval: interval}
	slow := &results.Service{Public: db.PublicResults(), PublicIndexInterval: time.Hour}
	for _, s := range []*results.Service{fresh, slow} {
		if _, total, err := s.PublicResults(ctx, backend.PublicResultFilter{}); err != nil || total != 5 {
			t.Fatalf("before: %d, %v", total, err)
		}
	}
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	put := func(id, name string, version int) {
		t.Helper()
		if err := db.PublicResults().PutPublicResult(ctx, &backend.PublicResult{ID: id, Version: version, Year: 2027,
			EnterpriseName: name, USCC: "91140525MA9999999X", Result: backend.ResultNoProblem, FirstPublished: at, PublishedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	// counts checks the full reads, and the reads of the head since the
	// last check: at least one, at most most (more when a search of the
	// step came after the interval on a loaded machine).
	lastHeads := store.heads.Load()
	counts := func(what string, loads, most int64) {
		t.Helper()
		l, h := store.loads.Load(), store.heads.Load()
		if l != loads || h-lastHeads < 1 || h-lastHeads > most {
			t.Fatalf("%s: %d full reads and %d reads of the head; want %d and 1 to %d", what, l, h-lastHeads, loads, most)
		}
		lastHeads = h
	}
	find := func(text string) []string {
		t.Helper()
		list, total, err := fresh.PublicResults(ctx, backend.PublicResultFilter{Text: text})
		if err != nil || total != len(list) {
			t.Fatalf("%s: %v of %d, %v", text, ids(list), total, err)
		}
		return ids(list)
	}
	put("new", "新发布企业", 1)
	if _, total, err := slow.PublicResults(ctx, backend.PublicResultFilter{}); err != nil || total != 5 {
		t.Fatalf("within its hour the index answered %d (%v); want the 5 it holds", total, err)
	}
	time.Sleep(interval + 50*time.Millisecond)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			list, total, err := fresh.PublicResults(ctx, backend.PublicResultFilter{Text: "新发布"})
			if err != nil || total != 1 || list[0].ID != "new" {
				t.Errorf("after the interval: %v of %d, %v", ids(list), total, err)
			}
		})
	}
	wg.Wait()
	counts("a new result", 1, 2) // 8 searches, one refresh
	// An unchanged head costs a read of it and nothing else.
	time.Sleep(interval + 50*time.Millisecond)
	if _, total, err := fresh.PublicResults(ctx, backend.PublicResultFilter{}); err != nil || total != 6 {
		t.Fatalf("unchanged: %d, %v", total, err)
	}
	counts("unchanged", 1, 1)
	// A correction replaces the result it corrects.
	put("new", "更名企业", 2)
	time.Sleep(interval + 50*time.Millisecond)
	if got := find("更名"); !slices.Equal(got, []string{"new"}) || len(find("新发布")) != 0 || len(find("")) != 6 {
		t.Fatalf("after the correction: %v", got)
	}
	counts("a correction", 1, 3)
	// Without the change records the index is read again whole.
	put("newer", "再发布企业", 1)
	if _, err := db.Database().Collection("public_results_changes").DeleteMany(ctx, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(interval + 50*time.Millisecond)
	if got := find("再发布"); !slices.Equal(got, []string{"newer"}) || len(find("")) != 7 {
		t.Fatalf("after a full read: %v", got)
	}
	counts("no change records", 2, 2)
}

// TestPublicIndexFallsBackToTheStore: above PublicIndexMax (or with it
// below 0) the search is the store's, with the same answers.
func TestPublicIndexFallsBackToTheStore(t *testing.T) {
	t.Parallel()
	db := storagetest.Mongo(t)
	publicFixture(t, db, 6)
	ctx := t.Context()
	for _, limit := range []int{5, -1} {
		store := &countingStore{PublicResultStore: db.PublicResults()}
		svc := &results.Service{Public: store, PublicIndexMax: limit}
		list, total, err := svc.PublicResults(ctx, backend.PublicResultFilter{Year: 2026, Limit: 2})
		if err != nil || total != 3 || len(list) != 2 {
			t.Fatalf("max %d: %v of %d, %v", limit, ids(list), total, err)
		}
		if store.finds.Load() != 1 {
			t.Fatalf("max %d: the store was searched %d times; want 1", limit, store.finds.Load())
		}
	}
	atMax := &countingStore{PublicResultStore: db.PublicResults()}
	if _, total, err := (&results.Service{Public: atMax, PublicIndexMax: 6}).PublicResults(ctx, backend.PublicResultFilter{}); err != nil || total != 6 || atMax.finds.Load() != 0 {
		t.Fatalf("at the maximum: %d, %v, %d store searches", total, err, atMax.finds.Load())
	}
	// Too many stays too many: a write moves the head, and the search
	// goes to the store without reading everything again.
	store := &countingStore{PublicResultStore: db.PublicResults()}
	svc := &results.Service{Public: store, PublicIndexMax: 6, PublicIndexInterval: -1}
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := db.PublicResults().PutPublicResult(ctx, &backend.PublicResult{ID: "seventh", Version: 1, Year: 2027,
		EnterpriseName: "第七家企业", USCC: "91140525MA7777777X", Result: backend.ResultNoProblem, FirstPublished: at, PublishedAt: at}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, total, err := svc.PublicResults(ctx, backend.PublicResultFilter{}); err != nil || total != 7 {
			t.Fatalf("above the maximum: %d, %v", total, err)
		}
		if err := db.PublicResults().PutPublicResult(ctx, &backend.PublicResult{ID: "seventh", Version: 2, Year: 2027,
			EnterpriseName: "第七家企业", USCC: "91140525MA7777777X", Result: backend.ResultNoProblem, FirstPublished: at, PublishedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	if store.loads.Load() != 1 || store.finds.Load() != 2 || store.heads.Load() != 2 {
		t.Fatalf("%d full reads, %d store searches, %d reads of the head; want 1, 2 and 2", store.loads.Load(), store.finds.Load(), store.heads.Load())
	}

}

// TestWarmPublicIndexReadsOnceAhead: warmed at start, an instance answers
// the first search from memory, reading neither the results nor the head
// again within the interval.
func TestWarmPublicIndexReadsOnceAhead(t *testing.T) {
	t.Parallel()
	db := storagetest.Mongo(t)
	publicFixture(t, db, 6)
	store := &countingStore{PublicResultStore: db.PublicResults()}
	s := &results.Service{Public: store, PublicIndexInterval: time.Hour}
	if err := s.WarmPublicIndex(t.Context()); err != nil {
		t.Fatal(err)
	}
	loads, heads := store.loads.Load(), store.heads.Load()
	if loads != 1 {
		t.Fatalf("warming read the results %d times, want once", loads)
	}
	if _, total, err := s.PublicResults(t.Context(), backend.PublicResultFilter{}); err != nil || total != 6 {
		t.Fatalf("first search: %d, %v", total, err)
	}
	if store.loads.Load() != loads || store.heads.Load() != heads || store.finds.Load() != 0 {
		t.Fatalf("the first search after warming read the store: %d full reads, %d heads, %d searches more",
			store.loads.Load()-loads, store.heads.Load()-heads, store.finds.Load())
	}
}
