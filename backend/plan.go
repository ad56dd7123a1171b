package backend

import (
	"context"
	"io"
	"time"

	"suiji/backend/draw"
)

// Plan statuses (art. 4–5, 14, 18, 19): a plan is drafted, approved by a
// leader (which publishes it), drawn, dispatched to inspectors, closed.
const (
	PlanDraft      = "draft"
	PlanApproved   = "approved"
	PlanDrawn      = "drawn"
	PlanDispatched = "dispatched"
	PlanClosed     = "closed"
)

// Plan kinds: art. 8's undirected and directed draws, and the census that
// art. 16 demands of key-supervision and blacklisted units.
const (
	PlanUndirected = draw.KindUndirected
	PlanDirected   = draw.KindDirected
	PlanCoverage   = draw.KindCoverage
)

// Plan is an inspection plan (抽查计划 / 工作方案): what to draw, from where,
// how many, with which items and departments, and when.
type Plan struct {
	ID                 string
	Year               int
	Title              string
	Kind               string
	ItemIDs            []string
	LeadDepartmentID   string
	JointDepartmentIDs []string
	Filter             PlanFilter
	Sample             PlanSample
	GroupSize          int    // inspectors from the lead department per group (≥ 2 overall)
	JointMembers       int    // inspectors each joint department adds per group
	WindowStart        string // YYYY-MM-DD
	WindowEnd          string // YYYY-MM-DD
	// External, when set, makes this the bureau's share of another
	// agency's joint draw (art. 28): the task that agency dispatched to it.
	External *PlanExternal
	Status   string
	// SeedCommitment is the pending commitment's, "" when none is pending:
	// every attempt needs its own, published before it.
	SeedCommitment string
	// Commitment is what the next attempt is bound to, made at commit and
	// used up by the attempt (drawn or failed); nil when none is pending.
	Commitment *PlanCommitment
	// RedrawApproval is a leader's approval, with the reason, of the next
	// attempt when it is not the first; used up by that attempt.
	RedrawApproval *RedrawApproval
	CurrentDrawID  string // the drawn attempt in force (the latest drawn; earlier ones are superseded)
	DrawCount      int    // attempts so far, failed ones included; the next has sequence DrawCount+1
	CreatedBy      string
	CreatedAt      time.Time
	ApprovedBy     string
	ApprovedAt     *time.Time
	UpdatedAt      time.Time
	Version        int // optimistic concurrency: +1 on every change
}

// PlanExternal is what a plan received from another agency's joint draw
// names (art. 28): the agency, its plan's reference and the enterprise it
// dispatched to the bureau. The plan's pool is that one enterprise, and
// its draw draws the bureau's own inspectors for it by the same
// verifiable procedure as any other; its task is of kind TaskExternal.
type PlanExternal struct {
	Agency       string // e.g. "晋城市市场监督管理局"
	Reference    string // that agency's plan or task reference
	EnterpriseID string
}

// PlanFilter narrows the pool of a plan.
type PlanFilter struct {
	Towns      []string
	Industries []string
	Categories []string
	Flags      []string
}

// PlanSample is the sample size: a ratio (a decimal string such as "0.07",
// rounded up exactly; SPEC.md §5) or a count.
type PlanSample struct {
	Ratio string
	Count int
}

// PlanCommitment is what is published before an attempt and binds it: the
// sealed seed's SHA-256, the source of the public entropy (its value comes
// at the attempt), and the hashes of the frozen pool and roster. The
// attempt refuses to run if the directory or the roster changed them.
type PlanCommitment struct {
	Seq            int // the attempt it is for
	SeedCommitment string
	EntropySource  string // e.g. "福彩3D 2026-03-05 开奖号码"; "" for none
	PoolSHA256     string
	RosterSHA256   string
	Required       []string  // the qualifications every group must hold, from the plan's items
	Considered     int       // enterprises the plan considered (members and excluded)
	DirectoryMark  time.Time // the newest change among them when they were read
	PoolSize       int       // pool members
	SampleSize     int
	CommittedAt    time.Time
	CommittedBy    string
}

// RedrawApproval is a leader's approval of an attempt after the first
// (art. 5: leadership decides), with the reason the record will show.
type RedrawApproval struct {
	Seq        int // the attempt it approves
	Reason     string
	ApprovedBy string
	ApprovedAt time.Time
}

// PlanQuery selects plans in a listing.
type PlanQuery struct {
	Year          int
	Status        string
	DepartmentIDs []string // lead or joint department among these ("" none: all)
	Published     bool     // only approved or later (the public listing)
}

// PlanStore keeps plans and their sealed seeds.
type PlanStore interface {
	// CreatePlan stores p, setting its ID and Version 1.
	CreatePlan(ctx context.Context, p *Plan) error
	// FindPlanByID returns a plan. ENOTFOUND.
	FindPlanByID(ctx context.Context, id string) (*Plan, error)
	// FindPlans lists plans matching q, newest first.
	FindPlans(ctx context.Context, q PlanQuery) ([]*Plan, error)
	// UpdatePlan replaces p if its stored version is still p.Version, and
	// increments p.Version. ECONFLICT when another change came first (the
	// fence that keeps a stale draw from being recorded twice).
	UpdatePlan(ctx context.Context, p *Plan) error
	// StoreSeed keeps the sealed (encrypted) seed of a plan's attempt seq,
	// replacing one a commitment of the same attempt left before (a commit
	// made again because the pool changed, or one that did not finish);
	// callers hold the plan's lease. It carries the audit event staged in
	// ctx (Auditor.Change), like every write of a plan's commit.
	StoreSeed(ctx context.Context, planID string, seq int, sealed []byte, at time.Time) error
	// LoadSeed returns the sealed seed of a plan's attempt. ENOTFOUND.
	LoadSeed(ctx context.Context, planID string, seq int) ([]byte, error)
}

// Draw is one stored, immutable attempt to draw a plan. Record is its
// public verification record without the candidates and the roster, which
// are kept once per commitment as snapshots (DrawStore.ScanSnapshot) under
// Record.PoolSHA256 and Record.RosterSHA256. A redraw is a new Draw with
// the next Seq; earlier ones stay visible. A failed attempt is stored too
// (Record.Outcome "failed"), without seed or selections. Records of
// suiji-draw/1 are read into the same shape (Record.AlgorithmVersion says
// which), their pool and roster kept with them.
type Draw struct {
	ID          string
	PlanID      string
	Seq         int
	Year        int
	Reason      string // a redraw's approved reason
	CreatedBy   string
	CreatedName string
	CreatedAt   time.Time
	// CommittedBy committed the attempt's seed (its commitment's
	// CommittedBy; "" for attempts stored before it was kept): neither
	// they nor the drawer approve its redraw.
	CommittedBy string
	Record      *draw.Record
}

// Drawn reports whether the attempt drew (did not fail).
func (d *Draw) Drawn() bool { return d.Record.Outcome != draw.OutcomeFailed }

// Snapshot kinds: the frozen lists a commitment binds.
const (
	SnapshotPool   = "pool"
	SnapshotRoster = "roster"
)

// DrawStore keeps draw attempts and the frozen snapshots they reference.
type DrawStore interface {
	// InsertDraw stores d (its record without candidates and roster).
	// ECONFLICT when the plan already has an attempt with d.Seq: the unique
	// (plan, seq) index is the final word on exactly-once. The draw
	// carries the audit event staged in ctx (Auditor.Change).
	InsertDraw(ctx context.Context, d *Draw) error
	// FindDrawByID returns an attempt, its record without candidates and
	// roster. ENOTFOUND.
	FindDrawByID(ctx context.Context, id string) (*Draw, error)
	// FindDrawsByPlan lists a plan's attempts by Seq, failed ones included.
	FindDrawsByPlan(ctx context.Context, planID string) ([]*Draw, error)
	// FindDrawsInForce returns, of every plan of a year, its latest drawn
	// attempt: what the year's caps, history and coverage count.
	FindDrawsInForce(ctx context.Context, year int) ([]*Draw, error)
	// PutSnapshot stores a frozen list — kind SnapshotPool or
	// SnapshotRoster, named by its hash — as chunks of JSON list text; once:
	// a snapshot already complete is left as it is.
	PutSnapshot(ctx context.Context, kind, sha string, chunks [][]byte) error
	// ScanSnapshot passes a snapshot's chunks to emit, in order. ENOTFOUND
	// when no complete snapshot has that hash.
	ScanSnapshot(ctx context.Context, kind, sha string, emit func(chunk []byte) error) error
	// WriteLegacyRecord writes a suiji-draw/1 attempt's whole record to w
	// as it was published. ENOTFOUND.
	WriteLegacyRecord(ctx context.Context, id string, w io.Writer) error
}

// PoolQuery is the part of a plan the store reads its pool with: the
// plan's filter, and for a coverage plan only the coverage targets
// (key-supervision categories or the blacklist flag).
type PoolQuery struct {
	Towns           []string
	Industries      []string
	Categories      []string
	Flags           []string
	CoverageTargets bool
}

// PoolEnterprise is an enterprise with only the fields a draw uses.
type PoolEnterprise struct {
	ID         string
	USCC       string
	Town       string
	Industry   string
	Status     string
	Categories []string
	Flags      []string
	UpdatedAt  time.Time
}

// PoolSource reads a plan's pool from the directory.
type PoolSource interface {
	// ScanPool passes every enterprise matching q to fn, reading only the
	// fields a draw uses, in large batches.
	ScanPool(ctx context.Context, q PoolQuery, fn func(*PoolEnterprise) error) error
	// PoolChanged reports whether the enterprises matching q may differ
	// from the n read when mark was the newest change among them: their
	// number changed, or one of them was created or changed after mark.
	PoolChanged(ctx context.Context, q PoolQuery, mark time.Time, n int) (bool, error)
}
