package mongodb_test

import (
	"fmt"
	"testing"
	"time"

	"suiji/backend"
	"suiji/storage/storagetest"
)

// TestFindTasksNoTotal: a listing with NoTotal returns the same page and
// no total; without it the total counts every match.
func TestFindTasksNoTotal(t *testing.T) {
	t.Parallel()
	store := storagetest.Mongo(t).Tasks()
	now := time.Now().UTC()
	var ts []*backend.Task
	for i := range 3 {
		ts = append(ts, &backend.Task{ID: fmt.Sprintf("t%d", i), Kind: backend.TaskRandom, Year: 2026, State: backend.TaskAssigned,
			Members: []backend.TaskMember{{UserID: "u1", Name: "检查员", AddedAt: now}}, CreatedAt: now.Add(time.Duration(i) * time.Second), UpdatedAt: now})
	}
	if _, err := store.InsertTasks(t.Context(), ts); err != nil {
		t.Fatal(err)
	}
	for _, noTotal := range []bool{false, true} {
		list, total, err := store.FindTasks(t.Context(), backend.TaskFilter{MemberUserID: "u1", Limit: 2, NoTotal: noTotal})
		want := 3
		if noTotal {
			want = 0
		}
		if err != nil || len(list) != 2 || list[0].ID != "t0" || list[1].ID != "t1" || total != want {
			t.Fatalf("NoTotal %v: %d tasks, total %d, %v; want t0, t1 and %d", noTotal, len(list), total, err, want)
		}
	}
}
