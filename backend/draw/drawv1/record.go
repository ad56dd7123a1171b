package drawv1

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Algorithm names the procedure a Record was drawn with. A change to any
// rule in this package that changes outcomes must change AlgorithmVersion,
// so that old records keep verifying under the version they name.
const (
	Algorithm        = "rivest-sha256-sampler"
	AlgorithmVersion = "suiji-draw/1"
)

// SeedCommitment is what is published before a draw: the lowercase hex
// SHA-256 of the UTF-8 seed.
func SeedCommitment(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return hex.EncodeToString(sum[:])
}

// CombineSeed mixes public entropy given at draw time (the day's lottery
// numbers, dice rolled in public) into the committed seed: the draw seed is
// DeriveSeed(seed, "entropy:" + entropy), or the seed itself when there is
// none. Neither the bureau (committed first) nor whoever supplies the
// entropy (given later, without knowing the seed) controls the outcome.
func CombineSeed(seed, entropy string) string {
	if entropy == "" {
		return seed
	}
	return DeriveSeed(seed, "entropy:"+entropy)
}

// DrawSeed is the seed a draw runs on: the committed seed combined with the
// public entropy (CombineSeed) for a plan's first draw, and for a redraw
// (seq > 1) that value derived once more for "redraw:<seq>", so a redraw
// never repeats the draw it replaces even when nothing else changed.
func DrawSeed(seed, entropy string, seq int) string {
	s := CombineSeed(seed, entropy)
	if seq > 1 {
		s = DeriveSeed(s, fmt.Sprintf("redraw:%d", seq))
	}
	return s
}

// Record is the public verification record of one draw: everything needed
// to re-compute it, and nothing personal. It is what GET /public/v1/draws/{id}
// returns and what `suiji verify-draw` checks.
type Record struct {
	ID               string        `json:"id"`
	PlanID           string        `json:"plan_id"`
	Seq              int           `json:"seq"`
	Algorithm        string        `json:"algorithm"`
	AlgorithmVersion string        `json:"algorithm_version"`
	SeedCommitment   string        `json:"seed_commitment"`
	Seed             string        `json:"seed"`
	PublicEntropy    string        `json:"public_entropy"`
	Kind             string        `json:"kind"`
	Ratio            float64       `json:"ratio,omitempty"`
	Count            int           `json:"count,omitempty"`
	Filter           RecordFilter  `json:"filter"`
	Groups           RecordGroups  `json:"groups"`
	Pool             []PoolEntry   `json:"pool"`
	PoolSHA256       string        `json:"pool_sha256"`
	Roster           []RosterEntry `json:"roster"`
	RosterSHA256     string        `json:"roster_sha256"`
	Allocation       []Allocation  `json:"allocation"`
	Selections       []Selection   `json:"selections"`
}

// RecordFilter is the plan's filter as published.
type RecordFilter struct {
	Towns      []string `json:"towns"`
	Industries []string `json:"industries"`
	Categories []string `json:"categories"`
	Flags      []string `json:"flags"`
}

// RecordGroups is the group specification as published.
type RecordGroups struct {
	Shares             []Share  `json:"shares"`
	Required           []string `json:"required"`
	ValidThrough       string   `json:"valid_through"`
	KeepLastInspectors bool     `json:"keep_last_inspectors"`
}

// PoolEntry is one pool member as published, in canonical order.
type PoolEntry struct {
	USCC           string   `json:"uscc"`
	Town           string   `json:"town"`
	Industry       string   `json:"industry"`
	Categories     []string `json:"categories"`
	Flags          []string `json:"flags"`
	LastInspectors []string `json:"last_inspectors"`
}

// RosterEntry is one inspector's eligibility facts as published.
type RosterEntry struct {
	BadgeNo            string   `json:"badge_no"`
	Department         string   `json:"department"`
	Qualifications     []string `json:"qualifications"`
	Active             bool     `json:"active"`
	CertificateExpires string   `json:"certificate_expires"`
	Conflicts          []string `json:"conflicts"`
}

// Selection is one drawn enterprise and its group.
type Selection struct {
	USCC  string   `json:"uscc"`
	Town  string   `json:"town"`
	Group []string `json:"group"`
}

// RosterHash is the SHA-256 (lowercase hex) of the roster's canonical text:
// one line per officer in badge order,
//
//	badge_no,department,qualifications,active,certificate_expires,conflicts\n
//
// with lists sorted and joined by ";" and active as true/false.
func RosterHash(roster []Officer) string {
	sorted := slices.Clone(roster)
	slices.SortFunc(sorted, func(a, b Officer) int { return strings.Compare(a.BadgeNo, b.BadgeNo) })
	h := sha256.New()
	for _, o := range sorted {
		fmt.Fprintf(h, "%s,%s,%s,%t,%s,%s\n", o.BadgeNo, o.Department, sortedJoin(o.Qualifications),
			o.Active, o.CertificateExpires, sortedJoin(o.Conflicts))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Inputs are what a draw is a pure function of, besides the seed.
type Inputs struct {
	Kind   string
	Size   Size
	Filter Filter
	Groups GroupSpec
	Pool   Pool
	Roster []Officer
}

// Run draws: enterprises from the pool, then a group for each. It is the
// one procedure both the server and the verifier execute.
func Run(drawSeed string, in Inputs) ([]Selection, []Allocation, error) {
	selected, alloc, err := SelectEnterprises(drawSeed, in.Pool, in.Kind, in.Size)
	if err != nil {
		return nil, nil, err
	}
	groups, err := DrawGroups(drawSeed, selected, in.Roster, in.Groups)
	if err != nil {
		return nil, nil, err
	}
	out := make([]Selection, len(selected))
	for i, c := range selected {
		out[i] = Selection{USCC: c.USCC, Town: c.Town, Group: groups[i].Members}
	}
	return out, alloc, nil
}

// NewRecord assembles the public record of a draw run with Run.
func NewRecord(seed, entropy string, in Inputs, selections []Selection, alloc []Allocation) *Record {
	r := &Record{
		Algorithm: Algorithm, AlgorithmVersion: AlgorithmVersion,
		SeedCommitment: SeedCommitment(seed), Seed: seed, PublicEntropy: entropy,
		Kind: in.Kind, Ratio: in.Size.Ratio, Count: in.Size.Count,
		Filter: RecordFilter{
			Towns: nonNil(in.Filter.Towns), Industries: nonNil(in.Filter.Industries),
			Categories: nonNil(in.Filter.Categories), Flags: nonNil(in.Filter.Flags),
		},
		Groups: RecordGroups{
			Shares: in.Groups.Shares, Required: nonNil(in.Groups.Required),
			ValidThrough: in.Groups.ValidThrough, KeepLastInspectors: in.Groups.KeepLastInspectors,
		},
		PoolSHA256:   in.Pool.SHA256,
		RosterSHA256: RosterHash(in.Roster),
		Allocation:   nonNil(alloc),
		Selections:   nonNil(selections),
	}
	for _, m := range in.Pool.Members {
		r.Pool = append(r.Pool, PoolEntry{
			USCC: m.USCC, Town: m.Town, Industry: m.Industry, Categories: nonNil(m.Categories),
			Flags: nonNil(m.Flags), LastInspectors: nonNil(m.LastInspectors),
		})
	}
	sorted := slices.Clone(in.Roster)
	slices.SortFunc(sorted, func(a, b Officer) int { return strings.Compare(a.BadgeNo, b.BadgeNo) })
	for _, o := range sorted {
		r.Roster = append(r.Roster, RosterEntry{
			BadgeNo: o.BadgeNo, Department: o.Department, Qualifications: nonNil(o.Qualifications),
			Active: o.Active, CertificateExpires: o.CertificateExpires, Conflicts: nonNil(o.Conflicts),
		})
	}
	r.Pool = nonNil(r.Pool)
	r.Roster = nonNil(r.Roster)
	return r
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Verify re-computes a published record and returns an error naming the
// first thing that does not match, or nil when every part checks out: the
// algorithm version, the seed against its commitment, the pool and roster
// against their hashes, the pool's canonical order, the allocation, and
// every selection and group.
func Verify(r *Record) error {
	if r.Algorithm != Algorithm || r.AlgorithmVersion != AlgorithmVersion {
		return fmt.Errorf("algorithm: record uses %s %s, this verifier knows %s %s", r.Algorithm, r.AlgorithmVersion, Algorithm, AlgorithmVersion)
	}
	if got := SeedCommitment(r.Seed); got != r.SeedCommitment {
		return fmt.Errorf("seed_commitment: SHA-256 of the seed is %s, the record says %s", got, r.SeedCommitment)
	}
	in := r.inputs()
	for i := 1; i < len(in.Pool.Members); i++ {
		if in.Pool.Members[i-1].USCC >= in.Pool.Members[i].USCC {
			return fmt.Errorf("pool[%d]: not in canonical USCC order", i)
		}
	}
	if got := PoolHash(in.Pool.Members); got != r.PoolSHA256 {
		return fmt.Errorf("pool_sha256: the pool hashes to %s, the record says %s", got, r.PoolSHA256)
	}
	if got := RosterHash(in.Roster); got != r.RosterSHA256 {
		return fmt.Errorf("roster_sha256: the roster hashes to %s, the record says %s", got, r.RosterSHA256)
	}
	in.Pool.SHA256 = r.PoolSHA256
	selections, alloc, err := Run(DrawSeed(r.Seed, r.PublicEntropy, r.Seq), in)
	if err != nil {
		return fmt.Errorf("re-running the draw failed: %w", err)
	}
	if len(alloc) != len(r.Allocation) {
		return fmt.Errorf("allocation: %d towns re-computed, %d in the record", len(alloc), len(r.Allocation))
	}
	for i := range alloc {
		if alloc[i] != r.Allocation[i] {
			return fmt.Errorf("allocation[%d]: re-computed %+v, the record says %+v", i, alloc[i], r.Allocation[i])
		}
	}
	if len(selections) != len(r.Selections) {
		return fmt.Errorf("selections: %d re-computed, %d in the record", len(selections), len(r.Selections))
	}
	for i, s := range selections {
		got := r.Selections[i]
		switch {
		case s.USCC != got.USCC:
			return fmt.Errorf("selections[%d].uscc: re-computed %s, the record says %s", i, s.USCC, got.USCC)
		case s.Town != got.Town:
			return fmt.Errorf("selections[%d].town: re-computed %s, the record says %s", i, s.Town, got.Town)
		case !slices.Equal(s.Group, got.Group):
			return fmt.Errorf("selections[%d].group: re-computed %v, the record says %v", i, s.Group, got.Group)
		}
	}
	return nil
}

// inputs rebuilds the draw's inputs from the published parts.
func (r *Record) inputs() Inputs {
	in := Inputs{
		Kind: r.Kind, Size: Size{Ratio: r.Ratio, Count: r.Count},
		Filter: Filter{Towns: r.Filter.Towns, Industries: r.Filter.Industries, Categories: r.Filter.Categories, Flags: r.Filter.Flags},
		Groups: GroupSpec{Shares: r.Groups.Shares, Required: r.Groups.Required, ValidThrough: r.Groups.ValidThrough, KeepLastInspectors: r.Groups.KeepLastInspectors},
	}
	for _, p := range r.Pool {
		in.Pool.Members = append(in.Pool.Members, Candidate{
			USCC: p.USCC, Town: p.Town, Industry: p.Industry, Categories: p.Categories,
			Flags: p.Flags, LastInspectors: p.LastInspectors, Active: true,
		})
	}
	for _, o := range r.Roster {
		in.Roster = append(in.Roster, Officer(o))
	}
	return in
}
