package sheet

import (
	"reflect"
	"strings"
	"testing"

	"suiji/backend"
)

func TestSheetSchemaCheck(t *testing.T) {
	tests := []struct {
		name    string
		schema  Schema
		wantErr string // "" for a valid schema
	}{
		{"test schema", testSchema, ""},
		{"empty key", Schema{Columns: []Column{{Headers: []string{"名称"}}}}, "column 1 has no key"},
		{"repeated key", Schema{Columns: []Column{{Key: "a"}, {Key: "a"}}}, `key "a" appears twice`},
		{"same header after folding", Schema{Columns: []Column{
			{Key: "a", Headers: []string{"Badge No"}}, {Key: "b", Headers: []string{"badge_no"}}}},
			`header "badge_no" is accepted by both "a" and "b"`},
		{"header equal to another key", Schema{Columns: []Column{
			{Key: "name", Headers: []string{"名称"}}, {Key: "other", Headers: []string{"NAME"}}}},
			`header "NAME" is accepted by both "name" and "other"`},
		{"a column may repeat its own header", Schema{Columns: []Column{
			{Key: "name", Headers: []string{"名称", "name", "Name"}}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.schema.Check()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			if backend.ErrorCode(err) != backend.EINTERNAL || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Check() = %v, want EINTERNAL containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSheetHeaderNormalisation(t *testing.T) {
	same := [][]string{
		{"uscc", " USCC ", "ＵＳＣＣ", "uscc*", "\uFEFFuscc", "Uscc：", "u_s-c.c"},
		{"企业名称", "　企业名称　", "企业 名称", "*企业名称", "企业名称※"},
		{"badge_no", "Badge No.", "BADGE-NO", "badgeNo"},
	}
	for _, group := range same {
		for _, h := range group[1:] {
			if normHeader(h) != normHeader(group[0]) {
				t.Errorf("normHeader(%q) = %q, want the same as %q (%q)", h, normHeader(h), group[0], normHeader(group[0]))
			}
		}
	}
	if normHeader("企业名称") == normHeader("企业名") {
		t.Error("different headers normalise alike")
	}
}

func TestSheetSchemaHeader(t *testing.T) {
	s := Schema{Columns: []Column{
		{Key: "uscc", Headers: []string{"统一社会信用代码", "uscc"}},
		{Key: "cert", Headers: []string{"执法证有效期", "证件有效期", "certificate_expires"}},
		{Key: "bare"},
		{Key: "gps", Headers: []string{"GPS", "定位"}},
	}}
	tests := []struct {
		lang, key, want string
	}{
		{"", "uscc", "统一社会信用代码"},
		{Chinese, "cert", "执法证有效期"},
		{English, "uscc", "uscc"},
		{English, "cert", "certificate_expires"},
		{English, "bare", "bare"},
		{Chinese, "bare", "bare"},
		{Chinese, "unknown", "unknown"},
		{English, "gps", "GPS"},
		{Chinese, "gps", "GPS"},
	}
	for _, tt := range tests {
		s.HeaderLanguage = tt.lang
		if got := s.Header(tt.key); got != tt.want {
			t.Errorf("Header(%q) in %q = %q, want %q", tt.key, tt.lang, got, tt.want)
		}
	}
}

func TestSheetLists(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" ；, ", nil},
		{"a", []string{"a"}},
		{"a；b;c，d,e、f|g｜h\ni\r\nj", []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}},
		{" 煤矿 ；　粉尘涉爆 ", []string{"煤矿", "粉尘涉爆"}},
	}
	for _, tt := range tests {
		if got := SplitList(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := JoinList([]string{"coal_mine", "dust_explosion"}); got != "coal_mine；dust_explosion" {
		t.Errorf("JoinList = %q", got)
	}
	if got := SplitList(JoinList([]string{"a", "b"})); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("SplitList(JoinList) = %q", got)
	}
}

func TestSheetFormulaEscape(t *testing.T) {
	for _, v := range []string{"", "abc", "=1+1", "+86", "-1", "@x", "'", "'=x", "''+y", "'abc", "a=b", "===", "'"} {
		esc := escapeFormula(v)
		if v != "" && esc[0] != '\'' && len(v) > 0 && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@') {
			t.Errorf("escapeFormula(%q) = %q, still starts a formula", v, esc)
		}
		if got := unescapeFormula(esc); got != v {
			t.Errorf("unescapeFormula(escapeFormula(%q)) = %q", v, got)
		}
	}
}
