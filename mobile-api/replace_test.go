package mobileapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"

	"suiji/backend"
	"suiji/backend/draw"
)

// TestReplacementIsRandomRecordedAndVerified: a member of a dispatched
// group is replaced by a draw whose seed's commitment was published
// first, and which a leader approved; the record is public, re-computes (as `suiji verify-draw` does)
// and chains onto the draw's record; the group changes once however often
// the draw is repeated, and the members going out and coming in are told.
func TestReplacementIsRandomRecordedAndVerified(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 12, `{"count":3}`)
	task := w.dispatchFirst(t, env)
	out := task.Members[0]
	path := "/api/v1/tasks/" + task.ID + "/replacements"

	for _, sc := range []scenario{
		{name: "no reason", as: "staff", method: "POST", path: path, body: `{"badge_no":"` + out.BadgeNo + `"}`, wantStatus: 400, wantContain: []string{`"reason"`}},
		{name: "not a member", as: "staff", method: "POST", path: path, body: `{"badge_no":"NOBODY","reason":"回避"}`, wantStatus: 400, wantContain: []string{`"badge_no"`}},
		{name: "inspector", as: "inspector", method: "POST", path: path, body: `{"badge_no":"` + out.BadgeNo + `","reason":"回避"}`, wantStatus: 403},
	} {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, env) })
	}
	// The member going out syncs from here on.
	outToken := env.loginAs(t, w.inspectors[out.BadgeNo])
	var before syncJSON
	scenario{token: outToken, method: "GET", path: "/api/v1/me/tasks", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { before = decode[syncJSON](t, b) }}.run(t, env)
	var committed replacementJSON
	scenario{as: "staff", method: "POST", path: path, body: `{"badge_no":"` + out.BadgeNo + `","reason":"发现与企业负责人系亲属，申请回避"}`, wantStatus: 201,
		wantContain: []string{`"state":"committed"`}, wantAbsent: []string{`"seed":`, "sealed"},
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { committed = decode[replacementJSON](t, b) }}.run(t, env)
	if committed.Eligible < 1 || len(committed.SeedCommitment) != 64 || committed.Record != nil {
		t.Fatalf("commitment %+v", committed)
	}
	// The commitment is public before the draw; a second one waits for it.
	scenario{method: "GET", path: "/public/v1/replacements/" + committed.ID, wantStatus: 200,
		wantContain: []string{committed.SeedCommitment, `"state":"committed"`}, wantAbsent: []string{`"seed":`}}.run(t, env)
	scenario{as: "coordinator", method: "POST", path: path, body: `{"badge_no":"` + task.Members[1].BadgeNo + `","reason":"病假"}`, wantStatus: 409}.run(t, env)
	// It is drawn only once a leader approved it.
	drawPath := path + "/" + committed.ID + "/draw"
	scenario{as: "staff", method: "POST", path: drawPath, wantStatus: 409, wantCode: backend.ECONFLICT, wantContain: []string{"awaiting a leader's approval"}}.run(t, env)
	scenario{as: "leader", method: "POST", path: path + "/" + committed.ID + "/approval", body: `{"decision":"approve"}`, wantStatus: 200,
		wantContain: []string{`"approved_at":"`, `"approved_by":"` + env.users["leader"].ID + `"`, `"state":"committed"`}}.run(t, env)
	// No entropy source was named, so none may be given.
	scenario{as: "staff", method: "POST", path: drawPath, body: `{"public_entropy":"7 7 7"}`, wantStatus: 400}.run(t, env)

	var rec draw.Replacement
	scenario{as: "staff", method: "POST", path: drawPath, wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { rec = decode[draw.Replacement](t, b) }}.run(t, env)
	if rec.Out != out.BadgeNo || rec.In == "" || rec.In == out.BadgeNo || rec.Seq != 1 || rec.Seed.Commitment() != committed.SeedCommitment ||
		slices.Contains(rec.GroupAfter, out.BadgeNo) || !slices.Contains(rec.GroupAfter, rec.In) || rec.Eligible != committed.Eligible {
		t.Fatalf("record %+v", rec)
	}
	// Repeating the draw changes nothing.
	scenario{as: "coordinator", method: "POST", path: drawPath, wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
			if again := decode[draw.Replacement](t, b); again.In != rec.In || again.Seed != rec.Seed {
				t.Fatalf("a repeat drew again: %+v", again)
			}
		}}.run(t, env)

	// The public record re-computes, as `suiji verify-draw URL` does, and
	// chains onto the draw's record; a tampered one does not.
	scenario{method: "GET", path: "/public/v1/replacements/" + committed.ID, wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
			v, err := draw.VerifyStream(bytes.NewReader(b))
			if err != nil || v.Type != draw.RecordTypeReplacement {
				t.Fatalf("verify: %+v, %v", v, err)
			}
			var tampered map[string]any
			_ = json.Unmarshal(b, &tampered)
			tampered["in"] = out.BadgeNo
			raw, _ := json.Marshal(tampered)
			if _, err := draw.VerifyStream(bytes.NewReader(raw)); err == nil {
				t.Fatal("a record naming another member verified")
			}
		}}.run(t, env)
	var list struct {
		Replacements []*draw.Replacement `json:"replacements"`
	}
	scenario{method: "GET", path: "/public/v1/draws/" + w.draw.ID + "/replacements", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
			list = decode[struct {
				Replacements []*draw.Replacement `json:"replacements"`
			}](t, b)
		}}.run(t, env)
	stored, err := env.db.Draws().FindDrawByID(t.Context(), w.draw.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := draw.VerifyReplacements(stored.Record, list.Replacements); err != nil || len(list.Replacements) != 1 {
		t.Fatalf("the draw's replacements (%d) do not chain onto its record: %v", len(list.Replacements), err)
	}

	// The group changed once; who went out is kept with the reason.
	after, err := env.db.Tasks().FindTaskByID(t.Context(), task.ID)
	if err != nil {
		t.Fatal(err)
	}
	var gone, came *backend.TaskMember
	for i := range after.Members {
		m := &after.Members[i]
		switch {
		case m.BadgeNo == out.BadgeNo:
			gone = m
		case m.BadgeNo == rec.In:
			came = m
		}
	}
	if gone == nil || gone.Active() || gone.RemoveReason == "" || came == nil || !came.Active() || came.Lead != out.Lead ||
		len(after.ActiveMembers()) != len(task.Members) {
		t.Fatalf("members after the replacement: %+v", after.Members)
	}
	kinds := func(u string) []string {
		list, err := env.db.Notifications().FindNotifications(t.Context(), backend.InboxQuery{UserID: u})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range list {
			if n.TaskID == task.ID {
				out = append(out, n.Kind)
			}
		}
		return out
	}
	if k := kinds(out.UserID); !slices.Equal(k, []string{backend.NoteTaskAssigned, backend.NoteTaskRemoved}) {
		t.Fatalf("the member going out was told %v", k)
	}
	if k := kinds(came.UserID); !slices.Contains(k, backend.NoteTaskAssigned) {
		t.Fatalf("the member coming in was told %v", k)
	}
	if k := kinds(task.Members[1].UserID); !slices.Contains(k, backend.NoteTaskReplaced) {
		t.Fatalf("the rest of the group was told %v", k)
	}
	// The member who went out no longer sees the task; their next sync
	// brings it once as a tombstone.
	scenario{token: outToken, method: "GET", path: "/api/v1/tasks/" + task.ID, wantStatus: 404}.run(t, env)
	var delta syncJSON
	scenario{token: outToken, method: "GET", path: "/api/v1/me/tasks?since=" + before.Cursor, wantStatus: 200,
		wantContain: []string{`{"id":"` + task.ID + `","deleted":true}`},
		after:       func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { delta = decode[syncJSON](t, b) }}.run(t, env)
	scenario{token: outToken, method: "GET", path: "/api/v1/me/tasks?since=" + delta.Cursor, wantStatus: 200,
		wantContain: []string{`"tasks":[]`}}.run(t, env)
	env.checkFeedsNameStoredVersions(t)
}

// Replacements of one member committed at once (a double click, two
// clerks) record one commitment: a second would wait for a member the
// first takes out, and block every replacement of the task after it.
func TestRacingReplacementCommitsRecordOne(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 12, `{"count":3}`)
	task := w.dispatchFirst(t, env)
	token := env.login(t, "staff").AccessToken
	body := `{"badge_no":"` + task.Members[0].BadgeNo + `","reason":"回避"}`
	const racers = 4
	statuses := make(chan int, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range racers {
		wg.Go(func() {
			<-start
			resp, _ := env.call(t, token, "POST", "/api/v1/tasks/"+task.ID+"/replacements", body, nil)
			statuses <- resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	close(statuses)
	created := 0
	for s := range statuses {
		switch s {
		case 201:
			created++
		case 409:
		default:
			t.Fatalf("a racing commit answered %d", s)
		}
	}
	stored, err := env.db.Replacements().FindReplacementsByTask(t.Context(), task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if created != 1 || len(stored) != 1 {
		t.Fatalf("%d commits answered 201 and %d are stored, want 1 and 1", created, len(stored))
	}
}
