package mobileapi

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
	"suiji/backend/cmd/wire"
	"suiji/backend/media/mediatest"
	"suiji/backend/tasks"
	"suiji/storage/objects"
	"suiji/storage/storagetest"
)

// withEvidence rebuilds env's services and server on a MinIO store of the
// test's own whose evidence bucket keeps objects a day under COMPLIANCE
// retention, and returns the store.
func (env *apiEnv) withEvidence(t *testing.T) *objects.Store {
	t.Helper()
	store := storagetest.ObjectsWith(t, func(o *objects.Options) { o.RetentionDays = 1 })
	env.withObjects(store)
	return store
}

// withObjects rebuilds env's services and server on store.
func (env *apiEnv) withObjects(store *objects.Store) {
	env.svc = wire.Services(&wire.Stores{Mongo: env.db, Cache: env.cache, Objects: store}, env.stack, func() time.Time { return time.Now().UTC() })
	env.srv = New(Config{BodyLimit: 1 << 20}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, env.svc)
}

// postUpload sends file with a presigned POST policy, as a phone does, and
// returns MinIO's status.
func postUpload(t *testing.T, up *postUploadJSON, contentType string, file []byte) int {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range up.Fields {
		if k == "Content-Type" && contentType != "" {
			v = contentType
		}
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := w.CreateFormFile("file", "upload")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(file)
	_ = w.Close()
	resp, err := http.Post(up.URL, w.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// putPart sends one part to its presigned URL.
func putPart(t *testing.T, url string, data []byte) {
	t.Helper()
	if status := putStatus(t, url, data); status != 200 {
		t.Fatalf("PUT part: %d", status)
	}
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func signaturePNG(t *testing.T, seed int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 120, 40))
	for x := range 120 {
		img.Set(x, 20+(x*seed)%15, color.White)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestFullInspectionOverTheAPI runs an inspection as two phones do: sync,
// check-in, checklist (with a stale version refused), evidence straight to
// MinIO — a photo with EXIF, a hash mismatch rejected, an oversize and a
// wrong-type upload refused by MinIO, a video resumed half-way — a stored
// version MinIO will not delete, findings and non-cooperation with the
// phones' own ids and Idempotency-Key replays, both signatures, completion
// with its deadlines, an amendment, and a delta sync that sees it all.
func TestFullInspectionOverTheAPI(t *testing.T) {
	env := newAPIEnv(t, Config{})
	store := env.withEvidence(t)
	w := newDispatchWorld(t, env, 12, `{"count":3}`)
	for _, e := range w.Enterprises {
		e.Location = &backend.GeoPoint{Lat: 35.4912, Lng: 112.8567}
		if err := env.db.Enterprises().UpdateEnterprise(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	task := w.dispatchFirst(t, env)
	a, b := w.inspectors[task.Members[0].BadgeNo], w.inspectors[task.Members[1].BadgeNo]
	ta, tb := env.loginAs(t, a), env.loginAs(t, b)
	base := "/api/v1/tasks/" + task.ID

	// Sync: everything first, with a cursor.
	var first syncJSON
	scenario{token: ta, method: "GET", path: "/api/v1/me/tasks", wantStatus: 200, wantContain: []string{task.ID, `"my_progress":null`},
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { first = decode[syncJSON](t, b) }}.run(t, env)

	// Check-in: near is fine, 3 km off is flagged (not refused).
	scenario{token: ta, method: "POST", path: base + "/check-in", body: `{"lat":35.4915,"lng":112.8569,"accuracy_m":12}`, wantStatus: 200,
		wantContain: []string{`"state":"in_progress"`, `"flagged":false`}}.run(t, env)
	scenario{token: tb, method: "POST", path: base + "/check-in", body: `{"lat":35.52,"lng":112.8567,"accuracy_m":40}`, wantStatus: 200,
		wantContain: []string{`"flagged":true`, `"check_in_flagged":true`}}.run(t, env)
	scenario{token: tb, method: "POST", path: base + "/check-in", body: `{"lat":135,"lng":112}`, wantStatus: 400, wantContain: []string{`"lat"`}}.run(t, env)

	// The checklist: a change based on an old version is refused with the
	// current task; one without a version applies to the current task.
	item := task.Items[0].ID
	var cur taskJSON
	scenario{token: ta, method: "GET", path: base, wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { cur = decode[taskJSON](t, b) }}.run(t, env)
	scenario{token: ta, method: "PUT", path: base + "/items/" + item, body: fmt.Sprintf(`{"outcome":"pass","note":"台账齐全","version":%d}`, cur.Version),
		wantStatus: 200, wantContain: []string{`"outcome":"pass"`}}.run(t, env)
	scenario{token: tb, method: "PUT", path: base + "/items/" + item, body: fmt.Sprintf(`{"outcome":"fail","version":%d}`, cur.Version),
		wantStatus: 409, wantContain: []string{`"current":{`, `"outcome":"pass"`, `"stale"`}}.run(t, env)
	scenario{token: tb, method: "PUT", path: base + "/items/nope", body: `{"outcome":"fail"}`, wantStatus: 404}.run(t, env)
	scenario{token: tb, method: "PUT", path: base + "/items/" + item, body: `{"outcome":"maybe"}`, wantStatus: 400}.run(t, env)

	// An ETag names the representation.
	var etag string
	scenario{token: ta, method: "GET", path: base, wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, resp *http.Response, _ []byte) { etag = resp.Header.Get("ETag") }}.run(t, env)
	scenario{token: ta, method: "GET", path: base, headers: map[string]string{"If-None-Match": etag}, wantStatus: 304}.run(t, env)

	// Evidence: a photo with EXIF through a presigned POST.
	taken := time.Date(2026, 3, 5, 2, 22, 1, 0, time.UTC)
	photo := mediatest.JPEG(160, 120, taken, 35.4913, 112.8568)
	declare := func(token, body string, want int) evidenceJSON {
		t.Helper()
		var e evidenceJSON
		scenario{token: token, method: "POST", path: base + "/evidence", body: body, wantStatus: want,
			after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { e = decode[evidenceJSON](t, b) }}.run(t, env)
		return e
	}
	complete := func(token, id string) evidenceJSON {
		t.Helper()
		var e evidenceJSON
		scenario{token: token, method: "POST", path: "/api/v1/evidence/" + id + "/complete", wantStatus: 200,
			after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { e = decode[evidenceJSON](t, b) }}.run(t, env)
		return e
	}
	photoID := "0d4c1f6e-9a1b-4c55-8f0e-1c2d3e4f5a61"
	p := declare(ta, fmt.Sprintf(`{"id":%q,"kind":"photo","content_type":"image/jpeg","size":%d,"sha256":%q,"taken_at":"2026-03-05T10:22:01+08:00","lat":35.4913,"lng":112.8568}`,
		photoID, len(photo), sha(photo)), 201)
	if p.Upload == nil || p.Multipart != nil || p.State != backend.EvidencePending {
		t.Fatalf("photo instructions %+v", p)
	}
	if got := postUpload(t, p.Upload, "", photo); got != 204 {
		t.Fatalf("POST to MinIO: %d", got)
	}
	p = complete(ta, photoID)
	if p.State != backend.EvidenceVerified || p.SniffedType != "image/jpeg" || p.EXIFTime == nil || !p.EXIFTime.Equal(taken) || p.EXIFLat == nil {
		t.Fatalf("photo after complete %+v", p)
	}
	// The same declaration again is harmless; another file under the id is not.
	declare(ta, fmt.Sprintf(`{"id":%q,"kind":"photo","content_type":"image/jpeg","size":%d,"sha256":%q}`, photoID, len(photo), sha(photo)), 200)
	declare(ta, fmt.Sprintf(`{"id":%q,"kind":"photo","content_type":"image/jpeg","size":10,"sha256":%q}`, photoID, sha([]byte("x"))), 409)

	// MinIO refuses what the policy does not allow: one byte more, another type.
	other := mediatest.JPEG(80, 60, taken, 35.49, 112.85)
	o := declare(ta, fmt.Sprintf(`{"kind":"photo","content_type":"image/jpeg","size":%d,"sha256":%q}`, len(other), sha(other)), 201)
	if got := postUpload(t, o.Upload, "", append(other, 0)); got < 400 {
		t.Fatalf("an oversize upload was accepted: %d", got)
	}
	if got := postUpload(t, o.Upload, "image/png", other); got < 400 {
		t.Fatalf("an upload of another content type was accepted: %d", got)
	}
	scenario{token: ta, method: "POST", path: "/api/v1/evidence/" + o.ID + "/complete", wantStatus: 400, wantContain: []string{"nothing is uploaded"}}.run(t, env)
	// A file other than the declared one (same size, same type) is rejected.
	forged := bytes.Clone(other)
	forged[len(forged)-10] ^= 0xFF
	if got := postUpload(t, o.Upload, "", forged); got != 204 {
		t.Fatalf("POST: %d", got)
	}
	if o = complete(ta, o.ID); o.State != backend.EvidenceRejected || !strings.Contains(o.RejectReason, "SHA-256") {
		t.Fatalf("a hash mismatch was not rejected: %+v", o)
	}

	// A video in parts, stopped half-way and resumed.
	video := make([]byte, 18<<20)
	_, _ = rand.Read(video[16:])
	copy(video, []byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"))
	v := declare(ta, fmt.Sprintf(`{"kind":"video","content_type":"video/mp4","size":%d,"sha256":%q}`, len(video), sha(video)), 201)
	if v.Multipart == nil || len(v.Multipart.Parts) != 3 || v.Multipart.PartSize != 8<<20 {
		t.Fatalf("video instructions %+v", v.Multipart)
	}
	ps := int(v.Multipart.PartSize)
	putPart(t, v.Multipart.Parts[0].URL, video[:ps])
	scenario{token: ta, method: "POST", path: "/api/v1/evidence/" + v.ID + "/complete", wantStatus: 400, wantContain: []string{"1 of 3 parts"}}.run(t, env)
	var resume evidenceJSON
	scenario{token: ta, method: "GET", path: "/api/v1/evidence/" + v.ID + "/parts", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { resume = decode[evidenceJSON](t, b) }}.run(t, env)
	if len(resume.Multipart.Stored) != 1 || resume.Multipart.Stored[0].Number != 1 || len(resume.Multipart.Parts) != 2 || resume.Multipart.Parts[0].Number != 2 {
		t.Fatalf("resume point %+v", resume.Multipart)
	}
	for _, part := range resume.Multipart.Parts {
		start := (part.Number - 1) * ps
		putPart(t, part.URL, video[start:min(start+ps, len(video))])
	}
	if v = complete(ta, v.ID); v.State != backend.EvidenceVerified {
		t.Fatalf("video after complete %+v", v)
	}
	stored, err := env.db.Evidence().FindEvidence(t.Context(), v.ID)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := store.Client().GetObject(t.Context(), store.EvidenceBucket(), stored.ObjectKey, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil || sha(got) != sha(video) {
		t.Fatalf("the stored video does not match: %v", err)
	}
	// WORM: every stored version is under COMPLIANCE retention — the
	// video's (multipart) and the photo's (one POST, which MinIO leaves
	// out of the bucket's default) — and MinIO refuses to delete them,
	// even to its admin.
	photoRec, err := env.db.Evidence().FindEvidence(t.Context(), photoID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*backend.Evidence{stored, photoRec} {
		mode, until, err := store.Client().GetObjectRetention(t.Context(), store.EvidenceBucket(), e.ObjectKey, e.VersionID)
		if err != nil || mode == nil || *mode != minio.Compliance || until == nil || until.Before(time.Now().Add(23*time.Hour)) {
			t.Fatalf("%s (%s) retention: %v until %v, %v", e.ID, e.Kind, mode, until, err)
		}
		err = store.Client().RemoveObject(t.Context(), store.EvidenceBucket(), e.ObjectKey, minio.RemoveObjectOptions{VersionID: e.VersionID})
		if err == nil {
			t.Fatalf("MinIO deleted the %s version under retention", e.Kind)
		}
	}

	// Findings and non-cooperation with the phones' own ids; replays are harmless.
	finding := fmt.Sprintf(`{"id":"7f3e2d1c-0b9a-4887-a6b5-c4d3e2f1a0b9","item_id":%q,"description":"二号车间粉尘清扫记录缺失","severity":"major","rectification":"立即清扫并建立台账","rectify_by":"2026-12-20","evidence_ids":[%q]}`, item, photoID)
	key := map[string]string{"Idempotency-Key": "finding-7f3e2d1c"}
	scenario{token: ta, method: "POST", path: base + "/findings", body: finding, headers: key, wantStatus: 201, wantContain: []string{`"severity":"major"`}}.run(t, env)
	scenario{token: ta, method: "POST", path: base + "/findings", body: finding, headers: key, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, resp *http.Response, _ []byte) {
			if resp.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatal("the repeat with the same key was not a replay")
			}
		}}.run(t, env)
	scenario{token: ta, method: "POST", path: base + "/findings", body: finding, wantStatus: 200}.run(t, env)
	scenario{token: ta, method: "POST", path: base + "/findings", body: `{"item_id":"` + item + `","description":"x","severity":"huge","evidence_ids":["nope"]}`,
		wantStatus: 400, wantContain: []string{`"severity"`}}.run(t, env)
	scenario{token: tb, method: "GET", path: base + "/findings", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, body []byte) {
			if n := strings.Count(string(body), `"id":"7f3e2d1c`); n != 1 {
				t.Fatalf("%d findings stored, want 1: %s", n, body)
			}
		}}.run(t, env)
	scenario{token: tb, method: "POST", path: base + "/non-cooperation", body: `{"id":"5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d","type":"refused_materials","description":"拒不提供安全培训台账"}`,
		wantStatus: 201}.run(t, env)
	scenario{token: tb, method: "POST", path: base + "/non-cooperation", body: `{"type":"shouting","description":"x"}`, wantStatus: 400, wantContain: []string{`"type"`}}.run(t, env)
	if byUSCC, err := env.db.NonCooperation().NonCooperationTasks(t.Context()); err != nil || !slices.Equal(byUSCC[task.Enterprise.USCC], []string{task.ID}) {
		t.Fatalf("the record is not stored with its enterprise and task: %v %v", byUSCC, err)
	}

	// Each member signs off; the second completes the task.
	for i, tok := range []string{ta, tb} {
		sig := signaturePNG(t, i+2)
		s := declare(tok, fmt.Sprintf(`{"kind":"signature","content_type":"image/png","size":%d,"sha256":%q}`, len(sig), sha(sig)), 201)
		if got := postUpload(t, s.Upload, "", sig); got != 204 {
			t.Fatalf("signature POST: %d", got)
		}
		if s = complete(tok, s.ID); s.State != backend.EvidenceVerified {
			t.Fatalf("signature %+v", s)
		}
		want := []string{`"state":"submitted"`}
		if i == 1 {
			want = []string{`"state":"completed"`, `"submitted_result":"problems_found_rectification_ordered"`, `"feedback":"20`, `"publication":"20`}
		}
		scenario{token: tok, method: "POST", path: base + "/submit", body: fmt.Sprintf(`{"result":"problems_found_rectification_ordered","summary":"发现重大隐患一处","signature_evidence_id":%q}`, s.ID),
			wantStatus: 200, wantContain: want}.run(t, env)
	}
	// The record is frozen: a change is an amendment with a reason.
	scenario{token: ta, method: "PUT", path: base + "/items/" + item, body: `{"outcome":"fail"}`, wantStatus: 409, wantContain: []string{"amendment"}}.run(t, env)
	scenario{token: ta, method: "PUT", path: base + "/items/" + item, body: `{"outcome":"fail","amendment_reason":"复核时发现记录填错"}`, wantStatus: 200,
		wantContain: []string{`"amendments":[{`, "复核时发现记录填错", "pass → fail"}}.run(t, env)
	// An amendment's reason is bounded: each sync of the group carries it.
	scenario{token: ta, method: "PUT", path: base + "/items/" + item, body: `{"outcome":"pass","amendment_reason":"` + strings.Repeat("改", 2001) + `"}`,
		wantStatus: 400, wantContain: []string{`"amendment_reason"`, "2000"}}.run(t, env)

	// A delta sync from the first cursor brings the task as it is now.
	scenario{token: tb, method: "GET", path: "/api/v1/me/tasks?since=" + first.Cursor, wantStatus: 200,
		wantContain: []string{task.ID, `"state":"completed"`, `"submission":{`}}.run(t, env)
	scenario{token: tb, method: "GET", path: "/api/v1/me/tasks?since=x", wantStatus: 400}.run(t, env)

	// Downloads: those who see the task get a link that works; an
	// inspector outside the group and another department's staff get 404.
	scenario{token: tb, method: "GET", path: "/api/v1/evidence/" + photoID + "/download", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, body []byte) {
			link := decode[map[string]string](t, body)["url"]
			resp, err := http.Get(link)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || sha(got) != sha(photo) {
				t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(got))
			}
		}}.run(t, env)
	scenario{as: "staff", method: "GET", path: "/api/v1/evidence/" + photoID + "/download", wantStatus: 200}.run(t, env)
	for badge, u := range w.inspectors {
		if !task.HasMember(u.ID) && badge != "" {
			scenario{token: env.loginAs(t, u), method: "GET", path: "/api/v1/evidence/" + photoID + "/download", wantStatus: 404}.run(t, env)
			scenario{token: env.loginAs(t, u), method: "POST", path: base + "/check-in", body: `{"lat":35.49,"lng":112.85}`, wantStatus: 404}.run(t, env)
			break
		}
	}
	outsider := env.users["leader"]
	outsider.Roles, outsider.DepartmentID = []backend.Role{backend.RoleStaff}, w.Office.ID
	if err := env.updateUser(t.Context(), outsider); err != nil {
		t.Fatal(err)
	}
	scenario{as: "leader", method: "GET", path: "/api/v1/evidence/" + photoID + "/download", wantStatus: 404}.run(t, env)

	// A later version under the photo's key (object lock keeps versions,
	// it does not stop new ones): the link still names the version
	// recorded at verification and serves the verified bytes.
	if _, err := store.Client().PutObject(t.Context(), store.EvidenceBucket(), photoRec.ObjectKey, bytes.NewReader([]byte("a later version")), 15,
		minio.PutObjectOptions{ContentType: "image/jpeg"}); err != nil {
		t.Fatal(err)
	}
	scenario{token: tb, method: "GET", path: "/api/v1/evidence/" + photoID + "/download", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, body []byte) {
			link, err := url.Parse(decode[map[string]string](t, body)["url"])
			if err != nil || photoRec.VersionID == "" || link.Query().Get("versionId") != photoRec.VersionID {
				t.Fatalf("the link %v (%v) does not name the recorded version %q", link, err, photoRec.VersionID)
			}
			resp, err := http.Get(link.String())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || sha(got) != photoRec.SHA256 {
				t.Fatalf("the link after a later version: %d, %d bytes that are not the verified photo", resp.StatusCode, len(got))
			}
		}}.run(t, env)
	env.checkFeedsNameStoredVersions(t)
}

// TestAbandonedUploadsAreSettled: an upload begun and never completed is
// settled by the scheduler once it is older than the limit — a multipart
// upload aborted (MinIO drops its parts) and rejected, a one-POST upload
// whose file never came rejected, one whose file came verified and
// retained.
func TestAbandonedUploadsAreSettled(t *testing.T) {
	env := newAPIEnv(t, Config{})
	store := env.withEvidence(t)
	w := newDispatchWorld(t, env, 4, `{"count":1}`)
	task := w.dispatchFirst(t, env)
	token := env.loginAs(t, w.inspectors[task.Members[0].BadgeNo])
	declare := func(body string) evidenceJSON {
		var e evidenceJSON
		scenario{token: token, method: "POST", path: "/api/v1/tasks/" + task.ID + "/evidence", body: body, wantStatus: 201,
			after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { e = decode[evidenceJSON](t, b) }}.run(t, env)
		return e
	}
	video := bytes.Repeat([]byte{1}, 12<<20)
	v := declare(fmt.Sprintf(`{"kind":"video","content_type":"video/mp4","size":%d,"sha256":%q}`, len(video), sha(video)))
	putPart(t, v.Multipart.Parts[0].URL, video[:8<<20])
	never := declare(fmt.Sprintf(`{"kind":"document","content_type":"application/pdf","size":9,"sha256":%q}`, sha([]byte("%PDF-1.7\n"))))
	pdf := []byte("%PDF-1.7\n")
	came := declare(fmt.Sprintf(`{"kind":"document","content_type":"application/pdf","size":%d,"sha256":%q}`, len(pdf), sha(pdf)))
	if got := postUpload(t, came.Upload, "", pdf); got != 204 {
		t.Fatalf("POST: %d", got)
	}

	// Not yet: nothing is settled before the limit.
	if n, err := env.svc.Tasks.AbortStaleUploads(t.Context(), time.Now()); err != nil || n != 0 {
		t.Fatalf("settled %d early (%v)", n, err)
	}
	n, err := env.svc.Tasks.AbortStaleUploads(t.Context(), time.Now().Add(49*time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("settled %d, %v; want 3", n, err)
	}
	states := map[string]string{}
	for _, id := range []string{v.ID, never.ID, came.ID} {
		e, err := env.db.Evidence().FindEvidence(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		states[id] = e.State
	}
	if states[v.ID] != backend.EvidenceRejected || states[never.ID] != backend.EvidenceRejected || states[came.ID] != backend.EvidenceVerified {
		t.Fatalf("states %v", states)
	}
	ev, _ := env.db.Evidence().FindEvidence(t.Context(), v.ID)
	uploads := store.Client().ListIncompleteUploads(t.Context(), store.EvidenceBucket(), ev.ObjectKey, true)
	for u := range uploads {
		if u.Err == nil {
			t.Fatalf("the abandoned upload %s is still in progress", u.UploadID)
		}
	}
}

// TestEvidenceFaultIsNotNotFound: when the evidence is there but its task
// cannot be read (here a task record the store cannot decode; in the
// field a database restarting), complete and download answer with the
// fault, not 404 — a phone told "evidence not found" would drop the
// upload it still has to finish.
func TestEvidenceFaultIsNotNotFound(t *testing.T) {
	env := newAPIEnv(t, Config{})
	env.withEvidence(t)
	w := newDispatchWorld(t, env, 4, `{"count":1}`)
	task := w.dispatchFirst(t, env)
	token := env.loginAs(t, w.inspectors[task.Members[0].BadgeNo])
	pdf := []byte("%PDF-1.7\n")
	var e evidenceJSON
	scenario{token: token, method: "POST", path: "/api/v1/tasks/" + task.ID + "/evidence", wantStatus: 201,
		body:  fmt.Sprintf(`{"kind":"document","content_type":"application/pdf","size":%d,"sha256":%q}`, len(pdf), sha(pdf)),
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { e = decode[evidenceJSON](t, b) }}.run(t, env)
	if got := postUpload(t, e.Upload, "", pdf); got != 204 {
		t.Fatalf("POST: %d", got)
	}
	// Control: with the task readable, another inspector's complete is 404.
	outsider := env.loginAs(t, w.inspectors[task.Members[1].BadgeNo])
	scenario{token: outsider, method: "POST", path: "/api/v1/evidence/" + e.ID + "/complete", wantStatus: 404}.run(t, env)

	if _, err := env.db.Database().Collection("tasks").UpdateOne(t.Context(), bson.D{{Key: "_id", Value: task.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "members", Value: "not a list"}}}}); err != nil {
		t.Fatal(err)
	}
	scenario{token: token, method: "POST", path: "/api/v1/evidence/" + e.ID + "/complete", wantStatus: 500,
		wantContain: []string{"EINTERNAL"}}.run(t, env)
	scenario{as: "coordinator", method: "GET", path: "/api/v1/evidence/" + e.ID + "/download", wantStatus: 500,
		wantContain: []string{"EINTERNAL"}}.run(t, env)
	if got, err := env.db.Evidence().FindEvidence(t.Context(), e.ID); err != nil || got.State != backend.EvidencePending {
		t.Fatalf("the evidence after the fault: %+v, %v; want it pending, untouched", got, err)
	}
}

// A task's findings stop at as many as its documents list, and a
// completed task's amendments at MaxAmendments: each beyond is refused
// with a reason, and nothing is stored.
func TestOnSiteRecordsAreBounded(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 10, `{"count":1}`)
	task := w.dispatchFirst(t, env)
	member := w.inspectors[task.Members[0].BadgeNo]
	token := env.loginAs(t, member)
	item := task.Items[0].ID
	now := time.Now().UTC()
	for i := range tasks.MaxFindings {
		f := &backend.Finding{ID: fmt.Sprintf("finding-%04d", i), TaskID: task.ID, ItemID: item, Description: "隐患", Severity: backend.SeverityGeneral,
			CreatedBy: member.ID, CreatedAt: now, UpdatedAt: now}
		if err := env.db.Findings().CreateFinding(t.Context(), f); err != nil {
			t.Fatal(err)
		}
	}
	scenario{token: token, method: "POST", path: "/api/v1/tasks/" + task.ID + "/findings",
		body:       fmt.Sprintf(`{"id":"finding-over-the-bound","item_id":%q,"description":"又一处隐患","severity":"general"}`, item),
		wantStatus: 409, wantCode: backend.ECONFLICT, wantContain: []string{fmt.Sprint(tasks.MaxFindings)}}.run(t, env)
	if _, err := env.db.Findings().FindFinding(t.Context(), "finding-over-the-bound"); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Fatalf("the finding over the bound was stored: %v", err)
	}

	stored, err := env.db.Tasks().FindTaskByID(t.Context(), task.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored.State = backend.TaskCompleted
	for range tasks.MaxAmendments {
		stored.Amendments = append(stored.Amendments, backend.Amendment{At: now, By: member.ID, Reason: "更正", What: "item"})
	}
	if err := env.db.Tasks().UpdateTask(t.Context(), stored); err != nil {
		t.Fatal(err)
	}
	scenario{token: token, method: "PUT", path: "/api/v1/tasks/" + task.ID + "/items/" + item, body: `{"outcome":"fail","amendment_reason":"再次更正"}`,
		wantStatus: 409, wantCode: backend.ECONFLICT, wantContain: []string{"amendments"}}.run(t, env)
	if after, err := env.db.Tasks().FindTaskByID(t.Context(), task.ID); err != nil || len(after.Amendments) != tasks.MaxAmendments || after.Version != stored.Version {
		t.Fatalf("the task after a refused amendment: %d amendments, version %d (was %d), %v", len(after.Amendments), after.Version, stored.Version, err)
	}
}
