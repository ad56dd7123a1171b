package backend

import (
	"context"
	"time"

	"suiji/backend/draw"
)

// Replacement states: committed (the seed's commitment is published, the
// member not yet drawn; a leader approves it — ApprovedAt — before it may
// be drawn), drawn (the public record exists), rejected (a leader
// refused it: it is never drawn, and another may be committed) and failed
// (its draw computed a member who could not be brought in: like a plan's
// failed attempt it is never drawn, its seed is never revealed, and
// another may be committed).
const (
	ReplacementCommitted = "committed"
	ReplacementDrawn     = "drawn"
	ReplacementRejected  = "rejected"
	ReplacementFailed    = "failed"
)

// TaskReplacement is the replacement of one member of a dispatched random
// task's group (回避, illness, a conflict found late). It is committed
// first — a fresh sealed seed whose commitment is published, the roster
// frozen, the entropy source fixed — and drawn after, at random from those
// still eligible (draw.NewReplacement). Nobody picks the member by hand.
//
// Between the two a leader decides (ReplacementDecision): one who did not
// commit it approves it, or rejects it with a comment; and one who did not
// approve it draws it. So no one person can replace a member, then the
// member coming in, and so on, until the group suits them.
type TaskReplacement struct {
	ID             string
	TaskID         string
	DrawID         string
	PlanID         string
	USCC           string
	Out            string // badge going out
	Reason         string
	EntropySource  string // "" for none
	SeedCommitment string
	SealedSeed     []byte         // encrypted (package seal); never leaves the backend
	Roster         []draw.Officer // the plan's departments as of the commitment
	RosterSHA256   string
	Eligible       int // known at commit, before any seed is used
	// EligibleBadges are they, by badge (not published before the draw;
	// the office and the deciding leader see them: an eligible set
	// narrowed by edits before the commit — one left — is then plain to
	// the leader). Empty for a replacement committed before they were kept.
	EligibleBadges []string
	State          string
	CommittedAt    time.Time
	CommittedBy    string
	// Accounts says who each badge of Roster was at the commitment: the
	// draw brings in the inspector the commitment froze, or nobody. The
	// record names badges only, so a badge moved to another person, or a
	// person moved to another department or account, would otherwise bring
	// in someone the roster never listed. Not published (user ids); empty
	// for a replacement committed before they were kept.
	Accounts []RosterAccount
	// PublicEntropy is the entropy's value, fixed by the first call to
	// draw the replacement, before anything is computed, and never changed
	// after: a draw refused after that call can only be repeated with this
	// value, so a retry cannot try another spelling of it ("358", "3 5 8")
	// for another member. "" until then, and always without a source.
	PublicEntropy string
	// A leader's decision: an approval (ApprovedAt, ApprovedBy) lets the
	// replacement be drawn; a rejection (RejectedAt, RejectedBy, state
	// rejected) ends it. DecisionComment is the leader's comment on
	// either (required for a rejection).
	ApprovedAt      *time.Time
	ApprovedBy      string
	RejectedAt      *time.Time
	RejectedBy      string
	DecisionComment string
	// Untold: a leader's decision is stored and whoever it concerns may
	// not have been told yet (tasks.Service.TellUntoldDecisions).
	Untold bool
	Record *draw.Replacement // the public record, once drawn
	// A failed draw (state failed): when, and why in terms that name
	// nobody — the seed stays sealed, so the failure tells no one who was
	// drawn.
	FailedAt *time.Time
	Failure  string
}

// RosterAccount is who a badge of a replacement's frozen roster was at the
// commitment: the inspector's id and the user account they sign in with.
type RosterAccount struct {
	BadgeNo     string
	InspectorID string
	UserID      string
}

// Approved reports whether a leader approved the replacement.
func (r *TaskReplacement) Approved() bool { return r.ApprovedAt != nil }

// Pending reports whether the replacement is committed and neither drawn
// nor rejected: it blocks another commitment for its task.
func (r *TaskReplacement) Pending() bool { return r.State == ReplacementCommitted }

// ReplacementDecision is a leader's decision on a committed replacement.
type ReplacementDecision struct {
	Approve bool // approve; otherwise reject
	By      string
	At      time.Time
	Comment string
}

// ReplacementSummary is a replacement as the public portal lists it under
// its draw: what was committed, decided and drawn — without the frozen
// roster, the sealed seed or the record, which its own page shows.
type ReplacementSummary struct {
	ID             string
	TaskID         string // not shown to the public: it finds the task's state
	USCC           string
	Out            string // badge going out
	Reason         string
	State          string
	EntropySource  string
	SeedCommitment string
	Eligible       int
	CommittedAt    time.Time
	ApprovedAt     *time.Time
	RejectedAt     *time.Time
	// DecisionComment is the leader's comment: public with a rejection
	// (why the commitment published was never drawn), the office's with
	// an approval.
	DecisionComment string
	// Once drawn: its number among the draw's replacements, the badge
	// that came in and when (RFC 3339, as the record has it). Empty when
	// not drawn, or for a replacement drawn before the store kept them
	// apart from the record (the record says).
	Seq     int
	In      string
	DrawnAt string
	// TaskClosed: committed and not drawn, but its task is no longer open
	// (submitted, reviewed, cancelled …), so it is never drawn.
	TaskClosed bool
	// A failed draw: when and why (TaskReplacement.Failure).
	FailedAt *time.Time
	Failure  string
}

// PublicState is where the replacement stands as the portal says it: as
// ReplacementPublicState, or "failed" for a failed draw (never drawn).
func (r *ReplacementSummary) PublicState() string {
	if r.In == "" && r.State == ReplacementFailed {
		return ReplacementFailed
	}
	return ReplacementPublicState(r.In != "", r.RejectedAt != nil, r.TaskClosed, r.ApprovedAt != nil)
}

// ReplacementPublicState names where a replacement stands for the
// public, the first that holds: "drawn", "rejected", "closed" (committed,
// but its task is no longer open: it is never drawn), "approved"
// (waiting to be drawn) or "committed" (waiting for a leader).
func ReplacementPublicState(drawn, rejected, taskClosed, approved bool) string {
	switch {
	case drawn:
		return ReplacementDrawn
	case rejected:
		return ReplacementRejected
	case taskClosed:
		return "closed"
	case approved:
		return "approved"
	}
	return ReplacementCommitted
}

// MaxDrawReplacements bounds the replacements listed under one draw (a
// draw of a thousand tasks replacing every member twice stays under it).
const MaxDrawReplacements = 5000

// Pages of a draw's public replacement records: each record holds the
// roster it drew from (every inspector of the plan's departments), so a
// page of them is tens of kilobytes each, and an anonymous reader gets a
// few at a time.
const (
	ReplacementRecordsDefaultLimit = 20
	ReplacementRecordsMaxLimit     = 50
)

// ReplacementStore keeps replacements. A drawn replacement's record is
// numbered within its draw (1, 2, … in the order drawn); the number is the
// fence that records it exactly once.
type ReplacementStore interface {
	// CreateReplacement stores a committed replacement, setting its ID.
	CreateReplacement(ctx context.Context, r *TaskReplacement) error
	// FindReplacement returns a replacement. ENOTFOUND.
	FindReplacement(ctx context.Context, id string) (*TaskReplacement, error)
	// FindReplacementsByTask lists a task's replacements, oldest first.
	FindReplacementsByTask(ctx context.Context, taskID string) ([]*TaskReplacement, error)
	// FindReplacementSummaries lists a draw's replacements in every
	// state, oldest commitment first, at most limit.
	FindReplacementSummaries(ctx context.Context, drawID string, limit int) ([]*ReplacementSummary, error)
	// FindDrawnReplacementIDs returns the ids of a draw's replacements
	// whose record is stored (the record itself left in the store).
	FindDrawnReplacementIDs(ctx context.Context, drawID string) (map[string]bool, error)
	// InsertReplacementRecord stores a drawn record under its draw and Seq.
	// ECONFLICT when the draw already has a record with that Seq (another
	// replacement of the draw was drawn meanwhile: renumber and retry).
	// Like MarkReplacementDrawn it carries the audit event staged in ctx
	// (Auditor.Change): both are writes of the replacement's task.replace.
	InsertReplacementRecord(ctx context.Context, replacementID string, rec *draw.Replacement) error
	// FindReplacementRecords lists a draw's drawn records with a Seq above
	// afterSeq, by Seq, at most limit of them.
	FindReplacementRecords(ctx context.Context, drawID string, afterSeq, limit int) ([]*draw.Replacement, error)
	// LastReplacementSeq is the Seq of a draw's last drawn record (0 when
	// none is drawn): records are numbered 1, 2, … with no gap.
	LastReplacementSeq(ctx context.Context, drawID string) (int, error)
	// FindReplacementRecord returns the drawn record of a replacement.
	// ENOTFOUND while it is not drawn.
	FindReplacementRecord(ctx context.Context, replacementID string) (*draw.Replacement, error)
	// MarkReplacementDrawn records on the replacement that rec is its
	// record (bookkeeping after InsertReplacementRecord).
	MarkReplacementDrawn(ctx context.Context, id string, rec *draw.Replacement) error
	// DecideReplacement records a leader's decision on a replacement, by
	// compare-and-set: an approval only while it is committed and
	// neither approved nor rejected, a rejection while it is committed
	// (withdrawing an approval not yet drawn) — so of two racing
	// approvals, or two racing rejections, one wins. An approval keeps it
	// committed; a rejection makes it rejected. It carries the audit
	// event staged in ctx (Auditor.Change). ENOTFOUND; ECONFLICT when it
	// is drawn or rejected, or (to approve) approved already.
	DecideReplacement(ctx context.Context, id string, d ReplacementDecision) error
	// FindUntoldReplacements returns the ids of up to limit replacements
	// whose decision may not have been told (Untold).
	FindUntoldReplacements(ctx context.Context, limit int) ([]string, error)
	// MarkReplacementTold clears Untold once the decision told was
	// approve (or reject, when approve is false) — while that is still
	// the decision stored: one made since stays owed.
	MarkReplacementTold(ctx context.Context, id string, approve bool) error
	// FixReplacementEntropy stores value as the replacement's
	// PublicEntropy, by compare-and-set: only while it is committed and no
	// value is stored yet. It carries the audit event staged in ctx
	// (Auditor.Change). ENOTFOUND; ECONFLICT when a value is stored
	// already or the replacement is no longer committed.
	FixReplacementEntropy(ctx context.Context, id, value string) error
	// MarkReplacementFailed records a failed draw (state failed, at, why),
	// by compare-and-set: only while the replacement is committed. It
	// carries the audit event staged in ctx (Auditor.Change). ENOTFOUND;
	// ECONFLICT when it is no longer committed.
	MarkReplacementFailed(ctx context.Context, id string, at time.Time, why string) error
}
