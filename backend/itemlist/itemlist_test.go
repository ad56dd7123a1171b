package itemlist

import (
	"testing"

	"suiji/backend"
)

func TestItemSchemaIsUnambiguous(t *testing.T) {
	if err := ItemSchema.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestEveryMethodAndCategoryHasAChineseName(t *testing.T) {
	// Chinese exports write these names and imports read them back; a code
	// without one would export as its code, which still reads back, but
	// people would see English in a Chinese sheet.
	for _, m := range backend.ItemMethods {
		if methodNames[m] == "" {
			t.Errorf("method %s has no Chinese name", m)
		}
	}
	for _, c := range backend.Categories {
		if categoryNames[c] == "" {
			t.Errorf("category %s has no Chinese name", c)
		}
	}
	for _, cell := range []string{"现场检查", backend.MethodOnSite} {
		if code, ok := methods.Code(cell); !ok || code != backend.MethodOnSite {
			t.Errorf("methods.Code(%q) = %q, %v", cell, code, ok)
		}
	}
	if code, ok := methods.Code("by_pigeon"); ok {
		t.Errorf("an unknown method reads as %q", code)
	}
	if methods.Name(backend.MethodOnSite) != "现场检查" || methods.Name("by_pigeon") != "by_pigeon" {
		t.Errorf("methods.Name: %q %q", methods.Name(backend.MethodOnSite), methods.Name("by_pigeon"))
	}
}

func TestNormalizeCode(t *testing.T) {
	if got := normalizeCode("  zz-aq-01 "); got != "ZZ-AQ-01" || !codePattern.MatchString(got) {
		t.Errorf("normalizeCode = %q", got)
	}
	for _, bad := range []string{"", "A B", "-A", "甲-1"} {
		if codePattern.MatchString(normalizeCode(bad)) {
			t.Errorf("code %q accepted", bad)
		}
	}
}
