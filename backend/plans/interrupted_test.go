package plans_test

import (
	"testing"

	"suiji/backend"
	"suiji/storage/storagetest"
)

// TestRetryCompletesADrawInterruptedBeforeThePlanWasMarked: an instance
// that dies after storing a draw and before pointing the plan at it (the
// plan is left approved, its commitment pending) leaves a retry that
// finishes the job — the same draw, the plan drawn, nothing drawn twice —
// instead of a refusal.
func TestRetryCompletesADrawInterruptedBeforeThePlanWasMarked(t *testing.T) {
	db := storagetest.Mongo(t)
	w := storagetest.NewWorld(t, db, 12)
	s := newService(t, db, storagetest.Redis(t))
	p := readyPlan(t, s, w, backend.PlanUndirected, backend.PlanSample{Ratio: "0.5"})
	ctx := office(t.Context())
	d, err := s.Draw(ctx, p.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	// Undo the plan's bookkeeping, as a crash between the two writes would.
	stored, err := db.Plans().FindPlanByID(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored.Status, stored.CurrentDrawID, stored.DrawCount, stored.Commitment, stored.SeedCommitment = backend.PlanApproved, "", 0, p.Commitment, p.SeedCommitment
	if err := db.Plans().UpdatePlan(ctx, stored); err != nil {
		t.Fatal(err)
	}

	again, err := s.Draw(ctx, p.ID, "")
	if err != nil {
		t.Fatalf("retry after the interrupted draw: %v", err)
	}
	if again.ID != d.ID || again.Record.Seed != d.Record.Seed {
		t.Errorf("retry returned draw %s, want the stored %s", again.ID, d.ID)
	}
	after, _ := db.Plans().FindPlanByID(ctx, p.ID)
	if after.Status != backend.PlanDrawn || after.CurrentDrawID != d.ID || after.DrawCount != 1 || after.Commitment != nil {
		t.Errorf("plan after the retry: %s, current %q, %d draws", after.Status, after.CurrentDrawID, after.DrawCount)
	}
	all, _ := db.Draws().FindDrawsByPlan(ctx, p.ID)
	if len(all) != 1 {
		t.Errorf("%d draws stored, want 1", len(all))
	}
	// Once the plan is marked, another draw needs its own commitment.
	if _, err := s.Draw(ctx, p.ID, ""); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Errorf("a second draw on the used commitment: %v, want ECONFLICT", err)
	}
}
