package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
	"suiji/backend/audit"
	"suiji/storage/storagetest"
)

// TestAuditVerify runs `suiji audit verify` against a database of the test's
// own: an intact chain passes with its length printed, an event edited
// directly in the database fails naming it.
func TestAuditVerify(t *testing.T) {
	db := storagetest.Mongo(t)
	t.Setenv("SUIJI_MONGO_DATABASE", db.Name())

	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"audit", "verify"}, &out, &errOut); err != nil {
		t.Fatalf("empty trail: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "audit chain intact: 0 events") {
		t.Errorf("empty trail output:\n%s", out.String())
	}

	r := &audit.Recorder{Store: db.AuditEvents()}
	ctx := backend.WithActor(context.Background(), &backend.Actor{UserID: "u-1", Username: "admin"})
	for range 5 {
		if err := r.Record(ctx, "user.update", "user", "u-2", nil, map[string]string{"k": "v"}); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	if err := run(t.Context(), []string{"audit", "verify"}, &out, &errOut); err != nil {
		t.Fatalf("intact chain: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "audit chain intact: 5 events") {
		t.Errorf("intact chain output:\n%s", out.String())
	}

	_, err := db.Database().Collection("audit_events").UpdateOne(t.Context(),
		bson.D{{Key: "seq", Value: 3}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "actor_name", Value: "someone else"}}}})
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = run(t.Context(), []string{"audit", "verify"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "event 3: hash mismatch") {
		t.Fatalf("edited chain: error %v, want one naming event 3", err)
	}
	if !strings.Contains(out.String(), "event 3") || strings.Contains(out.String(), "intact") {
		t.Errorf("edited chain output:\n%s", out.String())
	}
}

func TestAuditUsage(t *testing.T) {
	for _, args := range [][]string{{"audit"}, {"audit", "fix"}, {"audit", "verify", "extra"}} {
		var ue usageError
		if err := run(t.Context(), args, &bytes.Buffer{}, &bytes.Buffer{}); !errors.As(err, &ue) {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
}
