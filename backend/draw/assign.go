package draw

import "slices"

// assignment is a set of demands (an enterprise's group, or one unit of a
// relaxed problem), each filled by distinct officers from its options,
// with the officers' total loads against their caps. Loads may exceed caps
// while it is being built; repair moves units away from an over-cap
// officer along an alternating path, as an augmenting path does in a
// max-flow: in enterprise k, officer u leaves and x (an option of k not in
// its group, of u's class) joins; if x had spare capacity the path ends,
// otherwise x must leave somewhere else in turn.
//
// When valid is nil the demands are a bipartite b-matching and the search
// is complete: no path means no assignment within the caps exists
// (Ford–Fulkerson). With valid (qualification coverage) a found path is
// still a correct assignment, but not finding one proves nothing; the
// caller then decides exactly by search.
type assignment struct {
	opts   [][]int // demand → allowed officers
	groups [][]int // demand → chosen officers
	class  []int   // officer → class; a swap keeps the class (the department)
	caps   []int
	load   []int
	of     [][]int                         // officer → demands whose group has it
	valid  func(g []int, out, in int) bool // g with out replaced by in (out < 0: g itself)
	minK   int                             // demands below minK are fixed and never changed

	journal []change
	stamp   []int // officer → BFS generation that visited it
	gen     int
	parent  []hop
}

type change struct {
	k    int
	prev []int
}

type hop struct{ k, out int }

func newAssignment(nOfficers int, class, caps []int, opts [][]int, valid func([]int, int, int) bool) *assignment {
	return &assignment{
		opts: opts, groups: make([][]int, len(opts)), class: class, caps: caps,
		load: make([]int, nOfficers), of: make([][]int, nOfficers), valid: valid,
		stamp: make([]int, nOfficers), parent: make([]hop, nOfficers),
	}
}

// set replaces demand k's group, keeping loads and the index of demands
// per officer, and remembers the previous group for rollback.
func (a *assignment) set(k int, g []int) {
	prev := a.groups[k]
	a.journal = append(a.journal, change{k, prev})
	a.place(k, prev, g)
}

func (a *assignment) place(k int, prev, g []int) {
	for _, x := range prev {
		a.load[x]--
		if i := slices.Index(a.of[x], k); i >= 0 {
			last := len(a.of[x]) - 1
			a.of[x][i] = a.of[x][last]
			a.of[x] = a.of[x][:last]
		}
	}
	for _, x := range g {
		a.load[x]++
		a.of[x] = append(a.of[x], k)
	}
	a.groups[k] = g
}

// mark returns the journal position to roll back to.
func (a *assignment) mark() int { return len(a.journal) }

func (a *assignment) rollback(to int) {
	for len(a.journal) > to {
		c := a.journal[len(a.journal)-1]
		a.journal = a.journal[:len(a.journal)-1]
		a.place(c.k, a.groups[c.k], c.prev)
	}
}

// commit forgets the journal (the changes stay).
func (a *assignment) commit() { a.journal = a.journal[:0] }

// over returns the officers whose load exceeds their cap.
func (a *assignment) over() []int {
	var out []int
	for x, l := range a.load {
		if l > a.caps[x] {
			out = append(out, x)
		}
	}
	return out
}

// repairAll moves units until no officer is over cap, or reports that it
// found no path for some unit.
func (a *assignment) repairAll() bool {
	for _, x := range a.over() {
		for a.load[x] > a.caps[x] {
			if !a.repair(x) {
				return false
			}
		}
	}
	return true
}

// repair moves one unit of officer o out of some demand k ≥ minK along an
// alternating path ending at an officer with spare capacity.
func (a *assignment) repair(o int) bool {
	a.gen++
	a.stamp[o] = a.gen
	queue := []int{o}
	for head := 0; head < len(queue); head++ {
		u := queue[head]
		for _, k := range a.of[u] {
			if k < a.minK {
				continue
			}
			g := a.groups[k]
			for _, x := range a.opts[k] {
				if a.stamp[x] == a.gen || a.class[x] != a.class[u] || slices.Contains(g, x) {
					continue
				}
				if a.valid != nil && !a.valid(g, u, x) {
					continue
				}
				a.parent[x] = hop{k, u}
				if a.load[x] < a.caps[x] {
					return a.apply(o, x)
				}
				a.stamp[x] = a.gen
				queue = append(queue, x)
			}
		}
	}
	return false
}

// apply makes the swaps of the path that ends at x. Two swaps of one path
// may fall in the same demand; the result is checked again, and a path
// that broke a group is undone and reported as not found.
func (a *assignment) apply(o, x int) bool {
	start := a.mark()
	var touched []int
	for cur := x; cur != o; {
		h := a.parent[cur]
		g := a.groups[h.k]
		if !slices.Contains(g, h.out) || slices.Contains(g, cur) {
			a.rollback(start)
			return false
		}
		a.set(h.k, swapped(g, h.out, cur))
		touched = append(touched, h.k)
		cur = h.out
	}
	if a.valid != nil {
		for _, k := range touched {
			if !a.valid(a.groups[k], -1, -1) {
				a.rollback(start)
				return false
			}
		}
	}
	return true
}

// swapped returns g with out replaced by in, at the same place.
func swapped(g []int, out, in int) []int {
	n := slices.Clone(g)
	n[slices.Index(n, out)] = in
	return n
}

// bmatch decides exactly whether every demand k can get count[k] distinct
// officers from opts[k] with nobody over caps: greedy first, then
// augmenting paths.
func bmatch(nOfficers int, caps []int, opts [][]int, count []int) bool {
	class := make([]int, nOfficers)
	a := newAssignment(nOfficers, class, caps, opts, nil)
	for k, o := range opts {
		if len(o) < count[k] {
			return false
		}
		g := make([]int, 0, count[k])
		for _, x := range o {
			if len(g) < count[k] && a.load[x] < caps[x] {
				g = append(g, x)
			}
		}
		for _, x := range o {
			if len(g) < count[k] && !slices.Contains(g, x) {
				g = append(g, x)
			}
		}
		a.place(k, nil, g)
	}
	return a.repairAll()
}
