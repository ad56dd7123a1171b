package backend

import "testing"

func TestItemAppliesToCategories(t *testing.T) {
	any := TaskItem{ID: "i1"}
	chem := TaskItem{ID: "i2", Categories: []string{CategoryHazardousChemicals, CategoryMajorHazardSource}}
	for _, tc := range []struct {
		item TaskItem
		cats []string
		want bool
	}{
		{any, nil, true},
		{any, []string{CategoryCoalMine}, true},
		{chem, nil, false},
		{chem, []string{CategoryCoalMine}, false},
		{chem, []string{CategoryCoalMine, CategoryMajorHazardSource}, true},
	} {
		if got := tc.item.AppliesTo(tc.cats); got != tc.want {
			t.Errorf("%s applies to %v: %v, want %v", tc.item.ID, tc.cats, got, tc.want)
		}
	}
}
