package backend

import (
	"context"
	"time"

	"suiji/backend/draw/drawv1"
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
	PlanUndirected = drawv1.KindUndirected
	PlanDirected   = drawv1.KindDirected
	PlanCoverage   = drawv1.KindCoverage
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
	Status             string
	SeedCommitment     string // SHA-256 of the sealed seed, published before any draw
	CurrentDrawID      string // the draw in force (the latest; earlier ones are superseded)
	DrawCount          int    // draws made so far; the next has sequence DrawCount+1
	CreatedBy          string
	CreatedAt          time.Time
	ApprovedBy         string
	ApprovedAt         *time.Time
	UpdatedAt          time.Time
	Version            int // optimistic concurrency: +1 on every change
}

// PlanFilter narrows the pool of a plan.
type PlanFilter struct {
	Towns      []string
	Industries []string
	Categories []string
	Flags      []string
}

// PlanSample is the sample size: a ratio (rounded up) or a count.
type PlanSample struct {
	Ratio float64
	Count int
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
	// StoreSeed keeps a plan's seed sealed. ECONFLICT when it has one.
	StoreSeed(ctx context.Context, planID, seed string) error
	// LoadSeed returns a plan's sealed seed. ENOTFOUND.
	LoadSeed(ctx context.Context, planID string) (string, error)
}

// Draw is one stored, immutable draw of a plan. Record is its public
// verification record; a redraw is a new Draw with the next Seq and a
// reason, and the earlier ones stay visible as superseded.
type Draw struct {
	ID          string
	PlanID      string
	Seq         int
	Year        int
	Reason      string // required for a redraw
	CreatedBy   string
	CreatedName string
	CreatedAt   time.Time
	Record      *drawv1.Record
}

// DrawStore keeps draws. Pool and roster snapshots may live elsewhere (they
// can exceed a document's size); the store hides that.
type DrawStore interface {
	// InsertDraw stores d. ECONFLICT when the plan already has a draw with
	// d.Seq: the unique (plan, seq) index is the final word on exactly-once.
	InsertDraw(ctx context.Context, d *Draw) error
	// FindDrawByID returns a draw with its full record. ENOTFOUND.
	FindDrawByID(ctx context.Context, id string) (*Draw, error)
	// FindDrawsByPlan lists a plan's draws by Seq, without pool and roster.
	FindDrawsByPlan(ctx context.Context, planID string) ([]*Draw, error)
	// FindDrawsInForce returns the draw in force (the latest) of every plan
	// of a year, without pool and roster: what the year's caps and coverage
	// are counted from.
	FindDrawsInForce(ctx context.Context, year int) ([]*Draw, error)
}
