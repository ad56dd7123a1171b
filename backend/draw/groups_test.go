package draw

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// bruteOptions and firstWithin are the group step's definition (SPEC.md
// §9) computed the slowest way there is, sharing no code with the engine
// but the sampler: every valid group of every enterprise listed in rank
// order, and a depth-first walk over the tuples in lexicographic order
// that stops at the first one within the load caps.
//
// bruteOptions lists every enterprise's valid groups in rank order, with
// the officers' load caps.
func bruteOptions(seed DrawSeed, usccs []string, roster []Officer, spec GroupSpec) ([][][]string, map[string]int) {
	byBadge := slices.Clone(roster)
	slices.SortFunc(byBadge, func(a, b Officer) int { return strings.Compare(a.BadgeNo, b.BadgeNo) })
	certified := map[string][]Officer{} // department → certified officers, badge order
	var all []Officer
	for _, o := range byBadge {
		inShares := slices.ContainsFunc(spec.Shares, func(s Share) bool { return s.Department == o.Department })
		if inShares && o.Active && o.CertificateExpires >= spec.ValidThrough {
			certified[o.Department] = append(certified[o.Department], o)
			all = append(all, o)
		}
	}
	m := len(usccs)
	caps := map[string]int{}
	for _, s := range spec.Shares {
		for _, o := range certified[s.Department] {
			c := s.Members*m/len(certified[s.Department]) + 1
			for _, q := range spec.Required {
				if slices.Contains(o.Qualifications, q) {
					holders := 0
					for _, h := range all {
						if slices.Contains(h.Qualifications, q) {
							holders++
						}
					}
					c = max(c, m/holders+1)
				}
			}
			caps[o.BadgeNo] = c
		}
	}
	options := make([][][]string, m) // enterprise → its valid groups, rank order
	for i, u := range usccs {
		perShare := make([][][]string, len(spec.Shares))
		for j, s := range spec.Shares {
			var elig []string
			for _, o := range certified[s.Department] {
				if !slices.Contains(o.Conflicts, u) && (spec.KeepLastInspectors || !slices.Contains(o.LastInspected, u)) {
					elig = append(elig, o.BadgeNo)
				}
			}
			var order []string
			if len(elig) > 0 {
				picks, _ := Sample(seed.Derive("group:"+u+":"+s.Department), len(elig), len(elig), false)
				for _, p := range picks {
					order = append(order, elig[p-1])
				}
			}
			perShare[j] = combinations(order, s.Members)
		}
		for _, g := range product(perShare) {
			if coversAll(g, spec.Required, all) {
				options[i] = append(options[i], g)
			}
		}
	}
	return options, caps
}

// firstWithin walks the options' tuples in lexicographic order and returns
// the first within the caps; without backtracking it is the plain greedy
// step (each enterprise takes its best-ranked group still within the caps),
// which can paint itself into a corner.
func firstWithin(options [][][]string, caps map[string]int, backtrack bool) [][]string {
	m := len(options)
	load := map[string]int{}
	chosen := make([][]string, m)
	var walk func(i int) bool
	walk = func(i int) bool {
		if i == m {
			return true
		}
		for _, g := range options[i] {
			fits := true
			for _, b := range g {
				fits = fits && load[b] < caps[b]
			}
			if !fits {
				continue
			}
			for _, b := range g {
				load[b]++
			}
			chosen[i] = g
			if walk(i + 1) {
				return true
			}
			if !backtrack {
				return false
			}
			for _, b := range g {
				load[b]--
			}
		}
		return false
	}
	if !walk(0) {
		return nil
	}
	return chosen
}

// combinations lists the k-subsets of order as lists in order, by their
// positions ascending, lexicographically.
func combinations(order []string, k int) [][]string {
	var out [][]string
	var rec func(start int, cur []string)
	rec = func(start int, cur []string) {
		if len(cur) == k {
			out = append(out, slices.Clone(cur))
			return
		}
		for p := start; p < len(order); p++ {
			rec(p+1, append(cur, order[p]))
		}
	}
	rec(0, nil)
	return out
}

// product concatenates one choice per share, lexicographically.
func product(parts [][][]string) [][]string {
	out := [][]string{{}}
	for _, choices := range parts {
		var next [][]string
		for _, prefix := range out {
			for _, c := range choices {
				next = append(next, append(slices.Clone(prefix), c...))
			}
		}
		out = next
	}
	return out
}

func coversAll(group []string, required []string, all []Officer) bool {
	for _, q := range required {
		held := false
		for _, b := range group {
			i := slices.IndexFunc(all, func(o Officer) bool { return o.BadgeNo == b })
			held = held || slices.Contains(all[i].Qualifications, q)
		}
		if !held {
			return false
		}
	}
	return true
}

// randomInstance is a small roster and group rule, drawn so that tight
// load caps, scarce and overlapping qualifications, conflicts and last
// inspections all occur often.
func randomInstance(rng *rand.Rand) ([]string, []Officer, GroupSpec) {
	depts := []string{"lead", "partner"}[:1+rng.IntN(2)]
	spec := GroupSpec{ValidThrough: "2026-12-31", KeepLastInspectors: rng.IntN(4) == 0}
	for i, d := range depts {
		n := 1 + rng.IntN(2)
		if i == 0 && len(depts) == 1 {
			n = 2 + rng.IntN(2)
		}
		spec.Shares = append(spec.Shares, Share{Department: d, Members: n})
	}
	quals := []string{"a", "b", "c"}
	for _, q := range quals {
		if rng.IntN(2) == 0 {
			spec.Required = append(spec.Required, q)
		}
	}
	m := 1 + rng.IntN(5)
	usccs := make([]string, m)
	for i := range usccs {
		usccs[i] = fmt.Sprintf("E%d", i)
	}
	var roster []Officer
	for i := range 4 + rng.IntN(6) {
		o := Officer{BadgeNo: fmt.Sprintf("B%02d", rng.IntN(90)+i*100), Department: depts[rng.IntN(len(depts))],
			Active: rng.IntN(10) > 0, CertificateExpires: []string{"2027-06-30", "2026-12-31", "2027-01-01", "2026-06-30"}[rng.IntN(4)]}
		for _, q := range quals {
			if rng.IntN(2) == 0 {
				o.Qualifications = append(o.Qualifications, q)
			}
		}
		for _, u := range usccs {
			if rng.IntN(8) == 0 {
				o.Conflicts = append(o.Conflicts, u)
			}
			if rng.IntN(8) == 0 {
				o.LastInspected = append(o.LastInspected, u)
			}
		}
		roster = append(roster, o)
	}
	return usccs, roster, spec
}

// TestGroupStepIsExact compares the group step with the brute-force
// definition over thousands of small random rosters: the draw succeeds
// exactly when some valid assignment exists, and then gives the very
// assignment the definition names (the first in rank order).
func TestGroupStepIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 10))
	feasible, infeasible, cornered := 0, 0, 0
	for n := range 5000 {
		usccs, roster, spec := randomInstance(rng)
		seed := NewDrawSeed(SealedSeed(fmt.Sprintf("%064x", n)), "")
		options, caps := bruteOptions(seed, usccs, roster, spec)
		want := firstWithin(options, caps, true)
		if want != nil && firstWithin(options, caps, false) == nil {
			cornered++ // a plain greedy step would have failed here
		}
		got, err := DrawGroups(seed, usccs, roster, spec)
		var ge *GroupError
		switch {
		case want == nil && errors.As(err, &ge):
			infeasible++
		case want == nil:
			t.Fatalf("instance %d: brute force finds no assignment, the draw gave %v %v\nroster %+v\nspec %+v", n, got, err, roster, spec)
		case err != nil:
			t.Fatalf("instance %d: brute force finds %v, the draw failed: %v\nroster %+v\nspec %+v", n, want, err, roster, spec)
		case !slices.EqualFunc(got, want, slices.Equal):
			t.Fatalf("instance %d: brute force's first assignment is %v, the draw gave %v\nroster %+v\nspec %+v", n, want, got, roster, spec)
		default:
			feasible++
		}
	}
	// Both verdicts must be common, or the comparison proves little.
	if feasible < 1000 || infeasible < 300 || cornered < 20 {
		t.Fatalf("unbalanced instances: %d feasible (%d where a plain greedy fails), %d infeasible", feasible, cornered, infeasible)
	}
	t.Logf("%d feasible (%d where a plain greedy fails), %d infeasible instances agree with brute force", feasible, cornered, infeasible)
}

// TestGroupsWhereGreedyRanShort is the case the issue measured: 7 eligible
// officers, a load cap giving 2,002 places for the 2,000 places of a
// 1,000-enterprise draw. The old greedy step ran short; the exact step
// never does, and keeps every officer within the cap.
func TestGroupsWhereGreedyRanShort(t *testing.T) {
	var roster []Officer
	for i := range 7 {
		roster = append(roster, Officer{BadgeNo: fmt.Sprintf("B%d", i), Department: "brigade", Qualifications: []string{"general"}, Active: true, CertificateExpires: "2027-12-31"})
	}
	usccs := make([]string, 1000)
	for i := range usccs {
		usccs[i] = fmt.Sprintf("911405250000%06d", i)
	}
	spec := GroupSpec{Shares: []Share{{"brigade", 2}}, Required: []string{"general"}, ValidThrough: "2026-12-31"}
	for s := range 5 {
		seed := NewDrawSeed(SealedSeed(strings.Repeat(fmt.Sprint(s), 64)), "")
		groups, err := DrawGroups(seed, usccs, roster, spec)
		if err != nil {
			t.Fatalf("seed %d: %v", s, err)
		}
		load := map[string]int{}
		for _, g := range groups {
			if len(g) != 2 || g[0] == g[1] {
				t.Fatalf("bad group %v", g)
			}
			for _, b := range g {
				load[b]++
			}
		}
		for b, n := range load {
			if n > 286 { // floor(2000/7)+1
				t.Fatalf("seed %d: %s drawn %d times, over the cap of 286", s, b, n)
			}
		}
	}
}

// TestGroupFailureNamesNoEnterprise: when no assignment exists the error
// says which department or qualification is short, in aggregate terms.
func TestGroupFailureNamesNoEnterprise(t *testing.T) {
	officer := func(b, dept string, q ...string) Officer {
		return Officer{BadgeNo: b, Department: dept, Qualifications: q, Active: true, CertificateExpires: "2027-12-31"}
	}
	usccs := []string{"911405250000000001", "911405250000000002", "911405250000000003"}
	seed := NewDrawSeed(SealedSeed(strings.Repeat("a", 64)), "")
	cases := []struct {
		name   string
		roster []Officer
		spec   GroupSpec
		want   string
	}{
		{"a department too small", []Officer{officer("1", "brigade", "general"), officer("2", "hazchem", "general")},
			GroupSpec{Shares: []Share{{"brigade", 2}}, ValidThrough: "2026-12-31"}, "eligibility"},
		{"a qualification nobody holds", []Officer{officer("1", "brigade", "general"), officer("2", "brigade", "general"), officer("3", "brigade", "general")},
			GroupSpec{Shares: []Share{{"brigade", 2}}, Required: []string{"coal_mine"}, ValidThrough: "2026-12-31"}, "eligibility"},
		{"conflicts leave one enterprise without a group", []Officer{officer("1", "brigade"), officer("2", "brigade"), {BadgeNo: "3", Department: "brigade", Active: true, CertificateExpires: "2027-12-31", Conflicts: usccs[1:2]}},
			GroupSpec{Shares: []Share{{"brigade", 3}}, ValidThrough: "2026-12-31"}, "eligibility"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DrawGroups(seed, usccs, c.roster, c.spec)
			var ge *GroupError
			if !errors.As(err, &ge) || ge.Code != c.want {
				t.Fatalf("got %v, want a %s GroupError", err, c.want)
			}
			for _, u := range usccs {
				if strings.Contains(err.Error(), u) || strings.Contains(ge.Reason(), u) {
					t.Fatalf("the error names enterprise %s: %v", u, err)
				}
			}
		})
	}
	// Scarce specialists: 2 holders of hazardous_chemicals, but caps let
	// each take only 2 of the 5 groups: the qualification is named.
	var roster []Officer
	for i := range 8 {
		q := []string{"general"}
		if i < 2 {
			q = append(q, "hazardous_chemicals")
		}
		roster = append(roster, officer(fmt.Sprint(i), "brigade", q...))
	}
	five := append(slices.Clone(usccs), "911405250000000004", "911405250000000005")
	spec := GroupSpec{Shares: []Share{{"brigade", 2}}, Required: []string{"general", "hazardous_chemicals"}, ValidThrough: "2026-12-31"}
	p, _ := newProblem(roster, spec, len(five))
	p.caps[0], p.caps[1] = 2, 2 // as if the department's fair share were lower
	slots := make([]*slot, len(five))
	for i, u := range five {
		slots[i] = p.slot(u, seed, true)
	}
	_, err := p.assign(slots)
	var ge *GroupError
	if !errors.As(err, &ge) || ge.Code != ShortQualification || ge.Qualification != "hazardous_chemicals" || strings.Contains(err.Error(), "9114") {
		t.Fatalf("scarce qualification: %v", err)
	}
}
