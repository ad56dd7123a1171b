package mobileapi

import (
	"fmt"
	"testing"
	"time"

	"suiji/backend"
)

// TestAReturnSentAgainTellsTheGroup: a review returning the result is
// stored, but the telling after it fails (503, so the console sends it
// again with the version it read). The repeat is answered with the task
// and the group is told, once; before, the repeat was refused as stale
// (409) and the group never heard its result came back.
func TestAReturnSentAgainTellsTheGroup(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newResultWorld(t, env)
	task := w.complete(t, env, 0, time.Date(2026, 9, 28, 9, 0, 0, 0, backend.ChinaTime))
	path := "/api/v1/tasks/" + task.ID + "/review"
	body := fmt.Sprintf(`{"decision":"return","comment":"现场照片不清晰，请补充","version":%d}`, task.Version)
	told := func() int {
		n := 0
		for _, m := range task.Members {
			notes, err := env.db.Notifications().FindNotifications(t.Context(), backend.InboxQuery{UserID: m.UserID})
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range notes {
				if x.Kind == backend.NoteTaskReturned && x.TaskID == task.ID {
					n++
				}
			}
		}
		return n
	}

	notifier := env.svc.Results.Notifier
	env.svc.Results.Notifier = failingNotifier{}
	scenario{as: "staff", method: "POST", path: path, body: body, wantStatus: 503}.run(t, env)
	env.svc.Results.Notifier = notifier
	stored, err := env.db.Tasks().FindTaskByID(t.Context(), task.ID)
	if err != nil || stored.State != backend.TaskInProgress {
		t.Fatalf("the return whose telling failed: %+v, %v; want it stored", stored, err)
	}
	if n := told(); n != 0 {
		t.Fatalf("%d return entries with the inbox down", n)
	}
	for range 2 {
		scenario{as: "staff", method: "POST", path: path, body: body, wantStatus: 200, wantContain: []string{`"state":"in_progress"`}}.run(t, env)
	}
	if n, want := told(), len(task.Members); n != want {
		t.Fatalf("%d return entries, want one per member (%d)", n, want)
	}
	if again, err := env.db.Tasks().FindTaskByID(t.Context(), task.ID); err != nil || again.Version != stored.Version {
		t.Fatalf("the repeat wrote the task again: %+v, %v", again, err)
	}
	// Another decision is no repeat: the task is not completed.
	scenario{as: "staff", method: "POST", path: path, body: `{"decision":"approve","result":"no_problem"}`, wantStatus: 409}.run(t, env)
}

// TestAFeedbackStoredIsAnsweredAsMade: the feedback to the enterprise is
// stored, then the telling of the group's phones fails. The office is
// answered that it was recorded (201) — before, a 503, and its repeat was
// refused as recorded already, leaving the clerk unsure it was.
func TestAFeedbackStoredIsAnsweredAsMade(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newResultWorld(t, env)
	task := w.complete(t, env, 0, time.Date(2026, 9, 28, 9, 0, 0, 0, backend.ChinaTime))
	w.clock.Set(time.Date(2026, 9, 30, 9, 0, 0, 0, backend.ChinaTime))
	notifier := env.svc.Results.Notifier
	env.svc.Results.Notifier = failingNotifier{}
	defer func() { env.svc.Results.Notifier = notifier }()
	scenario{as: "staff", method: "POST", path: "/api/v1/tasks/" + task.ID + "/feedback",
		body: `{"method":"direct","delivered_at":"2026-09-29T10:00:00+08:00","receiver":"王某"}`, wantStatus: 201}.run(t, env)
	if _, r, err := env.db.TaskResults().FindTaskResult(t.Context(), task.ID); err != nil || r.Feedback == nil || r.Feedback.Receiver != "王某" {
		t.Fatalf("the feedback: %+v, %v; want it stored", r, err)
	}
}
