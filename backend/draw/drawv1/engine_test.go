package drawv1

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func candidate(uscc, town string, opts ...func(*Candidate)) Candidate {
	c := Candidate{USCC: uscc, Town: town, Industry: "制造业", Active: true}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func drawnTwice(c *Candidate)    { c.RandomTasksThisYear = 2 }
func closed(c *Candidate)        { c.Active = false }
func highRisk(c *Candidate)      { c.Flags = []string{"high_credit_risk"} }
func uncooperative(c *Candidate) { c.NonCooperation = true }
func coalMine(c *Candidate)      { c.Categories = []string{"coal_mine"} }
func blacklisted(c *Candidate)   { c.Flags = []string{"blacklist"} }
func covered(c *Candidate)       { c.CoveredThisYear = true }

func members(p Pool) []string {
	var out []string
	for _, m := range p.Members {
		out = append(out, m.USCC)
	}
	return out
}

func TestPoolRulesOfArticle16(t *testing.T) {
	all := []Candidate{
		candidate("C", "甲镇"),
		candidate("A", "甲镇", drawnTwice),                // ordinary, capped
		candidate("B", "乙镇", drawnTwice, highRisk),      // exempt from the cap
		candidate("D", "乙镇", drawnTwice, uncooperative), // non-cooperation: exempt
		candidate("E", "乙镇", closed),                    // art. 13
		candidate("F", "丙镇", coalMine),
		candidate("G", "丙镇", blacklisted, covered),
	}
	p := BuildPool(all, Filter{}, false)
	if got := members(p); !slices.Equal(got, []string{"B", "C", "D", "F", "G"}) {
		t.Fatalf("pool %v", got)
	}
	if !slices.Contains(p.Excluded, Exclusion{"A", ReasonCapOfTwo}) || !slices.Contains(p.Excluded, Exclusion{"E", ReasonClosed}) {
		t.Fatalf("exclusions %v", p.Excluded)
	}

	// Coverage: key-supervision and blacklisted units not yet covered.
	cov := BuildPool(all, Filter{}, true)
	if got := members(cov); !slices.Equal(got, []string{"F"}) {
		t.Fatalf("coverage pool %v", got)
	}

	// The filter narrows before the rules apply.
	f := BuildPool(all, Filter{Towns: []string{"乙镇"}}, false)
	if got := members(f); !slices.Equal(got, []string{"B", "D"}) {
		t.Fatalf("filtered pool %v", got)
	}
}

func TestPoolHashIsCanonical(t *testing.T) {
	a := BuildPool([]Candidate{candidate("B", "x"), candidate("A", "y", func(c *Candidate) { c.Flags = []string{"z", "a"} })}, Filter{}, false)
	b := BuildPool([]Candidate{candidate("A", "y", func(c *Candidate) { c.Flags = []string{"a", "z"} }), candidate("B", "x")}, Filter{}, false)
	if a.SHA256 != b.SHA256 || len(a.SHA256) != 64 {
		t.Fatalf("same pool, different hashes: %s %s", a.SHA256, b.SHA256)
	}
	c := BuildPool([]Candidate{candidate("A", "y"), candidate("B", "changed")}, Filter{}, false)
	if c.SHA256 == a.SHA256 {
		t.Fatal("a changed town did not change the hash")
	}
}

func townPool(sizes map[string]int) Pool {
	var all []Candidate
	for town, n := range sizes {
		for i := range n {
			all = append(all, candidate(fmt.Sprintf("%s-%03d", town, i), town))
		}
	}
	return BuildPool(all, Filter{}, false)
}

func TestUndirectedDrawIsProportionalAndDeterministic(t *testing.T) {
	pool := townPool(map[string]int{"甲镇": 50, "乙镇": 30, "丙镇": 20})
	sel, alloc, err := SelectEnterprises("seed-1", pool, KindUndirected, Size{Ratio: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"甲镇": 5, "乙镇": 3, "丙镇": 2}
	for _, a := range alloc {
		if a.Drawn != want[a.Town] {
			t.Fatalf("allocation %+v", alloc)
		}
	}
	perTown := map[string]int{}
	seen := map[string]bool{}
	for _, c := range sel {
		perTown[c.Town]++
		if seen[c.USCC] {
			t.Fatalf("%s drawn twice", c.USCC)
		}
		seen[c.USCC] = true
	}
	for town, n := range want {
		if perTown[town] != n {
			t.Fatalf("drawn per town %v", perTown)
		}
	}
	again, _, _ := SelectEnterprises("seed-1", pool, KindUndirected, Size{Ratio: 0.1})
	other, _, _ := SelectEnterprises("seed-2", pool, KindUndirected, Size{Ratio: 0.1})
	if !slices.EqualFunc(sel, again, func(a, b Candidate) bool { return a.USCC == b.USCC }) {
		t.Fatal("the same inputs gave another draw")
	}
	if slices.EqualFunc(sel, other, func(a, b Candidate) bool { return a.USCC == b.USCC }) {
		t.Fatal("another seed gave the same draw")
	}
}

func TestDirectedAndCoverageDraws(t *testing.T) {
	pool := townPool(map[string]int{"甲镇": 7, "乙镇": 5})
	sel, alloc, err := SelectEnterprises("s", pool, KindDirected, Size{Count: 4})
	if err != nil || len(sel) != 4 || alloc != nil {
		t.Fatalf("directed: %d %v %v", len(sel), alloc, err)
	}
	if _, _, err := SelectEnterprises("s", pool, KindDirected, Size{Count: 13}); err == nil {
		t.Fatal("drew 13 of 12")
	}
	all, _, _ := SelectEnterprises("s", pool, KindCoverage, Size{})
	if len(all) != 12 {
		t.Fatalf("coverage took %d of 12", len(all))
	}
	if n, _ := (Size{Ratio: 0.1}).Of(30); n != 3 {
		t.Fatalf("10%% of 30 = %d", n)
	}
	if n, _ := (Size{Ratio: 0.1}).Of(31); n != 4 {
		t.Fatalf("10%% of 31 rounded up = %d", n)
	}
}

func officer(badge, dept string, quals ...string) Officer {
	return Officer{BadgeNo: badge, Department: dept, Qualifications: quals, Active: true, CertificateExpires: "2027-12-31"}
}

func TestGroupsObeyArticle15(t *testing.T) {
	ents := []Candidate{candidate("E1", "甲镇"), candidate("E2", "甲镇"), candidate("E3", "甲镇")}
	roster := []Officer{
		officer("001", "brigade", "general"),
		officer("002", "brigade", "general", "hazardous_chemicals"),
		officer("003", "brigade", "general"),
		officer("004", "brigade", "general"),
		officer("005", "brigade", "general", "hazardous_chemicals"),
		officer("006", "hazchem", "hazardous_chemicals"),
	}
	spec := GroupSpec{Shares: []Share{{"brigade", 2}}, Required: []string{"hazardous_chemicals", "general"}, ValidThrough: "2026-12-31"}

	groups, err := DrawGroups("seed", ents, roster, spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if len(g.Members) != 2 || !(slices.Contains(g.Members, "002") || slices.Contains(g.Members, "005")) {
			t.Fatalf("group %+v lacks a hazardous-chemicals inspector", g)
		}
		if slices.Contains(g.Members, "006") {
			t.Fatalf("group %+v has an inspector of another department", g)
		}
	}
	again, _ := DrawGroups("seed", ents, roster, spec)
	if fmt.Sprint(again) != fmt.Sprint(groups) {
		t.Fatal("the same inputs gave other groups")
	}

	t.Run("conflict of interest", func(t *testing.T) {
		r := slices.Clone(roster)
		r[1].Conflicts = []string{"E1"}
		g, err := DrawGroups("seed", ents[:1], r, spec)
		if err != nil || slices.Contains(g[0].Members, "002") {
			t.Fatalf("conflicted inspector drawn: %+v %v", g, err)
		}
	})
	t.Run("expired certificate", func(t *testing.T) {
		r := slices.Clone(roster)
		r[4].CertificateExpires = "2026-06-30" // before the plan ends
		r[1].Conflicts = []string{"E1"}
		_, err := DrawGroups("seed", ents[:1], r, spec)
		var ge *GroupError
		if !errors.As(err, &ge) || ge.USCC != "E1" {
			t.Fatalf("want a GroupError naming E1 (no certified hazchem inspector), got %v", err)
		}
	})
	t.Run("last inspection's group left out", func(t *testing.T) {
		e := ents[0]
		e.LastInspectors = []string{"002"}
		g, err := DrawGroups("seed", []Candidate{e}, roster, spec)
		if err != nil || slices.Contains(g[0].Members, "002") {
			t.Fatalf("last inspector drawn again: %+v %v", g, err)
		}
		spec2 := spec
		spec2.KeepLastInspectors = true
		if _, err := DrawGroups("seed", []Candidate{e}, roster, spec2); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("qualification nobody has", func(t *testing.T) {
		spec2 := spec
		spec2.Required = []string{"coal_mine"}
		_, err := DrawGroups("seed", ents, roster, spec2)
		var ge *GroupError
		if !errors.As(err, &ge) || ge.USCC != "E1" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("groups of one are refused", func(t *testing.T) {
		if _, err := DrawGroups("seed", ents, roster, GroupSpec{Shares: []Share{{"brigade", 1}}}); err == nil {
			t.Fatal("a group of one was drawn")
		}
	})
	t.Run("joint plan: each department draws its own", func(t *testing.T) {
		joint := GroupSpec{Shares: []Share{{"brigade", 2}, {"hazchem", 1}}, ValidThrough: "2026-12-31"}
		g, err := DrawGroups("seed", ents[:1], roster, joint)
		if err != nil || len(g[0].Members) != 3 || !slices.Contains(g[0].Members, "006") {
			t.Fatalf("joint group %+v %v", g, err)
		}
	})
}

func TestGroupLoadIsBalanced(t *testing.T) {
	var ents []Candidate
	for i := range 40 {
		ents = append(ents, candidate(fmt.Sprintf("E%02d", i), "甲镇"))
	}
	var roster []Officer
	for i := range 10 {
		roster = append(roster, officer(fmt.Sprintf("%03d", i), "brigade", "general"))
	}
	groups, err := DrawGroups("load", ents, roster, GroupSpec{Shares: []Share{{"brigade", 2}}, ValidThrough: "2026-12-31"})
	if err != nil {
		t.Fatal(err)
	}
	load := map[string]int{}
	for _, g := range groups {
		for _, m := range g.Members {
			load[m]++
		}
	}
	// 80 slots over 10 inspectors: fair share 8, so at most 9 each.
	for b, n := range load {
		if n > 9 {
			t.Fatalf("inspector %s drawn %d times (cap 9): %v", b, n, load)
		}
	}
}

// TestScarceQualificationsAreNotUsedUp draws many times with a roster where
// half the inspectors hold the one scarce qualification every group needs:
// a valid assignment always exists, and no seed may fail to find one (the
// fill step keeps specialists for the groups that need them).
func TestScarceQualificationsAreNotUsedUp(t *testing.T) {
	var roster []Officer
	for i := range 8 {
		quals := []string{"general"}
		if i%2 == 0 {
			quals = append(quals, "hazardous_chemicals")
		}
		roster = append(roster, officer(fmt.Sprintf("%02d", i), "brigade", quals...))
	}
	var ents []Candidate
	for i := range 30 {
		ents = append(ents, candidate(fmt.Sprintf("E%02d", i), "甲镇"))
	}
	spec := GroupSpec{Shares: []Share{{"brigade", 2}}, Required: []string{"general", "hazardous_chemicals"}, ValidThrough: "2026-12-31"}
	for seed := range 200 {
		for _, n := range []int{6, 15, 30} {
			groups, err := DrawGroups(fmt.Sprint(seed), ents[:n], roster, spec)
			if err != nil {
				t.Fatalf("seed %d, %d enterprises: %v", seed, n, err)
			}
			for _, g := range groups {
				has := false
				for _, m := range g.Members {
					has = has || m[1]%2 == 0 // even badge numbers hold the scarce qualification
				}
				if !has {
					t.Fatalf("group %+v lacks the scarce qualification", g)
				}
			}
		}
	}
}
