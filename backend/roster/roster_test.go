package roster

import (
	"slices"
	"testing"
)

func TestInspectorSchemaIsUnambiguous(t *testing.T) {
	if err := InspectorSchema.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestParseYesNo(t *testing.T) {
	for in, want := range map[string]bool{"是": true, "": true, " YES ": true, "true": true, "1": true, "在岗": true,
		"否": false, "no": false, "FALSE": false, "0": false, "离岗": false} {
		if got, ok := parseYesNo(in); !ok || got != want {
			t.Errorf("parseYesNo(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"maybe", "2", "是的"} {
		if _, ok := parseYesNo(in); ok {
			t.Errorf("parseYesNo(%q) accepted", in)
		}
	}
	for _, english := range []bool{false, true} {
		for _, b := range []bool{false, true} {
			if got, ok := parseYesNo(yesNo(b, english)); !ok || got != b {
				t.Errorf("yesNo(%v, %v) does not read back", b, english)
			}
		}
	}
}

func TestNormalizeCodes(t *testing.T) {
	if got := normalizeCodes([]string{" general", "coal_mine", "", "general"}); !slices.Equal(got, []string{"coal_mine", "general"}) {
		t.Errorf("normalizeCodes = %v", got)
	}
	if got := normalizeCodes(nil); got == nil || len(got) != 0 {
		t.Errorf("normalizeCodes(nil) = %#v, want an empty list (stored and diffed as [])", got)
	}
}
