package mongodb_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
	"suiji/backend/uscc"
	"suiji/storage/mongodb"
	"suiji/storage/storagetest"
)

// staged returns a context carrying a staged event for object id.
func staged(id, action string, at time.Time) (context.Context, *backend.PendingAudit) {
	p := &backend.PendingAudit{Event: backend.AuditEvent{ID: backend.NewID(), Time: at.UTC().Truncate(time.Millisecond),
		Action: action, ObjectType: "inspector", ObjectID: id, ActorID: "u-1", AfterDigest: "d"}}
	return backend.WithPendingAudit(context.Background(), p), p
}

func pending(t *testing.T, db *mongodb.DB) []*backend.PendingAudit {
	t.Helper()
	list, err := db.AuditOutbox().PendingAuditEvents(t.Context(), time.Now().Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestOutboxTravelsWithTheWrite: an insert and a versioned replace each
// store their staged event in the document; a replace keeps the events
// already there (a later change never wipes out an earlier one's pending
// event); clearing removes them, and the field once empty; a failed write
// stores nothing and marks nothing stored.
func TestOutboxTravelsWithTheWrite(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.Inspectors()
	t0 := time.Now().Add(-time.Minute)
	in := &backend.Inspector{ID: backend.NewID(), UserID: "u-9", Name: "王强", BadgeNo: "14052500001", CertificateExpires: "2030-01-01",
		DepartmentID: "d-1", Qualifications: []string{"general"}, Phone: "13800000000", Active: true, Version: 1}
	ctx1, p1 := staged(in.ID, "inspector.create", t0)
	if err := store.CreateInspector(ctx1, in); err != nil {
		t.Fatal(err)
	}
	if !p1.IsStored() || backend.PendingAuditFromContext(ctx1) != nil {
		t.Fatal("the insert did not take its staged event")
	}

	// An update whose event is never cleared (a crash), then another.
	in.Phone = "" // omitempty: the replace must unset it
	ctx2, p2 := staged(in.ID, "inspector.update", t0.Add(time.Second))
	if err := store.UpdateInspector(ctx2, in); err != nil {
		t.Fatal(err)
	}
	got := pending(t, db)
	if len(got) != 2 || got[0].Event.ID != p1.Event.ID || got[1].Event.ID != p2.Event.ID {
		t.Fatalf("pending %v, want the create's and the update's events in time order", got)
	}
	if got[1].Event != p2.Event {
		t.Errorf("pending event read back as %+v, want %+v", got[1].Event, p2.Event)
	}
	stored, err := store.FindInspectorByID(t.Context(), in.ID)
	if err != nil || stored.Phone != "" || stored.Version != 2 {
		t.Fatalf("after the replace: %+v, %v; want no phone, version 2", stored, err)
	}

	// A stale compare-and-set stores neither the change nor its event.
	ctx3, p3 := staged(in.ID, "inspector.update", t0.Add(2*time.Second))
	in.Version = 1
	if err := store.UpdateInspector(ctx3, in); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("stale update: %v, want ECONFLICT", err)
	}
	if p3.IsStored() || len(pending(t, db)) != 2 {
		t.Error("a refused write stored its event")
	}

	for _, p := range got {
		if err := p.Clear(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if left := pending(t, db); len(left) != 0 {
		t.Errorf("%d events left after clearing", len(left))
	}
	n, err := db.Database().Collection("inspectors").CountDocuments(t.Context(), bson.D{{Key: "audit_outbox", Value: bson.D{{Key: "$exists", Value: true}}}})
	if err != nil || n != 0 {
		t.Errorf("%d documents keep an empty outbox field (%v)", n, err)
	}
}

// TestStoresWithoutAnOutboxLeaveTheEventStaged: a store that keeps no
// outbox (versions, which are written beside a change) ignores a staged
// event, so Auditor.Change appends it after the write instead.
func TestStoresWithoutAnOutboxLeaveTheEventStaged(t *testing.T) {
	db := storagetest.Mongo(t)
	ctx, p := staged("x", "inspector.update", time.Now())
	err := db.Versions().AppendVersion(ctx, &backend.Version{ObjectType: "inspector", ObjectID: "x", Number: 2, At: time.Now(), Action: "update"})
	if err != nil {
		t.Fatalf("versions keep no outbox and ignore staged events: %v", err)
	}
	if p.IsStored() {
		t.Error("a write without an outbox claimed the event")
	}
}

// bulkStaged returns a context carrying a staged bulk event (one event for
// every document a batch writes).
func bulkStaged(action string, at time.Time) (context.Context, *backend.PendingAudit) {
	p := &backend.PendingAudit{Bulk: true, Event: backend.AuditEvent{ID: backend.NewID(), Time: at.UTC().Truncate(time.Millisecond),
		Action: action, ObjectType: "enterprise_import", ObjectID: "sha", ActorID: "u-1", AfterDigest: "d"}}
	return backend.WithPendingAudit(context.Background(), p), p
}

// count counts the documents of collection matching filter.
func count(t *testing.T, db *mongodb.DB, collection string, filter bson.D) int64 {
	t.Helper()
	n, err := db.Database().Collection(collection).CountDocuments(t.Context(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBulkWritesMarkEveryDocumentWithOneEvent: a bulk change's event is
// written ahead once per collection, and every document its bulk insert
// and bulk update store — not a duplicate or a stale compare-and-set —
// bears its mark, in any collection (a dispatch writes a plan and tasks).
// The outbox hands the event out once, since a document bears the mark,
// and clearing it removes only what was written ahead (the marks stay, so
// that no update per document is needed). An event written ahead of a
// change that stored nothing is left while the change may still be under
// way, and dropped after aheadGrace. A single-document change's event is
// refused for a bulk write of several documents.
func TestBulkWritesMarkEveryDocumentWithOneEvent(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.Enterprises()
	rng := rand.New(rand.NewPCG(31, 31))
	now := time.Now().UTC().Truncate(time.Millisecond)
	mk := func(name string) *backend.Enterprise {
		return &backend.Enterprise{ID: backend.NewID(), USCC: uscc.Generate(rng), Name: name, Town: "巴公镇", Status: backend.EnterpriseActive, CreatedAt: now, UpdatedAt: now}
	}
	taken := mk("已登记")
	if err := store.CreateEnterprise(t.Context(), taken); err != nil {
		t.Fatal(err)
	}
	dup := mk("重复")
	dup.USCC = taken.USCC
	a, b := mk("甲"), mk("乙")

	ctx, p := bulkStaged("enterprise.import", now.Add(-time.Minute))
	errs, err := store.CreateEnterprises(ctx, []*backend.Enterprise{a, dup, b})
	if err != nil || errs[0] != nil || backend.ErrorCode(errs[1]) != backend.ECONFLICT || errs[2] != nil {
		t.Fatalf("bulk insert: %v, %v", errs, err)
	}
	if !p.IsStored() || backend.PendingAuditFromContext(ctx) != p {
		t.Fatal("a bulk event is not stored, or not offered to the change's next write")
	}
	a2, stale := *a, *taken
	a2.Name, stale.Version = "甲（改）", 7
	errs, err = store.UpdateEnterprises(ctx, []*backend.Enterprise{&a2, &stale})
	if err != nil || errs[0] != nil || backend.ErrorCode(errs[1]) != backend.ECONFLICT {
		t.Fatalf("bulk update: %v, %v", errs, err)
	}
	task := &backend.Task{ID: backend.NewID(), Kind: backend.TaskRandom, Year: 2026, State: backend.TaskAssigned, CreatedAt: now, UpdatedAt: now}
	if ids, err := db.Tasks().InsertTasks(ctx, []*backend.Task{task}); err != nil || len(ids) != 1 {
		t.Fatalf("task insert: %v, %v", ids, err)
	}
	marked := bson.D{{Key: "audit_event", Value: p.Event.ID}}
	if n, m := count(t, db, "enterprises", marked), count(t, db, "tasks", marked); n != 2 || m != 1 {
		t.Errorf("%d enterprises and %d tasks bear the mark, want the 2 and 1 written", n, m)
	}
	if n := count(t, db, "enterprises", bson.D{{Key: "audit_outbox", Value: bson.D{{Key: "$exists", Value: true}}}}); n != 0 {
		t.Errorf("%d enterprises hold the bulk event in their outbox", n)
	}
	if n := count(t, db, "audit_ahead", bson.D{}); n != 2 {
		t.Errorf("the event is written ahead %d times, want once per collection (2)", n)
	}
	if got, err := store.FindEnterpriseByID(t.Context(), a.ID); err != nil || got.Name != "甲（改）" || got.Version != 2 {
		t.Errorf("bulk update not stored: %+v, %v", got, err)
	}
	list := pending(t, db)
	if len(list) != 1 || list[0].Event != p.Event {
		t.Fatalf("pending %d events, want the one bulk event once", len(list))
	}
	if n, err := db.AuditOutbox().CountPendingAuditEvents(t.Context()); err != nil || n != 1 {
		t.Errorf("CountPendingAuditEvents = %d, %v; want 1", n, err)
	}
	if err := list[0].Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	if left := pending(t, db); len(left) != 0 || count(t, db, "audit_ahead", bson.D{}) != 0 {
		t.Errorf("%d events left after clearing", len(left))
	}
	if n := count(t, db, "enterprises", marked); n != 2 {
		t.Errorf("clearing touched the documents: %d bear the mark, want 2", n)
	}

	// Written ahead, then nothing stored (a duplicate, as if the process
	// stopped before its change): kept while the change may be under way,
	// dropped once older than aheadGrace.
	for _, age := range []time.Duration{time.Minute, time.Hour} {
		ctx, p := bulkStaged("enterprise.import", now.Add(-age))
		if errs, err := store.CreateEnterprises(ctx, []*backend.Enterprise{dup}); err != nil || errs[0] == nil || p.IsStored() {
			t.Fatalf("duplicate: %v, %v, stored %v", errs, err, p.IsStored())
		}
	}
	if list := pending(t, db); len(list) != 0 {
		t.Errorf("pending %v: events of changes that never landed", list)
	}
	if n := count(t, db, "audit_ahead", bson.D{}); n != 1 {
		t.Errorf("%d events written ahead are left, want the recent one (the old one dropped)", n)
	}

	single, _ := staged("x", "enterprise.create", now)
	if _, err := store.CreateEnterprises(single, []*backend.Enterprise{mk("丙"), mk("丁")}); backend.ErrorCode(err) != backend.EINTERNAL {
		t.Errorf("a single change's event staged for two documents: %v, want EINTERNAL", err)
	}
}

// TestAuditedDeletionKeepsTheDocumentUntilItsEventIsInTheChain: a device
// deleted with a staged event is marked, not removed — the store's reads
// no longer see it — until its event is cleared, which removes it. A
// token registered again meanwhile brings the device back, and then the
// clear leaves it.
func TestAuditedDeletionKeepsTheDocumentUntilItsEventIsInTheChain(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.Devices()
	now := time.Now().UTC()
	d := &backend.Device{UserID: "u-1", Token: "tok-1", Platform: "android", CreatedAt: now, LastSeenAt: now}
	if err := store.UpsertDevice(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	ctx, p := staged(d.ID, "device.delete", now.Add(-time.Minute))
	if err := store.DeleteDevice(ctx, d.ID); err != nil || !p.IsStored() {
		t.Fatalf("DeleteDevice: %v, stored %v", err, p.IsStored())
	}
	if _, err := store.FindDeviceByID(t.Context(), d.ID); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Errorf("a deleted device is still found: %v", err)
	}
	if list, err := store.FindDevicesByUsers(t.Context(), []string{"u-1"}); err != nil || len(list) != 0 {
		t.Errorf("a deleted device is still listed: %v, %v", list, err)
	}
	if err := store.DeleteDevice(t.Context(), d.ID); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Errorf("deleting it again: %v, want ENOTFOUND", err)
	}
	if n := count(t, db, "devices", bson.D{{Key: "audit_outbox." + p.Event.ID, Value: bson.D{{Key: "$exists", Value: true}}}}); n != 1 {
		t.Fatalf("%d devices hold the deletion's event, want the marked one", n)
	}
	list := pending(t, db)
	if len(list) != 1 || list[0].Event.ID != p.Event.ID {
		t.Fatalf("pending %v, want the deletion's event", list)
	}
	if err := list[0].Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Database().Collection("devices").CountDocuments(t.Context(), bson.D{{Key: "_id", Value: d.ID}}); err != nil || n != 0 {
		t.Errorf("the device is still stored after its deletion's event was cleared (%d, %v)", n, err)
	}

	// Deleted, then registered again before the event is cleared.
	d2 := &backend.Device{UserID: "u-2", Token: "tok-2", Platform: "ios", CreatedAt: now, LastSeenAt: now}
	if err := store.UpsertDevice(t.Context(), d2); err != nil {
		t.Fatal(err)
	}
	ctx, p = staged(d2.ID, "device.delete", now.Add(-time.Minute))
	if err := store.DeleteDevice(ctx, d2.ID); err != nil {
		t.Fatal(err)
	}
	again := &backend.Device{ID: d2.ID, UserID: "u-3", Token: "tok-2", Platform: "ios", CreatedAt: now, LastSeenAt: now}
	if err := store.UpsertDevice(t.Context(), again); err != nil || again.ID != d2.ID {
		t.Fatalf("registering the token again: %+v, %v", again, err)
	}
	if err := p.Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, err := store.FindDeviceByID(t.Context(), d2.ID); err != nil || got.UserID != "u-3" {
		t.Errorf("the device registered again is gone or wrong after the old deletion's clear: %+v, %v", got, err)
	}
	// A registration naming a device the token does not belong to is a
	// conflict: its event must not land in another device's document.
	other := &backend.Device{ID: backend.NewID(), UserID: "u-4", Token: "tok-2", Platform: "ios", CreatedAt: now, LastSeenAt: now}
	if err := store.UpsertDevice(t.Context(), other); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Errorf("registering a token under another device's id: %v, want ECONFLICT", err)
	}
}

// TestUpsertKeepsPendingEvents: a calendar override put again (upsert)
// keeps the pending event of the put before and adds its own.
func TestUpsertKeepsPendingEvents(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.Calendar()
	now := time.Now().UTC()
	ctx1, p1 := staged("2031-10-08", "calendar.override", now.Add(-2*time.Second))
	if err := store.PutOverride(ctx1, &backend.CalendarOverride{Date: "2031-10-08", Kind: "workday", Name: "调休", CreatedAt: now}); err != nil || !p1.IsStored() {
		t.Fatalf("first put: %v, stored %v", err, p1.IsStored())
	}
	ctx2, p2 := staged("2031-10-08", "calendar.override", now.Add(-time.Second))
	if err := store.PutOverride(ctx2, &backend.CalendarOverride{Date: "2031-10-08", Kind: "holiday", Name: "国庆", CreatedAt: now}); err != nil || !p2.IsStored() {
		t.Fatalf("second put: %v, stored %v", err, p2.IsStored())
	}
	if got := pending(t, db); len(got) != 2 || got[0].Event.ID != p1.Event.ID || got[1].Event.ID != p2.Event.ID {
		t.Fatalf("pending %v, want both puts' events", got)
	}
	list, err := store.FindOverrides(t.Context())
	if err != nil || len(list) != 1 || list[0].Kind != "holiday" {
		t.Fatalf("overrides %+v, %v", list, err)
	}
}
