package mongodb_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
	"suiji/storage/mongodb"
	"suiji/storage/storagetest"
)

// TestTaskItemsStoredOnce: tasks with one list of items store it once and
// refer to it; each reads back with its items whichever DB handle reads
// it (a second instance has seen none of the lists); an update that
// changes a task's items stores the new list and leaves the others' alone;
// a task stored with its items inline (before lists) reads as before; a
// task whose list is missing is an error, never a task without items.
func TestTaskItemsStoredOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := storagetest.Mongo(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	plan := []backend.TaskItem{
		{ID: "i1", Code: "A-1", Name: "安全生产责任制", LegalBasis: backend.LegalBasis{Law: "《中华人民共和国安全生产法》", Article: "第二十二条"},
			DepartmentID: "d1", Content: "是否建立全员安全生产责任制", Method: "on_site", Qualification: "general", Categories: []string{"mining"}},
		{ID: "i2", Code: "A-2", Name: "应急预案", LegalBasis: backend.LegalBasis{Law: "《生产安全事故应急条例》", Article: "第五条"},
			DepartmentID: "d1", Content: "是否制定应急预案并演练", Method: "documents", Qualification: "general"},
	}
	other := []backend.TaskItem{plan[1]}
	task := func(id string, items []backend.TaskItem) *backend.Task {
		return &backend.Task{ID: id, Kind: backend.TaskRandom, PlanID: "p1", Year: 2026, State: backend.TaskAssigned,
			Items: append([]backend.TaskItem(nil), items...), DepartmentIDs: []string{"d1"},
			Members: []backend.TaskMember{{UserID: "u1", Name: "检查员", AddedAt: now}}, CreatedAt: now, UpdatedAt: now}
	}
	// The collection is there before any list (EnsureIndexes), for a
	// backup to copy after the tasks.
	if names, err := db.Database().ListCollectionNames(ctx, bson.D{{Key: "name", Value: "tasks_item_lists"}}); err != nil || len(names) != 1 {
		t.Fatalf("collections %v, %v; want tasks_item_lists made by EnsureIndexes", names, err)
	}
	var ts []*backend.Task
	for i := range 3 {
		ts = append(ts, task(fmt.Sprintf("same%d", i), plan))
	}
	ts = append(ts, task("other", other), task("none", nil))
	if _, err := db.Tasks().InsertTasks(ctx, ts); err != nil {
		t.Fatal(err)
	}
	lists := db.Database().Collection("tasks_item_lists")
	if n, err := lists.CountDocuments(ctx, bson.D{}); err != nil || n != 2 {
		t.Fatalf("%d lists stored, %v; want 2 (one per distinct list)", n, err)
	}
	// The task documents hold a reference, not the items.
	for _, tk := range ts {
		var raw bson.Raw
		if err := db.Database().Collection("tasks").FindOne(ctx, bson.D{{Key: "_id", Value: tk.ID}}).Decode(&raw); err != nil {
			t.Fatal(err)
		}
		_, hasItems := raw.Lookup("items").StringValueOK()
		ref, hasRef := raw.Lookup("items_ref").StringValueOK()
		if raw.Lookup("items").Type != 0 || hasItems || hasRef != (tk.ID != "none") {
			t.Fatalf("task %s stored items %v and ref %q; want only a ref (none without items)", tk.ID, raw.Lookup("items"), ref)
		}
	}

	// A second handle on the database has seen no list.
	cfg := storagetest.Config(t)
	fresh, err := mongodb.Open(ctx, mongodb.Options{URI: cfg.MongoURI, Database: db.Name()})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close(ctx)
	want := map[string][]backend.TaskItem{"same0": plan, "same1": plan, "same2": plan, "other": other, "none": nil}
	for _, handle := range []*mongodb.DB{fresh, db} {
		list, _, err := handle.Tasks().FindTasks(ctx, backend.TaskFilter{PlanID: "p1"})
		if err != nil || len(list) != len(want) {
			t.Fatalf("FindTasks: %d tasks, %v", len(list), err)
		}
		for _, tk := range list {
			if !reflect.DeepEqual(tk.Items, want[tk.ID]) {
				t.Fatalf("FindTasks: task %s items %+v, want %+v", tk.ID, tk.Items, want[tk.ID])
			}
		}
		one, err := handle.Tasks().FindTaskByID(ctx, "same1")
		if err != nil || !reflect.DeepEqual(one.Items, plan) {
			t.Fatalf("FindTaskByID: %+v, %v", one, err)
		}
		withResult, _, err := handle.TaskResults().FindTaskResult(ctx, "other")
		if err != nil || !reflect.DeepEqual(withResult.Items, other) {
			t.Fatalf("FindTaskResult: %+v, %v", withResult, err)
		}
		// Tasks read from a shared list do not share it.
		one.Items[0].Categories[0] = "changed"
		again, err := handle.Tasks().FindTaskByID(ctx, "same2")
		if err != nil || again.Items[0].Categories[0] != "mining" {
			t.Fatalf("a change to one task's items showed in another's: %+v, %v", again.Items, err)
		}
	}

	// An update that changes one task's items stores a new list.
	changed, err := fresh.Tasks().FindTaskByID(ctx, "same0")
	if err != nil {
		t.Fatal(err)
	}
	changed.Items[1].Content = "是否制定应急预案并每年演练"
	if err := fresh.Tasks().UpdateTask(ctx, changed); err != nil {
		t.Fatal(err)
	}
	if n, err := lists.CountDocuments(ctx, bson.D{}); err != nil || n != 3 {
		t.Fatalf("%d lists after the update, %v; want 3", n, err)
	}
	for id, items := range map[string][]backend.TaskItem{"same0": changed.Items, "same1": plan} {
		got, err := db.Tasks().FindTaskByID(ctx, id)
		if err != nil || !reflect.DeepEqual(got.Items, items) {
			t.Fatalf("after the update, task %s items %+v, %v; want %+v", id, got.Items, err, items)
		}
	}

	// A task stored before lists, with its items inline.
	if _, err := db.Database().Collection("tasks").InsertOne(ctx, bson.D{{Key: "_id", Value: "inline"}, {Key: "kind", Value: backend.TaskRandom},
		{Key: "plan_id", Value: "p2"}, {Key: "state", Value: backend.TaskAssigned}, {Key: "version", Value: 1},
		{Key: "items", Value: bson.A{bson.D{{Key: "id", Value: "i9"}, {Key: "code", Value: "Z-9"}, {Key: "name", Value: "旧事项"}, {Key: "law", Value: "旧法"}}}}}); err != nil {
		t.Fatal(err)
	}
	old, err := fresh.Tasks().FindTaskByID(ctx, "inline")
	if err != nil || len(old.Items) != 1 || old.Items[0].Code != "Z-9" || old.Items[0].LegalBasis.Law != "旧法" {
		t.Fatalf("a task with inline items read as %+v, %v", old, err)
	}

	// A list gone missing: the task cannot be read, and says why.
	if _, err := db.Database().Collection("tasks").InsertOne(ctx, bson.D{{Key: "_id", Value: "lost"}, {Key: "kind", Value: backend.TaskRandom},
		{Key: "plan_id", Value: "p3"}, {Key: "state", Value: backend.TaskAssigned}, {Key: "version", Value: 1}, {Key: "items_ref", Value: "000000000000000000000000"}}); err != nil {
		t.Fatal(err)
	}
	if lost, err := fresh.Tasks().FindTaskByID(ctx, "lost"); backend.ErrorCode(err) != backend.EINTERNAL {
		t.Fatalf("a task whose list is missing read as %+v, %v; want EINTERNAL", lost, err)
	}
	if _, _, err := fresh.Tasks().FindTasks(ctx, backend.TaskFilter{PlanID: "p3"}); backend.ErrorCode(err) != backend.EINTERNAL {
		t.Fatalf("listing a task whose list is missing: %v; want EINTERNAL", err)
	}

	// Lists lost behind a DB's back (a restore elsewhere): once a read
	// finds one missing, the DB stores its lists again.
	if _, err := lists.DeleteMany(ctx, bson.D{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Tasks().FindTaskByID(ctx, "lost"); backend.ErrorCode(err) != backend.EINTERNAL {
		t.Fatalf("a task whose list is missing: %v; want EINTERNAL", err)
	}
	if _, err := db.Tasks().InsertTasks(ctx, []*backend.Task{task("again", plan)}); err != nil {
		t.Fatal(err)
	}
	if n, err := lists.CountDocuments(ctx, bson.D{}); err != nil || n != 1 {
		t.Fatalf("%d lists stored after the loss was seen, %v; want the plan's again", n, err)
	}

	// A task rewritten by a version that knows no lists (a rollback) has
	// its items inline beside the old ref: they win.
	if _, err := db.Database().Collection("tasks").UpdateOne(ctx, bson.D{{Key: "_id", Value: "same1"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "items", Value: bson.A{bson.D{{Key: "id", Value: "i7"}, {Key: "code", Value: "R-7"}, {Key: "name", Value: "回滚后"}}}}}}}); err != nil {
		t.Fatal(err)
	}
	if rolled, err := fresh.Tasks().FindTaskByID(ctx, "same1"); err != nil || len(rolled.Items) != 1 || rolled.Items[0].Code != "R-7" {
		t.Fatalf("a task with inline items and a ref read as %+v, %v; want its inline items", rolled, err)
	}
}

// BenchmarkInsertTasks writes a dispatch's thousand tasks of one plan,
// with one item and with a dozen (a realistic plan): with the items
// stored once per list, the second costs about what the first does.
func BenchmarkInsertTasks(b *testing.B) {
	for _, n := range []int{1, 12} {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			ctx := b.Context()
			db := storagetest.Mongo(b)
			var items []backend.TaskItem
			for i := range n {
				items = append(items, backend.TaskItem{ID: fmt.Sprintf("item%02d", i), Code: fmt.Sprintf("AQ-%02d", i),
					Name: "安全生产责任制落实情况", LegalBasis: backend.LegalBasis{Law: "《中华人民共和国安全生产法》", Article: "第二十一条、第二十二条"},
					DepartmentID: "dep1", Content: "检查生产经营单位是否建立健全全员安全生产责任制，主要负责人是否履行法定职责", Method: "查阅资料、现场检查",
					Qualification: "general", Categories: []string{"hazardous_chemicals"}})
			}
			now := time.Now().UTC()
			ts := make([]*backend.Task, 1000)
			for i := range ts {
				ts[i] = &backend.Task{ID: fmt.Sprintf("task%04d", i), Kind: backend.TaskRandom, PlanID: "p1", DrawID: "p1-1", Year: 2026,
					LeadDepartmentID: "dep1", DepartmentIDs: []string{"dep1"}, State: backend.TaskAssigned, Items: items,
					Enterprise: backend.TaskEnterprise{ID: fmt.Sprintf("e%04d", i), USCC: "91140525MA0K123456", Name: "泽州县某化工有限公司", Town: "巴公镇"},
					Members: []backend.TaskMember{
						{BadgeNo: "140525900001", InspectorID: "in1", UserID: "u1", Name: "张三", DepartmentID: "dep1", Lead: true, AddedAt: now},
						{BadgeNo: "140525900002", InspectorID: "in2", UserID: "u2", Name: "李四", DepartmentID: "dep1", AddedAt: now}},
					WindowStart: "2026-03-01", WindowEnd: "2026-12-31", Deadlines: backend.TaskDeadlines{Window: "2026-12-31"},
					CreatedBy: "coord", CreatedAt: now, UpdatedAt: now}
			}
			for b.Loop() {
				b.StopTimer()
				if _, err := db.Database().Collection("tasks").DeleteMany(ctx, bson.D{}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if ids, err := db.Tasks().InsertTasks(ctx, ts); err != nil || len(ids) != len(ts) {
					b.Fatalf("%d inserted, %v", len(ids), err)
				}
			}
		})
	}
}
