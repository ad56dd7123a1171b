package draw

import (
	"fmt"
	"slices"
	"strings"
)

// Allocation is one town's part of an undirected draw.
type Allocation struct {
	Town     string `json:"town"`
	PoolSize int    `json:"pool_size"`
	Drawn    int    `json:"drawn"`
}

// Stratum is one region (a town) and the size of its pool.
type Stratum struct {
	Name string
	Size int
}

// Allocate divides a sample of k across strata in proportion to their
// sizes by the largest-remainder method (art. 8, "balanced across
// regions"; SPEC.md §7): each stratum first gets floor(k·size/total); the
// places left go one each to the strata with the largest remainders
// k·size mod total, compared exactly as integers; equal remainders are
// ordered by seed.Derive("alloc:" + name), smallest first, so ties are
// broken by the attempt's seed and not by how the strata are listed. The
// result is in the order of strata.
func Allocate(seed DrawSeed, strata []Stratum, k int) ([]int, error) {
	total := 0
	for _, s := range strata {
		if s.Size < 0 {
			return nil, fmt.Errorf("draw: stratum %q has negative size", s.Name)
		}
		total += s.Size
	}
	if k < 0 || k > total {
		return nil, fmt.Errorf("draw: cannot allocate %d from a pool of %d", k, total)
	}
	alloc := make([]int, len(strata))
	if total == 0 {
		return alloc, nil
	}
	type rem struct {
		index int
		rem   int64
		tie   DerivedSeed
	}
	rems := make([]rem, len(strata))
	given := 0
	for i, s := range strata {
		share := int64(k) * int64(s.Size)
		alloc[i] = int(share / int64(total))
		given += alloc[i]
		rems[i] = rem{i, share % int64(total), seed.Derive("alloc:" + s.Name)}
	}
	slices.SortFunc(rems, func(a, b rem) int {
		if a.rem != b.rem {
			if a.rem > b.rem {
				return -1
			}
			return 1
		}
		return strings.Compare(string(a.tie), string(b.tie))
	})
	for j := 0; given < k; j++ {
		alloc[rems[j].index]++
		given++
	}
	return alloc, nil
}

// SelectEnterprises draws k enterprises from the pool (SPEC.md §7) and
// returns their indices into pool.Candidates in draw order, with the
// allocation of an undirected draw:
//   - coverage: every member, in canonical order;
//   - directed: members numbered 1..N in canonical order, sampled with
//     seed.Derive("enterprises");
//   - undirected: k allocated across towns (Allocate), towns taken in byte
//     order, each town's members numbered 1..n in canonical order and
//     sampled with seed.Derive("town:" + town).
func SelectEnterprises(seed DrawSeed, pool *Pool, kind string, k int) ([]int, []Allocation, error) {
	n := pool.Size()
	if k < 0 || k > n {
		return nil, nil, fmt.Errorf("draw: cannot draw %d enterprises from a pool of %d", k, n)
	}
	switch kind {
	case KindCoverage:
		return slices.Clone(pool.Members), []Allocation{}, nil
	case KindDirected:
		if k == 0 {
			return []int{}, []Allocation{}, nil
		}
		picks, err := Sample(seed.Derive("enterprises"), n, k, false)
		if err != nil {
			return nil, nil, err
		}
		out := make([]int, k)
		for i, p := range picks {
			out[i] = pool.Members[p-1]
		}
		return out, []Allocation{}, nil
	case KindUndirected:
	default:
		return nil, nil, fmt.Errorf("draw: unknown kind %q", kind)
	}

	byTown := map[string][]int{} // town → candidate indices, canonical order
	for _, i := range pool.Members {
		t := pool.Candidates[i].Town
		byTown[t] = append(byTown[t], i)
	}
	towns := make([]string, 0, len(byTown))
	for t := range byTown {
		towns = append(towns, t)
	}
	slices.Sort(towns)
	strata := make([]Stratum, len(towns))
	for i, t := range towns {
		strata[i] = Stratum{t, len(byTown[t])}
	}
	shares, err := Allocate(seed, strata, k)
	if err != nil {
		return nil, nil, err
	}
	selected := make([]int, 0, k)
	allocs := make([]Allocation, len(towns))
	for i, t := range towns {
		allocs[i] = Allocation{Town: t, PoolSize: len(byTown[t]), Drawn: shares[i]}
		if shares[i] == 0 {
			continue
		}
		picks, err := Sample(seed.Derive("town:"+t), len(byTown[t]), shares[i], false)
		if err != nil {
			return nil, nil, err
		}
		for _, p := range picks {
			selected = append(selected, byTown[t][p-1])
		}
	}
	return selected, allocs, nil
}
