package mongodb_test

import (
	"sync"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/draw"
	"suiji/storage/storagetest"
)

// TestReplacementDecisionIsTakenOnce: a leader's decision on a committed
// replacement is a compare-and-set on its state: of decisions racing at
// the store (no lease held), approvals and rejections alike, exactly one
// lands and the others are ECONFLICT; the decision comes back as stored;
// a drawn replacement takes none; an unknown one is ENOTFOUND.
func TestReplacementDecisionIsTakenOnce(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.Replacements()
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	committed := func(id string) *backend.TaskReplacement {
		r := &backend.TaskReplacement{ID: id, TaskID: "task-" + id, DrawID: "draw-1", PlanID: "plan-1", USCC: "U", Out: "B1", Reason: "回避",
			SeedCommitment: "c", SealedSeed: []byte{1}, Roster: []draw.Officer{}, RosterSHA256: "r", Eligible: 2,
			State: backend.ReplacementCommitted, CommittedAt: now, CommittedBy: "staff-1"}
		if err := store.CreateReplacement(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}

	for round := range 3 {
		r := committed("race-" + string(rune('a'+round)))
		const racers = 6
		errs := make(chan error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				<-start
				// Racing approvals (rounds 0, 2) or racing rejections
				// (round 1): one lands. (A rejection after an approval
				// withdraws it: see below.)
				errs <- store.DecideReplacement(ctx, r.ID, backend.ReplacementDecision{
					Approve: round%2 == 0, By: "leader-" + string(rune('0'+i)), At: now, Comment: "意见"})
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		won := 0
		for err := range errs {
			switch backend.ErrorCode(err) {
			case "":
				won++
			case backend.ECONFLICT:
			default:
				t.Fatalf("round %d: a racing decision: %v", round, err)
			}
		}
		got, err := store.FindReplacement(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		approved := got.ApprovedAt != nil && got.ApprovedBy != "" && got.State == backend.ReplacementCommitted && got.RejectedAt == nil
		rejected := got.RejectedAt != nil && got.RejectedBy != "" && got.State == backend.ReplacementRejected && got.ApprovedAt == nil
		if won != 1 || approved == rejected || approved != (round%2 == 0) || got.DecisionComment != "意见" ||
			!(approved && got.ApprovedAt.Equal(now) || rejected && got.RejectedAt.Equal(now)) {
			t.Fatalf("round %d: %d decisions landed, stored %+v; want exactly one", round, won, got)
		}
	}

	// An approval not yet drawn is withdrawn by a rejection; nothing lands
	// on the rejected one after.
	r := committed("withdrawn")
	if err := store.DecideReplacement(ctx, r.ID, backend.ReplacementDecision{Approve: true, By: "leader-1", At: now}); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Hour)
	if err := store.DecideReplacement(ctx, r.ID, backend.ReplacementDecision{Approve: false, By: "leader-2", At: later, Comment: "无人可抽"}); err != nil {
		t.Fatalf("rejecting an approved replacement: %v", err)
	}
	for _, d := range []backend.ReplacementDecision{{Approve: true, By: "leader-3", At: later}, {Approve: false, By: "leader-3", At: later, Comment: "再次"}} {
		if err := store.DecideReplacement(ctx, r.ID, d); backend.ErrorCode(err) != backend.ECONFLICT {
			t.Fatalf("deciding a rejected replacement (%+v): %v, want ECONFLICT", d, err)
		}
	}
	if got, err := store.FindReplacement(ctx, r.ID); err != nil || got.State != backend.ReplacementRejected || got.ApprovedBy != "leader-1" ||
		got.RejectedBy != "leader-2" || !got.RejectedAt.Equal(later) || got.DecisionComment != "无人可抽" {
		t.Fatalf("withdrawn approval stored as %+v, %v", got, err)
	}

	drawn := committed("drawn")
	if err := store.MarkReplacementDrawn(ctx, drawn.ID, &draw.Replacement{}); err != nil {
		t.Fatal(err)
	}
	if err := store.DecideReplacement(ctx, drawn.ID, backend.ReplacementDecision{Approve: true, By: "leader-1", At: now}); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("deciding a drawn replacement: %v, want ECONFLICT", err)
	}
	if err := store.DecideReplacement(ctx, "nobody", backend.ReplacementDecision{Approve: true, By: "leader-1", At: now}); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Fatalf("deciding an unknown replacement: %v, want ENOTFOUND", err)
	}
}
