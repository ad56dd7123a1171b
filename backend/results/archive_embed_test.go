package results_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"suiji/backend"
	"suiji/backend/cmd/wire"
	"suiji/backend/documents/pngtest"
	"suiji/backend/media"
	"suiji/backend/media/mediatest"
	"suiji/backend/results"
	"suiji/backend/uscc"
	"suiji/storage/mongodb"
	"suiji/storage/objects"
	"suiji/storage/storagetest"
)

// embedWorld is an archive service on the real stack: a database and
// buckets of the test's own (unlocked, so that they can be removed).
type embedWorld struct {
	db   *mongodb.DB
	objs *objects.Store
	svc  *results.Service
	ctx  context.Context
}

func newEmbedWorld(t *testing.T) *embedWorld {
	db := storagetest.Mongo(t)
	objs := storagetest.ObjectsWith(t, func(o *objects.Options) { o.Unlocked = true })
	return &embedWorld{
		db: db, objs: objs,
		svc: wire.ArchiveService(&wire.Stores{Mongo: db, Objects: objs}, storagetest.Config(t), func() time.Time { return time.Now().UTC() }),
		ctx: backend.WithActor(t.Context(), &backend.Actor{UserID: "staff-1", Roles: []backend.Role{backend.RoleCoordinator}}),
	}
}

var embedEnded = time.Date(2026, 5, 6, 3, 0, 0, 0, time.UTC)

// approvedTask stores a reviewed task of two members, its approval
// marking its documents pending, with the members' submissions naming
// signatures (ids, "" for none).
func (w *embedWorld) approvedTask(t *testing.T, id string, usccCode string, signatures ...string) *backend.Task {
	t.Helper()
	task := &backend.Task{
		ID: id, Kind: backend.TaskTargeted, Source: backend.SourceComplaint, Reason: "群众举报粉尘超标", Year: 2026,
		LeadDepartmentID: "dept-1", DepartmentIDs: []string{"dept-1"},
		Enterprise: backend.TaskEnterprise{ID: "e-" + id, USCC: usccCode, Name: "泽州县测试铸造有限公司", Town: "巴公镇", Address: "巴公镇工业园区2号"},
		Items:      []backend.TaskItem{{ID: "i1", Code: "FC-01", Name: "粉尘防爆安全管理"}},
		Members: []backend.TaskMember{{BadgeNo: "14050001", Name: "王检查", Lead: true, UserID: "u1"},
			{BadgeNo: "14050002", Name: "李执法", UserID: "u2"}},
		Checklist:         []backend.ItemOutcome{{ItemID: "i1", Outcome: backend.OutcomeFail, At: embedEnded.Add(-time.Hour)}},
		InspectionEndedAt: &embedEnded, State: backend.TaskReviewed, CreatedAt: embedEnded.Add(-48 * time.Hour),
	}
	for i, sig := range signatures {
		task.Progress = append(task.Progress, backend.MemberProgress{UserID: task.Members[i].UserID,
			Submission: &backend.Submission{Result: backend.ResultRectificationOrdered, Summary: "发现问题一处", SignatureEvidenceID: sig, At: embedEnded}})
	}
	if _, err := w.db.Tasks().InsertTasks(w.ctx, []*backend.Task{task}); err != nil {
		t.Fatal(err)
	}
	task.Version = 1
	r := &backend.TaskResult{Result: backend.ResultRectificationOrdered, DocumentsPending: true,
		Reviews: []backend.Review{{Decision: backend.ReviewApprove, Result: backend.ResultRectificationOrdered, At: embedEnded.Add(24 * time.Hour)}}}
	if err := w.db.TaskResults().UpdateTaskResult(w.ctx, task, r); err != nil {
		t.Fatal(err)
	}
	return task
}

// evidence stores data in the evidence bucket and its record, verified
// as completing an upload does: with the type its bytes show.
func (w *embedWorld) evidence(t *testing.T, taskID, id, kind, declared string, data []byte, n int) *backend.Evidence {
	t.Helper()
	rep, err := media.Inspect(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if why := media.Mismatch(declared, rep.ContentType); why != "" {
		t.Fatalf("%s would be rejected: %s", id, why)
	}
	sum := sha256.Sum256(data)
	e := &backend.Evidence{ID: id, TaskID: taskID, Kind: kind, ContentType: declared, Size: int64(len(data)),
		SHA256: hex.EncodeToString(sum[:]), ObjectKey: "tasks/" + taskID + "/" + id, State: backend.EvidencePending,
		Description: "车间现场", CreatedAt: embedEnded.Add(time.Duration(n) * time.Minute)}
	info, err := w.objs.Client().PutObject(w.ctx, w.objs.EvidenceBucket(), e.ObjectKey, bytes.NewReader(data), e.Size, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.db.Evidence().CreateEvidence(w.ctx, e); err != nil {
		t.Fatal(err)
	}
	e.State, e.VersionID, e.SniffedType = backend.EvidenceVerified, info.VersionID, rep.ContentType
	if err := w.db.Evidence().SettleEvidence(w.ctx, e); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestDocumentsLeaveOutImagesThePDFCannotTake: a task whose evidence holds
// a 16-bit PNG photo, an interlaced PNG photo and an interlaced PNG
// signature (images the PDF library refuses), and a photo declared JPEG
// whose bytes the sniffer cannot tell (a HEIC file, verified under its
// declared type), gets both documents archived by the repair pass: each
// refused image is a note naming its evidence in its place, the good
// JPEG photo and PNG signature are embedded, the HEIC file is not tried,
// and the documents are pending no more.
func TestDocumentsLeaveOutImagesThePDFCannotTake(t *testing.T) {
	w := newEmbedWorld(t)
	const (
		sigGood   = "5b1e0c4a-0001-4a8e-9c3d-5a9f00000001"
		sigBad    = "5b1e0c4a-0002-4a8e-9c3d-5a9f00000002"
		photoJPEG = "5b1e0c4a-0003-4a8e-9c3d-5a9f00000003"
		photo16   = "5b1e0c4a-0004-4a8e-9c3d-5a9f00000004"
		photoAdam = "5b1e0c4a-0005-4a8e-9c3d-5a9f00000005"
		photoHEIC = "5b1e0c4a-0006-4a8e-9c3d-5a9f00000006"
	)
	task := w.approvedTask(t, "task-embed-1", uscc.Generate(rand.New(rand.NewPCG(3, 4))), sigGood, sigBad)
	deep := image.NewNRGBA64(image.Rect(0, 0, 80, 60))
	for i := range deep.Pix {
		deep.Pix[i] = byte(i * 7)
	}
	var png16 bytes.Buffer
	if err := png.Encode(&png16, deep); err != nil {
		t.Fatal(err)
	}
	heic := append([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), bytes.Repeat([]byte{0x5a}, 512)...)
	w.evidence(t, task.ID, sigGood, backend.EvidenceSignature, "image/png", strokePNG(t), 1)
	w.evidence(t, task.ID, sigBad, backend.EvidenceSignature, "image/png", pngtest.Interlaced(300, 100), 2)
	w.evidence(t, task.ID, photoJPEG, backend.EvidencePhoto, "image/jpeg", mediatest.JPEG(160, 120, embedEnded, 35.49, 112.85), 3)
	w.evidence(t, task.ID, photo16, backend.EvidencePhoto, "image/png", png16.Bytes(), 4)
	w.evidence(t, task.ID, photoAdam, backend.EvidencePhoto, "image/png", pngtest.Interlaced(80, 60), 5)
	if e := w.evidence(t, task.ID, photoHEIC, backend.EvidencePhoto, "image/jpeg", heic, 6); e.SniffedType != "application/octet-stream" {
		t.Fatalf("the HEIC file sniffs as %s", e.SniffedType)
	}
	if err := w.db.Findings().CreateFinding(w.ctx, &backend.Finding{ID: "f1", TaskID: task.ID, ItemID: "i1", Description: "除尘系统未设置泄爆装置",
		Severity: backend.SeverityGeneral, Rectification: "加装泄爆装置", RectifyBy: "2026-06-30", EvidenceIDs: []string{photo16}, CreatedAt: embedEnded}); err != nil {
		t.Fatal(err)
	}

	if n, err := w.svc.RepairDocuments(w.ctx); n != 1 || err != nil {
		t.Fatalf("repair: %d tasks, %v; want 1, nil", n, err)
	}
	if _, r, err := w.db.TaskResults().FindTaskResult(w.ctx, task.ID); err != nil || r.DocumentsPending {
		t.Fatalf("documents still pending (%v)", err)
	}
	docs, err := w.db.Archive().FindArchivedDocuments(w.ctx, task.ID)
	if err != nil || len(docs) != 2 {
		t.Fatalf("archived documents: %v %+v", err, docs)
	}
	signatureNote := "（签名图像" + sigBad + "无法嵌入，原件见证据存档）"
	for _, d := range docs {
		obj, err := w.objs.Client().GetObject(w.ctx, w.objs.DocumentsBucket(), d.ObjectKey, minio.GetObjectOptions{VersionID: d.VersionID})
		if err != nil {
			t.Fatal(err)
		}
		pdf, err := io.ReadAll(obj)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), d.Kind+".pdf")
		if err := os.WriteFile(path, pdf, 0o600); err != nil {
			t.Fatal(err)
		}
		text := strings.Join(strings.Fields(string(popplerOut(t, "pdftotext", "-raw", "-enc", "UTF-8", path, "-"))), "")
		want := []string{signatureNote}
		images := 2 // the QR code and the good signature
		if d.Kind == backend.DocumentInspectionRecord {
			want = append(want, "（照片"+photo16+"无法嵌入，原件见证据存档）", "（照片"+photoAdam+"无法嵌入，原件见证据存档）")
			images++ // the JPEG photo
		}
		for _, s := range want {
			if !strings.Contains(text, s) {
				t.Errorf("%s lacks %q:\n%s", d.Kind, s, text)
			}
		}
		for _, s := range []string{photoHEIC, photoJPEG, sigGood} {
			if strings.Contains(text, s) {
				t.Errorf("%s names %s, which it should not note as left out", d.Kind, s)
			}
		}
		if n := countPDFImages(t, path); n != images {
			t.Errorf("%s: %d images embedded, want %d", d.Kind, n, images)
		}
	}
}

// TestAStuckTaskDoesNotStarveTheRest: more tasks than one repair pass
// tries (repairBatch, 100) whose documents keep failing — their
// enterprise's credit code is one the documents refuse — are pending
// before a task whose documents would succeed, and whose id sorts last.
// Within two passes that task is archived all the same, and every stuck
// task has been tried: the pass goes round the pending tasks, instead of
// trying the same first hundred over and over.
func TestAStuckTaskDoesNotStarveTheRest(t *testing.T) {
	w := newEmbedWorld(t)
	const stuck = 101
	for i := range stuck {
		w.approvedTask(t, fmt.Sprintf("task-stuck-%03d", i), "91140525MA0K12345X")
	}
	good := w.approvedTask(t, "task-zz-good", uscc.Generate(rand.New(rand.NewPCG(5, 6))))

	tried := map[string]bool{}
	for pass := 1; pass <= 2; pass++ {
		n, err := w.svc.RepairDocuments(w.ctx)
		if err == nil {
			t.Fatalf("pass %d: no error for the stuck tasks", pass)
		}
		for i := range stuck {
			if id := fmt.Sprintf("task-stuck-%03d", i); strings.Contains(err.Error(), id+":") {
				tried[id] = true
			}
		}
		t.Logf("pass %d: %d archived", pass, n)
	}
	if _, r, err := w.db.TaskResults().FindTaskResult(w.ctx, good.ID); err != nil || r.DocumentsPending {
		t.Fatalf("after two passes the good task's documents are still pending (%v)", err)
	}
	if docs, err := w.db.Archive().FindArchivedDocuments(w.ctx, good.ID); err != nil || len(docs) != 1 { // no findings: the record alone
		t.Fatalf("the good task's documents: %v %+v", err, docs)
	}
	if len(tried) != stuck {
		t.Fatalf("%d of the %d stuck tasks were tried in two passes", len(tried), stuck)
	}
}

// strokePNG is a transparent 8-bit PNG with a pen stroke, as the app
// captures a signature.
func strokePNG(t *testing.T) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 300, 100))
	for x := 10; x < 290; x++ {
		for d := -2; d <= 2; d++ {
			img.SetNRGBA(x, 50+(x%40)-20+d, color.NRGBA{10, 10, 60, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// popplerOut runs one of poppler-utils' tools, which the test stack
// installs.
func popplerOut(t *testing.T, tool string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(tool, args...).Output()
	if err != nil {
		t.Fatalf("%s (Debian's poppler-utils; make test installs it): %v", tool, err)
	}
	return out
}

// countPDFImages counts the images (not soft masks) pdfimages -list shows.
func countPDFImages(t *testing.T, path string) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(string(popplerOut(t, "pdfimages", "-list", path)), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[2] == "image" {
			n++
		}
	}
	return n
}
