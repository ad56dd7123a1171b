package draw

import (
	"fmt"
	"slices"
	"strings"
)

// StatusActive is the only status whose enterprises enter a pool (art. 13:
// existing (存续) market entities).
const StatusActive = "active"

// Exclusion reasons: why a considered enterprise is not in the pool.
const (
	ExcludedNotActive      = "not_active"            // art. 13: only active enterprises
	ExcludedDrawnTwice     = "drawn_twice_this_year" // art. 16: ordinary units at most twice a year
	ExcludedAlreadyCovered = "already_covered"       // coverage plans: inspected this year already
)

// KeySupervision are the categories art. 16 wants inspected every year
// (with the blacklist flag): the target of a coverage plan.
var KeySupervision = []string{"coal_mine", "non_coal_mine", "hazardous_chemicals", "metallurgy_industry_trade"}

// FlagBlacklist marks the safety-production blacklist (100% a year).
const FlagBlacklist = "blacklist"

// CapExemptFlags lift art. 16's limit of two random draws a year: high
// credit risk, many complaints, the abnormal-operation list, serious
// violations. Recorded non-cooperation (art. 23) lifts it too.
var CapExemptFlags = []string{"high_credit_risk", "frequent_complaints", "abnormal_operation", "serious_violation"}

// Candidate is an enterprise a plan considered, with the facts the pool
// rules used — and nothing personal. The public record lists every
// candidate, those left out with their reason, so anyone can check the
// rules of art. 13 and 16 were applied (SPEC.md §6).
type Candidate struct {
	USCC       string   `json:"uscc"`
	Town       string   `json:"town"`
	Industry   string   `json:"industry"`
	Status     string   `json:"status"`
	Categories []string `json:"categories"`
	Flags      []string `json:"flags"`
	// NonCooperation is true when serious non-cooperation was recorded
	// (art. 23) in an inspection whose result the office approved as not
	// cooperating: it marks the enterprise for key checks, without a limit.
	NonCooperation bool `json:"non_cooperation"`
	// RandomDraws counts the draws in force of other plans of the year that
	// selected it before this attempt's commitment; DrawIDs names them.
	RandomDraws int      `json:"random_draws"`
	DrawIDs     []string `json:"draw_ids"`
	// CoveredThisYear is true when it was inspected in the year already
	// (a random draw or another enforcement check).
	CoveredThisYear bool `json:"covered_this_year"`
	// Excluded is the reason it is not in the pool, or "" when it is.
	Excluded string `json:"excluded"`
}

// Filter narrows what a plan considers (art. 8 directed draws). An empty
// list means no condition on that attribute; a candidate must meet every
// non-empty one: its town or industry among those listed, or one of its
// categories or flags among those listed.
type Filter struct {
	Towns      []string `json:"towns"`
	Industries []string `json:"industries"`
	Categories []string `json:"categories"`
	Flags      []string `json:"flags"`
}

// Considers reports whether a plan of kind with this filter considers c:
// it meets the filter and, for a coverage plan, is a key-supervision or
// blacklisted unit.
func (f *Filter) Considers(kind string, c *Candidate) bool {
	return anyOf(f.Towns, c.Town) && anyOf(f.Industries, c.Industry) &&
		overlaps(f.Categories, c.Categories) && overlaps(f.Flags, c.Flags) &&
		(kind != KindCoverage || coverageTarget(c))
}

func coverageTarget(c *Candidate) bool {
	return slices.Contains(c.Flags, FlagBlacklist) ||
		slices.ContainsFunc(c.Categories, func(cat string) bool { return slices.Contains(KeySupervision, cat) })
}

func anyOf(want []string, have string) bool {
	return len(want) == 0 || slices.Contains(want, have)
}

func overlaps(want, have []string) bool {
	return len(want) == 0 || slices.ContainsFunc(have, func(h string) bool { return slices.Contains(want, h) })
}

// ExclusionFor applies the pool rules (SPEC.md §6) to a considered
// candidate's facts: the reason it is left out, or "" when it is in.
func ExclusionFor(kind string, c *Candidate) string {
	switch {
	case c.Status != StatusActive:
		return ExcludedNotActive
	case kind == KindCoverage && c.CoveredThisYear:
		return ExcludedAlreadyCovered
	case kind != KindCoverage && c.RandomDraws >= 2 && !capExempt(c):
		return ExcludedDrawnTwice
	}
	return ""
}

func capExempt(c *Candidate) bool {
	return c.NonCooperation || slices.ContainsFunc(c.Flags, func(f string) bool { return slices.Contains(CapExemptFlags, f) })
}

// Pool is what a plan considered, frozen: every candidate in canonical
// (USCC byte) order with its exclusion set, the members' positions among
// them, and the hash published at commit.
type Pool struct {
	Candidates []Candidate
	Members    []int // indices into Candidates of those in the pool, in order
	SHA256     string
}

// BuildPool keeps the candidates the plan considers, applies the pool
// rules and freezes the result. A USCC given twice is an error: the
// directory keys enterprises by it.
func BuildPool(all []Candidate, f Filter, kind string) (Pool, error) {
	var p Pool
	p.Candidates = make([]Candidate, 0, len(all))
	for i := range all {
		if f.Considers(kind, &all[i]) {
			p.Candidates = append(p.Candidates, all[i])
		}
	}
	slices.SortFunc(p.Candidates, func(a, b Candidate) int { return strings.Compare(a.USCC, b.USCC) })
	for i := range p.Candidates {
		c := &p.Candidates[i]
		if i > 0 && p.Candidates[i-1].USCC == c.USCC {
			return Pool{}, fmt.Errorf("draw: enterprise %s is listed twice", c.USCC)
		}
		normalise(c)
		if c.Excluded = ExclusionFor(kind, c); c.Excluded == "" {
			p.Members = append(p.Members, i)
		}
	}
	p.SHA256 = PoolHash(p.Candidates)
	return p, nil
}

// normalise gives a candidate the published form: lists sorted and never
// null.
func normalise(c *Candidate) {
	c.Categories = sortedSet(c.Categories)
	c.Flags = sortedSet(c.Flags)
	c.DrawIDs = sortedSet(c.DrawIDs)
}

func sortedSet(values []string) []string {
	out := slices.Clone(values)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// Member returns the i-th pool member (0-based, in canonical order).
func (p *Pool) Member(i int) *Candidate { return &p.Candidates[p.Members[i]] }

// Size is the number of pool members.
func (p *Pool) Size() int { return len(p.Members) }
