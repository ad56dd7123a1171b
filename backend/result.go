package backend

import (
	"context"
	"time"
)

// Inspection results: what a group found, as its members submit it and
// the reviewer approves it (art. 25 for the last three).
const (
	ResultNoProblem              = "no_problem"                           // 未发现问题
	ResultRectificationOrdered   = "problems_found_rectification_ordered" // 发现问题，责令整改
	ResultCaseOpened             = "case_opened"                          // 立案查处
	ResultTransferredToAgency    = "transferred_to_agency"                // 移送其他部门
	ResultTransferredToJudiciary = "transferred_to_judiciary"             // 移送司法机关
	ResultNotCooperating         = "not_cooperating"                      // 不配合检查 (art. 23)
	ResultEnterpriseNotFound     = "enterprise_not_found"                 // 未发现监管对象
)

// InspectionResults lists every result in the order forms show them.
var InspectionResults = []string{
	ResultNoProblem, ResultRectificationOrdered, ResultCaseOpened, ResultTransferredToAgency,
	ResultTransferredToJudiciary, ResultNotCooperating, ResultEnterpriseNotFound,
}

// Review decisions.
const (
	ReviewApprove = "approve" // the result stands; the task becomes reviewed
	ReviewReturn  = "return"  // back to the group to amend and submit again
)

// Feedback methods (art. 21: 直接送达 or 邮寄送达).
const (
	FeedbackDirect = "direct"
	FeedbackPostal = "postal"
)

// Disposition kinds (art. 25).
const (
	DispositionCaseOpened             = "case_opened"              // 立案 (with its case number)
	DispositionTransferredToAgency    = "transferred_to_agency"    // 移送其他部门 (which one)
	DispositionTransferredToJudiciary = "transferred_to_judiciary" // 移送司法机关
)

// DispositionKinds lists the disposition kinds.
var DispositionKinds = []string{DispositionCaseOpened, DispositionTransferredToAgency, DispositionTransferredToJudiciary}

// NoteTaskReturned tells a group that its result was returned for
// amendment, with the reviewer's comment.
const NoteTaskReturned = "task.returned"

// TaskResult is the result side of a task (issue "results"): the reviews
// of its submitted result, the feedback to the enterprise (art. 21), the
// dispositions (art. 25) and the publications (art. 24). It is kept with
// its task and changes with it, in one write.
type TaskResult struct {
	// Result is the inspection result the last approving review
	// confirmed (one of InspectionResults); "" before.
	Result       string
	Reviews      []Review
	Feedback     *Feedback
	Dispositions []Disposition
	// Publications are the published versions, oldest first: the first
	// publication and every correction.
	Publications []Publication
	// PublicPending is set when a publication is written and cleared
	// once the public record shows it, so that a publication interrupted
	// between the two writes is completed later.
	PublicPending bool
	// DocumentsPending is set by the approving review, in its write, and
	// cleared once the statutory documents are generated and archived, so
	// that an approval whose documents failed (MinIO down, a crash) gets
	// them later (results.Service.RepairDocuments).
	DocumentsPending bool
}

// Published returns the newest publication, or nil.
func (r *TaskResult) Published() *Publication {
	if len(r.Publications) == 0 {
		return nil
	}
	return &r.Publications[len(r.Publications)-1]
}

// Review is one reviewer's decision on a completed task.
type Review struct {
	Decision   string // ReviewApprove or ReviewReturn
	Comment    string
	Result     string // approve: the result confirmed
	ReviewerID string
	Reviewer   string // the reviewer's display name
	At         time.Time
}

// Feedback is the delivery of the result to the enterprise (art. 21).
type Feedback struct {
	Method      string // FeedbackDirect or FeedbackPostal
	DeliveredAt time.Time
	Receiver    string // who received it for the enterprise
	TrackingNo  string // postal delivery's tracking number
	Due         string // the deadline it was measured against (YYYY-MM-DD)
	// Late is set when it was delivered after Due; WorkdaysLate counts
	// the working days between. Late feedback stays recorded as late.
	Late         bool
	WorkdaysLate int
	RecordedBy   string
	RecordedAt   time.Time
}

// Disposition is what followed a check that found violations (art. 25).
type Disposition struct {
	ID         string
	Kind       string // one of DispositionKinds
	CaseNo     string // case_opened: the case number (案号)
	Agency     string // the agency or judicial organ it went to
	Date       string // YYYY-MM-DD
	DocumentNo string // the number of the decision or transfer document (文书编号)
	DocumentID string // the archived copy of that document, when uploaded
	RecordedBy string
	RecordedAt time.Time
}

// Publication is one published version of a task's result.
type Publication struct {
	Version int
	At      time.Time
	By      string
	Reason  string // why a version after the first corrects the one before
	Due     string // the publication deadline (YYYY-MM-DD)
	Late    bool   // the first publication came after Due
}

// TaskResultStore keeps the result side with its task: a change to either
// is one write, versioned like TaskStore.UpdateTask.
type TaskResultStore interface {
	// FindTaskResult returns a task and its result side (empty when
	// nothing is recorded yet). ENOTFOUND.
	FindTaskResult(ctx context.Context, taskID string) (*Task, *TaskResult, error)
	// UpdateTaskResult stores t and r together if t's stored version is
	// still t.Version, and increments t.Version. ECONFLICT (fields.version
	// "stale") when another change came first; ENOTFOUND.
	UpdateTaskResult(ctx context.Context, t *Task, r *TaskResult) error
	// PendingPublic returns up to limit ids of tasks whose newest
	// publication is not yet public (TaskResult.PublicPending).
	PendingPublic(ctx context.Context, limit int) ([]string, error)
	// ClearPublicPending clears PublicPending of a task whose newest
	// publication is still version, without changing the task's version.
	ClearPublicPending(ctx context.Context, taskID string, version int) error
	// PendingDocuments returns up to limit ids of tasks whose documents
	// are still to be archived (TaskResult.DocumentsPending).
	PendingDocuments(ctx context.Context, limit int) ([]string, error)
	// ClearDocumentsPending clears DocumentsPending without changing the
	// task's version.
	ClearDocumentsPending(ctx context.Context, taskID string) error
}

// PublicResult is a published result as everyone may read it (art. 24):
// the enterprise's name and USCC, the plan, the inspecting department, the
// date, the items checked, the result and the dispositions — and nothing
// else: no evidence, no contact data, no inspector.
type PublicResult struct {
	ID             string // the task's id
	Version        int
	Year           int
	Town           string // a filter, not shown
	PlanID         string
	PlanTitle      string
	DepartmentID   string
	DepartmentName string
	EnterpriseName string
	USCC           string
	Date           string // the day the inspection ended (YYYY-MM-DD, Beijing)
	Items          []PublicItem
	Result         string
	Dispositions   []PublicDisposition
	FirstPublished time.Time
	PublishedAt    time.Time // this version's
	// Corrections are the versions after the first, each with its reason;
	// History holds every earlier version as it was shown.
	Corrections []Correction
	History     []PublicResult
}

// PublicItem is an item checked, as the public sees it.
type PublicItem struct {
	Code string
	Name string
}

// PublicDisposition is a disposition as the public sees it.
type PublicDisposition struct {
	Kind   string
	Date   string
	CaseNo string
	Agency string
}

// Correction is one corrected version of a published result.
type Correction struct {
	Version int
	At      time.Time
	Reason  string
}

// Page sizes of the public results search.
const (
	PublicResultDefaultLimit = 20
	PublicResultMaxLimit     = 100
)

// PublicResultFilter selects published results. Zero fields select all.
type PublicResultFilter struct {
	Year         int
	Town         string
	PlanID       string
	DepartmentID string
	Result       string
	Text         string // part of the enterprise's name, or its USCC's beginning
	After        Cursor // keyset position; newest publication first
	Offset       int
	Limit        int
}

// CursorOf is the cursor that continues a listing after r.
func (PublicResultFilter) CursorOf(r *PublicResult) Cursor {
	return Cursor{PublicOrderKey(r.FirstPublished), r.ID}
}

// PublicOrderKey orders published results newest first as an ascending
// string: the milliseconds left until the year 10000, zero-padded.
func PublicOrderKey(firstPublished time.Time) string {
	const end = 253402300800000 // 10000-01-01T00:00:00Z in Unix milliseconds
	left := end - firstPublished.UnixMilli()
	b := []byte("000000000000000")
	for i := len(b) - 1; i >= 0 && left > 0; i-- {
		b[i] = byte('0' + left%10)
		left /= 10
	}
	return string(b)
}

// PublicResultStore keeps the public read model of published results.
type PublicResultStore interface {
	// PutPublicResult stores r, unless a version of it at least as new is
	// stored already (a repeated or late projection changes nothing).
	PutPublicResult(ctx context.Context, r *PublicResult) error
	// FindPublicResult returns one published result. ENOTFOUND.
	FindPublicResult(ctx context.Context, id string) (*PublicResult, error)
	// FindPublicResults lists published results matching f, newest first,
	// and how many match. EINVALID for a bad cursor or offset.
	FindPublicResults(ctx context.Context, f PublicResultFilter) ([]*PublicResult, int, error)
	// PublicResultsHead is a number every write of a published result
	// changes (after the write), read cheaply: unchanged since a read of
	// the head that came before a read of the results, the results read
	// are still current.
	PublicResultsHead(ctx context.Context) (int64, error)
	// PublicResultChanges returns the ids of the results the writes that
	// moved the head from after to upTo changed (repeats possible), or
	// false when the store cannot tell (too many writes ago, or one not
	// recorded yet): then read everything. Cheap for a few writes.
	PublicResultChanges(ctx context.Context, after, upTo int64) ([]string, bool, error)
	// EachPublicResult calls fn with every published result, in no
	// particular order and without its earlier versions (History), in one
	// streamed read; an error of fn stops it and is returned.
	EachPublicResult(ctx context.Context, fn func(*PublicResult) error) error
}
