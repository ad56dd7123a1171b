package mobileapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"suiji/backend"
	"suiji/backend/media/mediatest"
	"suiji/backend/tasks"
)

// storeTask applies change to the stored task id and stores it, standing
// for a step a test skips the way to (a publication, a replacement, the
// last sign-off), and returns it as stored.
func (et *evidenceTask) storeTask(t *testing.T, change func(*backend.Task)) *backend.Task {
	t.Helper()
	task, err := et.env.db.Tasks().FindTaskByID(t.Context(), et.task.ID)
	if err != nil {
		t.Fatal(err)
	}
	change(task)
	if err := et.env.db.Tasks().UpdateTask(t.Context(), task); err != nil {
		t.Fatal(err)
	}
	return task
}

// stored reads the task as stored.
func (et *evidenceTask) stored(t *testing.T) *backend.Task {
	t.Helper()
	task, err := et.env.db.Tasks().FindTaskByID(t.Context(), et.task.ID)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// record reads an evidence record as stored.
func (et *evidenceTask) record(t *testing.T, id string) *backend.Evidence {
	t.Helper()
	e, err := et.env.db.Evidence().FindEvidence(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// uploaded declares a file as the holder of token and sends it with the
// one-POST instructions; body is the declaration without size and hash.
func (et *evidenceTask) uploaded(t *testing.T, token, body string, file []byte) evidenceJSON {
	t.Helper()
	e, _ := et.declare(t, token, fmt.Sprintf(`{%s,"size":%d,"sha256":%q}`, body, len(file), sha(file)), 201)
	if e.Upload == nil {
		t.Fatalf("instructions %+v: want one POST", e)
	}
	if got := postUpload(t, e.Upload, "", file); got != 204 {
		t.Fatalf("POST to MinIO: %d", got)
	}
	return e
}

// started declares a small video as the holder of token and sends its one
// part, leaving the multipart upload in progress.
func (et *evidenceTask) started(t *testing.T, token string) evidenceJSON {
	t.Helper()
	video := []byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + strings.Repeat("frame", 20))
	v, _ := et.declare(t, token, fmt.Sprintf(`{"kind":"video","content_type":"video/mp4","size":%d,"sha256":%q}`, len(video), sha(video)), 201)
	if v.Multipart == nil || len(v.Multipart.Parts) != 1 {
		t.Fatalf("instructions %+v: want one part", v.Multipart)
	}
	putPart(t, v.Multipart.Parts[0].URL, video)
	return v
}

// retained reports whether any version stored under key is under
// COMPLIANCE retention.
func (et *evidenceTask) retained(t *testing.T, key string) bool {
	t.Helper()
	for _, o := range et.versions(t, key) {
		mode, _, err := et.store.Client().GetObjectRetention(t.Context(), et.store.EvidenceBucket(), key, o.VersionID)
		if err == nil && mode != nil && *mode == minio.Compliance {
			return true
		}
	}
	return false
}

// unchanged fails t unless each evidence record is stored as it was in
// before, its bytes not retained, and a multipart upload still in
// progress.
func (et *evidenceTask) unchanged(t *testing.T, before map[string]*backend.Evidence) {
	t.Helper()
	for id, was := range before {
		if now := et.record(t, id); !reflect.DeepEqual(now, was) {
			t.Fatalf("evidence %s changed after a refusal:\n%+v\nwas\n%+v", id, now, was)
		}
		if et.retained(t, was.ObjectKey) {
			t.Fatalf("evidence %s was refused, but its file is under retention", id)
		}
		if was.Multipart && len(et.uploads(t, was.ObjectKey)) != 1 {
			t.Fatalf("evidence %s was refused, but its upload is no longer in progress", id)
		}
	}
}

// sweep runs the scheduler's pass over uploads as if two days had gone by
// and wants it to settle n.
func (et *evidenceTask) sweep(t *testing.T, n int) {
	t.Helper()
	if got, err := et.env.svc.Tasks.AbortStaleUploads(t.Context(), time.Now().Add(49*time.Hour)); err != nil || got != n {
		t.Fatalf("the sweep settled %d (%v), want %d", got, err, n)
	}
}

// gone fails t unless what evidence id stored is gone from MinIO: no
// version, no upload in progress.
func (et *evidenceTask) gone(t *testing.T, id string) {
	t.Helper()
	key := et.record(t, id).ObjectKey
	if v, u := et.versions(t, key), et.uploads(t, key); len(v) != 0 || len(u) != 0 {
		t.Fatalf("evidence %s was rejected, but MinIO keeps %d versions and uploads %v of it", id, len(v), u)
	}
}

// A member who resumes an old upload after publication gets 409 from
// /parts and /complete, and nothing is verified, retained or otherwise
// changed; two days on, the sweep rejects the uploads, naming the
// publication, and drops their bytes — a published task's archive gains
// no evidence. Without the check both calls succeeded and the upload was
// verified and retained as the published task's evidence.
func TestNoEvidenceEntersAPublishedTask(t *testing.T) {
	et := newEvidenceTask(t)
	v := et.started(t, et.ta)
	d := et.uploaded(t, et.ta, `"kind":"document","content_type":"application/pdf"`, []byte("%PDF-1.7\n% sent after the publication\n"))
	now := time.Now().UTC()
	published := et.storeTask(t, func(task *backend.Task) { task.State, task.PublishedAt = backend.TaskPublished, &now })
	before := map[string]*backend.Evidence{v.ID: et.record(t, v.ID), d.ID: et.record(t, d.ID)}

	scenario{token: et.ta, method: "GET", path: "/api/v1/evidence/" + v.ID + "/parts", wantStatus: 409, wantCode: backend.ECONFLICT,
		wantContain: []string{"published"}}.run(t, et.env)
	for _, id := range []string{v.ID, d.ID} {
		scenario{token: et.ta, method: "POST", path: "/api/v1/evidence/" + id + "/complete", wantStatus: 409, wantCode: backend.ECONFLICT,
			wantContain: []string{"published"}}.run(t, et.env)
	}
	et.unchanged(t, before)
	if after := et.stored(t); after.Version != published.Version {
		t.Fatalf("the published task changed: version %d, was %d", after.Version, published.Version)
	}
	scenario{as: "coordinator", method: "GET", path: "/api/v1/tasks/" + et.task.ID + "/evidence", wantStatus: 200,
		wantAbsent: []string{`"state":"verified"`}}.run(t, et.env)

	et.sweep(t, 2)
	for _, id := range []string{d.ID, v.ID} {
		if e := et.record(t, id); e.State != backend.EvidenceRejected || !strings.Contains(e.RejectReason, "published") {
			t.Fatalf("evidence %s after the sweep: %s %q; want rejected naming the publication", id, e.State, e.RejectReason)
		}
		et.gone(t, id)
	}
}

// An inspector replaced out of the group keeps nothing they upload: the
// links they still hold reach MinIO, but /complete and /parts refuse them
// (403) and change nothing, even though they still see the task (they are
// also the lead department's staff), and the sweep rejects those uploads,
// naming the group, and drops their bytes. The rule is CreateEvidence's,
// whoever applies it: the same person's report of another agency is still
// the office's to attach and is verified, as is a remaining member's
// upload; a report of the office's staff who has since left the
// department is rejected. Without the check /complete verified and
// retained the replaced member's photo, and the sweep every upload.
func TestAReplacedMemberLeavesNoEvidence(t *testing.T) {
	et := newEvidenceTask(t)
	ctx := t.Context()
	b := et.b
	b.Roles, b.DepartmentID = []backend.Role{backend.RoleInspector, backend.RoleStaff}, et.task.LeadDepartmentID
	if err := et.env.updateUser(ctx, b); err != nil {
		t.Fatal(err)
	}
	tb := et.env.loginAs(t, b)
	taken := time.Date(2026, 3, 5, 2, 22, 1, 0, time.UTC)
	p := et.uploaded(t, tb, `"kind":"photo","content_type":"image/jpeg"`, mediatest.JPEG(160, 120, taken, 35.4913, 112.8568))
	v := et.started(t, tb)
	report := `"kind":"external_report","content_type":"application/pdf","source":"县消防救援大队"`
	r := et.uploaded(t, tb, report, []byte("%PDF-1.7\n% the brigade's report\n"))
	d := et.uploaded(t, et.ta, `"kind":"document","content_type":"application/pdf"`, []byte("%PDF-1.7\n% the remaining member's\n"))
	o := et.uploaded(t, et.env.login(t, "staff").AccessToken, report, []byte("%PDF-1.7\n% the office's\n"))

	now := time.Now().UTC()
	et.storeTask(t, func(task *backend.Task) {
		for i := range task.Members {
			if task.Members[i].UserID == b.ID {
				task.Members[i].RemovedAt, task.Members[i].RemoveReason = &now, "利益冲突回避"
			}
		}
	})
	before := map[string]*backend.Evidence{p.ID: et.record(t, p.ID), v.ID: et.record(t, v.ID)}
	scenario{token: tb, method: "POST", path: "/api/v1/evidence/" + p.ID + "/complete", wantStatus: 403, wantCode: backend.EFORBIDDEN}.run(t, et.env)
	scenario{token: tb, method: "GET", path: "/api/v1/evidence/" + v.ID + "/parts", wantStatus: 403, wantCode: backend.EFORBIDDEN}.run(t, et.env)
	scenario{token: tb, method: "POST", path: "/api/v1/evidence/" + v.ID + "/complete", wantStatus: 403, wantCode: backend.EFORBIDDEN}.run(t, et.env)
	et.unchanged(t, before)

	staff := et.env.users["staff"]
	staff.DepartmentID = "dept-elsewhere"
	if err := et.env.updateUser(ctx, staff); err != nil {
		t.Fatal(err)
	}
	et.sweep(t, 5)
	for id, want := range map[string]string{p.ID: backend.EvidenceRejected, v.ID: backend.EvidenceRejected, o.ID: backend.EvidenceRejected,
		r.ID: backend.EvidenceVerified, d.ID: backend.EvidenceVerified} {
		e := et.record(t, id)
		switch {
		case e.State != want:
			t.Fatalf("evidence %s (%s) after the sweep: %s %q, want %s", id, e.Kind, e.State, e.RejectReason, want)
		case want == backend.EvidenceRejected && !strings.Contains(e.RejectReason, "group"):
			t.Fatalf("evidence %s rejected for %q; want the reason to name the group", id, e.RejectReason)
		case want == backend.EvidenceRejected:
			et.gone(t, id)
		case !et.retained(t, e.ObjectKey):
			t.Fatalf("verified evidence %s is not retained", id)
		}
	}
}

// onSiteRecord is a kind of on-site record a task bounds: findings and
// non-cooperation, driven alike.
type onSiteRecord struct {
	name  string
	path  string // under /api/v1/tasks/{id}/
	bound int
	field string // what the refusal over the bound names
	// body is a request for a record with id; reason is its amendment
	// reason ("" for none).
	body func(task *backend.Task, id, reason string) string
	// seed stores a record as an earlier request would have.
	seed func(t *testing.T, et *evidenceTask, id string)
	// create records one through the service as the actor of ctx.
	create func(ctx context.Context, et *evidenceTask, id string) error
	// ids lists the task's records as stored.
	ids func(t *testing.T, et *evidenceTask) []string
	// breakStore makes the record store refuse to store one, until the
	// returned func is called.
	breakStore func(et *evidenceTask) (restore func())
}

var errStoreDown = backend.Errorf(backend.EUNAVAILABLE, "the store is down (test)")

type brokenFindings struct{ backend.FindingStore }

func (brokenFindings) CreateFinding(context.Context, *backend.Finding) error { return errStoreDown }

type brokenNonCooperation struct{ backend.NonCooperationStore }

func (brokenNonCooperation) CreateNonCooperation(context.Context, *backend.NonCooperation) error {
	return errStoreDown
}

type brokenTasks struct{ backend.TaskStore }

func (brokenTasks) UpdateTask(context.Context, *backend.Task) error { return errStoreDown }

var onSiteRecords = []onSiteRecord{
	{
		name: "finding", path: "findings", bound: tasks.MaxFindings, field: "findings",
		body: func(task *backend.Task, id, reason string) string {
			return fmt.Sprintf(`{"id":%q,"item_id":%q,"description":"消防通道堵塞","severity":"general","amendment_reason":%q}`, id, task.Items[0].ID, reason)
		},
		seed: func(t *testing.T, et *evidenceTask, id string) {
			now := time.Now().UTC()
			if err := et.env.db.Findings().CreateFinding(t.Context(), &backend.Finding{ID: id, TaskID: et.task.ID, ItemID: et.task.Items[0].ID,
				Description: "隐患", Severity: backend.SeverityGeneral, CreatedBy: et.a.ID, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
		},
		create: func(ctx context.Context, et *evidenceTask, id string) error {
			_, _, err := et.env.svc.Tasks.CreateFinding(ctx, et.task.ID, tasks.FindingInput{ID: id, ItemID: et.task.Items[0].ID,
				Description: "同时记录的隐患", Severity: backend.SeverityGeneral}, "")
			return err
		},
		ids: func(t *testing.T, et *evidenceTask) []string {
			list, err := et.env.db.Findings().FindFindingsByTask(t.Context(), et.task.ID)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, f := range list {
				out = append(out, f.ID)
			}
			return out
		},
		breakStore: func(et *evidenceTask) func() {
			was := et.env.svc.Tasks.Findings
			et.env.svc.Tasks.Findings = brokenFindings{was}
			return func() { et.env.svc.Tasks.Findings = was }
		},
	},
	{
		name: "non-cooperation", path: "non-cooperation", bound: tasks.MaxNonCooperation, field: "non_cooperation",
		body: func(_ *backend.Task, id, reason string) string {
			return fmt.Sprintf(`{"id":%q,"type":"refused_materials","description":"拒不提供安全培训台账","amendment_reason":%q}`, id, reason)
		},
		seed: func(t *testing.T, et *evidenceTask, id string) {
			if err := et.env.db.NonCooperation().CreateNonCooperation(t.Context(), &backend.NonCooperation{ID: id, TaskID: et.task.ID,
				EnterpriseID: et.task.Enterprise.ID, USCC: et.task.Enterprise.USCC, Type: backend.NonCoopObstruction, Description: "阻挠",
				RecordedBy: et.a.ID, RecordedAt: time.Now().UTC()}); err != nil {
				t.Fatal(err)
			}
		},
		create: func(ctx context.Context, et *evidenceTask, id string) error {
			_, _, err := et.env.svc.Tasks.RecordNonCooperation(ctx, et.task.ID, tasks.NonCooperationInput{ID: id,
				Type: backend.NonCoopRefusedEntry, Description: "同时记录的拒绝"}, "")
			return err
		},
		ids: func(t *testing.T, et *evidenceTask) []string {
			list, err := et.env.db.NonCooperation().FindNonCooperationByTask(t.Context(), et.task.ID)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, n := range list {
				out = append(out, n.ID)
			}
			return out
		},
		breakStore: func(et *evidenceTask) func() {
			was := et.env.svc.Tasks.NonCooperation
			et.env.svc.Tasks.NonCooperation = brokenNonCooperation{was}
			return func() { et.env.svc.Tasks.NonCooperation = was }
		},
	},
}

// A task's findings and non-cooperation records stop at their bounds
// (tasks.MaxFindings, tasks.MaxNonCooperation): one more is 409 naming
// the bound, and neither the record nor the task is stored; records sent
// at once when a few fit are counted under the task's lease, so exactly
// as many as fit are stored. Without the bound non-cooperation grew
// without end; without the lease, records sent at once each saw room and
// the task ended over its bound.
func TestOnSiteRecordsStopAtTheirBound(t *testing.T) {
	for _, kind := range onSiteRecords {
		t.Run(kind.name, func(t *testing.T) {
			et := newEvidenceTask(t)
			const room = 3
			for i := range kind.bound - room {
				kind.seed(t, et, fmt.Sprintf("seeded-%04d", i))
			}
			member := backend.WithActor(t.Context(), &backend.Actor{UserID: et.b.ID, Username: et.b.Username, Roles: et.b.Roles, DepartmentID: et.b.DepartmentID})
			var wg sync.WaitGroup
			var mu sync.Mutex
			outcomes := map[string]int{}
			for i := range 3 * room {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// A request that waited its while for the task's lease is
					// told to repeat, as a phone's outbox then does.
					var err error
					for range 10 {
						if err = kind.create(member, et, fmt.Sprintf("at-once-%04d", i)); !errors.Is(err, backend.ErrLeaseHeld) {
							break
						}
					}
					mu.Lock()
					defer mu.Unlock()
					outcomes[backend.ErrorCode(err)]++
					if err != nil && backend.ErrorFields(err)[kind.field] == "" {
						t.Errorf("refused without naming the bound: %v", err)
					}
				}()
			}
			wg.Wait()
			if outcomes[""] != room || outcomes[backend.ECONFLICT] != 2*room {
				t.Fatalf("%d sent at once with room for %d: %v", 3*room, room, outcomes)
			}
			if n := len(kind.ids(t, et)); n != kind.bound {
				t.Fatalf("the task holds %d, want %d", n, kind.bound)
			}

			before := et.stored(t)
			var raw []byte
			scenario{token: et.ta, method: "POST", path: "/api/v1/tasks/" + et.task.ID + "/" + kind.path, body: kind.body(et.task, "one-over-the-bound", ""),
				wantStatus: 409, wantCode: backend.ECONFLICT, wantContain: []string{fmt.Sprint(kind.bound)},
				after: func(_ *testing.T, _ *apiEnv, _ *http.Response, b []byte) { raw = b }}.run(t, et.env)
			if e := decodeError(t, raw); !strings.Contains(e.Fields[kind.field], fmt.Sprint(kind.bound)) {
				t.Fatalf("over the bound: %+v", e)
			}
			if n := len(kind.ids(t, et)); n != kind.bound {
				t.Fatalf("after the refusal the task holds %d, want %d", n, kind.bound)
			}
			if after := et.stored(t); after.Version != before.Version {
				t.Fatalf("the refusal changed the task: version %d, was %d", after.Version, before.Version)
			}
		})
	}
}

// A record is stored before its task records it: when the record's store
// fails, the task is left as it was (it used to record an amendment
// naming a finding that was never stored); when the task's store fails
// after the record was stored, a repeat under the record's id records
// it in the task, once (it used to return the record and never record
// it). After completion the record is an amendment: without a reason it
// is refused (409 naming amendment_reason) and nothing is stored; the
// reason is taken from the body of either kind (non-cooperation's
// request had no such field, so it could not be recorded at all).
func TestOnSiteRecordsAreStoredBeforeTheTaskNamesThem(t *testing.T) {
	for _, kind := range onSiteRecords {
		t.Run(kind.name, func(t *testing.T) {
			et := newEvidenceTask(t)
			done := time.Now().UTC().Add(-time.Hour)
			et.storeTask(t, func(task *backend.Task) {
				task.State = backend.TaskCompleted
				for _, m := range task.ActiveMembers() {
					task.Progress = append(task.Progress, backend.MemberProgress{UserID: m.UserID,
						Submission: &backend.Submission{Result: "no_problems_found", Summary: "未发现问题", SignatureEvidenceID: "sig-" + m.UserID, At: done}})
				}
			})
			path := "/api/v1/tasks/" + et.task.ID + "/" + kind.path
			id := "late-" + kind.path + "-0001"
			const reason = "复核录像时补记"
			nothingStored := func(step string, version int) {
				t.Helper()
				if ids := kind.ids(t, et); len(ids) != 0 {
					t.Fatalf("%s: %v stored", step, ids)
				}
				if after := et.stored(t); after.Version != version || len(after.Amendments) != 0 {
					t.Fatalf("%s: the task is at version %d (was %d) with amendments %+v", step, after.Version, version, after.Amendments)
				}
			}
			completed := et.stored(t)

			scenario{token: et.ta, method: "POST", path: path, body: kind.body(et.task, id, ""), wantStatus: 409, wantCode: backend.ECONFLICT,
				wantContain: []string{`"amendment_reason"`}}.run(t, et.env)
			nothingStored("without a reason", completed.Version)

			restore := kind.breakStore(et)
			resp, body := et.env.call(t, et.ta, "POST", path, kind.body(et.task, id, reason), nil)
			restore()
			if resp.StatusCode != 503 {
				t.Fatalf("with the %s store down: %d %s", kind.name, resp.StatusCode, body)
			}
			nothingStored("with the "+kind.name+" store down", completed.Version)

			tasksWere := et.env.svc.Tasks.Tasks
			et.env.svc.Tasks.Tasks = brokenTasks{tasksWere}
			resp, body = et.env.call(t, et.ta, "POST", path, kind.body(et.task, id, reason), nil)
			et.env.svc.Tasks.Tasks = tasksWere
			if resp.StatusCode != 503 {
				t.Fatalf("with the task store down: %d %s", resp.StatusCode, body)
			}
			if ids := kind.ids(t, et); len(ids) != 1 || ids[0] != id {
				t.Fatalf("with the task store down: %v stored, want the record first", ids)
			}

			var version int
			for i := range 2 {
				scenario{token: et.ta, method: "POST", path: path, body: kind.body(et.task, id, reason), wantStatus: 200, wantContain: []string{id}}.run(t, et.env)
				after := et.stored(t)
				if len(after.Amendments) != 1 || !strings.Contains(after.Amendments[0].What, id) || after.Amendments[0].Reason != reason {
					t.Fatalf("repeat %d: amendments %+v; want one naming %s with its reason", i+1, after.Amendments, id)
				}
				if i == 1 && after.Version != version {
					t.Fatalf("the second repeat changed the task again: version %d, was %d", after.Version, version)
				}
				version = after.Version
			}
		})
	}
}
