package backend

import (
	"context"
	"time"
)

// Task kinds (art. 2, 27, 28). Only random tasks are double-random; all
// three are enforcement checks and count towards art. 16's 70% share.
const (
	// TaskRandom comes from a draw of a plan (抽查).
	TaskRandom = "random"
	// TaskTargeted is a non-random check: a complaint, a superior's
	// assignment or a referral, with its reason (art. 2).
	TaskTargeted = "targeted"
	// TaskExternal is a task received from another agency's joint plan,
	// staffed by drawing the bureau's own members (art. 28).
	TaskExternal = "external"
)

// Sources of targeted tasks (art. 2).
const (
	SourceComplaint = "complaint" // 投诉举报
	SourceAssigned  = "assigned"  // 上级交办
	SourceReferral  = "referral"  // 部门移送
)

// TargetedSources lists the sources a targeted task may have.
var TargetedSources = []string{SourceComplaint, SourceAssigned, SourceReferral}

// Task states. A task is assigned on dispatch, in progress from the first
// on-site act, submitted once a member has submitted, completed when every
// member has, then reviewed and published (issue "results"); it may be
// cancelled before it is completed.
const (
	TaskAssigned   = "assigned"
	TaskInProgress = "in_progress"
	TaskSubmitted  = "submitted"
	TaskCompleted  = "completed"
	TaskReviewed   = "reviewed"
	TaskPublished  = "published"
	TaskCancelled  = "cancelled"
)

// TaskStates lists every state in workflow order.
var TaskStates = []string{TaskAssigned, TaskInProgress, TaskSubmitted, TaskCompleted, TaskReviewed, TaskPublished, TaskCancelled}

// Terminal reports whether a task in state s is finished for its plan: a
// plan is closed when every task is published or cancelled.
func TaskTerminal(s string) bool { return s == TaskPublished || s == TaskCancelled }

// Open reports whether the group still works on a task in state s: the
// window deadline and its reminders apply until it is completed.
func TaskOpen(s string) bool {
	return s == TaskAssigned || s == TaskInProgress || s == TaskSubmitted
}

// Deadline kinds on a task: the plan window's end (art. 24: the plan must
// not overrun), feedback to the enterprise (art. 21) and publication
// (art. 24), the last two counted in working days after the inspection.
const (
	DeadlineWindow      = "window"
	DeadlineFeedback    = "feedback"
	DeadlinePublication = "publication"
)

// TaskEnterprise is what a task carries of its enterprise: enough to find
// it and to know which items apply, without a second request.
type TaskEnterprise struct {
	ID         string
	USCC       string
	Name       string
	Town       string
	Address    string
	Location   *GeoPoint
	Categories []string
}

// TaskItem is one item to check, as it stood on the published list when
// the task was made.
type TaskItem struct {
	ID            string
	Code          string
	Name          string
	LegalBasis    LegalBasis
	DepartmentID  string
	Content       string
	Method        string
	Qualification string
	Categories    []string
}

// AppliesTo reports whether the item is asked of an enterprise with the
// given categories: an item without categories applies to every one.
func (it *TaskItem) AppliesTo(categories []string) bool {
	if len(it.Categories) == 0 {
		return true
	}
	for _, c := range it.Categories {
		for _, have := range categories {
			if c == have {
				return true
			}
		}
	}
	return false
}

// TaskMember is one inspector of a task's group. A replaced member stays in
// the list with RemovedAt set, so the history (and the tombstone the
// replaced inspector's phone must get) is never lost.
type TaskMember struct {
	BadgeNo      string
	InspectorID  string
	UserID       string // the inspector's sign-in account ("" if none is linked)
	Name         string
	DepartmentID string
	Lead         bool // the group leader (组长): first drawn of the lead department
	AddedAt      time.Time
	AddedReason  string // "" for the original group; a replacement's reason otherwise
	RemovedAt    *time.Time
	RemovedBy    string
	RemoveReason string
}

// Active reports whether the member is still in the group.
func (m *TaskMember) Active() bool { return m.RemovedAt == nil }

// TaskDeadlines are a task's dates (Beijing calendar days, YYYY-MM-DD):
// the plan window's end from the start, and feedback and publication once
// the inspection has ended. Empty means "not yet known".
type TaskDeadlines struct {
	Window      string
	Feedback    string
	Publication string
}

// Task is one enterprise to inspect with its group (检查任务).
type Task struct {
	ID     string
	Kind   string // TaskRandom, TaskTargeted or TaskExternal
	Source string // targeted: one of TargetedSources; external: the other agency
	Reason string // why a targeted task exists; a received task's note

	PlanID string // random tasks: the plan …
	DrawID string // … and the draw in force they come from
	// ExternalPlanRef is the other agency's plan reference (art. 28).
	ExternalPlanRef string

	Year             int
	LeadDepartmentID string
	DepartmentIDs    []string // lead first, then joint departments (art. 27)

	Enterprise TaskEnterprise
	Items      []TaskItem
	Members    []TaskMember

	WindowStart string // YYYY-MM-DD
	WindowEnd   string
	Deadlines   TaskDeadlines
	// InspectionEndedAt is when the on-site inspection ended (the last
	// member's submission); the statutory periods count from it.
	InspectionEndedAt *time.Time
	// Overdue names the deadlines missed (DeadlineWindow …), set by the
	// deadline scheduler; Reminded names those reminded of.
	Overdue  []string
	Reminded []string
	// NoticesPending names the deadline notices marked but perhaps not
	// yet sent ("reminder:feedback", "overdue:window" …): the scheduler
	// marks a task first (its notices tell of the stored change), sends,
	// then clears them; a pass that finds some sends them again.
	NoticesPending []string

	// On site (art. 15, 20, 23): each member's check-in and submission,
	// the group's checklist, the result once completed, and the amendments
	// made after completion (the record is frozen then: a change needs a
	// reason and is kept).
	Progress        []MemberProgress
	Checklist       []ItemOutcome
	SubmittedResult string // the leader's submitted result once completed (the review confirms one)
	Amendments      []Amendment

	// FeedbackAt and PublishedAt are when the result was fed back to the
	// enterprise (art. 21) and published (art. 24); nil until then.
	FeedbackAt  *time.Time
	PublishedAt *time.Time

	State           string
	CancelledAt     *time.Time
	CancelledBy     string
	CancelledReason string

	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int // optimistic concurrency: 1 on creation, +1 on every change
}

// ActiveMembers returns the members still in the group.
func (t *Task) ActiveMembers() []TaskMember {
	var out []TaskMember
	for _, m := range t.Members {
		if m.Active() {
			out = append(out, m)
		}
	}
	return out
}

// MemberUserIDs returns the sign-in accounts of the active members.
func (t *Task) MemberUserIDs() []string {
	var out []string
	for _, m := range t.Members {
		if m.Active() && m.UserID != "" {
			out = append(out, m.UserID)
		}
	}
	return out
}

// FeedbackOwed reports whether t's result is owed to the inspected unit
// (art. 21): once its inspection ended, unless the task is cancelled or
// the group found no unit to feed it back to (ResultEnterpriseNotFound).
// The scheduler reminds of the feedback deadline and marks it missed only
// while it is owed, and the statistics count it by this same rule, so
// that a deadline nobody is told of is not counted as missed either. The
// store's DeadlinesRunning filter says the same in its query.
func (t *Task) FeedbackOwed() bool {
	return t.State != TaskCancelled && t.InspectionEndedAt != nil && t.SubmittedResult != ResultEnterpriseNotFound
}

// HasMember reports whether userID is an active member of the group.
func (t *Task) HasMember(userID string) bool {
	if userID == "" {
		return false
	}
	for _, m := range t.Members {
		if m.Active() && m.UserID == userID {
			return true
		}
	}
	return false
}

// HasDepartment reports whether departmentID takes part in the task.
func (t *Task) HasDepartment(departmentID string) bool {
	if departmentID == "" {
		return false
	}
	for _, d := range t.DepartmentIDs {
		if d == departmentID {
			return true
		}
	}
	return false
}

// Page sizes of task listings.
const (
	TaskDefaultLimit = 100
	TaskMaxLimit     = 1000
)

// TaskFilter selects tasks in a listing. Zero fields select all.
type TaskFilter struct {
	Year          int
	PlanID        string
	Kind          string
	States        []string
	DepartmentIDs []string // any of these departments takes part
	MemberUserID  string   // an active member
	Overdue       bool     // only tasks with a missed deadline
	Open          bool     // only tasks not yet published or cancelled
	// DeadlinesRunning: only tasks with a statutory deadline that may still
	// run — the open ones, and those published before their feedback to
	// the enterprise was recorded (art. 21's 7 working days run on), unless
	// no enterprise was found to feed it back to. With Overdue, such a
	// published task only when its feedback is overdue.
	DeadlinesRunning bool
	After            Cursor // keyset position (see Cursor); ordered by creation, then id
	Offset           int    // at most MaxOffset; use After beyond
	Limit            int    // 0 for no limit
	// NoTotal leaves the total out (0) for a caller that ignores it: the
	// store then reads only the page (FerretDB counts by reading every
	// task).
	NoTotal bool
}

// CursorOf is the cursor that continues a listing after t.
func (TaskFilter) CursorOf(t *Task) Cursor {
	return Cursor{t.CreatedAt.UTC().Format(time.RFC3339Nano), t.ID}
}

// TaskStore keeps tasks.
type TaskStore interface {
	// InsertTasks stores the tasks whose IDs are not stored yet (Version 1)
	// and leaves the others untouched, so that repeating a dispatch creates
	// nothing twice. It returns the IDs it stored. With an audit event
	// staged in ctx (Auditor.Change) the tasks it stores carry it: a
	// single-document change's event goes into one task only (EINTERNAL for
	// more), a bulk change's mark into any number.
	InsertTasks(ctx context.Context, ts []*Task) ([]string, error)
	// FindTaskByID returns a task. ENOTFOUND.
	FindTaskByID(ctx context.Context, id string) (*Task, error)
	// FindTasksByIDs returns the stored tasks among ids, in no particular order.
	FindTasksByIDs(ctx context.Context, ids []string) ([]*Task, error)
	// FindTasks lists tasks matching f by creation, then ID, and the total
	// number matching (before paging; 0 with f.NoTotal). EINVALID for a bad
	// cursor or offset.
	FindTasks(ctx context.Context, f TaskFilter) ([]*Task, int, error)
	// UpdateTask replaces t if its stored version is still t.Version and
	// increments t.Version. ECONFLICT (fields.version "stale") when another
	// change came first; ENOTFOUND.
	UpdateTask(ctx context.Context, t *Task) error
	// CountTasks counts, per lead department, the tasks of a year of the
	// given kind that are not cancelled.
	CountTasks(ctx context.Context, year int, kind string) (map[string]int, error)
}

// CancelledSelections returns the selections of year's draws whose
// tasks were cancelled, keyed by SelectionKey: a selection whose task was
// cancelled was no inspection, so art. 16's reports — coverage, the
// random share, the statistics — leave it out. A pool's history (a draw's
// random_draws and draw_ids) does not: every verifier re-computes it from
// the published draws, which do not say what was cancelled. Without a
// store (nil) there are none.
func CancelledSelections(ctx context.Context, tasks TaskStore, year int) (map[string]bool, error) {
	out := map[string]bool{}
	if tasks == nil {
		return out, nil
	}
	list, _, err := tasks.FindTasks(ctx, TaskFilter{Year: year, States: []string{TaskCancelled}, NoTotal: true})
	if err != nil {
		return nil, err
	}
	for _, t := range list {
		if t.DrawID != "" { // random or external: dispatched from a draw
			out[SelectionKey(t.DrawID, t.Enterprise.USCC)] = true
		}
	}
	return out, nil
}

// SelectionKey names the selection of an enterprise (by USCC) in a draw.
func SelectionKey(drawID, uscc string) string { return drawID + "\x00" + uscc }
