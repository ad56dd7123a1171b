package mobileapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"suiji/backend"
	"suiji/backend/tasks"
	"suiji/storage/objects"
)

// putStatus sends data to a presigned part URL and returns MinIO's status.
func putStatus(t *testing.T, url string, data []byte) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, url, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// evidenceTask is a dispatched task of a world of its own on a MinIO
// store of the test's own, with its two members signed in.
type evidenceTask struct {
	env    *apiEnv
	store  *objects.Store
	task   *backend.Task
	ta, tb string        // the members' tokens
	a, b   *backend.User // the members
}

func newEvidenceTask(t *testing.T) *evidenceTask {
	t.Helper()
	env := newAPIEnv(t, Config{})
	store := env.withEvidence(t)
	w := newDispatchWorld(t, env, 4, `{"count":1}`)
	task := w.dispatchFirst(t, env)
	a, b := w.inspectors[task.Members[0].BadgeNo], w.inspectors[task.Members[1].BadgeNo]
	return &evidenceTask{env: env, store: store, task: task, a: a, b: b, ta: env.loginAs(t, a), tb: env.loginAs(t, b)}
}

// declare declares evidence as the holder of token and wants status.
func (et *evidenceTask) declare(t *testing.T, token, body string, status int) (evidenceJSON, []byte) {
	t.Helper()
	var e evidenceJSON
	var raw []byte
	scenario{token: token, method: "POST", path: "/api/v1/tasks/" + et.task.ID + "/evidence", body: body, wantStatus: status,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) {
			raw = b
			if status < 300 {
				e = decode[evidenceJSON](t, b)
			}
		}}.run(t, et.env)
	return e, raw
}

// complete completes evidence and returns it settled.
func (et *evidenceTask) complete(t *testing.T, token, id string) evidenceJSON {
	t.Helper()
	var e evidenceJSON
	scenario{token: token, method: "POST", path: "/api/v1/evidence/" + id + "/complete", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { e = decode[evidenceJSON](t, b) }}.run(t, et.env)
	return e
}

// versions lists the object versions stored under key.
func (et *evidenceTask) versions(t *testing.T, key string) []minio.ObjectInfo {
	t.Helper()
	var out []minio.ObjectInfo
	for o := range et.store.Client().ListObjects(t.Context(), et.store.EvidenceBucket(), minio.ListObjectsOptions{Prefix: key, WithVersions: true, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		out = append(out, o)
	}
	return out
}

// uploads lists the multipart uploads in progress under prefix.
func (et *evidenceTask) uploads(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	for u := range et.store.Client().ListIncompleteUploads(t.Context(), et.store.EvidenceBucket(), prefix, true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		out = append(out, u.Key+" "+u.UploadID)
	}
	return out
}

// TestEvidencePartURLsTakeTheirLength: each presigned part URL takes
// exactly its part's length — a video declared as 1 byte cannot be sent
// 5 MiB through its one part URL, the last part of a larger one takes
// neither a full part nor a byte more, and the fresh URLs of a resume
// are pinned the same way — and the exact lengths go through to a
// verified video. Without the signed length a part URL took a body of
// any length (5 MiB through the URL of the 1-byte video), whatever the
// declared size.
func TestEvidencePartURLsTakeTheirLength(t *testing.T) {
	et := newEvidenceTask(t)
	tiny, _ := et.declare(t, et.ta, fmt.Sprintf(`{"kind":"video","content_type":"video/mp4","size":1,"sha256":%q}`, sha([]byte{0})), 201)
	if tiny.Multipart == nil || len(tiny.Multipart.Parts) != 1 {
		t.Fatalf("instructions %+v", tiny.Multipart)
	}
	if got := putStatus(t, tiny.Multipart.Parts[0].URL, bytes.Repeat([]byte{0}, 5<<20)); got != http.StatusForbidden {
		t.Fatalf("5 MiB to the part URL of a 1-byte video: %d, want 403", got)
	}
	if parts := et.uploads(t, "tasks/"+et.task.ID+"/"+tiny.ID); len(parts) != 1 {
		t.Fatalf("uploads %v", parts)
	}
	if got := putStatus(t, tiny.Multipart.Parts[0].URL, []byte{0}); got != http.StatusOK {
		t.Fatalf("the declared byte: %d", got)
	}

	video := make([]byte, 9<<20)
	copy(video, []byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"))
	for i := 32; i < len(video); i += 4093 {
		video[i] = byte(i)
	}
	v, _ := et.declare(t, et.ta, fmt.Sprintf(`{"kind":"video","content_type":"video/mp4","size":%d,"sha256":%q}`, len(video), sha(video)), 201)
	if v.Multipart == nil || len(v.Multipart.Parts) != 2 || v.Multipart.PartSize != 8<<20 {
		t.Fatalf("instructions %+v", v.Multipart)
	}
	ps := int(v.Multipart.PartSize)
	last := v.Multipart.Parts[1].URL
	for name, body := range map[string][]byte{"a full part": video[:ps], "a byte more": video[ps-1:], "a byte less": video[ps+1:]} {
		if got := putStatus(t, last, body); got != http.StatusForbidden {
			t.Errorf("%s (%d bytes) to the last part's URL (%d bytes): %d, want 403", name, len(body), len(video)-ps, got)
		}
	}
	if got := putStatus(t, v.Multipart.Parts[0].URL, video[:ps]); got != http.StatusOK {
		t.Fatalf("part 1: %d", got)
	}
	var resume evidenceJSON
	scenario{token: et.ta, method: "GET", path: "/api/v1/evidence/" + v.ID + "/parts", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { resume = decode[evidenceJSON](t, b) }}.run(t, et.env)
	if len(resume.Multipart.Parts) != 1 || resume.Multipart.Parts[0].Number != 2 {
		t.Fatalf("resume %+v", resume.Multipart)
	}
	if got := putStatus(t, resume.Multipart.Parts[0].URL, video[ps-1:]); got != http.StatusForbidden {
		t.Errorf("a byte more to the resumed part's URL: %d, want 403", got)
	}
	if got := putStatus(t, resume.Multipart.Parts[0].URL, video[ps:]); got != http.StatusOK {
		t.Fatalf("part 2: %d", got)
	}
	if v = et.complete(t, et.ta, v.ID); v.State != backend.EvidenceVerified {
		t.Fatalf("video %+v", v)
	}
}

// TestRejectedEvidenceLeavesNothingBehind: a rejected upload does not
// linger. A multipart upload whose parts cannot make the declared file
// (parts sent as an unpinned URL issued before part lengths were signed
// allowed — here with the store's own client) is aborted: MinIO lists
// no upload in progress and no object for it. A one-POST upload whose
// bytes are not the declared file is removed: not put under retention,
// no version left. A verified one stays, retained. An assembled
// multipart upload whose bytes are wrong is the exception: MinIO gave it
// the bucket's default COMPLIANCE retention when it was assembled, so it
// stays (its record names the version) until that ends.
func TestRejectedEvidenceLeavesNothingBehind(t *testing.T) {
	et := newEvidenceTask(t)
	ctx := t.Context()
	base := "tasks/" + et.task.ID + "/"

	video := bytes.Repeat([]byte{1}, 12<<20)
	v, _ := et.declare(t, et.ta, fmt.Sprintf(`{"kind":"video","content_type":"video/mp4","size":%d,"sha256":%q}`, len(video), sha(video)), 201)
	core := minio.Core{Client: et.store.Client()}
	for i, size := range []int{8 << 20, 5 << 20} { // 13 MiB in the two parts of a 12 MiB video
		if _, err := core.PutObjectPart(ctx, et.store.EvidenceBucket(), base+v.ID, v.Multipart.UploadID, i+1,
			bytes.NewReader(bytes.Repeat([]byte{1}, size)), int64(size), minio.PutObjectPartOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if v = et.complete(t, et.ta, v.ID); v.State != backend.EvidenceRejected || !strings.Contains(v.RejectReason, "parts") {
		t.Fatalf("a video of the wrong length: %+v", v)
	}
	if left := et.uploads(t, base+v.ID); len(left) != 0 {
		t.Fatalf("the rejected upload is still in progress in MinIO: %v", left)
	}
	if left := et.versions(t, base+v.ID); len(left) != 0 {
		t.Fatalf("the rejected upload left %d objects", len(left))
	}

	pdf := []byte("%PDF-1.7\n% the declared report\n")
	forged := []byte("%PDF-1.7\n% another file, same size\n")[:len(pdf)]
	d, _ := et.declare(t, et.ta, fmt.Sprintf(`{"kind":"document","content_type":"application/pdf","size":%d,"sha256":%q}`, len(pdf), sha(pdf)), 201)
	if got := postUpload(t, d.Upload, "", forged); got != 204 {
		t.Fatalf("POST: %d", got)
	}
	if d = et.complete(t, et.ta, d.ID); d.State != backend.EvidenceRejected || !strings.Contains(d.RejectReason, "SHA-256") {
		t.Fatalf("a forged document: %+v", d)
	}
	if left := et.versions(t, base+d.ID); len(left) != 0 {
		mode, until, _ := et.store.Client().GetObjectRetention(ctx, et.store.EvidenceBucket(), base+d.ID, left[0].VersionID)
		t.Fatalf("the rejected POST upload left %d versions (retention %v until %v)", len(left), mode, until)
	}
	if rec, err := et.env.db.Evidence().FindEvidence(ctx, d.ID); err != nil || rec.VersionID != "" {
		t.Fatalf("the rejected record still names a removed version: %+v, %v", rec, err)
	}

	ok, _ := et.declare(t, et.ta, fmt.Sprintf(`{"kind":"document","content_type":"application/pdf","size":%d,"sha256":%q}`, len(pdf), sha(pdf)), 201)
	if got := postUpload(t, ok.Upload, "", pdf); got != 204 {
		t.Fatalf("POST: %d", got)
	}
	if ok = et.complete(t, et.ta, ok.ID); ok.State != backend.EvidenceVerified {
		t.Fatalf("the right document: %+v", ok)
	}
	rec, err := et.env.db.Evidence().FindEvidence(ctx, ok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if mode, until, err := et.store.Client().GetObjectRetention(ctx, et.store.EvidenceBucket(), rec.ObjectKey, rec.VersionID); err != nil || mode == nil || *mode != minio.Compliance || until == nil {
		t.Fatalf("verified evidence is not retained: %v until %v, %v", mode, until, err)
	}

	// Assembled, then rejected: kept by the bucket's default retention.
	wrong := []byte("not a video")
	a, _ := et.declare(t, et.ta, fmt.Sprintf(`{"kind":"video","content_type":"video/mp4","size":%d,"sha256":%q}`, len(wrong), sha([]byte("another file"))), 201)
	putPart(t, a.Multipart.Parts[0].URL, wrong)
	if a = et.complete(t, et.ta, a.ID); a.State != backend.EvidenceRejected {
		t.Fatalf("an assembled video of other bytes: %+v", a)
	}
	arec, err := et.env.db.Evidence().FindEvidence(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	left := et.versions(t, base+a.ID)
	if len(left) != 1 || arec.VersionID != left[0].VersionID {
		t.Fatalf("the assembled rejected upload: versions %d, record names %q", len(left), arec.VersionID)
	}
	if mode, _, err := et.store.Client().GetObjectRetention(ctx, et.store.EvidenceBucket(), arec.ObjectKey, arec.VersionID); err != nil || mode == nil || *mode != minio.Compliance {
		t.Fatalf("the assembled upload's retention: %v, %v; want the bucket's default", mode, err)
	}
	if left := et.uploads(t, base); len(left) != 0 {
		t.Fatalf("uploads still in progress: %v", left)
	}
}

// TestEvidenceBounds: an uploader has at most tasks.MaxPendingEvidence
// declarations pending in a task (the next is 409 ECONFLICT naming the
// bound, and stores nothing: no record, no multipart upload; a repeat of
// a pending declaration still gets fresh instructions; another member is
// not held up; completing one makes room), and a task takes at most
// tasks.MaxEvidencePerTask declarations — exactly that many, also when
// the last ones arrive at once.
func TestEvidenceBounds(t *testing.T) {
	et := newEvidenceTask(t)
	ctx := t.Context()
	doc := func(i int) ([]byte, string) {
		f := []byte(fmt.Sprintf("%%PDF-1.7\n%% file %d\n", i))
		return f, fmt.Sprintf(`{"kind":"document","content_type":"application/pdf","size":%d,"sha256":%q}`, len(f), sha(f))
	}
	count := func() int {
		list, err := et.env.db.Evidence().FindEvidenceByTask(ctx, et.task.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}

	var first evidenceJSON
	var firstBody string
	for i := range tasks.MaxPendingEvidence {
		f, body := doc(i)
		e, _ := et.declare(t, et.ta, body, 201)
		if i == 0 {
			first, firstBody = e, fmt.Sprintf(`{"id":%q,"kind":"document","content_type":"application/pdf","size":%d,"sha256":%q}`, e.ID, len(f), sha(f))
		}
	}
	_, over := doc(1000)
	_, raw := et.declare(t, et.ta, over, 409)
	if e := decodeError(t, raw); e.Code != backend.ECONFLICT || !strings.Contains(e.Fields["evidence"], fmt.Sprint(tasks.MaxPendingEvidence)) {
		t.Fatalf("over the pending bound: %+v", e)
	}
	video := fmt.Sprintf(`{"kind":"video","content_type":"video/mp4","size":%d,"sha256":%q}`, 20<<20, sha([]byte("v")))
	et.declare(t, et.ta, video, 409)
	if n := count(); n != tasks.MaxPendingEvidence {
		t.Fatalf("%d declarations stored, want %d", n, tasks.MaxPendingEvidence)
	}
	if left := et.uploads(t, "tasks/"+et.task.ID+"/"); len(left) != 0 {
		t.Fatalf("a refused video declaration started an upload: %v", left)
	}
	if again, _ := et.declare(t, et.ta, firstBody, 200); again.Upload == nil {
		t.Fatalf("a repeat of a pending declaration: %+v", again)
	}
	et.declare(t, et.tb, over, 201) // the other member is not held up
	f0, _ := doc(0)
	if got := postUpload(t, first.Upload, "", f0); got != 204 {
		t.Fatalf("POST: %d", got)
	}
	if e := et.complete(t, et.ta, first.ID); e.State != backend.EvidenceVerified {
		t.Fatalf("%+v", e)
	}
	_, next := doc(1001)
	et.declare(t, et.ta, next, 201)

	// The task's bound: fill it to a few short of it, then send more
	// than fit at once.
	now := time.Now().UTC()
	const room = 3
	for i := count(); i < tasks.MaxEvidencePerTask-room; i++ {
		if err := et.env.db.Evidence().CreateEvidence(ctx, &backend.Evidence{
			ID: fmt.Sprintf("seeded-%04d", i), TaskID: et.task.ID, Kind: backend.EvidencePhoto, ContentType: "image/jpeg", Size: 1,
			SHA256: sha([]byte{byte(i)}), ObjectKey: "tasks/" + et.task.ID + "/seeded", State: backend.EvidenceVerified,
			CreatedBy: et.b.ID, CreatedAt: now, CompletedAt: &now,
		}); err != nil {
			t.Fatal(err)
		}
	}
	actor := backend.WithActor(ctx, &backend.Actor{UserID: et.b.ID, Username: et.b.Username, Roles: et.b.Roles, DepartmentID: et.b.DepartmentID})
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[string]int{}
	for i := range 3 * room {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := []byte(fmt.Sprintf("%%PDF-1.7\n%% at once %d\n", i))
			// A declaration that waited its while for the task's lease is
			// told to repeat (409 with Retry-After), as a client then does:
			// under a loaded machine nine in a row can outlast the wait.
			var err error
			for range 10 {
				_, _, _, err = et.env.svc.Tasks.CreateEvidence(actor, et.task.ID, tasks.EvidenceInput{
					Kind: backend.EvidenceDocument, ContentType: "application/pdf", Size: int64(len(f)), SHA256: sha(f)})
				if !errors.Is(err, backend.ErrLeaseHeld) {
					break
				}
			}
			mu.Lock()
			defer mu.Unlock()
			outcomes[backend.ErrorCode(err)]++
			var be *backend.Error
			if err != nil && errors.As(err, &be) && be.Fields["evidence"] == "" {
				t.Errorf("refused without naming the bound: %v", err)
			}
		}()
	}
	wg.Wait()
	if outcomes[""] != room || outcomes[backend.ECONFLICT] != 2*room {
		t.Fatalf("declarations sent at once with room for %d: %v", room, outcomes)
	}
	if n := count(); n != tasks.MaxEvidencePerTask {
		t.Fatalf("the task holds %d declarations, want %d", n, tasks.MaxEvidencePerTask)
	}
	_, raw = et.declare(t, et.ta, video, 409)
	if e := decodeError(t, raw); !strings.Contains(e.Fields["evidence"], fmt.Sprint(tasks.MaxEvidencePerTask)) {
		t.Fatalf("over the task's bound: %+v", e)
	}
	if left := et.uploads(t, "tasks/"+et.task.ID+"/"); len(left) != 0 {
		t.Fatalf("a refused video declaration started an upload: %v", left)
	}
}
