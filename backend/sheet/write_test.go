package sheet

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// trickyRows holds the values that break naive spreadsheet code.
var trickyRows = []map[string]string{
	{
		"uscc": usccA, "name": "泽州县某某煤业有限公司", "town": "北义城镇", "industry": "煤炭开采",
		"address": "山西省晋城市泽州县北义城镇某某村", "categories": JoinList([]string{"coal_mine", "major_hazard_source"}),
		"flags": "", "legal_rep": "张三", "safety_manager": "李四", "phone": "0356-1234567", "postcode": "048000", "status": "active",
	},
	{
		"uscc": "911405250000000012", "name": `某某"化工",有限公司`, "town": "", "industry": "",
		"address": "第一行\n第二行, 带逗号", "categories": "hazardous_chemicals", "flags": JoinList([]string{"blacklist", "high_credit_risk"}),
		"legal_rep": "", "safety_manager": "王五\r\n赵六\r钱七", "phone": "00123", "postcode": "0", "status": "closed",
	},
	{
		"uscc": usccB, "name": "=HYPERLINK(\"http://example.invalid\")", "town": "巴公镇", "industry": "+86",
		"address": "-1", "categories": "", "flags": "", "legal_rep": "@某", "safety_manager": "'=x",
		"phone": "1.50", "postcode": "1E5", "status": "TRUE",
	},
	// A sparse row, and keys outside the schema, which are ignored.
	{"uscc": "  " + usccA + "  ", "extra": "ignored"},
}

// lineBreaks writes every line break as Read returns it.
var lineBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// readBack is what Read should return for trickyRows: every schema column
// present (blank as ""), values trimmed, list columns split.
func readBack() []Row {
	var out []Row
	for i, in := range trickyRows {
		r := Row{Line: i + 2, Values: map[string]string{}, Lists: map[string][]string{}}
		for _, c := range testSchema.Columns {
			r.Values[c.Key] = lineBreaks.Replace(strings.TrimSpace(in[c.Key]))
			if c.Multi {
				r.Lists[c.Key] = SplitList(in[c.Key])
			}
		}
		out = append(out, r)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	writers := []struct {
		name  string
		write func(*bytes.Buffer, Schema) error
	}{
		{"XLSX", func(b *bytes.Buffer, s Schema) error { return WriteXLSX(b, s, trickyRows) }},
		{"CSV with BOM", func(b *bytes.Buffer, s Schema) error { return WriteCSV(b, s, trickyRows, true) }},
		{"CSV without BOM", func(b *bytes.Buffer, s Schema) error { return WriteCSV(b, s, trickyRows, false) }},
	}
	for _, w := range writers {
		for _, lang := range []string{Chinese, English} {
			t.Run(w.name+" "+lang, func(t *testing.T) {
				s := testSchema
				s.HeaderLanguage = lang
				var buf bytes.Buffer
				if err := w.write(&buf, s); err != nil {
					t.Fatal(err)
				}
				tab, err := Read(&buf, "export", testSchema, 0)
				if err != nil {
					t.Fatal(err)
				}
				if want := readBack(); !reflect.DeepEqual(tab.Rows, want) {
					t.Errorf("read back\n%+v\nwant\n%+v", tab.Rows, want)
				}
				if len(tab.Warnings) != 0 {
					t.Errorf("warnings %q", tab.Warnings)
				}
				for _, c := range s.Columns {
					if got, want := tab.Headers[c.Key], c.header(lang); got != want {
						t.Errorf("header of %s = %q, want %q", c.Key, got, want)
					}
				}
			})
		}
	}
}

func TestWriteXLSXLayout(t *testing.T) {
	tests := []struct {
		name       string
		schemaName string
		lang       string
		wantSheet  string
		wantA1     string
	}{
		{"Chinese", "企业名录", "", "企业名录", "统一社会信用代码"},
		{"English", "企业名录", English, "企业名录", "uscc"},
		{"invalid sheet name", "'企业/名录:[2025]'", Chinese, "企业_名录__2025_", "统一社会信用代码"},
		{"no sheet name", "", Chinese, "Sheet1", "统一社会信用代码"},
		{"long sheet name", strings.Repeat("长", 40), Chinese, strings.Repeat("长", 31), "统一社会信用代码"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSchema
			s.Name, s.HeaderLanguage = tt.schemaName, tt.lang
			var buf bytes.Buffer
			if err := WriteXLSX(&buf, s, trickyRows); err != nil {
				t.Fatal(err)
			}
			f, err := excelize.OpenReader(&buf)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if got := f.GetSheetList(); !reflect.DeepEqual(got, []string{tt.wantSheet}) {
				t.Fatalf("sheets = %q, want [%q]", got, tt.wantSheet)
			}
			sh := tt.wantSheet
			if v, _ := f.GetCellValue(sh, "A1"); v != tt.wantA1 {
				t.Errorf("A1 = %q, want %q", v, tt.wantA1)
			}
			style := func(cell string) *excelize.Style {
				id, err := f.GetCellStyle(sh, cell)
				if err != nil {
					t.Fatal(err)
				}
				st, err := f.GetStyle(id)
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
			if st := style("A1"); st.Font == nil || !st.Font.Bold {
				t.Errorf("header A1 is not bold: %+v", st.Font)
			}
			if st := style("B2"); st.Font != nil && st.Font.Bold {
				t.Errorf("data cell B2 is bold")
			}
			// Leading zeros survive only as text: check the cell's type and
			// its number format, for a written cell and a blank one.
			for _, cell := range []string{"K3", "J3", "A2", "C3"} {
				if st := style(cell); st.NumFmt != textNumFmtID {
					t.Errorf("%s number format = %d, want text (49)", cell, st.NumFmt)
				}
			}
			if typ, _ := f.GetCellType(sh, "K3"); typ != excelize.CellTypeInlineString {
				t.Errorf("K3 type = %v, want a string", typ)
			}
			if v, _ := f.GetCellValue(sh, "K3"); v != "0" {
				t.Errorf("K3 = %q, want postcode \"0\"", v)
			}
			if v, _ := f.GetCellValue(sh, "A5"); v != usccA {
				t.Errorf("A5 = %q, want the USCC trimmed", v)
			}
			if v, _ := f.GetCellValue(sh, "I3"); v != "王五\n赵六\n钱七" {
				t.Errorf("I3 = %q, want line breaks as \\n", v)
			}
			panes, err := f.GetPanes(sh)
			if err != nil {
				t.Fatal(err)
			}
			if !panes.Freeze || panes.YSplit != 1 || panes.TopLeftCell != "A2" {
				t.Errorf("panes = %+v, want the header row frozen", panes)
			}
			widths := map[string][2]float64{
				"A": {20, 21}, // 18-character USCC + margin
				"E": {30, 36}, // longest address, Chinese counted double
				"G": {minColWidth, 30},
			}
			if tt.lang != English {
				widths["I"] = [2]float64{12, 12} // "安全负责人" is wider than each line of "王五\r\n赵六\r钱七"
			}
			for col, want := range widths {
				w, err := f.GetColWidth(sh, col)
				if err != nil {
					t.Fatal(err)
				}
				if w < want[0] || w > want[1] {
					t.Errorf("column %s width = %v, want in %v", col, w, want)
				}
			}
		})
	}
}

func TestWriteCSV(t *testing.T) {
	s := Schema{Columns: []Column{
		{Key: "uscc", Headers: []string{"统一社会信用代码", "uscc"}},
		{Key: "name", Headers: []string{"企业名称", "name"}},
		{Key: "note", Headers: []string{"=备注"}},
	}}
	rows := []map[string]string{
		{"uscc": usccA, "name": `某"公司",二厂`, "note": "=1+1"},
		{"uscc": " 007 ", "name": "第一行\n第二行", "note": "@x"},
	}
	tests := []struct {
		name string
		bom  bool
		lang string
		want string
	}{
		{"BOM", true, "", "\uFEFF统一社会信用代码,企业名称,'=备注\r\n"},
		{"no BOM", false, Chinese, "统一社会信用代码,企业名称,'=备注\r\n"},
		{"English", false, English, "uscc,name,note\r\n" +
			usccA + `,"某""公司"",二厂",'=1+1` + "\r\n" +
			"007,\"第一行\r\n第二行\",'@x\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s
			s.HeaderLanguage = tt.lang
			var buf bytes.Buffer
			if err := WriteCSV(&buf, s, rows, tt.bom); err != nil {
				t.Fatal(err)
			}
			got := buf.String()
			if hasBOM := strings.HasPrefix(got, "\uFEFF"); hasBOM != tt.bom {
				t.Errorf("BOM = %v, want %v", hasBOM, tt.bom)
			}
			if tt.lang == English {
				if got != tt.want {
					t.Errorf("CSV =\n%q\nwant\n%q", got, tt.want)
				}
			} else if !strings.Contains(got, tt.want) {
				t.Errorf("CSV =\n%q\nwant it to contain %q", got, tt.want)
			}
		})
	}
}

// failWriter fails every write, like a client that hung up.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errBroken }

var errBroken = bytes.ErrTooLarge

func TestWriteErrors(t *testing.T) {
	if err := WriteXLSX(failWriter{}, testSchema, trickyRows); err == nil {
		t.Error("WriteXLSX to a failing writer returned nil")
	}
	if err := WriteCSV(failWriter{}, testSchema, trickyRows, true); err == nil {
		t.Error("WriteCSV to a failing writer returned nil")
	}
	if err := WriteCSV(failWriter{}, testSchema, trickyRows, false); err == nil {
		t.Error("WriteCSV without BOM to a failing writer returned nil")
	}
}
