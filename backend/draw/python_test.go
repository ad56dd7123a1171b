package draw

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStandaloneVerifierAgrees runs the Python verifier that the docs give
// citizens on a genuine and an altered record: a second implementation,
// written from the documented procedure, must reach the same verdicts.
func TestStandaloneVerifierAgrees(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is needed to check the standalone verifier: %v", err)
	}
	dir := t.TempDir()
	write := func(name string, r *Record) string {
		raw, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	genuine := sampleRecord(t)
	out, err := exec.Command(python, "verify_draw.py", write("genuine.json", genuine)).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "OK") {
		t.Fatalf("python rejected a genuine record: %v\n%s", err, out)
	}

	altered := sampleRecord(t)
	altered.Selections[3].Group[0] = "B11"
	out, err = exec.Command(python, "verify_draw.py", write("altered.json", altered)).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "MISMATCH: selections[3]") {
		t.Fatalf("python accepted an altered group: %v\n%s", err, out)
	}

	directed := sampleRecord(t)
	directed.Kind, directed.Ratio, directed.Count = KindDirected, 0, 6
	in := directed.inputs()
	in.Pool.SHA256 = directed.PoolSHA256
	sel, alloc, err := Run(DrawSeed(directed.Seed, directed.PublicEntropy, directed.Seq), in)
	if err != nil {
		t.Fatal(err)
	}
	directed.Selections, directed.Allocation = sel, nonNil(alloc)
	out, err = exec.Command(python, "verify_draw.py", write("directed.json", directed)).CombinedOutput()
	if err != nil || Verify(directed) != nil {
		t.Fatalf("directed record: python %v %s; go %v", err, out, Verify(directed))
	}
}
