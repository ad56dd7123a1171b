package mobileapi

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/draw"
)

// replacementApprovalWorld is a dispatched draw with, beside the test's
// users of one role each, a coordinator who is a leader too (so that the
// service's own checks are reached: a leader alone may not commit or
// draw at all).
type replacementApprovalWorld struct {
	*dispatchWorld
	taskIDs     []string
	coordLeader *backend.User
	tokens      map[string]string // by role name, and "coordleader"
}

func newReplacementApprovalWorld(t *testing.T, env *apiEnv) *replacementApprovalWorld {
	t.Helper()
	w := &replacementApprovalWorld{dispatchWorld: newDispatchWorld(t, env, 12, `{"count":3}`), tokens: map[string]string{}}
	w.taskIDs = w.dispatch(t, env).TaskIDs
	w.coordLeader = &backend.User{
		Username: "coordleader", DisplayName: "协调兼领导", Roles: []backend.Role{backend.RoleCoordinator, backend.RoleLeader},
		PasswordHash: env.users["inspector"].PasswordHash, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC(),
	}
	if err := env.db.Users().CreateUser(t.Context(), w.coordLeader); err != nil {
		t.Fatal(err)
	}
	w.tokens["coordleader"] = env.loginAs(t, w.coordLeader)
	for _, role := range []string{"admin", "staff", "leader", "inspector"} {
		w.tokens[role] = env.login(t, role).AccessToken
	}
	return w
}

// task is the world's i-th task as stored now.
func (w *replacementApprovalWorld) task(t *testing.T, env *apiEnv, i int) *backend.Task {
	t.Helper()
	task, err := env.db.Tasks().FindTaskByID(t.Context(), w.taskIDs[i])
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// commit commits the replacement of the first member of task i as who.
func (w *replacementApprovalWorld) commit(t *testing.T, env *apiEnv, who string, i int) replacementJSON {
	t.Helper()
	task := w.task(t, env, i)
	var r replacementJSON
	scenario{token: w.tokens[who], method: "POST", path: "/api/v1/tasks/" + task.ID + "/replacements",
		body: `{"badge_no":"` + task.ActiveMembers()[0].BadgeNo + `","reason":"回避"}`, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { r = decode[replacementJSON](t, b) }}.run(t, env)
	return r
}

// unchanged fails unless task i is as it was (before) and replacement r
// has no record, is in state and is neither approved nor drawn.
func (w *replacementApprovalWorld) unchanged(t *testing.T, env *apiEnv, i int, before *backend.Task, r replacementJSON, state string) {
	t.Helper()
	if after := w.task(t, env, i); after.Version != before.Version || !slices.Equal(after.MemberUserIDs(), before.MemberUserIDs()) {
		t.Fatalf("the task changed: version %d → %d, group %v → %v", before.Version, after.Version, before.MemberUserIDs(), after.MemberUserIDs())
	}
	if _, err := env.db.Replacements().FindReplacementRecord(t.Context(), r.ID); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Fatalf("the replacement has a record: %v", err)
	}
	stored, err := env.db.Replacements().FindReplacement(t.Context(), r.ID)
	if err != nil || stored.State != state || stored.Record != nil || (state == backend.ReplacementCommitted && stored.ApprovedAt != nil) {
		t.Fatalf("the replacement is %+v (%v), want %s and not approved", stored, err, state)
	}
}

// TestReplacementNeedsALeadersApproval: a committed replacement is drawn
// only after a leader approved it; the leaders are told it waits; the one
// who committed it does not decide it, the one who approved it does not
// draw it; a rejection (public with its comment, never with a user id)
// ends it and lets another be committed; a decision is taken once.
func TestReplacementNeedsALeadersApproval(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newReplacementApprovalWorld(t, env)
	task := w.task(t, env, 0)
	base := "/api/v1/tasks/" + task.ID + "/replacements/"

	// A coordinator who is a leader too commits: every leader but them is
	// told that the replacement waits (an admin is not, by that alone).
	first := w.commit(t, env, "coordleader", 0)
	if first.State != backend.ReplacementCommitted || first.ApprovedAt != nil {
		t.Fatalf("the commitment %+v", first)
	}
	pending := func(u string) []*backend.Notification {
		list, err := env.db.Notifications().FindNotifications(t.Context(), backend.InboxQuery{UserID: u})
		if err != nil {
			t.Fatal(err)
		}
		var out []*backend.Notification
		for _, n := range list {
			if n.Kind == backend.NoteReplacementPending {
				out = append(out, n)
			}
		}
		return out
	}
	if notes := pending(env.users["leader"].ID); len(notes) != 1 || notes[0].TaskID != task.ID || notes[0].Data["replacement_id"] != first.ID || notes[0].Silent {
		t.Fatalf("the leader was told %+v", notes)
	}
	if notes := append(pending(w.coordLeader.ID), pending(env.users["admin"].ID)...); len(notes) != 0 {
		t.Fatalf("the committer or the admin was told %+v", notes)
	}

	// Drawn before a leader approved it: 409, and nothing changes.
	scenario{token: w.tokens["staff"], method: "POST", path: base + first.ID + "/draw", wantStatus: 409, wantCode: backend.ECONFLICT,
		wantContain: []string{"awaiting a leader's approval"}}.run(t, env)
	w.unchanged(t, env, 0, task, first, backend.ReplacementCommitted)

	// Who may decide: leaders only (the route), never the committer.
	for _, sc := range []scenario{
		{name: "inspector", token: w.tokens["inspector"], body: `{"decision":"approve"}`, wantStatus: 403, wantCode: backend.EFORBIDDEN},
		{name: "staff", token: w.tokens["staff"], body: `{"decision":"approve"}`, wantStatus: 403, wantCode: backend.EFORBIDDEN},
		{name: "the committer", token: w.tokens["coordleader"], body: `{"decision":"approve"}`, wantStatus: 403, wantCode: backend.EFORBIDDEN,
			wantContain: []string{"committed"}},
		{name: "no decision", token: w.tokens["leader"], body: `{"decision":"maybe"}`, wantStatus: 400, wantContain: []string{`"decision"`}},
		{name: "reject without comment", token: w.tokens["leader"], body: `{"decision":"reject","comment":"  "}`, wantStatus: 400, wantContain: []string{`"comment"`}},
		{name: "comment too long", token: w.tokens["leader"], body: `{"decision":"approve","comment":"` + strings.Repeat("长", 1001) + `"}`, wantStatus: 400,
			wantContain: []string{`"comment"`}},
		{name: "another task's", token: w.tokens["leader"], path: "/api/v1/tasks/" + w.taskIDs[1] + "/replacements/" + first.ID + "/approval",
			body: `{"decision":"approve"}`, wantStatus: 404},
	} {
		t.Run(sc.name, func(t *testing.T) {
			sc.method = "POST"
			if sc.path == "" {
				sc.path = base + first.ID + "/approval"
			}
			sc.run(t, env)
		})
	}
	w.unchanged(t, env, 0, task, first, backend.ReplacementCommitted)

	// Rejected by another leader, with the reason: the same rejection again
	// answers it as it is; an approval after it, and its draw, are 409.
	const why = "回避理由不成立，维持原检查组"
	var rejected replacementJSON
	scenario{token: w.tokens["leader"], method: "POST", path: base + first.ID + "/approval", body: `{"decision":"reject","comment":"` + why + `"}`,
		wantStatus: 200, wantContain: []string{`"state":"rejected"`, `"rejected_by":"` + env.users["leader"].ID + `"`, why},
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { rejected = decode[replacementJSON](t, b) }}.run(t, env)
	scenario{token: w.tokens["leader"], method: "POST", path: base + first.ID + "/approval", body: `{"decision":"reject","comment":"again"}`,
		wantStatus: 200, after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
			if again := decode[replacementJSON](t, b); again.RejectedAt == nil || !again.RejectedAt.Equal(*rejected.RejectedAt) || again.DecisionComment != why {
				t.Fatalf("the repeated rejection answered %+v, want %+v", again, rejected)
			}
		}}.run(t, env)
	scenario{token: w.tokens["leader"], method: "POST", path: base + first.ID + "/approval", body: `{"decision":"approve"}`, wantStatus: 409, wantCode: backend.ECONFLICT}.run(t, env)
	scenario{token: w.tokens["admin"], method: "POST", path: base + first.ID + "/approval", body: `{"decision":"reject","comment":"x"}`, wantStatus: 409, wantCode: backend.ECONFLICT}.run(t, env)
	scenario{token: w.tokens["staff"], method: "POST", path: base + first.ID + "/draw", wantStatus: 409, wantCode: backend.ECONFLICT, wantContain: []string{"rejected"}}.run(t, env)
	w.unchanged(t, env, 0, task, first, backend.ReplacementRejected)
	// The public sees when and why it was rejected, never by whom.
	scenario{method: "GET", path: "/public/v1/replacements/" + first.ID, wantStatus: 200,
		wantContain: []string{`"state":"rejected"`, `"rejected_at":"`, why},
		wantAbsent:  []string{env.users["leader"].ID, w.coordLeader.ID, `"rejected_by"`, `"task_id"`}}.run(t, env)

	// The rejected one no longer blocks: the office commits another, which
	// the coordinator-leader approves — and so may not draw (403, nothing
	// changes); someone else of the office does.
	second := w.commit(t, env, "staff", 0)
	var approved replacementJSON
	scenario{token: w.tokens["coordleader"], method: "POST", path: base + second.ID + "/approval", body: `{"decision":"approve","comment":"同意"}`,
		wantStatus: 200, wantContain: []string{`"approved_by":"` + w.coordLeader.ID + `"`},
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { approved = decode[replacementJSON](t, b) }}.run(t, env)
	if approved.ApprovedAt == nil || approved.State != backend.ReplacementCommitted {
		t.Fatalf("the approval answered %+v", approved)
	}
	scenario{method: "GET", path: "/public/v1/replacements/" + second.ID, wantStatus: 200,
		wantContain: []string{`"approved_at":"`}, wantAbsent: []string{w.coordLeader.ID, `"approved_by"`, "同意"}}.run(t, env)
	// The same approval again is answered as it is; another leader's
	// approval is 409.
	scenario{token: w.tokens["coordleader"], method: "POST", path: base + second.ID + "/approval", body: `{"decision":"approve"}`,
		wantStatus: 200, after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
			if again := decode[replacementJSON](t, b); again.ApprovedAt == nil || !again.ApprovedAt.Equal(*approved.ApprovedAt) {
				t.Fatalf("the repeated approval answered %+v, want %+v", again, approved)
			}
		}}.run(t, env)
	scenario{token: w.tokens["leader"], method: "POST", path: base + second.ID + "/approval", body: `{"decision":"approve"}`,
		wantStatus: 409, wantCode: backend.ECONFLICT, wantContain: []string{"approved already"}}.run(t, env)
	scenario{token: w.tokens["coordleader"], method: "POST", path: base + second.ID + "/draw", wantStatus: 403, wantCode: backend.EFORBIDDEN,
		wantContain: []string{"approved"}}.run(t, env)
	if after := w.task(t, env, 0); after.Version != task.Version {
		t.Fatalf("the approver's draw changed the task (version %d → %d)", task.Version, after.Version)
	}
	scenario{token: w.tokens["staff"], method: "POST", path: base + second.ID + "/draw", wantStatus: 200, wantContain: []string{`"in":"`}}.run(t, env)
	// Drawn: no decision any more; a repeat of the draw, by anyone of the
	// office, still answers the record.
	scenario{token: w.tokens["leader"], method: "POST", path: base + second.ID + "/approval", body: `{"decision":"reject","comment":"迟了"}`,
		wantStatus: 409, wantCode: backend.ECONFLICT}.run(t, env)
	scenario{token: w.tokens["coordleader"], method: "POST", path: base + second.ID + "/draw", wantStatus: 200, wantContain: []string{`"in":"`}}.run(t, env)
	scenario{token: w.tokens["staff"], method: "GET", path: "/api/v1/tasks/" + task.ID + "/replacements", wantStatus: 200,
		wantContain: []string{`"state":"rejected"`, `"state":"drawn"`, `"approved_by":"` + w.coordLeader.ID + `"`, `"committed_by":"`}}.run(t, env)
	// Who asked, approved and rejected is the office's and the leaders'
	// to know: the group's own inspectors read the public records.
	member := w.task(t, env, 0).Members[0]
	scenario{token: env.loginAs(t, w.inspectors[member.BadgeNo]), method: "GET", path: "/api/v1/tasks/" + task.ID + "/replacements",
		wantStatus: 403, wantCode: backend.EFORBIDDEN}.run(t, env)

	// Each decision is audited once, by its leader.
	for action, want := range map[string][]string{"task.replacement_reject": {env.users["leader"].ID}, "task.replacement_approve": {w.coordLeader.ID}} {
		events, err := env.db.AuditEvents().FindAuditEvents(t.Context(), backend.AuditFilter{Action: action, ObjectID: task.ID})
		if err != nil {
			t.Fatal(err)
		}
		var actors []string
		for _, e := range events {
			actors = append(actors, e.ActorID)
		}
		if !slices.Equal(actors, want) {
			t.Errorf("%s events by %v, want %v", action, actors, want)
		}
	}
}

// TestRacingReplacementDecisionsOneWins: two leaders decide the same
// replacement at once, one to approve, one to reject: exactly one
// decision is recorded (and audited), the other is refused with 409.
func TestRacingReplacementDecisionsOneWins(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newReplacementApprovalWorld(t, env)
	for round := range 3 {
		r := w.commit(t, env, "staff", round)
		path := "/api/v1/tasks/" + w.taskIDs[round] + "/replacements/" + r.ID + "/approval"
		// Racing approvals (a rejection after an approval withdraws it,
		// so approve-and-reject may both land, in that order).
		bodies := map[string]string{"leader": `{"decision":"approve"}`, "coordleader": `{"decision":"approve","comment":"同意"}`}
		statuses := map[string]int{}
		var mu sync.Mutex
		start := make(chan struct{})
		var wg sync.WaitGroup
		for who, body := range bodies {
			wg.Go(func() {
				<-start
				resp, _ := env.call(t, w.tokens[who], "POST", path, body, nil)
				mu.Lock()
				statuses[who] = resp.StatusCode
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		stored, err := env.db.Replacements().FindReplacement(t.Context(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case statuses["leader"] == 200 && statuses["coordleader"] == 409:
			if stored.State != backend.ReplacementCommitted || stored.ApprovedBy != env.users["leader"].ID || stored.RejectedAt != nil {
				t.Fatalf("round %d: the leader's approval won, but stored is %+v", round, stored)
			}
		case statuses["leader"] == 409 && statuses["coordleader"] == 200:
			if stored.State != backend.ReplacementCommitted || stored.ApprovedBy != w.coordLeader.ID || stored.RejectedAt != nil {
				t.Fatalf("round %d: the coordinator-leader's approval won, but stored is %+v", round, stored)
			}
		default:
			t.Fatalf("round %d: the racing decisions answered %v, want one 200 and one 409", round, statuses)
		}
		// The loser, told 409 (perhaps only that the other held the lease),
		// repeats its request as a client would: still 409, now because
		// the replacement is decided.
		loser := "leader"
		if statuses["leader"] == 200 {
			loser = "coordleader"
		}
		scenario{token: w.tokens[loser], method: "POST", path: path, body: bodies[loser], wantStatus: 409, wantCode: backend.ECONFLICT,
			after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
				if msg := decodeError(t, b).Message; !strings.Contains(msg, "approved already") {
					t.Fatalf("the loser's repeat: %s, want the decision recorded", msg)
				}
			}}.run(t, env)
		n := 0
		for _, action := range []string{"task.replacement_approve", "task.replacement_reject"} {
			events, err := env.db.AuditEvents().FindAuditEvents(t.Context(), backend.AuditFilter{Action: action, ObjectID: w.taskIDs[round]})
			if err != nil {
				t.Fatal(err)
			}
			n += len(events)
		}
		if n != 1 {
			t.Fatalf("round %d: %d decisions audited, want 1", round, n)
		}
	}
}

// TestACutShortDrawIsNotDecided: a draw that stored its record and was
// cut short before it marked the replacement drawn (a replacement from
// before approvals, never approved) is drawn — its repeat finishes it — so
// a leader can no longer reject it, which would leave a rejected
// replacement with a published record.
func TestACutShortDrawIsNotDecided(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newReplacementApprovalWorld(t, env)
	r := w.commit(t, env, "staff", 0)
	rec := &draw.Replacement{DrawID: r.DrawID, Seq: 1, ID: r.ID, Out: r.Out}
	if err := env.db.Replacements().InsertReplacementRecord(t.Context(), r.ID, rec); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/tasks/" + w.task(t, env, 0).ID + "/replacements/" + r.ID + "/approval"
	scenario{token: w.tokens["leader"], method: "POST", path: path, body: `{"decision":"reject","comment":"不予替换"}`,
		wantStatus: 409, wantCode: backend.ECONFLICT, wantContain: []string{"drawn already"}}.run(t, env)
	if stored, err := env.db.Replacements().FindReplacement(t.Context(), r.ID); err != nil || stored.State != backend.ReplacementCommitted || stored.RejectedAt != nil {
		t.Fatalf("the replacement was decided: %+v, %v", stored, err)
	}
}

// TestAnApprovalIsWithdrawnByARejection: until it is drawn, a leader may
// reject an approved replacement — one that can no longer be drawn
// (nobody eligible any more, an entropy never published) would otherwise
// block the task's replacements for good. It is then never drawn, and
// another may be committed.
func TestAnApprovalIsWithdrawnByARejection(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newReplacementApprovalWorld(t, env)
	task := w.task(t, env, 1)
	base := "/api/v1/tasks/" + task.ID + "/replacements/"
	r := w.commit(t, env, "staff", 1)
	scenario{token: w.tokens["leader"], method: "POST", path: base + r.ID + "/approval", body: `{"decision":"approve"}`, wantStatus: 200}.run(t, env)
	scenario{token: w.tokens["coordleader"], method: "POST", path: base + r.ID + "/approval", body: `{"decision":"reject","comment":"已无人可抽"}`,
		wantStatus: 200, wantContain: []string{`"state":"rejected"`, `"approved_by":"` + env.users["leader"].ID + `"`, `"rejected_by":"` + w.coordLeader.ID + `"`}}.run(t, env)
	scenario{token: w.tokens["staff"], method: "POST", path: base + r.ID + "/draw", wantStatus: 409, wantCode: backend.ECONFLICT,
		wantContain: []string{"rejected"}}.run(t, env)
	w.unchanged(t, env, 1, task, r, backend.ReplacementRejected)
	if next := w.commit(t, env, "staff", 1); next.ID == r.ID || next.State != backend.ReplacementCommitted {
		t.Fatalf("a new commitment after the withdrawal: %+v", next)
	}
}
