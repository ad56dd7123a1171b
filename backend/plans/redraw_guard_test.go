package plans_test

import (
	"testing"

	"suiji/backend"
	"suiji/storage/storagetest"
)

// TestDrawerCannotApproveItsRedraw: a leader who also holds the
// coordinator's role draws; they may not approve the redraw of the
// attempt they drew — nor, after a colleague's attempt failed, of their
// draw still in force — and a refusal stores nothing. Another leader
// approves.
func TestDrawerCannotApproveItsRedraw(t *testing.T) {
	db := storagetest.Mongo(t)
	w := storagetest.NewWorld(t, db, 6)
	s := newService(t, db, storagetest.Redis(t))
	both := backend.WithActor(t.Context(), &backend.Actor{UserID: "u-both", Username: "both", Roles: []backend.Role{backend.RoleLeader, backend.RoleCoordinator}})
	p := approvedPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 6})
	if _, err := s.CommitSeed(both, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	d1, err := s.Draw(both, p.ID, "")
	if err != nil || !d1.Drawn() {
		t.Fatalf("the first attempt: %v", err)
	}
	refused := func(what string) {
		t.Helper()
		before, err := db.Plans().FindPlanByID(t.Context(), p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApproveRedraw(both, p.ID, "结果不理想"); backend.ErrorCode(err) != backend.EFORBIDDEN {
			t.Fatalf("%s: %v, want EFORBIDDEN", what, err)
		}
		after, _ := db.Plans().FindPlanByID(t.Context(), p.ID)
		if after.Version != before.Version || after.RedrawApproval != nil {
			t.Fatalf("%s: the refusal changed the plan: %+v", what, after)
		}
	}
	refused("the drawer approving the redraw of the attempt they drew")
	if _, err := s.ApproveRedraw(leader(t.Context()), p.ID, "企业名录更正后重新抽取"); err != nil {
		t.Fatalf("another leader: %v", err)
	}

	// Attempt 2, by the office, fails: no two active inspectors may
	// inspect five of the six (the roster changed since attempt 1).
	for i, in := range w.Inspectors {
		switch {
		case i >= 4:
			in.Active = false
		case i < 2:
			for _, e := range w.Enterprises[:5] {
				in.Conflicts = append(in.Conflicts, backend.Conflict{EnterpriseID: e.ID, Reason: "亲属"})
			}
		}
		if err := db.Inspectors().UpdateInspector(t.Context(), in); err != nil {
			t.Fatal(err)
		}
	}
	ctx := office(t.Context())
	if _, err := s.CommitSeed(ctx, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	d2, err := s.Draw(ctx, p.ID, "")
	if err != nil || d2.Drawn() {
		t.Fatalf("attempt 2 should fail: %+v %v", d2, err)
	}
	if got, _ := db.Plans().FindPlanByID(t.Context(), p.ID); got.CurrentDrawID != d1.ID || got.DrawCount != 2 {
		t.Fatalf("plan after the failed attempt: %+v", got)
	}
	refused("the drawer of the draw in force approving a redraw after another's failed attempt")
	if _, err := s.ApproveRedraw(leader(t.Context()), p.ID, "检查员回避后重新抽取"); err != nil {
		t.Fatalf("another leader after the failed attempt: %v", err)
	}
}

// TestCommitterCannotApproveItsRedraw: a leader who committed the seed of
// an attempt another drew is refused the approval of its redraw too
// (backend.Draw.CommittedBy): committing and then approving is the same
// one person's second try.
func TestCommitterCannotApproveItsRedraw(t *testing.T) {
	db := storagetest.Mongo(t)
	w := storagetest.NewWorld(t, db, 6)
	s := newService(t, db, storagetest.Redis(t))
	both := backend.WithActor(t.Context(), &backend.Actor{UserID: "u-both", Username: "both", Roles: []backend.Role{backend.RoleLeader, backend.RoleCoordinator}})
	p := approvedPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 6})
	if _, err := s.CommitSeed(both, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	d, err := s.Draw(office(t.Context()), p.ID, "")
	if err != nil || !d.Drawn() {
		t.Fatalf("the attempt: %v", err)
	}
	if stored, err := db.Draws().FindDrawByID(t.Context(), d.ID); err != nil || stored.CommittedBy != "u-both" {
		t.Fatalf("the stored attempt names its committer %q (%v)", stored.CommittedBy, err)
	}
	if _, err := s.ApproveRedraw(both, p.ID, "结果不理想"); backend.ErrorCode(err) != backend.EFORBIDDEN {
		t.Fatalf("the committer approving: %v, want EFORBIDDEN", err)
	}
	if _, err := s.ApproveRedraw(leader(t.Context()), p.ID, "企业名录更正后重新抽取"); err != nil {
		t.Fatalf("another leader: %v", err)
	}
}
