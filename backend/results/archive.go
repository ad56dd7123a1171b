package results

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"suiji/backend"
	"suiji/backend/documents"
)

// The statutory documents and the archive (art. 22).
//
// # When the documents are made
//
// The inspection record and, where problems were found, the rectification
// order are generated when a reviewer approves the result. That is the
// moment the record becomes final: until then the group may still amend
// it (a completed task takes amendments with a reason) and a review may
// return it to be changed and submitted again, so documents made at
// completion could describe a record that no longer stands; after the
// approval the task is reviewed, then published, and takes no change at
// all. The approving review's time is the date the documents carry.
//
// The approval's own write sets TaskResult.DocumentsPending; the documents
// are generated right after it and the mark cleared once both are
// archived. If that fails (MinIO down, a crash), the approval stands and
// RepairDocuments (run at start and every scheduler interval) makes them
// later — from the same frozen record, so with the same content.
//
// # Exactly once
//
// Each document has one record per task and kind whose id is derived from
// both (ArchivedDocument.ID), and one object key. A retry first finds the
// record; failing that, an object already stored under the key with the
// same SHA-256 (a write whose record was lost) is taken as it is; only
// otherwise is the document written. The record's insert carries the
// audit event document.archive, so a record never exists without it.
//
// # WORM
//
// The documents bucket keeps every version under COMPLIANCE retention for
// SUIJI_EVIDENCE_RETENTION_YEARS (at least five): nobody — not suiji, not
// MinIO's admin — can delete or overwrite a document before then, and the
// API has no path that deletes one. Records name the object version, and
// downloads and checks read that version.

// Letterhead is what the documents say of the issuing bureau.
type Letterhead struct {
	Bureau          string // e.g. 泽州县应急管理局 (SUIJI_BUREAU_NAME)
	Reconsideration string // who hears an administrative reconsideration (SUIJI_RECONSIDERATION_BODY)
	Court           string // which court hears a suit (SUIJI_COURT)
	PublicURL       string // the public site's base URL; the QR code links the result there (SUIJI_PUBLIC_URL)
}

// Limits of what one document embeds of the evidence: the photos beyond
// them stay in the archive (and in the bundle), just not in the PDF.
const (
	maxPhotoBytes = 64 << 20 // photos embedded in one record, in total
	// DocumentLinkTTL is how long a document's download link lives.
	DocumentLinkTTL = 5 * time.Minute
)

// DocumentID is the id of the record of a task's document of kind.
func DocumentID(taskID, kind string) string {
	sum := sha256.Sum256([]byte("document|" + taskID + "|" + kind))
	return hex.EncodeToString(sum[:12])
}

// documentKey is where a task's document of kind is stored.
func documentKey(taskID, kind string) string { return "tasks/" + taskID + "/" + kind + ".pdf" }

// generator returns the PDF generator, built once from s.Fonts.
func (s *Service) generator() (*documents.Generator, error) {
	s.genOnce.Do(func() { s.gen, s.genErr = documents.New(s.Fonts) })
	return s.gen, s.genErr
}

// checkDocument names in fields a document id that is not an archived
// document of t.
func (s *Service) checkDocument(ctx context.Context, t *backend.Task, id string, fields map[string]string) error {
	d, err := s.Archive.FindArchivedDocument(ctx, id)
	switch {
	case backend.ErrorCode(err) == backend.ENOTFOUND || (err == nil && d.TaskID != t.ID):
		fields["document_id"] = "no archived document " + id + " of this task"
	case err != nil:
		return err
	}
	return nil
}

// archiveAfterApproval makes the documents of an approval just written.
// A failure leaves them pending for RepairDocuments and is logged, not
// returned: the approval stands.
func (s *Service) archiveAfterApproval(ctx context.Context, t *backend.Task, r *backend.TaskResult) {
	if s.Objects == nil {
		return // a test without MinIO; production always has one
	}
	if _, err := s.ArchiveDocuments(ctx, t, r); err != nil {
		slog.Default().ErrorContext(ctx, "results: the documents of an approved result were not archived; retrying later",
			slog.String("task_id", t.ID), slog.Any("error", err))
	}
}

// ArchiveDocuments generates the documents of t's approved result and
// archives each one (see the package's notes): the inspection record, and
// the rectification order when findings were recorded. It returns the
// records; repeating it makes nothing twice. ECONFLICT when t has no
// approved result.
func (s *Service) ArchiveDocuments(ctx context.Context, t *backend.Task, r *backend.TaskResult) ([]*backend.ArchivedDocument, error) {
	if s.Objects == nil {
		return nil, backend.Errorf(backend.EUNAVAILABLE, "no object store to archive documents in")
	}
	in, findings, err := s.inspection(ctx, t, r)
	if err != nil {
		return nil, err
	}
	g, err := s.generator()
	if err != nil {
		return nil, err
	}
	kinds := []string{backend.DocumentInspectionRecord}
	if findings > 0 {
		kinds = append(kinds, backend.DocumentRectificationOrder)
	}
	var out []*backend.ArchivedDocument
	for _, kind := range kinds {
		render, number := g.InspectionRecord, in.RecordNo
		if kind == backend.DocumentRectificationOrder {
			render, number = g.RectificationOrder, in.OrderNo
		}
		d, err := s.archiveOne(ctx, t.ID, kind, number, func(w io.Writer) error { return render(w, in) })
		if err != nil {
			return out, err
		}
		out = append(out, d)
	}
	if r.DocumentsPending {
		if err := s.Results.ClearDocumentsPending(ctx, t.ID); err != nil {
			return out, err
		}
		r.DocumentsPending = false
	}
	return out, nil
}

// archiveOne archives one document exactly once.
func (s *Service) archiveOne(ctx context.Context, taskID, kind, number string, render func(io.Writer) error) (*backend.ArchivedDocument, error) {
	id := DocumentID(taskID, kind)
	if d, err := s.Archive.FindArchivedDocument(ctx, id); err == nil {
		return d, nil
	} else if backend.ErrorCode(err) != backend.ENOTFOUND {
		return nil, err
	}
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(buf.Bytes())
	d := &backend.ArchivedDocument{
		ID: id, TaskID: taskID, Kind: kind, Number: number, ObjectKey: documentKey(taskID, kind),
		ContentType: "application/pdf", Size: int64(buf.Len()), SHA256: hex.EncodeToString(sum[:]), GeneratedAt: s.Now().UTC(),
	}
	st, err := s.Objects.StatDocument(ctx, d.ObjectKey)
	switch {
	case err == nil && st.SHA256 == d.SHA256 && st.Size == d.Size:
		d.VersionID = st.VersionID // written before, its record lost
	case err == nil || backend.ErrorCode(err) == backend.ENOTFOUND:
		if d.VersionID, err = s.Objects.PutDocument(ctx, d.ObjectKey, d.ContentType, d.SHA256, bytes.NewReader(buf.Bytes()), d.Size); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	err = s.Audit.Change(ctx, backend.AuditChange{Action: "document.archive", ObjectType: "document", ObjectID: id, After: documentDigest(d)},
		func(ctx context.Context) error { return s.Archive.InsertArchivedDocument(ctx, d) })
	if backend.ErrorCode(err) == backend.ECONFLICT { // another instance archived it first
		return s.Archive.FindArchivedDocument(ctx, id)
	}
	return d, err
}

func documentDigest(d *backend.ArchivedDocument) map[string]any {
	return map[string]any{
		"id": d.ID, "task_id": d.TaskID, "kind": d.Kind, "number": d.Number, "object_key": d.ObjectKey,
		"version_id": d.VersionID, "size": d.Size, "sha256": d.SHA256, "generated_at": d.GeneratedAt,
	}
}

// RepairDocuments archives the documents of approvals whose documents
// are still pending and returns how many tasks it completed. It is safe
// to run from several instances at once. A task that fails is skipped
// (and named in the error) so that one cannot hold up the rest.
//
// A pass tries at most repairBatch tasks, taking them in turn
// (repairQueue): it reads every pending id and tries first those that
// have waited longest since this process first saw or last tried them.
// A task whose documents keep failing — each try may read up to
// maxPhotoBytes of photos — thus goes to the back after its try, and a
// pending task with k others ahead of it is tried within
// ceil((k+1)/repairBatch) passes that get through their batch, or k+1
// passes that try anything; a pass its deadline stops leaves the tasks
// it did not reach at the front.
func (s *Service) RepairDocuments(ctx context.Context) (int, error) {
	if s.Objects == nil {
		return 0, nil
	}
	ids, err := s.Results.PendingDocuments(ctx, pendingScan)
	if err != nil {
		return 0, err
	}
	queue := &s.repairs
	batch := queue.next(ids, repairBatch)
	n := 0
	var failed []string
	for i, id := range batch {
		if err := ctx.Err(); err != nil {
			failed = append(failed, fmt.Sprintf("%d more not tried (%v)", len(batch)-i, err))
			break
		}
		queue.tried(id)
		t, r, err := s.Results.FindTaskResult(ctx, id)
		if err == nil {
			_, err = s.ArchiveDocuments(ctx, t, r)
		}
		if err != nil {
			failed = append(failed, id+": "+err.Error())
			continue
		}
		n++
	}
	if len(failed) > 0 {
		return n, backend.Errorf(backend.EUNAVAILABLE, "documents of %d of %d pending task(s) not archived: %s", len(batch)-n, len(ids), strings.Join(failed, "; "))
	}
	return n, nil
}

// How much of the pending documents one RepairDocuments pass takes on.
const (
	repairBatch = 100 // tasks tried
	// pendingScan bounds the ids read (ids only: a few MB at most). Every
	// pending task has to be read to get its turn; more than this many
	// pending would mean the documents had failed for months.
	pendingScan = 100_000
)

// repairQueue is the round-robin order of RepairDocuments: each pending
// task holds a place, the sequence number of when it was first seen or
// last tried, and the lowest places are tried first. Another instance
// keeps its own order; trying a task twice is harmless (exactly once).
type repairQueue struct {
	mu   sync.Mutex
	seq  uint64
	turn map[string]uint64 // pending task id → its place
}

// next returns up to n of the pending ids, lowest place first. Ids not
// seen before take places behind every known one (in id order, so that
// the first pass is deterministic); tasks no longer pending are forgotten.
func (q *repairQueue) next(pending []string, n int) []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	ids := slices.Clone(pending)
	slices.Sort(ids)
	seen := make(map[string]bool, len(ids))
	if q.turn == nil {
		q.turn = map[string]uint64{}
	}
	for _, id := range ids {
		seen[id] = true
		if _, ok := q.turn[id]; !ok {
			q.seq++
			q.turn[id] = q.seq
		}
	}
	for id := range q.turn {
		if !seen[id] {
			delete(q.turn, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int { return cmp.Compare(q.turn[a], q.turn[b]) })
	return ids[:min(n, len(ids))]
}

// tried sends id to the back of the queue, before it is tried: a task
// that fails, or outlasts the pass, waits for every other's turn.
func (q *repairQueue) tried(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	q.turn[id] = q.seq
}

// approval is the review that approved r's result, or nil.
func approval(r *backend.TaskResult) *backend.Review {
	for i := len(r.Reviews) - 1; i >= 0; i-- {
		if r.Reviews[i].Decision == backend.ReviewApprove {
			return &r.Reviews[i]
		}
	}
	return nil
}

// sourceLabels name a targeted task's source in the documents.
var sourceLabels = map[string]string{
	backend.SourceComplaint: "投诉举报", backend.SourceAssigned: "上级交办", backend.SourceReferral: "部门移送",
}

// inspection maps an approved task onto the documents' input: the
// enterprise, time and place, the group with badge numbers and signature
// images, every item with its outcome, the findings with deadlines, the
// summary, the photos, and the QR code's public URL. It returns the
// number of findings too.
func (s *Service) inspection(ctx context.Context, t *backend.Task, r *backend.TaskResult) (*documents.Inspection, int, error) {
	rev := approval(r)
	if rev == nil || t.InspectionEndedAt == nil {
		return nil, 0, backend.Errorf(backend.ECONFLICT, "task %s has no approved result to put in documents", t.ID)
	}
	in := &documents.Inspection{
		Bureau:   s.Letterhead.Bureau,
		RecordNo: fmt.Sprintf("现检〔%d〕%s号", t.Year, t.ID),
		OrderNo:  fmt.Sprintf("责改〔%d〕%s号", t.Year, t.ID),
		IssuedAt: rev.At,
		Enterprise: documents.Enterprise{
			Name: t.Enterprise.Name, USCC: t.Enterprise.USCC, Address: orElse(t.Enterprise.Address, t.Enterprise.Town, "—"),
		},
		Place:           orElse(t.Enterprise.Address, t.Enterprise.Town, t.Enterprise.Name),
		End:             *t.InspectionEndedAt,
		PublicURL:       strings.TrimRight(s.Letterhead.PublicURL, "/") + "/results/" + t.ID, // the portal's page of the record, not its JSON
		Reconsideration: s.Letterhead.Reconsideration,
		Court:           s.Letterhead.Court,
	}
	switch t.Kind {
	case backend.TaskRandom:
		in.Plan = "双随机抽查"
		if p, err := s.Plans.FindPlanByID(ctx, t.PlanID); err == nil {
			in.Plan = p.Title
		} else if backend.ErrorCode(err) != backend.ENOTFOUND {
			return nil, 0, err
		}
	case backend.TaskTargeted:
		in.Plan = strings.TrimSpace("专项检查（" + orElse(sourceLabels[t.Source], t.Source) + "）" + t.Reason)
	default:
		in.Plan = strings.TrimSpace("联合检查 " + t.Source + " " + t.ExternalPlanRef)
	}

	// When: from the first check-in (or checklist entry) to the end.
	in.Start = in.End
	for _, p := range t.Progress {
		if p.CheckIn != nil && p.CheckIn.At.Before(in.Start) {
			in.Start = p.CheckIn.At
		}
	}
	for _, o := range t.Checklist {
		if o.At.Before(in.Start) {
			in.Start = o.At
		}
	}

	// The group, with each member's submitted signature.
	evidence, err := s.Evidence.FindEvidenceByTask(ctx, t.ID)
	if err != nil {
		return nil, 0, err
	}
	byID := map[string]*backend.Evidence{}
	for _, e := range evidence {
		byID[e.ID] = e
	}
	photoBudget := int64(maxPhotoBytes)
	for _, m := range t.ActiveMembers() {
		p := documents.Inspector{Name: m.Name, BadgeNo: m.BadgeNo}
		if i := slices.IndexFunc(t.Progress, func(p backend.MemberProgress) bool { return p.UserID == m.UserID }); i >= 0 {
			if sub := t.Progress[i].Submission; sub != nil {
				if sub.Summary != "" && (m.Lead || in.Summary == "") {
					in.Summary = sub.Summary
				}
				if e := byID[sub.SignatureEvidenceID]; e != nil && embeddable(e) {
					if p.Signature, err = s.readEvidence(ctx, e); err != nil {
						return nil, 0, err
					}
					p.SignatureRef = e.ID
				}
			}
		}
		in.Inspectors = append(in.Inspectors, p)
	}

	// Every item with its outcome; one not recorded says so.
	items := map[string]backend.TaskItem{}
	for _, it := range t.Items {
		items[it.ID] = it
		o := documents.Item{Code: it.Code, Name: it.Name, LegalBasis: strings.TrimSpace(it.LegalBasis.Law + it.LegalBasis.Article),
			Outcome: documents.NotApplicable, Note: "未记录结果"}
		if i := slices.IndexFunc(t.Checklist, func(o backend.ItemOutcome) bool { return o.ItemID == it.ID }); i >= 0 {
			o.Outcome, o.Note = documents.Outcome(t.Checklist[i].Outcome), t.Checklist[i].Note
		}
		in.Items = append(in.Items, o)
	}
	if len(in.Items) == 0 {
		in.Items = []documents.Item{{Name: "（本任务无检查事项）", Outcome: documents.NotApplicable}}
	}

	findings, err := s.Findings.FindFindingsByTask(ctx, t.ID)
	if err != nil {
		return nil, 0, err
	}
	for _, f := range findings {
		by, _ := time.ParseInLocation("2006-01-02", f.RectifyBy, backend.ChinaTime)
		label := ""
		if it, ok := items[f.ItemID]; ok {
			label = strings.TrimSpace(it.Code + " " + it.Name)
		}
		in.Findings = append(in.Findings, documents.Finding{Item: label, Description: f.Description,
			Severity: documents.Severity(f.Severity), Rectification: orElse(f.Rectification, "立即整改"), RectifyBy: by})
	}

	// The photos, as far as the document holds them.
	for _, e := range evidence {
		if e.Kind != backend.EvidencePhoto || !embeddable(e) || len(in.Photos) == documents.MaxPhotos || e.Size > photoBudget {
			continue
		}
		data, err := s.readEvidence(ctx, e)
		if err != nil {
			return nil, 0, err
		}
		photoBudget -= e.Size
		in.Photos = append(in.Photos, documents.Image{Caption: photoCaption(e), Data: data, Ref: e.ID})
	}
	return in, len(in.Findings), nil
}

// embeddable reports whether a document can show e: verified, small
// enough, and PNG or JPEG by what its bytes show (SniffedType). The
// declared type is not enough: bytes the sniffer cannot tell (a HEIC
// photo, garbage) are verified under the type the phone declared
// (media.Mismatch), and the documents refuse what is no PNG or JPEG.
// Whether the PDF library takes a PNG or JPEG is the documents' to
// decide: one it refuses is a note in the document, not a failure.
func embeddable(e *backend.Evidence) bool {
	return e.State == backend.EvidenceVerified && (e.SniffedType == "image/png" || e.SniffedType == "image/jpeg") &&
		e.Size <= documents.MaxImageBytes
}

// readEvidence reads the archived version of e and checks it against its
// record: a document never shows an image that is not the evidence.
func (s *Service) readEvidence(ctx context.Context, e *backend.Evidence) ([]byte, error) {
	body, _, err := s.Objects.OpenEvidenceVersion(ctx, e.ObjectKey, e.VersionID)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, e.Size+1))
	if err != nil {
		return nil, backend.Wrap(err, backend.EUNAVAILABLE, "reading evidence %s", e.ID)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != e.SHA256 {
		return nil, backend.Errorf(backend.EINTERNAL, "evidence %s in storage does not match its SHA-256; run suiji archive verify", e.ID)
	}
	return data, nil
}

func photoCaption(e *backend.Evidence) string {
	c := e.Description
	if t := e.TakenAt; t != nil {
		c = strings.TrimSpace(t.In(backend.ChinaTime).Format("2006-01-02 15:04") + " " + c)
	}
	return c
}

// orElse returns the first of values that is not blank.
func orElse(values ...string) string {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
