package mongodb_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/draw"
	"suiji/backend/draw/drawv1"
	"suiji/storage/storagetest"
)

func attemptRecord(id string, seq int, outcome string, selections ...draw.Selection) *draw.Record {
	return &draw.Record{
		RecordHead: draw.RecordHead{Algorithm: draw.Algorithm, AlgorithmVersion: draw.AlgorithmVersion, ID: id, PlanID: "plan1", Seq: seq,
			Year: 2026, Outcome: outcome, Kind: draw.KindDirected, PoolSHA256: "p", RosterSHA256: "r", SampleSize: len(selections)},
		Allocation: []draw.Allocation{}, Selections: selections,
	}
}

// TestDrawStoreFencesAndRoundTrips: a second attempt with a plan's taken
// sequence number is refused whatever its id (the fence against a stale
// lease holder); an attempt comes back exactly; a failed attempt is listed
// but never in force.
func TestDrawStoreFencesAndRoundTrips(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.Draws()
	rec := attemptRecord("plan1-1", 1, draw.OutcomeDrawn, draw.Selection{USCC: "A", Town: "巴公镇", Group: []string{"1", "2"}})
	d := &backend.Draw{ID: "plan1-1", PlanID: "plan1", Seq: 1, Year: 2026, CreatedAt: time.Now().UTC().Truncate(time.Millisecond), Record: rec}
	if err := store.InsertDraw(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	stale := *d
	stale.ID = "another-id"
	if err := store.InsertDraw(t.Context(), &stale); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("second attempt with seq 1: %v, want ECONFLICT", err)
	}
	got, err := store.FindDrawByID(t.Context(), "plan1-1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Record, rec) || got.Seq != 1 || !got.CreatedAt.Equal(d.CreatedAt) {
		t.Fatalf("record changed in storage: %+v", got.Record)
	}
	if _, err := store.FindDrawByID(t.Context(), "another-id"); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Fatalf("the refused attempt is findable: %v", err)
	}

	failed := &backend.Draw{ID: "plan1-2", PlanID: "plan1", Seq: 2, Year: 2026, Reason: "重抽", CreatedAt: time.Now().UTC(),
		Record: attemptRecord("plan1-2", 2, draw.OutcomeFailed)}
	if err := store.InsertDraw(t.Context(), failed); err != nil {
		t.Fatal(err)
	}
	inForce, err := store.FindDrawsInForce(t.Context(), 2026)
	if err != nil || len(inForce) != 1 || inForce[0].Seq != 1 {
		t.Fatalf("in force after a failed attempt: %+v %v", inForce, err)
	}
	list, err := store.FindDrawsByPlan(t.Context(), "plan1")
	if err != nil || len(list) != 2 || list[1].Drawn() || list[1].Reason != "重抽" {
		t.Fatalf("by plan: %+v %v", list, err)
	}
}

// TestSnapshotsAreStoredOnceAndStreamed: a frozen list is stored under its
// hash once, comes back chunk by chunk in order, and is not found before
// it is complete.
func TestSnapshotsAreStoredOnceAndStreamed(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.Draws()
	var chunks [][]byte
	for i := range 3 {
		chunks = append(chunks, fmt.Appendf(nil, `[{"n":%d}]`, i))
	}
	if err := store.ScanSnapshot(t.Context(), backend.SnapshotPool, "h1", func([]byte) error { return nil }); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Fatalf("a snapshot never stored: %v", err)
	}
	for range 2 { // the second is a commitment of an unchanged pool
		if err := store.PutSnapshot(t.Context(), backend.SnapshotPool, "h1", chunks); err != nil {
			t.Fatal(err)
		}
	}
	var got [][]byte
	if err := store.ScanSnapshot(t.Context(), backend.SnapshotPool, "h1", func(c []byte) error { got = append(got, c); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, chunks) {
		t.Fatalf("snapshot read back %q", got)
	}
	if err := store.ScanSnapshot(t.Context(), backend.SnapshotRoster, "h1", func([]byte) error { return nil }); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Fatalf("a pool snapshot read as a roster: %v", err)
	}
}

// TestLegacyDrawsStillReadAndVerify stores a suiji-draw/1 record in the
// layout of that version: it lists with its selections, and its public
// record is written as it was published and verifies under its own rules.
func TestLegacyDrawsStillReadAndVerify(t *testing.T) {
	raw, err := os.ReadFile("../../backend/draw/testdata/vectors/v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var rec drawv1.Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	db := storagetest.Mongo(t)
	store := db.Draws()
	if err := store.InsertLegacyDraw(t.Context(), rec.ID, rec.PlanID, 2026, &rec); err != nil {
		t.Fatal(err)
	}
	d, err := store.FindDrawByID(t.Context(), rec.ID)
	if err != nil || !d.Drawn() || d.Record.AlgorithmVersion != drawv1.AlgorithmVersion || len(d.Record.Selections) != len(rec.Selections) ||
		d.Record.PoolSize != len(rec.Pool) || d.Record.Selections[0].USCC != rec.Selections[0].USCC {
		t.Fatalf("legacy draw read as %+v %v", d, err)
	}
	if inForce, _ := store.FindDrawsInForce(t.Context(), 2026); len(inForce) != 1 {
		t.Fatal("a legacy draw is not in force")
	}
	var buf bytes.Buffer
	if err := store.WriteLegacyRecord(t.Context(), rec.ID, &buf); err != nil {
		t.Fatal(err)
	}
	v, err := draw.VerifyStream(&buf)
	if err != nil || v.Version != drawv1.AlgorithmVersion {
		t.Fatalf("the stored legacy record: %+v %v", v, err)
	}
	// Published with its year and time, it takes its place in a later
	// record's history.
	if v.Past == nil || v.Past.Year != 2026 || v.Past.DrawnAt.IsZero() || len(v.Past.Selected) != len(rec.Selections) {
		t.Fatalf("the legacy record's history facts: %+v", v.Past)
	}
}

// TestPoolReaderPushesTheFilterDown: the plan's filter is the query, only
// the draw's fields come back, and a change after the mark is seen.
func TestPoolReaderPushesTheFilterDown(t *testing.T) {
	db := storagetest.Mongo(t)
	w := storagetest.NewWorld(t, db, 9) // three towns, every fourth a hazchem unit
	pool := db.Pool()
	scan := func(q backend.PoolQuery) ([]*backend.PoolEnterprise, time.Time) {
		var out []*backend.PoolEnterprise
		var mark time.Time
		if err := pool.ScanPool(t.Context(), q, func(e *backend.PoolEnterprise) error {
			out = append(out, e)
			if e.UpdatedAt.After(mark) {
				mark = e.UpdatedAt
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out, mark
	}
	oneTown := backend.PoolQuery{Towns: []string{w.Towns[0]}}
	got, mark := scan(oneTown)
	if len(got) != 3 {
		t.Fatalf("%d enterprises of one town, want 3", len(got))
	}
	for _, e := range got {
		if e.Town != w.Towns[0] || e.USCC == "" || e.Status != backend.EnterpriseActive || e.ID == "" {
			t.Fatalf("pool entry %+v", e)
		}
	}
	if targets, _ := scan(backend.PoolQuery{CoverageTargets: true}); len(targets) != 3 {
		t.Fatalf("%d coverage targets, want the 3 hazchem units", len(targets))
	}
	if both, _ := scan(backend.PoolQuery{Towns: []string{w.Towns[0]}, Categories: []string{backend.CategoryHazardousChemicals}}); len(both) != 1 {
		t.Fatalf("%d hazchem units in one town, want 1", len(both))
	}
	if changed, err := pool.PoolChanged(t.Context(), oneTown, mark, 3); err != nil || changed {
		t.Fatalf("unchanged pool reported changed: %v", err)
	}
	if changed, _ := pool.PoolChanged(t.Context(), oneTown, mark, 4); !changed {
		t.Fatal("another count not seen")
	}
	e := w.Enterprises[3] // in the first town
	e.Industry, e.UpdatedAt = "化工", mark.Add(time.Second)
	if err := db.Enterprises().UpdateEnterprise(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	if changed, _ := pool.PoolChanged(t.Context(), oneTown, mark, 3); !changed {
		t.Fatal("a change after the mark not seen")
	}
}
