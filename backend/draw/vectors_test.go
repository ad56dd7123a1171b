package draw

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"suiji/backend/draw/drawv1"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors from the generator")

const vectorDir = "testdata/vectors"

// Vector is one entry of testdata/vectors/manifest.json: a record file,
// what kind it is, and the verdict every verifier must reach — "ok", or
// "mismatch" with the path of the first field found wrong (SPEC.md §12).
type Vector struct {
	File   string `json:"file,omitempty"`
	Type   string `json:"type"` // draw, replacement, or replacements (a draw's chain)
	Expect string `json:"expect"`
	Path   string `json:"path,omitempty"`
	// History lists the other attempts of the year to check draw_ids
	// against (SPEC.md §6.3).
	History []string `json:"history,omitempty"`
	// Draw and Files give a chain of replacements and the draw they apply to.
	Draw  string   `json:"draw,omitempty"`
	Files []string `json:"files,omitempty"`
	About string   `json:"about"`
}

// Manifest is testdata/vectors/manifest.json.
type Manifest struct {
	AlgorithmVersion string   `json:"algorithm_version"`
	Spec             string   `json:"spec"`
	Note             string   `json:"note"`
	Vectors          []Vector `json:"vectors"`
}

func seedOf(c byte) SealedSeed { return SealedSeed(strings.Repeat(string(c)+"7", 32)) }

func vofficer(badge, dept string, quals ...string) Officer {
	return Officer{BadgeNo: badge, Department: dept, Qualifications: quals, Active: true, CertificateExpires: "2027-12-31"}
}

func uscc(i int) string { return fmt.Sprintf("91140525%010d", i) }

// attempt fills the commitment and times of a vector attempt.
func attempt(id, plan string, seq int, seed SealedSeed, source, value string) Attempt {
	return Attempt{ID: id, PlanID: plan, Seq: seq, Year: 2026, CommittedAt: "2026-03-02T01:00:00Z", DrawnAt: "2026-03-05T02:00:00Z",
		SeedCommitment: seed.Commitment(), EntropySource: source, PublicEntropy: value, Seed: seed}
}

func mustRecord(t *testing.T, a Attempt, kind string, size Size, f Filter, g GroupSpec, all []Candidate, roster []Officer) *Record {
	t.Helper()
	in, err := NewInputs(kind, size, f, g, all, roster)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRecord(a, in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// clone deep-copies a record through JSON, as a tamperer would edit it.
func clone[T any](t *testing.T, v *T) *T {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func indexOf(r *Record, f func(c *Candidate) bool) int {
	for i := range r.Candidates {
		if f(&r.Candidates[i]) {
			return i
		}
	}
	panic("no such candidate in the vector")
}

// generateVectors builds every vector from scratch: the records of small,
// varied draws, and tampered copies with the first mismatch they must give.
func generateVectors(t *testing.T) (map[string][]byte, *Manifest) {
	files := map[string][]byte{}
	m := &Manifest{AlgorithmVersion: AlgorithmVersion, Spec: "../../SPEC.md",
		Note: "Every verifier must reach each vector's verdict: expect ok, or mismatch with path the first field SPEC.md §12 finds wrong. Regenerate with: go test ./backend/draw -run TestVectors -update"}
	put := func(name string, v any) {
		raw, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		files[name] = append(raw, '\n')
	}
	add := func(v Vector) { m.Vectors = append(m.Vectors, v) }
	ok := func(name, about string, rec any) {
		put(name, rec)
		add(Vector{File: name, Type: "draw", Expect: "ok", About: about})
	}
	bad := func(name, path, about string, rec any) {
		put(name, rec)
		add(Vector{File: name, Type: "draw", Expect: "mismatch", Path: path, About: about})
	}
	towns := []string{"巴公镇", "高都镇", "金村镇"}
	lottery := "福彩3D 2026-03-04 开奖号码"

	// Directed: a filter, every pool rule, conflicts and a last inspection.
	var all []Candidate
	for i := range 14 {
		c := Candidate{USCC: uscc(i), Town: towns[i%3], Industry: []string{"制造业", "化工"}[i%2], Status: StatusActive}
		switch i {
		case 3:
			c.Status = "closed"
		case 4, 6:
			c.RandomDraws, c.DrawIDs, c.CoveredThisYear = 2, []string{"plan-x-1", "plan-y-1"}, true
		case 7:
			c.RandomDraws, c.DrawIDs, c.CoveredThisYear, c.Flags = 2, []string{"plan-x-1", "plan-y-1"}, true, []string{"high_credit_risk"}
		case 9:
			c.RandomDraws, c.DrawIDs, c.CoveredThisYear, c.NonCooperation = 3, []string{"plan-x-1", "plan-y-1", "plan-z-1"}, true, true
		}
		all = append(all, c)
	}
	roster := []Officer{vofficer("B01", "brigade", "general"), vofficer("B02", "brigade", "general"), vofficer("B03", "brigade", "general"),
		vofficer("B04", "brigade", "general"), vofficer("B05", "brigade", "general"), vofficer("B06", "brigade", "general")}
	roster[1].Active = false
	roster[2].CertificateExpires = "2026-06-30"
	roster[3].Conflicts = []string{uscc(0), uscc(1)}
	roster[4].LastInspected = []string{uscc(4), uscc(1)}
	brigade2 := GroupSpec{Shares: []Share{{"brigade", 2}}, Required: []string{"general"}, ValidThrough: "2026-12-31"}
	directed := mustRecord(t, attempt("plan-d-1", "plan-d", 1, seedOf('a'), lottery, "4 7 1"), KindDirected, Size{Count: 4},
		Filter{Towns: []string{"巴公镇", "高都镇"}}, brigade2, all, roster)
	ok("directed.json", "directed: a town filter, a closed unit, units drawn twice (one exempt for high credit risk, one for non-cooperation), an inactive officer, an expired certificate, a conflict of interest, a last inspection", directed)
	capped := indexOf(directed, func(c *Candidate) bool { return c.Excluded == ExcludedDrawnTwice })
	r := clone(t, directed)
	r.Candidates[capped].Excluded = ""
	bad("directed-exclusion-altered.json", fmt.Sprintf("candidates[%d].excluded", capped), "an exclusion removed (art. 16's cap of two)", r)
	r = clone(t, directed)
	r.Candidates[capped].RandomDraws = 1
	bad("directed-history-count-altered.json", fmt.Sprintf("candidates[%d].random_draws", capped), "a history count lowered without removing the draws it counts", r)
	r = clone(t, directed)
	r.PoolSHA256 = strings.Repeat("0", 64)
	bad("directed-pool-hash-altered.json", "pool_sha256", "the pool hash replaced", r)
	r = clone(t, directed)
	r.Seed = seedOf('b')
	bad("directed-seed-altered.json", "seed", "another seed revealed than was committed", r)
	r = clone(t, directed)
	for i := range r.Candidates {
		if c := &r.Candidates[i]; c.Excluded == "" && !slices.ContainsFunc(r.Selections, func(s Selection) bool { return s.USCC == c.USCC }) {
			r.Selections[1].USCC, r.Selections[1].Town = c.USCC, c.Town
			break
		}
	}
	bad("directed-selection-altered.json", "selections[1].uscc", "a drawn enterprise swapped for one not drawn", r)
	r = clone(t, directed)
	i := slices.IndexFunc(r.Roster, func(o Officer) bool { return len(o.Conflicts) > 0 })
	r.Roster[i].Conflicts = []string{}
	bad("directed-conflict-removed.json", "roster_sha256", "a declared conflict of interest removed from the roster", r)

	// Undirected with remainder ties: four towns of three, 0.25 → 3 places.
	all = nil
	for i := range 12 {
		all = append(all, Candidate{USCC: uscc(100 + i), Town: []string{"巴公镇", "高都镇", "金村镇", "大东沟镇"}[i%4], Industry: "制造业", Status: StatusActive})
	}
	roster = nil
	for i := range 5 {
		roster = append(roster, vofficer(fmt.Sprintf("B%02d", 10+i), "brigade", "general"))
	}
	ties := mustRecord(t, attempt("plan-u-1", "plan-u", 1, seedOf('c'), "", ""), KindUndirected, Size{Ratio: "0.25"}, Filter{}, brigade2, all, roster)
	ok("undirected-ties.json", "undirected: 0.25 of 12 over four towns of three — equal remainders, broken by the seed; no public entropy", ties)
	r = clone(t, ties)
	r.Allocation[0].Drawn++
	bad("undirected-ties-allocation-altered.json", "allocation[0]", "a town given one more place", r)

	// Coverage: key-supervision and blacklisted units not yet covered.
	all = []Candidate{
		{USCC: uscc(200), Town: "巴公镇", Industry: "煤炭开采", Status: StatusActive, Categories: []string{"coal_mine"}},
		{USCC: uscc(201), Town: "高都镇", Industry: "化工", Status: StatusActive, Categories: []string{"hazardous_chemicals", "major_hazard_source"}},
		{USCC: uscc(202), Town: "金村镇", Industry: "化工", Status: StatusActive, Categories: []string{"hazardous_chemicals"}, RandomDraws: 1, DrawIDs: []string{"plan-x-1"}, CoveredThisYear: true},
		{USCC: uscc(203), Town: "巴公镇", Industry: "制造业", Status: StatusActive, Flags: []string{"blacklist"}},
		{USCC: uscc(204), Town: "巴公镇", Industry: "制造业", Status: "closed", Categories: []string{"metallurgy_industry_trade"}},
		{USCC: uscc(205), Town: "高都镇", Industry: "制造业", Status: StatusActive, Categories: []string{"dust_explosion"}},
		{USCC: uscc(206), Town: "高都镇", Industry: "非煤矿山", Status: StatusActive, Categories: []string{"non_coal_mine"}, CoveredThisYear: true},
	}
	roster = []Officer{vofficer("H01", "hazchem", "general", "hazardous_chemicals"), vofficer("H02", "hazchem", "general"),
		vofficer("H03", "hazchem", "general", "hazardous_chemicals"), vofficer("H04", "hazchem", "general")}
	hazchem2 := GroupSpec{Shares: []Share{{"hazchem", 2}}, Required: []string{"general", "hazardous_chemicals"}, ValidThrough: "2026-12-31"}
	cov := mustRecord(t, attempt("plan-c-1", "plan-c", 1, seedOf('d'), lottery, "9 0 3"), KindCoverage, Size{}, Filter{}, hazchem2, all, roster)
	ok("coverage.json", "coverage: every key-supervision or blacklisted unit not yet covered (one covered by a draw, one by another check, one closed; a dust-explosion unit is not a target)", cov)
	r = clone(t, cov)
	r.Candidates[indexOf(r, func(c *Candidate) bool { return c.USCC == uscc(206) })].Excluded = ""
	bad("coverage-covered-unit-readmitted.json", "candidates[5].excluded", "a unit covered this year put back into a coverage pool", r)

	// Joint plan with a scarce qualification.
	all = nil
	for i := range 20 {
		all = append(all, Candidate{USCC: uscc(300 + i), Town: towns[i%3], Industry: "化工", Status: StatusActive, Categories: []string{"hazardous_chemicals"}})
	}
	roster = nil
	for i := range 7 {
		q := []string{"general"}
		if i < 2 {
			q = append(q, "non_coal_mine")
		}
		roster = append(roster, vofficer(fmt.Sprintf("B%02d", 20+i), "brigade", q...))
	}
	for i := range 3 {
		o := vofficer(fmt.Sprintf("H%02d", 20+i), "hazchem", "general", "hazardous_chemicals")
		if i == 0 {
			o.Conflicts = []string{uscc(301), uscc(305)}
		}
		roster = append(roster, o)
	}
	roster[0].LastInspected = []string{uscc(300), uscc(303)}
	joint := GroupSpec{Shares: []Share{{"brigade", 2}, {"hazchem", 1}}, Required: []string{"general", "hazardous_chemicals", "non_coal_mine"}, ValidThrough: "2026-12-31"}
	jointRec := mustRecord(t, attempt("plan-j-1", "plan-j", 1, seedOf('e'), lottery, "2 2 8"), KindUndirected, Size{Count: 9}, Filter{}, joint, all, roster)
	ok("joint-scarce.json", "joint plan: two brigade members and one from the hazchem office; only two brigade inspectors hold non_coal_mine, so their load cap (floor(9/2)+1 = 5) decides; conflicts and a last inspection", jointRec)
	r = clone(t, jointRec)
	g := r.Selections[2].Group
	g[0], g[1] = g[1], g[0]
	bad("joint-scarce-group-order-altered.json", "selections[2].group", "two members of a group listed in another order", r)

	// Tight caps where taking each enterprise's best group without looking
	// ahead runs short: five inspectors with 25 places for 24.
	all = nil
	for i := range 12 {
		all = append(all, Candidate{USCC: uscc(700 + i), Town: towns[i%3], Industry: "冶金", Status: StatusActive, Categories: []string{"metallurgy_industry_trade"}})
	}
	roster = nil
	for i := range 5 {
		roster = append(roster, vofficer(fmt.Sprintf("B%02d", 80+i), "brigade", "general"))
	}
	roster[0].Conflicts = []string{uscc(703), uscc(707)}
	var tight *Record
	for n := range 1000 {
		r := mustRecord(t, attempt("plan-t-1", "plan-t", 1, SealedSeed(fmt.Sprintf("%064x", 0x7700+n)), "", ""), KindCoverage, Size{}, Filter{}, brigade2, all, roster)
		if r.Outcome == OutcomeDrawn && lookaheadRefusals(r) > 0 {
			tight = r
			break
		}
	}
	if tight == nil {
		t.Fatal("no seed made the look-ahead refuse a group")
	}
	ok("lookahead.json", "tight load caps (five inspectors, 25 places for 24): an enterprise's best group is refused because no assignment of the rest would exist; a plain greedy step would run short", tight)

	// The ratio that binary floating point gets wrong: 0.07 × 300 = 21.
	all = nil
	for i := range 300 {
		all = append(all, Candidate{USCC: uscc(1000 + i), Town: towns[i%3], Industry: "制造业", Status: StatusActive})
	}
	roster = nil
	for i := range 12 {
		roster = append(roster, vofficer(fmt.Sprintf("B%02d", 40+i), "brigade", "general"))
	}
	ratio := mustRecord(t, attempt("plan-r-1", "plan-r", 1, seedOf('f'), lottery, "5 5 0"), KindUndirected, Size{Ratio: "0.07"}, Filter{}, brigade2, all, roster)
	ok("ratio.json", "ratio 0.07 of 300: exactly 21 (binary floating point gives 22)", ratio)
	r = clone(t, ratio)
	r.Sample.Ratio = "0.08"
	bad("ratio-altered.json", "sample_size", "the published ratio changed after the draw", r)

	// A failed attempt, then a redraw with its own seed and an approved
	// reason. Units 400–403 conflict with two of the four inspectors, so
	// their groups all need the other two, whose cap is floor(2·5/4)+1 = 3:
	// the pool passes the commit-time check, but an attempt that draws all
	// four of them cannot form groups.
	all = nil
	for i := range 6 {
		all = append(all, Candidate{USCC: uscc(400 + i), Town: "巴公镇", Industry: "制造业", Status: StatusActive})
	}
	roster = []Officer{vofficer("B60", "brigade", "general"), vofficer("B61", "brigade", "general"), vofficer("B62", "brigade", "general"), vofficer("B63", "brigade", "general")}
	roster[0].Conflicts = []string{uscc(400), uscc(401), uscc(402), uscc(403)}
	roster[1].Conflicts = roster[0].Conflicts
	in, err := NewInputs(KindDirected, Size{Count: 5}, Filter{}, brigade2, all, roster)
	if err != nil || Check(in) != nil {
		t.Fatalf("the failed vector's pool must pass the commit-time check: %v %v", err, Check(in))
	}
	var failed, redrawRec *Record
	for _, c := range []byte("0123456789abcdef") {
		a := attempt("plan-f-1", "plan-f", 1, seedOf(c), lottery, "1 1 "+string(c))
		if failed == nil {
			if r, _ := NewRecord(a, in); r.Outcome == OutcomeFailed {
				failed = r
			}
			continue
		}
		a.ID, a.Seq, a.Reason, a.CommittedAt, a.DrawnAt = "plan-f-2", 2, "首次抽取未能组成检查组，经分管领导批准重新抽取", "2026-03-05T03:00:00Z", "2026-03-06T02:00:00Z"
		if r, _ := NewRecord(a, in); r.Outcome == OutcomeDrawn {
			redrawRec = r
			break
		}
	}
	if failed == nil || redrawRec == nil {
		t.Fatal("no seed gave the failed attempt and its redraw")
	}
	ok("failed.json", "a failed attempt: what it drew cannot form groups within the load cap; its seed and selection stay unpublished, its pool and roster check out", failed)
	r = clone(t, failed)
	r.Seed = seedOf('0')
	bad("failed-seed-revealed.json", "seed", "a failed attempt that reveals its seed (and so what it would have drawn)", r)
	ok("redraw.json", "the redraw after the failed attempt: sequence 2, its own sealed seed and public entropy, the approved reason, the same frozen pool", redrawRec)

	// Replacements after dispatch, on the joint draw.
	sel := jointRec.Selections[0]
	repRoster := clone(t, &struct{ R []Officer }{jointRec.Roster}).R
	for i := range repRoster {
		if repRoster[i].BadgeNo == sel.Group[0] {
			repRoster[i].Active = false // fell ill
		}
	}
	rin := &ReplacementInput{USCC: sel.USCC, Out: sel.Group[0], GroupBefore: sel.Group, Required: joint.Required,
		ValidThrough: joint.ValidThrough, Roster: repRoster}
	ra := attempt("plan-j-1-r1", "", 1, seedOf('3'), lottery, "6 0 2")
	ra.CommittedAt, ra.DrawnAt = "2026-03-10T01:00:00Z", "2026-03-11T02:00:00Z"
	rep1, err := NewReplacement(ra, jointRec.ID, "生病住院", rin)
	if err != nil {
		t.Fatal(err)
	}
	rin2 := &ReplacementInput{USCC: sel.USCC, Out: rep1.GroupAfter[2], GroupBefore: rep1.GroupAfter, Required: joint.Required,
		ValidThrough: joint.ValidThrough, Roster: repRoster}
	rin2.Roster = clone(t, &struct{ R []Officer }{repRoster}).R
	for i := range rin2.Roster {
		if rin2.Roster[i].BadgeNo == rin2.Out {
			rin2.Roster[i].Conflicts = append(rin2.Roster[i].Conflicts, sel.USCC) // a conflict found late
		}
	}
	rb := attempt("plan-j-1-r2", "", 2, seedOf('4'), "", "")
	rb.CommittedAt, rb.DrawnAt = "2026-03-12T01:00:00Z", "2026-03-12T02:00:00Z"
	rep2, err := NewReplacement(rb, jointRec.ID, "发现利害关系，申请回避", rin2)
	if err != nil {
		t.Fatal(err)
	}
	put("replacement-1.json", rep1)
	put("replacement-2.json", rep2)
	add(Vector{File: "replacement-1.json", Type: "replacement", Expect: "ok", About: "a brigade member of the joint draw's first group fell ill: replaced at random from the eligible brigade inspectors"})
	add(Vector{File: "replacement-2.json", Type: "replacement", Expect: "ok", About: "the hazchem member of the same group declared a conflict: replaced from the hazchem office; no public entropy"})
	add(Vector{Type: "replacements", Draw: "joint-scarce.json", Files: []string{"replacement-1.json", "replacement-2.json"}, Expect: "ok", About: "the group's replacements in order, each from the group the one before left"})
	rt := clone(t, rep1)
	rt.In = slices.DeleteFunc(slices.Clone(rep1.GroupAfter), func(b string) bool { return b == rep1.In })[0]
	put("replacement-1-in-altered.json", rt)
	add(Vector{File: "replacement-1-in-altered.json", Type: "replacement", Expect: "mismatch", Path: "in", About: "a replacement chosen by hand"})
	skip := &ReplacementInput{USCC: sel.USCC, Out: sel.Group[2], GroupBefore: sel.Group, Required: joint.Required, ValidThrough: joint.ValidThrough, Roster: rin2.Roster}
	rep2skip, err := NewReplacement(rb, jointRec.ID, "发现利害关系，申请回避", skip)
	if err != nil {
		t.Fatal(err)
	}
	put("replacement-2-skips-first.json", rep2skip)
	add(Vector{Type: "replacements", Draw: "joint-scarce.json", Files: []string{"replacement-1.json", "replacement-2-skips-first.json"}, Expect: "mismatch", Path: "replacements[1].group_before",
		About: "a second replacement computed from the drawn group as if the first had not happened"})

	// History: plan B's candidates name the draw of plan A in force before B's commitment.
	all = nil
	for i := range 8 {
		all = append(all, Candidate{USCC: uscc(500 + i), Town: towns[i%3], Industry: "制造业", Status: StatusActive})
	}
	roster = nil
	for i := range 5 {
		roster = append(roster, vofficer(fmt.Sprintf("B%02d", 70+i), "brigade", "general"))
	}
	ha := attempt("plan-a-1", "plan-a", 1, seedOf('5'), "", "")
	ha.CommittedAt, ha.DrawnAt = "2026-02-01T01:00:00Z", "2026-02-02T01:00:00Z"
	histA := mustRecord(t, ha, KindDirected, Size{Count: 3}, Filter{}, brigade2, all, roster)
	for _, s := range histA.Selections {
		i := slices.IndexFunc(all, func(c Candidate) bool { return c.USCC == s.USCC })
		all[i].RandomDraws, all[i].DrawIDs, all[i].CoveredThisYear = 1, []string{histA.ID}, true
		for j := range roster {
			if slices.Contains(s.Group, roster[j].BadgeNo) {
				roster[j].LastInspected = append(roster[j].LastInspected, s.USCC)
			}
		}
	}
	histB := mustRecord(t, attempt("plan-b-1", "plan-b", 1, seedOf('6'), "", ""), KindDirected, Size{Count: 4}, Filter{}, brigade2, all, roster)
	put("history-a.json", histA)
	put("history-b.json", histB)
	add(Vector{File: "history-a.json", Type: "draw", Expect: "ok", About: "plan A's draw of February"})
	add(Vector{File: "history-b.json", Type: "draw", Expect: "ok", History: []string{"history-a.json"}, About: "plan B, committed in March: the units plan A drew count one draw each, its inspectors are their last inspection"})
	hidden := slices.Clone(all)
	hiddenAt := slices.IndexFunc(hidden, func(c Candidate) bool { return c.RandomDraws == 1 })
	hidden[hiddenAt].RandomDraws, hidden[hiddenAt].DrawIDs, hidden[hiddenAt].CoveredThisYear = 0, nil, false
	histBHidden := mustRecord(t, attempt("plan-b-1", "plan-b", 1, seedOf('6'), "", ""), KindDirected, Size{Count: 4}, Filter{}, brigade2, hidden, roster)
	if err := Verify(histBHidden); err != nil {
		t.Fatalf("the hidden-history vector must be consistent in itself: %v", err)
	}
	put("history-b-draw-hidden.json", histBHidden)
	add(Vector{File: "history-b-draw-hidden.json", Type: "draw", Expect: "mismatch", Path: fmt.Sprintf("candidates[%d].draw_ids", indexOf(histBHidden, func(c *Candidate) bool { return c.USCC == hidden[hiddenAt].USCC })),
		History: []string{"history-a.json"}, About: "plan B's record made consistent in itself after hiding that plan A drew a unit: only the year's other records show it"})

	// One draw of plan A listed twice would count as two: the unit drawn
	// once is "drawn twice this year" and leaves the pool. The record is
	// made consistent in itself (pool hash and all); only the form of
	// draw_ids — byte order, no repeats — gives it away, with or without
	// the year's other records.
	twice := slices.Clone(all)
	twiceAt := slices.IndexFunc(twice, func(c Candidate) bool { return c.RandomDraws == 1 })
	twice[twiceAt].RandomDraws, twice[twiceAt].DrawIDs = 2, []string{histA.ID, histA.ID + "~"} // distinct, so the record keeps both
	histBTwice := mustRecord(t, attempt("plan-b-1", "plan-b", 1, seedOf('6'), "", ""), KindDirected, Size{Count: 4}, Filter{}, brigade2, twice, roster)
	twiceIdx := indexOf(histBTwice, func(c *Candidate) bool { return c.USCC == twice[twiceAt].USCC })
	histBTwice.Candidates[twiceIdx].DrawIDs = []string{histA.ID, histA.ID}
	histBTwice.PoolSHA256 = PoolHash(histBTwice.Candidates)
	put("history-b-draw-twice.json", histBTwice)
	add(Vector{File: "history-b-draw-twice.json", Type: "draw", Expect: "mismatch", Path: fmt.Sprintf("candidates[%d].draw_ids", twiceIdx),
		History: []string{"history-a.json"}, About: "plan B's record listing plan A's one draw of a unit twice, so that it counts as drawn twice this year and leaves the pool"})

	// A record of suiji-draw/1, verified under its own rules.
	v1 := v1Record(t)
	ok("v1.json", "a record of suiji-draw/1 (floating-point ratio, last inspectors on the pool): still verifies under the rules it was drawn by", v1)
	v1bad := clone(t, v1)
	v1bad.Selections[3].Group[0] = "B11"
	bad("v1-group-altered.json", "selections[3].group", "a version-1 record with a group member changed", v1bad)

	put("manifest.json", m)
	return files, m
}

// v1Record draws a version-1 record with the frozen version-1 code.
func v1Record(t *testing.T) *drawv1.Record {
	var all []drawv1.Candidate
	towns := []string{"巴公镇", "高都镇", "金村镇", "大东沟镇"}
	for i := range 40 {
		c := drawv1.Candidate{USCC: uscc(600 + i), Town: towns[i%4], Industry: "制造业", Active: true}
		if i%5 == 0 {
			c.Categories = []string{"hazardous_chemicals"}
		}
		if i%7 == 0 {
			c.LastInspectors = []string{"B03"}
		}
		all = append(all, c)
	}
	var roster []drawv1.Officer
	for i := range 12 {
		quals := []string{"general"}
		if i%3 == 0 {
			quals = append(quals, "hazardous_chemicals")
		}
		roster = append(roster, drawv1.Officer{BadgeNo: fmt.Sprintf("B%02d", i), Department: "brigade", Qualifications: quals, Active: true, CertificateExpires: "2027-12-31"})
	}
	in := drawv1.Inputs{Kind: drawv1.KindUndirected, Size: drawv1.Size{Ratio: 0.2}, Pool: drawv1.BuildPool(all, drawv1.Filter{}, false), Roster: roster,
		Groups: drawv1.GroupSpec{Shares: []drawv1.Share{{Department: "brigade", Members: 2}}, Required: []string{"general", "hazardous_chemicals"}, ValidThrough: "2026-12-31"}}
	seed := strings.Repeat("ab", 32)
	sel, alloc, err := drawv1.Run(drawv1.DrawSeed(seed, "2026-01-28 福彩3D 0 3 7", 1), in)
	if err != nil {
		t.Fatal(err)
	}
	r := drawv1.NewRecord(seed, "2026-01-28 福彩3D 0 3 7", in, sel, alloc)
	r.ID, r.PlanID, r.Seq = "plan-v1-1", "plan-v1", 1
	return r
}

// TestVectors keeps testdata/vectors exactly what the generator makes
// (rewrite with -update) and runs the Go verifier over every vector.
func TestVectors(t *testing.T) {
	files, m := generateVectors(t)
	if *update {
		if err := os.RemoveAll(vectorDir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(vectorDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, raw := range files {
			if err := os.WriteFile(filepath.Join(vectorDir, name), raw, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	stored, err := os.ReadDir(vectorDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(files) {
		t.Fatalf("%d files in %s, the generator makes %d (go test -run TestVectors -update)", len(stored), vectorDir, len(files))
	}
	for name, raw := range files {
		got, err := os.ReadFile(filepath.Join(vectorDir, name))
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("%s differs from what the generator makes: a rule changed outcomes (that needs a new algorithm version) or the vectors are stale (-update): %v", name, err)
		}
	}
	for _, v := range m.Vectors {
		name := v.File + strings.Join(v.Files, "+")
		t.Run(name, func(t *testing.T) {
			path, err := goVerdict(v)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case v.Expect == "ok" && path != "":
				t.Fatalf("expected ok, the Go verifier found a mismatch at %s", path)
			case v.Expect == "mismatch" && path != v.Path:
				t.Fatalf("expected the first mismatch at %s, the Go verifier says %q", v.Path, path)
			}
		})
	}
}

// goVerdict runs the Go verifier on one vector: "" when it checks out, the
// path of the first mismatch otherwise.
func goVerdict(v Vector) (string, error) {
	open := func(name string) (*os.File, error) { return os.Open(filepath.Join(vectorDir, name)) }
	verdict := func(err error) (string, error) {
		var mm *Mismatch
		if errors.As(err, &mm) {
			return mm.Path, nil
		}
		return "", err
	}
	switch v.Type {
	case "draw", "replacement":
		f, err := open(v.File)
		if err != nil {
			return "", err
		}
		defer f.Close()
		got, err := VerifyStream(f)
		if err != nil || len(v.History) == 0 {
			return verdict(err)
		}
		var past []Past
		for _, h := range v.History {
			raw, err := os.ReadFile(filepath.Join(vectorDir, h))
			if err != nil {
				return "", err
			}
			var rec Record
			if err := json.Unmarshal(raw, &rec); err != nil {
				return "", err
			}
			p, err := PastOf(&rec)
			if err != nil {
				return "", err
			}
			past = append(past, p)
		}
		return verdict(VerifyHistory(got.Record, past))
	case "replacements":
		var rec Record
		raw, err := os.ReadFile(filepath.Join(vectorDir, v.Draw))
		if err != nil {
			return "", err
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			return "", err
		}
		var reps []*Replacement
		for _, name := range v.Files {
			raw, err := os.ReadFile(filepath.Join(vectorDir, name))
			if err != nil {
				return "", err
			}
			var rp Replacement
			if err := json.Unmarshal(raw, &rp); err != nil {
				return "", err
			}
			reps = append(reps, &rp)
		}
		return verdict(VerifyReplacements(&rec, reps))
	}
	return "", fmt.Errorf("unknown vector type %q", v.Type)
}
