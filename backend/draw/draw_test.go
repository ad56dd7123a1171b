package draw

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// referenceVectors are the published test cases for Rivest's sampler
// (cjerdonek/rivest-sampler-tests, tests.json): picks with replacement.
var referenceVectors = []struct {
	seed     string
	total    int
	expected []int
}{
	{"0", 1000, []int{905, 573, 160}},
	{"0", 2, []int{1, 1, 2}},
	{"1", 1000, []int{97, 89, 163}},
	{"0000000000", 1000, []int{978, 359, 132}},
	{"999999999999999999999999", 1000, []int{544, 800, 654}},
	{"abcde", 1000, []int{247, 427, 157}},
}

func TestSamplerMatchesReferenceVectors(t *testing.T) {
	for _, v := range referenceVectors {
		got, err := Sample(DerivedSeed(v.seed), v.total, len(v.expected), true)
		if err != nil || !slices.Equal(got, v.expected) {
			t.Errorf("Sample(%q, %d) = %v, %v; want %v", v.seed, v.total, got, err, v.expected)
		}
	}
}

// TestPickAgreesWithBigIntegerArithmetic checks the allocation-free modulo
// against the definition, over many seeds and population sizes.
func TestPickAgreesWithBigIntegerArithmetic(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 17, 1000, 99991, 100000, 1 << 31, 1<<32 - 1, 1 << 32, 1<<40 + 3} {
		for i := 1; i <= 50; i++ {
			seed := DerivedSeed("seed-" + strconv.Itoa(n))
			sum := sha256.Sum256([]byte(string(seed) + "," + strconv.Itoa(i)))
			want := new(big.Int).Mod(new(big.Int).SetBytes(sum[:]), big.NewInt(int64(n))).Int64() + 1
			if got := Pick(seed, i, n); int64(got) != want {
				t.Fatalf("Pick(n=%d, i=%d) = %d, want %d", n, i, got, want)
			}
		}
	}
}

func TestSampleWithoutReplacementSkipsRepeats(t *testing.T) {
	// With replacement seed "0" over 2 gives 1, 1, 2: without, the second
	// pick (a repeat) is skipped, so the sample is 1, 2.
	got, err := Sample("0", 2, 2, false)
	if err != nil || !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("got %v, %v", got, err)
	}
	all, _ := Sample("x", 50, 50, false)
	o := newOrder("x", 50)
	for k, p := range all {
		if i, _ := o.at(k); i != p-1 {
			t.Fatalf("the lazy order differs from the sample at %d", k)
		}
	}
	if _, err := Sample("x", 3, 4, false); err == nil {
		t.Fatal("drew 4 distinct from 3")
	}
	if _, err := Sample("x", 0, 0, false); err == nil {
		t.Fatal("drew from an empty population")
	}
}

func TestSeedsFollowTheirDefinitions(t *testing.T) {
	sealed, err := NewSealedSeed(strings.NewReader(strings.Repeat("\x01", 32)))
	if err != nil || string(sealed) != strings.Repeat("01", 32) {
		t.Fatalf("sealed seed %q %v", sealed, err)
	}
	h := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	if sealed.Commitment() != h(string(sealed)) {
		t.Fatal("the commitment is not SHA-256 of the seed")
	}
	d := NewDrawSeed(sealed, "2026-03-05 福彩3D 4 7 1")
	if string(d) != h(string(sealed)+"|entropy:2026-03-05 福彩3D 4 7 1") || NewDrawSeed(sealed, "") == d {
		t.Fatal("the draw seed does not follow its definition")
	}
	if string(d.Derive("town:巴公镇")) != h(string(d)+"|town:巴公镇") {
		t.Fatal("a derived seed does not follow its definition")
	}
	if _, err := ParseSealedSeed(strings.Repeat("A", 64)); err == nil {
		t.Fatal("upper-case hex accepted as a sealed seed")
	}
	if _, err := NewSealedSeed(strings.NewReader("short")); err == nil {
		t.Fatal("a seed from 5 bytes of randomness")
	}
}

// TestRatioIsExact: the ratio is a decimal, the sample size its exact
// ceiling — where binary floating point gives 0.07 × 300 = 22.
func TestRatioIsExact(t *testing.T) {
	cases := []struct {
		ratio string
		n     int
		want  int
	}{
		{"0.07", 300, 21}, {"0.1", 30, 3}, {"0.1", 31, 4}, {"0.000001", 1, 1}, {"1", 7, 7}, {"1.000", 7, 7},
		{"0.333333", 3, 1}, {"0.5", 0, 0}, {"0.999999", 1000000, 999999},
	}
	for _, c := range cases {
		if got, err := (Size{Ratio: c.ratio}).Of(KindUndirected, c.n); err != nil || got != c.want {
			t.Errorf("%s of %d = %d %v, want %d", c.ratio, c.n, got, err, c.want)
		}
	}
	for _, bad := range []string{"0", "0.0", "1.5", ".5", "0.1234567", "7%", "1e-1", "-0.1", "0,1"} {
		if _, err := (Size{Ratio: bad}).Of(KindDirected, 10); err == nil {
			t.Errorf("ratio %q accepted", bad)
		}
	}
	if _, err := (Size{Count: 11}).Of(KindDirected, 10); err == nil {
		t.Error("a count above the pool accepted")
	}
	if _, err := (Size{Count: 1}).Of(KindCoverage, 10); err == nil {
		t.Error("a coverage plan with a count accepted")
	}
	if r, err := RatioFromFloat(0.07); err != nil || r != "0.07" {
		t.Errorf("0.07 as stored by older plans: %q %v", r, err)
	}
}

func candidate(uscc, town string, opts ...func(*Candidate)) Candidate {
	c := Candidate{USCC: uscc, Town: town, Industry: "制造业", Status: StatusActive}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func drawnTwice(c *Candidate) {
	c.RandomDraws, c.DrawIDs, c.CoveredThisYear = 2, []string{"p1-1", "p2-1"}, true
}
func closed(c *Candidate)        { c.Status = "closed" }
func highRisk(c *Candidate)      { c.Flags = []string{"high_credit_risk"} }
func uncooperative(c *Candidate) { c.NonCooperation = true }
func coalMine(c *Candidate)      { c.Categories = []string{"coal_mine"} }
func blacklisted(c *Candidate)   { c.Flags = []string{"blacklist"} }
func covered(c *Candidate)       { c.CoveredThisYear = true }

func members(p Pool) []string {
	var out []string
	for i := range p.Members {
		out = append(out, p.Member(i).USCC)
	}
	return out
}

func excluded(p Pool) map[string]string {
	out := map[string]string{}
	for _, c := range p.Candidates {
		if c.Excluded != "" {
			out[c.USCC] = c.Excluded
		}
	}
	return out
}

func TestPoolRulesOfArticles13And16(t *testing.T) {
	all := []Candidate{
		candidate("C", "甲镇"),
		candidate("A", "甲镇", drawnTwice),                // ordinary, capped
		candidate("B", "乙镇", drawnTwice, highRisk),      // exempt from the cap
		candidate("D", "乙镇", drawnTwice, uncooperative), // non-cooperation: exempt
		candidate("E", "乙镇", closed),                    // art. 13
		candidate("F", "丙镇", coalMine),
		candidate("G", "丙镇", blacklisted, covered),
	}
	p, err := BuildPool(all, Filter{}, KindDirected)
	if err != nil {
		t.Fatal(err)
	}
	if got := members(p); !slices.Equal(got, []string{"B", "C", "D", "F", "G"}) {
		t.Fatalf("pool %v", got)
	}
	if ex := excluded(p); len(ex) != 2 || ex["A"] != ExcludedDrawnTwice || ex["E"] != ExcludedNotActive {
		t.Fatalf("exclusions %v", ex)
	}
	if len(p.Candidates) != 7 {
		t.Fatalf("every considered enterprise is listed, got %d", len(p.Candidates))
	}

	// Coverage: the key-supervision and blacklisted units are considered;
	// those covered already are left out with their reason.
	cov, _ := BuildPool(all, Filter{}, KindCoverage)
	if got := members(cov); !slices.Equal(got, []string{"F"}) || excluded(cov)["G"] != ExcludedAlreadyCovered || len(cov.Candidates) != 2 {
		t.Fatalf("coverage pool %v, candidates %+v", got, cov.Candidates)
	}

	// The filter narrows what is considered at all.
	f, _ := BuildPool(all, Filter{Towns: []string{"乙镇"}}, KindDirected)
	if got := members(f); !slices.Equal(got, []string{"B", "D"}) || len(f.Candidates) != 3 {
		t.Fatalf("filtered pool %v of %d", got, len(f.Candidates))
	}
	if _, err := BuildPool([]Candidate{candidate("A", "x"), candidate("A", "y")}, Filter{}, KindDirected); err == nil {
		t.Fatal("a USCC listed twice was accepted")
	}
}

func TestPoolHashIsCanonical(t *testing.T) {
	a, _ := BuildPool([]Candidate{candidate("B", "x"), candidate("A", "y", func(c *Candidate) { c.Flags = []string{"z", "a"} })}, Filter{}, KindDirected)
	b, _ := BuildPool([]Candidate{candidate("A", "y", func(c *Candidate) { c.Flags = []string{"a", "z"} }), candidate("B", "x")}, Filter{}, KindDirected)
	if a.SHA256 != b.SHA256 || len(a.SHA256) != 64 {
		t.Fatalf("same pool, different hashes: %s %s", a.SHA256, b.SHA256)
	}
	for name, change := range map[string]func(*Candidate){
		"town":        func(c *Candidate) { c.Town = "changed" },
		"draw count":  func(c *Candidate) { c.RandomDraws = 1 },
		"draw ids":    func(c *Candidate) { c.DrawIDs = []string{"p-1"} },
		"status":      closed,
		"covered":     covered,
		"cooperation": uncooperative,
	} {
		c, _ := BuildPool([]Candidate{candidate("A", "y", func(c *Candidate) { c.Flags = []string{"a", "z"} }, change), candidate("B", "x")}, Filter{}, KindDirected)
		if c.SHA256 == a.SHA256 {
			t.Errorf("a changed %s did not change the hash", name)
		}
	}
	// Lengths keep the text unambiguous: moving a comma between fields
	// changes the hash.
	x := []Candidate{{USCC: "A", Town: "a,b", Industry: "c"}}
	y := []Candidate{{USCC: "A", Town: "a", Industry: "b,c"}}
	if PoolHash(x) == PoolHash(y) {
		t.Fatal("the canonical text is ambiguous")
	}
}

func TestAllocateLargestRemainder(t *testing.T) {
	seed := DrawSeed("s")
	strata := []Stratum{{"巴公镇", 50}, {"高都镇", 30}, {"金村镇", 20}}
	got, err := Allocate(seed, strata, 10)
	if err != nil || !slices.Equal(got, []int{5, 3, 2}) {
		t.Fatalf("exact shares: %v %v", got, err)
	}
	// 7 of 100: quotas 3.5, 2.1, 1.4 → floors 3, 2, 1 and the one place
	// left goes to the largest remainder (巴公镇, .5).
	got, _ = Allocate(seed, strata, 7)
	if !slices.Equal(got, []int{4, 2, 1}) {
		t.Fatalf("remainders: %v", got)
	}
	// Equal remainders: the seed decides, not the listing order.
	tied := []Stratum{{"A", 1}, {"B", 1}, {"C", 1}, {"D", 1}}
	winners := map[string]bool{}
	for n := range 40 {
		s := DrawSeed(strconv.Itoa(n))
		a, _ := Allocate(s, tied, 1)
		rev := slices.Clone(tied)
		slices.Reverse(rev)
		b, _ := Allocate(s, rev, 1)
		ia, ib := slices.Index(a, 1), slices.Index(b, 1)
		if tied[ia].Name != rev[ib].Name {
			t.Fatalf("seed %s: the winner depends on the order of strata", s)
		}
		winners[tied[ia].Name] = true
	}
	if len(winners) < 3 {
		t.Fatalf("ties always go to the same strata: %v", winners)
	}
	if _, err := Allocate(seed, strata, 101); err == nil {
		t.Fatal("allocated more than the pool")
	}
}

func townPool(t *testing.T, sizes map[string]int) Pool {
	var all []Candidate
	for town, n := range sizes {
		for i := range n {
			all = append(all, candidate(fmt.Sprintf("%s-%03d", town, i), town))
		}
	}
	p, err := BuildPool(all, Filter{}, KindUndirected)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUndirectedDrawIsProportionalAndDeterministic(t *testing.T) {
	pool := townPool(t, map[string]int{"甲镇": 50, "乙镇": 30, "丙镇": 20})
	sel, alloc, err := SelectEnterprises("seed-1", &pool, KindUndirected, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"甲镇": 5, "乙镇": 3, "丙镇": 2}
	perTown := map[string]int{}
	for _, a := range alloc {
		if a.Drawn != want[a.Town] {
			t.Fatalf("allocation %+v", alloc)
		}
	}
	seen := map[int]bool{}
	for _, i := range sel {
		perTown[pool.Candidates[i].Town]++
		if seen[i] {
			t.Fatalf("%d drawn twice", i)
		}
		seen[i] = true
	}
	if fmt.Sprint(perTown) != fmt.Sprint(want) {
		t.Fatalf("drawn per town %v", perTown)
	}
	again, _, _ := SelectEnterprises("seed-1", &pool, KindUndirected, 10)
	other, _, _ := SelectEnterprises("seed-2", &pool, KindUndirected, 10)
	if !slices.Equal(sel, again) || slices.Equal(sel, other) {
		t.Fatal("the draw is not a function of its seed")
	}
}
