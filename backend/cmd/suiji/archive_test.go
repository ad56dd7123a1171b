package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"suiji/backend"
	"suiji/backend/cmd/wire"
	"suiji/backend/media/mediatest"
	"suiji/backend/uscc"
	"suiji/storage/objects"
	"suiji/storage/storagetest"
)

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestArchiveVerifyAndExport: an approved task's documents generated and
// archived, its evidence stored; `archive verify` passes, then names an
// object altered in storage (buckets without object lock, so it can be)
// and exits non-zero; `archive export` writes a bundle that verifies on
// its own and names a file tampered with in it.
func TestArchiveVerifyAndExport(t *testing.T) {
	db := storagetest.Mongo(t)
	objs := storagetest.ObjectsWith(t, func(o *objects.Options) { o.Unlocked = true })
	t.Setenv("SUIJI_MONGO_DATABASE", db.Name())
	t.Setenv("SUIJI_EVIDENCE_BUCKET", objs.EvidenceBucket())
	t.Setenv("SUIJI_DOCUMENTS_BUCKET", objs.DocumentsBucket())
	t.Setenv("SUIJI_LOG_FORMAT", "json")
	ctx := backend.WithActor(t.Context(), &backend.Actor{UserID: "staff-1", Roles: []backend.Role{backend.RoleCoordinator}})
	svc := wire.ArchiveService(&wire.Stores{Mongo: db, Objects: objs}, storagetest.Config(t), utcNow)

	// A task approved after its inspection, with a photo and a finding.
	ended := time.Date(2026, 5, 6, 3, 0, 0, 0, time.UTC)
	task := &backend.Task{
		ID: "task-archive-1", Kind: backend.TaskRandom, Year: 2026, LeadDepartmentID: "dept-1", DepartmentIDs: []string{"dept-1"},
		Enterprise:        backend.TaskEnterprise{ID: "e1", USCC: uscc.Generate(rand.New(rand.NewPCG(1, 2))), Name: "泽州县测试化工有限公司", Town: "巴公镇", Address: "巴公镇工业园区1号"},
		Items:             []backend.TaskItem{{ID: "i1", Code: "WH-01", Name: "安全生产责任制落实情况"}},
		Members:           []backend.TaskMember{{BadgeNo: "14050001", Name: "王检查", Lead: true, UserID: "u1"}, {BadgeNo: "14050002", Name: "李执法", UserID: "u2"}},
		Checklist:         []backend.ItemOutcome{{ItemID: "i1", Outcome: backend.OutcomeFail, At: ended.Add(-time.Hour)}},
		InspectionEndedAt: &ended, State: backend.TaskReviewed, CreatedAt: ended.Add(-48 * time.Hour),
	}
	if _, err := db.Tasks().InsertTasks(ctx, []*backend.Task{task}); err != nil {
		t.Fatal(err)
	}
	task.Version = 1
	r := &backend.TaskResult{Result: backend.ResultRectificationOrdered,
		Reviews: []backend.Review{{Decision: backend.ReviewApprove, Result: backend.ResultRectificationOrdered, At: ended.Add(24 * time.Hour)}}}
	if err := db.TaskResults().UpdateTaskResult(ctx, task, r); err != nil {
		t.Fatal(err)
	}
	photo := mediatest.JPEG(120, 90, ended, 35.49, 112.85)
	e := &backend.Evidence{ID: "photo-1", TaskID: task.ID, Kind: backend.EvidencePhoto, ContentType: "image/jpeg", Size: int64(len(photo)),
		SHA256: hexSHA(photo), ObjectKey: "tasks/" + task.ID + "/photo-1", State: backend.EvidencePending, CreatedAt: ended}
	info, err := objs.Client().PutObject(ctx, objs.EvidenceBucket(), e.ObjectKey, bytes.NewReader(photo), e.Size, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Evidence().CreateEvidence(ctx, e); err != nil {
		t.Fatal(err)
	}
	e.State, e.VersionID = backend.EvidenceVerified, info.VersionID
	if err := db.Evidence().SettleEvidence(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := db.Findings().CreateFinding(ctx, &backend.Finding{ID: "f1", TaskID: task.ID, ItemID: "i1", Description: "未建立全员安全生产责任制",
		Severity: backend.SeverityGeneral, Rectification: "建立并公示", RectifyBy: "2026-06-30", EvidenceIDs: []string{e.ID}, CreatedAt: ended}); err != nil {
		t.Fatal(err)
	}
	docs, err := svc.ArchiveDocuments(ctx, task, r)
	if err != nil || len(docs) != 2 {
		t.Fatalf("archiving: %v %+v", err, docs)
	}

	verify := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(t.Context(), append([]string{"archive", "verify"}, args...), &out, &bytes.Buffer{})
		return out.String(), err
	}
	if out, err := verify(); err != nil || !strings.Contains(out, "checked 2 documents and 1 pieces of evidence") || !strings.Contains(out, ": 0 differences") {
		t.Fatalf("verify of an intact archive: %v\n%s", err, out)
	}

	// Export before anything is altered; the bundle verifies on its own.
	dir := filepath.Join(t.TempDir(), "bundle")
	var out bytes.Buffer
	if err := run(t.Context(), []string{"archive", "export", "--task", task.ID, "--out", dir}, &out, &bytes.Buffer{}); err != nil {
		t.Fatalf("export: %v\n%s", err, out.String())
	}
	for _, f := range []string{"archive.json", "MANIFEST.sha256", "README.txt", "documents/inspection_record.pdf", "documents/rectification_order.pdf", "evidence/photo-1.jpg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("bundle lacks %s: %v", f, err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "evidence/photo-1.jpg")); !bytes.Equal(got, photo) {
		t.Fatal("the bundle's photo is not the evidence")
	}
	if js, _ := os.ReadFile(filepath.Join(dir, "archive.json")); !strings.Contains(string(js), docs[0].SHA256) || !strings.Contains(string(js), e.SHA256) {
		t.Fatalf("archive.json lacks the recorded hashes:\n%s", js)
	}
	if out, err := verify("--bundle", dir); err != nil || !strings.Contains(out, ": 0 differences") {
		t.Fatalf("verify of a fresh bundle: %v\n%s", err, out)
	}
	if err := run(t.Context(), []string{"archive", "export", "--task", task.ID, "--out", dir}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Fatal("exported over a bundle")
	}

	// A file altered in the bundle — and one whose manifest line was
	// changed with it — is named.
	pdf := filepath.Join(dir, "documents", "inspection_record.pdf")
	data, _ := os.ReadFile(pdf)
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(pdf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := verify("--bundle", dir); err == nil || !strings.Contains(out, "documents/inspection_record.pdf: SHA-256") {
		t.Fatalf("verify of a tampered bundle: %v\n%s", err, out)
	}
	manifest, _ := os.ReadFile(filepath.Join(dir, "MANIFEST.sha256"))
	manifest = bytes.Replace(manifest, []byte(docs[0].SHA256), []byte(hexSHA(data)), 1)
	if err := os.WriteFile(filepath.Join(dir, "MANIFEST.sha256"), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := verify("--bundle", dir); err == nil || !strings.Contains(out, "archive.json recorded "+docs[0].SHA256) {
		t.Fatalf("verify of a bundle tampered with its manifest: %v\n%s", err, out)
	}

	// Objects altered in storage: a document overwritten, the photo removed.
	if err := objs.PutRaw(ctx, objs.DocumentsBucket(), docs[1].ObjectKey, []byte("%PDF-1.7 forged")); err != nil {
		t.Fatal(err)
	}
	if err := objs.Client().RemoveObject(ctx, objs.EvidenceBucket(), e.ObjectKey, minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	out2, err := verify()
	if err == nil || !strings.Contains(out2, "document "+docs[1].ID) || !strings.Contains(out2, "differs from the recorded") ||
		!strings.Contains(out2, "evidence photo-1") || !strings.Contains(out2, "missing from storage") || !strings.Contains(out2, ": 2 differences") {
		t.Fatalf("verify after tampering: %v\n%s", err, out2)
	}
	if strings.Contains(out2, "document "+docs[0].ID) {
		t.Fatalf("verify named an intact document:\n%s", out2)
	}
}
