package mobileapi

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/draw"
	"suiji/backend/tasks"
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
	// Whoever committed it heard of both decisions; the approval, which
	// asked for a draw, is read.
	told := about(inbox(t, env, w.tokens["staff"]), backend.NoteReplacementDecided, r.ID)
	decisions := map[string]bool{} // decision → read
	for _, n := range told {
		decisions[n.Data["decision"]] = n.ReadAt != nil
	}
	if want := map[string]bool{tasks.DecisionApprove: true, tasks.DecisionReject: false}; len(told) != 2 || !maps.Equal(decisions, want) {
		t.Fatalf("the committer was told %+v, want an approval read and a rejection unread", told)
	}
	if next := w.commit(t, env, "staff", 1); next.ID == r.ID || next.State != backend.ReplacementCommitted {
		t.Fatalf("a new commitment after the withdrawal: %+v", next)
	}
}

// inbox is the inbox of the user signed in with token, as the API lists it.
func inbox(t *testing.T, env *apiEnv, token string) []notificationJSON {
	t.Helper()
	var in inboxJSON
	scenario{token: token, method: "GET", path: "/api/v1/me/notifications?limit=200", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { in = decode[inboxJSON](t, b) }}.run(t, env)
	return in.Notifications
}

// about are the entries of kind among list about the replacement id (any
// replacement when id is "").
func about(list []notificationJSON, kind, id string) []notificationJSON {
	var out []notificationJSON
	for _, n := range list {
		if n.Kind == kind && (id == "" || n.Data["replacement_id"] == id) {
			out = append(out, n)
		}
	}
	return out
}

// pendingRead fails unless each of the leaders (tokens by name) holds one
// replacement.pending entry of the replacement id, read exactly when read.
func (w *replacementApprovalWorld) pendingRead(t *testing.T, env *apiEnv, leaders []string, id string, read bool) {
	t.Helper()
	for _, who := range leaders {
		if notes := about(inbox(t, env, w.tokens[who]), backend.NoteReplacementPending, id); len(notes) != 1 || (notes[0].ReadAt != nil) != read {
			t.Fatalf("%s's replacement.pending entries of %s: %+v, want one, read %v", who, id, notes, read)
		}
	}
}

// TestReplacementDecisionIsToldToItsCommitter: whoever committed a
// replacement hears of a leader's decision — an approval asking for the
// draw, a rejection with its reason — once, however often the leader
// repeats it; and once one leader decides, no leader's entry asking for
// the decision stays unread.
func TestReplacementDecisionIsToldToItsCommitter(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newReplacementApprovalWorld(t, env)
	// A third leader: besides the one who decides, more than one other.
	leader2 := &backend.User{
		Username: "leader2", DisplayName: "另一领导", Roles: []backend.Role{backend.RoleLeader},
		PasswordHash: env.users["inspector"].PasswordHash, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC(),
	}
	if err := env.db.Users().CreateUser(t.Context(), leader2); err != nil {
		t.Fatal(err)
	}
	w.tokens["leader2"] = env.loginAs(t, leader2)
	leaders := []string{"leader", "coordleader", "leader2"}
	task := w.task(t, env, 0)
	base := "/api/v1/tasks/" + task.ID + "/replacements/"

	const why = "该成员与企业无利害关系，不予替换"
	// One replacement after the other of the same task's member, by the
	// office: the first approved (and drawn), the next rejected.
	for _, round := range []struct {
		name, decider, body, decision, title string
		wantBody                             []string
		draw                                 bool
	}{
		{name: "approved", decider: "coordleader", body: `{"decision":"approve","comment":"同意"}`, decision: tasks.DecisionApprove,
			title: "检查组成员替换已批准", wantBody: []string{"同意", "请抽取替换人员"}, draw: true},
		{name: "rejected", decider: "leader", body: `{"decision":"reject","comment":"` + why + `"}`, decision: tasks.DecisionReject,
			title: "检查组成员替换已驳回", wantBody: []string{why}},
	} {
		t.Run(round.name, func(t *testing.T) {
			r := w.commit(t, env, "staff", 0)
			w.pendingRead(t, env, leaders, r.ID, false)
			// The decision, then the same again (answered as recorded).
			for range 2 {
				scenario{token: w.tokens[round.decider], method: "POST", path: base + r.ID + "/approval", body: round.body, wantStatus: 200}.run(t, env)
				told := about(inbox(t, env, w.tokens["staff"]), backend.NoteReplacementDecided, r.ID)
				if len(told) != 1 || told[0].Data["decision"] != round.decision || told[0].TaskID != task.ID || told[0].Title != round.title ||
					told[0].ReadAt != nil || told[0].Silent {
					t.Fatalf("the committer was told %+v, want one unread %s entry", told, round.decision)
				}
				for _, want := range append([]string{task.Enterprise.Name, r.Out}, round.wantBody...) {
					if !strings.Contains(told[0].Body, want) {
						t.Fatalf("the committer's entry says %q, without %q", told[0].Body, want)
					}
				}
				// The decider's entry and the other leaders' are read.
				w.pendingRead(t, env, leaders, r.ID, true)
			}
			if round.draw {
				scenario{token: w.tokens["staff"], method: "POST", path: base + r.ID + "/draw", wantStatus: 200}.run(t, env)
				// Drawn: the entry asking for the draw is answered.
				if told := about(inbox(t, env, w.tokens["staff"]), backend.NoteReplacementDecided, r.ID); len(told) != 1 || told[0].ReadAt == nil {
					t.Fatalf("after the draw the committer holds %+v, want the approval's entry read", told)
				}
			}
		})
	}
	// The committer heard of each decision once; the leaders of none.
	if told := about(inbox(t, env, w.tokens["staff"]), backend.NoteReplacementDecided, ""); len(told) != 2 {
		t.Fatalf("the committer holds %d replacement.decided entries, want 2: %+v", len(told), told)
	}
	for _, who := range leaders {
		if told := about(inbox(t, env, w.tokens[who]), backend.NoteReplacementDecided, ""); len(told) != 0 {
			t.Fatalf("%s was told of a decision: %+v", who, told)
		}
	}
}

// TestReplacementDecisionCutShortIsToldByItsRepeat: a decision stored
// whose request died before it told anyone (as after a crash) is told by
// the deciding leader's repeat, which answers it as recorded.
func TestReplacementDecisionCutShortIsToldByItsRepeat(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newReplacementApprovalWorld(t, env)
	leaders := []string{"leader", "coordleader"}
	for i, sc := range []struct{ decision, body string }{
		{tasks.DecisionApprove, `{"decision":"approve"}`},
		{tasks.DecisionReject, `{"decision":"reject","comment":"不予替换"}`},
	} {
		t.Run(sc.decision, func(t *testing.T) {
			r := w.commit(t, env, "staff", i)
			// The decision as DecideReplacement stores it, and no more.
			d := backend.ReplacementDecision{Approve: sc.decision == tasks.DecisionApprove, By: env.users["leader"].ID,
				At: time.Now().UTC().Truncate(time.Second)}
			if !d.Approve {
				d.Comment = "不予替换"
			}
			if err := env.db.Replacements().DecideReplacement(t.Context(), r.ID, d); err != nil {
				t.Fatal(err)
			}
			if told := about(inbox(t, env, w.tokens["staff"]), backend.NoteReplacementDecided, r.ID); len(told) != 0 {
				t.Fatalf("told before the repeat: %+v", told)
			}
			w.pendingRead(t, env, leaders, r.ID, false)
			scenario{token: w.tokens["leader"], method: "POST", path: "/api/v1/tasks/" + w.taskIDs[i] + "/replacements/" + r.ID + "/approval",
				body: sc.body, wantStatus: 200}.run(t, env)
			if told := about(inbox(t, env, w.tokens["staff"]), backend.NoteReplacementDecided, r.ID); len(told) != 1 || told[0].Data["decision"] != sc.decision {
				t.Fatalf("the repeat told the committer %+v, want one %s entry", told, sc.decision)
			}
			w.pendingRead(t, env, leaders, r.ID, true)
		})
	}
}

// TestPublicReplacementRecordsArePaged: a draw's records come a page at a
// time (each carries its roster), by number, with the next page's cursor
// while a page is full; together they chain onto the draw's record. A
// page size or cursor out of range is refused, naming it.
func TestPublicReplacementRecordsArePaged(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newReplacementApprovalWorld(t, env)
	for round := range 3 {
		r := w.commit(t, env, "staff", round)
		base := "/api/v1/tasks/" + w.taskIDs[round] + "/replacements/" + r.ID
		scenario{token: w.tokens["leader"], method: "POST", path: base + "/approval", body: `{"decision":"approve"}`, wantStatus: 200}.run(t, env)
		scenario{token: w.tokens["staff"], method: "POST", path: base + "/draw", wantStatus: 200}.run(t, env)
	}
	type page struct {
		Replacements []*draw.Replacement `json:"replacements"`
		Next         int                 `json:"next_after_seq"`
	}
	list := "/public/v1/draws/" + w.draw.ID + "/replacements"
	var all []*draw.Replacement
	for _, want := range []struct {
		query string
		seqs  []int
		next  int
	}{
		{"?limit=2", []int{1, 2}, 2},
		{"?limit=2&after_seq=2", []int{3}, 0},
		{"?after_seq=3", nil, 0},
	} {
		scenario{method: "GET", path: list + want.query, wantStatus: 200, after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
			p := decode[page](t, b)
			var seqs []int
			for _, r := range p.Replacements {
				seqs = append(seqs, r.Seq)
			}
			if !slices.Equal(seqs, want.seqs) || p.Next != want.next {
				t.Fatalf("%s: records %v, next %d; want %v, next %d", want.query, seqs, p.Next, want.seqs, want.next)
			}
			all = append(all, p.Replacements...)
		}}.run(t, env)
	}
	stored, err := env.db.Draws().FindDrawByID(t.Context(), w.draw.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := draw.VerifyReplacements(stored.Record, all); err != nil {
		t.Fatalf("the pages' records do not chain onto the draw's: %v", err)
	}
	for query, field := range map[string]string{"?limit=51": "limit", "?limit=0": "limit", "?after_seq=-1": "after_seq", "?after_seq=x": "after_seq"} {
		scenario{method: "GET", path: list + query, wantStatus: 400, wantCode: backend.EINVALID, wantContain: []string{`"` + field + `"`}}.run(t, env)
	}
}

// TestAnExLeadersRequestsAreRead: a leader who loses the role (or the
// account) no longer has a replacement waiting for their decision counted
// unread; the other leaders' requests stay unread, and nothing else of
// the ex-leader's inbox changes.
func TestAnExLeadersRequestsAreRead(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newReplacementApprovalWorld(t, env)
	r := w.commit(t, env, "staff", 0)
	w.pendingRead(t, env, []string{"leader", "coordleader"}, r.ID, false)
	other := &backend.Notification{ID: "unrelated", UserID: w.coordLeader.ID, Kind: backend.NoteTaskReminder, Title: "期限提醒", Body: "反馈期限将至"}
	if err := env.svc.Notify.Notify(t.Context(), []*backend.Notification{other}); err != nil {
		t.Fatal(err)
	}
	scenario{token: w.tokens["admin"], method: "PATCH", path: "/api/v1/users/" + w.coordLeader.ID, body: `{"roles":["coordinator"]}`, wantStatus: 200}.run(t, env)
	w.pendingRead(t, env, []string{"coordleader"}, r.ID, true)
	w.pendingRead(t, env, []string{"leader"}, r.ID, false)
	for _, n := range inbox(t, env, w.tokens["coordleader"]) {
		if n.ID == other.ID && n.ReadAt != nil {
			t.Fatal("the ex-leader's other entries were marked read too")
		}
	}
}

// TestAnUntoldDecisionIsToldByTheScheduler: a leader's decision stored
// while the inbox could not be written is answered as a failure, and
// stands; the leader does not repeat it (the console offers no repeat
// once it shows the decision); the scheduler's next pass tells whoever
// committed it, once, and nothing is owed after.
func TestAnUntoldDecisionIsToldByTheScheduler(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newReplacementApprovalWorld(t, env)
	r := w.commit(t, env, "staff", 0)
	notifier := env.svc.Tasks.Notifier
	env.svc.Tasks.Notifier = failingNotifier{}
	t.Cleanup(func() { env.svc.Tasks.Notifier = notifier })
	scenario{token: w.tokens["leader"], method: "POST", path: "/api/v1/tasks/" + w.taskIDs[0] + "/replacements/" + r.ID + "/approval",
		body: `{"decision":"approve","comment":"同意"}`, wantStatus: 503}.run(t, env)
	stored, err := env.db.Replacements().FindReplacement(t.Context(), r.ID)
	if err != nil || !stored.Approved() || !stored.Untold {
		t.Fatalf("the decision as stored: %+v, %v; want approved and owed to be told", stored, err)
	}
	if told := about(inbox(t, env, w.tokens["staff"]), backend.NoteReplacementDecided, r.ID); len(told) != 0 {
		t.Fatalf("told %+v while the inbox could not be written", told)
	}
	env.svc.Tasks.Notifier = notifier
	for pass := range 2 {
		n, err := env.svc.Tasks.TellUntoldDecisions(t.Context())
		if err != nil || n != 1-pass {
			t.Fatalf("pass %d told %d (%v), want %d", pass+1, n, err, 1-pass)
		}
	}
	if told := about(inbox(t, env, w.tokens["staff"]), backend.NoteReplacementDecided, r.ID); len(told) != 1 || told[0].Data["decision"] != tasks.DecisionApprove {
		t.Fatalf("the committer's entries of the decision: %+v, want the approval once", told)
	}
	w.pendingRead(t, env, []string{"leader", "coordleader"}, r.ID, true)
	if stored, err := env.db.Replacements().FindReplacement(t.Context(), r.ID); err != nil || stored.Untold {
		t.Fatalf("still owed after the pass: %+v, %v", stored, err)
	}
}

// TestAnUntoldApprovalOfADrawnReplacementIsToldNoMore: an approval whose
// telling failed, then drawn before the scheduler's pass: the pass asks
// nobody to draw it (it had told the committer 请抽取替换人员 of a
// replacement drawn already).
func TestAnUntoldApprovalOfADrawnReplacementIsToldNoMore(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newReplacementApprovalWorld(t, env)
	r := w.commit(t, env, "staff", 0)
	base := "/api/v1/tasks/" + w.taskIDs[0] + "/replacements/" + r.ID
	notifier := env.svc.Tasks.Notifier
	env.svc.Tasks.Notifier = failingNotifier{}
	scenario{token: w.tokens["leader"], method: "POST", path: base + "/approval", body: `{"decision":"approve"}`, wantStatus: 503}.run(t, env)
	env.svc.Tasks.Notifier = notifier
	scenario{token: w.tokens["staff"], method: "POST", path: base + "/draw", wantStatus: 200, wantContain: []string{`"in":"`}}.run(t, env)
	if n, err := env.svc.Tasks.TellUntoldDecisions(t.Context()); err != nil || n != 0 {
		t.Fatalf("the pass told %d (%v); want nothing owed once drawn", n, err)
	}
	if told := about(inbox(t, env, w.tokens["staff"]), backend.NoteReplacementDecided, r.ID); len(told) != 0 {
		t.Fatalf("the committer was asked to draw a drawn replacement: %+v", told)
	}
}
