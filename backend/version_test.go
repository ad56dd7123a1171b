package backend

import "testing"

func TestDiff(t *testing.T) {
	before := map[string]any{"name": "甲公司", "town": "巴公镇", "flags": []string{}, "n": 1, "gone": "x"}
	after := map[string]any{"name": "甲公司", "town": "北义城镇", "flags": nil, "n": 1.0, "new": true}
	got := Diff(before, after)
	want := []string{"gone", "new", "town"}
	if len(got) != len(want) {
		t.Fatalf("Diff = %+v, want fields %v", got, want)
	}
	for i, c := range got {
		if c.Field != want[i] {
			t.Fatalf("change %d is %q, want %q", i, c.Field, want[i])
		}
	}
	if got[2].Before != "巴公镇" || got[2].After != "北义城镇" {
		t.Fatalf("town change %+v", got[2])
	}
	if len(Diff(after, after)) != 0 {
		t.Fatal("a record differs from itself")
	}
}
