package backend

import (
	"context"
	"time"
)

// Item outcomes of the checklist.
const (
	OutcomePass          = "pass"
	OutcomeFail          = "fail"
	OutcomeNotApplicable = "not_applicable"
)

// ItemOutcomes lists every outcome an item may have.
var ItemOutcomes = []string{OutcomePass, OutcomeFail, OutcomeNotApplicable}

// Finding severities (一般隐患 / 重大隐患).
const (
	SeverityGeneral = "general"
	SeverityMajor   = "major"
)

// Non-cooperation types of art. 23: refusing entry, refusing materials,
// false or incomplete information, other obstruction.
const (
	NonCoopRefusedEntry     = "refused_entry"
	NonCoopRefusedMaterials = "refused_materials"
	NonCoopFalseInformation = "false_information"
	NonCoopObstruction      = "obstruction"
)

// NonCooperationTypes lists art. 23's four types.
var NonCooperationTypes = []string{NonCoopRefusedEntry, NonCoopRefusedMaterials, NonCoopFalseInformation, NonCoopObstruction}

// CheckIn is a member's arrival at the enterprise, as the phone's GPS put
// it. Far from the enterprise it is flagged, not refused: GPS at a mine is
// poor.
type CheckIn struct {
	Lat, Lng  float64
	AccuracyM float64
	At        time.Time // when the phone says it happened
	DistanceM *float64  // to the enterprise's location; nil when that is not known
	Flagged   bool      // farther than the configured radius
}

// Submission is a member's signed-off result (co-sign).
type Submission struct {
	Result              string
	Summary             string
	SignatureEvidenceID string // verified evidence of kind signature
	At                  time.Time
}

// MemberProgress is one member's own part of a task.
type MemberProgress struct {
	UserID     string
	CheckIn    *CheckIn
	Submission *Submission
}

// ItemOutcome is the group's outcome of one item of the checklist.
type ItemOutcome struct {
	ItemID  string
	Outcome string
	Note    string
	By      string // user id
	At      time.Time
	// Version is the task version the outcome was set in (0: set before
	// outcomes kept it). A change of the item made on an older version
	// would overwrite it unseen (tasks.Service.SetItemOutcome).
	Version int
}

// Amendment is a change made to a completed task's record, with its
// reason (the record is frozen after completion; nothing is overwritten
// silently).
type Amendment struct {
	At     time.Time
	By     string
	Reason string
	What   string // e.g. "item <id>: pass → fail"
}

// Finding is a problem found on site (检查发现 / 隐患): the item it breaks, how
// severe, what must be rectified by when, and the evidence.
type Finding struct {
	ID            string // client-generated (a UUID), so phones create findings offline
	TaskID        string
	ItemID        string
	Description   string
	Severity      string
	Rectification string
	RectifyBy     string // YYYY-MM-DD
	EvidenceIDs   []string
	CreatedBy     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Version       int
}

// FindingStore keeps findings.
type FindingStore interface {
	// CreateFinding stores f (Version 1). ECONFLICT when its id is taken.
	CreateFinding(ctx context.Context, f *Finding) error
	// FindFinding returns a finding. ENOTFOUND.
	FindFinding(ctx context.Context, id string) (*Finding, error)
	// FindFindingsByTask lists a task's findings by creation.
	FindFindingsByTask(ctx context.Context, taskID string) ([]*Finding, error)
	// UpdateFinding replaces f if its stored version is still f.Version and
	// bumps it. ECONFLICT (fields.version "stale"), ENOTFOUND.
	UpdateFinding(ctx context.Context, f *Finding) error
}

// NonCooperation is a recorded serious non-cooperation (art. 23). Once
// the office approves the task's result as "not cooperating" the
// enterprise is marked for key checks: later draws see it in their pools'
// NonCooperation input (plans.Service.NonCooperating).
type NonCooperation struct {
	ID           string // client-generated (a UUID)
	TaskID       string
	EnterpriseID string
	USCC         string
	Type         string
	Description  string
	EvidenceIDs  []string
	RecordedBy   string
	RecordedAt   time.Time
}

// NonCooperationStore keeps recorded non-cooperation.
type NonCooperationStore interface {
	// CreateNonCooperation stores n. ECONFLICT when its id is taken.
	CreateNonCooperation(ctx context.Context, n *NonCooperation) error
	// FindNonCooperation returns one. ENOTFOUND.
	FindNonCooperation(ctx context.Context, id string) (*NonCooperation, error)
	// FindNonCooperationByTask lists a task's records.
	FindNonCooperationByTask(ctx context.Context, taskID string) ([]*NonCooperation, error)
	// NonCooperationTasks returns, by enterprise USCC, the ids of the
	// tasks in which non-cooperation was recorded.
	NonCooperationTasks(ctx context.Context) (map[string][]string, error)
}
