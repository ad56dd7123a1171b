package mongodb_test

import (
	"fmt"
	"reflect"
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

// TestStoredCopyReadsAsStored: what StoredCopy says a task reads back as
// is what the store returns for it — after an insert, and after an update
// filling in the on-site record — down to nanoseconds cut to milliseconds,
// time zones, and lists left empty or nil. Syncs serve these copies in
// place of reads (tasks.Service's cache), so any difference would show on
// phones.
func TestStoredCopyReadsAsStored(t *testing.T) {
	t.Parallel()
	store := storagetest.Mongo(t).Tasks()
	ctx := t.Context()
	now := time.Date(2026, 3, 2, 9, 30, 1, 123456789, time.FixedZone("CST", 8*3600))
	task := &backend.Task{
		ID: "stored-copy", Kind: backend.TaskRandom, PlanID: "p1", DrawID: "d1", Year: 2026, LeadDepartmentID: "dep1",
		DepartmentIDs: []string{"dep1", "dep2"},
		Enterprise: backend.TaskEnterprise{ID: "e1", USCC: "91140525MA0K123456", Name: "泽州县某煤业有限公司", Town: "巴公镇",
			Address: "巴公镇1号", Location: &backend.GeoPoint{Lat: 35.5, Lng: 112.9}, Categories: []string{}},
		Items: []backend.TaskItem{{ID: "i1", Code: "A01", Name: "安全生产责任制", LegalBasis: backend.LegalBasis{Law: "《安全生产法》", Article: "第二十二条"},
			Method: "查阅资料", Categories: nil}},
		Members: []backend.TaskMember{
			{BadgeNo: "14001", InspectorID: "in1", UserID: "u1", Name: "张三", DepartmentID: "dep1", Lead: true, AddedAt: now},
			{BadgeNo: "14002", InspectorID: "in2", UserID: "u2", Name: "李四", DepartmentID: "dep2", AddedAt: now},
		},
		WindowStart: "2026-03-01", WindowEnd: "2026-12-31", Deadlines: backend.TaskDeadlines{Window: "2026-12-31"},
		State: backend.TaskAssigned, CreatedBy: "coord", CreatedAt: now, UpdatedAt: now,
	}
	check := func(when string) {
		t.Helper()
		copied, err := store.StoredCopy(task)
		if err != nil {
			t.Fatal(err)
		}
		read, err := store.FindTaskByID(ctx, task.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(copied, read) {
			t.Fatalf("%s: the stored copy differs from the read\ncopy: %+v\nread: %+v", when, copied, read)
		}
	}
	if _, err := store.InsertTasks(ctx, []*backend.Task{task}); err != nil {
		t.Fatal(err)
	}
	check("inserted")
	later := now.Add(90 * time.Minute)
	dist := 42.5
	removed := later.Add(time.Nanosecond)
	task.Members[1].RemovedAt, task.Members[1].RemoveReason = &removed, "回避"
	task.Members = append(task.Members, backend.TaskMember{BadgeNo: "14003", UserID: "u3", Name: "王五", AddedAt: later, AddedReason: "回避"})
	task.Progress = []backend.MemberProgress{{UserID: "u1", CheckIn: &backend.CheckIn{Lat: 35.5, Lng: 112.9, AccuracyM: 8, At: later, DistanceM: &dist}}}
	task.Checklist = []backend.ItemOutcome{{ItemID: "i1", Outcome: "pass", By: "u1", At: later}}
	task.State, task.Overdue, task.UpdatedAt = backend.TaskInProgress, []string{backend.DeadlineWindow}, later
	if err := store.UpdateTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	check("updated")
}
