package draw

import "slices"

// DefaultSearchBudget bounds the exact search's work (candidate groups
// tried plus enterprises looked at by its bounds). Real draws never come
// near it: the search only runs where qualification coverage makes the
// repair of the witness inconclusive, and there it mostly completes at its
// first node.
const DefaultSearchBudget = 50_000_000

// search decides exactly whether the slots can all get valid groups with
// the officers' loads starting at load, and returns such groups (in the
// slots' rank order preference, though any would do: only the yes or no
// answer is part of the draw). It is a depth-first search over each
// slot's candidates with two shortcuts that never change the answer: at
// every node a complete assignment is first sought by repairing the
// best-ranked groups (found: done), and relaxations that every assignment
// must satisfy prune the node (failed: no assignment below it).
func (p *problem) search(slots []*slot, load []int) ([][]int, bool, error) {
	out := make([][]int, len(slots))
	work := 0
	var dfs func(k int) (bool, error)
	dfs = func(k int) (bool, error) {
		if k == len(slots) {
			return true, nil
		}
		work += len(slots) - k
		if p.budget > 0 && work > p.budget {
			return false, &GroupError{Code: ShortSearch, Of: len(slots)}
		}
		if !p.counted(len(slots)-k, load) {
			return false, nil
		}
		if rest, ok := p.repairFrom(slots[k:], load); ok {
			copy(out[k:], rest)
			return true, nil
		}
		if !p.relaxed(slots[k:], load) {
			return false, nil
		}
		var found bool
		var err error
		p.candidates(slots[k], func(x int) bool { return load[x] < p.caps[x] }, func(g []int) bool {
			work++
			for _, x := range g {
				load[x]++
			}
			ok, e := dfs(k + 1)
			if e != nil || ok {
				found, err = ok, e
				if ok {
					out[k] = g
				}
				return false
			}
			for _, x := range g {
				load[x]--
			}
			return true
		})
		return found, err
	}
	ok, err := dfs(0)
	return out, ok, err
}

// repairFrom tries to complete the slots from the officers' present loads
// by repairing their best-ranked groups; false means only that it did not
// find a completion.
func (p *problem) repairFrom(slots []*slot, load []int) ([][]int, bool) {
	residual := p.residual(load)
	opts := make([][]int, len(slots))
	for k, s := range slots {
		opts[k] = s.all
	}
	a := newAssignment(len(p.off), p.share, residual, opts, p.coversSwap)
	for k, s := range slots {
		g, ok := p.first(s, func(x int) bool { return residual[x] > 0 })
		if !ok {
			return nil, false
		}
		a.place(k, nil, g)
	}
	if !a.repairAll() {
		return nil, false
	}
	return a.groups, true
}

func (p *problem) residual(load []int) []int {
	r := make([]int, len(p.caps))
	for x, c := range p.caps {
		r[x] = max(c-load[x], 0)
	}
	return r
}

// counted checks by counting alone what every assignment of n more groups
// needs: each department's officers have n times its share of places left
// under their caps, and the holders of each required qualification that
// not everyone holds have n places left between them (one each per group
// at most).
func (p *problem) counted(n int, load []int) bool {
	for j, sh := range p.spec.Shares {
		left := 0
		for _, x := range p.byShare[j] {
			left += max(p.caps[x]-load[x], 0)
		}
		if left < sh.Members*n {
			return false
		}
	}
	for b := range p.required {
		left, lack := 0, false
		for x, q := range p.quals {
			if q&(1<<b) == 0 {
				lack = true
				continue
			}
			left += min(max(p.caps[x]-load[x], 0), n)
		}
		if lack && left < n {
			return false
		}
	}
	return true
}

// relaxed checks conditions every assignment of the slots must meet: each
// slot has a valid group by itself within what is left of the caps; each
// department can fill its share of every group (a b-matching, decided
// exactly by augmenting paths); and for every required qualification that
// not everyone holds, its holders can give every group one member.
func (p *problem) relaxed(slots []*slot, load []int) bool {
	residual := p.residual(load)
	for _, s := range slots {
		if _, ok := p.first(s, func(x int) bool { return residual[x] > 0 }); !ok {
			return false
		}
	}
	_, _, short := p.shortage(slots, residual)
	return !short
}

// shortage finds the first department, then the first qualification (by
// code), whose part of the groups cannot be filled within caps.
func (p *problem) shortage(slots []*slot, caps []int) (department, qualification string, short bool) {
	opts := make([][]int, len(slots))
	count := make([]int, len(slots))
	for j, sh := range p.spec.Shares {
		if sh.Members == 0 {
			continue
		}
		for k, s := range slots {
			opts[k], count[k] = s.elig[j], sh.Members
		}
		if !bmatch(len(p.off), caps, opts, count) {
			return sh.Department, "", true
		}
	}
	for b, q := range p.required {
		someLack := false
		for x := range p.off {
			someLack = someLack || p.quals[x]&(1<<b) == 0
		}
		if !someLack {
			continue // everyone holds it: any member covers it
		}
		for k, s := range slots {
			opts[k] = slices.DeleteFunc(slices.Clone(s.all), func(x int) bool { return p.quals[x]&(1<<b) == 0 })
			count[k] = 1
		}
		if !bmatch(len(p.off), caps, opts, count) {
			return "", q, true
		}
	}
	return "", "", false
}

// diagnose says, in aggregate terms, why the slots cannot all get groups.
func (p *problem) diagnose(slots []*slot, known *GroupError) error {
	if known != nil {
		return known
	}
	dept, qual, short := p.shortage(slots, p.caps)
	switch {
	case short && dept != "":
		return &GroupError{Code: ShortDepartment, Department: dept, Of: len(slots)}
	case short:
		return &GroupError{Code: ShortQualification, Qualification: qual, Of: len(slots)}
	}
	return &GroupError{Code: ShortCombination, Of: len(slots)}
}
