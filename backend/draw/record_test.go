package draw

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// sampleInputs is a realistic small county: 60 enterprises over four
// towns, a few excluded by the pool rules, 12 brigade inspectors of whom
// every third holds the scarce qualification.
func sampleInputs(t *testing.T) *Inputs {
	t.Helper()
	var all []Candidate
	towns := []string{"巴公镇", "高都镇", "金村镇", "大东沟镇"}
	for i := range 60 {
		c := Candidate{USCC: fmt.Sprintf("911405250000%06d", i), Town: towns[i%4], Industry: "制造业", Status: StatusActive}
		if i%5 == 0 {
			c.Categories = []string{"hazardous_chemicals"}
		}
		if i%11 == 0 {
			c.RandomDraws, c.DrawIDs, c.CoveredThisYear = 2, []string{"a-1", "b-1"}, true
		}
		if i == 7 {
			c.Status = "closed"
		}
		all = append(all, c)
	}
	var roster []Officer
	for i := range 12 {
		quals := []string{"general"}
		if i%3 == 0 {
			quals = append(quals, "hazardous_chemicals")
		}
		o := vofficer(fmt.Sprintf("B%02d", i), "brigade", quals...)
		if i == 4 {
			o.Conflicts = []string{all[4].USCC}
		}
		if i == 5 {
			for j := 0; j < len(all); j += 2 {
				o.LastInspected = append(o.LastInspected, all[j].USCC)
			}
		}
		roster = append(roster, o)
	}
	roster = append(roster, vofficer("X01", "other", "general")) // not in the plan's departments
	in, err := NewInputs(KindUndirected, Size{Ratio: "0.2"}, Filter{},
		GroupSpec{Shares: []Share{{"brigade", 2}}, Required: []string{"general", "hazardous_chemicals"}, ValidThrough: "2026-12-31"}, all, roster)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func sampleRecord(t *testing.T) *Record {
	t.Helper()
	rec, err := NewRecord(attempt("p-2", "p", 2, seedOf('a'), "福彩3D 2026-11-28 开奖号码", "0 3 7"), sampleInputs(t))
	if err != nil || rec.Outcome != OutcomeDrawn {
		t.Fatalf("%v %+v", err, rec)
	}
	return clone(t, rec)
}

func TestVerifyAcceptsAPublishedRecord(t *testing.T) {
	r := sampleRecord(t)
	if len(r.Selections) != 11 || len(r.Allocation) != 4 || len(r.Candidates) != 60 || r.PoolSize != 53 || len(r.Roster) != 12 {
		t.Fatalf("unexpected draw: %d selections, %d towns, %d candidates, pool %d, roster %d", len(r.Selections), len(r.Allocation), len(r.Candidates), r.PoolSize, len(r.Roster))
	}
	if err := Verify(r); err != nil {
		t.Fatalf("genuine record rejected: %v", err)
	}
}

func TestVerifyRejectsAnyAlteredField(t *testing.T) {
	alterations := map[string]func(r *Record){
		"seed":               func(r *Record) { r.Seed = seedOf('c') },
		"seed commitment":    func(r *Record) { r.SeedCommitment = seedOf('c').Commitment() },
		"public entropy":     func(r *Record) { r.PublicEntropy = "0 3 8" },
		"entropy source":     func(r *Record) { r.EntropySource = "" },
		"algorithm version":  func(r *Record) { r.AlgorithmVersion = "suiji-draw/1" },
		"outcome":            func(r *Record) { r.Outcome = OutcomeFailed },
		"kind":               func(r *Record) { r.Kind = KindDirected },
		"ratio":              func(r *Record) { r.Sample.Ratio = "0.25" },
		"ratio form":         func(r *Record) { r.Sample.Ratio = "0.20000001" },
		"filter":             func(r *Record) { r.Filter.Towns = []string{"巴公镇"} },
		"candidate town":     func(r *Record) { r.Candidates[3].Town = "巴公镇" },
		"candidate order":    func(r *Record) { r.Candidates[1], r.Candidates[2] = r.Candidates[2], r.Candidates[1] },
		"candidate added":    func(r *Record) { r.Candidates = append(r.Candidates, candidate("99999999999999999X", "巴公镇")) },
		"candidate dropped":  func(r *Record) { r.Candidates = r.Candidates[1:] },
		"status":             func(r *Record) { r.Candidates[7].Status = StatusActive },
		"exclusion":          func(r *Record) { r.Candidates[11].Excluded = "" },
		"history count":      func(r *Record) { r.Candidates[22].RandomDraws = 1 },
		"history ids":        func(r *Record) { r.Candidates[22].DrawIDs = []string{"a-1"}; r.Candidates[22].RandomDraws = 1 },
		"pool hash":          func(r *Record) { r.PoolSHA256 = strings.Repeat("0", 64) },
		"pool size":          func(r *Record) { r.PoolSize++ },
		"sample size":        func(r *Record) { r.SampleSize-- },
		"qualification":      func(r *Record) { r.Roster[1].Qualifications = []string{"general", "hazardous_chemicals"} },
		"conflict":           func(r *Record) { r.Roster[4].Conflicts = []string{} },
		"last inspection":    func(r *Record) { r.Roster[5].LastInspected = []string{} },
		"roster hash":        func(r *Record) { r.RosterSHA256 = strings.Repeat("0", 64) },
		"roster department":  func(r *Record) { r.Roster[0].Department = "other" },
		"allocation":         func(r *Record) { r.Allocation[0].Drawn++ },
		"selection uscc":     func(r *Record) { r.Selections[0].USCC = r.Candidates[0].USCC },
		"selection town":     func(r *Record) { r.Selections[2].Town = "别的镇" },
		"group member":       func(r *Record) { r.Selections[5].Group[1] = "B11" },
		"group order":        func(r *Record) { g := r.Selections[6].Group; g[0], g[1] = g[1], g[0] },
		"selection added":    func(r *Record) { r.Selections = append(r.Selections, r.Selections[0]) },
		"required removed":   func(r *Record) { r.Groups.Required = []string{"general"} },
		"valid through":      func(r *Record) { r.Groups.ValidThrough = "2028-01-01" },
		"share":              func(r *Record) { r.Groups.Shares[0].Members = 3 },
		"keep last":          func(r *Record) { r.Groups.KeepLastInspectors = true },
		"failure on success": func(r *Record) { r.Failure = ShortCombination },
	}
	for name, alter := range alterations {
		t.Run(name, func(t *testing.T) {
			r := sampleRecord(t)
			alter(r)
			var m *Mismatch
			if err := Verify(r); !errors.As(err, &m) {
				t.Fatalf("altered record: %v", err)
			} else {
				t.Log(err)
			}
		})
	}
}

// TestFailedAttemptRevealsNothing: an attempt whose draw cannot form
// groups is a record with its reason in aggregate terms and without its
// seed or anything it selected; the record still verifies (its pool and
// roster).
func TestFailedAttemptRevealsNothing(t *testing.T) {
	in := sampleInputs(t)
	for i := range in.Roster { // the holders may inspect none of the enterprises
		if slices.Contains(in.Roster[i].Qualifications, "hazardous_chemicals") {
			for _, c := range in.Pool.Candidates {
				in.Roster[i].Conflicts = append(in.Roster[i].Conflicts, c.USCC)
			}
		}
	}
	rec, err := NewRecord(attempt("p-1", "p", 1, seedOf('a'), "", ""), in)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != OutcomeFailed || rec.Seed != "" || len(rec.Selections) != 0 || rec.Failure == "" {
		t.Fatalf("failed attempt %q seed %q selections %d failure %q", rec.Outcome, rec.Seed, len(rec.Selections), rec.Failure)
	}
	raw, _ := json.Marshal(rec)
	if bytes.Contains(raw, []byte(string(seedOf('a')))) {
		t.Fatal("the failed attempt's record contains its seed")
	}
	if err := Verify(clone(t, rec)); err != nil {
		t.Fatalf("a failed attempt's record must verify: %v", err)
	}
	for _, c := range rec.Candidates {
		if strings.Contains(rec.Failure, c.USCC) {
			t.Fatalf("the failure names %s", c.USCC)
		}
	}
}

// TestCheckNeedsNoSeed: the commit-time check refuses a pool with an
// enterprise nobody can inspect, and a plan whose groups cannot fit the
// load caps, before any seed exists; it accepts the sample county.
func TestCheckNeedsNoSeed(t *testing.T) {
	if err := Check(sampleInputs(t)); err != nil {
		t.Fatalf("a feasible plan refused: %v", err)
	}
	in := sampleInputs(t)
	target := in.Pool.Member(3).USCC
	for i := range in.Roster {
		if slices.Contains(in.Roster[i].Qualifications, "hazardous_chemicals") {
			in.Roster[i].Conflicts = append(in.Roster[i].Conflicts, target)
		}
	}
	var fe *FeasibilityError
	if err := Check(in); !errors.As(err, &fe) || fe.Group.Code != ShortEligibility || !slices.Equal(fe.Ungroupable, []string{target}) {
		t.Fatalf("an enterprise no holder may inspect: %v", err)
	}
	// Three qualifications, each held by two of A, B, C: every group of two
	// needs two of them, 22 places for 11 groups, but their caps give 18.
	in = sampleInputs(t)
	in.Groups.Required = []string{"q1", "q2", "q3"}
	in.Roster = []Officer{vofficer("A", "brigade", "q1", "q3"), vofficer("B", "brigade", "q1", "q2"), vofficer("C", "brigade", "q2", "q3"), vofficer("D", "brigade")}
	if err := Check(in); !errors.As(err, &fe) || fe.Group.Code != ShortCombination || len(fe.Ungroupable) != 0 {
		t.Fatalf("caps too tight for the qualifications together: %v", err)
	}
}

func TestReplacement(t *testing.T) {
	roster := []Officer{
		vofficer("B1", "brigade", "general", "hazardous_chemicals"), vofficer("B2", "brigade", "general"),
		vofficer("B3", "brigade", "general", "hazardous_chemicals"), vofficer("B4", "brigade", "general"),
		vofficer("B5", "brigade", "general", "hazardous_chemicals"), vofficer("H1", "hazchem", "general"),
	}
	roster[2].Conflicts = []string{"E"}
	in := &ReplacementInput{USCC: "E", Out: "B1", GroupBefore: []string{"B1", "B2"}, Required: []string{"general", "hazardous_chemicals"},
		ValidThrough: "2026-12-31", Roster: roster}
	// B1 is the group's only holder: only B5 (B3 conflicts, H1 is of another
	// department, B2 is in the group) can come in.
	if got, err := in.Eligible(); err != nil || !slices.Equal(got, []string{"B5"}) {
		t.Fatalf("eligible %v %v", got, err)
	}
	in.Out, in.GroupBefore = "B2", []string{"B1", "B2"}
	got, _ := in.Eligible()
	if !slices.Equal(got, []string{"B4", "B5"}) { // B3 conflicts
		t.Fatalf("eligible %v", got)
	}
	seen := map[string]bool{}
	for c := range byte(16) {
		chosen, after, n, err := Replace(NewDrawSeed(seedOf('0'+c), ""), in)
		if err != nil || n != 2 || after[0] != "B1" || after[1] != chosen {
			t.Fatalf("replace: %s %v %d %v", chosen, after, n, err)
		}
		seen[chosen] = true
	}
	if len(seen) != 2 {
		t.Fatalf("the replacement is not random: always %v", seen)
	}
	roster[4].Active = false
	in.Out, in.GroupBefore = "B1", []string{"B1", "B2"}
	if _, _, _, err := Replace(NewDrawSeed(seedOf('1'), ""), in); !errors.Is(err, ErrNoReplacement) {
		t.Fatalf("nobody eligible: %v", err)
	}
	if _, err := NewReplacement(attempt("r", "", 1, seedOf('1'), "", ""), "d", "x", &ReplacementInput{USCC: "E", Out: "Z9", GroupBefore: []string{"B1", "B2"}, Roster: roster}); err == nil {
		t.Fatal("a member not in the group was replaced")
	}
}

func TestVerifyStreamKnowsTheVersions(t *testing.T) {
	raw, _ := json.Marshal(sampleRecord(t))
	v, err := VerifyStream(bytes.NewReader(raw))
	if err != nil || v.Record == nil || v.Selections != 11 || v.Version != AlgorithmVersion {
		t.Fatalf("%+v %v", v, err)
	}
	var m *Mismatch
	if _, err := VerifyStream(strings.NewReader(`{"algorithm_version":"suiji-draw/9","candidates":[]}`)); !errors.As(err, &m) || m.Path != "algorithm_version" {
		t.Fatalf("unknown version: %v", err)
	}
	if _, err := VerifyStream(strings.NewReader(`[1,2]`)); err == nil {
		t.Fatal("a list accepted as a record")
	}
	// Lists before the version are kept whole and decoded afterwards.
	var obj map[string]json.RawMessage
	_ = json.Unmarshal(raw, &obj)
	reordered := []byte(`{"candidates":` + string(obj["candidates"]))
	for k, v := range obj {
		if k != "candidates" {
			reordered = fmt.Appendf(reordered, `,%q:%s`, k, v)
		}
	}
	reordered = append(reordered, '}')
	if _, err := VerifyStream(bytes.NewReader(reordered)); err != nil {
		t.Fatalf("a record with its lists first: %v", err)
	}
}

// TestWriteRecordStreamsTheSameRecord: a record written from stored chunks
// is the record itself, and verifies.
func TestWriteRecordStreamsTheSameRecord(t *testing.T) {
	r := sampleRecord(t)
	var buf bytes.Buffer
	if err := WriteRecord(&buf, &r.RecordHead, ChunkList(r.Candidates, 7), ChunkList(r.Roster, 5), r.Allocation, r.Selections); err != nil {
		t.Fatal(err)
	}
	whole, _ := json.Marshal(r)
	if !bytes.Equal(buf.Bytes(), whole) {
		t.Fatalf("streamed record differs:\n%s\n%s", buf.Bytes()[:200], whole[:200])
	}
	if _, err := VerifyStream(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(Spec, []byte("# suiji-draw/2")) {
		t.Fatal("the specification is not embedded")
	}
}
