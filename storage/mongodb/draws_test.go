package mongodb_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/draw/drawv1"
	"suiji/storage/storagetest"
)

// TestDrawStoreFencesAndRoundTrips: a second draw with a plan's taken
// sequence number is refused whatever its id (the fence against a stale
// lease holder), and a large record comes back exactly, pool and roster
// reassembled from their chunks.
func TestDrawStoreFencesAndRoundTrips(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.Draws()
	rec := &drawv1.Record{Algorithm: drawv1.Algorithm, AlgorithmVersion: drawv1.AlgorithmVersion, Seed: "s", Kind: drawv1.KindDirected,
		Allocation: []drawv1.Allocation{}, Selections: []drawv1.Selection{{USCC: "A", Town: "巴公镇", Group: []string{"1", "2"}}}}
	for i := range 4500 {
		rec.Pool = append(rec.Pool, drawv1.PoolEntry{USCC: fmt.Sprintf("%018d", i), Town: "巴公镇", Categories: []string{}, Flags: []string{}, LastInspectors: []string{}})
	}
	for i := range 3 {
		rec.Roster = append(rec.Roster, drawv1.RosterEntry{BadgeNo: fmt.Sprint(i), Qualifications: []string{"general"}, Conflicts: []string{}})
	}
	d := &backend.Draw{ID: "plan1-1", PlanID: "plan1", Seq: 1, Year: 2026, CreatedAt: time.Now().UTC().Truncate(time.Millisecond), Record: rec}
	if err := store.InsertDraw(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	stale := *d
	stale.ID = "another-id"
	if err := store.InsertDraw(t.Context(), &stale); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("second draw with seq 1: %v, want ECONFLICT", err)
	}
	got, err := store.FindDrawByID(t.Context(), "plan1-1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Record, rec) || got.Seq != 1 || !got.CreatedAt.Equal(d.CreatedAt) {
		t.Fatalf("record changed in storage: pool %d/%d roster %d/%d", len(got.Record.Pool), len(rec.Pool), len(got.Record.Roster), len(rec.Roster))
	}
	if _, err := store.FindDrawByID(t.Context(), "another-id"); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Fatalf("the refused draw is findable: %v", err)
	}

	d2 := &backend.Draw{ID: "plan1-2", PlanID: "plan1", Seq: 2, Year: 2026, Reason: "重抽", CreatedAt: time.Now().UTC(), Record: &drawv1.Record{Seed: "t"}}
	if err := store.InsertDraw(t.Context(), d2); err != nil {
		t.Fatal(err)
	}
	inForce, err := store.FindDrawsInForce(t.Context(), 2026)
	if err != nil || len(inForce) != 1 || inForce[0].Seq != 2 {
		t.Fatalf("in force: %+v %v", inForce, err)
	}
	list, err := store.FindDrawsByPlan(t.Context(), "plan1")
	if err != nil || len(list) != 2 || list[0].Seq != 1 || list[1].Reason != "重抽" {
		t.Fatalf("by plan: %+v %v", list, err)
	}
}
