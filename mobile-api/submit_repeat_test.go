package mobileapi

import (
	"fmt"
	"strings"
	"testing"

	"suiji/backend"
)

// TestTheCompletingSubmissionRepeated: the second member's submission
// completes the task, but the telling after it fails once the task is
// stored (the inbox down: 503, so the phone sends it again). The repeat
// is answered with the completed task and the office is told, once;
// before, a completed task refused it for want of an amendment's reason
// (409), and the office never heard it had a record to review.
func TestTheCompletingSubmissionRepeated(t *testing.T) {
	et := newEvidenceTask(t)
	base := "/api/v1/tasks/" + et.task.ID
	submit := func(token string, seed int) string {
		sig := signaturePNG(t, seed)
		s, _ := et.declare(t, token, fmt.Sprintf(`{"kind":"signature","content_type":"image/png","size":%d,"sha256":%q}`, len(sig), sha(sig)), 201)
		if got := postUpload(t, s.Upload, "", sig); got != 204 {
			t.Fatalf("signature POST: %d", got)
		}
		if s = et.complete(t, token, s.ID); s.State != backend.EvidenceVerified {
			t.Fatalf("signature %+v", s)
		}
		return fmt.Sprintf(`{"result":"no_problem","summary":"未发现问题","signature_evidence_id":%q}`, s.ID)
	}
	scenario{token: et.ta, method: "POST", path: base + "/submit", body: submit(et.ta, 3), wantStatus: 200, wantContain: []string{`"state":"submitted"`}}.run(t, et.env)

	staff := et.env.users["staff"].ID
	completions := func() int {
		n := 0
		for _, k := range kindsFor(t, et.env, staff, et.task.ID) {
			if strings.Contains(k, "结果反馈期限") {
				n++
			}
		}
		return n
	}
	last := submit(et.tb, 4)
	notifier := et.env.svc.Tasks.Notifier
	et.env.svc.Tasks.Notifier = failingNotifier{}
	scenario{token: et.tb, method: "POST", path: base + "/submit", body: last, wantStatus: 503}.run(t, et.env)
	et.env.svc.Tasks.Notifier = notifier
	if stored, err := et.env.db.Tasks().FindTaskByID(t.Context(), et.task.ID); err != nil || stored.State != backend.TaskCompleted {
		t.Fatalf("the task after the failed telling: %+v, %v; want it stored completed", stored, err)
	}
	if n := completions(); n != 0 {
		t.Fatalf("%d completion entries with the inbox down", n)
	}

	for range 2 { // the phone's repeat, and one more
		scenario{token: et.tb, method: "POST", path: base + "/submit", body: last, wantStatus: 200, wantContain: []string{`"state":"completed"`}}.run(t, et.env)
	}
	if n := completions(); n != 1 {
		t.Fatalf("the office has %d completion entries; want 1", n)
	}
	// A different submission is no repeat: the frozen record refuses it.
	scenario{token: et.tb, method: "POST", path: base + "/submit", body: strings.Replace(last, "未发现问题", "另一份", 1), wantStatus: 409,
		wantContain: []string{"amendment"}}.run(t, et.env)
}
