package mongodb_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/uscc"
	"suiji/storage/storagetest"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestBulkWritesKeepPerRecordGuarantees: the bulk paths imports use keep the
// single writes' rules — a unique index decides every duplicate, each
// update is a compare-and-set on its own version — and report each
// record's fate separately.
func TestBulkWritesKeepPerRecordGuarantees(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.Enterprises()
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(21, 21))
	now := time.Now().UTC().Truncate(time.Millisecond)
	mk := func(code, name string) *backend.Enterprise {
		return &backend.Enterprise{USCC: code, Name: name, Town: "巴公镇", Status: backend.EnterpriseActive, CreatedAt: now, UpdatedAt: now}
	}
	codes := make([]string, 5)
	for i := range codes {
		codes[i] = uscc.Generate(rng)
	}
	taken := mk(codes[0], "已登记")
	if err := store.CreateEnterprise(ctx, taken); err != nil {
		t.Fatal(err)
	}

	// Create in bulk: one USCC is taken; the others are stored at version 1.
	batch := []*backend.Enterprise{mk(codes[1], "甲"), mk(codes[0], "重复"), mk(codes[2], "乙"), mk(codes[3], "丙")}
	errs, err := store.CreateEnterprises(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || errs[2] != nil || errs[3] != nil {
		t.Fatalf("good rows failed: %v", errs)
	}
	if backend.ErrorCode(errs[1]) != backend.ECONFLICT || backend.ErrorFields(errs[1])["uscc"] == "" {
		t.Fatalf("duplicate USCC: %v", errs[1])
	}
	found, err := store.FindEnterprisesByUSCC(ctx, append(slices.Clone(codes), "不存在"))
	if err != nil || len(found) != 4 {
		t.Fatalf("found %d of the 4 stored, %v", len(found), err)
	}
	for _, e := range found {
		if e.Version != 1 || e.ID == "" {
			t.Errorf("%s at version %d id %q", e.USCC, e.Version, e.ID)
		}
	}

	// Update in bulk: one record was changed by someone else since it was
	// read, one was never stored; the rest move to version 2.
	a, b, c := *batch[0], *batch[2], *batch[3]
	interloper := *batch[2]
	interloper.Name = "别人改的"
	if err := store.UpdateEnterprise(ctx, &interloper); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Second)
	ghost := mk(codes[4], "不存在")
	ghost.ID, ghost.Version = "000000000000000000000000", 1
	a.Name, b.Name, c.Name = "甲（改）", "乙（改）", "丙（改）"
	for _, e := range []*backend.Enterprise{&a, &b, &c, ghost} {
		e.UpdatedAt = later
	}
	errs, err = store.UpdateEnterprises(ctx, []*backend.Enterprise{&a, &b, &c, ghost})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || errs[2] != nil || a.Version != 2 || c.Version != 2 {
		t.Errorf("good updates: %v, versions %d %d", errs, a.Version, c.Version)
	}
	if backend.ErrorCode(errs[1]) != backend.ECONFLICT || b.Version != 1 {
		t.Errorf("stale update: %v, version %d (must stay 1)", errs[1], b.Version)
	}
	if backend.ErrorCode(errs[3]) != backend.ENOTFOUND {
		t.Errorf("update of a missing record: %v", errs[3])
	}
	got, err := store.FindEnterpriseByUSCC(ctx, codes[2])
	if err != nil || got.Name != "别人改的" || got.Version != 2 {
		t.Errorf("the other writer's change was overwritten: %+v %v", got, err)
	}
	if got, _ := store.FindEnterpriseByUSCC(ctx, codes[1]); got.Name != "甲（改）" {
		t.Errorf("bulk update not stored: %+v", got)
	}

	// Versions in bulk; a repeated number is refused.
	vs := []*backend.Version{
		{ObjectType: "enterprise", ObjectID: a.ID, Number: 2, At: later, Action: "import"},
		{ObjectType: "enterprise", ObjectID: c.ID, Number: 2, At: later, Action: "import"},
	}
	if err := db.Versions().AppendVersions(ctx, vs); err != nil {
		t.Fatal(err)
	}
	if err := db.Versions().AppendVersions(ctx, vs[:1]); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Errorf("repeated version number: %v", err)
	}
}

// TestVersionsReadBothLayouts: versions are stored flat (changes as one
// JSON text); those stored before, with an array of changes, still read.
func TestVersionsReadBothLayouts(t *testing.T) {
	db := storagetest.Mongo(t)
	ctx := t.Context()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := db.Versions().AppendVersion(ctx, &backend.Version{ObjectType: "enterprise", ObjectID: "e1", Number: 2, At: at, Action: "update",
		Changes: []backend.FieldChange{{Field: "name", Before: "甲", After: "乙"}, {Field: "categories", Before: nil, After: []any{"coal_mine"}}}}); err != nil {
		t.Fatal(err)
	}
	_, err := db.Database().Collection("versions").InsertOne(ctx, bson.D{
		{Key: "object_type", Value: "enterprise"}, {Key: "object_id", Value: "e1"}, {Key: "number", Value: 1},
		{Key: "at", Value: at}, {Key: "action", Value: "create"},
		{Key: "changes", Value: bson.A{bson.D{{Key: "field", Value: "name"}, {Key: "before", Value: "null"}, {Key: "after", Value: `"甲"`}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := db.Versions().FindVersions(ctx, "enterprise", "e1")
	if err != nil || len(vs) != 2 {
		t.Fatalf("versions %v, %v", vs, err)
	}
	if c := vs[0].Changes; len(c) != 1 || c[0].Field != "name" || c[0].Before != nil || c[0].After != "甲" {
		t.Errorf("old layout: %+v", c)
	}
	if c := vs[1].Changes; len(c) != 2 || c[0].After != "乙" || c[1].Before != nil || len(c[1].After.([]any)) != 1 {
		t.Errorf("flat layout: %+v", c)
	}
}

// TestBulkAndSingleUpdatesRaceFairly: a bulk update and single updates of
// the same records, all from the version they read, race; for every record
// exactly one writer wins and the stored record is the winner's (FerretDB
// needs the per-document locks for this; MongoDB's atomic updates give it).
func TestBulkAndSingleUpdatesRaceFairly(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.Enterprises()
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(22, 22))
	now := time.Now().UTC().Truncate(time.Millisecond)
	const n = 20
	var base []*backend.Enterprise
	for i := range n {
		e := &backend.Enterprise{USCC: uscc.Generate(rng), Name: fmt.Sprint("原", i), Town: "巴公镇", Status: backend.EnterpriseActive, CreatedAt: now, UpdatedAt: now}
		if err := store.CreateEnterprise(ctx, e); err != nil {
			t.Fatal(err)
		}
		base = append(base, e)
	}
	bulk := make([]*backend.Enterprise, n)
	single := make([]*backend.Enterprise, n)
	for i, e := range base {
		b, s := *e, *e
		b.Name, s.Name = fmt.Sprint("批量", i), fmt.Sprint("单条", i)
		b.UpdatedAt, s.UpdatedAt = now.Add(time.Second), now.Add(2*time.Second)
		bulk[i], single[i] = &b, &s
	}
	var wg sync.WaitGroup
	var bulkErrs []error
	singleErrs := make([]error, n)
	wg.Go(func() {
		var err error
		if bulkErrs, err = store.UpdateEnterprises(ctx, bulk); err != nil {
			t.Error(err)
		}
	})
	for i := range n {
		wg.Go(func() { singleErrs[i] = store.UpdateEnterprise(ctx, single[i]) })
	}
	wg.Wait()
	if bulkErrs == nil {
		t.FailNow()
	}
	for i, e := range base {
		got, err := store.FindEnterpriseByID(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		bulkWon, singleWon := bulkErrs[i] == nil, singleErrs[i] == nil
		switch {
		case bulkWon == singleWon:
			t.Errorf("record %d: bulk won %v, single won %v — want exactly one", i, bulkWon, singleWon)
		case got.Version != 2:
			t.Errorf("record %d at version %d, want 2", i, got.Version)
		case bulkWon && got.Name != bulk[i].Name, singleWon && got.Name != single[i].Name:
			t.Errorf("record %d stored %q, not the winner's", i, got.Name)
		}
	}
}

// TestBulkUpdateOfManyKnownRecords: an import batch that changes 300
// records already stored (a re-imported directory) is written — FerretDB
// v1 hung on one command of that many updates, for good — and a stale
// record deep in the batch is reported at its own row, past the first
// command's worth of updates.
func TestBulkUpdateOfManyKnownRecords(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.Enterprises()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(300, 300))
	now := time.Now().UTC().Truncate(time.Millisecond)
	var es []*backend.Enterprise
	for i := range 300 {
		es = append(es, &backend.Enterprise{USCC: uscc.Generate(rng), Name: fmt.Sprintf("企业%03d", i), Town: "巴公镇",
			Status: backend.EnterpriseActive, CreatedAt: now, UpdatedAt: now})
	}
	if errs, err := store.CreateEnterprises(ctx, es); err != nil || slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
		t.Fatalf("create: %v %v", errs, err)
	}
	const stale = 217
	moved := *es[stale]
	moved.Name = "别人改过"
	if err := store.UpdateEnterprise(ctx, &moved); err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		e.Name += "（复核）"
		e.UpdatedAt = now.Add(time.Minute)
	}
	errs, err := store.UpdateEnterprises(ctx, es)
	if err != nil {
		t.Fatalf("updating 300 stored records in one batch: %v", err)
	}
	for i, e := range errs {
		if (i == stale) != (e != nil) {
			t.Fatalf("row %d: %v; want only row %d refused", i, e, stale)
		}
	}
	if backend.ErrorCode(errs[stale]) != backend.ECONFLICT {
		t.Fatalf("stale row: %v, want ECONFLICT", errs[stale])
	}
	for _, i := range []int{0, 15, 16, 299} {
		got, err := store.FindEnterpriseByID(ctx, es[i].ID)
		if err != nil || got.Version != 2 || got.Name != es[i].Name {
			t.Fatalf("row %d stored as %+v, %v; want version 2 named %s", i, got, err, es[i].Name)
		}
	}
	if got, _ := store.FindEnterpriseByID(ctx, es[stale].ID); got.Name != "别人改过" {
		t.Fatalf("the stale row overwrote the other change: %s", got.Name)
	}
}
