package seal

import (
	"crypto/rand"
	"testing"

	"suiji/backend"
	"suiji/backend/draw"
)

func TestSealOpensOnlyForItsChoiceAndKey(t *testing.T) {
	box, err := New("a-seed-key-of-at-least-32-bytes-long")
	if err != nil {
		t.Fatal(err)
	}
	seed, err := draw.NewSealedSeed(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := box.Seal(rand.Reader, "plan-1", 2, seed)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := box.Open("plan-1", 2, sealed); err != nil || got != seed {
		t.Fatalf("Open = %q, %v; want the seed", got, err)
	}
	for _, tc := range []struct {
		scope string
		seq   int
	}{{"plan-1", 3}, {"plan-2", 2}, {"replacement:plan-1", 2}} {
		if _, err := box.Open(tc.scope, tc.seq, sealed); backend.ErrorCode(err) != backend.EINTERNAL {
			t.Errorf("opened as %s #%d: %v", tc.scope, tc.seq, err)
		}
	}
	other, _ := New("another-key-of-at-least-32-bytes-long")
	if _, err := other.Open("plan-1", 2, sealed); err == nil {
		t.Error("opened with another key")
	}
	if _, err := box.Open("plan-1", 2, sealed[:5]); err == nil {
		t.Error("opened a truncated seal")
	}
	if _, err := New(""); backend.ErrorCode(err) != backend.EINTERNAL {
		t.Errorf("New without a key: %v", err)
	}
}
