package wire_test

import (
	"context"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
	"suiji/backend/accounts"
	"suiji/backend/audit"
	"suiji/backend/directory"
	"suiji/backend/tasks"
	"suiji/backend/uscc"
	"suiji/storage/mongodb"
	"suiji/storage/storagetest"
)

// crash is what the injected fault panics with: the process "dies" at that
// point, and nothing after it in the request runs.
type crash struct{}

// fuse is the injected fault of a store: armed, the next call through it
// panics with crash{} before the store writes, once.
type fuse struct{ armed bool }

func (f *fuse) blow() {
	if f.armed {
		f.armed = false
		panic(crash{})
	}
}

// crashingAudit is the real audit store with a fault injected: the first
// InsertAuditEvent panics before it writes, as if the process stopped
// between a change and its audit event.
type crashingAudit struct {
	backend.AuditStore
	fuse
}

func (c *crashingAudit) InsertAuditEvent(ctx context.Context, e *backend.AuditEvent) error {
	c.blow()
	return c.AuditStore.InsertAuditEvent(ctx, e)
}

// survive runs f and swallows the injected crash, failing on anything else.
func survive(t *testing.T, f func()) (crashed bool) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(crash); !ok {
				panic(p)
			}
			crashed = true
		}
	}()
	f()
	return false
}

// restart recovers as a freshly started server does: a new recorder on the
// real stores, then Recover.
func restart(t *testing.T, db *mongodb.DB) int {
	t.Helper()
	r := &audit.Recorder{Store: db.AuditEvents(), Outbox: db.AuditOutbox()}
	n, err := r.Recover(t.Context(), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	return n
}

// events returns the chain, checking that it verifies.
func events(t *testing.T, db *mongodb.DB) []*backend.AuditEvent {
	t.Helper()
	rep, err := audit.Verify(t.Context(), db.AuditEvents())
	if err != nil || rep.Break != nil {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	list, err := db.AuditEvents().FindAuditEvents(t.Context(), backend.AuditFilter{Limit: backend.AuditMaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// outboxEntries counts the pending audit events left in collection.
func outboxEntries(t *testing.T, db *mongodb.DB, collection string) int64 {
	t.Helper()
	n, err := db.Database().Collection(collection).CountDocuments(t.Context(), bson.D{{Key: "audit_outbox", Value: bson.D{{Key: "$exists", Value: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func adminContext() context.Context {
	ctx := backend.WithRequestID(context.Background(), "req-crash")
	return backend.WithActor(ctx, &backend.Actor{UserID: "admin-1", Username: "admin", Roles: []backend.Role{backend.RoleAdmin}, ClientIP: "203.0.113.5"})
}

// TestAuditCrashBetweenChangeAndEvent injects a crash right after a change
// is stored and before its audit event is appended, for a creation and for
// an update (an admin disabling a user), and restarts: after recovery the
// change and its event are both there, once, and the chain verifies.
func TestAuditCrashBetweenChangeAndEvent(t *testing.T) {
	db := storagetest.Mongo(t)
	store := &crashingAudit{AuditStore: db.AuditEvents()}
	recorder := &audit.Recorder{Store: store, Outbox: db.AuditOutbox()}
	dir := &directory.Service{Towns: db.Towns(), Departments: db.Departments(), Enterprises: db.Enterprises(),
		Versions: db.Versions(), Audit: recorder, Now: time.Now}
	acc := &accounts.Service{Users: db.Users(), Devices: db.Devices(), Sessions: nil, Audit: recorder, Now: time.Now}
	ctx := adminContext()
	if _, err := dir.EnsureTowns(ctx); err != nil {
		t.Fatal(err)
	}
	before := len(events(t, db))

	// A creation: the enterprise is stored, then the process dies.
	store.armed = true
	code := uscc.Generate(rand.New(rand.NewPCG(7, 7)))
	if !survive(t, func() {
		_, _ = dir.CreateEnterprise(ctx, directory.NewEnterprise{USCC: code, Name: "晋城市某化工有限公司", Town: "巴公镇", Industry: "化工"})
	}) {
		t.Fatal("the injected crash did not happen")
	}
	e, err := db.Enterprises().FindEnterpriseByUSCC(t.Context(), code)
	if err != nil {
		t.Fatalf("the enterprise written before the crash is gone: %v", err)
	}
	if got := len(events(t, db)); got != before {
		t.Fatalf("chain has %d events right after the crash, want %d (the event is only staged)", got, before)
	}
	if n := outboxEntries(t, db, "enterprises"); n != 1 {
		t.Fatalf("%d enterprises hold a pending event, want 1", n)
	}
	if n := restart(t, db); n != 1 {
		t.Fatalf("recovery appended %d events, want 1", n)
	}
	list := events(t, db)
	last := list[len(list)-1]
	if len(list) != before+1 || last.Action != "enterprise.create" || last.ObjectID != e.ID ||
		last.ActorID != "admin-1" || last.RequestID != "req-crash" || last.ClientIP != "203.0.113.5" {
		t.Fatalf("after recovery the chain ends with %+v (%d events), want the enterprise.create of %s by admin-1", last, len(list), e.ID)
	}
	if n := outboxEntries(t, db, "enterprises"); n != 0 {
		t.Errorf("%d pending events left after recovery", n)
	}
	if n := restart(t, db); n != 0 || len(events(t, db)) != before+1 {
		t.Errorf("a second recovery appended %d more events", n)
	}

	// An update: an admin disables a user; the process dies before the
	// event. Sessions are not reached (the crash comes first), so none are
	// needed here.
	u := &backend.User{ID: backend.NewID(), Username: "li.lei", DisplayName: "李雷", Roles: []backend.Role{backend.RoleInspector}, Version: 1}
	if err := db.Users().CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	disabled := true
	store.armed = true
	if !survive(t, func() { _, _ = acc.UpdateUser(ctx, u.ID, accounts.UserPatch{Disabled: &disabled}) }) {
		t.Fatal("the injected crash did not happen")
	}
	if got, _ := db.Users().FindUserByID(t.Context(), u.ID); !got.Disabled {
		t.Fatal("the disable written before the crash is gone")
	}
	if n := restart(t, db); n != 1 {
		t.Fatalf("recovery appended %d events, want 1", n)
	}
	list = events(t, db)
	if last := list[len(list)-1]; last.Action != "user.update" || last.ObjectID != u.ID || last.BeforeDigest == "" || last.AfterDigest == last.BeforeDigest {
		t.Fatalf("after recovery the chain ends with %+v, want the user.update of %s", last, u.ID)
	}
	if n := outboxEntries(t, db, "users"); n != 0 {
		t.Errorf("%d users hold a pending event after recovery", n)
	}
}

// TestAuditCrashBetweenTaskChangeAndEvent: a task cancelled by the
// coordinator, the process dying between the task's write and its audit
// event; after a restart the cancellation and its event are both there,
// once (the task's writes carry their event, backend/tasks.updateTask).
func TestAuditCrashBetweenTaskChangeAndEvent(t *testing.T) {
	db := storagetest.Mongo(t)
	store := &crashingAudit{AuditStore: db.AuditEvents()}
	svc := &tasks.Service{Tasks: db.Tasks(), Plans: db.Plans(), Audit: &audit.Recorder{Store: store, Outbox: db.AuditOutbox()}, Now: time.Now}
	task := &backend.Task{ID: backend.NewID(), Kind: backend.TaskTargeted, Source: "complaint", Reason: "群众举报", Year: 2026,
		LeadDepartmentID: "dept-1", DepartmentIDs: []string{"dept-1"}, State: backend.TaskAssigned, Version: 1,
		Enterprise: backend.TaskEnterprise{ID: "e-1", USCC: uscc.Generate(rand.New(rand.NewPCG(9, 9))), Name: "某化工有限公司", Town: "巴公镇"},
		CreatedAt:  time.Now().UTC(), UpdatedAt: time.Now().UTC()}
	if _, err := db.Tasks().InsertTasks(t.Context(), []*backend.Task{task}); err != nil {
		t.Fatal(err)
	}
	ctx := backend.WithActor(backend.WithRequestID(context.Background(), "req-cancel"),
		&backend.Actor{UserID: "coord-1", Username: "coordinator", Roles: []backend.Role{backend.RoleCoordinator}})
	before := len(events(t, db))

	store.armed = true
	if !survive(t, func() { _, _ = svc.Cancel(ctx, task.ID, 0, "企业已注销") }) {
		t.Fatal("the injected crash did not happen")
	}
	got, err := db.Tasks().FindTaskByID(t.Context(), task.ID)
	if err != nil || got.State != backend.TaskCancelled {
		t.Fatalf("the cancellation written before the crash: %+v, %v", got, err)
	}
	if n := outboxEntries(t, db, "tasks"); n != 1 {
		t.Fatalf("%d tasks hold a pending event after the crash, want 1", n)
	}
	if n := restart(t, db); n != 1 {
		t.Fatalf("recovery appended %d events, want 1", n)
	}
	list := events(t, db)
	if last := list[len(list)-1]; len(list) != before+1 || last.Action != "task.cancel" || last.ObjectID != task.ID || last.ActorID != "coord-1" {
		t.Fatalf("after recovery the chain ends with %+v (%d events), want the task.cancel of %s", last, len(list), task.ID)
	}
	if n := outboxEntries(t, db, "tasks"); n != 0 {
		t.Errorf("%d tasks hold a pending event after recovery", n)
	}
}

// TestAuditCrashBeforeTheChangeLeavesNeither: when the write itself does
// not happen (MongoDB is gone before the change is stored), there is
// neither a change nor an event, before or after recovery.
func TestAuditCrashBeforeTheChangeLeavesNeither(t *testing.T) {
	db := storagetest.Mongo(t)
	cfg := storagetest.Config(t)
	proxy := storagetest.NewProxy(t, hostPort(t, cfg.MongoURI))
	cut, err := mongodb.Open(t.Context(), mongodb.Options{URI: "mongodb://" + proxy.Addr() + "/?serverSelectionTimeoutMS=500&connectTimeoutMS=500", Database: db.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cut.Close(context.Background()) })
	dir := &directory.Service{Towns: db.Towns(), Departments: db.Departments(), Enterprises: cut.Enterprises(),
		Versions: cut.Versions(), Audit: &audit.Recorder{Store: cut.AuditEvents(), Outbox: cut.AuditOutbox()}, Now: time.Now}
	ctx := adminContext()
	if _, err := dir.EnsureTowns(ctx); err != nil {
		t.Fatal(err)
	}
	before := len(events(t, db))
	proxy.Cut()
	code := uscc.Generate(rand.New(rand.NewPCG(8, 8)))
	if _, err := dir.CreateEnterprise(ctx, directory.NewEnterprise{USCC: code, Name: "某煤矿", Town: "巴公镇", Industry: "采矿"}); backend.ErrorCode(err) != backend.EUNAVAILABLE {
		t.Fatalf("CreateEnterprise with MongoDB gone: %v, want EUNAVAILABLE", err)
	}
	restart(t, db)
	if _, err := db.Enterprises().FindEnterpriseByUSCC(t.Context(), code); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Errorf("an enterprise exists after a failed write: %v", err)
	}
	if got := len(events(t, db)); got != before {
		t.Errorf("chain has %d events, want %d: an event without its change", got, before)
	}
}

// TestAuditStoreOutageAfterTheChange: the audit store fails (its own
// connection is cut) after the change is stored. The caller is told the
// change succeeded — it must not retry and make it twice — and recovery
// appends the event exactly once.
func TestAuditStoreOutageAfterTheChange(t *testing.T) {
	db := storagetest.Mongo(t)
	cfg := storagetest.Config(t)
	proxy := storagetest.NewProxy(t, hostPort(t, cfg.MongoURI))
	cut, err := mongodb.Open(t.Context(), mongodb.Options{URI: "mongodb://" + proxy.Addr() + "/?serverSelectionTimeoutMS=500&connectTimeoutMS=500", Database: db.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cut.Close(context.Background()) })
	var deferred int
	recorder := &audit.Recorder{Store: cut.AuditEvents(), Outbox: db.AuditOutbox(),
		Deferred: func(context.Context, *backend.AuditEvent, error) { deferred++ }}
	dir := &directory.Service{Towns: db.Towns(), Departments: db.Departments(), Enterprises: db.Enterprises(),
		Versions: db.Versions(), Audit: recorder, Now: time.Now}
	ctx := adminContext()
	if _, err := dir.EnsureTowns(ctx); err != nil {
		t.Fatal(err)
	}
	before := len(events(t, db))
	proxy.Cut()
	e, err := dir.CreateEnterprise(ctx, directory.NewEnterprise{USCC: uscc.Generate(rand.New(rand.NewPCG(9, 9))), Name: "某冶金厂", Town: "高都镇", Industry: "冶金"})
	if err != nil {
		t.Fatalf("CreateEnterprise with the audit store down: %v; the change is stored, so it must succeed", err)
	}
	if deferred != 1 {
		t.Errorf("the deferred event was reported %d times, want 1", deferred)
	}
	if n := restart(t, db); n != 1 {
		t.Fatalf("recovery appended %d events, want 1", n)
	}
	list := events(t, db)
	if len(list) != before+1 || list[len(list)-1].ObjectID != e.ID {
		t.Fatalf("chain ends with %+v, want the creation of %s", list[len(list)-1], e.ID)
	}
}

// hostPort returns the host:port of a mongodb:// URI.
func hostPort(t *testing.T, uri string) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		t.Fatalf("SUIJI_MONGO_URI %q has no host", uri)
	}
	return u.Host
}
