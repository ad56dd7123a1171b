package draw

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Algorithm names the procedure; AlgorithmVersion the rules a record was
// drawn by. A change to any rule that changes outcomes needs a new version,
// so that old records keep verifying under the version they name.
const (
	Algorithm        = "rivest-sha256-sampler"
	AlgorithmVersion = "suiji-draw/2"
	// SpecPath is where the server publishes SPEC.md, the specification
	// every record links to.
	SpecPath = "/public/v1/draw-spec"
)

// Outcomes of a draw attempt. A failed attempt (no valid groups) keeps its
// sequence number and is published with its reason, but not its seed: the
// seed would tell what it had selected.
const (
	OutcomeDrawn  = "drawn"
	OutcomeFailed = "failed"
)

// Record is the public verification record of one draw attempt: everything
// needed to re-compute it, and nothing personal (SPEC.md §2). It is what GET
// /public/v1/draws/{id} returns and what the verifiers check. The small
// fields (RecordHead) come first, then the lists, so the record can be
// written and read as a stream.
type Record struct {
	RecordHead
	// The frozen inputs and the outcome.
	Candidates []Candidate  `json:"candidates"`
	Roster     []Officer    `json:"roster"`
	Allocation []Allocation `json:"allocation"`
	Selections []Selection  `json:"selections"`
}

// RecordHead is a record without its lists.
type RecordHead struct {
	Algorithm        string `json:"algorithm"`
	AlgorithmVersion string `json:"algorithm_version"`
	Spec             string `json:"spec"`
	ID               string `json:"id"`
	PlanID           string `json:"plan_id"`
	Seq              int    `json:"seq"`
	Year             int    `json:"year"`
	// Reason is why a redraw was made (approved by a leader); "" for a
	// plan's first attempt.
	Reason  string `json:"reason"`
	Outcome string `json:"outcome"`
	// Failure is the aggregate reason of a failed attempt (GroupError.Reason).
	Failure     string `json:"failure"`
	CommittedAt string `json:"committed_at"` // RFC 3339, UTC
	DrawnAt     string `json:"drawn_at"`     // RFC 3339, UTC
	// Published at commit: the sealed seed's commitment, the source of the
	// public entropy, the pool's and the roster's hashes.
	SeedCommitment string `json:"seed_commitment"`
	EntropySource  string `json:"entropy_source"`
	PoolSHA256     string `json:"pool_sha256"`
	RosterSHA256   string `json:"roster_sha256"`
	// Given at draw time: the public entropy's value; revealed by a
	// successful attempt: the sealed seed.
	PublicEntropy string     `json:"public_entropy"`
	Seed          SealedSeed `json:"seed"`
	// The plan's parameters.
	Kind   string    `json:"kind"`
	Sample Size      `json:"sample"`
	Filter Filter    `json:"filter"`
	Groups GroupSpec `json:"groups"`
	// Derived sizes, stated for readers and checked by verifiers.
	PoolSize   int `json:"pool_size"`
	SampleSize int `json:"sample_size"`
}

// Selection is one drawn enterprise and its group, members listed share by
// share in the order drawn.
type Selection struct {
	USCC  string   `json:"uscc"`
	Town  string   `json:"town"`
	Group []string `json:"group"`
}

// Inputs are what an attempt is a function of, besides its draw seed: all
// of it fixed, and its hashes published, at commit.
type Inputs struct {
	Kind   string
	Sample Size
	Filter Filter
	Groups GroupSpec
	Pool   Pool
	// Roster is every inspector of the shares' departments, in badge byte
	// order, lists sorted (NormaliseRoster).
	Roster []Officer
}

// NewInputs freezes an attempt's inputs: the pool built from every
// enterprise the store found (BuildPool) and the roster normalised.
func NewInputs(kind string, sample Size, filter Filter, groups GroupSpec, all []Candidate, roster []Officer) (*Inputs, error) {
	pool, err := BuildPool(all, filter, kind)
	if err != nil {
		return nil, err
	}
	groups.Required = sortedSet(groups.Required)
	filter = Filter{Towns: sortedSet(filter.Towns), Industries: sortedSet(filter.Industries),
		Categories: sortedSet(filter.Categories), Flags: sortedSet(filter.Flags)}
	return &Inputs{Kind: kind, Sample: sample, Filter: filter, Groups: groups, Pool: pool,
		Roster: NormaliseRoster(roster, groups)}, nil
}

// NormaliseRoster keeps the inspectors of the shares' departments, in
// badge byte order, with their lists sorted and never null.
func NormaliseRoster(roster []Officer, spec GroupSpec) []Officer {
	out := make([]Officer, 0, len(roster))
	for _, o := range roster {
		if !slices.ContainsFunc(spec.Shares, func(s Share) bool { return s.Department == o.Department }) {
			continue
		}
		o.Qualifications, o.Conflicts, o.LastInspected = sortedSet(o.Qualifications), sortedSet(o.Conflicts), sortedSet(o.LastInspected)
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b Officer) int { return strings.Compare(a.BadgeNo, b.BadgeNo) })
	return out
}

// SampleSize is how many enterprises the attempt draws.
func (in *Inputs) SampleSize() (int, error) { return in.Sample.Of(in.Kind, in.Pool.Size()) }

// Result is what a successful attempt drew.
type Result struct {
	Allocation []Allocation
	Selections []Selection
}

// Run draws: enterprises from the pool (SPEC.md §7), then a group for each
// (§9). It is the one procedure the server and the Go verifier execute. A
// *GroupError means no assignment of groups exists: the attempt fails,
// and its error names no enterprise.
func Run(seed DrawSeed, in *Inputs) (*Result, error) {
	k, err := in.SampleSize()
	if err != nil {
		return nil, err
	}
	selected, alloc, err := SelectEnterprises(seed, &in.Pool, in.Kind, k)
	if err != nil {
		return nil, err
	}
	usccs := make([]string, len(selected))
	for i, c := range selected {
		usccs[i] = in.Pool.Candidates[c].USCC
	}
	groups, err := DrawGroups(seed, usccs, in.Roster, in.Groups)
	if err != nil {
		return nil, err
	}
	res := &Result{Allocation: alloc, Selections: make([]Selection, len(selected))}
	for i, c := range selected {
		e := &in.Pool.Candidates[c]
		res.Selections[i] = Selection{USCC: e.USCC, Town: e.Town, Group: groups[i]}
	}
	return res, nil
}

// DrawGroups is the group step alone (SPEC.md §9): a group of badges for
// each enterprise, in the order given (the selection order). A
// *GroupError when no assignment exists.
func DrawGroups(seed DrawSeed, usccs []string, roster []Officer, spec GroupSpec) ([][]string, error) {
	p, err := newProblem(roster, spec, len(usccs))
	if err != nil {
		return nil, err
	}
	slots := make([]*slot, len(usccs))
	for i, u := range usccs {
		slots[i] = p.slot(u, seed, true)
	}
	groups, err := p.assign(slots)
	if err != nil {
		return nil, err
	}
	out := make([][]string, len(groups))
	for i, g := range groups {
		out[i] = make([]string, len(g))
		for j, x := range g {
			out[i][j] = p.off[x].BadgeNo
		}
	}
	return out, nil
}

// FeasibilityError is the commit-time check's verdict: no seed was used,
// so it may name the enterprises that have no valid group on their own.
type FeasibilityError struct {
	Group *GroupError
	// Ungroupable lists (at most 20 of) the pool members that have no
	// valid group even alone.
	Ungroupable []string
}

func (e *FeasibilityError) Error() string {
	if len(e.Ungroupable) > 0 {
		return fmt.Sprintf("%v; for example %s", e.Group, strings.Join(e.Ungroupable, ", "))
	}
	return e.Group.Error()
}

// Check decides, without a seed, whether the attempt can form groups
// (SPEC.md §10): every pool member has a valid group on its own, and
// sample-size groups for enterprises without conflicts or last inspections
// fit the load caps. A pool that fails it is refused at commit, before any
// seed exists, so a draw cannot be steered by making its result
// ungroupable. A draw that passes may still fail for an unlucky
// combination of drawn enterprises; such an attempt is recorded.
func Check(in *Inputs) error {
	k, err := in.SampleSize()
	if err != nil {
		return err
	}
	p, err := newProblem(in.Roster, in.Groups, k)
	if err != nil {
		return err
	}
	var bad []string
	n := 0
	for _, c := range in.Pool.Members {
		uscc := in.Pool.Candidates[c].USCC
		if _, ok := p.first(p.slot(uscc, "", false), always); !ok {
			n++
			if len(bad) < 20 {
				bad = append(bad, uscc)
			}
		}
	}
	if n > 0 {
		return &FeasibilityError{Group: &GroupError{Code: ShortEligibility, Enterprises: n, Of: in.Pool.Size()}, Ungroupable: bad}
	}
	generic := make([]*slot, k)
	for i := range generic {
		generic[i] = p.slot("", "", false)
	}
	if _, err := p.witness(generic); err != nil {
		var ge *GroupError
		if errors.As(err, &ge) {
			return &FeasibilityError{Group: ge}
		}
		return err
	}
	return nil
}

// Attempt is what the service knows of an attempt besides its inputs.
type Attempt struct {
	ID, PlanID     string
	Seq, Year      int
	Reason         string
	CommittedAt    string
	DrawnAt        string
	SeedCommitment string
	EntropySource  string
	PublicEntropy  string
	Seed           SealedSeed
}

// NewRecord runs the attempt and assembles its public record. When the
// groups cannot be formed the record is a failed attempt: its reason in
// aggregate terms, no seed, no selection. Any other error (bad inputs, a
// seed that does not match its commitment) is returned.
func NewRecord(a Attempt, in *Inputs) (*Record, error) {
	if a.Seed.Commitment() != a.SeedCommitment {
		return nil, errors.New("draw: the seed does not match its commitment")
	}
	if (a.EntropySource == "") != (a.PublicEntropy == "") {
		return nil, errors.New("draw: public entropy is given exactly when its source was fixed at commit")
	}
	k, err := in.SampleSize()
	if err != nil {
		return nil, err
	}
	r := &Record{
		RecordHead: RecordHead{
			Algorithm: Algorithm, AlgorithmVersion: AlgorithmVersion, Spec: SpecPath,
			ID: a.ID, PlanID: a.PlanID, Seq: a.Seq, Year: a.Year, Reason: a.Reason, Outcome: OutcomeDrawn,
			CommittedAt: a.CommittedAt, DrawnAt: a.DrawnAt, SeedCommitment: a.SeedCommitment,
			EntropySource: a.EntropySource, PoolSHA256: in.Pool.SHA256, RosterSHA256: RosterHash(in.Roster),
			PublicEntropy: a.PublicEntropy, Seed: a.Seed, Kind: in.Kind, Sample: in.Sample, Filter: in.Filter,
			Groups: in.Groups, PoolSize: in.Pool.Size(), SampleSize: k,
		},
		Candidates: in.Pool.Candidates, Roster: in.Roster, Allocation: []Allocation{}, Selections: []Selection{},
	}
	res, err := Run(NewDrawSeed(a.Seed, a.PublicEntropy), in)
	var ge *GroupError
	switch {
	case errors.As(err, &ge):
		r.Outcome, r.Failure, r.Seed = OutcomeFailed, ge.Reason(), ""
	case err != nil:
		return nil, err
	default:
		r.Allocation, r.Selections = res.Allocation, res.Selections
	}
	return r, nil
}

// Inputs rebuilds an attempt's inputs from its published record.
func (r *Record) Inputs() *Inputs {
	in := &Inputs{Kind: r.Kind, Sample: r.Sample, Filter: r.Filter, Groups: r.Groups, Roster: r.Roster,
		Pool: Pool{Candidates: r.Candidates, SHA256: r.PoolSHA256}}
	for i := range r.Candidates {
		if r.Candidates[i].Excluded == "" {
			in.Pool.Members = append(in.Pool.Members, i)
		}
	}
	return in
}
