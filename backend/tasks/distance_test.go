package tasks

import (
	"math"
	"testing"
)

func TestDistance(t *testing.T) {
	// One degree of latitude is about 111.2 km anywhere; Zezhou's county
	// seat to Jincheng railway station is about 8.6 km.
	if d := Distance(35.0, 112.8, 36.0, 112.8); math.Abs(d-111_195) > 100 {
		t.Errorf("one degree of latitude: %.0f m", d)
	}
	if d := Distance(35.4912, 112.8567, 35.4912, 112.8567); d != 0 {
		t.Errorf("the same point: %.3f m", d)
	}
	if d := Distance(35.4912, 112.8567, 35.4915, 112.8569); d < 30 || d > 45 {
		t.Errorf("a few steps away: %.1f m", d)
	}
}
