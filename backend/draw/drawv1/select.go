package drawv1

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Kinds of draw (art. 8), and the census of art. 16's 100% rule.
const (
	KindUndirected = "undirected" // by ratio, balanced across towns
	KindDirected   = "directed"   // filtered, then a simple random sample
	KindCoverage   = "coverage"   // every uncovered key-supervision or blacklisted unit
)

// Size is how many enterprises to draw: a ratio of the pool (rounded up)
// or a count. Exactly one is set.
type Size struct {
	Ratio float64
	Count int
}

// Of returns the sample size for a pool of n.
func (s Size) Of(n int) (int, error) {
	switch {
	case s.Ratio != 0 && s.Count != 0:
		return 0, errors.New("draw: give a ratio or a count, not both")
	case s.Ratio < 0 || s.Ratio > 1:
		return 0, errors.New("draw: the ratio must be between 0 and 1")
	case s.Count < 0:
		return 0, errors.New("draw: the count must not be negative")
	case s.Ratio > 0:
		// Rounded up; the epsilon keeps 0.1 × 30 at 3 despite binary floats.
		return int(math.Ceil(s.Ratio*float64(n) - 1e-9)), nil
	case s.Count > n:
		return 0, fmt.Errorf("draw: cannot draw %d enterprises from a pool of %d", s.Count, n)
	}
	return s.Count, nil
}

// Allocation is one town's part of an undirected draw.
type Allocation struct {
	Town     string `json:"town"`
	PoolSize int    `json:"pool_size"`
	Drawn    int    `json:"drawn"`
}

// SelectEnterprises draws from the pool: undirected draws allocate across
// towns (Allocate) and sample each town with the seed derived for
// "town:<name>"; directed draws sample the whole pool with the seed derived
// for "enterprises"; coverage draws take every member. Within a town (or
// the pool) members are numbered 1..n in canonical (USCC) order. The result
// is in draw order: towns by name, then picks in the order drawn.
func SelectEnterprises(seed string, pool Pool, kind string, size Size) ([]Candidate, []Allocation, error) {
	switch kind {
	case KindCoverage:
		return append([]Candidate(nil), pool.Members...), nil, nil
	case KindDirected:
		k, err := size.Of(len(pool.Members))
		if err != nil || k == 0 {
			return nil, nil, err
		}
		return pick(DeriveSeed(seed, "enterprises"), pool.Members, k)
	case KindUndirected:
	default:
		return nil, nil, fmt.Errorf("draw: unknown kind %q", kind)
	}

	k, err := size.Of(len(pool.Members))
	if err != nil {
		return nil, nil, err
	}
	// Towns hold indices into the pool (in canonical order), so that the
	// large candidates are copied only when selected.
	byTown := map[string][]int{}
	for i := range pool.Members {
		t := pool.Members[i].Town
		byTown[t] = append(byTown[t], i)
	}
	towns := make([]string, 0, len(byTown))
	for t := range byTown {
		towns = append(towns, t)
	}
	sort.Strings(towns)
	strata := make([]Stratum, len(towns))
	for i, t := range towns {
		strata[i] = Stratum{t, len(byTown[t])}
	}
	shares, err := Allocate(seed, strata, k)
	if err != nil {
		return nil, nil, err
	}
	selected := make([]Candidate, 0, k)
	allocs := make([]Allocation, len(towns))
	for i, t := range towns {
		allocs[i] = Allocation{Town: t, PoolSize: len(byTown[t]), Drawn: shares[i]}
		if shares[i] == 0 {
			continue
		}
		idx, err := Sample(DeriveSeed(seed, "town:"+t), len(byTown[t]), shares[i], false)
		if err != nil {
			return nil, nil, err
		}
		for _, p := range idx {
			selected = append(selected, pool.Members[byTown[t][p-1]])
		}
	}
	return selected, allocs, nil
}

func pick(seed string, members []Candidate, k int) ([]Candidate, []Allocation, error) {
	idx, err := Sample(seed, len(members), k, false)
	if err != nil {
		return nil, nil, err
	}
	out := make([]Candidate, len(idx))
	for i, p := range idx {
		out[i] = members[p-1]
	}
	return out, nil, nil
}
