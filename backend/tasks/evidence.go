package tasks

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"suiji/backend"
	"suiji/backend/media"
)

// Evidence goes from the phone straight to the object store (art. 20,
// 22): the API declares it (kind, content type, size, SHA-256) and hands
// back presigned upload instructions — a POST policy that pins the key,
// content type and exact length for a small file, a multipart upload with
// a presigned URL per part for a large one, which the phone can resume by
// asking which parts are stored. Complete then streams the stored object
// (never whole in memory) to check size, hash and the content type its
// bytes show, reads a photo's EXIF, and marks it verified — or rejected,
// with the reason. The bucket keeps every object under COMPLIANCE
// retention: nobody can delete or overwrite evidence.

// Upload modes and sizes.
const (
	// MinPartSize is S3's smallest part (except the last).
	MinPartSize = 5 << 20
	// partSize is the part size a multipart upload starts from.
	partSize = 8 << 20
	// maxParts is S3's most parts per upload.
	maxParts = 10_000
	// multipartFrom is the size from which any kind uploads in parts.
	multipartFrom = 32 << 20
	// DownloadTTL is how long a download link lives.
	DownloadTTL = 5 * time.Minute
)

// Bounds on what one task can be given to store. Every declaration is a
// record for good (verified evidence is under COMPLIANCE retention for
// years) and may start a multipart upload of up to the kind's size
// limit, so neither can grow without end.
const (
	// MaxEvidencePerTask bounds the declarations of one task, whatever
	// became of them (pending, verified or rejected). A real inspection
	// needs far fewer: a checklist of some 20 items with a few photos
	// each, a few videos, each member's signature and the odd report of
	// another agency come to about 100–150; a joint task of 100 items
	// (the most a targeted task takes) at three or four photos each to
	// some 400. 500 leaves room for those and for files declared again
	// after a rejection, while keeping one task's evidence to a bounded
	// set of records and objects.
	MaxEvidencePerTask = 500
	// MaxPendingEvidence bounds the declarations one uploader has
	// pending (declared, not yet completed) in one task. The phone app
	// declares, uploads and completes one file at a time (a declaration
	// repeated with the same id counts once), so it has one pending and
	// a few more after failed attempts; every pending declaration may
	// hold an open upload of up to the kind's size limit until it is
	// completed or abandoned (SUIJI_UPLOAD_ABANDON_AFTER).
	MaxPendingEvidence = 20
	// evidenceLockTTL is how long a declaration holds its task's
	// evidence lease (count, then create) at most.
	evidenceLockTTL = 15 * time.Second
	// evidenceLockWait is how long a declaration waits for another one
	// of the same task to release the lease before it answers ECONFLICT
	// (try again shortly).
	evidenceLockWait = 5 * time.Second
)

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// allowedTypes are the content types each kind may declare.
var allowedTypes = map[string][]string{
	backend.EvidencePhoto:          {"image/jpeg", "image/png", "image/heic", "image/heif", "image/webp"},
	backend.EvidenceVideo:          {"video/mp4", "video/quicktime", "video/webm", "video/3gpp"},
	backend.EvidenceAudio:          {"audio/mpeg", "audio/mp4", "audio/aac", "audio/wav", "audio/ogg", "audio/webm", "audio/amr"},
	backend.EvidenceDocument:       {"application/pdf", "image/jpeg", "image/png"},
	backend.EvidenceExternalReport: {"application/pdf", "image/jpeg", "image/png"},
	backend.EvidenceSignature:      {"image/png", "image/jpeg", "image/webp"},
}

// EvidenceInput is evidence as a phone declares it.
type EvidenceInput struct {
	ID          string
	Kind        string
	ContentType string
	Size        int64
	SHA256      string
	TakenAt     *time.Time
	Lat, Lng    *float64
	Source      string // external_report: the agency or expert
	Description string
}

// UploadPlan is how the phone sends the bytes: a POST policy, or a
// multipart upload with one presigned URL per part still missing.
type UploadPlan struct {
	Post      *backend.PresignedPost
	UploadID  string
	PartSize  int64
	Parts     []PartURL // the parts to send
	Stored    []backend.UploadPart
	ExpiresAt time.Time
}

// PartURL is where to PUT one part.
type PartURL struct {
	Number int
	URL    string
}

// maxSize is the configured limit of a kind.
func (s *Service) maxSize(kind string) int64 {
	switch kind {
	case backend.EvidencePhoto:
		return s.Limits.MaxPhoto
	case backend.EvidenceVideo:
		return s.Limits.MaxVideo
	default:
		return s.Limits.MaxOther
	}
}

// CreateEvidence declares a piece of evidence with the phone's id and
// returns its record and upload instructions. A repeat of the same
// declaration returns the record with fresh instructions (created false);
// another declaration under that id is ECONFLICT. The group's members
// attach anything; the coordinator and the lead department's staff may
// attach reports and documents of other agencies or experts (art. 20).
func (s *Service) CreateEvidence(ctx context.Context, taskID string, in EvidenceInput) (*backend.Evidence, *UploadPlan, bool, error) {
	actor := backend.ActorFromContext(ctx)
	t, err := s.GetTask(ctx, taskID)
	if err != nil {
		return nil, nil, false, err
	}
	if err := mayAttach(actor, t, in.Kind); err != nil {
		return nil, nil, false, err
	}
	in.ContentType = media.Base(in.ContentType)
	in.SHA256 = strings.ToLower(strings.TrimSpace(in.SHA256))
	if in.ID != "" {
		if e, err := s.Evidence.FindEvidence(ctx, in.ID); err == nil {
			if e.TaskID != taskID || e.CreatedBy != actor.UserID || e.SHA256 != in.SHA256 || e.Size != in.Size || e.Kind != in.Kind {
				return nil, nil, false, backend.Errorf(backend.ECONFLICT, "evidence id %s is taken by another file", in.ID)
			}
			plan, err := s.uploadPlan(ctx, e, false)
			return e, plan, false, err
		} else if backend.ErrorCode(err) != backend.ENOTFOUND {
			return nil, nil, false, err
		}
	}
	if err := s.checkEvidence(&in); err != nil {
		return nil, nil, false, err
	}
	if in.ID == "" {
		if in.ID, err = randomID(s.Rand); err != nil {
			return nil, nil, false, err
		}
	}
	// The bounds are counted and the declaration stored under the task's
	// lease, so that declarations sent at once cannot each see room for
	// one more.
	release, err := s.lockEvidence(ctx, t.ID)
	if err != nil {
		return nil, nil, false, err
	}
	defer release()
	// Cancel holds this lease while it looks for evidence and cancels: the
	// task as it is now, not as read before the lease.
	if now, err := s.Tasks.FindTaskByID(ctx, t.ID); err != nil {
		return nil, nil, false, err
	} else if err := mayAttach(actor, now, in.Kind); err != nil {
		return nil, nil, false, err
	}
	if err := s.checkEvidenceRoom(ctx, t.ID, actor.UserID); err != nil {
		return nil, nil, false, err
	}
	e := &backend.Evidence{
		ID: in.ID, TaskID: t.ID, Kind: in.Kind, ContentType: in.ContentType, Size: in.Size, SHA256: in.SHA256,
		TakenAt: in.TakenAt, Lat: in.Lat, Lng: in.Lng, Source: strings.TrimSpace(in.Source), Description: strings.TrimSpace(in.Description),
		ObjectKey: "tasks/" + t.ID + "/" + in.ID, Multipart: in.Kind == backend.EvidenceVideo || in.Size >= multipartFrom,
		State: backend.EvidencePending, CreatedBy: actor.UserID, CreatedAt: s.Now().UTC(),
	}
	if e.Multipart {
		e.PartSize = max(partSize, (in.Size+maxParts-1)/maxParts)
		if e.UploadID, err = s.Objects.StartMultipart(ctx, e.ObjectKey, e.ContentType); err != nil {
			return nil, nil, false, err
		}
	}
	err = s.Audit.Change(ctx, backend.AuditChange{Action: "evidence.create", ObjectType: "evidence", ObjectID: e.ID, After: evidenceDigest(e)},
		func(ctx context.Context) error { return s.Evidence.CreateEvidence(ctx, e) })
	if err != nil {
		if backend.ErrorCode(err) == backend.ECONFLICT && e.Multipart {
			_ = s.Objects.AbortMultipart(context.WithoutCancel(ctx), e.ObjectKey, e.UploadID)
		}
		return nil, nil, false, err
	}
	plan, err := s.uploadPlan(ctx, e, true)
	return e, plan, true, err
}

// mayAttach is the one rule of who attaches evidence to t, and when:
// the group's active members anything, the coordinator and the lead
// department's staff reports and documents of other agencies or experts
// (art. 20) — EFORBIDDEN for anyone else, a member replaced out of the
// group included — and a cancelled or published task nothing (ECONFLICT:
// its record is closed, a published one shown to the public with its
// archive). Declaring, resuming and completing an upload all ask it, and
// so does the sweep that settles an upload its uploader left: an upload
// link handed out earlier does not outlast the right to use it.
func mayAttach(a *backend.Actor, t *backend.Task, kind string) error {
	external := kind == backend.EvidenceExternalReport || kind == backend.EvidenceDocument
	if !t.HasMember(a.UserID) && !(external && mayManage(a, t)) {
		return backend.Errorf(backend.EFORBIDDEN, "only the task's group attaches evidence (and the office, reports of other agencies)")
	}
	if t.State == backend.TaskCancelled || t.State == backend.TaskPublished {
		return backend.Errorf(backend.ECONFLICT, "a %s task takes no evidence", t.State)
	}
	return nil
}

// lockEvidence takes the task's on-site lease — held by evidence
// declarations, findings and non-cooperation records each while it counts
// the task's records against their bound and stores its own, and by
// Cancel — waiting up to evidenceLockWait for another holder, and returns
// its release. Without a Locker (tests of other parts) it holds nothing.
func (s *Service) lockEvidence(ctx context.Context, taskID string) (func(), error) {
	if s.Locks == nil {
		return func() {}, nil
	}
	lease, err := backend.AcquireWaiting(ctx, s.Locks, "evidence:"+taskID, evidenceLockTTL, evidenceLockWait)
	if err != nil {
		return nil, err
	}
	return func() { _ = lease.Release(context.WithoutCancel(ctx)) }, nil
}

// checkEvidenceRoom refuses a new declaration, ECONFLICT naming the
// bound, when the task holds MaxEvidencePerTask declarations or the
// uploader MaxPendingEvidence pending ones in it.
func (s *Service) checkEvidenceRoom(ctx context.Context, taskID, uploader string) error {
	list, err := s.Evidence.FindEvidenceByTask(ctx, taskID)
	if err != nil {
		return err
	}
	if len(list) >= MaxEvidencePerTask {
		return &backend.Error{Code: backend.ECONFLICT,
			Message: fmt.Sprintf("the task holds %d pieces of evidence, the most one task may have", len(list)),
			Fields:  map[string]string{"evidence": fmt.Sprintf("at most %d per task", MaxEvidencePerTask)}}
	}
	pending := 0
	for _, e := range list {
		if e.CreatedBy == uploader && e.State == backend.EvidencePending {
			pending++
		}
	}
	if pending >= MaxPendingEvidence {
		return &backend.Error{Code: backend.ECONFLICT,
			Message: fmt.Sprintf("you have %d uploads of this task not completed yet; complete them (POST /api/v1/evidence/{id}/complete) before declaring more", pending),
			Fields:  map[string]string{"evidence": fmt.Sprintf("at most %d pending uploads per task and uploader", MaxPendingEvidence)}}
	}
	return nil
}

// checkEvidence validates a declaration, naming every bad field.
func (s *Service) checkEvidence(in *EvidenceInput) error {
	fields := map[string]string{}
	if in.ID != "" && !uuidish.MatchString(in.ID) {
		fields["id"] = "a UUID (8–64 letters, digits, hyphens)"
	}
	types, ok := allowedTypes[in.Kind]
	switch {
	case !ok:
		fields["kind"] = strings.Join(backend.EvidenceKinds, ", ")
	case !slices.Contains(types, in.ContentType):
		fields["content_type"] = "for " + in.Kind + ": " + strings.Join(types, ", ")
	}
	if limit := s.maxSize(in.Kind); in.Size < 1 || in.Size > limit {
		fields["size"] = fmt.Sprintf("1 to %d bytes for %s", limit, in.Kind)
	}
	if !sha256Hex.MatchString(in.SHA256) {
		fields["sha256"] = "64 lowercase hex digits"
	}
	if in.Kind == backend.EvidenceExternalReport && strings.TrimSpace(in.Source) == "" {
		fields["source"] = "the agency or expert the report comes from (art. 20)"
	}
	if utf8.RuneCountInString(in.Source) > 200 || utf8.RuneCountInString(in.Description) > MaxDescription {
		fields["description"] = fmt.Sprintf("source at most 200, description at most %d characters", MaxDescription)
	}
	if (in.Lat == nil) != (in.Lng == nil) || (in.Lat != nil && (*in.Lat < -90 || *in.Lat > 90 || *in.Lng < -180 || *in.Lng > 180)) {
		fields["lat"] = "lat from -90 to 90 and lng from -180 to 180, both or neither"
	}
	if len(fields) > 0 {
		return backend.InvalidFields("invalid evidence", fields)
	}
	return nil
}

// uploadPlan presigns the instructions of a pending upload: a POST policy,
// or the URLs of the parts not stored yet (all of them for a new upload).
func (s *Service) uploadPlan(ctx context.Context, e *backend.Evidence, fresh bool) (*UploadPlan, error) {
	if e.State != backend.EvidencePending {
		return nil, nil
	}
	ttl := s.Limits.UploadTTL
	plan := &UploadPlan{ExpiresAt: s.Now().UTC().Add(ttl)}
	if !e.Multipart {
		post, err := s.Objects.PresignPost(ctx, e.ObjectKey, e.ContentType, e.Size, ttl)
		plan.Post = post
		return plan, err
	}
	plan.UploadID, plan.PartSize = e.UploadID, e.PartSize
	if !fresh {
		stored, err := s.Objects.ListParts(ctx, e.ObjectKey, e.UploadID)
		if err != nil {
			return nil, err
		}
		plan.Stored = stored
	}
	n := int((e.Size + e.PartSize - 1) / e.PartSize)
	for i := 1; i <= n; i++ {
		if slices.ContainsFunc(plan.Stored, func(p backend.UploadPart) bool { return p.Number == i && p.Size == partSizeOf(e, i, n) }) {
			continue
		}
		u, err := s.Objects.PresignPart(ctx, e.ObjectKey, e.UploadID, i, partSizeOf(e, i, n), ttl)
		if err != nil {
			return nil, err
		}
		plan.Parts = append(plan.Parts, PartURL{Number: i, URL: u})
	}
	return plan, nil
}

// partSizeOf is the size part i of n must have: PartSize, the last the rest.
func partSizeOf(e *backend.Evidence, i, n int) int64 {
	if i < n {
		return e.PartSize
	}
	return e.Size - int64(n-1)*e.PartSize
}

// EvidenceParts is the resume point of a multipart upload: the parts
// stored and fresh URLs for the rest. EINVALID for a small-file upload;
// ECONFLICT when the evidence is settled or the task takes no evidence
// any more; EFORBIDDEN when the uploader may no longer attach it
// (mayAttach).
func (s *Service) EvidenceParts(ctx context.Context, id string) (*backend.Evidence, *UploadPlan, error) {
	e, t, err := s.uploaderEvidence(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if !e.Multipart {
		return nil, nil, backend.Errorf(backend.EINVALID, "this evidence uploads in one POST, not in parts")
	}
	if e.State != backend.EvidencePending {
		return nil, nil, backend.Errorf(backend.ECONFLICT, "the evidence is %s", e.State)
	}
	if err := mayAttach(backend.ActorFromContext(ctx), t, e.Kind); err != nil {
		return nil, nil, err
	}
	plan, err := s.uploadPlan(ctx, e, false)
	if backend.ErrorCode(err) == backend.ENOTFOUND {
		// The store knows the upload no longer: assembled by a /complete
		// that did not get to settle, or dropped (uploadGone) — settled
		// here then, so that the phone's /complete, which a 409 sends it
		// to, says how it ended instead of the phone asking again for ever.
		reason, err := s.uploadGone(ctx, e)
		if err != nil {
			return nil, nil, err
		}
		if reason != "" {
			if _, err := s.settle(ctx, e, reason, nil); err != nil {
				return nil, nil, err
			}
		}
		return nil, nil, backend.Errorf(backend.ECONFLICT, "the upload is no longer in progress; complete it to learn how it ended")
	}
	return e, plan, err
}

// CompleteEvidence checks what was stored against the declaration and
// settles the evidence: verified, or rejected with the reason. A repeat
// returns the settled evidence. EINVALID while nothing (or not every
// part) is uploaded yet — the phone sends the rest and calls again.
// ECONFLICT once the task takes no evidence, EFORBIDDEN once the
// uploader may no longer attach it (mayAttach): the upload stays pending,
// untouched, and the sweep (AbortStaleUploads) rejects it.
func (s *Service) CompleteEvidence(ctx context.Context, id string) (*backend.Evidence, error) {
	e, t, err := s.uploaderEvidence(ctx, id)
	if err != nil || e.State != backend.EvidencePending {
		return e, err
	}
	// Asked before anything is assembled or retained: verified, the file
	// would be the task's evidence under retention for years.
	if err := mayAttach(backend.ActorFromContext(ctx), t, e.Kind); err != nil {
		return nil, err
	}
	if e.Multipart {
		if reason, err := s.assemble(ctx, e); err != nil {
			return nil, err
		} else if reason != "" {
			return s.settle(ctx, e, reason, nil)
		}
	}
	return s.verify(ctx, e)
}

// verify streams the stored object of e and settles e by what the bytes
// show: verified, with its version put under retention, or rejected,
// with its version removed where retention does not keep it already (a
// one-POST upload has none until Retain; an assembled multipart upload
// has the bucket's default from its assembly, so a rejected one stays
// until that ends — as many bytes as it declared, like verified
// evidence). EINVALID when nothing is stored.
func (s *Service) verify(ctx context.Context, e *backend.Evidence) (*backend.Evidence, error) {
	body, size, version, err := s.Objects.Open(ctx, e.ObjectKey)
	if backend.ErrorCode(err) == backend.ENOTFOUND {
		return nil, backend.InvalidFields("nothing is uploaded yet", map[string]string{"upload": "send the file with the upload instructions first"})
	} else if err != nil {
		return nil, err
	}
	defer body.Close()
	e.VersionID = version
	if size != e.Size {
		return s.settle(ctx, e, fmt.Sprintf("the stored file has %d bytes, %d were declared", size, e.Size), nil)
	}
	rep, err := media.Inspect(body)
	if err != nil {
		return nil, backend.Wrap(err, backend.EUNAVAILABLE, "reading the stored evidence")
	}
	reason := ""
	switch {
	case rep.Size != e.Size:
		reason = fmt.Sprintf("the stored file has %d bytes, %d were declared", rep.Size, e.Size)
	case rep.SHA256 != e.SHA256:
		reason = "the stored file's SHA-256 is " + rep.SHA256 + ", " + e.SHA256 + " was declared"
	default:
		reason = media.Mismatch(e.ContentType, rep.ContentType)
	}
	// Only what is accepted is locked for the retention period (art.
	// 22): locked, a rejected file could never be removed.
	if reason == "" {
		if err := s.Objects.Retain(ctx, e.ObjectKey, version); err != nil {
			return nil, err
		}
	}
	return s.settle(ctx, e, reason, rep)
}

// assemble completes a multipart upload from its stored parts; a reason
// when they cannot make the declared file.
func (s *Service) assemble(ctx context.Context, e *backend.Evidence) (string, error) {
	parts, err := s.Objects.ListParts(ctx, e.ObjectKey, e.UploadID)
	if backend.ErrorCode(err) == backend.ENOTFOUND {
		return s.uploadGone(ctx, e)
	} else if err != nil {
		return "", err
	}
	n := int((e.Size + e.PartSize - 1) / e.PartSize)
	var total int64
	for _, p := range parts {
		total += p.Size
	}
	if len(parts) < n || total < e.Size {
		return "", backend.InvalidFields("not every part is uploaded yet", map[string]string{
			"parts": fmt.Sprintf("%d of %d parts, %d of %d bytes stored; ask GET /api/v1/evidence/%s/parts", len(parts), n, total, e.Size, e.ID)})
	}
	if len(parts) != n || total != e.Size {
		return fmt.Sprintf("%d parts of %d bytes were uploaded, %d parts of %d bytes declared", len(parts), total, n, e.Size), nil
	}
	return "", s.Objects.CompleteMultipart(ctx, e.ObjectKey, e.UploadID, parts)
}

// uploadGone tells why the object store knows no longer the multipart
// upload of e: completed by an earlier call that did not get to settle
// (the file is stored under its key: "", verify reads it) — or dropped,
// parts and all, by the store itself, which aborts an upload left
// unfinished longer than it keeps them (MinIO's
// MINIO_API_STALE_UPLOADS_EXPIRY, 24 h unless set; deploy sets it above
// SUIJI_UPLOAD_ABANDON_AFTER, a MinIO of the bureau's own may not). Then
// nothing can complete it, and it is rejected with that reason at once,
// so that the phone declares the file again instead of being told for
// two days that its parts are not all there.
func (s *Service) uploadGone(ctx context.Context, e *backend.Evidence) (string, error) {
	body, _, _, err := s.Objects.Open(ctx, e.ObjectKey)
	switch {
	case err == nil:
		return "", body.Close()
	case backend.ErrorCode(err) == backend.ENOTFOUND:
		return "object storage no longer holds this unfinished upload (it keeps one for a limited time); add the file again", nil
	default:
		return "", err
	}
}

// settle stores the outcome: verified when reason is "", else rejected —
// after dropping what the rejected upload stored (dropRejected), so that
// a failure there leaves the evidence pending, to be completed again.
func (s *Service) settle(ctx context.Context, e *backend.Evidence, reason string, rep *media.Report) (*backend.Evidence, error) {
	if reason != "" {
		if err := s.dropRejected(ctx, e); err != nil {
			return nil, err
		}
	}
	now := s.Now().UTC()
	e.CompletedAt, e.UploadID = &now, ""
	if rep != nil {
		e.SniffedType, e.EXIFTime, e.EXIFLat, e.EXIFLng = rep.ContentType, rep.EXIFTime, rep.EXIFLat, rep.EXIFLng
	}
	e.State, e.RejectReason = backend.EvidenceVerified, ""
	if reason != "" {
		e.State, e.RejectReason = backend.EvidenceRejected, reason
	}
	err := s.Audit.Change(ctx, backend.AuditChange{Action: "evidence." + e.State, ObjectType: "evidence", ObjectID: e.ID, After: evidenceDigest(e)},
		func(ctx context.Context) error { return s.Evidence.SettleEvidence(ctx, e) })
	if backend.ErrorCode(err) == backend.ECONFLICT {
		return s.Evidence.FindEvidence(ctx, e.ID)
	} else if err != nil {
		return nil, err
	}
	return e, nil
}

// dropRejected removes what a rejected upload stored: a multipart upload
// still in progress is aborted (MinIO drops its parts), and the object
// version that was examined is removed unless retention keeps it (then
// the record keeps naming it). A multipart upload that was assembled is
// no longer in progress, so its abort is a no-op.
func (s *Service) dropRejected(ctx context.Context, e *backend.Evidence) error {
	if e.Multipart && e.UploadID != "" {
		if err := s.Objects.AbortMultipart(ctx, e.ObjectKey, e.UploadID); err != nil {
			return err
		}
	}
	if e.VersionID == "" {
		return nil
	}
	switch err := s.Objects.Discard(ctx, e.ObjectKey, e.VersionID); backend.ErrorCode(err) {
	case "":
		e.VersionID = ""
	case backend.ECONFLICT: // retained: WORM keeps it
	default:
		return err
	}
	return nil
}

// uploaderEvidence is evidence the actor uploads, with its task: their
// own, of a task they may see.
func (s *Service) uploaderEvidence(ctx context.Context, id string) (*backend.Evidence, *backend.Task, error) {
	e, err := s.Evidence.FindEvidence(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	t, err := s.GetTask(ctx, e.TaskID)
	if err != nil {
		return nil, nil, backend.NotFoundAs(err, "evidence not found")
	}
	if e.CreatedBy != backend.ActorFromContext(ctx).UserID {
		return nil, nil, backend.Errorf(backend.ENOTFOUND, "evidence not found")
	}
	return e, t, nil
}

// DownloadEvidence returns a short-lived link to verified evidence, for
// those who may see its task (its group, its departments' staff, the
// coordinator and leaders); ENOTFOUND for anyone else. The link names the
// object version recorded at verification, so it serves the bytes that
// were checked even if a later version of the key existed.
func (s *Service) DownloadEvidence(ctx context.Context, id string) (string, time.Time, error) {
	e, err := s.Evidence.FindEvidence(ctx, id)
	if err != nil {
		return "", time.Time{}, err
	}
	if _, err := s.GetTask(ctx, e.TaskID); err != nil {
		return "", time.Time{}, backend.NotFoundAs(err, "evidence not found")
	}
	if e.State != backend.EvidenceVerified {
		return "", time.Time{}, backend.Errorf(backend.ECONFLICT, "the evidence is %s", e.State)
	}
	u, err := s.Objects.PresignGet(ctx, e.ObjectKey, e.VersionID, e.ID+media.Extension(e.ContentType), DownloadTTL)
	return u, s.Now().UTC().Add(DownloadTTL), err
}

// ListEvidence lists a visible task's evidence.
func (s *Service) ListEvidence(ctx context.Context, taskID string) ([]*backend.Evidence, error) {
	t, err := s.GetTask(ctx, taskID)
	if err != nil {
		return nil, err
	}
	return s.Evidence.FindEvidenceByTask(ctx, t.ID)
}

// AbortStaleUploads settles the evidence declared more than AbandonAfter
// before now and never completed: a multipart upload in progress is
// aborted (its parts dropped) and the evidence rejected as abandoned; a
// one-POST upload, or a multipart upload assembled by a complete that
// did not get to settle, is checked as if completed — verified and
// retained when the file is there and right, rejected (and removed)
// otherwise, rejected as abandoned when it never came. Checked as if
// completed means by the uploader's right as it is now (mayAttach): an
// upload of a task published meanwhile, or of an uploader replaced out
// of the group, is rejected with that reason and its file dropped, never
// verified. It returns how many it settled.
func (s *Service) AbortStaleUploads(ctx context.Context, now time.Time) (int, error) {
	stale, err := s.Evidence.FindStaleUploads(ctx, now.Add(-s.Limits.AbandonAfter))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range stale {
		if refusal, err := s.uploaderRefusal(ctx, e); err != nil {
			return n, err
		} else if refusal != "" {
			if _, err := s.refuse(ctx, e, "not completed by its uploader and no longer taken: "+refusal); err != nil {
				return n, err
			}
			n++
			continue
		}
		abandoned := "the upload was abandoned (not completed within " + s.Limits.AbandonAfter.String() + ")"
		inProgress := false // settle aborts an upload in progress (dropRejected)
		if e.Multipart {
			_, err := s.Objects.ListParts(ctx, e.ObjectKey, e.UploadID)
			if inProgress = err == nil; err != nil && backend.ErrorCode(err) != backend.ENOTFOUND {
				return n, err
			}
		}
		if !inProgress {
			_, err := s.verify(ctx, e)
			if err != nil && backend.ErrorCode(err) != backend.EINVALID {
				return n, err
			}
			if err == nil {
				n++
				continue
			}
		}
		if _, err := s.settle(ctx, e, abandoned, nil); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// uploaderRefusal is why e's uploader may not attach it now (mayAttach's
// message), or "" when they may. The sweep acts for nobody signed in: the
// uploader is judged by the task's group as stored and, when not in it,
// by their account as stored (the office's roles and department); an
// account that is gone attaches nothing.
func (s *Service) uploaderRefusal(ctx context.Context, e *backend.Evidence) (string, error) {
	t, err := s.Tasks.FindTaskByID(ctx, e.TaskID)
	if err != nil {
		return "", err
	}
	uploader := &backend.Actor{UserID: e.CreatedBy}
	if !t.HasMember(e.CreatedBy) && s.Users != nil {
		switch u, err := s.Users.FindUserByID(ctx, e.CreatedBy); backend.ErrorCode(err) {
		case "":
			uploader.Roles, uploader.DepartmentID = u.Roles, u.DepartmentID
		case backend.ENOTFOUND:
		default:
			return "", err
		}
	}
	return backend.ErrorMessage(mayAttach(uploader, t, e.Kind)), nil
}

// refuse settles e rejected for reason without looking at its bytes: the
// version stored under its key, if any, is named so that dropRejected
// removes it with the rest (or, kept by the bucket's default retention
// after an assembly, the record names it).
func (s *Service) refuse(ctx context.Context, e *backend.Evidence, reason string) (*backend.Evidence, error) {
	body, _, version, err := s.Objects.Open(ctx, e.ObjectKey)
	switch backend.ErrorCode(err) {
	case "":
		_ = body.Close()
		e.VersionID = version
	case backend.ENOTFOUND: // nothing came, or a multipart upload still in progress
	default:
		return nil, err
	}
	return s.settle(ctx, e, reason, nil)
}

func evidenceDigest(e *backend.Evidence) map[string]any {
	return map[string]any{
		"id": e.ID, "task_id": e.TaskID, "kind": e.Kind, "content_type": e.ContentType, "size": e.Size, "sha256": e.SHA256,
		"state": e.State, "reject_reason": e.RejectReason, "version_id": e.VersionID, "source": e.Source,
	}
}
