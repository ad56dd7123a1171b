package mobileapi

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"suiji/backend"
	"suiji/backend/media/mediatest"
	"suiji/backend/results"
)

// pdfText extracts a PDF's text with poppler's pdftotext, as the
// documents tests do, without white space (text wraps across lines).
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-raw", "-enc", "UTF-8", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext (Debian's poppler-utils; make test installs it): %v", err)
	}
	return strings.Join(strings.Fields(string(out)), "")
}

type archiveView struct {
	TaskID           string `json:"task_id"`
	DocumentsPending bool   `json:"documents_pending"`
	Task             struct {
		State string `json:"state"`
	} `json:"task"`
	Findings  []struct{ ID string } `json:"findings"`
	Documents []struct {
		ID        string `json:"id"`
		Kind      string `json:"kind"`
		Number    string `json:"number"`
		ObjectKey string `json:"object_key"`
		VersionID string `json:"version_id"`
		SHA256    string `json:"sha256"`
		URL       string `json:"url"`
		Size      int64  `json:"size"`
	} `json:"documents"`
	Evidence []struct {
		ID        string `json:"id"`
		Kind      string `json:"kind"`
		SHA256    string `json:"sha256"`
		State     string `json:"state"`
		VersionID string `json:"version_id"`
	} `json:"evidence"`
}

// TestStatutoryDocumentsFromARealInspection: an inspection run over the
// API (check-ins, checklist, a finding with its photo, both signatures,
// completion) and approved at review gets its inspection record and
// rectification order, in Chinese, archived once each in the WORM
// documents bucket with the SHA-256 of the stored bytes; the archive lists
// records, documents and evidence with their hashes and links that
// download the archived bytes, to those who see the task only; a retry
// makes no second document; archive verify finds nothing amiss.
func TestStatutoryDocumentsFromARealInspection(t *testing.T) {
	env := newAPIEnv(t, Config{})
	store := env.withEvidence(t)
	w := newDispatchWorld(t, env, 12, `{"count":3}`)
	task := w.dispatchFirst(t, env)
	members := task.ActiveMembers()
	tokens := []string{env.loginAs(t, w.inspectors[members[0].BadgeNo]), env.loginAs(t, w.inspectors[members[1].BadgeNo])}
	base := "/api/v1/tasks/" + task.ID
	for _, tok := range tokens {
		scenario{token: tok, method: "POST", path: base + "/check-in", body: `{"lat":35.4915,"lng":112.8569,"accuracy_m":12}`, wantStatus: 200}.run(t, env)
	}
	for i, it := range task.Items {
		outcome := "pass"
		if i == 0 {
			outcome = "fail"
		}
		scenario{token: tokens[0], method: "PUT", path: base + "/items/" + it.ID, body: `{"outcome":"` + outcome + `","note":"台账已查验"}`, wantStatus: 200}.run(t, env)
	}
	upload := func(token, kind, contentType string, data []byte) string {
		t.Helper()
		var e evidenceJSON
		scenario{token: token, method: "POST", path: base + "/evidence", wantStatus: 201,
			body:  fmt.Sprintf(`{"kind":%q,"content_type":%q,"size":%d,"sha256":%q,"description":"二号车间现场"}`, kind, contentType, len(data), sha(data)),
			after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { e = decode[evidenceJSON](t, b) }}.run(t, env)
		if got := postUpload(t, e.Upload, "", data); got != 204 {
			t.Fatalf("POST to MinIO: %d", got)
		}
		scenario{token: token, method: "POST", path: "/api/v1/evidence/" + e.ID + "/complete", wantStatus: 200, wantContain: []string{`"state":"verified"`}}.run(t, env)
		return e.ID
	}
	photo := mediatest.JPEG(160, 120, time.Date(2026, 3, 5, 2, 22, 1, 0, time.UTC), 35.4913, 112.8568)
	photoID := upload(tokens[0], "photo", "image/jpeg", photo)
	scenario{token: tokens[0], method: "POST", path: base + "/findings", wantStatus: 201,
		body: fmt.Sprintf(`{"item_id":%q,"description":"二号车间粉尘清扫记录缺失","severity":"major","rectification":"立即清扫并建立台账","rectify_by":"2026-12-20","evidence_ids":[%q]}`, task.Items[0].ID, photoID)}.run(t, env)
	for i, tok := range tokens {
		sig := upload(tok, "signature", "image/png", signaturePNG(t, i+2))
		scenario{token: tok, method: "POST", path: base + "/submit", wantStatus: 200,
			body: fmt.Sprintf(`{"result":"problems_found_rectification_ordered","summary":"发现重大隐患一处，已责令限期整改","signature_evidence_id":%q}`, sig)}.run(t, env)
	}

	// Nothing is archived before the approval: the record is not final.
	getArchive := func(as string) archiveView {
		var a archiveView
		scenario{as: as, method: "GET", path: base + "/archive", wantStatus: 200,
			after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { a = decode[archiveView](t, b) }}.run(t, env)
		return a
	}
	if a := getArchive("staff"); len(a.Documents) != 0 || a.Task.State != backend.TaskCompleted || len(a.Evidence) != 3 || len(a.Findings) != 1 {
		t.Fatalf("archive before approval: %+v", a)
	}
	scenario{as: "staff", method: "POST", path: base + "/review", body: `{"decision":"approve","result":"problems_found_rectification_ordered"}`, wantStatus: 200}.run(t, env)

	a := getArchive("staff")
	if a.DocumentsPending || len(a.Documents) != 2 || a.Documents[0].Kind != backend.DocumentInspectionRecord || a.Documents[1].Kind != backend.DocumentRectificationOrder {
		t.Fatalf("archive after approval: %+v", a)
	}
	want := map[string][]string{
		backend.DocumentInspectionRecord: {"现场检查记录", "泽州县应急管理局", task.Enterprise.Name, task.Enterprise.USCC,
			members[0].Name, members[0].BadgeNo, members[1].BadgeNo, "二号车间粉尘清扫记录缺失", "立即清扫并建立台账", "2026年12月20日前", "发现重大隐患一处", "不合格", "合格"},
		backend.DocumentRectificationOrder: {"责令限期整改指令书", task.Enterprise.Name, "二号车间粉尘清扫记录缺失", "2026年12月20日前", "泽州县人民政府", "泽州县人民法院"},
	}
	for _, doc := range a.Documents {
		// The stored version's bytes are what the record says, and what
		// the link serves.
		obj, err := store.Client().GetObject(t.Context(), store.DocumentsBucket(), doc.ObjectKey, minio.GetObjectOptions{VersionID: doc.VersionID})
		if err != nil {
			t.Fatal(err)
		}
		stored, err := io.ReadAll(obj)
		if err != nil || sha(stored) != doc.SHA256 || int64(len(stored)) != doc.Size {
			t.Fatalf("%s: stored %d bytes %s, recorded %d %s (%v)", doc.Kind, len(stored), sha(stored), doc.Size, doc.SHA256, err)
		}
		resp, err := http.Get(doc.URL)
		if err != nil {
			t.Fatal(err)
		}
		served, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || sha(served) != doc.SHA256 {
			t.Fatalf("%s download: %d, %d bytes", doc.Kind, resp.StatusCode, len(served))
		}
		text := pdfText(t, stored)
		for _, s := range want[doc.Kind] {
			if !strings.Contains(text, strings.Join(strings.Fields(s), "")) {
				t.Errorf("%s lacks %q:\n%s", doc.Kind, s, text)
			}
		}
		// WORM: COMPLIANCE retention on the version; MinIO refuses to delete it.
		mode, until, err := store.Client().GetObjectRetention(t.Context(), store.DocumentsBucket(), doc.ObjectKey, doc.VersionID)
		if err != nil || mode == nil || *mode != minio.Compliance || until == nil || until.Before(time.Now().Add(23*time.Hour)) {
			t.Fatalf("%s retention: %v until %v, %v", doc.Kind, mode, until, err)
		}
		if err := store.Client().RemoveObject(t.Context(), store.DocumentsBucket(), doc.ObjectKey, minio.RemoveObjectOptions{VersionID: doc.VersionID}); err == nil {
			t.Fatalf("MinIO deleted the %s under retention", doc.Kind)
		}
	}
	for _, e := range a.Evidence {
		if e.State != backend.EvidenceVerified || e.VersionID == "" || len(e.SHA256) != 64 {
			t.Fatalf("archived evidence %+v", e)
		}
	}

	// A retry (the repair after a crash) makes no second document.
	ctx := backend.WithActor(t.Context(), &backend.Actor{Roles: []backend.Role{backend.RoleCoordinator}})
	tk, r, err := env.db.TaskResults().FindTaskResult(ctx, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	again, err := env.svc.Results.ArchiveDocuments(ctx, tk, r)
	if err != nil || len(again) != 2 || again[0].VersionID != a.Documents[0].VersionID || again[1].SHA256 != a.Documents[1].SHA256 {
		t.Fatalf("archiving again: %v %+v", err, again)
	}
	versions := 0
	for v := range store.Client().ListObjects(t.Context(), store.DocumentsBucket(), minio.ListObjectsOptions{WithVersions: true, Recursive: true}) {
		if v.Err != nil {
			t.Fatal(v.Err)
		}
		versions++
	}
	if versions != 2 {
		t.Fatalf("%d document versions stored, want 2", versions)
	}
	if events, err := env.db.AuditEvents().FindAuditEvents(ctx, backend.AuditFilter{Action: "document.archive"}); err != nil || len(events) != 2 {
		t.Fatalf("%d document.archive events (%v), want 2", len(events), err)
	}

	// A disposition may name an archived document of this task, and only that.
	scenario{as: "staff", method: "POST", path: base + "/dispositions", wantStatus: 201,
		body: fmt.Sprintf(`{"kind":"case_opened","case_no":"泽应急罚〔2026〕1号","date":%q,"document_no":"泽应急立〔2026〕1号","document_id":%q}`,
			time.Now().In(backend.ChinaTime).Format("2006-01-02"), a.Documents[1].ID)}.run(t, env)
	scenario{as: "staff", method: "POST", path: base + "/dispositions", wantStatus: 400, wantContain: []string{`"document_id"`},
		body: fmt.Sprintf(`{"kind":"case_opened","case_no":"2","date":%q,"document_no":"3","document_id":"nope"}`, time.Now().In(backend.ChinaTime).Format("2006-01-02"))}.run(t, env)

	// Who sees the task sees its archive; an inspector outside the group
	// and another department's staff get 404.
	scenario{token: tokens[1], method: "GET", path: base + "/archive", wantStatus: 200, wantContain: []string{a.Documents[0].SHA256}}.run(t, env)
	for badge, u := range w.inspectors {
		if !task.HasMember(u.ID) && badge != "" {
			scenario{token: env.loginAs(t, u), method: "GET", path: base + "/archive", wantStatus: 404}.run(t, env)
			break
		}
	}
	outsider := env.users["leader"]
	outsider.Roles, outsider.DepartmentID = []backend.Role{backend.RoleStaff}, w.Office.ID
	if err := env.updateUser(t.Context(), outsider); err != nil {
		t.Fatal(err)
	}
	scenario{as: "leader", method: "GET", path: base + "/archive", wantStatus: 404}.run(t, env)

	// Every archived object matches its record.
	rep, err := env.svc.Results.VerifyArchive(ctx, func(d results.ArchiveDifference) { t.Errorf("difference: %s", d) })
	if err != nil || rep.Documents != 2 || rep.Evidence != 3 || rep.Differences != 0 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}
