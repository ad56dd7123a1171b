//go:build faults

package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
	"suiji/backend/audit"
	"suiji/backend/uscc"
)

// The kill tests wait for what the killed instance held to lapse (its
// idempotency claims and a draw's lease after 30 s, a dispatch's lease
// after 60 s), about two minutes in all, so they run with `make faults`
// (go test -tags faults), not in `make test`.

// killDuring sends a request to victim, kills victim after delay (the
// request still in flight, or just answered), and then repeats the same
// request with the same Idempotency-Key on survivor until it is answered
// with a 2xx — a claim left by the killed instance answers 409 until it
// expires — or with one of also. It returns the final status and body and
// whether the first request was answered before the kill.
func killDuring(t *testing.T, victim, survivor *instance, method, path, token string, body []byte, contentType string, delay time.Duration, also ...int) (int, []byte, bool) {
	t.Helper()
	return killWhen(t, victim, survivor, method, path, token, body, contentType, func() { time.Sleep(delay) }, also...)
}

// killWhen is killDuring with the moment of the kill chosen by wait,
// which returns when victim is to be killed (e.g. once a request has
// reached a given point of its work).
func killWhen(t *testing.T, victim, survivor *instance, method, path, token string, body []byte, contentType string, wait func(), also ...int) (int, []byte, bool) {
	t.Helper()
	key := fmt.Sprintf("fault-%d", rand.Int64())
	first := make(chan int, 1)
	go func() {
		st, _, _ := send(context.Background(), victim.base, method, path, token, key, body, contentType)
		first <- st
	}()
	wait()
	victim.Kill()
	answered := (<-first) != 0
	// The killed instance's leases and claims lapse on their own: the
	// idempotency claim and a draw's lease after 30 s, a dispatch's
	// lease after 60 s.
	deadline := time.Now().Add(120 * time.Second)
	for {
		st, b, err := send(t.Context(), survivor.base, method, path, token, key, body, contentType)
		if err == nil && (st/100 == 2 || containsInt(also, st)) {
			return st, b, answered
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s with the same Idempotency-Key on the surviving instance: still %d %s (%v) after 120 s", method, path, st, b, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestFaultsKillAnInstanceMidRequest runs two API instances on one
// database and kills one with SIGKILL while it draws, dispatches, takes
// part in a multipart upload (asked for the stored parts, then
// completing) and imports. Each time the same request, repeated with the same
// Idempotency-Key on the other instance, succeeds; nothing is stored
// twice, nothing committed is lost, and the audit chain verifies.
func TestFaultsKillAnInstanceMidRequest(t *testing.T) {
	fs := newFaultStack(t)
	a := startInstance(t, fs.env)
	b := startInstance(t, fs.env)
	ctx := t.Context()
	coord, leader := login(t, a.base, "coordinator"), login(t, a.base, "leader")

	items, _ := json.Marshal(fs.world.Items)
	var plan struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(must(t, a.base, "POST", "/api/v1/plans", coord, fmt.Sprintf(`{"year":2026,"title":"故障测试","kind":"undirected","item_ids":%s,
		"lead_department_id":%q,"sample":{"ratio":0.2},"group_size":2,"window":{"start":"2026-03-01","end":"2026-12-31"}}`, items, fs.world.Brigade.ID), 201), &plan)
	must(t, a.base, "POST", "/api/v1/plans/"+plan.ID+"/approve", leader, "", 200)
	must(t, a.base, "POST", "/api/v1/plans/"+plan.ID+"/commit", coord, "", 200)

	// A draw. A first attempt that completed (stored and answered, its
	// answer lost with the instance) makes the retry a redraw without a
	// reason: 422, with the one draw stored.
	st, body, answered := killDuring(t, a, b, "POST", "/api/v1/plans/"+plan.ID+"/draws", coord, []byte(`{}`), "", 30*time.Millisecond, 422)
	t.Logf("draw: first attempt answered before the kill: %t; retry %d", answered, st)
	draws, err := fs.db.Draws().FindDrawsByPlan(ctx, plan.ID)
	if err != nil || len(draws) != 1 {
		t.Fatalf("%d draws stored for the plan (%v), want exactly 1; retry answered %d %s", len(draws), err, st, body)
	}
	p, _ := fs.db.Plans().FindPlanByID(ctx, plan.ID)
	if p.Status != backend.PlanDrawn || p.CurrentDrawID != draws[0].ID {
		t.Fatalf("plan %s points at %q; want drawn, at %s", p.Status, p.CurrentDrawID, draws[0].ID)
	}

	// A dispatch, on the restarted instance.
	a.Start()
	a.waitReady(t)
	drawID := draws[0].ID
	st, body, answered = killDuring(t, a, b, "POST", "/api/v1/draws/"+drawID+"/dispatch", coord, []byte(`{}`), "", 40*time.Millisecond)
	t.Logf("dispatch: first attempt answered before the kill: %t; retry %d %.120s", answered, st, body)
	tasks, n, err := fs.db.Tasks().FindTasks(ctx, backend.TaskFilter{PlanID: plan.ID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(draws[0].Record.Selections); n != want || len(tasks) != want {
		t.Fatalf("%d tasks (%d listed) for a draw of %d selections", n, len(tasks), want)
	}
	seen := map[string]bool{}
	for _, tk := range tasks {
		if seen[tk.Enterprise.USCC] {
			t.Errorf("enterprise %s has two tasks", tk.Enterprise.USCC)
		}
		seen[tk.Enterprise.USCC] = true
	}
	notes, err := fs.db.Database().Collection("notifications").CountDocuments(ctx, bson.D{{Key: "kind", Value: backend.NoteTaskAssigned}})
	if err != nil {
		t.Fatal(err)
	}
	members := 0
	for _, tk := range tasks {
		members += len(tk.MemberUserIDs())
	}
	if int(notes) != members {
		t.Errorf("%d assignment alerts for %d group members: each must be alerted exactly once", notes, members)
	}

	// A video uploaded in parts by a group member, on the restarted
	// instance.
	a.Start()
	a.waitReady(t)
	// The dispatch is in the audit trail once: its event, written ahead and
	// marked on the plan and tasks, has an ID from the draw, so the retry's
	// is the killed attempt's. A retry that found everything written
	// records nothing itself: the killed instance, restarted, appends the
	// event it left behind before it serves.
	if n, err := fs.db.Database().Collection("audit_events").CountDocuments(ctx, bson.D{{Key: "action", Value: "plan.dispatch"}, {Key: "object_id", Value: plan.ID}}); err != nil || n != 1 {
		t.Errorf("%d plan.dispatch events (%v), want 1", n, err)
	}
	// So is the draw, whichever of its writes the kill cut short.
	if n, err := fs.db.Database().Collection("audit_events").CountDocuments(ctx, bson.D{{Key: "action", Value: "plan.draw"}, {Key: "object_id", Value: plan.ID}}); err != nil || n != 1 {
		t.Errorf("%d plan.draw events (%v), want 1", n, err)
	}
	evidenceID := killDuringAnUpload(t, fs, a, b, tasks[0])

	// An import of 300 enterprises, on the restarted instance.
	a.Start()
	a.waitReady(t)
	file, contentType := enterpriseUpload(t, 300)
	st, body, answered = killDuring(t, a, b, "POST", "/api/v1/enterprises/import", coord, file, contentType, 60*time.Millisecond)
	t.Logf("import: first attempt answered before the kill: %t; retry %d %.120s", answered, st, body)
	count, err := fs.db.Database().Collection("enterprises").CountDocuments(ctx, bson.D{})
	if err != nil || count != 150+300 {
		t.Errorf("%d enterprises after the import (%v), want 450: each imported exactly once", count, err)
	}
	// The killed instance, restarted, appends an import event it left
	// behind before it serves; either way the import is audited.
	a.Start()
	a.waitReady(t)
	if n, err := fs.db.Database().Collection("audit_events").CountDocuments(ctx, bson.D{{Key: "action", Value: "enterprise.import"}}); err != nil || n < 1 {
		t.Errorf("%d enterprise.import events (%v), want the import audited", n, err)
	}

	// The video's declaration and verification are each in the audit
	// trail once (an event staged by the killed instance is appended by
	// the restarted one before it serves).
	for action, want := range map[string]int64{"evidence.create": 1, "evidence.verified": 1, "evidence.rejected": 0} {
		n, err := fs.db.Database().Collection("audit_events").CountDocuments(ctx, bson.D{{Key: "action", Value: action}, {Key: "object_id", Value: evidenceID}})
		if err != nil || n != want {
			t.Errorf("%d %s events for the video (%v), want %d", n, action, err, want)
		}
	}

	// The audit chain holds, whichever instance wrote which event.
	rep, err := audit.Verify(ctx, fs.db.AuditEvents())
	if err != nil || rep.Break != nil {
		t.Fatalf("audit chain after the kills: %v %v", err, rep.Break)
	}
	t.Logf("audit chain intact: %d events", rep.Events)
}

// faultEvidence is what the test reads of a piece of evidence.
type faultEvidence struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	RejectReason string `json:"reject_reason"`
	Multipart    *struct {
		PartSize int64 `json:"part_size"`
		Parts    []struct {
			Number int    `json:"number"`
			URL    string `json:"url"`
		} `json:"parts"`
		Stored []struct {
			Number int   `json:"number"`
			Size   int64 `json:"size"`
		} `json:"stored"`
	} `json:"multipart"`
}

// killDuringAnUpload has a member of task declare a video on a — a
// multipart upload — and send its first part straight to MinIO. a is
// killed while the phone asks which parts are stored, and the phone goes
// on with b: the stored part is listed with a fresh URL for the other,
// which it sends. a, restarted, is killed while it completes the upload,
// once MinIO has assembled the object and before the evidence is
// settled, and the same complete with the same Idempotency-Key succeeds
// on b. The evidence is stored once and verified; its one object version
// is the video, and its download link names that version and serves it. It returns the
// evidence's id.
func killDuringAnUpload(t *testing.T, fs *faultStack, a, b *instance, task *backend.Task) string {
	t.Helper()
	ctx := t.Context()
	var phone string
	for _, m := range task.Members {
		if name := fs.users[m.UserID]; m.Active() && name != "" {
			phone = login(t, a.base, name)
			break
		}
	}
	if phone == "" {
		t.Fatalf("task %s has no member with an account", task.ID)
	}
	video := make([]byte, 8<<20+256<<10) // two parts of 8 MiB and 256 KiB
	_, _ = crand.Read(video)
	copy(video, "\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom")
	sum := sha256.Sum256(video)
	digest := hex.EncodeToString(sum[:])
	id := fmt.Sprintf("0f1e2d3c-4b5a-4697-8877-%012x", rand.Int64N(1<<48))

	var v faultEvidence
	_ = json.Unmarshal(must(t, a.base, "POST", "/api/v1/tasks/"+task.ID+"/evidence", phone,
		fmt.Sprintf(`{"id":%q,"kind":"video","content_type":"video/mp4","size":%d,"sha256":%q}`, id, len(video), digest), 201), &v)
	if v.Multipart == nil || len(v.Multipart.Parts) != 2 || v.Multipart.PartSize != 8<<20 {
		t.Fatalf("video upload instructions %+v", v.Multipart)
	}
	ps := int(v.Multipart.PartSize)
	putPart(t, v.Multipart.Parts[0].URL, video[:ps])

	st, body, answered := killDuring(t, a, b, "GET", "/api/v1/evidence/"+id+"/parts", phone, nil, "", 5*time.Millisecond)
	t.Logf("upload, asking for the parts: first attempt answered before the kill: %t; retry %d", answered, st)
	var resume faultEvidence
	if err := json.Unmarshal(body, &resume); err != nil || resume.Multipart == nil || len(resume.Multipart.Stored) != 1 ||
		resume.Multipart.Stored[0].Number != 1 || len(resume.Multipart.Parts) != 1 || resume.Multipart.Parts[0].Number != 2 {
		t.Fatalf("resume point from the surviving instance: %s (%v)", body, err)
	}
	putPart(t, resume.Multipart.Parts[0].URL, video[ps:])

	rec, err := fs.db.Evidence().FindEvidence(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	a.waitReady(t)
	// Kill a as soon as MinIO holds the assembled object: a has completed
	// the multipart upload and is reading the object back to check it.
	assembled := func() {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if _, err := fs.objs.Client().StatObject(ctx, fs.objs.EvidenceBucket(), rec.ObjectKey, minio.StatObjectOptions{}); err == nil {
				return
			}
		}
	}
	st, body, answered = killWhen(t, a, b, "POST", "/api/v1/evidence/"+id+"/complete", phone, nil, "", assembled)
	t.Logf("upload, completing: first attempt answered before the kill: %t; retry %d", answered, st)
	if err := json.Unmarshal(body, &v); err != nil || v.ID != id || v.State != backend.EvidenceVerified {
		t.Fatalf("the retried complete answered %s (%v), want the verified video", body, err)
	}

	list, err := fs.db.Evidence().FindEvidenceByTask(ctx, task.ID)
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].State != backend.EvidenceVerified || list[0].VersionID == "" {
		t.Fatalf("the task's evidence (%v): want the one video, verified, with its object version: %+v", err, list)
	}
	rec = list[0]
	var versions []string
	for obj := range fs.objs.Client().ListObjects(ctx, fs.objs.EvidenceBucket(), minio.ListObjectsOptions{Prefix: rec.ObjectKey, Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		versions = append(versions, obj.VersionID)
	}
	if len(versions) != 1 || versions[0] != rec.VersionID {
		t.Fatalf("object versions under %s: %v, want only the recorded %s", rec.ObjectKey, versions, rec.VersionID)
	}
	obj, err := fs.objs.Client().GetObject(ctx, fs.objs.EvidenceBucket(), rec.ObjectKey, minio.GetObjectOptions{VersionID: rec.VersionID})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if h := sha256.New(); func() error { _, err := io.Copy(h, obj); return err }() != nil || hex.EncodeToString(h.Sum(nil)) != digest {
		t.Fatal("the stored object is not the video")
	}

	var link struct {
		URL string `json:"url"`
	}
	_ = json.Unmarshal(must(t, b.base, "GET", "/api/v1/evidence/"+id+"/download", phone, "", 200), &link)
	if u, err := url.Parse(link.URL); err != nil || u.Query().Get("versionId") != rec.VersionID {
		t.Fatalf("the download link %s (%v) does not name the recorded version %s", link.URL, err, rec.VersionID)
	}
	if got := fetchSHA256(t, link.URL); got != digest {
		t.Fatalf("the download link serves bytes with SHA-256 %s, want %s", got, digest)
	}
	return id
}

// putPart sends one part of a multipart upload to its presigned URL, as
// a phone does.
func putPart(t *testing.T, url string, data []byte) {
	t.Helper()
	_ = presigned(t, "PUT", url, bytes.NewReader(data)).Close()
}

// fetchSHA256 downloads url and returns the SHA-256 of its body.
func fetchSHA256(t *testing.T, url string) string {
	t.Helper()
	body := presigned(t, "GET", url, nil)
	defer body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, body); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// presigned sends a request to a presigned MinIO URL and returns the body
// of its 200 answer.
func presigned(t *testing.T, method, url string, body io.Reader) io.ReadCloser {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		_ = resp.Body.Close()
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, msg)
	}
	return resp.Body
}

// enterpriseUpload is a multipart body with a CSV of n new, valid
// enterprises in the world's towns.
func enterpriseUpload(t *testing.T, n int) ([]byte, string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(42, uint64(time.Now().UnixNano())))
	var sheet bytes.Buffer
	w := csv.NewWriter(&sheet)
	_ = w.Write([]string{"统一社会信用代码", "企业名称", "所属乡镇", "行业", "地址", "重点监管类别", "信用风险标记", "经营状态"})
	towns := []string{"巴公镇", "高都镇", "金村镇"}
	for i := range n {
		_ = w.Write([]string{uscc.Generate(rng), fmt.Sprintf("故障测试企业%03d", i), towns[i%3], "制造业", "工业园" + fmt.Sprint(i), "", "", "存续"})
	}
	w.Flush()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("file", "enterprises.csv")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = part.Write(sheet.Bytes())
	_ = mw.Close()
	return body.Bytes(), mw.FormDataContentType()
}
