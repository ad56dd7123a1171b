package mobileapi

import (
	"fmt"
	"testing"

	"suiji/backend"
)

// TestAnOutcomeIsStaleOnlyWhenItsItemChanged: two members at work on one
// task. An outcome chosen on an older version of the task goes through
// when only something else changed since (the partner's check-in) — it
// was a conflict, and every outcome a phone queued offline came back as
// one — and is refused (409, the task as it is) when the same item's
// outcome was set since, so the partner's is never overwritten unseen.
func TestAnOutcomeIsStaleOnlyWhenItsItemChanged(t *testing.T) {
	et := newEvidenceTask(t)
	base := "/api/v1/tasks/" + et.task.ID
	item := et.task.Items[0].ID
	v := et.task.Version
	put := func(token, outcome string, version, status int) {
		t.Helper()
		scenario{token: token, method: "PUT", path: base + "/items/" + item,
			body: fmt.Sprintf(`{"outcome":%q,"note":"","version":%d}`, outcome, version), wantStatus: status}.run(t, et.env)
	}
	stored := func() backend.ItemOutcome {
		t.Helper()
		got, err := et.env.db.Tasks().FindTaskByID(t.Context(), et.task.ID)
		if err != nil || len(got.Checklist) != 1 {
			t.Fatalf("the task's checklist: %+v, %v", got, err)
		}
		return got.Checklist[0]
	}

	// B checks in: the task moves on, the item untouched.
	scenario{token: et.tb, method: "POST", path: base + "/check-in", body: `{"lat":35.49,"lng":112.85,"accuracy_m":10}`, wantStatus: 200}.run(t, et.env)
	put(et.ta, "pass", v, 200) // chosen before B's check-in
	if o := stored(); o.Outcome != "pass" || o.By != et.a.ID {
		t.Fatalf("A's outcome: %+v", o)
	}

	// A's outcome was set since the version B chose on: refused, A's stays.
	put(et.tb, "fail", v+1, 409)
	if o := stored(); o.Outcome != "pass" || o.By != et.a.ID {
		t.Fatalf("B's stale outcome overwrote A's: %+v", o)
	}
	// Chosen on the version that has A's outcome: taken.
	put(et.tb, "fail", stored().Version, 200)
	if o := stored(); o.Outcome != "fail" || o.By != et.b.ID {
		t.Fatalf("B's outcome, chosen seeing A's: %+v", o)
	}
}

// TestAnOutcomeSentAgainIsNoConflict: an outcome stored whose telling
// then failed (503, so the phone sends it again with the version it was
// chosen on) is answered with the task as it is — not a conflict with
// itself, and nothing written twice.
func TestAnOutcomeSentAgainIsNoConflict(t *testing.T) {
	et := newEvidenceTask(t)
	path := "/api/v1/tasks/" + et.task.ID + "/items/" + et.task.Items[0].ID
	body := fmt.Sprintf(`{"outcome":"fail","note":"消防通道堵塞","version":%d}`, et.task.Version)
	notifier := et.env.svc.Tasks.Notifier
	et.env.svc.Tasks.Notifier = failingNotifier{}
	scenario{token: et.ta, method: "PUT", path: path, body: body, wantStatus: 503}.run(t, et.env)
	et.env.svc.Tasks.Notifier = notifier
	stored, err := et.env.db.Tasks().FindTaskByID(t.Context(), et.task.ID)
	if err != nil || len(stored.Checklist) != 1 || stored.Checklist[0].Outcome != "fail" {
		t.Fatalf("the outcome whose telling failed: %+v, %v; want it stored", stored, err)
	}
	scenario{token: et.ta, method: "PUT", path: path, body: body, wantStatus: 200,
		wantContain: []string{fmt.Sprintf(`"version":%d`, stored.Version)}}.run(t, et.env)
	if again, err := et.env.db.Tasks().FindTaskByID(t.Context(), et.task.ID); err != nil || again.Version != stored.Version {
		t.Fatalf("the repeat wrote the task again: version %d, want %d (%v)", again.Version, stored.Version, err)
	}
	// The partner's own outcome, the same on that version, is a change.
	scenario{token: et.tb, method: "PUT", path: path, body: body, wantStatus: 409}.run(t, et.env)
}
