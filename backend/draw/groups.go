package draw

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Officer is an inspector as the draw sees it: the facts eligibility uses,
// and no personal contact data. The public record lists every inspector of
// the plan's departments so (SPEC.md §8).
type Officer struct {
	BadgeNo            string   `json:"badge_no"`
	Department         string   `json:"department"`
	Qualifications     []string `json:"qualifications"`
	Active             bool     `json:"active"`
	CertificateExpires string   `json:"certificate_expires"` // YYYY-MM-DD
	// Conflicts are the USCCs of pool members the officer declared a
	// conflict of interest with (回避).
	Conflicts []string `json:"conflicts"`
	// LastInspected are the USCCs of pool members whose last inspection
	// this year the officer was in the group of.
	LastInspected []string `json:"last_inspected"`
}

// Share is how many members one department contributes to every group. In
// a joint plan (art. 27) each partner department draws its own members.
type Share struct {
	Department string `json:"department"`
	Members    int    `json:"members"`
}

// GroupSpec says what every group must be (art. 15).
type GroupSpec struct {
	Shares []Share `json:"shares"`
	// Required are the qualifications the group must hold between them:
	// the required qualification of every item of the plan.
	Required []string `json:"required"`
	// ValidThrough is the plan's last day: certificates must be valid
	// through it (certificate_expires ≥ valid_through).
	ValidThrough string `json:"valid_through"`
	// KeepLastInspectors lets the officers of an enterprise's last
	// inspection into its group again; by default they are left out.
	KeepLastInspectors bool `json:"keep_last_inspectors"`
}

// MaxGroup bounds a group's size (all shares together).
const MaxGroup = 40

// MaxRequired bounds the distinct qualifications a plan may require.
const MaxRequired = 64

// Group failure codes, in aggregate terms: none names an enterprise.
const (
	ShortDepartment    = "department_short"    // a department cannot fill its share of the groups under the load cap
	ShortQualification = "qualification_short" // the holders of a qualification cannot cover the groups under the load cap
	ShortEligibility   = "eligibility"         // some enterprises have no valid group even without the load cap
	ShortCombination   = "no_assignment"       // each part is possible, all together are not
	ShortSearch        = "search_budget"       // the exact search did not finish within its budget
)

// GroupError says why no assignment of groups exists — in aggregate terms:
// which department or qualification is short, and how many enterprises are
// affected, never which. A draw that fails so reveals no selection.
type GroupError struct {
	Code          string
	Department    string // for department_short
	Qualification string // for qualification_short
	Enterprises   int    // how many of the enterprises concerned cannot be served
	Of            int    // how many enterprises were concerned
}

func (e *GroupError) Error() string {
	switch e.Code {
	case ShortDepartment:
		return fmt.Sprintf("department %s has too few eligible inspectors for %d groups within the load cap", e.Department, e.Of)
	case ShortQualification:
		return fmt.Sprintf("too few eligible holders of qualification %s for %d groups within the load cap", e.Qualification, e.Of)
	case ShortEligibility:
		return fmt.Sprintf("%d of %d enterprises have no valid group at all (expired certificates, conflicts of interest, last inspections, qualifications)", e.Enterprises, e.Of)
	case ShortSearch:
		return fmt.Sprintf("the exact search for %d groups did not finish within its budget", e.Of)
	}
	return fmt.Sprintf("no assignment of %d groups meets the shares, qualifications and load caps together", e.Of)
}

// Reason is the code with its subject, as a failed attempt records it:
// "department_short:<id>", "qualification_short:<code>" or the bare code.
func (e *GroupError) Reason() string {
	switch e.Code {
	case ShortDepartment:
		return e.Code + ":" + e.Department
	case ShortQualification:
		return e.Code + ":" + e.Qualification
	}
	return e.Code
}

type qmask uint64

// problem is the group step's fixed part: the certified officers of the
// shares' departments (numbered in badge byte order), their qualifications
// as bit masks over the required ones, and their load caps.
type problem struct {
	spec     GroupSpec
	required []string
	full     qmask // every required qualification
	trivial  bool  // every certified officer holds every required qualification
	off      []*Officer
	share    []int // officer → index of its department's share
	quals    []qmask
	caps     []int
	byShare  [][]int
	excluded map[string][]int // USCC → officers not eligible for it
	budget   int              // DFS nodes the exact search may visit; ≤ 0 unbounded
}

func newProblem(roster []Officer, spec GroupSpec, m int) (*problem, error) {
	p := &problem{spec: spec, required: sortedSet(spec.Required), excluded: map[string][]int{}, budget: DefaultSearchBudget}
	if len(p.required) > MaxRequired {
		return nil, fmt.Errorf("draw: at most %d distinct qualifications may be required", MaxRequired)
	}
	shareOf := map[string]int{}
	total := 0
	for i, s := range spec.Shares {
		if _, dup := shareOf[s.Department]; dup {
			return nil, fmt.Errorf("draw: department %s has two shares", s.Department)
		}
		if s.Members < 0 {
			return nil, fmt.Errorf("draw: department %s has a negative share", s.Department)
		}
		shareOf[s.Department] = i
		total += s.Members
	}
	if total < 2 || total > MaxGroup {
		return nil, fmt.Errorf("draw: a group has 2 to %d inspectors, the shares give %d", MaxGroup, total)
	}
	p.full = qmask(1)<<len(p.required) - 1
	if len(p.required) == 64 {
		p.full = ^qmask(0)
	}
	certified := make([]*Officer, 0, len(roster))
	for i := range roster {
		o := &roster[i]
		if _, ok := shareOf[o.Department]; ok && o.Active && o.CertificateExpires >= spec.ValidThrough {
			certified = append(certified, o)
		}
	}
	slices.SortFunc(certified, func(a, b *Officer) int { return strings.Compare(a.BadgeNo, b.BadgeNo) })
	p.byShare = make([][]int, len(spec.Shares))
	holders := make([]int, len(p.required))
	p.trivial = true
	for x, o := range certified {
		if x > 0 && certified[x-1].BadgeNo == o.BadgeNo {
			return nil, fmt.Errorf("draw: badge %s is listed twice", o.BadgeNo)
		}
		var q qmask
		for b, r := range p.required {
			if slices.Contains(o.Qualifications, r) {
				q |= 1 << b
				holders[b]++
			}
		}
		p.trivial = p.trivial && q == p.full
		j := shareOf[o.Department]
		p.off, p.share, p.quals = append(p.off, o), append(p.share, j), append(p.quals, q)
		p.byShare[j] = append(p.byShare[j], x)
		for _, u := range o.Conflicts {
			p.exclude(u, x)
		}
		if !spec.KeepLastInspectors {
			for _, u := range o.LastInspected {
				p.exclude(u, x)
			}
		}
	}
	// Load caps (SPEC.md §9.3): a fair share plus one within the
	// department, and at least enough for the holders of each required
	// qualification to cover every group between them.
	p.caps = make([]int, len(p.off))
	for x := range p.off {
		j := p.share[x]
		c := spec.Shares[j].Members*m/len(p.byShare[j]) + 1
		for b := range p.required {
			if p.quals[x]&(1<<b) != 0 {
				c = max(c, m/holders[b]+1)
			}
		}
		p.caps[x] = c
	}
	return p, nil
}

func (p *problem) exclude(uscc string, x int) {
	if !slices.Contains(p.excluded[uscc], x) {
		p.excluded[uscc] = append(p.excluded[uscc], x)
	}
}

// coversSwap reports whether g, with officer out replaced by in (out < 0:
// g as it is), holds every required qualification.
func (p *problem) coversSwap(g []int, out, in int) bool {
	var q qmask
	for _, x := range g {
		if x != out {
			q |= p.quals[x]
		}
	}
	if out >= 0 {
		q |= p.quals[in]
	}
	return q == p.full
}

// slot is one enterprise of the group step: its eligible officers per
// share (badge order) and, once a seed is known, their random orders.
type slot struct {
	uscc  string
	elig  [][]int
	all   []int   // every eligible officer, share by share
	union []qmask // share j → qualifications held by eligible officers of shares j, j+1, …
	ord   []*order
}

func (p *problem) slot(uscc string, seed DrawSeed, seeded bool) *slot {
	s := &slot{uscc: uscc, elig: make([][]int, len(p.byShare)), union: make([]qmask, len(p.byShare)+1)}
	ex := p.excluded[uscc]
	for j, list := range p.byShare {
		if len(ex) == 0 {
			s.elig[j] = list
		} else {
			for _, x := range list {
				if !slices.Contains(ex, x) {
					s.elig[j] = append(s.elig[j], x)
				}
			}
		}
		s.all = append(s.all, s.elig[j]...)
	}
	for j := len(p.byShare) - 1; j >= 0; j-- {
		s.union[j] = s.union[j+1]
		for _, x := range s.elig[j] {
			s.union[j] |= p.quals[x]
		}
	}
	if seeded {
		s.ord = make([]*order, len(p.byShare))
		for j := range p.byShare {
			s.ord[j] = newOrder(seed.Derive("group:"+uscc+":"+p.spec.Shares[j].Department), len(s.elig[j]))
		}
	}
	return s
}

// at is the officer at 0-based position pos of share j's order: the random
// order when seeded, badge order otherwise.
func (s *slot) at(j, pos int) int {
	if s.ord == nil {
		return s.elig[j][pos]
	}
	i, _ := s.ord[j].at(pos)
	return s.elig[j][i]
}

// candidates yields the valid groups of slot s whose officers all pass ok,
// in rank order (SPEC.md §9.4): share by share, the members' positions in
// the order, ascending, compared lexicographically. A group lists its
// members in that order too.
func (p *problem) candidates(s *slot, ok func(x int) bool, yield func(g []int) bool) {
	g := make([]int, 0, 8)
	var rec func(j, need, start int, have qmask) bool
	rec = func(j, need, start int, have qmask) bool {
		for j < len(p.spec.Shares) && need == 0 {
			j++
			if j < len(p.spec.Shares) {
				need, start = p.spec.Shares[j].Members, 0
			}
		}
		if j == len(p.spec.Shares) {
			if have != p.full {
				return true
			}
			return yield(slices.Clone(g))
		}
		if have|s.union[j] != p.full {
			return true // what is left cannot complete the coverage
		}
		n := len(s.elig[j])
		for pos := start; pos <= n-need; pos++ {
			x := s.at(j, pos)
			if !ok(x) {
				continue
			}
			g = append(g, x)
			more := rec(j, need-1, pos+1, have|p.quals[x])
			g = g[:len(g)-1]
			if !more {
				return false
			}
		}
		return true
	}
	if len(p.spec.Shares) > 0 {
		rec(0, p.spec.Shares[0].Members, 0, 0)
	}
}

// first returns the best-ranked valid group of s whose officers pass ok.
func (p *problem) first(s *slot, ok func(int) bool) ([]int, bool) {
	var out []int
	p.candidates(s, ok, func(g []int) bool { out = g; return false })
	return out, out != nil
}

func always(int) bool { return true }

// errInvariant means the greedy lost the completion it keeps; it cannot
// happen unless the code is wrong.
var errInvariant = errors.New("draw: internal error: the group step lost its feasible completion")

// assign runs the group step over the slots in order (SPEC.md §9.5): each
// enterprise gets its best-ranked valid group such that the groups chosen
// so far can still be completed for the enterprises after it. A witness —
// one complete assignment — is kept throughout; most choices fit it as it
// is, the others are checked by repairing it, and where coverage makes
// repair inconclusive, by exact search.
func (p *problem) assign(slots []*slot) ([][]int, error) {
	w, err := p.witness(slots)
	if err != nil {
		return nil, err
	}
	fixed := make([]int, len(p.off))
	underCap := func(x int) bool { return fixed[x] < p.caps[x] }
	for i, s := range slots {
		var chosen []int
		var ferr error
		p.candidates(s, underCap, func(g []int) bool {
			ok, err := p.extend(w, slots, i, g, fixed)
			if err != nil {
				ferr = err
				return false
			}
			if ok {
				chosen = g
			}
			return !ok
		})
		if ferr != nil {
			return nil, ferr
		}
		if chosen == nil {
			return nil, errInvariant
		}
		for _, x := range chosen {
			fixed[x]++
		}
		w.minK = i + 1
		w.removeFixed(i)
	}
	out := make([][]int, len(slots))
	for i := range slots {
		out[i] = w.groups[i]
	}
	return out, nil
}

// removeFixed takes demand i out of the per-officer index: fixed demands
// are never moved again, so repair need not look at them.
func (a *assignment) removeFixed(i int) {
	for _, x := range a.groups[i] {
		if at := slices.Index(a.of[x], i); at >= 0 {
			last := len(a.of[x]) - 1
			a.of[x][at] = a.of[x][last]
			a.of[x] = a.of[x][:last]
		}
	}
}

// extend reports whether fixing group g for slot i leaves the enterprises
// after it completable, and if so makes the witness agree with g.
func (p *problem) extend(w *assignment, slots []*slot, i int, g []int, fixed []int) (bool, error) {
	if slices.Equal(w.groups[i], g) {
		return true, nil
	}
	load := slices.Clone(fixed)
	for _, x := range g {
		load[x]++
	}
	if !p.counted(len(slots)-i-1, load) {
		return false, nil
	}
	start := w.mark()
	w.minK = i + 1
	w.set(i, g)
	if w.repairAll() {
		w.commit()
		return true, nil
	}
	w.rollback(start)
	if w.valid == nil {
		return false, nil // augmenting paths are complete without coverage
	}
	rest, ok, err := p.search(slots[i+1:], load)
	if err != nil || !ok {
		return false, err
	}
	w.set(i, g)
	for k, h := range rest {
		w.set(i+1+k, h)
	}
	w.commit()
	return true, nil
}

// witness finds one complete assignment for all slots, or the reason none
// exists.
func (p *problem) witness(slots []*slot) (*assignment, error) {
	opts := make([][]int, len(slots))
	for k, s := range slots {
		opts[k] = s.all
	}
	var valid func([]int, int, int) bool
	if !p.trivial {
		valid = p.coversSwap
	}
	w := newAssignment(len(p.off), p.share, p.caps, opts, valid)
	short := 0
	underCap := func(x int) bool { return w.load[x] < p.caps[x] }
	for k, s := range slots {
		// The plain greedy step first (it is what the assignment mostly
		// turns out to be); where it runs short, over the caps, for repair.
		g, ok := p.first(s, underCap)
		if !ok {
			g, ok = p.first(s, always)
		}
		if !ok {
			short++
			continue
		}
		w.place(k, nil, g)
	}
	if short > 0 {
		return nil, p.diagnose(slots, &GroupError{Code: ShortEligibility, Enterprises: short, Of: len(slots)})
	}
	if w.repairAll() {
		w.commit()
		return w, nil
	}
	if valid == nil {
		return nil, p.diagnose(slots, nil)
	}
	groups, ok, err := p.search(slots, make([]int, len(p.off)))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, p.diagnose(slots, nil)
	}
	w = newAssignment(len(p.off), p.share, p.caps, opts, valid)
	for k, g := range groups {
		w.place(k, nil, g)
	}
	return w, nil
}
