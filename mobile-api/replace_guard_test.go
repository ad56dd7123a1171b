package mobileapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/draw"
)

// replaceGuard is a dispatched task whose first member's replacement is
// committed (by staff, naming an entropy source or none) and approved by a
// leader, so that the office may draw it; eligible are the badges its
// frozen roster makes eligible, as SPEC.md §11 computes them.
type replaceGuard struct {
	*dispatchWorld
	task     *backend.Task
	r        replacementJSON
	drawPath string
	eligible []string
}

func newReplaceGuard(t *testing.T, env *apiEnv, source string) *replaceGuard {
	t.Helper()
	g := &replaceGuard{dispatchWorld: newDispatchWorld(t, env, 12, `{"count":3}`)}
	g.task = g.dispatchFirst(t, env)
	path := "/api/v1/tasks/" + g.task.ID + "/replacements"
	body, _ := json.Marshal(map[string]string{"badge_no": g.task.Members[0].BadgeNo, "reason": "回避", "entropy_source": source})
	scenario{as: "staff", method: "POST", path: path, body: string(body), wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { g.r = decode[replacementJSON](t, b) }}.run(t, env)
	scenario{as: "leader", method: "POST", path: path + "/" + g.r.ID + "/approval", body: `{"decision":"approve"}`, wantStatus: 200}.run(t, env)
	g.drawPath = path + "/" + g.r.ID + "/draw"

	stored, err := env.db.Replacements().FindReplacement(t.Context(), g.r.ID)
	if err != nil {
		t.Fatal(err)
	}
	d, err := env.db.Draws().FindDrawByID(t.Context(), stored.DrawID)
	if err != nil {
		t.Fatal(err)
	}
	in := &draw.ReplacementInput{USCC: stored.USCC, Out: stored.Out, Required: d.Record.Groups.Required,
		ValidThrough: d.Record.Groups.ValidThrough, KeepLastInspectors: d.Record.Groups.KeepLastInspectors, Roster: stored.Roster}
	for _, sel := range d.Record.Selections {
		if sel.USCC == stored.USCC {
			in.GroupBefore = sel.Group
		}
	}
	if g.eligible, err = in.Eligible(); err != nil || len(g.eligible) < 2 {
		t.Fatalf("the world's replacement has eligible %v (%v); the test needs a choice among several", g.eligible, err)
	}
	return g
}

// patch changes an inspector through the API, as the office would.
func (g *replaceGuard) patch(t *testing.T, env *apiEnv, as, badge, body string) {
	t.Helper()
	scenario{as: as, method: "PATCH", path: "/api/v1/inspectors/" + inspectorByBadge(t, g.dispatchWorld, badge).ID, body: body, wantStatus: 200}.run(t, env)
}

// rebadge gives every eligible inspector another badge ("X" + it), or,
// with back, their own again: whoever the draw picks, the directory then
// holds nobody under the badge drawn.
func (g *replaceGuard) rebadge(t *testing.T, env *apiEnv, back bool) {
	t.Helper()
	for _, b := range g.eligible {
		badge := "X" + b
		if back {
			badge = b
		}
		scenario{as: "staff", method: "PATCH", path: "/api/v1/inspectors/" + inspectorByBadge(t, g.dispatchWorld, b).ID,
			body: fmt.Sprintf(`{"badge_no":%q}`, badge), wantStatus: 200}.run(t, env)
	}
}

// drawAs calls the draw with body and returns the answer's status and body.
func (g *replaceGuard) drawAs(t *testing.T, env *apiEnv, body string) (int, []byte) {
	t.Helper()
	resp, b := env.call(t, env.login(t, "staff").AccessToken, "POST", g.drawPath, body, nil)
	return resp.StatusCode, b
}

// undrawn fails unless nothing of a draw exists: no record, the
// replacement committed and approved, the task's group as dispatched, and
// no seed in the replacement's public view.
func (g *replaceGuard) undrawn(t *testing.T, env *apiEnv) {
	t.Helper()
	if _, err := env.db.Replacements().FindReplacementRecord(t.Context(), g.r.ID); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Fatalf("the replacement has a record: %v", err)
	}
	if n, err := env.db.Replacements().LastReplacementSeq(t.Context(), g.r.DrawID); err != nil || n != 0 {
		t.Fatalf("the draw has %d replacement records (%v)", n, err)
	}
	stored, err := env.db.Replacements().FindReplacement(t.Context(), g.r.ID)
	if err != nil || stored.State != backend.ReplacementCommitted || stored.Record != nil || stored.ApprovedAt == nil {
		t.Fatalf("the replacement is %+v (%v), want committed, approved and not drawn", stored, err)
	}
	after, err := env.db.Tasks().FindTaskByID(t.Context(), g.task.ID)
	if err != nil || after.Version != g.task.Version || !slices.Equal(after.MemberUserIDs(), g.task.MemberUserIDs()) {
		t.Fatalf("the task changed: %+v (%v)", after, err)
	}
	scenario{method: "GET", path: "/public/v1/replacements/" + g.r.ID, wantStatus: 200,
		wantContain: []string{`"state":"committed"`}, wantAbsent: []string{`"seed":`, `"in":`}}.run(t, env)
}

// verified fails unless rec is the replacement's public record and
// re-computes (as `suiji verify-draw` does).
func (g *replaceGuard) verified(t *testing.T, env *apiEnv, rec draw.Replacement) {
	t.Helper()
	scenario{method: "GET", path: "/public/v1/replacements/" + g.r.ID, wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
			if v, err := draw.VerifyStream(bytes.NewReader(b)); err != nil || v.Type != draw.RecordTypeReplacement {
				t.Fatalf("the public record does not verify: %+v, %v", v, err)
			}
			if pub := decode[draw.Replacement](t, b); pub.In != rec.In || pub.Seed != rec.Seed || pub.PublicEntropy != rec.PublicEntropy {
				t.Fatalf("the public record %+v is not the one drawn %+v", pub, rec)
			}
		}}.run(t, env)
}

// TestAReplacementDrawRefusedIsNotRetriedWithAnotherEntropy: staff change
// the badges of the eligible inspectors they do not want, so that a draw
// landing on one of them fails, and resend the entropy spelled otherwise
// ("358", "3 5 8", "3,5,8") until the one they want comes in. The first
// call fixes the value: every other spelling is refused, naming it, and
// nothing is drawn — not even once the badges are back.
func TestAReplacementDrawRefusedIsNotRetriedWithAnotherEntropy(t *testing.T) {
	env := newAPIEnv(t, Config{})
	g := newReplaceGuard(t, env, "福彩3D 2026-03-05 开奖号码")
	g.rebadge(t, env, false)
	if status, body := g.drawAs(t, env, `{"public_entropy":"358"}`); status == 200 {
		t.Fatalf("a draw whose every eligible inspector changed badge succeeded: %s", body)
	}
	g.undrawn(t, env)

	refused := func(entropy string) {
		t.Helper()
		status, body := g.drawAs(t, env, fmt.Sprintf(`{"public_entropy":%q}`, entropy))
		if status != 409 {
			t.Fatalf("a retry with %q answered %d, want 409: %s", entropy, status, body)
		}
		e := decodeError(t, body)
		if e.Code != backend.ECONFLICT || !strings.Contains(e.Fields["public_entropy"], `"358"`) || !strings.Contains(e.Message, "fixed") {
			t.Fatalf("a retry with %q: %+v, want ECONFLICT naming the value fixed", entropy, e)
		}
		g.undrawn(t, env)
	}
	refused("3 5 8")
	g.rebadge(t, env, true) // the roster as committed: the draw would now succeed
	refused("3,5,8")
	refused("三五八")

	stored, err := env.db.Replacements().FindReplacement(t.Context(), g.r.ID)
	if err != nil || stored.PublicEntropy != "358" {
		t.Fatalf("the replacement's entropy is %q (%v), want the first call's", stored.PublicEntropy, err)
	}
	events, err := env.db.AuditEvents().FindAuditEvents(t.Context(), backend.AuditFilter{Action: "task.replacement_entropy"})
	if err != nil || len(events) != 1 || events[0].ObjectID != g.task.ID {
		t.Fatalf("the entropy was fixed with events %+v (%v), want one", events, err)
	}
}

// TestAReplacementRetriedWithItsEntropyDrawsTheSame: after a refused call
// fixed the entropy, a repeat with the same value, or with none, draws
// with that value — the outcome the first call would have had — and every
// later repeat returns that one record.
func TestAReplacementRetriedWithItsEntropyDrawsTheSame(t *testing.T) {
	env := newAPIEnv(t, Config{})
	g := newReplaceGuard(t, env, "福彩3D 2026-03-05 开奖号码")
	g.rebadge(t, env, false)
	if status, body := g.drawAs(t, env, `{"public_entropy":"358"}`); status == 200 {
		t.Fatalf("a draw whose every eligible inspector changed badge succeeded: %s", body)
	}
	g.rebadge(t, env, true)

	var rec draw.Replacement
	scenario{as: "staff", method: "POST", path: g.drawPath, wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { rec = decode[draw.Replacement](t, b) }}.run(t, env)
	if rec.PublicEntropy != "358" || !slices.Contains(g.eligible, rec.In) || rec.Seq != 1 {
		t.Fatalf("the draw with the entropy fixed: %+v", rec)
	}
	for _, body := range []string{`{"public_entropy":"358"}`, `{"public_entropy":" 358 "}`, ""} {
		scenario{as: "coordinator", method: "POST", path: g.drawPath, body: body, wantStatus: 200,
			after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
				if again := decode[draw.Replacement](t, b); again.In != rec.In || again.Seed != rec.Seed || again.Seq != rec.Seq || again.PublicEntropy != "358" {
					t.Fatalf("a repeat (%s) drew %+v, want %+v", body, again, rec)
				}
			}}.run(t, env)
	}
	// The outcome is the one the value fixed gives: the record re-computes.
	g.verified(t, env, rec)
	after, err := env.db.Tasks().FindTaskByID(t.Context(), g.task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(after.ActiveMembers(), func(m backend.TaskMember) bool {
		return m.BadgeNo == rec.In && m.InspectorID == inspectorByBadge(t, g.dispatchWorld, rec.In).ID
	}) {
		t.Fatalf("the member drawn is not in the group: %+v", after.Members)
	}
}

// TestAReplacementDrawRefusesARosterChangedSinceItsCommitment: once an
// eligible inspector's department, account or badge changed since the
// commitment, the draw is refused — the same answer on every call, so no
// retry selects anything — and nothing is drawn; a change that keeps who
// is who (a phone number), or a change undone, draws as before.
func TestAReplacementDrawRefusesARosterChangedSinceItsCommitment(t *testing.T) {
	env := newAPIEnv(t, Config{})
	g := newReplaceGuard(t, env, "")
	one, two := g.eligible[0], g.eligible[len(g.eligible)-1]
	spare := &backend.User{Username: "spare", DisplayName: "备用账号", Roles: []backend.Role{backend.RoleInspector}, DepartmentID: g.Brigade.ID,
		PasswordHash: env.users["inspector"].PasswordHash, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
	if err := env.db.Users().CreateUser(t.Context(), spare); err != nil {
		t.Fatal(err)
	}
	refused := func(badges ...string) {
		t.Helper()
		var first []byte
		for range 3 {
			status, body := g.drawAs(t, env, "")
			if status != 409 {
				t.Fatalf("a draw after the roster changed answered %d, want 409: %s", status, body)
			}
			e := decodeError(t, body)
			if e.Code != backend.ECONFLICT || !strings.Contains(e.Message, "roster changed since the commitment") || !strings.Contains(e.Message, "new commitment") {
				t.Fatalf("the refusal %+v does not say the roster changed and a new commitment is needed", e)
			}
			for _, b := range badges {
				if !strings.Contains(e.Message, b) {
					t.Errorf("the refusal does not name %s: %s", b, e.Message)
				}
			}
			if first != nil && !bytes.Equal(body, first) {
				t.Fatalf("a repeat was refused otherwise: %s, then %s", first, body)
			}
			first = body
		}
		g.undrawn(t, env)
	}

	// Moved to another department.
	g.patch(t, env, "coordinator", two, fmt.Sprintf(`{"department_id":%q}`, g.Office.ID))
	refused(two)
	g.patch(t, env, "coordinator", two, fmt.Sprintf(`{"department_id":%q}`, g.Brigade.ID))

	// Linked to another account.
	own := inspectorByBadge(t, g.dispatchWorld, one).UserID
	g.patch(t, env, "coordinator", one, fmt.Sprintf(`{"user_id":%q}`, spare.ID))
	refused(one)
	g.patch(t, env, "coordinator", one, fmt.Sprintf(`{"user_id":%q}`, own))

	// Two badges swapped: each badge is held, by the other person.
	g.patch(t, env, "staff", one, `{"badge_no":"TMP-0001"}`)
	g.patch(t, env, "staff", two, fmt.Sprintf(`{"badge_no":%q}`, one))
	g.patch(t, env, "staff", one, fmt.Sprintf(`{"badge_no":%q}`, two))
	refused(one, two)
	g.patch(t, env, "staff", one, `{"badge_no":"TMP-0001"}`)
	g.patch(t, env, "staff", two, fmt.Sprintf(`{"badge_no":%q}`, two))
	g.patch(t, env, "staff", one, fmt.Sprintf(`{"badge_no":%q}`, one))

	// Every change undone, and one that keeps who is who: drawn.
	g.patch(t, env, "staff", two, `{"phone":"13800000000"}`)
	var rec draw.Replacement
	scenario{as: "staff", method: "POST", path: g.drawPath, wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { rec = decode[draw.Replacement](t, b) }}.run(t, env)
	g.verified(t, env, rec)
}

// TestAFailedReplacementIsNeverDrawn: a replacement whose draw failed (the
// member drawn could not be brought in) says so in its public view,
// without a seed; it is never drawn nor decided, and another replacement
// of the task may be committed. The store fixes an entropy once.
func TestAFailedReplacementIsNeverDrawn(t *testing.T) {
	env := newAPIEnv(t, Config{})
	g := newReplaceGuard(t, env, "福彩3D 2026-03-05 开奖号码")
	store := env.db.Replacements()
	if err := store.FixReplacementEntropy(t.Context(), g.r.ID, "358"); err != nil {
		t.Fatal(err)
	}
	if err := store.FixReplacementEntropy(t.Context(), g.r.ID, "3 5 8"); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("a second value was fixed: %v", err)
	}
	if err := store.MarkReplacementFailed(t.Context(), g.r.ID, time.Now(), "the inspector drawn is not in the directory"); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkReplacementFailed(t.Context(), g.r.ID, time.Now(), "again"); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("a failed replacement failed again: %v", err)
	}
	stored, err := store.FindReplacement(t.Context(), g.r.ID)
	if err != nil || stored.State != backend.ReplacementFailed || stored.FailedAt == nil || stored.Failure == "" || stored.PublicEntropy != "358" {
		t.Fatalf("the failed replacement is %+v (%v)", stored, err)
	}
	if err := store.FixReplacementEntropy(t.Context(), g.r.ID, "358"); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("a failed replacement's entropy was fixed: %v", err)
	}

	scenario{method: "GET", path: "/public/v1/replacements/" + g.r.ID, wantStatus: 200,
		wantContain: []string{`"state":"failed"`, `"failure":"the inspector drawn is not in the directory"`, `"public_entropy":"358"`},
		wantAbsent:  []string{`"seed":`}}.run(t, env)
	// The portal's page says so (it said 已批准，待抽取), with the reason
	// and the value fixed.
	scenario{method: "GET", path: "/replacements/" + g.r.ID, wantStatus: 200,
		wantContain: []string{"抽取未能完成，不再抽取", "the inspector drawn is not in the directory", "358"},
		wantAbsent:  []string{"已批准，待抽取", "replacement.state."}}.run(t, env)
	scenario{as: "staff", method: "POST", path: g.drawPath, body: `{"public_entropy":"358"}`, wantStatus: 409, wantCode: backend.ECONFLICT,
		wantContain: []string{"failed"}}.run(t, env)
	scenario{as: "leader", method: "POST", path: strings.TrimSuffix(g.drawPath, "/draw") + "/approval", body: `{"decision":"reject","comment":"不予替换"}`,
		wantStatus: 409, wantCode: backend.ECONFLICT}.run(t, env)
	d, err := env.db.Draws().FindDrawByID(t.Context(), g.r.DrawID)
	if err != nil {
		t.Fatal(err)
	}
	list, err := env.svc.Tasks.DrawReplacements(t.Context(), d, 10)
	if err != nil || len(list) != 1 || list[0].PublicState() != backend.ReplacementFailed || list[0].Failure == "" {
		t.Fatalf("the draw's replacements: %+v (%v), want the failed one", list, err)
	}
	scenario{as: "staff", method: "POST", path: "/api/v1/tasks/" + g.task.ID + "/replacements",
		body: `{"badge_no":"` + g.task.Members[0].BadgeNo + `","reason":"回避"}`, wantStatus: 201}.run(t, env)
}

// TestTheEligibleAreShownToWhoDecides: the office's view of a pending
// replacement names who may come in (the eligible, by badge), so that a
// leader deciding it sees an eligible set narrowed before the commit;
// the public sees the count only until the draw.
func TestTheEligibleAreShownToWhoDecides(t *testing.T) {
	env := newAPIEnv(t, Config{})
	g := newReplaceGuard(t, env, "")
	scenario{as: "leader", method: "GET", path: "/api/v1/tasks/" + g.task.ID + "/replacements", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
			var list struct{ Replacements []replacementJSON }
			if err := json.Unmarshal(b, &list); err != nil || len(list.Replacements) != 1 {
				t.Fatalf("listing %s (%v)", b, err)
			}
			if got := list.Replacements[0].EligibleBadges; !slices.Equal(got, g.eligible) {
				t.Fatalf("the leader sees eligible %v, want %v", got, g.eligible)
			}
		}}.run(t, env)
	scenario{method: "GET", path: "/public/v1/replacements/" + g.r.ID, wantStatus: 200, wantAbsent: []string{"eligible_badges"}}.run(t, env)
}
