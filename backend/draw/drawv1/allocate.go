package drawv1

import (
	"crypto/sha256"
	"fmt"
	"sort"
)

// Stratum is one region (a town) and the size of its pool.
type Stratum struct {
	Name string
	Size int
}

// Allocate divides a sample of k across strata in proportion to their
// sizes by the largest-remainder method (art. 8, "balanced across regions"):
// each stratum first gets floor(k·size/total); the seats left go one each to
// the strata with the largest remainders. Remainders are compared exactly
// (as integers k·size mod total); equal remainders are ordered by
// SHA-256(UTF-8(seed + "|alloc|" + name)), smallest first, so ties are
// broken by the draw's seed and not by how the strata were listed. The
// result is in the order of strata.
func Allocate(seed string, strata []Stratum, k int) ([]int, error) {
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
		tie   [32]byte
	}
	rems := make([]rem, len(strata))
	given := 0
	for i, s := range strata {
		share := int64(k) * int64(s.Size)
		alloc[i] = int(share / int64(total))
		given += alloc[i]
		rems[i] = rem{i, share % int64(total), sha256.Sum256([]byte(seed + "|alloc|" + s.Name))}
	}
	sort.Slice(rems, func(a, b int) bool {
		if rems[a].rem != rems[b].rem {
			return rems[a].rem > rems[b].rem
		}
		return string(rems[a].tie[:]) < string(rems[b].tie[:])
	})
	for j := 0; given < k; j++ {
		alloc[rems[j].index]++
		given++
	}
	return alloc, nil
}
