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
	l := lookup(backend.ItemMethods, methodNames)
	if l["现场检查"] != backend.MethodOnSite || l[backend.MethodOnSite] != backend.MethodOnSite || l["by_pigeon"] != "" {
		t.Errorf("lookup: %v", l)
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
