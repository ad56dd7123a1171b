package draw

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func python(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is needed to check the standalone verifier: %v", err)
	}
	return p
}

// TestPythonVerifierRunsEveryVector: the verifier the docs give citizens,
// a second implementation written from SPEC.md, reaches every vector's
// verdict, first mismatch included.
func TestPythonVerifierRunsEveryVector(t *testing.T) {
	out, err := exec.Command(python(t), "verify_draw.py", "--manifest", filepath.Join(vectorDir, "manifest.json")).CombinedOutput()
	if err != nil {
		t.Fatalf("the Python verifier disagrees with the manifest: %v\n%s", err, out)
	}
	var m Manifest
	raw, _ := os.ReadFile(filepath.Join(vectorDir, "manifest.json"))
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d of %d vectors as expected", len(m.Vectors), len(m.Vectors)); !strings.Contains(string(out), want) {
		t.Fatalf("want %q in\n%s", want, out)
	}
}

// TestPythonGroupStepAgrees gives the Python verifier's group step the
// random instances of the brute-force comparison, with the Go engine's
// answers: the two implementations must agree on every group and every
// failure.
func TestPythonGroupStepAgrees(t *testing.T) {
	type instance struct {
		Seed   DrawSeed   `json:"seed"`
		USCCs  []string   `json:"usccs"`
		Roster []Officer  `json:"roster"`
		Spec   GroupSpec  `json:"spec"`
		Groups [][]string `json:"groups"` // nil: no assignment exists
	}
	rng := rand.New(rand.NewPCG(8, 8))
	var cases []instance
	failures := 0
	for n := range 1500 {
		usccs, roster, spec := randomInstance(rng)
		for i := range roster {
			roster[i].Qualifications, roster[i].Conflicts, roster[i].LastInspected = sortedSet(roster[i].Qualifications), sortedSet(roster[i].Conflicts), sortedSet(roster[i].LastInspected)
		}
		spec.Required = sortedSet(spec.Required)
		seed := NewDrawSeed(SealedSeed(fmt.Sprintf("%064x", n+99)), "")
		groups, err := DrawGroups(seed, usccs, roster, spec)
		var ge *GroupError
		if err != nil && !errors.As(err, &ge) {
			t.Fatal(err)
		}
		if err != nil {
			failures++
		}
		cases = append(cases, instance{seed, usccs, roster, spec, groups})
	}
	if failures < 200 || failures > 1300 {
		t.Fatalf("unbalanced instances: %d of %d fail", failures, len(cases))
	}
	raw, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "instances.json")
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	script := `
import json, sys, verify_draw as v
bad = 0
for i, c in enumerate(json.load(open(sys.argv[1]))):
    try:
        got = v.draw_groups(c["seed"], c["usccs"], c["roster"], c["spec"])
    except v.GroupFailure:
        got = None
    if got != c["groups"]:
        bad += 1
        print("instance %d: Go %s, Python %s" % (i, c["groups"], got))
print("%d disagree" % bad)
sys.exit(1 if bad else 0)
`
	out, err := exec.Command(python(t), "-c", script, file).CombinedOutput()
	if err != nil {
		t.Fatalf("the Python group step disagrees with Go: %v\n%s", err, out)
	}
}
