package mobileapi

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
	"suiji/backend/cmd/wire"
	"suiji/backend/plans"
	"suiji/backend/uscc"
	"suiji/storage/storagetest"
)

// BenchmarkDispatch is the case: a draw of 1,000 enterprises
// dispatched to 300 inspectors with two phones each, timed until every
// inbox row exists and every push has been answered (by an FCM-v1 server
// on loopback, through the real Firebase SDK; the server only counts
// them, see fakeFCM.countOnly) — one per phone of each inspector drawn,
// a digest of their assignments (notify.Alert). Its baseline, interleaved
// so both see the same machine, is writing the same 2,000 inbox rows
// alone; the ratio is reported as ×inbox-writes (goal ≤ 3×). For the
// record it also times writing the 1,000 task documents alone, which the
// dispatch must do before the inbox (ms-tasks), and reports the ratio to
// both writes together (×inbox+task-writes): what the rest of the
// dispatch costs.
func BenchmarkDispatch(b *testing.B) {
	db, c := storagetest.Mongo(b), storagetest.Redis(b)
	stack := storagetest.Config(b)
	fcm := newFakeFCM(b)
	fcm.countOnly = true
	svc := wire.Services(&wire.Stores{Mongo: db, Cache: c, Push: openFakePush(b, fcm)}, stack, func() time.Time { return time.Now().UTC() })
	ctx := b.Context()
	w := storagetest.NewWorld(b, db, 0)
	for _, in := range w.Inspectors { // the world's own eight stay out of the draw
		in.Active = false
		if err := db.Inspectors().UpdateInspector(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(8, 8))
	now := time.Now().UTC()
	var ents []*backend.Enterprise
	for i := range 1000 {
		ents = append(ents, &backend.Enterprise{
			USCC: uscc.Generate(rng), Name: fmt.Sprintf("基准企业%04d", i), Town: w.Towns[i%len(w.Towns)], Industry: "制造业",
			Status: backend.EnterpriseActive, Categories: []string{}, Flags: []string{}, CreatedAt: now, UpdatedAt: now,
		})
	}
	if _, err := db.Enterprises().CreateEnterprises(ctx, ents); err != nil {
		b.Fatal(err)
	}
	for _, u := range benchInspectors(b, db, w.Brigade.ID, 300, "") {
		for _, platform := range []string{backend.PlatformAndroid, backend.PlatformIOS} {
			d := &backend.Device{UserID: u.ID, Token: "ok-" + platform + "-" + u.ID, Platform: platform, CreatedAt: now, LastSeenAt: now}
			if err := db.Devices().UpsertDevice(ctx, d); err != nil {
				b.Fatal(err)
			}
		}
	}
	coord := backend.WithActor(ctx, &backend.Actor{UserID: "bench-coordinator", Username: "coordinator",
		Roles: []backend.Role{backend.RoleCoordinator, backend.RoleLeader}})
	p, err := svc.Plans.CreatePlan(coord, plans.Input{Year: 2026, Title: "基准", Kind: backend.PlanDirected, ItemIDs: w.Items[:1],
		LeadDepartmentID: w.Brigade.ID, Sample: backend.PlanSample{Count: 1000}, GroupSize: 2, WindowStart: "2026-03-01", WindowEnd: "2026-12-31"})
	if err != nil {
		b.Fatal(err)
	}
	leader := backend.WithActor(ctx, &backend.Actor{UserID: "bench-leader", Username: "leader", Roles: []backend.Role{backend.RoleLeader}})
	if _, err := svc.Plans.ApprovePlan(leader, p.ID); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Plans.CommitSeed(coord, p.ID, ""); err != nil {
		b.Fatal(err)
	}
	d, err := svc.Plans.Draw(coord, p.ID, "")
	if err != nil {
		b.Fatal(err)
	}

	// Each member drawn gets one alert per phone, however many tasks.
	members := map[string]bool{}
	for _, sel := range d.Record.Selections {
		for _, badge := range sel.Group {
			members[badge] = true
		}
	}
	pushes := 2 * len(members)

	reset := func() {
		for _, coll := range []string{"tasks", "notifications", "inbox_heads", "push_outbox"} {
			if _, err := db.Database().Collection(coll).DeleteMany(ctx, bson.D{}); err != nil {
				b.Fatal(err)
			}
		}
		p, err := db.Plans().FindPlanByID(ctx, d.PlanID)
		if err != nil {
			b.Fatal(err)
		}
		p.Status = backend.PlanDrawn
		if err := db.Plans().UpdatePlan(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	// The directory's index is read, as serve does at start (the
	// dispatch copies the enterprises from it); the pusher runs as in
	// production, woken by the dispatch's writes.
	if err := svc.Directory.WarmIndex(ctx); err != nil {
		b.Fatal(err)
	}
	pushing, stop := context.WithCancel(ctx)
	defer stop()
	go svc.Notify.Run(pushing)
	var dispatchTime, inboxTime, taskTime time.Duration
	var rows int
	for b.Loop() {
		reset()
		_, before := fcm.total()
		start := time.Now()
		res, err := svc.Tasks.Dispatch(coord, d.ID)
		if err != nil || res.Created != 1000 {
			b.Fatalf("dispatch: %+v, %v", res, err)
		}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(2 * time.Millisecond) {
			if _, after := fcm.total(); after-before == pushes {
				break
			} else if after-before > pushes {
				b.Fatalf("%d pushes answered, want %d: some member was alerted more than once", after-before, pushes)
			} else if time.Now().After(deadline) {
				b.Fatalf("%d pushes answered after a minute, want %d", after-before, pushes)
			}
		}
		dispatchTime += time.Since(start)

		// The baseline: the same inbox rows written alone.
		var notes []*backend.Notification
		cur, err := db.Database().Collection("notifications").Find(ctx, bson.D{})
		if err != nil {
			b.Fatal(err)
		}
		var raw []struct {
			ID     string            `bson:"_id"`
			UserID string            `bson:"user_id"`
			Kind   string            `bson:"kind"`
			TaskID string            `bson:"task_id"`
			PlanID string            `bson:"plan_id"`
			Title  string            `bson:"title"`
			Body   string            `bson:"body"`
			Data   map[string]string `bson:"data"`
		}
		if err := cur.All(ctx, &raw); err != nil {
			b.Fatal(err)
		}
		for _, r := range raw {
			notes = append(notes, &backend.Notification{ID: r.ID, UserID: r.UserID, Kind: r.Kind, TaskID: r.TaskID, PlanID: r.PlanID,
				Title: r.Title, Body: r.Body, Data: r.Data, CreatedAt: now})
		}
		rows = len(notes)
		// Also, for the record, the task documents written alone: the
		// dispatch must store them before their inbox entries.
		tasks, _, err := db.Tasks().FindTasks(ctx, backend.TaskFilter{PlanID: d.PlanID, NoTotal: true})
		if err != nil || len(tasks) != len(res.TaskIDs) {
			b.Fatalf("%d tasks read back, %v", len(tasks), err)
		}
		reset()
		start = time.Now()
		if _, err := db.Notifications().AppendNotifications(ctx, notes); err != nil {
			b.Fatal(err)
		}
		inboxTime += time.Since(start)
		reset()
		start = time.Now()
		if _, err := db.Tasks().InsertTasks(ctx, tasks); err != nil {
			b.Fatal(err)
		}
		taskTime += time.Since(start)
	}
	if rows != 2000 {
		b.Fatalf("%d inbox rows, want 2,000", rows)
	}
	b.ReportMetric(float64(dispatchTime)/float64(inboxTime), "×inbox-writes")
	b.ReportMetric(float64(dispatchTime.Milliseconds())/float64(b.N), "ms-dispatch")
	b.ReportMetric(float64(inboxTime.Milliseconds())/float64(b.N), "ms-inbox")
	b.ReportMetric(float64(taskTime.Milliseconds())/float64(b.N), "ms-tasks")
	b.ReportMetric(float64(dispatchTime)/float64(inboxTime+taskTime), "×inbox+task-writes")
}
