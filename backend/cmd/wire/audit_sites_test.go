package wire_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
	"suiji/backend/app"
	"suiji/backend/audit"
	"suiji/backend/cmd/wire"
	"suiji/backend/draw"
	"suiji/backend/plans"
	"suiji/backend/sheet"
	"suiji/backend/tasks"
	"suiji/backend/uscc"
	"suiji/storage/mongodb"
	"suiji/storage/storagetest"
)

// Crash tests of the changes whose audit event used to be appended after
// the change, or travelled with only their last write (imports, dispatch,
// a plan's commit and draw, replacement commitment, decision and draw,
// calendar override, device registration, deletion and pruning): each injects the
// crash between the change and the chain append, restarts (Recover), and
// checks that the change and exactly one event exist; then repeats the
// request as a client would, and checks that the event is not duplicated.

// crashWorld is the real object graph on the test stack (wire.Services),
// with a recorder whose audit store crashes when armed.
type crashWorld struct {
	db    *mongodb.DB
	svc   app.Services
	store *crashingAudit
	crash *audit.Recorder
	ctx   context.Context // a coordinator who is also a leader
	w     *storagetest.World
}

func newCrashWorld(t *testing.T, push backend.PushSender) *crashWorld {
	t.Helper()
	db := storagetest.Mongo(t)
	svc := wire.Services(&wire.Stores{Mongo: db, Cache: storagetest.Redis(t), Push: push}, storagetest.Config(t),
		func() time.Time { return time.Now().UTC() })
	store := &crashingAudit{AuditStore: db.AuditEvents()}
	cw := &crashWorld{db: db, svc: svc, store: store, crash: &audit.Recorder{Store: store, Outbox: db.AuditOutbox()},
		w: storagetest.NewWorld(t, db, 12)}
	cw.ctx = backend.WithActor(backend.WithRequestID(context.Background(), "req-crash"),
		&backend.Actor{UserID: "coord-1", Username: "coordinator", Roles: []backend.Role{backend.RoleCoordinator, backend.RoleLeader}, DepartmentID: cw.w.Brigade.ID})
	return cw
}

// approved makes a plan of the world (three enterprises, groups of two)
// and has a leader approve it.
func (cw *crashWorld) approved(t *testing.T) *backend.Plan {
	t.Helper()
	p, err := cw.svc.Plans.CreatePlan(cw.ctx, plans.Input{Year: 2026, Title: "崩溃测试", Kind: backend.PlanDirected, ItemIDs: cw.w.Items[:1],
		LeadDepartmentID: cw.w.Brigade.ID, Sample: backend.PlanSample{Count: 3}, GroupSize: 2, WindowStart: "2026-03-01", WindowEnd: "2026-12-31"})
	if err != nil {
		t.Fatal(err)
	}
	leader := backend.WithActor(context.Background(), &backend.Actor{UserID: "leader-1", Username: "leader", Roles: []backend.Role{backend.RoleLeader}})
	if _, err := cw.svc.Plans.ApprovePlan(leader, p.ID); err != nil {
		t.Fatal(err)
	}
	return p
}

// drawn makes a plan of the world, approved, committed and drawn, and
// returns its draw.
func (cw *crashWorld) drawn(t *testing.T) *backend.Draw {
	t.Helper()
	p := cw.approved(t)
	if _, err := cw.svc.Plans.CommitSeed(cw.ctx, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	d, err := cw.svc.Plans.Draw(cw.ctx, p.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// bulkPending counts the documents of collection bearing the mark of a
// bulk change's event, and the events written ahead of bulk changes not
// cleared yet (see storage/mongodb/outbox.go).
func bulkPending(t *testing.T, db *mongodb.DB, collection string) (marked, ahead int64) {
	t.Helper()
	marked, err := db.Database().Collection(collection).CountDocuments(t.Context(), bson.D{{Key: "audit_event", Value: bson.D{{Key: "$exists", Value: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	ahead, err = db.Database().Collection("audit_ahead").CountDocuments(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return marked, ahead
}

// actions counts the chain's events by action.
func actions(t *testing.T, db *mongodb.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, e := range events(t, db) {
		out[e.Action]++
	}
	return out
}

// crashes runs f with the audit store armed and fails unless it crashed.
func (cw *crashWorld) crashes(t *testing.T, f func()) {
	t.Helper()
	cw.store.armed = true
	if !survive(t, f) {
		t.Fatal("the injected crash did not happen")
	}
}

// crashingTasks is the real task store with a fault injected: when armed,
// InsertTasks panics before it writes, as if the process stopped after
// the dispatch's first write (the plan's) and before its tasks.
type crashingTasks struct {
	backend.TaskStore
	fuse
}

func (c *crashingTasks) InsertTasks(ctx context.Context, ts []*backend.Task) ([]string, error) {
	c.blow()
	return c.TaskStore.InsertTasks(ctx, ts)
}

// TestAuditCrashBetweenDispatchAndEvent: a dispatch writes the plan's move
// and its tasks, and the process dies before the plan.dispatch event is
// appended; after a restart the tasks and the one event are there, and a
// repeated dispatch neither creates nor records anything more. The event
// was written ahead, and the plan's and every task's document bear its
// mark (a bulk change).
func TestAuditCrashBetweenDispatchAndEvent(t *testing.T) {
	cw := newCrashWorld(t, nil)
	d := cw.drawn(t)
	cw.svc.Tasks.Audit = cw.crash
	before := len(events(t, cw.db))

	cw.crashes(t, func() { _, _ = cw.svc.Tasks.Dispatch(cw.ctx, d.ID) })
	p, err := cw.db.Plans().FindPlanByID(t.Context(), d.PlanID)
	if err != nil || p.Status != backend.PlanDispatched {
		t.Fatalf("the plan's move written before the crash: %+v, %v", p, err)
	}
	n, err := cw.db.Database().Collection("tasks").CountDocuments(t.Context(), map[string]string{"draw_id": d.ID})
	if err != nil || n != 3 {
		t.Fatalf("%d tasks written before the crash (%v), want 3", n, err)
	}
	if got := len(events(t, cw.db)); got != before {
		t.Fatalf("chain has %d events right after the crash, want %d", got, before)
	}
	np, ahead := bulkPending(t, cw.db, "plans")
	nt, _ := bulkPending(t, cw.db, "tasks")
	if np != 1 || nt != 3 || ahead != 2 {
		t.Fatalf("%d plans and %d tasks bear the event's mark, written ahead %d times; want 1, 3 and 2", np, nt, ahead)
	}
	recoveredOne(t, cw.db, before, "plan.dispatch", d.PlanID)
	if _, ahead := bulkPending(t, cw.db, "plans"); ahead != 0 {
		t.Errorf("%d events written ahead are left after recovery", ahead)
	}

	// The client, never answered, repeats the dispatch.
	out, err := cw.svc.Tasks.Dispatch(cw.ctx, d.ID)
	if err != nil || out.Created != 0 || len(out.TaskIDs) != 3 {
		t.Fatalf("repeated dispatch: %+v, %v; want nothing created", out, err)
	}
	if n := restart(t, cw.db); n != 0 || len(events(t, cw.db)) != before+1 {
		t.Errorf("the repeat added events: %d recovered, %d in all, want %d", n, len(events(t, cw.db)), before+1)
	}
}

// TestAuditCrashAfterADispatchRepeatedBeforeRecovery: the dispatch writes
// everything and the process dies before the event is appended; the
// client repeats it on another instance before any recovery ran. The
// repeat writes nothing and so records nothing — and must leave the
// event written ahead by the first attempt, which shares its ID, for
// recovery to append.
func TestAuditCrashAfterADispatchRepeatedBeforeRecovery(t *testing.T) {
	cw := newCrashWorld(t, nil)
	d := cw.drawn(t)
	recorder := cw.svc.Tasks.Audit
	cw.svc.Tasks.Audit = cw.crash
	before := actions(t, cw.db)["plan.dispatch"]

	cw.crashes(t, func() { _, _ = cw.svc.Tasks.Dispatch(cw.ctx, d.ID) })
	cw.svc.Tasks.Audit = recorder
	out, err := cw.svc.Tasks.Dispatch(cw.ctx, d.ID)
	if err != nil || out.Created != 0 {
		t.Fatalf("the repeat: %+v, %v; want nothing created", out, err)
	}
	if _, ahead := bulkPending(t, cw.db, "tasks"); ahead != 2 {
		t.Fatalf("%d events written ahead after the repeat, want the first attempt's 2 (plans and tasks)", ahead)
	}
	if n := restart(t, cw.db); n != 1 {
		t.Fatalf("recovery appended %d events, want the dispatch's 1", n)
	}
	if got := actions(t, cw.db)["plan.dispatch"]; got != before+1 {
		t.Errorf("%d plan.dispatch events, want %d", got, before+1)
	}
	if _, ahead := bulkPending(t, cw.db, "tasks"); ahead != 0 {
		t.Errorf("%d events written ahead are left after recovery", ahead)
	}
}

// TestAuditCrashHalfWayThroughADispatch: the process dies after the plan's
// move and before any task is written. Recovery appends the dispatch's
// event (the plan's document held it); the repeat then writes the tasks
// with the same event — its ID comes from the draw — so the chain still
// holds one plan.dispatch.
func TestAuditCrashHalfWayThroughADispatch(t *testing.T) {
	cw := newCrashWorld(t, nil)
	d := cw.drawn(t)
	faulty := &crashingTasks{TaskStore: cw.svc.Tasks.Tasks, fuse: fuse{armed: true}}
	cw.svc.Tasks.Tasks = faulty
	before := actions(t, cw.db)["plan.dispatch"]

	if !survive(t, func() { _, _ = cw.svc.Tasks.Dispatch(cw.ctx, d.ID) }) {
		t.Fatal("the injected crash did not happen")
	}
	if p, err := cw.db.Plans().FindPlanByID(t.Context(), d.PlanID); err != nil || p.Status != backend.PlanDispatched {
		t.Fatalf("the plan's move written before the crash: %+v, %v", p, err)
	}
	if n := restart(t, cw.db); n != 1 {
		t.Fatalf("recovery appended %d events, want the dispatch's 1", n)
	}
	out, err := cw.svc.Tasks.Dispatch(cw.ctx, d.ID)
	if err != nil || out.Created != 3 {
		t.Fatalf("the repeat: %+v, %v; want the 3 missing tasks created", out, err)
	}
	if got := actions(t, cw.db)["plan.dispatch"]; got != before+1 {
		t.Errorf("%d plan.dispatch events, want %d: the repeat recorded the dispatch again", got, before+1)
	}
	if nt, ahead := bulkPending(t, cw.db, "tasks"); nt != 3 || ahead != 0 {
		t.Errorf("after the repeat %d tasks bear the dispatch's mark (want 3), %d events are written ahead (want 0)", nt, ahead)
	}
	if n := restart(t, cw.db); n != 0 {
		t.Errorf("a later recovery appended %d events", n)
	}
}

// TestAuditCrashBetweenReplacementCommitAndEvent: the commitment of a
// member's replacement is stored and the process dies before its event;
// after a restart both are there once, and the repeated request is
// refused (the commitment waits for its draw) without a second event.
func TestAuditCrashBetweenReplacementCommitAndEvent(t *testing.T) {
	cw := newCrashWorld(t, nil)
	d := cw.drawn(t)
	out, err := cw.svc.Tasks.Dispatch(cw.ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	task, err := cw.db.Tasks().FindTaskByID(t.Context(), out.TaskIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	cw.svc.Tasks.Audit = cw.crash
	before := len(events(t, cw.db))
	badge := task.Members[0].BadgeNo

	cw.crashes(t, func() { _, _ = cw.svc.Tasks.CommitReplacement(cw.ctx, task.ID, badge, "回避", "") })
	reps, err := cw.db.Replacements().FindReplacementsByTask(t.Context(), task.ID)
	if err != nil || len(reps) != 1 || reps[0].State != backend.ReplacementCommitted {
		t.Fatalf("the commitment written before the crash: %+v, %v", reps, err)
	}
	if n := outboxEntries(t, cw.db, "replacements"); n != 1 {
		t.Fatalf("%d replacements hold a pending event, want 1", n)
	}
	recoveredOne(t, cw.db, before, "task.replacement_commit", task.ID)
	if _, err := cw.svc.Tasks.CommitReplacement(cw.ctx, task.ID, badge, "回避", ""); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Errorf("the repeated commitment: %v, want ECONFLICT (one is waiting for its draw)", err)
	}
	if n := restart(t, cw.db); n != 0 || len(events(t, cw.db)) != before+1 {
		t.Errorf("the repeat added events (%d recovered)", n)
	}
}

// leaderContext is a leader's, who is not the crash world's coordinator.
func leaderContext() context.Context {
	return backend.WithActor(context.Background(), &backend.Actor{UserID: "leader-1", Username: "leader", Roles: []backend.Role{backend.RoleLeader}})
}

// TestAuditCrashBetweenReplacementDecisionAndEvent: a leader's approval,
// and another's rejection, of a committed replacement is stored and the
// process dies before its event; after a restart the decision and its one
// event (task.replacement_approve, task.replacement_reject) are there,
// and the leader's repeat returns the decision without a second event.
func TestAuditCrashBetweenReplacementDecisionAndEvent(t *testing.T) {
	cw := newCrashWorld(t, nil)
	d := cw.drawn(t)
	out, err := cw.svc.Tasks.Dispatch(cw.ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The office (the lead department's staff) commits; the crash world's
	// coordinator, a leader too, decides.
	staff := backend.WithActor(context.Background(), &backend.Actor{UserID: "staff-1", Username: "staff", Roles: []backend.Role{backend.RoleStaff}, DepartmentID: cw.w.Brigade.ID})
	for i, decision := range []string{tasks.DecisionApprove, tasks.DecisionReject} {
		task, err := cw.db.Tasks().FindTaskByID(t.Context(), out.TaskIDs[i])
		if err != nil {
			t.Fatal(err)
		}
		r, err := cw.svc.Tasks.CommitReplacement(staff, task.ID, task.Members[0].BadgeNo, "回避", "")
		if err != nil {
			t.Fatal(err)
		}
		recorder := cw.svc.Tasks.Audit
		cw.svc.Tasks.Audit = cw.crash
		before := len(events(t, cw.db))

		cw.crashes(t, func() {
			_, _ = cw.svc.Tasks.DecideReplacement(cw.ctx, task.ID, r.ID, decision, "与企业无利害关系，不予替换")
		})
		cw.svc.Tasks.Audit = recorder
		got, err := cw.db.Replacements().FindReplacement(t.Context(), r.ID)
		decided := err == nil && got.ApprovedBy == "coord-1" && got.State == backend.ReplacementCommitted
		if decision == tasks.DecisionReject {
			decided = err == nil && got.RejectedBy == "coord-1" && got.State == backend.ReplacementRejected
		}
		if !decided {
			t.Fatalf("the %s written before the crash: %+v, %v", decision, got, err)
		}
		if n := outboxEntries(t, cw.db, "replacements"); n != 1 {
			t.Fatalf("%d replacements hold a pending event, want 1", n)
		}
		recoveredOne(t, cw.db, before, "task.replacement_"+decision, task.ID)
		if again, err := cw.svc.Tasks.DecideReplacement(cw.ctx, task.ID, r.ID, decision, "与企业无利害关系，不予替换"); err != nil ||
			again.State != got.State || !ptrTime(again.ApprovedAt).Equal(ptrTime(got.ApprovedAt)) || !ptrTime(again.RejectedAt).Equal(ptrTime(got.RejectedAt)) {
			t.Fatalf("the repeated %s: %+v, %v; want the decision as stored %+v", decision, again, err, got)
		}
		if n := restart(t, cw.db); n != 0 || len(events(t, cw.db)) != before+1 {
			t.Errorf("the repeat added events (%d recovered)", n)
		}
	}
}

// ptrTime is *p, or the zero time for nil.
func ptrTime(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return *p
}

// TestAuditCrashBetweenCalendarOverrideAndEvent: an override is stored
// and the process dies before its event; after a restart both are there
// once, and the same override put again records nothing.
func TestAuditCrashBetweenCalendarOverrideAndEvent(t *testing.T) {
	cw := newCrashWorld(t, nil)
	cw.svc.Tasks.Audit = cw.crash
	before := len(events(t, cw.db))
	o := backend.CalendarOverride{Date: "2031-10-08", Kind: "workday", Name: "国庆调休"}

	cw.crashes(t, func() { _, _ = cw.svc.Tasks.PutOverride(cw.ctx, o) })
	list, err := cw.db.Calendar().FindOverrides(t.Context())
	if err != nil || len(list) != 1 || list[0].Kind != "workday" {
		t.Fatalf("the override written before the crash: %+v, %v", list, err)
	}
	if n := outboxEntries(t, cw.db, "calendar_overrides"); n != 1 {
		t.Fatalf("%d overrides hold a pending event, want 1", n)
	}
	recoveredOne(t, cw.db, before, "calendar.override", o.Date)
	if _, err := cw.svc.Tasks.PutOverride(cw.ctx, o); err != nil {
		t.Fatal(err)
	}
	if n := restart(t, cw.db); n != 0 || len(events(t, cw.db)) != before+1 {
		t.Errorf("putting the same override again added events (%d recovered)", n)
	}
}

// TestAuditCrashInTheMiddleOfAnImport: an enterprise import of three rows
// in batches of two; the process dies after the first batch is written,
// before its event is appended. After a restart the two enterprises and
// the batch's one event are there — naming the file and the two records
// at the ids and versions they were written with — and the third row is
// neither stored nor claimed. Importing the file again stores the third
// row under an event of its own and claims the first two no second time.
func TestAuditCrashInTheMiddleOfAnImport(t *testing.T) {
	cw := newCrashWorld(t, nil)
	if _, err := cw.svc.Directory.EnsureTowns(cw.ctx); err != nil { // seeded on first use, with events of their own
		t.Fatal(err)
	}
	cw.svc.Directory.Audit = cw.crash
	rng := rand.New(rand.NewPCG(11, 11))
	codes := []string{uscc.Generate(rng), uscc.Generate(rng), uscc.Generate(rng)}
	file := "uscc,name,town,industry\n" + codes[0] + ",甲化工有限公司,巴公镇,化工\n" + codes[1] + ",乙煤业有限公司,高都镇,采矿\n" + codes[2] + ",丙冶金厂,金村镇,冶金\n"
	sum := sha256.Sum256([]byte(file))
	fileSHA := hex.EncodeToString(sum[:])
	opts := sheet.ImportOptions{Filename: "企业.csv", BatchSize: 2}
	before := len(events(t, cw.db))

	cw.crashes(t, func() { _, _ = cw.svc.Directory.ImportEnterprises(cw.ctx, strings.NewReader(file), opts) })
	stored, err := cw.db.Enterprises().FindEnterprisesByUSCC(t.Context(), codes)
	if err != nil || len(stored) != 2 {
		t.Fatalf("%d enterprises stored before the crash (%v), want the first batch's 2", len(stored), err)
	}
	if n, ahead := bulkPending(t, cw.db, "enterprises"); n != 2 || ahead != 1 {
		t.Fatalf("%d enterprises bear the batch's mark, written ahead %d times; want 2 and 1", n, ahead)
	}
	if n := restart(t, cw.db); n != 1 {
		t.Fatalf("recovery appended %d events, want the first batch's 1", n)
	}
	list := events(t, cw.db)
	last := list[len(list)-1]
	byCode := map[string]*backend.Enterprise{}
	for _, e := range stored {
		byCode[e.USCC] = e
	}
	want, err := audit.Digest(map[string]any{"filename": opts.Filename, "file_sha256": fileSHA, "partial": false, "batch": 1, "batches": 2,
		"rows": []sheet.Ref{{ID: byCode[codes[0]].ID, Key: codes[0], Version: 1}, {ID: byCode[codes[1]].ID, Key: codes[1], Version: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != before+1 || last.Action != "enterprise.import" || last.ObjectType != "enterprise_import" || last.ObjectID != fileSHA ||
		last.AfterDigest != want || last.ActorID != "coord-1" {
		t.Fatalf("after recovery the chain ends with %+v (%d events), want the first batch's enterprise.import naming its two records", last, len(list))
	}
	if _, ahead := bulkPending(t, cw.db, "enterprises"); ahead != 0 {
		t.Errorf("%d events written ahead are left after recovery", ahead)
	}

	// The file again: the two stored rows are unchanged, the third is new.
	report, err := cw.svc.Directory.ImportEnterprises(cw.ctx, strings.NewReader(file), opts)
	if err != nil || report.Created != 1 || report.Unchanged != 2 {
		t.Fatalf("the file again: %+v, %v", report, err)
	}
	list = events(t, cw.db)
	e3, err := cw.db.Enterprises().FindEnterpriseByUSCC(t.Context(), codes[2])
	if err != nil {
		t.Fatal(err)
	}
	want, _ = audit.Digest(map[string]any{"filename": opts.Filename, "file_sha256": fileSHA, "partial": false, "batch": 1, "batches": 1,
		"rows": []sheet.Ref{{ID: e3.ID, Key: codes[2], Version: 1}}})
	if len(list) != before+2 || list[len(list)-1].AfterDigest != want {
		t.Errorf("after the file again: %d events (want %d), the last %+v naming only the third record", len(list), before+2, list[len(list)-1])
	}
}

// TestAuditCrashInARosterImport: the roster's import stores each row on
// its own (StoreEach), every write with the batch's event; the process
// dies before the event is appended; after a restart the inspectors and
// one event are there.
func TestAuditCrashInARosterImport(t *testing.T) {
	cw := newCrashWorld(t, nil)
	cw.svc.Roster.Audit = cw.crash
	var rows []string
	for i := range 2 {
		u := &backend.User{ID: backend.NewID(), Username: fmt.Sprintf("crash.officer%d", i), DisplayName: "检查员", Roles: []backend.Role{backend.RoleInspector}, Version: 1}
		if err := cw.db.Users().CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, fmt.Sprintf("CRASH-%d,新检查员%d,%s,%s,2030-12-31,general", i, i, u.Username, cw.w.Brigade.Name))
	}
	file := "badge_no,name,username,department,certificate_expires,qualifications\n" + strings.Join(rows, "\n") + "\n"
	before := len(events(t, cw.db))

	cw.crashes(t, func() {
		_, _ = cw.svc.Roster.ImportInspectors(cw.ctx, strings.NewReader(file), sheet.ImportOptions{Filename: "roster.csv"})
	})
	for i := range 2 {
		if _, err := cw.db.Inspectors().FindInspectorByBadgeNo(t.Context(), fmt.Sprintf("CRASH-%d", i)); err != nil {
			t.Fatalf("inspector %d written before the crash: %v", i, err)
		}
	}
	if n, ahead := bulkPending(t, cw.db, "inspectors"); n != 2 || ahead != 1 {
		t.Fatalf("%d inspectors bear the batch's mark, written ahead %d times; want 2 and 1", n, ahead)
	}
	if n := restart(t, cw.db); n != 1 {
		t.Fatalf("recovery appended %d events, want 1", n)
	}
	list := events(t, cw.db)
	if last := list[len(list)-1]; len(list) != before+1 || last.Action != "inspector.import" {
		t.Fatalf("after recovery the chain ends with %+v (%d events), want one inspector.import", last, len(list))
	}
	if _, ahead := bulkPending(t, cw.db, "inspectors"); ahead != 0 {
		t.Errorf("%d events written ahead are left after recovery", ahead)
	}
}

// gonePush is a push transport for which every token is gone (FCM's
// UNREGISTERED), so the pusher prunes every device it sends to.
type gonePush struct{}

func (gonePush) Push(context.Context, backend.PushMessage) error {
	return backend.Errorf(backend.ENOTFOUND, "token unregistered")
}

// TestAuditCrashBetweenDevicePruneAndEvent: the pusher prunes a device
// whose token is gone and the process dies before the device.prune event
// is appended. The device is marked deleted with its event in one write:
// it is no longer sent to, and after a restart the event is in the chain
// once and the device is gone.
func TestAuditCrashBetweenDevicePruneAndEvent(t *testing.T) {
	cw := newCrashWorld(t, gonePush{})
	user := backend.WithActor(context.Background(), &backend.Actor{UserID: "officer-1", Username: "officer", Roles: []backend.Role{backend.RoleInspector}})
	d, err := cw.svc.Accounts.RegisterDevice(user, "dead-token", backend.PlatformAndroid)
	if err != nil {
		t.Fatal(err)
	}
	if err := cw.svc.Notify.Notify(t.Context(), []*backend.Notification{{ID: "crash-note-1", UserID: "officer-1", Kind: backend.NoteTaskAssigned, Title: "新检查任务", Body: "测试"}}); err != nil {
		t.Fatal(err)
	}
	cw.svc.Notify.Audit = cw.crash
	before := len(events(t, cw.db))

	cw.crashes(t, func() { _, _ = cw.svc.Notify.PushPending(t.Context()) })
	if _, err := cw.db.Devices().FindDeviceByID(t.Context(), d.ID); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Fatalf("the pruned device is still found after the crash: %v", err)
	}
	if n := outboxEntries(t, cw.db, "devices"); n != 1 {
		t.Fatalf("%d devices hold a pending event, want the pruned one", n)
	}
	if n := restart(t, cw.db); n != 1 {
		t.Fatalf("recovery appended %d events, want 1", n)
	}
	list := events(t, cw.db)
	if last := list[len(list)-1]; len(list) != before+1 || last.Action != "device.prune" || last.ObjectID != d.ID || last.BeforeDigest == "" {
		t.Fatalf("after recovery the chain ends with %+v (%d events), want the device.prune of %s", last, len(list), d.ID)
	}
	if n, err := cw.db.Database().Collection("devices").CountDocuments(t.Context(), map[string]string{"_id": d.ID}); err != nil || n != 0 {
		t.Errorf("the pruned device is still stored after recovery (%d, %v)", n, err)
	}
	if n := restart(t, cw.db); n != 0 {
		t.Errorf("a second recovery appended %d events", n)
	}
}

// TestAuditCrashBetweenDeviceChangesAndEvents: a device registered, then
// deleted by its user, the process dying before each event; after each
// restart the change and its one event are there.
func TestAuditCrashBetweenDeviceChangesAndEvents(t *testing.T) {
	cw := newCrashWorld(t, nil)
	cw.svc.Accounts.Audit = cw.crash
	user := backend.WithActor(context.Background(), &backend.Actor{UserID: "officer-2", Username: "officer2", Roles: []backend.Role{backend.RoleInspector}})
	before := len(events(t, cw.db))

	cw.crashes(t, func() { _, _ = cw.svc.Accounts.RegisterDevice(user, "token-2", backend.PlatformIOS) })
	list, err := cw.db.Devices().FindDevicesByUser(t.Context(), "officer-2")
	if err != nil || len(list) != 1 {
		t.Fatalf("the registration written before the crash: %+v, %v", list, err)
	}
	d := list[0]
	if n := restart(t, cw.db); n != 1 {
		t.Fatalf("recovery appended %d events, want 1", n)
	}
	evs := events(t, cw.db)
	if last := evs[len(evs)-1]; len(evs) != before+1 || last.Action != "device.register" || last.ObjectID != d.ID {
		t.Fatalf("after recovery the chain ends with %+v, want the device.register of %s", last, d.ID)
	}

	cw.crashes(t, func() { _ = cw.svc.Accounts.DeleteDevice(user, d.ID) })
	if list, err := cw.db.Devices().FindDevicesByUser(t.Context(), "officer-2"); err != nil || len(list) != 0 {
		t.Fatalf("the deletion written before the crash: %+v, %v", list, err)
	}
	if n := restart(t, cw.db); n != 1 {
		t.Fatalf("recovery appended %d events, want 1", n)
	}
	evs = events(t, cw.db)
	if last := evs[len(evs)-1]; len(evs) != before+2 || last.Action != "device.delete" || last.ObjectID != d.ID {
		t.Fatalf("after recovery the chain ends with %+v, want the device.delete of %s", last, d.ID)
	}
	// The user, never answered, deletes again: the device is gone.
	if err := cw.svc.Accounts.DeleteDevice(user, d.ID); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Errorf("deleting again: %v, want ENOTFOUND", err)
	}
	if got := len(events(t, cw.db)); got != before+2 {
		t.Errorf("%d events after the repeat, want %d", got, before+2)
	}
}

// crashingPlans is the real plan store with a fault injected: when armed,
// UpdatePlan panics before it writes, as if the process stopped after a
// commit stored its seed, or a draw its attempt, and before the plan.
type crashingPlans struct {
	backend.PlanStore
	fuse
}

func (c *crashingPlans) UpdatePlan(ctx context.Context, p *backend.Plan) error {
	c.blow()
	return c.PlanStore.UpdatePlan(ctx, p)
}

// TestAuditCrashBetweenDrawAndEvent: a draw stores its attempt and the
// process dies before the plan is marked and the plan.draw event is
// appended. The attempt bears the event's mark (written ahead), so after
// a restart the attempt and its one event are there; the client's repeat
// finishes the plan's bookkeeping with the same event, which the chain
// does not take twice.
func TestAuditCrashBetweenDrawAndEvent(t *testing.T) {
	cw := newCrashWorld(t, nil)
	p := cw.approved(t)
	if _, err := cw.svc.Plans.CommitSeed(cw.ctx, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	faulty := &crashingPlans{PlanStore: cw.svc.Plans.Plans, fuse: fuse{armed: true}}
	cw.svc.Plans.Plans = faulty
	before := len(events(t, cw.db))

	if !survive(t, func() { _, _ = cw.svc.Plans.Draw(cw.ctx, p.ID, "") }) {
		t.Fatal("the injected crash did not happen")
	}
	stored, err := cw.db.Draws().FindDrawsByPlan(t.Context(), p.ID)
	if err != nil || len(stored) != 1 {
		t.Fatalf("%d attempts stored before the crash (%v), want 1", len(stored), err)
	}
	if got, err := cw.db.Plans().FindPlanByID(t.Context(), p.ID); err != nil || got.DrawCount != 0 || got.Status != backend.PlanApproved {
		t.Fatalf("the plan was marked before the crash: %+v, %v", got, err)
	}
	if got := len(events(t, cw.db)); got != before {
		t.Fatalf("chain has %d events right after the crash, want %d", got, before)
	}
	if nd, ahead := bulkPending(t, cw.db, "draws"); nd != 1 || ahead != 1 {
		t.Fatalf("%d draws bear the event's mark, written ahead %d times; want 1 and 1", nd, ahead)
	}
	recoveredOne(t, cw.db, before, "plan.draw", p.ID)
	if _, ahead := bulkPending(t, cw.db, "draws"); ahead != 0 {
		t.Errorf("%d events written ahead are left after recovery", ahead)
	}

	// The client, never answered, repeats the draw: the same attempt.
	d, err := cw.svc.Plans.Draw(cw.ctx, p.ID, "")
	if err != nil || d.ID != stored[0].ID || d.Record.Seed != stored[0].Record.Seed {
		t.Fatalf("repeated draw: %+v, %v; want the stored attempt %s", d, err, stored[0].ID)
	}
	if got, err := cw.db.Plans().FindPlanByID(t.Context(), p.ID); err != nil || got.Status != backend.PlanDrawn || got.CurrentDrawID != d.ID || got.DrawCount != 1 {
		t.Fatalf("the plan after the repeat: %+v, %v", got, err)
	}
	if n := restart(t, cw.db); n != 0 || actions(t, cw.db)["plan.draw"] != 1 || len(events(t, cw.db)) != before+1 {
		t.Errorf("the repeat added events: %d recovered, %d plan.draw, %d in all, want %d", n, actions(t, cw.db)["plan.draw"], len(events(t, cw.db)), before+1)
	}
	if np, ahead := bulkPending(t, cw.db, "plans"); np != 1 || ahead != 0 {
		t.Errorf("after the repeat %d plans bear a mark (want 1), %d events are written ahead (want 0)", np, ahead)
	}
}

// TestAuditCrashBetweenCommitSeedAndEvent: a commit stores its sealed seed
// and the process dies before the plan publishes the commitment and the
// plan.commit event is appended. The seed bears the event's mark, so after
// a restart the event is in the chain once; the repeat publishes the seed
// stored (no fresh one: the event names its commitment) with the same
// event, and the attempt then draws with it.
func TestAuditCrashBetweenCommitSeedAndEvent(t *testing.T) {
	cw := newCrashWorld(t, nil)
	p := cw.approved(t)
	faulty := &crashingPlans{PlanStore: cw.svc.Plans.Plans, fuse: fuse{armed: true}}
	cw.svc.Plans.Plans = faulty
	before := len(events(t, cw.db))

	if !survive(t, func() { _, _ = cw.svc.Plans.CommitSeed(cw.ctx, p.ID, "") }) {
		t.Fatal("the injected crash did not happen")
	}
	sealed, err := cw.db.Plans().LoadSeed(t.Context(), p.ID, 1)
	if err != nil {
		t.Fatalf("the seed stored before the crash: %v", err)
	}
	if got, err := cw.db.Plans().FindPlanByID(t.Context(), p.ID); err != nil || got.Commitment != nil {
		t.Fatalf("the commitment was published before the crash: %+v, %v", got, err)
	}
	if got := len(events(t, cw.db)); got != before {
		t.Fatalf("chain has %d events right after the crash, want %d", got, before)
	}
	if ns, ahead := bulkPending(t, cw.db, "plan_seeds"); ns != 1 || ahead != 1 {
		t.Fatalf("%d seeds bear the event's mark, written ahead %d times; want 1 and 1", ns, ahead)
	}
	recoveredOne(t, cw.db, before, "plan.commit", p.ID)

	// The client, never answered, commits again.
	committed, err := cw.svc.Plans.CommitSeed(cw.ctx, p.ID, "")
	if err != nil {
		t.Fatalf("the repeated commit: %v", err)
	}
	again, err := cw.db.Plans().LoadSeed(t.Context(), p.ID, 1)
	if err != nil || !bytes.Equal(again, sealed) {
		t.Fatalf("the repeat stored another seed (%v): the event names the first one's commitment", err)
	}
	if n := restart(t, cw.db); n != 0 || actions(t, cw.db)["plan.commit"] != 1 || len(events(t, cw.db)) != before+1 {
		t.Errorf("the repeat added events: %d recovered, %d plan.commit, %d in all, want %d", n, actions(t, cw.db)["plan.commit"], len(events(t, cw.db)), before+1)
	}
	if _, ahead := bulkPending(t, cw.db, "plans"); ahead != 0 {
		t.Errorf("%d events written ahead are left after the repeat", ahead)
	}
	d, err := cw.svc.Plans.Draw(cw.ctx, p.ID, "")
	if err != nil || d.Record.SeedCommitment != committed.SeedCommitment {
		t.Fatalf("drawing the commitment published by the repeat: %+v, %v", d, err)
	}
}

// crashingReplacements is the real replacement store with a fault
// injected: when armed, MarkReplacementDrawn panics before it writes, as
// if the process stopped after the replacement's record was stored.
type crashingReplacements struct {
	backend.ReplacementStore
	fuse
}

func (c *crashingReplacements) MarkReplacementDrawn(ctx context.Context, id string, rec *draw.Replacement) error {
	c.blow()
	return c.ReplacementStore.MarkReplacementDrawn(ctx, id, rec)
}

// TestAuditCrashBetweenReplacementDrawAndEvent: a replacement's draw
// stores its public record and the process dies before the replacement is
// marked drawn, the task's group changes and the task.replace event is
// appended. The record bears the event's mark, so after a restart the
// record and its one event are there; the repeat finishes the replacement
// with the same event, which the chain does not take twice.
func TestAuditCrashBetweenReplacementDrawAndEvent(t *testing.T) {
	cw := newCrashWorld(t, nil)
	d := cw.drawn(t)
	out, err := cw.svc.Tasks.Dispatch(cw.ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	task, err := cw.db.Tasks().FindTaskByID(t.Context(), out.TaskIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	badge := task.Members[0].BadgeNo
	r, err := cw.svc.Tasks.CommitReplacement(cw.ctx, task.ID, badge, "回避", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cw.svc.Tasks.DecideReplacement(leaderContext(), task.ID, r.ID, tasks.DecisionApprove, ""); err != nil {
		t.Fatal(err)
	}
	faulty := &crashingReplacements{ReplacementStore: cw.svc.Tasks.Replacements, fuse: fuse{armed: true}}
	cw.svc.Tasks.Replacements = faulty
	before := len(events(t, cw.db))

	if !survive(t, func() { _, _ = cw.svc.Tasks.DrawReplacement(cw.ctx, task.ID, r.ID, "") }) {
		t.Fatal("the injected crash did not happen")
	}
	rec, err := cw.db.Replacements().FindReplacementRecord(t.Context(), r.ID)
	if err != nil {
		t.Fatalf("the record stored before the crash: %v", err)
	}
	if got, err := cw.db.Tasks().FindTaskByID(t.Context(), task.ID); err != nil || got.Version != task.Version {
		t.Fatalf("the task changed before the crash: %+v, %v", got, err)
	}
	if got := len(events(t, cw.db)); got != before {
		t.Fatalf("chain has %d events right after the crash, want %d", got, before)
	}
	if nr, ahead := bulkPending(t, cw.db, "replacement_records"); nr != 1 || ahead != 1 {
		t.Fatalf("%d records bear the event's mark, written ahead %d times; want 1 and 1", nr, ahead)
	}
	recoveredOne(t, cw.db, before, "task.replace", task.ID)

	// The client, never answered, repeats the draw: the same record.
	again, err := cw.svc.Tasks.DrawReplacement(cw.ctx, task.ID, r.ID, "")
	if err != nil || again.In != rec.In || again.Seq != rec.Seq {
		t.Fatalf("the repeated draw: %+v, %v; want the stored record %+v", again, err, rec)
	}
	got, err := cw.db.Tasks().FindTaskByID(t.Context(), task.ID)
	if err != nil {
		t.Fatal(err)
	}
	var active []string
	for _, m := range got.Members {
		if m.Active() {
			active = append(active, m.BadgeNo)
		}
	}
	if slices.Contains(active, badge) || !slices.Contains(active, rec.In) {
		t.Fatalf("after the repeat the group is %v: %s should be out, %s in", active, badge, rec.In)
	}
	if reps, err := cw.db.Replacements().FindReplacementsByTask(t.Context(), task.ID); err != nil || len(reps) != 1 || reps[0].State != backend.ReplacementDrawn {
		t.Fatalf("the replacement after the repeat: %+v, %v", reps, err)
	}
	if n := restart(t, cw.db); n != 0 || actions(t, cw.db)["task.replace"] != 1 || len(events(t, cw.db)) != before+1 {
		t.Errorf("the repeat added events: %d recovered, %d task.replace, %d in all, want %d", n, actions(t, cw.db)["task.replace"], len(events(t, cw.db)), before+1)
	}
	if _, ahead := bulkPending(t, cw.db, "tasks"); ahead != 0 {
		t.Errorf("%d events written ahead are left after the repeat", ahead)
	}
}

// recoveredOne runs recovery after an injected crash and checks that it
// appended exactly the crashed change's one event — action on objectID,
// by the crashed request's actor and with its request id — to a chain
// that verifies.
func recoveredOne(t *testing.T, db *mongodb.DB, before int, action, objectID string) {
	t.Helper()
	if n := restart(t, db); n != 1 {
		t.Fatalf("recovery appended %d events, want 1", n)
	}
	list := events(t, db)
	last := list[len(list)-1]
	if len(list) != before+1 || last.Action != action || last.ObjectID != objectID || last.ActorID != "coord-1" || last.RequestID != "req-crash" {
		t.Fatalf("after recovery the chain ends with %+v (%d events), want the %s of %s", last, len(list), action, objectID)
	}
}
