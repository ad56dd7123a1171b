package mongodb_test

import (
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
