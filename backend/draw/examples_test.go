package draw

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	specFile      = "SPEC.md"
	examplesBegin = "<!-- examples:begin -->\n"
	examplesEnd   = "<!-- examples:end -->"
)

func short(s string) string { return s[:16] }

func loadVector[T any](t *testing.T, name string) *T {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

// explainer writes the worked examples of SPEC.md §14 from the vectors,
// computing every figure with the package's own functions.
type explainer struct {
	strings.Builder
}

func (x *explainer) p(format string, args ...any) { fmt.Fprintf(x, format+"\n", args...) }

func (x *explainer) seeds(r *Record) DrawSeed {
	d := NewDrawSeed(r.Seed, r.PublicEntropy)
	x.p("Seeds: S = `%s…`, H(S) = `%s…` (= seed_commitment). Entropy source %q, value %q.",
		short(string(r.Seed)), short(r.SeedCommitment), r.EntropySource, r.PublicEntropy)
	x.p("D = H(S + \"|entropy:\" + E) = `%s…`.", short(string(d)))
	x.p("")
	return d
}

func (x *explainer) pool(r *Record) []int {
	var members []int
	x.p("Candidates (USCC byte order) and the rules of §6.2:")
	x.p("")
	x.p("| # | uscc | town | status | random_draws | exempt | excluded | member |")
	x.p("|---|---|---|---|---|---|---|---|")
	for i, c := range r.Candidates {
		member := ""
		if c.Excluded == "" {
			members = append(members, i)
			member = fmt.Sprint(len(members))
		}
		x.p("| %d | %s | %s | %s | %d | %v | %s | %s |", i, c.USCC, c.Town, c.Status, c.RandomDraws, capExempt(&c), orDash(c.Excluded), orDash(member))
	}
	x.p("")
	return members
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// picks shows sample(seed, n, k) step by step, repeats skipped.
func (x *explainer) picks(label string, seed DerivedSeed, n, k int) {
	x.p("derive(D, %q) = `%s…`; sample(…, %d, %d):", label, short(string(seed)), n, k)
	x.p("")
	var steps []string
	seen := map[int]bool{}
	for i := 1; len(seen) < k; i++ {
		p := Pick(seed, i, n)
		if seen[p] {
			steps = append(steps, fmt.Sprintf("i=%d → %d (repeat, skipped)", i, p))
			continue
		}
		seen[p] = true
		steps = append(steps, fmt.Sprintf("i=%d → %d", i, p))
	}
	x.p("    %s", strings.Join(steps, "; "))
	x.p("")
}

// groups explains the group step of the record's first selections: caps,
// each enterprise's eligible inspectors and order, and the candidates
// refused before the group drawn.
func (x *explainer) groups(r *Record, d DrawSeed, upTo int) {
	p, err := newProblem(r.Roster, r.Groups, len(r.Selections))
	if err != nil {
		panic(err)
	}
	x.p("Groups: shares %s, required %v, valid through %s. m = %d. Certified inspectors and caps (§9.3):", sharesText(r.Groups.Shares), r.Groups.Required, r.Groups.ValidThrough, len(r.Selections))
	x.p("")
	var caps []string
	for i, o := range p.off {
		caps = append(caps, fmt.Sprintf("%s %d", o.BadgeNo, p.caps[i]))
	}
	x.p("    %s", strings.Join(caps, ", "))
	x.p("")
	fixed := make([]int, len(p.off))
	badge := func(g []int) []string {
		out := make([]string, len(g))
		for i, y := range g {
			out[i] = p.off[y].BadgeNo
		}
		return out
	}
	for i, sel := range r.Selections {
		s := p.slot(sel.USCC, d, true)
		if i < upTo {
			x.p("%d. %s:", i+1, sel.USCC)
			for j, sh := range r.Groups.Shares {
				var ord []string
				for pos := range len(s.elig[j]) {
					ord = append(ord, p.off[s.at(j, pos)].BadgeNo)
				}
				x.p("   %s: eligible %v; π = %v.", sh.Department, badge(s.elig[j]), ord)
			}
			var full []string
			for y := range p.off {
				if fixed[y] >= p.caps[y] {
					full = append(full, p.off[y].BadgeNo)
				}
			}
			if len(full) > 0 {
				x.p("   At their cap already: %v.", full)
			}
			var refused []string
			p.candidates(s, func(y int) bool { return fixed[y] < p.caps[y] }, func(g []int) bool {
				if slices.Equal(badge(g), sel.Group) {
					return false
				}
				refused = append(refused, fmt.Sprint(badge(g)))
				return true
			})
			if len(refused) > 0 {
				x.p("   Refused (valid, but then no assignment of the rest exists): %s.", strings.Join(refused, ", "))
			}
			x.p("   Group: %v.", sel.Group)
		}
		for _, b := range sel.Group {
			fixed[slices.IndexFunc(p.off, func(o *Officer) bool { return o.BadgeNo == b })]++
		}
	}
	if upTo < len(r.Selections) {
		x.p("%d–%d. … (as the record shows)", upTo+1, len(r.Selections))
	}
	x.p("")
}

func sharesText(shares []Share) string {
	var parts []string
	for _, s := range shares {
		parts = append(parts, fmt.Sprintf("%s × %d", s.Department, s.Members))
	}
	return strings.Join(parts, " + ")
}

func workedExamples(t *testing.T) string {
	var x explainer

	r := loadVector[Record](t, "directed.json")
	x.p("### 14.1 Directed (`directed.json`)")
	x.p("")
	x.p("Filter: towns %v; count %d.", r.Filter.Towns, r.Sample.Count)
	x.p("")
	d := x.seeds(r)
	members := x.pool(r)
	x.picks("enterprises", d.Derive("enterprises"), len(members), r.SampleSize)
	var drawn []string
	for _, s := range r.Selections {
		drawn = append(drawn, s.USCC)
	}
	x.p("Selections in draw order: %s.", strings.Join(drawn, ", "))
	x.p("")
	x.groups(r, d, 2)

	r = loadVector[Record](t, "undirected-ties.json")
	x.p("### 14.2 Undirected, with remainder ties (`undirected-ties.json`)")
	x.p("")
	pr, scale, _ := ParseRatio(r.Sample.Ratio)
	x.p("Ratio %s = %d/%d of N = %d: k = (%d·%d + %d) div %d = %d.", r.Sample.Ratio, pr, scale, r.PoolSize, pr, r.PoolSize, scale-1, scale, r.SampleSize)
	x.p("")
	d = x.seeds(r)
	x.p("| town | n_t | k·n_t | ⌊k·n_t/N⌋ | remainder | derive(D, \"alloc:\"+t) | drawn |")
	x.p("|---|---|---|---|---|---|---|")
	for _, a := range r.Allocation {
		kn := r.SampleSize * a.PoolSize
		x.p("| %s | %d | %d | %d | %d | `%s…` | %d |", a.Town, a.PoolSize, kn, kn/r.PoolSize, kn%r.PoolSize, short(string(d.Derive("alloc:"+a.Town))), a.Drawn)
	}
	x.p("")
	x.p("All remainders are equal, so the %d places left go to the towns with the smallest tie keys.", r.SampleSize)
	x.p("")
	for _, a := range r.Allocation {
		if a.Drawn > 0 {
			x.picks("town:"+a.Town, d.Derive("town:"+a.Town), a.PoolSize, a.Drawn)
		}
	}
	x.groups(r, d, 1)

	r = loadVector[Record](t, "coverage.json")
	x.p("### 14.3 Coverage (`coverage.json`)")
	x.p("")
	d = x.seeds(r)
	x.pool(r)
	x.p("Every member is drawn, in USCC order. Not listed: the dust-explosion unit, which is no coverage target (§6.1).")
	x.p("")
	x.groups(r, d, 3)

	r = loadVector[Record](t, "joint-scarce.json")
	x.p("### 14.4 Joint plan with a scarce qualification (`joint-scarce.json`)")
	x.p("")
	x.p("Undirected, count %d of %d over three towns. Only B20 and B21 hold non_coal_mine: h = 2, so their cap is ⌊9/2⌋ + 1 = 5 while the brigade's fair share gives ⌊2·9/7⌋ + 1 = 3. Every group needs one of them, so they carry the non_coal_mine work.", r.SampleSize, r.PoolSize)
	x.p("")
	d = x.seeds(r)
	x.groups(r, d, len(r.Selections))

	r = loadVector[Record](t, "lookahead.json")
	x.p("### 14.5 Looking ahead under tight caps (`lookahead.json`)")
	x.p("")
	x.p("Coverage of %d units by groups of two from five inspectors: caps ⌊2·%d/5⌋ + 1 = 5, 25 places for 24. B80 may not inspect two of the units. Where an enterprise's best-ranked group is refused, taking it would leave no assignment for the enterprises after it (§9.5).", r.SampleSize, r.SampleSize)
	x.p("")
	d = x.seeds(r)
	x.groups(r, d, len(r.Selections))

	rep := loadVector[Replacement](t, "replacement-1.json")
	x.p("### 14.6 Replacement (`replacement-1.json`)")
	x.p("")
	in := &ReplacementInput{USCC: rep.USCC, Out: rep.Out, GroupBefore: rep.GroupBefore, Required: rep.Required, ValidThrough: rep.ValidThrough, Roster: rep.Roster}
	eligible, err := in.Eligible()
	if err != nil {
		t.Fatal(err)
	}
	dr := NewDrawSeed(rep.Seed, rep.PublicEntropy)
	label := "replace:" + rep.USCC + ":" + rep.Out
	x.p("%s leaves the group %v of %s (%s). D' = `%s…`. Eligible (badge order): %v.", rep.Out, rep.GroupBefore, rep.USCC, rep.Reason, short(string(dr)), eligible)
	x.p("pick(derive(D', %q), 1, %d) = %d → %s comes in: %v.", label, len(eligible), Pick(dr.Derive(label), 1, len(eligible)), rep.In, rep.GroupAfter)
	return x.String()
}

// lookaheadRefusals counts the groups the record's draw refused although
// they were within the caps so far: the look-ahead of §9.5 at work.
func lookaheadRefusals(r *Record) int {
	p, err := newProblem(r.Roster, r.Groups, len(r.Selections))
	if err != nil {
		return 0
	}
	d := NewDrawSeed(r.Seed, r.PublicEntropy)
	fixed := make([]int, len(p.off))
	refused := 0
	for _, sel := range r.Selections {
		s := p.slot(sel.USCC, d, true)
		p.candidates(s, func(y int) bool { return fixed[y] < p.caps[y] }, func(g []int) bool {
			for i, y := range g {
				if p.off[y].BadgeNo != sel.Group[i] {
					refused++
					return true
				}
			}
			return false
		})
		for _, b := range sel.Group {
			fixed[slices.IndexFunc(p.off, func(o *Officer) bool { return o.BadgeNo == b })]++
		}
	}
	return refused
}

// TestSpecExamplesAreComputed keeps SPEC.md §14 equal to what the code
// computes from the vectors (rewrite with -update).
func TestSpecExamplesAreComputed(t *testing.T) {
	raw, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	spec := string(raw)
	begin, end := strings.Index(spec, examplesBegin), strings.Index(spec, examplesEnd)
	if begin < 0 || end < begin {
		t.Fatal("SPEC.md lacks the examples markers")
	}
	want := spec[:begin+len(examplesBegin)] + workedExamples(t) + spec[end:]
	if *update {
		if err := os.WriteFile(specFile, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != spec {
		t.Fatal("SPEC.md §14 differs from what the code computes (go test -run TestSpecExamplesAreComputed -update)")
	}
}
