// Package results is the "one public" half of an inspection (art. 21, 22,
// 24, 25, 29): a completed task's result is reviewed, fed back to the
// enterprise, published for everyone, followed by its dispositions, and
// the bureau's compliance is counted in statistics.
//
// # The result side lives with its task
//
// Reviews, feedback, dispositions and publications are kept with their
// task (backend.TaskResultStore) and change together with the task's state
// in one compare-and-set write, which also carries the change's audit
// event (backend.Auditor.Change): FerretDB has no transactions, and a
// review that moved the task without its comment — or the reverse — is
// exactly what must not happen.
//
// # The public record is a projection
//
// What /public/v1/results shows is a separate, small record per task
// (backend.PublicResultStore) holding the public fields only, so that
// searching it never reads a task and nothing private can leak from it. A
// publication first writes the task (state published, the publication,
// PublicPending set), then the public record, then clears PublicPending;
// a publication interrupted in between is completed by RepairPublic (run
// at start and then every scheduler interval) or by the next change of
// that result, which completes it first. A
// correction is a new version with its reason; the earlier versions stay
// readable and the record says it was corrected. Searches answer from an
// index of the public records in memory, kept per instance and refreshed
// when the store's head moves (public_index.go).
//
// # The statutory documents and the archive
//
// An approval generates the inspection record and, where problems were
// found, the rectification order (backend/documents), archives them in the
// WORM documents bucket with their SHA-256, exactly once; Archive lists a
// task's records, documents and evidence with their hashes; VerifyArchive
// re-hashes every archived object against its record; bundles (bundle.go)
// are self-contained exports that verify on their own. See archive.go.
//
// The package depends on backend interfaces and the pure workday and
// documents packages only.
package results

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"suiji/backend"
	"suiji/backend/documents"
	"suiji/backend/memindex"
	"suiji/backend/workday"
)

// Workflow is what the tasks use case lends this one (tasks.Service): who
// may see a task, the working-day calendar with the bureau's overrides,
// and closing a plan whose tasks are all finished.
type Workflow interface {
	// GetTask returns a task the actor may see; ENOTFOUND otherwise.
	GetTask(ctx context.Context, id string) (*backend.Task, error)
	// WorkCalendar is the working-day calendar as stored now.
	WorkCalendar(ctx context.Context) (*workday.Calendar, error)
	// ClosePlanIfDone closes a plan once every task of it is published or
	// cancelled.
	ClosePlanIfDone(ctx context.Context, planID string) error
}

// Notifier writes notifications, inbox first (notify.Service).
type Notifier interface {
	Notify(ctx context.Context, ns []*backend.Notification) error
}

// Service is the results use case.
type Service struct {
	Results     backend.TaskResultStore
	Public      backend.PublicResultStore
	Tasks       backend.TaskStore
	Plans       backend.PlanStore
	Draws       backend.DrawStore
	Enterprises backend.EnterpriseStore
	Departments backend.DepartmentStore
	Users       backend.UserStore
	Workflow    Workflow
	Shares      Shares
	Notifier    Notifier
	Audit       backend.Auditor
	Now         func() time.Time

	// The statutory documents and the archive (archive.go): the records
	// they are made from, where they go, the fonts and the letterhead.
	Archive        backend.ArchiveStore
	Objects        backend.ArchiveObjects // nil without an object store: documents stay pending
	Evidence       backend.EvidenceStore
	Findings       backend.FindingStore
	NonCooperation backend.NonCooperationStore
	Fonts          []string // SUIJI_PDF_FONTS
	Letterhead     Letterhead

	// The search index of published results (public_index.go): how often
	// a search reads the store's head (DefaultPublicIndexInterval when 0,
	// every search when below 0),
	// and how many results it holds at most before searches go to the
	// store (DefaultPublicIndexMax when 0; below 0 always the store).
	PublicIndexInterval time.Duration
	PublicIndexMax      int
	pubIndex            memindex.Index[publicIndexed]

	genOnce sync.Once
	gen     *documents.Generator
	genErr  error

	repairs repairQueue // RepairDocuments' order (archive.go)
}

// Limits of free text.
const (
	maxComment = 2000
	maxShort   = 200
)

// mayManage reports whether the actor may record feedback, dispositions
// and publications of a task: the coordinator, or staff of its lead
// department.
func mayManage(a *backend.Actor, t *backend.Task) bool {
	return a.HasRole(backend.RoleCoordinator) || (a.HasRole(backend.RoleStaff) && a.DepartmentID == t.LeadDepartmentID)
}

// wasMember reports whether userID is or was in the task's group: a
// member reviews nobody's work, not even after being replaced.
func wasMember(t *backend.Task, userID string) bool {
	for _, m := range t.Members {
		if userID != "" && m.UserID == userID {
			return true
		}
	}
	return false
}

// memberRefused is the EFORBIDDEN Review gives a member of the task's
// group, for the other changes of what the public reads of its result
// (a correction, a disposition): a user holding the staff role beside
// the inspector's, refused the review of his own group's work, must not
// rewrite it once it is published instead. nil for anyone else.
func memberRefused(t *backend.Task, a *backend.Actor, what string) error {
	if wasMember(t, a.UserID) {
		return backend.Errorf(backend.EFORBIDDEN, "a member of the task's group cannot %s", what)
	}
	return nil
}

// load returns a task the actor may see, with its result side, as stored
// now. ENOTFOUND for a task the actor may not see.
func (s *Service) load(ctx context.Context, id string) (*backend.Task, *backend.TaskResult, error) {
	if _, err := s.Workflow.GetTask(ctx, id); err != nil {
		return nil, nil, err
	}
	return s.Results.FindTaskResult(ctx, id)
}

// loadManaged is load for a change only the coordinator or the lead
// department's staff may make. version, when not 0, must be the stored
// one. EFORBIDDEN, ECONFLICT (fields.version "stale").
func (s *Service) loadManaged(ctx context.Context, id string, version int) (*backend.Task, *backend.TaskResult, error) {
	t, r, err := s.load(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if !mayManage(backend.ActorFromContext(ctx), t) {
		return nil, nil, backend.Errorf(backend.EFORBIDDEN, "only the coordinator or the lead department's staff record a task's result")
	}
	if version != 0 && version != t.Version {
		return nil, nil, staleVersion(t)
	}
	return t, r, nil
}

// GetResult returns a task the actor may see and its result side.
// ENOTFOUND.
func (s *Service) GetResult(ctx context.Context, id string) (*backend.Task, *backend.TaskResult, error) {
	return s.load(ctx, id)
}

// write stores t and r with the audit event of action, the digests of
// before and of the new state, then tells the group's phones: a silent
// entry for each active member, so that their task feeds name the new
// version and their next sync brings the task as it now stands (reviewed,
// fed back, published).
//
// A telling that fails once the change is stored is logged, not
// returned: the change is made, and an error would have the office repeat
// what the task now refuses (a feedback recorded already, a first
// publication that reads as a correction). The phones hear of this
// version with the task's next change. What must reach people — a
// return's notice — is sent by the caller, and its repeat tells again.
func (s *Service) write(ctx context.Context, action string, t *backend.Task, r *backend.TaskResult, before map[string]any) error {
	err := s.Audit.Change(ctx, backend.AuditChange{Action: action, ObjectType: "task", ObjectID: t.ID, Before: before, After: digest(t, r)},
		func(ctx context.Context) error { return s.Results.UpdateTaskResult(ctx, t, r) })
	if err != nil {
		return err
	}
	if err := s.Notifier.Notify(ctx, backend.TaskUpdatedNotes(t)); err != nil {
		slog.Default().WarnContext(ctx, "results: the group's phones were not told of a stored change; they hear of it with the task's next",
			slog.String("task_id", t.ID), slog.String("action", action), slog.Any("error", err))
	}
	return nil
}

// digest is what the audit trail keeps of a task's result side.
func digest(t *backend.Task, r *backend.TaskResult) map[string]any {
	return map[string]any{
		"id": t.ID, "state": t.State, "version": t.Version, "result": r.Result, "reviews": r.Reviews,
		"feedback": r.Feedback, "dispositions": r.Dispositions, "publications": r.Publications,
		"feedback_at": t.FeedbackAt, "published_at": t.PublishedAt,
	}
}

// staleVersion is the ECONFLICT a request based on an old version gets.
func staleVersion(t *backend.Task) error {
	return &backend.Error{Code: backend.ECONFLICT, Fields: map[string]string{"version": "stale"},
		Message: "the task was changed meanwhile; reload it and try again"}
}

// inspectionEnded is the ECONFLICT for a step that needs the on-site
// inspection to have ended.
func inspectionEnded(t *backend.Task) error {
	if t.State == backend.TaskCancelled {
		return backend.Errorf(backend.ECONFLICT, "the task is cancelled")
	}
	if t.InspectionEndedAt == nil {
		return backend.Errorf(backend.ECONFLICT, "the inspection has not ended yet (the task is %s)", t.State)
	}
	return nil
}

// text trims s and checks its length: at most max characters, and
// present when required. It names the problem in fields.
func text(fields map[string]string, name, s string, required bool, max int) string {
	s = strings.TrimSpace(s)
	switch n := utf8.RuneCountInString(s); {
	case !utf8.ValidString(s):
		fields[name] = "not valid UTF-8"
	case n == 0 && required:
		fields[name] = "required"
	case n > max:
		fields[name] = "at most " + strconv.Itoa(max) + " characters"
	}
	return s
}

// actorName is the display name of the acting user, for records people
// read ("reviewed by …"); its username when the account cannot be read.
func (s *Service) actorName(ctx context.Context) string {
	a := backend.ActorFromContext(ctx)
	if u, err := s.Users.FindUserByID(ctx, a.UserID); err == nil && u.DisplayName != "" {
		return u.DisplayName
	}
	return a.Username
}

// day is the Beijing calendar day of t as a time at midnight in the
// working-day calendar's zone.
func day(t time.Time) time.Time {
	y, m, d := t.In(workday.Zone).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, workday.Zone)
}
