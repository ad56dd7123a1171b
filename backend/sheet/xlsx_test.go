package sheet

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// columnsOf reads a workbook's first sheet the way Read did before it read
// cells itself: excelize's Rows.Columns, with Read's options. It is the
// reference the cell reader must agree with on ordinary files.
func columnsOf(t *testing.T, data []byte) map[int][]string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{ShortDatePattern: "yyyy-mm-dd"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.Rows(f.GetSheetList()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int][]string{}
	for line := 1; rows.Next(); line++ {
		cells, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		out[line] = append([]string(nil), cells...)
	}
	return out
}

// columnsSchema has a column per header c1 … cN, so that Read keeps every
// cell of a test workbook whose first row is that header.
func columnsSchema(n int) Schema {
	s := Schema{}
	for i := 1; i <= n; i++ {
		s.Columns = append(s.Columns, Column{Key: fmt.Sprintf("c%d", i)})
	}
	return s
}

// keyHeader is the row c1 … cN.
func keyHeader(n int) []any {
	row := make([]any, n)
	for i := range row {
		row[i] = fmt.Sprintf("c%d", i+1)
	}
	return row
}

// assertSameAsColumns reads data with Read and checks that every row and
// value is what Rows.Columns gave (cleaned as Read cleans values).
func assertSameAsColumns(t *testing.T, data []byte, width int) {
	t.Helper()
	want := columnsOf(t, data)
	tab, err := Read(bytes.NewReader(data), "fidelity.xlsx", columnsSchema(width), 0)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	seen := 0
	for line, cells := range want {
		if line == 1 || blankRow(cells) {
			continue
		}
		seen++
		var got *Row
		for i := range tab.Rows {
			if tab.Rows[i].Line == line {
				got = &tab.Rows[i]
			}
		}
		if got == nil {
			t.Errorf("row %d (%q) missing", line, cells)
			continue
		}
		for i := range width {
			w := ""
			if i < len(cells) {
				w = cleanValue(cells[i])
			}
			if g := got.Values[fmt.Sprintf("c%d", i+1)]; g != w {
				t.Errorf("row %d column %s = %q, excelize's Columns %q", line, columnName(i), g, w)
			}
		}
	}
	if seen != len(tab.Rows) || seen == 0 {
		t.Errorf("read %d rows, excelize %d", len(tab.Rows), seen)
	}
}

func blankRow(cells []string) bool {
	for _, c := range cells {
		if clean(c) != "" {
			return false
		}
	}
	return true
}

// TestCellsReadAsExcelizeReadThem: on workbooks made the ways real ones are
// (excelize's cell API, its stream writer, hand-written XML with what Excel
// and WPS write), every value reads exactly as Rows.Columns read it before.
func TestCellsReadAsExcelizeReadThem(t *testing.T) {
	day := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	t.Run("cell API, shared strings and number formats", func(t *testing.T) {
		data := xlsxFile(t, func(f *excelize.File) {
			rows := [][]any{
				keyHeader(10),
				{usccA, "泽州县某某煤业有限公司", 13800000000, 48000, day, 0.1 + 0.2, true, -12.5, 12345678901234567890.0, "  带空格  "},
				{},
				{nil, "只有一格"},
				{usccB, "x_x000D_y", 1.5e-10, 0, day.Add(90 * time.Minute), 100, false, "0356-1234567", 1e21, "第一行\n第二行"},
			}
			setRows(t, f, "Sheet1", rows)
			style := func(s *excelize.Style) int {
				id, err := f.NewStyle(s)
				if err != nil {
					t.Fatal(err)
				}
				return id
			}
			custom := func(code string) int { return style(&excelize.Style{CustomNumFmt: &code}) }
			// What templates use: postcode with leading zeros, money,
			// percentages, dates in several formats, a text format.
			for cell, id := range map[string]int{
				"D2": custom("000000"), "F2": style(&excelize.Style{NumFmt: 2}), "H2": custom(`#,##0.00"元"`),
				"I2": style(&excelize.Style{NumFmt: 1}), "C2": style(&excelize.Style{NumFmt: 0}),
				"E2": style(&excelize.Style{NumFmt: 14}), "E5": custom("yyyy/m/d h:mm"), "F5": style(&excelize.Style{NumFmt: 10}),
				"D5": custom("000000"), "C5": custom("0.00E+00"), "I5": style(&excelize.Style{NumFmt: 49}),
			} {
				if err := f.SetCellStyle("Sheet1", cell, cell, id); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.SetCellFormula("Sheet1", "J4", "A1&B1"); err != nil {
				t.Fatal(err)
			}
			if err := f.SetCellRichText("Sheet1", "B6", []excelize.RichTextRun{{Text: "富"}, {Text: "文本", Font: &excelize.Font{Bold: true}}}); err != nil {
				t.Fatal(err)
			}
			f.SetCellValue("Sheet1", "A6", usccA)
		})
		assertSameAsColumns(t, data, 10)
	})
	t.Run("stream writer, inline strings", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteXLSX(&buf, testSchema, trickyRows); err != nil {
			t.Fatal(err)
		}
		// testSchema's headers are not c1 …; compare on the raw workbook.
		f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		rows, _ := f.GetRows(f.GetSheetList()[0])
		f.Close()
		data := xlsxFile(t, func(f *excelize.File) {
			sw, err := f.NewStreamWriter("Sheet1")
			if err != nil {
				t.Fatal(err)
			}
			sw.SetRow("A1", keyHeader(14))
			for i, r := range rows[1:] {
				vals := make([]any, len(r))
				for j, v := range r {
					vals[j] = v
				}
				vals = append(vals, i, day)
				cell, _ := excelize.CoordinatesToCellName(1, i+2)
				if err := sw.SetRow(cell, vals); err != nil {
					t.Fatal(err)
				}
			}
			if err := sw.Flush(); err != nil {
				t.Fatal(err)
			}
		})
		assertSameAsColumns(t, data, 14)
	})
	t.Run("hand-written XML", func(t *testing.T) {
		sst := []string{"c1", "c2", "c3", "c4", "c5", "c6", "A_x0041_B_x005F_x0041_", "tab\there"}
		data := rawXLSX(t, sst, func(w io.Writer) {
			io.WriteString(w, `<row r="1"><c r="A1" t="s"><v>0</v></c><c t="s"><v>1</v></c><c t="s"><v>2</v></c><c t="s"><v>3</v></c><c t="s"><v>4</v></c><c t="s"><v>5</v></c></row>`)
			// Cells without references, counted on; an inline string
			// with runs and a phonetic guide; a formula's string result;
			// an error; a boolean; a shared string with escapes.
			io.WriteString(w, `<row r="3"><c t="inlineStr"><is><r><t>甲</t></r><r><t xml:space="preserve"> 乙 </t></r><rPh sb="0" eb="1"><t>jia</t></rPh></is></c>`+
				`<c t="str"><f>A3</f><v>公式</v></c><c t="e"><v>#N/A</v></c><c t="b"><v>1</v></c><c t="s"><v> 6 </v></c><c t="s"><v>7</v></c></row>`)
			// Sparse: D and F only; a namespace prefix; CDATA.
			io.WriteString(w, `<row r="5" spans="1:6"><x:c xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" r="D5"><x:v>42</x:v></x:c><c r="F5" t="inlineStr"><is><t><![CDATA[<b>&]]></t></is></c></row>`)
			// A row without a number follows row 5.
			io.WriteString(w, `<row><c r="B6"><v>3.14159265358979323846</v></c><c r="C6"><v>0001</v></c><c r="E6"><f>1/0</f></c></row>`)
		})
		assertSameAsColumns(t, data, 6)
	})
}

// TestTextIsNotPassedThroughNumberFormats: a text format that repeats its
// text (";;;@@@@") or a number format longer than Excel allows cannot make a
// cell's value longer than what the file wrote; excelize's own reading
// would repeat the text once per @.
func TestTextIsNotPassedThroughNumberFormats(t *testing.T) {
	long := `0"` + strings.Repeat("长", 300) + `"`
	data := xlsxFile(t, func(f *excelize.File) {
		setRows(t, f, "Sheet1", [][]any{{"c1", "c2", "c3"}, {"文本", 7, 8}})
		repeat := ";;;" + strings.Repeat("@", 20)
		for cell, code := range map[string]string{"A2": repeat, "B2": long, "C2": `0"元"`} {
			id, err := f.NewStyle(&excelize.Style{CustomNumFmt: &code})
			if err != nil {
				t.Fatal(err)
			}
			f.SetCellStyle("Sheet1", cell, cell, id)
		}
	})
	if got := columnsOf(t, data)[2][0]; got == strings.Repeat("文本", 20) {
		t.Logf("excelize's Columns gives %q for the repeating format", got) // what made this test worth having
	}
	tab, err := Read(bytes.NewReader(data), "formats.xlsx", columnsSchema(3), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"c1": "文本", "c2": "7", "c3": "8元"}
	for k, v := range want {
		if got := tab.Rows[0].Values[k]; got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestUnescapeBSTR(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                  "plain",
		"a_x000D_b":              "a\rb",
		"_x005F_x000D_":          "_x000D_",
		"_x0041__x0042_":         "AB",
		"_xD800_ lone surrogate": " lone surrogate",
		"_x00zz_ not hex":        "_x00zz_ not hex",
		"_x004":                  "_x004",
		"中_x4E2D_文":              "中中文",
	} {
		if got := unescapeBSTR([]byte(in)); got != want {
			t.Errorf("unescapeBSTR(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPartNames(t *testing.T) {
	for _, c := range [][3]string{
		{"", "xl/workbook.xml", "xl/workbook.xml"},
		{"", "/xl/workbook.xml", "xl/workbook.xml"},
		{"xl/workbook.xml", "worksheets/sheet1.xml", "xl/worksheets/sheet1.xml"},
		{"xl/workbook.xml", "/xl/worksheets/sheet2.xml", "xl/worksheets/sheet2.xml"},
		{"xl/workbook.xml", `..\other\sheet.xml`, "other/sheet.xml"},
	} {
		if got := resolvePart(c[0], c[1]); got != c[2] {
			t.Errorf("resolvePart(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
	for name, want := range map[string]string{"xl/workbook.xml": "xl/_rels/workbook.xml.rels", "workbook.xml": "_rels/workbook.xml.rels"} {
		if got := relsOf(name); got != want {
			t.Errorf("relsOf(%q) = %q, want %q", name, got, want)
		}
	}
}
