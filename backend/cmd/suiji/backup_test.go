package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
	"suiji/backend/audit"
	"suiji/storage/mongodb"
	"suiji/storage/storagetest"
)

// TestBackupRestoreRoundTrip backs up the demo database with `suiji
// backup`, restores it with `suiji restore` into an empty database and
// checks that every count matches, the audit chain verifies, and a backup
// of the restored database is byte for byte the first one. A non-empty
// target, a damaged file and a used folder are refused.
func TestBackupRestoreRoundTrip(t *testing.T) {
	st := useTestStores(t)
	ctx := t.Context()
	// A county of 200 enterprises and a trail of audit events, Chinese
	// text included (the demo seed would take a minute on FerretDB).
	storagetest.NewWorld(t, st.Mongo, 200)
	r := &audit.Recorder{Store: st.Mongo.AuditEvents()}
	actx := backend.WithActor(ctx, &backend.Actor{UserID: "u-1", Username: "admin"})
	for i := range 30 {
		if err := r.Record(actx, "enterprise.update", "enterprise", "e-"+itoa(int64(i)), nil, map[string]string{"name": "测试企业"}); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "backup")
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"backup", dir}, &out, &errOut); err != nil {
		t.Fatalf("backup: %v\n%s", err, errOut.String())
	}
	first := readManifest(t, dir)
	counts := map[string]int64{}
	for _, c := range first.Collections {
		n, err := st.Mongo.Database().Collection(c.Name).CountDocuments(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		if n != c.Count {
			t.Errorf("manifest: %s has %d documents, the database %d", c.Name, c.Count, n)
		}
		counts[c.Name] = c.Count
	}
	for _, want := range []string{"enterprises", "inspectors", "departments", "audit_events"} {
		if counts[want] == 0 {
			t.Errorf("backup has no %s (collections %v)", want, counts)
		}
	}

	// Restore into a database of its own.
	target := storagetest.Mongo(t)
	t.Setenv("SUIJI_MONGO_DATABASE", target.Name())
	out.Reset()
	if err := run(ctx, []string{"restore", dir}, &out, &errOut); err != nil {
		t.Fatalf("restore: %v\n%s", err, errOut.String())
	}
	if want := "audit chain intact: " + itoa(counts["audit_events"]) + " events"; !strings.Contains(out.String(), want) {
		t.Errorf("restore output lacks %q:\n%s", want, out.String())
	}
	for name, n := range counts {
		got, err := target.Database().Collection(name).CountDocuments(ctx, bson.D{})
		if err != nil || got != n {
			t.Errorf("restored %s: %d documents (%v), want %d", name, got, err, n)
		}
	}
	out.Reset()
	if err := run(ctx, []string{"audit", "verify"}, &out, &errOut); err != nil {
		t.Fatalf("audit verify on the restored database: %v\n%s", err, out.String())
	}
	// The same documents in the same encoding: a backup of the copy has
	// the first backup's hashes.
	dir2 := filepath.Join(t.TempDir(), "again")
	if err := run(ctx, []string{"backup", dir2}, &bytes.Buffer{}, &errOut); err != nil {
		t.Fatal(err)
	}
	second := readManifest(t, dir2)
	if len(second.Collections) != len(first.Collections) {
		t.Fatalf("second backup has %d collections, first %d", len(second.Collections), len(first.Collections))
	}
	for i, c := range second.Collections {
		if f := first.Collections[i]; c.Name != f.Name || c.SHA256 != f.SHA256 || c.Count != f.Count {
			t.Errorf("collection %s: restored copy differs (%d docs %s, original %d docs %s)", c.Name, c.Count, c.SHA256, f.Count, f.SHA256)
		}
	}

	// Restoring again into the now full database is refused.
	err := run(ctx, []string{"restore", dir}, &bytes.Buffer{}, &errOut)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("restore into a non-empty database: %v, want a refusal", err)
	}
	// A damaged file is found before anything is written.
	events := filepath.Join(dir, "audit_events.jsonl")
	raw, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(events, bytes.Replace(raw, []byte(`"seq"`), []byte(`"Seq"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := storagetest.Mongo(t)
	t.Setenv("SUIJI_MONGO_DATABASE", empty.Name())
	err = run(ctx, []string{"restore", dir}, &bytes.Buffer{}, &errOut)
	if err == nil || !strings.Contains(err.Error(), "audit_events.jsonl: SHA-256") {
		t.Errorf("restore of a damaged backup: %v, want the file named", err)
	}
	if n, _ := empty.Database().Collection("enterprises").CountDocuments(ctx, bson.D{}); n != 0 {
		t.Errorf("a refused restore wrote %d enterprises", n)
	}
	// A backup never writes into a folder in use.
	if err := run(ctx, []string{"backup", dir}, &bytes.Buffer{}, &errOut); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("backup into a used folder: %v", err)
	}
}

func readManifest(t *testing.T, dir string) *mongodb.BackupManifest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, mongodb.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m mongodb.BackupManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
