package drawv1

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"
	"strings"
)

// Candidate is an enterprise as the draw sees it: the attributes the filter
// and the rules of art. 16 use, and nothing personal.
type Candidate struct {
	USCC       string
	Town       string
	Industry   string
	Categories []string
	Flags      []string
	Active     bool
	// RandomTasksThisYear counts the random tasks already drawn for it in
	// the calendar year of the plan.
	RandomTasksThisYear int
	// NonCooperation is true when serious non-cooperation was recorded
	// (art. 23): it marks the enterprise for key checks.
	NonCooperation bool
	// CoveredThisYear is true when it was already inspected in the year
	// (for the 100% coverage of key-supervision and blacklisted units).
	CoveredThisYear bool
	// LastInspectors are the badge numbers of its last inspection's group.
	LastInspectors []string
}

// Filter narrows the pool (art. 8 directed draws). An empty list means no
// condition on that attribute; a candidate must match every non-empty one,
// and within a list any value.
type Filter struct {
	Towns      []string
	Industries []string
	Categories []string
	Flags      []string
}

// Exclusion says why a candidate matching the filter is not in the pool.
type Exclusion struct {
	USCC   string
	Reason string
}

// Exclusion reasons.
const (
	ReasonClosed    = "closed"                // art. 13: only active enterprises
	ReasonCapOfTwo  = "drawn_twice_this_year" // art. 16: ordinary units at most twice a year
	ReasonCovered   = "already_covered"       // coverage draws: covered this year
	ReasonNotTarget = "not_key_or_blacklisted"
)

// keyOrBlacklisted reports whether art. 16's 100% rule applies.
func (c *Candidate) keyOrBlacklisted() bool {
	return slices.Contains(c.Flags, "blacklist") || slices.ContainsFunc(c.Categories, func(cat string) bool {
		return slices.Contains(keySupervision, cat)
	})
}

// exemptFromCap reports whether the frequency limit does not apply: high
// credit risk, frequent complaints, abnormal operation, serious violations
// (art. 16) or recorded non-cooperation (art. 23).
func (c *Candidate) exemptFromCap() bool {
	return c.NonCooperation || slices.ContainsFunc(c.Flags, func(f string) bool {
		return slices.Contains(uncappedFlags, f)
	})
}

var keySupervision = []string{"coal_mine", "non_coal_mine", "hazardous_chemicals", "metallurgy_industry_trade"}
var uncappedFlags = []string{"high_credit_risk", "frequent_complaints", "abnormal_operation", "serious_violation"}

// Pool is the frozen list a draw samples from, in canonical order (by
// USCC), with its SHA-256.
type Pool struct {
	Members  []Candidate
	Excluded []Exclusion
	SHA256   string
}

// BuildPool applies the filter and the rules of art. 13 and 16 and freezes
// the result. With coverage, the pool is the key-supervision and
// blacklisted enterprises not yet covered this year (the 100% rule), which
// are never capped; otherwise ordinary enterprises already drawn twice this
// year are left out, except those exempt from the cap.
func BuildPool(all []Candidate, f Filter, coverage bool) Pool {
	var p Pool
	keep := make([]int, 0, len(all))
	for i := range all {
		c := &all[i]
		if !f.matches(c) {
			continue
		}
		switch {
		case !c.Active:
			p.Excluded = append(p.Excluded, Exclusion{c.USCC, ReasonClosed})
		case coverage && !c.keyOrBlacklisted():
			p.Excluded = append(p.Excluded, Exclusion{c.USCC, ReasonNotTarget})
		case coverage && c.CoveredThisYear:
			p.Excluded = append(p.Excluded, Exclusion{c.USCC, ReasonCovered})
		case !coverage && c.RandomTasksThisYear >= 2 && !c.exemptFromCap():
			p.Excluded = append(p.Excluded, Exclusion{c.USCC, ReasonCapOfTwo})
		default:
			keep = append(keep, i)
		}
	}
	// Sort indices, not the (large) candidates, then copy each member once.
	slices.SortFunc(keep, func(a, b int) int { return strings.Compare(all[a].USCC, all[b].USCC) })
	p.Members = make([]Candidate, len(keep))
	for j, i := range keep {
		p.Members[j] = all[i]
	}
	sort.Slice(p.Excluded, func(i, j int) bool { return p.Excluded[i].USCC < p.Excluded[j].USCC })
	p.SHA256 = PoolHash(p.Members)
	return p
}

// PoolHash is the SHA-256 (lowercase hex) of the pool's canonical text: one
// line per member in the given order,
//
//	USCC,town,industry,categories,flags\n
//
// where categories and flags are sorted and joined with ";".
func PoolHash(members []Candidate) string {
	h := sha256.New()
	var line strings.Builder
	for _, m := range members {
		line.Reset()
		line.WriteString(m.USCC)
		line.WriteByte(',')
		line.WriteString(m.Town)
		line.WriteByte(',')
		line.WriteString(m.Industry)
		line.WriteByte(',')
		line.WriteString(sortedJoin(m.Categories))
		line.WriteByte(',')
		line.WriteString(sortedJoin(m.Flags))
		line.WriteByte('\n')
		h.Write([]byte(line.String()))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sortedJoin(values []string) string {
	s := slices.Clone(values)
	slices.Sort(s)
	return strings.Join(s, ";")
}

func (f *Filter) matches(c *Candidate) bool {
	return anyOf(f.Towns, c.Town) && anyOf(f.Industries, c.Industry) &&
		overlaps(f.Categories, c.Categories) && overlaps(f.Flags, c.Flags)
}

func anyOf(want []string, have string) bool {
	return len(want) == 0 || slices.Contains(want, have)
}

func overlaps(want, have []string) bool {
	return len(want) == 0 || slices.ContainsFunc(have, func(h string) bool { return slices.Contains(want, h) })
}
