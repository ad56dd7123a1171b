package mongodb_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
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
// outbox (devices) ignores a staged event, so Auditor.Change appends it
// after the write instead.
func TestStoresWithoutAnOutboxLeaveTheEventStaged(t *testing.T) {
	db := storagetest.Mongo(t)
	ctx, p := staged("x", "device.register", time.Now())
	d := &backend.Device{UserID: "u-1", Token: "tok", Platform: "android", CreatedAt: time.Now(), LastSeenAt: time.Now()}
	err := db.Devices().UpsertDevice(ctx, d)
	if err != nil {
		t.Fatalf("devices keep no outbox and ignore staged events: %v", err)
	}
	if p.IsStored() {
		t.Error("a write without an outbox claimed the event")
	}
}
