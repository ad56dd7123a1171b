package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"suiji/backend"
	"suiji/backend/cmd/wire"
	"suiji/storage/storagetest"
)

// useTestStores points the binary's configuration at this test's own
// database, buckets and key prefix.
func useTestStores(t *testing.T) *wire.Stores {
	t.Helper()
	db := storagetest.Mongo(t)
	objs := storagetest.Objects(t)
	c := storagetest.Redis(t)
	t.Setenv("SUIJI_MONGO_DATABASE", db.Name())
	t.Setenv("SUIJI_EVIDENCE_BUCKET", objs.EvidenceBucket())
	t.Setenv("SUIJI_DOCUMENTS_BUCKET", objs.DocumentsBucket())
	t.Setenv("SUIJI_REDIS_PREFIX", c.Prefix())
	t.Setenv("SUIJI_LOG_FORMAT", "json")
	return &wire.Stores{Mongo: db, Cache: c, Objects: objs}
}

func TestSeedDemoThenImportRoundTrip(t *testing.T) {
	st := useTestStores(t)
	ctx := t.Context()
	var out bytes.Buffer
	if err := run(ctx, []string{"seed", "--demo"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatalf("seed: %v\n%s", err, out.String())
	}
	_, nEnt, err := st.Mongo.Enterprises().FindEnterprises(ctx, backend.EnterpriseFilter{})
	if err != nil || nEnt != 300 {
		t.Fatalf("%d enterprises (%v), want 300", nEnt, err)
	}
	_, nIns, _ := st.Mongo.Inspectors().FindInspectors(ctx, backend.InspectorFilter{})
	if nIns != 32 {
		t.Fatalf("%d inspectors, want 32", nIns)
	}
	if !strings.Contains(out.String(), "coordinator") || !strings.Contains(out.String(), "inspector01") {
		t.Fatalf("logins not printed:\n%s", out.String())
	}
	if _, err := st.Mongo.Users().FindUserByUsername(ctx, "inspector01"); err != nil {
		t.Fatalf("demo inspector account: %v", err)
	}

	// Seeding again: refused, or a quiet no-op with --if-empty.
	if err := run(ctx, []string{"seed", "--demo"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Fatal("seeded a non-empty database")
	}
	out.Reset()
	if err := run(ctx, []string{"seed", "--demo", "--if-empty"}, &out, &bytes.Buffer{}); err != nil || !strings.Contains(out.String(), "no demo data loaded") {
		t.Fatalf("--if-empty: %v %s", err, out.String())
	}

	// Export the directory and import it back: every row unchanged.
	svc := wire.Services(st, storagetest.Config(t), utcNow)
	file := filepath.Join(t.TempDir(), "enterprises.xlsx")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Directory.ExportEnterprises(ctx, f, "xlsx", "zh", backend.EnterpriseFilter{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out.Reset()
	if err := run(ctx, []string{"import", "enterprises", file}, &out, &bytes.Buffer{}); err != nil {
		t.Fatalf("re-import: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "unchanged 300") {
		t.Fatalf("re-import was not a no-op:\n%s", out.String())
	}

	// A file with a bad row changes nothing and names the row.
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(bad, []byte("统一社会信用代码,企业名称,所属乡镇\n91140525MA0000000X,坏企业,巴公镇\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, []string{"import", "enterprises", bad}, &out, &bytes.Buffer{}); err == nil || !strings.Contains(out.String(), "line 2") {
		t.Fatalf("bad file: %v\n%s", err, out.String())
	}
	if _, n, _ := st.Mongo.Enterprises().FindEnterprises(ctx, backend.EnterpriseFilter{}); n != 300 {
		t.Fatalf("a rejected file changed the directory: %d enterprises", n)
	}
}
