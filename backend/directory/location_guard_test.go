package directory

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"suiji/backend"
	"suiji/backend/sheet"
	"suiji/backend/uscc"
)

// guardUSCC is a valid USCC for rows built here.
var guardUSCC = uscc.Generate(rand.New(rand.NewPCG(7, 7)))

// guardRow is an import row of the enterprise schema with the given cells.
func guardRow(values map[string]string) sheet.Row {
	row := sheet.Row{Line: 2, Values: map[string]string{"uscc": guardUSCC, "name": "甲企业", "town": "巴公镇"}, Lists: map[string][]string{}}
	for k, v := range values {
		row.Values[k] = v
		row.Lists[k] = sheet.SplitList(v)
	}
	return row
}

// TestImportRowRefusesNaNAndInfinity: every spelling ParseFloat takes for
// NaN or an infinity is refused, naming the coordinate, as a value out of
// range is; without it NaN passed the range check and made every listing
// holding it fail to encode.
func TestImportRowRefusesNaNAndInfinity(t *testing.T) {
	if _, err := validateUSCC(guardUSCC); err != nil {
		t.Fatal(err)
	}
	towns := map[string]string{"巴公镇": "巴公镇"}
	for _, bad := range []string{"NaN", "nan", "-NaN", "Inf", "+Inf", "-inf", "Infinity", "1e400"} {
		for _, field := range []string{"lat", "lng"} {
			cells := map[string]string{"lat": "35.5", "lng": "112.8"}
			cells[field] = bad
			_, problems := importRow(guardRow(cells), nil, towns)
			if len(problems) != 1 || problems["location."+field] == "" {
				t.Errorf("%s = %q: problems %q, want one naming location.%s", field, bad, problems, field)
			}
		}
	}
	if e, problems := importRow(guardRow(map[string]string{"lat": "35.5", "lng": "-112.8"}), nil, towns); len(problems) != 0 || e.Location.Lng != -112.8 {
		t.Errorf("a good location: %q", problems)
	}

	// The API's path: the same check, on what the request decoded to.
	for _, loc := range []backend.GeoPoint{{Lat: math.NaN(), Lng: 1}, {Lat: 1, Lng: math.NaN()}, {Lat: math.Inf(1), Lng: 1}, {Lat: 1, Lng: math.Inf(-1)}} {
		e := &backend.Enterprise{USCC: guardUSCC, Name: "甲", Status: backend.EnterpriseActive, Location: &loc}
		if p := enterpriseProblems(e); len(p) != 1 || (p["location.lat"] == "" && p["location.lng"] == "") {
			t.Errorf("location %v: problems %q", loc, p)
		}
	}
}

// TestImportRowMessagesQuoteCellsShort: a row message repeats at most a
// short piece of a cell, however much the cell holds.
func TestImportRowMessagesQuoteCellsShort(t *testing.T) {
	long := strings.Repeat("长", sheet.MaxCellBytes/3)
	towns := map[string]string{"巴公镇": "巴公镇"}
	for field, cells := range map[string]map[string]string{
		"location.lat": {"lat": long, "lng": "1"},
		"location.lng": {"lat": "1", "lng": long},
		"town":         {"town": long},
		"categories":   {"categories": long},
		"flags":        {"flags": "黑名单" + long},
	} {
		_, problems := importRow(guardRow(cells), nil, towns)
		if msg := problems[field]; msg == "" || len(msg) > 200 {
			t.Errorf("%s: a message of %d bytes: %.80s", field, len(msg), msg)
		}
	}
}
