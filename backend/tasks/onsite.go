package tasks

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"suiji/backend"
	"suiji/backend/documents"
)

// On site (art. 15, 20, 23): the group checks in, fills the checklist,
// records findings and non-cooperation, attaches evidence and signs off.
// Phones work offline and retry: every create takes the phone's own id
// (a repeat is harmless), every change to the task is a compare-and-set on
// its version — a change that names the version it was based on is
// refused with 409 when the task moved on, one that does not is applied to
// the current task. Each change tells the group's phones (a silent stream
// entry), which is what live streams and delta sync see.

// Limits are the on-site limits from configuration.
type Limits struct {
	CheckInRadiusM float64
	MaxPhoto       int64
	MaxVideo       int64
	MaxOther       int64
	UploadTTL      time.Duration // validity of presigned upload URLs
	AbandonAfter   time.Duration // a multipart upload older than this is aborted
}

// Text limits of on-site records.
const (
	MaxNote        = 2000
	MaxDescription = 4000
	MaxSummary     = 4000
	MaxEvidenceIDs = 100
	// MaxAmendmentReason and MaxAmendments bound what amendments add to a
	// completed task's record, which every sync of the group carries:
	// without them, one member could grow the task past what the store
	// keeps in one document, and no review could store it again.
	MaxAmendmentReason = 2000
	MaxAmendments      = 200
	// MaxFindings is as many findings as a task's documents list
	// (documents.MaxFindings): one more, and the statutory documents of
	// its review could never be made.
	MaxFindings = documents.MaxFindings
	// MaxNonCooperation bounds a task's non-cooperation records, each a
	// record for good that marks its enterprise once approved. Art. 23's
	// refusals are rare and of four types: one inspection records one or
	// two, a long obstructed one a few more; 20 is plenty, and keeps what
	// one member can add to a task bounded.
	MaxNonCooperation = 20
)

// changeAttempts bounds how often a change without a version is reapplied
// to a task that moved on meanwhile.
const changeAttempts = 5

// uuidish is what a client-generated id may look like.
var uuidish = regexp.MustCompile(`^[A-Za-z0-9-]{8,64}$`)

// member returns the task if the actor is in its group: ENOTFOUND for a
// task they may not see, EFORBIDDEN for one they see but are not in (staff
// and coordinators do not act on site).
func (s *Service) memberTask(ctx context.Context, id string) (*backend.Task, error) {
	t, err := s.GetTask(ctx, id)
	if err != nil {
		return nil, err
	}
	if !t.HasMember(backend.ActorFromContext(ctx).UserID) {
		return nil, backend.Errorf(backend.EFORBIDDEN, "only the task's group acts on site")
	}
	return t, nil
}

// change applies mutate to a task of the actor's group and stores it:
// version, when not 0, must be the stored one (ECONFLICT with fields
// version "stale" otherwise); without one, a task that moved on meanwhile
// is reloaded and mutate applied again. A change after completion needs
// an amendment reason (frozen) and is kept as an amendment; cancelled,
// reviewed and published tasks do not change on site. The group is told.
// A mutate that finds the request stored already returns errUnchanged:
// the task is answered as it is, and the group told again.
func (s *Service) change(ctx context.Context, id string, version int, amendment, action string, mutate func(t *backend.Task, now time.Time) (string, error)) (*backend.Task, error) {
	amendment, err := amendmentReason(amendment)
	if err != nil {
		return nil, err
	}
	for range changeAttempts {
		t, err := s.memberTask(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := onSiteRefusal(t, version, amendment); err != nil {
			return nil, err
		}
		before := taskDigest(t)
		now := s.Now().UTC()
		what, err := mutate(t, now)
		if errors.Is(err, errUnchanged) {
			return t, s.tell(ctx, t) // a repeat: the group is told again (fixed ids), nothing written
		} else if err != nil {
			return nil, err
		}
		if t.State == backend.TaskCompleted {
			t.Amendments = append(t.Amendments, backend.Amendment{At: now, By: backend.ActorFromContext(ctx).UserID, Reason: amendment, What: what})
		}
		if t.State == backend.TaskAssigned {
			t.State = backend.TaskInProgress
		}
		t.UpdatedAt = now
		err = s.updateTask(ctx, t, action, before)
		if backend.ErrorCode(err) == backend.ECONFLICT && version == 0 {
			continue
		} else if err != nil {
			return nil, err
		}
		return t, s.tell(ctx, t)
	}
	// Others' changes won every time: no answer to the request, which the
	// same key may repeat in a moment (a phone's outbox waits on it).
	return nil, backend.Wrap(&backend.RetryAfterError{Delay: time.Second}, backend.ECONFLICT, "the task kept changing; try again")
}

// errUnchanged is what a change's mutate returns for a request that is
// a repeat of one stored already: change answers the task as it is.
var errUnchanged = errors.New("unchanged: a repeat of a stored change")

// amendmentReason trims an amendment's reason and checks its length.
func amendmentReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > MaxAmendmentReason {
		return "", backend.InvalidFields("invalid amendment", map[string]string{"amendment_reason": fmt.Sprintf("at most %d characters", MaxAmendmentReason)})
	}
	return reason, nil
}

// onSiteRefusal is why t takes no change on site based on version (0:
// none) with the (trimmed) amendment reason, or nil: change asks it of
// the task it is about to change, and a record stored before its task
// change (CreateFinding, RecordNonCooperation) asks it first, so that
// what the task would refuse is not stored either.
func onSiteRefusal(t *backend.Task, version int, amendment string) error {
	switch {
	case t.State == backend.TaskCancelled || t.State == backend.TaskReviewed || t.State == backend.TaskPublished:
		return backend.Errorf(backend.ECONFLICT, "a %s task does not change on site", t.State)
	case t.State == backend.TaskCompleted && amendment == "":
		return &backend.Error{Code: backend.ECONFLICT, Fields: map[string]string{"amendment_reason": "required after completion"},
			Message: "the task is completed and its record frozen: a change is an amendment with a reason"}
	case version != 0 && version != t.Version:
		return staleVersion(t)
	case t.State == backend.TaskCompleted && len(t.Amendments) >= MaxAmendments:
		return backend.Errorf(backend.ECONFLICT, "the record has %d amendments, the most it takes; ask the department's staff to return it for review", len(t.Amendments))
	}
	return nil
}

// tell writes a silent entry for each active member: their phones fetch
// the task again.
func (s *Service) tell(ctx context.Context, t *backend.Task) error {
	return s.Notifier.Notify(ctx, backend.TaskUpdatedNotes(t))
}

// progress returns the actor's progress entry of t, creating it.
func progress(t *backend.Task, userID string) *backend.MemberProgress {
	for i := range t.Progress {
		if t.Progress[i].UserID == userID {
			return &t.Progress[i]
		}
	}
	t.Progress = append(t.Progress, backend.MemberProgress{UserID: userID})
	return &t.Progress[len(t.Progress)-1]
}

// CheckInInput is a phone's check-in.
type CheckInInput struct {
	Lat, Lng, AccuracyM float64
	At                  time.Time
}

// CheckIn records the actor's arrival: the distance to the enterprise is
// stored, and beyond the configured radius the check-in is flagged, not
// refused (GPS at a mine is poor). EINVALID for coordinates out of range
// or a time far from now.
func (s *Service) CheckIn(ctx context.Context, id string, in CheckInInput) (*backend.Task, error) {
	fields := map[string]string{}
	if in.Lat < -90 || in.Lat > 90 || math.IsNaN(in.Lat) {
		fields["lat"] = "from -90 to 90"
	}
	if in.Lng < -180 || in.Lng > 180 || math.IsNaN(in.Lng) {
		fields["lng"] = "from -180 to 180"
	}
	if in.AccuracyM < 0 || in.AccuracyM > 100_000 || math.IsNaN(in.AccuracyM) {
		fields["accuracy_m"] = "from 0 to 100000 metres"
	}
	now := s.Now().UTC()
	switch {
	case in.At.IsZero():
		in.At = now
	case in.At.After(now.Add(10*time.Minute)) || in.At.Before(now.Add(-14*24*time.Hour)):
		fields["at"] = "within the last 14 days (a phone's time, RFC 3339)"
	}
	if len(fields) > 0 {
		return nil, backend.InvalidFields("invalid check-in", fields)
	}
	return s.change(ctx, id, 0, "", "task.check_in", func(t *backend.Task, _ time.Time) (string, error) {
		c := &backend.CheckIn{Lat: in.Lat, Lng: in.Lng, AccuracyM: in.AccuracyM, At: in.At.UTC()}
		if loc := t.Enterprise.Location; loc != nil {
			d := math.Round(Distance(in.Lat, in.Lng, loc.Lat, loc.Lng))
			c.DistanceM, c.Flagged = &d, d > s.Limits.CheckInRadiusM
		}
		progress(t, backend.ActorFromContext(ctx).UserID).CheckIn = c
		return "check-in", nil
	})
}

// Distance is the great-circle distance in metres between two WGS-84
// points (haversine on a sphere of the Earth's mean radius).
func Distance(lat1, lng1, lat2, lng2 float64) float64 {
	const r = 6_371_008.8
	rad := math.Pi / 180
	dLat, dLng := (lat2-lat1)*rad, (lng2-lng1)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(a)))
}

// SetItemOutcome records the group's outcome of one item. Items whose
// categories do not fit the enterprise are not asked (EINVALID).
//
// version is the task version the outcome was chosen on (0: no check).
// It is stale only when this item's outcome was set since: the members of
// a group work on one task at once, often offline, and a partner's
// check-in, finding or outcome of another item must not turn every
// outcome a phone queued meanwhile into a conflict — while one set on
// the same item since must never be overwritten unseen (409 with the
// task as it is).
func (s *Service) SetItemOutcome(ctx context.Context, id, itemID, outcome, note string, version int, amendment string) (*backend.Task, error) {
	note = strings.TrimSpace(note)
	fields := map[string]string{}
	if !slices.Contains(backend.ItemOutcomes, outcome) {
		fields["outcome"] = "pass, fail or not_applicable"
	}
	if utf8.RuneCountInString(note) > MaxNote {
		fields["note"] = fmt.Sprintf("at most %d characters", MaxNote)
	}
	if len(fields) > 0 {
		return nil, backend.InvalidFields("invalid item outcome", fields)
	}
	return s.change(ctx, id, 0, amendment, "task.item_outcome", func(t *backend.Task, now time.Time) (string, error) {
		j := slices.IndexFunc(t.Checklist, func(o backend.ItemOutcome) bool { return o.ItemID == itemID })
		// The actor's own outcome sent again — its answer was lost, or the
		// telling after it failed once it was stored (a 5xx, so the phone
		// repeats it) — is no change: against the version it was chosen on
		// it would read as stale, a conflict with itself.
		if j >= 0 {
			if o := t.Checklist[j]; o.Outcome == outcome && o.Note == note && o.By == backend.ActorFromContext(ctx).UserID && (version == 0 || o.Version == version+1) {
				return "", errUnchanged
			}
		}
		if version != 0 && j >= 0 && setSince(t, t.Checklist[j], version) {
			return "", staleVersion(t)
		}
		i := slices.IndexFunc(t.Items, func(it backend.TaskItem) bool { return it.ID == itemID })
		if i < 0 {
			return "", backend.Errorf(backend.ENOTFOUND, "the task has no item %s", itemID)
		}
		if !t.Items[i].AppliesTo(t.Enterprise.Categories) {
			return "", backend.InvalidFields("not asked of this enterprise", map[string]string{"item_id": "the item's categories do not fit the enterprise"})
		}
		// The version this change makes (updateTask moves it on by one).
		o := backend.ItemOutcome{ItemID: itemID, Outcome: outcome, Note: note, By: backend.ActorFromContext(ctx).UserID, At: now, Version: t.Version + 1}
		what := "item " + itemID + ": → " + outcome
		if j >= 0 {
			what = "item " + itemID + ": " + t.Checklist[j].Outcome + " → " + outcome
			t.Checklist[j] = o
		} else {
			t.Checklist = append(t.Checklist, o)
		}
		return what, nil
	})
}

// setSince reports whether outcome o of t was set after version: by its
// own version, or — kept before outcomes had one — by the task's.
func setSince(t *backend.Task, o backend.ItemOutcome, version int) bool {
	if o.Version == 0 {
		return t.Version != version
	}
	return o.Version > version
}

// FindingInput is a finding as a phone sends it.
type FindingInput struct {
	ID            string
	ItemID        string
	Description   string
	Severity      string
	Rectification string
	RectifyBy     string
	EvidenceIDs   []string
}

// CreateFinding records a finding with the phone's id: a repeat by the
// same member returns the stored one (created false), recording it in
// the task first if an earlier attempt stored it and failed before that;
// another finding under that id is ECONFLICT. After completion it needs
// an amendment reason. EINVALID naming every bad field; ECONFLICT naming
// fields.findings when the task has MaxFindings.
func (s *Service) CreateFinding(ctx context.Context, taskID string, in FindingInput, amendment string) (*backend.Finding, bool, error) {
	actor := backend.ActorFromContext(ctx)
	if _, err := s.memberTask(ctx, taskID); err != nil {
		return nil, false, err
	}
	in.Description, in.Rectification = strings.TrimSpace(in.Description), strings.TrimSpace(in.Rectification)
	fields := map[string]string{}
	if in.ID != "" && !uuidish.MatchString(in.ID) {
		fields["id"] = "a UUID (8–64 letters, digits, hyphens)"
	}
	if n := utf8.RuneCountInString(in.Description); n == 0 || n > MaxDescription {
		fields["description"] = fmt.Sprintf("required, at most %d characters", MaxDescription)
	}
	if in.Severity != backend.SeverityGeneral && in.Severity != backend.SeverityMajor {
		fields["severity"] = "general (一般隐患) or major (重大隐患)"
	}
	if utf8.RuneCountInString(in.Rectification) > MaxDescription {
		fields["rectification"] = fmt.Sprintf("at most %d characters", MaxDescription)
	}
	if in.RectifyBy != "" {
		if _, err := backend.ParseDate(in.RectifyBy); err != nil {
			fields["rectify_by"] = "a date YYYY-MM-DD"
		}
	}
	if len(in.EvidenceIDs) > MaxEvidenceIDs {
		fields["evidence_ids"] = fmt.Sprintf("at most %d", MaxEvidenceIDs)
	}
	if len(fields) > 0 {
		return nil, false, backend.InvalidFields("invalid finding", fields)
	}
	return recordOnSite(ctx, s, taskID, in.ID, amendment, onSiteKind[*backend.Finding]{
		action: "task.finding",
		find:   s.Findings.FindFinding,
		full: func(ctx context.Context) error {
			found, err := s.Findings.FindFindingsByTask(ctx, taskID)
			if err != nil || len(found) < MaxFindings {
				return err
			}
			return &backend.Error{Code: backend.ECONFLICT, Fields: map[string]string{"findings": fmt.Sprintf("at most %d per task", MaxFindings)},
				Message: fmt.Sprintf("the task has %d findings, as many as its documents list; record further hazards in an existing finding", len(found))}
		},
		make: func(ctx context.Context, t *backend.Task, id string, now time.Time) (*backend.Finding, error) {
			if !slices.ContainsFunc(t.Items, func(it backend.TaskItem) bool { return it.ID == in.ItemID }) {
				return nil, backend.InvalidFields("invalid finding", map[string]string{"item_id": "an item of the task"})
			}
			if err := s.ownEvidence(ctx, t.ID, in.EvidenceIDs); err != nil {
				return nil, err
			}
			return &backend.Finding{ID: id, TaskID: taskID, ItemID: in.ItemID, Description: in.Description, Severity: in.Severity,
				Rectification: in.Rectification, RectifyBy: in.RectifyBy, EvidenceIDs: in.EvidenceIDs, CreatedBy: actor.UserID, CreatedAt: now, UpdatedAt: now}, nil
		},
		store: func(ctx context.Context, f *backend.Finding) error {
			return s.Audit.Change(ctx, backend.AuditChange{Action: "finding.create", ObjectType: "finding", ObjectID: f.ID, After: map[string]any{
				"task_id": taskID, "item_id": f.ItemID, "severity": f.Severity, "rectify_by": f.RectifyBy, "evidence_ids": f.EvidenceIDs,
			}}, func(ctx context.Context) error { return s.Findings.CreateFinding(ctx, f) })
		},
		describe: func(f *backend.Finding) onSiteRecord {
			return onSiteRecord{kind: "finding", id: f.ID, taskID: f.TaskID, by: f.CreatedBy, at: f.CreatedAt, detail: f.Severity}
		},
	})
}

// onSiteKind is what recordOnSite needs to know of one kind of record a
// member makes on site beside the task: a finding, a non-cooperation
// record.
type onSiteKind[R any] struct {
	action   string                                                                          // the task change's audit action
	find     func(ctx context.Context, id string) (R, error)                                 // by id; ENOTFOUND when none
	full     func(ctx context.Context) error                                                 // the refusal once the task has as many as it takes
	make     func(ctx context.Context, t *backend.Task, id string, now time.Time) (R, error) // checked against the task
	store    func(ctx context.Context, r R) error                                            // with its audit event
	describe func(R) onSiteRecord
}

// onSiteRecord is what recordOnSite reads of a record.
type onSiteRecord struct {
	kind, id, taskID, by string
	at                   time.Time
	detail               string // the task's amendment reads "finding ID (general)": kind, id, detail
}

// what is how the task's amendment names the record, up to its detail.
func (r onSiteRecord) what() string { return r.kind + " " + r.id + " (" }

// change is the task change that records it.
func (r onSiteRecord) change() func(*backend.Task, time.Time) (string, error) {
	return func(*backend.Task, time.Time) (string, error) { return r.what() + r.detail + ")", nil }
}

// recordOnSite stores a record of kind k made by the actor with the
// phone's id (a new one when empty), then has the task record it (and,
// after completion, the amendment with its reason). The count and the
// store run under the task's on-site lease, as evidence does: records
// sent at once cannot each see room for one more, nor a repeat and its
// original each find the task yet to record it. The record is stored
// before the task changes: a failure or an approval in between leaves a
// stored record the task has yet to record — which a repeat under its id
// records (repeatOnSite) — never a task naming a record not stored.
func recordOnSite[R any](ctx context.Context, s *Service, taskID, id, amendment string, k onSiteKind[R]) (R, bool, error) {
	var none R
	amendment, err := amendmentReason(amendment)
	if err != nil {
		return none, false, err
	}
	release, err := s.lockEvidence(ctx, taskID)
	if err != nil {
		return none, false, err
	}
	defer release()
	if id != "" {
		if r, err := k.find(ctx, id); err == nil {
			return repeatOnSite(ctx, s, taskID, amendment, k, r)
		} else if backend.ErrorCode(err) != backend.ENOTFOUND {
			return none, false, err
		}
	}
	// The task as it is now, under the lease: what its change would refuse
	// is refused before the record is stored.
	t, err := s.memberTask(ctx, taskID)
	if err != nil {
		return none, false, err
	}
	if err := onSiteRefusal(t, 0, amendment); err != nil {
		return none, false, err
	}
	if err := k.full(ctx); err != nil {
		return none, false, err
	}
	if id == "" {
		if id, err = randomID(s.Rand); err != nil {
			return none, false, err
		}
	}
	r, err := k.make(ctx, t, id, s.Now().UTC())
	if err != nil {
		return none, false, err
	}
	err = k.store(ctx, r)
	if backend.ErrorCode(err) == backend.ECONFLICT { // a repeat that outlived the lease won
		if stored, ferr := k.find(ctx, id); ferr == nil {
			return repeatOnSite(ctx, s, taskID, amendment, k, stored)
		}
	}
	if err != nil {
		return none, false, err
	}
	if _, err := s.change(ctx, taskID, 0, amendment, k.action, k.describe(r).change()); err != nil {
		return none, false, err
	}
	return r, true, nil
}

// repeatOnSite answers a record sent again under a stored record's id:
// the stored one when it is the actor's of this task (ECONFLICT
// otherwise), once the task records it. The caller holds the lease.
func repeatOnSite[R any](ctx context.Context, s *Service, taskID, amendment string, k onSiteKind[R], r R) (R, bool, error) {
	var none R
	d := k.describe(r)
	if d.taskID != taskID || d.by != backend.ActorFromContext(ctx).UserID {
		return none, false, backend.Errorf(backend.ECONFLICT, "%s id %s is taken", d.kind, d.id)
	}
	t, err := s.memberTask(ctx, taskID)
	if err != nil {
		return none, false, err
	}
	if !taskRecords(t, d.what(), d.at) {
		if _, err := s.change(ctx, taskID, 0, amendment, k.action, d.change()); err != nil {
			return none, false, err
		}
	}
	return r, false, nil
}

// taskRecords reports whether t records an on-site record made at `at`
// whose amendment would start with what: an amendment names it; or the
// record owes none (the task is not completed, or was completed after
// it) and the task was changed on site since, so its group was told; or
// the task takes no change on site any more, so nothing more can be
// recorded.
func taskRecords(t *backend.Task, what string, at time.Time) bool {
	if slices.ContainsFunc(t.Amendments, func(a backend.Amendment) bool { return strings.HasPrefix(a.What, what) }) {
		return true
	}
	switch t.State {
	case backend.TaskAssigned: // a change on site moves it on
		return false
	case backend.TaskInProgress, backend.TaskSubmitted:
		return !t.UpdatedAt.Before(at)
	case backend.TaskCompleted:
		return !at.After(completedAt(t))
	}
	return true
}

// completedAt is when a completed task was completed: its last
// submission (each round's first submission clears the round before).
func completedAt(t *backend.Task) time.Time {
	var last time.Time
	for _, p := range t.Progress {
		if p.Submission != nil && p.Submission.At.After(last) {
			last = p.Submission.At
		}
	}
	return last
}

// ownEvidence checks that every id names evidence of the task.
func (s *Service) ownEvidence(ctx context.Context, taskID string, ids []string) error {
	for _, id := range ids {
		e, err := s.Evidence.FindEvidence(ctx, id)
		if backend.ErrorCode(err) == backend.ENOTFOUND || (err == nil && e.TaskID != taskID) {
			return backend.InvalidFields("unknown evidence", map[string]string{"evidence_ids": "evidence " + id + " is not the task's"})
		} else if err != nil {
			return err
		}
	}
	return nil
}

// Findings lists a visible task's findings.
func (s *Service) ListFindings(ctx context.Context, taskID string) ([]*backend.Finding, error) {
	t, err := s.GetTask(ctx, taskID)
	if err != nil {
		return nil, err
	}
	return s.Findings.FindFindingsByTask(ctx, t.ID)
}

// NonCooperationInput is a recorded non-cooperation as a phone sends it.
type NonCooperationInput struct {
	ID          string
	Type        string
	Description string
	EvidenceIDs []string
}

// RecordNonCooperation records serious non-cooperation (art. 23) with one
// of its four types. Once the office approves the task's result as "not
// cooperating" the enterprise is marked for key checks and later draws'
// pools see it (plans.Service.NonCooperating). A repeat with the same id
// returns the stored record (created false), recording it in the task
// first if an earlier attempt stored it and failed before that. After
// completion it needs an amendment reason, as every change on site does.
// EINVALID naming every bad field; ECONFLICT naming fields.non_cooperation
// when the task has MaxNonCooperation records.
func (s *Service) RecordNonCooperation(ctx context.Context, taskID string, in NonCooperationInput, amendment string) (*backend.NonCooperation, bool, error) {
	actor := backend.ActorFromContext(ctx)
	if _, err := s.memberTask(ctx, taskID); err != nil {
		return nil, false, err
	}
	in.Description = strings.TrimSpace(in.Description)
	fields := map[string]string{}
	if in.ID != "" && !uuidish.MatchString(in.ID) {
		fields["id"] = "a UUID (8–64 letters, digits, hyphens)"
	}
	if !slices.Contains(backend.NonCooperationTypes, in.Type) {
		fields["type"] = "refused_entry, refused_materials, false_information or obstruction (art. 23)"
	}
	if n := utf8.RuneCountInString(in.Description); n == 0 || n > MaxDescription {
		fields["description"] = fmt.Sprintf("required, at most %d characters", MaxDescription)
	}
	if len(in.EvidenceIDs) > MaxEvidenceIDs {
		fields["evidence_ids"] = fmt.Sprintf("at most %d", MaxEvidenceIDs)
	}
	if len(fields) > 0 {
		return nil, false, backend.InvalidFields("invalid non-cooperation record", fields)
	}
	return recordOnSite(ctx, s, taskID, in.ID, amendment, onSiteKind[*backend.NonCooperation]{
		action: "task.non_cooperation",
		find:   s.NonCooperation.FindNonCooperation,
		full: func(ctx context.Context) error {
			found, err := s.NonCooperation.FindNonCooperationByTask(ctx, taskID)
			if err != nil || len(found) < MaxNonCooperation {
				return err
			}
			return &backend.Error{Code: backend.ECONFLICT, Fields: map[string]string{"non_cooperation": fmt.Sprintf("at most %d per task", MaxNonCooperation)},
				Message: fmt.Sprintf("the task has %d records of non-cooperation, the most one task takes; describe further obstruction in the task's summary", len(found))}
		},
		make: func(ctx context.Context, t *backend.Task, id string, now time.Time) (*backend.NonCooperation, error) {
			if err := s.ownEvidence(ctx, t.ID, in.EvidenceIDs); err != nil {
				return nil, err
			}
			return &backend.NonCooperation{ID: id, TaskID: taskID, EnterpriseID: t.Enterprise.ID, USCC: t.Enterprise.USCC, Type: in.Type,
				Description: in.Description, EvidenceIDs: in.EvidenceIDs, RecordedBy: actor.UserID, RecordedAt: now}, nil
		},
		store: func(ctx context.Context, n *backend.NonCooperation) error {
			return s.Audit.Change(ctx, backend.AuditChange{Action: "enterprise.non_cooperation", ObjectType: "enterprise", ObjectID: n.EnterpriseID, After: map[string]any{
				"task_id": taskID, "record_id": n.ID, "type": n.Type, "uscc": n.USCC, "evidence_ids": n.EvidenceIDs,
			}}, func(ctx context.Context) error { return s.NonCooperation.CreateNonCooperation(ctx, n) })
		},
		describe: func(n *backend.NonCooperation) onSiteRecord {
			return onSiteRecord{kind: "non-cooperation", id: n.ID, taskID: n.TaskID, by: n.RecordedBy, at: n.RecordedAt, detail: n.Type}
		},
	})
}

// ListNonCooperation lists a visible task's non-cooperation records.
func (s *Service) ListNonCooperation(ctx context.Context, taskID string) ([]*backend.NonCooperation, error) {
	t, err := s.GetTask(ctx, taskID)
	if err != nil {
		return nil, err
	}
	return s.NonCooperation.FindNonCooperationByTask(ctx, t.ID)
}

// SubmitInput is a member's sign-off.
type SubmitInput struct {
	Result              string
	Summary             string
	SignatureEvidenceID string
	Version             int
}

// Submit records the actor's result, summary and signature (a verified
// evidence of kind signature they uploaded). When every active member has
// submitted, the task is completed: its result is the leader's, the
// inspection has ended, and the feedback and publication deadlines run
// from now. A member may submit again until then.
func (s *Service) Submit(ctx context.Context, id string, in SubmitInput) (*backend.Task, error) {
	in.Summary = strings.TrimSpace(in.Summary)
	fields := map[string]string{}
	if !slices.Contains(backend.InspectionResults, in.Result) {
		fields["result"] = "one of " + strings.Join(backend.InspectionResults, ", ")
	}
	if n := utf8.RuneCountInString(in.Summary); n == 0 || n > MaxSummary {
		fields["summary"] = fmt.Sprintf("required, at most %d characters", MaxSummary)
	}
	if in.SignatureEvidenceID == "" {
		fields["signature_evidence_id"] = "a verified signature image"
	}
	if len(fields) > 0 {
		return nil, backend.InvalidFields("invalid submission", fields)
	}
	actor := backend.ActorFromContext(ctx)
	sig, err := s.Evidence.FindEvidence(ctx, in.SignatureEvidenceID)
	if err != nil || sig.TaskID != id || sig.Kind != backend.EvidenceSignature || sig.State != backend.EvidenceVerified || sig.CreatedBy != actor.UserID {
		return nil, backend.InvalidFields("invalid signature", map[string]string{"signature_evidence_id": "your verified evidence of kind signature for this task"})
	}
	// The submission that completed the task, sent again — its answer was
	// lost, or the telling after it failed once the task was stored (a
	// 5xx, so the phone repeats it) — is answered with the task, and the
	// group and the office are told again (their entries' ids are fixed:
	// what went out before is not repeated). A completed task refuses any
	// other change without an amendment's reason, and the office would
	// otherwise never hear that it has a record to review.
	if t, err := s.memberTask(ctx, id); err != nil {
		return nil, err
	} else if t.State == backend.TaskCompleted && sameSubmission(t, actor.UserID, in, sig.ID) {
		if err := s.tell(ctx, t); err != nil {
			return nil, err
		}
		return t, s.tellCompleted(ctx, t)
	}
	completed := false
	t, err := s.change(ctx, id, in.Version, "", "task.submit", func(t *backend.Task, now time.Time) (string, error) {
		completed = false // as of this attempt (change may apply it again)
		if t.State == backend.TaskCompleted {
			return "", backend.Errorf(backend.ECONFLICT, "the task is completed")
		}
		if t.State != backend.TaskSubmitted {
			// The first submission of a round (the first, or after the
			// review returned the result): earlier ones do not count.
			for i := range t.Progress {
				t.Progress[i].Submission = nil
			}
		}
		progress(t, actor.UserID).Submission = &backend.Submission{Result: in.Result, Summary: in.Summary, SignatureEvidenceID: sig.ID, At: now}
		t.State = backend.TaskSubmitted
		if allSubmitted(t) {
			t.State, t.SubmittedResult, completed = backend.TaskCompleted, leaderResult(t), true
			// The statutory periods run from the end of the inspection,
			// not from a resubmission after a return.
			if t.InspectionEndedAt == nil {
				if err := s.EndInspection(ctx, t, now); err != nil {
					return "", err
				}
			}
		}
		return "submission " + in.Result, nil
	})
	if err != nil || !completed {
		return t, err
	}
	return t, s.tellCompleted(ctx, t)
}

// tellCompleted tells the lead department's staff that t is completed:
// they now review it and feed the result back (art. 21). Each completion
// (the first, and each after a return) is its own entry, named by the
// task's version (a repeat of the completing submission after an
// amendment changed the task again names the new version: one entry
// more, never one less).
func (s *Service) tellCompleted(ctx context.Context, t *backend.Task) error {
	staff, err := s.departmentStaff(ctx, t.LeadDepartmentID)
	if err != nil {
		return err
	}
	return s.Notifier.Notify(ctx, memberNotes(t, staff, backend.NoteTaskUpdated, "completed-"+itoa(t.Version), "检查已完成，待审核",
		fmt.Sprintf("%s · 结果反馈期限 %s，公示期限 %s", t.Enterprise.Name, t.Deadlines.Feedback, t.Deadlines.Publication)))
}

// sameSubmission reports whether the actor's submission stored in t is
// the one in (with its signature sig): a repeat, not a new sign-off.
func sameSubmission(t *backend.Task, userID string, in SubmitInput, sig string) bool {
	for _, p := range t.Progress {
		if p.UserID == userID && p.Submission != nil {
			sub := p.Submission
			return sub.Result == in.Result && sub.Summary == in.Summary && sub.SignatureEvidenceID == sig
		}
	}
	return false
}

func allSubmitted(t *backend.Task) bool {
	for _, m := range t.ActiveMembers() {
		i := slices.IndexFunc(t.Progress, func(p backend.MemberProgress) bool { return p.UserID == m.UserID })
		if i < 0 || t.Progress[i].Submission == nil {
			return false
		}
	}
	return true
}

func leaderResult(t *backend.Task) string {
	var first string
	for _, m := range t.ActiveMembers() {
		for _, p := range t.Progress {
			if p.UserID == m.UserID && p.Submission != nil {
				if m.Lead {
					return p.Submission.Result
				}
				if first == "" {
					first = p.Submission.Result
				}
			}
		}
	}
	return first
}
