package notify_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"suiji/backend"
	"suiji/backend/notify"
)

func TestAlert(t *testing.T) {
	note := func(id, kind, task, plan, title string) *backend.Notification {
		return &backend.Notification{ID: id, UserID: "u", Kind: kind, TaskID: task, PlanID: plan, Title: title, Body: "正文" + id,
			Data: map[string]string{"extra": id}}
	}
	var many []*backend.Notification
	var wantIDs, wantTasks []string
	for i := range notify.DigestIDs + 5 {
		id, task := fmt.Sprintf("n%d", i), fmt.Sprintf("t%d", i/2) // two entries per task
		many = append(many, note(id, backend.NoteTaskAssigned, task, "p", "新检查任务"))
		if i < notify.DigestIDs {
			wantIDs = append(wantIDs, id)
		}
		if i%2 == 0 && len(wantTasks) < notify.DigestIDs {
			wantTasks = append(wantTasks, task)
		}
	}
	tests := []struct {
		name                string
		notes               []*backend.Notification
		wantTitle, wantBody string
		wantData            map[string]string
	}{{
		name:      "one entry is itself",
		notes:     []*backend.Notification{note("n1", backend.NoteTaskAssigned, "t1", "p", "新检查任务")},
		wantTitle: "新检查任务", wantBody: "正文n1",
		wantData: map[string]string{"kind": backend.NoteTaskAssigned, "notification_id": "n1", "task_id": "t1", "plan_id": "p", "extra": "n1"},
	}, {
		name: "several of a kind",
		notes: []*backend.Notification{note("n1", backend.NoteTaskAssigned, "t1", "p", "新检查任务"),
			note("n2", backend.NoteTaskAssigned, "t2", "p", "新检查任务")},
		wantTitle: "新检查任务（2 条）", wantBody: "正文n1；另有 1 条，详见收件箱",
		wantData: map[string]string{"kind": notify.KindDigest, "kinds": backend.NoteTaskAssigned, "count": "2", "notification_ids": "n1,n2", "task_ids": "t1,t2", "plan_id": "p"},
	}, {
		name: "different kinds, titles and plans",
		notes: []*backend.Notification{note("n1", backend.NoteTaskCancelled, "t1", "p", "任务已取消"),
			note("n2", backend.NoteTaskReminder, "t1", "q", "期限提醒"), note("n3", backend.NoteTaskAssigned, "", "p", "新检查任务")},
		wantTitle: "新通知（3 条）", wantBody: "正文n1；另有 2 条，详见收件箱",
		wantData: map[string]string{"kind": notify.KindDigest, "kinds": backend.NoteTaskCancelled + "," + backend.NoteTaskReminder + "," + backend.NoteTaskAssigned,
			"count": "3", "notification_ids": "n1,n2,n3", "task_ids": "t1"},
	}, {
		name:      "more than a payload holds",
		notes:     many,
		wantTitle: fmt.Sprintf("新检查任务（%d 条）", len(many)), wantBody: fmt.Sprintf("正文n0；另有 %d 条，详见收件箱", len(many)-1),
		wantData: map[string]string{"kind": notify.KindDigest, "kinds": backend.NoteTaskAssigned, "count": fmt.Sprint(len(many)),
			"notification_ids": strings.Join(wantIDs, ","), "task_ids": strings.Join(wantTasks, ","), "plan_id": "p"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			title, body, data := notify.Alert(tt.notes)
			if title != tt.wantTitle || body != tt.wantBody {
				t.Errorf("alert %q / %q, want %q / %q", title, body, tt.wantTitle, tt.wantBody)
			}
			if !maps.Equal(data, tt.wantData) {
				t.Errorf("payload %v, want %v", data, tt.wantData)
			}
		})
	}
	// FCM's data payload holds 4 KB: a digest of any length, with ids as
	// long as suiji's (24 characters), fits well within.
	var long []*backend.Notification
	for i := range 500 {
		long = append(long, note(fmt.Sprintf("%024x", i), backend.NoteTaskAssigned, fmt.Sprintf("%024x", 1000+i), strings.Repeat("p", 24), "新检查任务"))
	}
	_, _, data := notify.Alert(long)
	size := 0
	for k, v := range data {
		size += len(k) + len(v)
	}
	if size > 2048 {
		t.Errorf("a digest's payload is %d bytes", size)
	}
}
