package mobileapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/workday"
)

// at is an instant in Beijing time.
func at(date string, hour int) time.Time {
	d, err := time.ParseInLocation(time.DateOnly, date, workday.Zone)
	if err != nil {
		panic(err)
	}
	return d.Add(time.Duration(hour) * time.Hour)
}

// kindsFor lists the kinds of user's entries about task.
func kindsFor(t *testing.T, env *apiEnv, userID, taskID string) []string {
	t.Helper()
	list, err := env.db.Notifications().FindNotifications(t.Context(), backend.InboxQuery{UserID: userID})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range list {
		if n.TaskID == taskID {
			out = append(out, n.Kind+":"+n.Body)
		}
	}
	return out
}

func countPrefix(list []string, prefix string) int {
	n := 0
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// TestDeadlineSchedulerAcrossNationalDay: a task whose window ends on
// Friday 9 October 2026 is reminded 2 working days ahead — on 30 September,
// because 1–7 October are the National Day holiday — once, however often
// the scheduler runs; it is on time all of 9 October and overdue from 10
// October, when it is listed as overdue and the group is told.
func TestDeadlineSchedulerAcrossNationalDay(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 4, `{"count":1}`)
	body := fmt.Sprintf(`{"source":"assigned","reason":"上级交办","enterprise_id":%q,"item_ids":[%q],"badge_nos":[%q,%q],"window":{"start":"2026-09-01","end":"2026-10-09"}}`,
		w.Enterprises[0].ID, w.Items[0], w.Inspectors[0].BadgeNo, w.Inspectors[1].BadgeNo)
	var task taskJSON
	scenario{as: "staff", method: "POST", path: "/api/v1/tasks", body: body, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { task = decode[taskJSON](t, b) }}.run(t, env)
	member := task.Members[0].UserID
	run := func(now time.Time) *struct{ reminded, overdue int } {
		t.Helper()
		rep, err := env.svc.Tasks.RunDeadlines(t.Context(), now)
		if err != nil {
			t.Fatal(err)
		}
		return &struct{ reminded, overdue int }{rep.Reminded, rep.Overdue}
	}

	if r := run(at("2026-09-29", 17)); r.reminded+r.overdue != 0 {
		t.Fatalf("29 September: %+v, want nothing yet (the reminder is due 2 working days ahead)", r)
	}
	if r := run(at("2026-09-30", 9)); r.reminded != 1 || r.overdue != 0 {
		t.Fatalf("30 September: %+v, want the window reminder", r)
	}
	run(at("2026-09-30", 10))
	run(at("2026-10-09", 23))
	kinds := kindsFor(t, env, member, task.ID)
	if countPrefix(kinds, backend.NoteTaskReminder) != 1 || countPrefix(kinds, backend.NoteTaskOverdue) != 0 {
		t.Fatalf("after the due day: %v, want one reminder and no overdue alert", kinds)
	}
	scenario{as: "staff", method: "GET", path: "/api/v1/tasks/overdue", wantStatus: 200, wantContain: []string{`"total":0`}}.run(t, env)

	if r := run(at("2026-10-10", 8)); r.overdue != 1 {
		t.Fatalf("10 October: %+v, want the window overdue", r)
	}
	run(at("2026-10-12", 8))
	kinds = kindsFor(t, env, member, task.ID)
	if countPrefix(kinds, backend.NoteTaskOverdue) != 1 {
		t.Fatalf("overdue alerts %v, want exactly one", kinds)
	}
	scenario{as: "staff", method: "GET", path: "/api/v1/tasks/overdue", wantStatus: 200,
		wantContain: []string{`"total":1`, task.ID, `"overdue":["window"]`}}.run(t, env)
	scenario{as: "inspector", method: "GET", path: "/api/v1/tasks/overdue", wantStatus: 403}.run(t, env)
	env.checkFeedsNameStoredVersions(t)
}

// TestStatutoryDeadlinesAcrossSpringFestivalAndOverrides: feedback (7
// working days) and publication (20) after an inspection that ended on
// Friday 13 February 2026 fall on 2 and 19 March — the Spring Festival
// days off do not count, the make-up Saturdays 14 and 28 February do. The
// feedback reminder reaches the group and the lead department's staff on
// 27 February. In 2028, which the statutory schedule does not cover yet,
// the bureau's overrides decide.
func TestStatutoryDeadlinesAcrossSpringFestivalAndOverrides(t *testing.T) {
	env := newAPIEnv(t, Config{})
	task := inspectedOn(t, env, at("2026-02-13", 16))
	if task.Deadlines.Feedback != "2026-03-02" || task.Deadlines.Publication != "2026-03-19" {
		t.Fatalf("deadlines %+v, want feedback 2026-03-02 and publication 2026-03-19", task.Deadlines)
	}
	scenario{as: "staff", method: "GET", path: "/api/v1/tasks/" + task.ID, wantStatus: 200,
		wantContain: []string{`"feedback":"2026-03-02"`, `"publication":"2026-03-19"`}}.run(t, env)

	if rep, err := env.svc.Tasks.RunDeadlines(t.Context(), at("2026-02-26", 12)); err != nil || rep.Reminded != 0 {
		t.Fatalf("26 February: %+v, %v", rep, err)
	}
	if rep, err := env.svc.Tasks.RunDeadlines(t.Context(), at("2026-02-27", 12)); err != nil || rep.Reminded != 1 {
		t.Fatalf("27 February: %+v, %v; want the feedback reminder", rep, err)
	}
	for _, u := range []string{task.Members[0].UserID, env.users["staff"].ID} {
		if kinds := kindsFor(t, env, u, task.ID); !slices.ContainsFunc(kinds, func(k string) bool {
			return strings.HasPrefix(k, backend.NoteTaskReminder+":") && strings.Contains(k, "结果反馈") && strings.Contains(k, "2026-03-02")
		}) {
			t.Fatalf("user %s was not reminded of feedback: %v", u, kinds)
		}
	}

	// 2028: only the bureau's overrides say which days are off.
	for _, sc := range []scenario{
		{name: "bad override", as: "coordinator", method: "POST", path: "/api/v1/calendar", body: `{"date":"2028-02-30","kind":"party","name":""}`,
			wantStatus: 400, wantContain: []string{`"date"`, `"kind"`, `"name"`}},
		{name: "staff may not", as: "staff", method: "POST", path: "/api/v1/calendar", body: `{"date":"2028-02-04","kind":"holiday","name":"春节"}`, wantStatus: 403},
		{name: "holiday", as: "coordinator", method: "POST", path: "/api/v1/calendar", body: `{"date":"2028-02-04","kind":"holiday","name":"春节"}`, wantStatus: 201},
		{name: "not yet covered", as: "inspector", method: "GET", path: "/api/v1/calendar?year=2029", wantStatus: 200, wantContain: []string{`"covered":false`}},
		{name: "listed", as: "inspector", method: "GET", path: "/api/v1/calendar?year=2028", wantStatus: 200,
			wantContain: []string{`"covered":true`, `"date":"2028-02-04","kind":"holiday","name":"春节","source":"override"`}},
	} {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, env) })
	}
	end := at("2028-01-28", 12) // a Friday
	if err := env.svc.Tasks.EndInspection(t.Context(), task, end); err != nil || task.Deadlines.Feedback != "2028-02-09" {
		t.Fatalf("with 4 February off: feedback %s (%v), want 2028-02-09", task.Deadlines.Feedback, err)
	}
	scenario{as: "coordinator", method: "POST", path: "/api/v1/calendar", body: `{"date":"2028-02-05","kind":"workday","name":"春节调休上班"}`, wantStatus: 201}.run(t, env)
	if err := env.svc.Tasks.EndInspection(t.Context(), task, end); err != nil || task.Deadlines.Feedback != "2028-02-08" {
		t.Fatalf("with Saturday 5 February worked: feedback %s (%v), want 2028-02-08", task.Deadlines.Feedback, err)
	}
}

// failingNotifier refuses every entry, as an inbox that cannot be
// written does.
type failingNotifier struct{}

func (failingNotifier) Notify(context.Context, []*backend.Notification) error {
	return backend.Errorf(backend.EUNAVAILABLE, "inbox down (test)")
}

// A reminder whose notices could not be written after its task was
// marked is sent by the next pass, once, and the group's phones hear of
// the version that recorded it.
func TestDeadlineNoticesOutliveAFailedPass(t *testing.T) {
	env := newAPIEnv(t, Config{})
	task := inspectedOn(t, env, at("2026-02-13", 16))
	member := task.Members[0].UserID
	var err error
	reminders := func() int {
		return countPrefix(kindsFor(t, env, member, task.ID), backend.NoteTaskReminder+":")
	}

	notifier := env.svc.Tasks.Notifier
	env.svc.Tasks.Notifier = failingNotifier{}
	_, err = env.svc.Tasks.RunDeadlines(t.Context(), at("2026-02-27", 12))
	env.svc.Tasks.Notifier = notifier
	if backend.ErrorCode(err) != backend.EUNAVAILABLE {
		t.Fatalf("the pass whose inbox failed: %v", err)
	}
	marked, err := env.db.Tasks().FindTaskByID(t.Context(), task.ID)
	if err != nil || !slices.Contains(marked.Reminded, backend.DeadlineFeedback) || len(marked.NoticesPending) != 1 || reminders() != 0 {
		t.Fatalf("after the failed pass: reminded %v, pending %v, %d reminders sent (%v)", marked.Reminded, marked.NoticesPending, reminders(), err)
	}

	for range 2 { // the next pass sends it; the one after, nothing
		if _, err := env.svc.Tasks.RunDeadlines(t.Context(), at("2026-02-27", 13)); err != nil {
			t.Fatal(err)
		}
		if n := reminders(); n != 1 {
			t.Fatalf("%d feedback reminders reached the group, want 1", n)
		}
	}
	sent, err := env.db.Tasks().FindTaskByID(t.Context(), task.ID)
	if err != nil || len(sent.NoticesPending) != 0 {
		t.Fatalf("after the notices went out: pending %v (%v)", sent.NoticesPending, err)
	}
	// The member's feed names the version that cleared them.
	feed, err := env.db.TaskFeeds().TaskFeed(t.Context(), member, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(feed.Entries, func(e backend.TaskFeedEntry) bool { return e.TaskID == task.ID && e.Version == int64(sent.Version) }) {
		t.Fatalf("the member's feed does not name version %d of the task: %+v", sent.Version, feed.Entries)
	}
}

// inspectedOn records a targeted task whose inspection ended at end and
// which is completed: its feedback and publication deadlines run.
func inspectedOn(t *testing.T, env *apiEnv, end time.Time) *backend.Task {
	t.Helper()
	w := newDispatchWorld(t, env, 4, `{"count":1}`)
	body := fmt.Sprintf(`{"source":"referral","reason":"部门移送","enterprise_id":%q,"item_ids":[%q],"badge_nos":[%q,%q],"window":{"start":"2026-02-01","end":"2026-12-31"}}`,
		w.Enterprises[1].ID, w.Items[0], w.Inspectors[2].BadgeNo, w.Inspectors[3].BadgeNo)
	var created taskJSON
	scenario{as: "staff", method: "POST", path: "/api/v1/tasks", body: body, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { created = decode[taskJSON](t, b) }}.run(t, env)
	task, err := env.db.Tasks().FindTaskByID(t.Context(), created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.svc.Tasks.EndInspection(t.Context(), task, end); err != nil {
		t.Fatal(err)
	}
	task.State = backend.TaskCompleted
	if err := env.db.Tasks().UpdateTask(t.Context(), task); err != nil {
		t.Fatal(err)
	}
	return task
}

// TestFeedbackDeadlineRunsAfterPublication: a result published before
// its feedback to the enterprise was recorded still has art. 21's
// deadline running — the scheduler marks it missed and tells the group
// and the office — while a published task with its feedback recorded has
// none left.
func TestFeedbackDeadlineRunsAfterPublication(t *testing.T) {
	env := newAPIEnv(t, Config{})
	task := inspectedOn(t, env, at("2026-02-13", 16))
	published, delivered := at("2026-02-20", 10), at("2026-02-16", 10)
	task.State, task.PublishedAt, task.FeedbackAt = backend.TaskPublished, &published, &delivered
	if err := env.db.Tasks().UpdateTask(t.Context(), task); err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.Tasks.RunDeadlines(t.Context(), at("2026-04-01", 12)); err != nil {
		t.Fatal(err)
	}
	stored, err := env.db.Tasks().FindTaskByID(t.Context(), task.ID)
	if err != nil || len(stored.Overdue)+len(stored.Reminded) != 0 {
		t.Fatalf("a published task with its feedback recorded was marked: overdue %v, reminded %v (%v)", stored.Overdue, stored.Reminded, err)
	}

	// Missed its window before it was published: nothing left to act on
	// while its feedback is not yet overdue.
	stored.FeedbackAt, stored.Overdue = nil, []string{backend.DeadlineWindow}
	if err := env.db.Tasks().UpdateTask(t.Context(), stored); err != nil {
		t.Fatal(err)
	}
	scenario{as: "staff", method: "GET", path: "/api/v1/tasks/overdue", wantStatus: 200, wantAbsent: []string{task.ID}}.run(t, env)
	if _, err := env.svc.Tasks.RunDeadlines(t.Context(), at("2026-04-01", 13)); err != nil {
		t.Fatal(err)
	}
	stored, err = env.db.Tasks().FindTaskByID(t.Context(), task.ID)
	if err != nil || !slices.Equal(stored.Overdue, []string{backend.DeadlineWindow, backend.DeadlineFeedback}) || stored.State != backend.TaskPublished {
		t.Fatalf("published without feedback: overdue %v, state %s (%v), want the feedback deadline missed", stored.Overdue, stored.State, err)
	}
	for _, user := range []string{task.Members[0].UserID, env.users["staff"].ID} {
		if n := countPrefix(kindsFor(t, env, user, task.ID), backend.NoteTaskOverdue+":"); n != 1 {
			t.Fatalf("%d overdue notices reached %s, want 1", n, user)
		}
	}
	scenario{as: "staff", method: "GET", path: "/api/v1/tasks/overdue", wantStatus: 200, wantContain: []string{task.ID}}.run(t, env)

	// No enterprise was found at the address: no one to feed back to, so no
	// feedback deadline runs (its publication did).
	stored.SubmittedResult, stored.Overdue, stored.Reminded = backend.ResultEnterpriseNotFound, nil, nil
	if err := env.db.Tasks().UpdateTask(t.Context(), stored); err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.Tasks.RunDeadlines(t.Context(), at("2026-04-01", 14)); err != nil {
		t.Fatal(err)
	}
	if stored, err = env.db.Tasks().FindTaskByID(t.Context(), task.ID); err != nil || len(stored.Overdue)+len(stored.Reminded) != 0 {
		t.Fatalf("an enterprise-not-found result was marked: overdue %v (%v)", stored.Overdue, err)
	}
}

// TestDeadlinesMoveWithHolidaysEnteredLater: an inspection that ended on
// Friday 28 January 2028, before the bureau entered 2028's schedule (the
// library does not know it), has its deadlines counted over weekends
// only: feedback Tuesday 8 February (7 working days: 31 Jan, 1–4, 7–8
// Feb), publication Friday 25 February (20). A pass on 10 February marks
// the feedback overdue. Entering a holiday of 1–7 February (five working
// days) moves them to Tuesday 15 February and — 2028 being a leap year —
// Friday 3 March, and drops the overdue mark the move made wrong.
func TestDeadlinesMoveWithHolidaysEnteredLater(t *testing.T) {
	env := newAPIEnv(t, Config{})
	task := inspectedOn(t, env, at("2028-01-28", 16))
	if task.Deadlines.Feedback != "2028-02-08" || task.Deadlines.Publication != "2028-02-25" {
		t.Fatalf("deadlines on weekends alone: %+v", task.Deadlines)
	}
	if _, err := env.svc.Tasks.RunDeadlines(t.Context(), at("2028-02-10", 9)); err != nil {
		t.Fatal(err)
	}
	if marked, err := env.db.Tasks().FindTaskByID(t.Context(), task.ID); err != nil || !slices.Contains(marked.Overdue, backend.DeadlineFeedback) {
		t.Fatalf("the feedback is not marked overdue on 10 February: %+v (%v)", marked.Overdue, err)
	}
	for day := 1; day <= 7; day++ {
		scenario{as: "coordinator", method: "POST", path: "/api/v1/calendar", body: fmt.Sprintf(`{"date":"2028-02-%02d","kind":"holiday","name":"春节"}`, day),
			wantStatus: 201}.run(t, env)
	}
	moved, err := env.db.Tasks().FindTaskByID(t.Context(), task.ID)
	if err != nil || moved.Deadlines.Feedback != "2028-02-15" || moved.Deadlines.Publication != "2028-03-03" {
		t.Fatalf("deadlines after the holiday was entered: %+v (%v), want feedback 2028-02-15, publication 2028-03-03", moved.Deadlines, err)
	}
	if slices.Contains(moved.Overdue, backend.DeadlineFeedback) {
		t.Fatalf("the feedback is still marked overdue though its deadline moved to 15 February: %v", moved.Overdue)
	}
	// The change is in the task's audit trail, as the coordinator's.
	scenario{as: "coordinator", method: "GET", path: "/api/v1/audit?object_type=task&object_id=" + task.ID, wantStatus: 200,
		wantContain: []string{`"action":"task.deadlines","object_type":"task","object_id":"` + task.ID, `"actor_name":"coordinator1"`}}.run(t, env)
}
