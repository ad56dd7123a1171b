package drawv1

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// sampleRecord draws from a pool over several towns with a realistic roster
// and returns the published record after a JSON round trip.
func sampleRecord(t *testing.T) *Record {
	t.Helper()
	var all []Candidate
	towns := []string{"巴公镇", "高都镇", "金村镇", "大东沟镇"}
	for i := range 60 {
		c := candidate(fmt.Sprintf("911405250000%05d", i), towns[i%len(towns)])
		if i%5 == 0 {
			c.Categories = []string{"hazardous_chemicals"}
		}
		if i%7 == 0 {
			c.LastInspectors = []string{"B03"}
		}
		all = append(all, c)
	}
	var roster []Officer
	for i := range 12 {
		quals := []string{"general"}
		if i%3 == 0 {
			quals = append(quals, "hazardous_chemicals")
		}
		o := officer(fmt.Sprintf("B%02d", i), "brigade", quals...)
		if i == 4 {
			o.Conflicts = []string{"911405250000" + "00004"}
		}
		roster = append(roster, o)
	}
	in := Inputs{
		Kind: KindUndirected, Size: Size{Ratio: 0.2},
		Groups: GroupSpec{Shares: []Share{{"brigade", 2}}, Required: []string{"general", "hazardous_chemicals"}, ValidThrough: "2026-12-31"},
		Pool:   BuildPool(all, Filter{}, false), Roster: roster,
	}
	seed := strings.Repeat("ab", 32)
	sel, alloc, err := Run(DrawSeed(seed, "2026-11-28 双色球 03 07 12 19 25 31 + 09", 2), in)
	if err != nil {
		t.Fatal(err)
	}
	rec := NewRecord(seed, "2026-11-28 双色球 03 07 12 19 25 31 + 09", in, sel, alloc)
	rec.Seq = 2 // a redraw, so the redraw rule is checked too
	raw, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var back Record
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	return &back
}

func TestVerifyAcceptsAPublishedRecord(t *testing.T) {
	r := sampleRecord(t)
	if len(r.Selections) != 12 || len(r.Allocation) != 4 {
		t.Fatalf("unexpected draw: %d selections, %d towns", len(r.Selections), len(r.Allocation))
	}
	if err := Verify(r); err != nil {
		t.Fatalf("genuine record rejected: %v", err)
	}
}

func TestVerifyRejectsAnyAlteredField(t *testing.T) {
	alterations := map[string]func(r *Record){
		"seed":              func(r *Record) { r.Seed = strings.Repeat("cd", 32) },
		"seed commitment":   func(r *Record) { r.SeedCommitment = SeedCommitment("other") },
		"public entropy":    func(r *Record) { r.PublicEntropy = "2026-11-28 双色球 03 07 12 19 25 31 + 10" },
		"algorithm version": func(r *Record) { r.AlgorithmVersion = "suiji-draw/0" },
		"kind":              func(r *Record) { r.Kind = KindDirected },
		"seq":               func(r *Record) { r.Seq = 1 },
		"ratio":             func(r *Record) { r.Ratio = 0.25 },
		"pool town":         func(r *Record) { r.Pool[3].Town = "巴公镇" },
		"pool order":        func(r *Record) { r.Pool[1], r.Pool[2] = r.Pool[2], r.Pool[1] },
		"pool member added": func(r *Record) { r.Pool = append(r.Pool, PoolEntry{USCC: "99999999999999999X", Town: "巴公镇"}) },
		"pool hash":         func(r *Record) { r.PoolSHA256 = strings.Repeat("0", 64) },
		"roster qualification": func(r *Record) {
			r.Roster[1].Qualifications = append(r.Roster[1].Qualifications, "hazardous_chemicals")
		},
		"roster conflict":  func(r *Record) { r.Roster[4].Conflicts = nil },
		"roster hash":      func(r *Record) { r.RosterSHA256 = strings.Repeat("0", 64) },
		"allocation":       func(r *Record) { r.Allocation[0].Drawn++ },
		"selection uscc":   func(r *Record) { r.Selections[0].USCC = r.Pool[0].USCC },
		"selection town":   func(r *Record) { r.Selections[2].Town = "别的镇" },
		"group member":     func(r *Record) { r.Selections[5].Group[1] = "B11" },
		"group order":      func(r *Record) { g := r.Selections[6].Group; g[0], g[1] = g[1], g[0] },
		"selection added":  func(r *Record) { r.Selections = append(r.Selections, r.Selections[0]) },
		"required removed": func(r *Record) { r.Groups.Required = []string{"general"} },
		"valid through":    func(r *Record) { r.Groups.ValidThrough = "2028-01-01" },
	}
	for name, alter := range alterations {
		t.Run(name, func(t *testing.T) {
			r := sampleRecord(t)
			alter(r)
			if err := Verify(r); err == nil {
				t.Fatal("altered record accepted")
			} else {
				t.Log(err)
			}
		})
	}
}

func TestCombineSeed(t *testing.T) {
	if CombineSeed("s", "") != "s" || CombineSeed("s", "x") == CombineSeed("s", "y") || CombineSeed("s", "x") != DeriveSeed("s", "entropy:x") {
		t.Fatal("CombineSeed does not follow its rule")
	}
	if SeedCommitment("abc") != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatal("SeedCommitment is not SHA-256 of the seed")
	}
}
