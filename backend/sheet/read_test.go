package sheet

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"suiji/backend"
)

// Made-up identifiers in the shape of real ones.
const (
	usccA = "91140525MA0GXXXXX1"
	usccB = "91140525MA0GYYYYY2"
)

const csvBasic = "统一社会信用代码,企业名称,所属乡镇\n" +
	usccA + ",泽州县某某煤业有限公司,北义城镇\n" +
	usccB + ",晋城某某化工有限公司,巴公镇\n"

// basicRows is what csvBasic and its re-encodings read as.
var basicRows = []Row{
	{Line: 2, Values: map[string]string{"uscc": usccA, "name": "泽州县某某煤业有限公司", "town": "北义城镇"}},
	{Line: 3, Values: map[string]string{"uscc": usccB, "name": "晋城某某化工有限公司", "town": "巴公镇"}},
}

func TestReadFormats(t *testing.T) {
	tests := []struct {
		name       string
		data       func(t *testing.T) []byte
		wantFormat string
		wantRows   []Row
		wantWarn   []string // each must appear in one warning, and no others
	}{
		{
			name:       "UTF-8 CSV",
			data:       func(t *testing.T) []byte { return []byte(csvBasic) },
			wantFormat: FormatCSV, wantRows: basicRows,
		},
		{
			name:       "UTF-8 CSV with BOM and CRLF",
			data:       func(t *testing.T) []byte { return []byte("\uFEFF" + strings.ReplaceAll(csvBasic, "\n", "\r\n")) },
			wantFormat: FormatCSV, wantRows: basicRows,
		},
		{
			name: "UTF-8 BOM before a quoted header",
			data: func(t *testing.T) []byte {
				return []byte("\uFEFF\"统一社会信用代码\",企业名称,所属乡镇\n" + strings.SplitN(csvBasic, "\n", 2)[1])
			},
			wantFormat: FormatCSV, wantRows: basicRows,
		},
		{
			name:       "GBK CSV from Chinese Excel",
			data:       func(t *testing.T) []byte { return gbk(t, strings.ReplaceAll(csvBasic, "\n", "\r\n")) },
			wantFormat: FormatCSV, wantRows: basicRows,
		},
		{
			name:       "UTF-16 tab-separated Unicode text",
			data:       func(t *testing.T) []byte { return utf16le(t, strings.ReplaceAll(csvBasic, ",", "\t")) },
			wantFormat: FormatCSV, wantRows: basicRows,
		},
		{
			name:       "tab-separated UTF-8 keeps commas inside values",
			data:       func(t *testing.T) []byte { return []byte("uscc\tname\n" + usccA + "\t某某公司,二分厂\n") },
			wantFormat: FormatCSV,
			wantRows:   []Row{{Line: 2, Values: map[string]string{"uscc": usccA, "name": "某某公司,二分厂"}}},
		},
		{
			name: "headers are matched loosely",
			data: func(t *testing.T) []byte {
				return []byte("\uFEFF ＵＳＣＣ ,　企业名称*　,Town,LEGAL_REPRESENTATIVE,Safety Manager\n" +
					usccA + ",某某公司,巴公镇,张三,李四\n")
			},
			wantFormat: FormatCSV,
			wantRows: []Row{{Line: 2, Values: map[string]string{
				"uscc": usccA, "name": "某某公司", "town": "巴公镇", "legal_rep": "张三", "safety_manager": "李四"}}},
		},
		{
			name: "values are trimmed of ASCII, full-width and no-break spaces",
			data: func(t *testing.T) []byte {
				return []byte("uscc,name,address\n \t" + usccA + "\u00A0,\u3000某某公司\u3000,\" 泽州县 \"\n")
			},
			wantFormat: FormatCSV,
			wantRows:   []Row{{Line: 2, Values: map[string]string{"uscc": usccA, "name": "某某公司", "address": "泽州县"}}},
		},
		{
			name: "title rows above the header are skipped with a warning",
			data: func(t *testing.T) []byte {
				return []byte("泽州县安全生产重点企业名录（2025年）,,\n制表日期：2025年1月,,\n\n" + csvBasic)
			},
			wantFormat: FormatCSV,
			wantRows: []Row{
				{Line: 5, Values: basicRows[0].Values},
				{Line: 6, Values: basicRows[1].Values},
			},
			wantWarn: []string{`row 1 ("泽州县安全生产重点企业名录（2025年）"), row 2 ("制表日期：2025年1月") above the header row 4 ignored`},
		},
		{
			name: "CSV line numbers count blank lines and not line breaks inside cells",
			data: func(t *testing.T) []byte {
				return []byte("uscc,name,address\n" +
					usccA + ",甲,\"第一行\n第二行\n第三行\"\n" +
					"\n" +
					" , ,\n" +
					usccB + ",乙,\"x\r\ny\"\r\n")
			},
			wantFormat: FormatCSV,
			wantRows: []Row{
				{Line: 2, Values: map[string]string{"uscc": usccA, "name": "甲", "address": "第一行\n第二行\n第三行"}},
				{Line: 5, Values: map[string]string{"uscc": usccB, "name": "乙", "address": "x\ny"}},
			},
		},
		{
			name: "unknown columns, values under no header and short rows",
			data: func(t *testing.T) []byte {
				return []byte("uscc,备注,name,,town\n" +
					usccA + ",旧名,甲,多余,巴公镇,更多\n" +
					usccB + "\n")
			},
			wantFormat: FormatCSV,
			wantRows: []Row{
				{Line: 2, Values: map[string]string{"uscc": usccA, "name": "甲", "town": "巴公镇"}},
				{Line: 3, Values: map[string]string{"uscc": usccB, "name": "", "town": ""}},
			},
			wantWarn: []string{
				`unknown column "备注" (column B) ignored`,
				"column D has values but no header (first in row 2)",
				"column F has values but no header (first in row 2)",
			},
		},
		{
			name: "list cells split on every separator people type",
			data: func(t *testing.T) []byte {
				return []byte("uscc,name,categories,flags\n" +
					usccA + ",甲,\"coal_mine；dust_explosion;confined_space，a,b、c|d｜e\nf\",\n")
			},
			wantFormat: FormatCSV,
			wantRows: []Row{{Line: 2,
				Values: map[string]string{"uscc": usccA, "name": "甲",
					"categories": "coal_mine；dust_explosion;confined_space，a,b、c|d｜e\nf", "flags": ""},
				Lists: map[string][]string{
					"categories": {"coal_mine", "dust_explosion", "confined_space", "a", "b", "c", "d", "e", "f"},
					"flags":      nil},
			}},
		},
		{
			name: "CSV undoes the formula escape of WriteCSV",
			data: func(t *testing.T) []byte {
				return []byte("uscc,name,address,phone\n" + usccA + ",'=HYPERLINK(1),''+x,'123\n")
			},
			wantFormat: FormatCSV,
			wantRows: []Row{{Line: 2, Values: map[string]string{
				"uscc": usccA, "name": "=HYPERLINK(1)", "address": "'+x", "phone": "'123"}}},
		},
		{
			name: "XLSX with numbers, dates and blank rows",
			data: func(t *testing.T) []byte {
				return xlsxFile(t, func(f *excelize.File) {
					setRows(t, f, "Sheet1", [][]any{
						{"统一社会信用代码", "企业名称", "联系电话", "邮政编码", "状态"},
						{usccA, "甲", 13800000000, "048000", nil},
						{},
						{nil, "  ", nil},
						{usccB, "乙", "0356-1234567", 48000, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
					})
				})
			},
			wantFormat: FormatXLSX,
			wantRows: []Row{
				{Line: 2, Values: map[string]string{"uscc": usccA, "name": "甲", "phone": "13800000000", "postcode": "048000", "status": ""}},
				{Line: 5, Values: map[string]string{"uscc": usccB, "name": "乙", "phone": "0356-1234567", "postcode": "48000", "status": "2026-01-02"}},
			},
		},
		{
			name: "XLSX prefers the visible sheet named like the schema",
			data: func(t *testing.T) []byte {
				return xlsxFile(t, func(f *excelize.File) {
					setRows(t, f, "Sheet1", [][]any{{"填表说明"}, {"请勿修改表头"}})
					if _, err := f.NewSheet("企业名录"); err != nil {
						t.Fatal(err)
					}
					setRows(t, f, "企业名录", [][]any{{"uscc", "name"}, {usccA, "甲"}})
				})
			},
			wantFormat: FormatXLSX,
			wantRows:   []Row{{Line: 2, Values: map[string]string{"uscc": usccA, "name": "甲"}}},
			wantWarn:   []string{`read sheet "企业名录"; the other 1 sheets were ignored`},
		},
		{
			name: "XLSX otherwise reads the first visible sheet",
			data: func(t *testing.T) []byte {
				return xlsxFile(t, func(f *excelize.File) {
					setRows(t, f, "Sheet1", [][]any{{"uscc", "name"}, {usccB, "隐藏"}})
					if _, err := f.NewSheet("数据"); err != nil {
						t.Fatal(err)
					}
					setRows(t, f, "数据", [][]any{{"uscc", "name"}, {usccA, "甲"}})
					f.SetActiveSheet(1)
					if err := f.SetSheetVisible("Sheet1", false); err != nil {
						t.Fatal(err)
					}
				})
			},
			wantFormat: FormatXLSX,
			wantRows:   []Row{{Line: 2, Values: map[string]string{"uscc": usccA, "name": "甲"}}},
			wantWarn:   []string{`read sheet "数据"; the other 1 sheets were ignored`},
		},
		{
			name:       "header only",
			data:       func(t *testing.T) []byte { return []byte("uscc,name\n") },
			wantFormat: FormatCSV,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := Read(bytes.NewReader(tt.data(t)), "企业.csv", testSchema, 1<<20)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if tab.Format != tt.wantFormat {
				t.Errorf("Format = %q, want %q", tab.Format, tt.wantFormat)
			}
			if !reflect.DeepEqual(tab.Rows, tt.wantRows) {
				t.Errorf("Rows =\n%#v\nwant\n%#v", tab.Rows, tt.wantRows)
			}
			if len(tab.Warnings) != len(tt.wantWarn) {
				t.Errorf("Warnings = %q, want %d matching %q", tab.Warnings, len(tt.wantWarn), tt.wantWarn)
			}
			for _, w := range tt.wantWarn {
				if !containsPart(tab.Warnings, w) {
					t.Errorf("Warnings = %q, want one containing %q", tab.Warnings, w)
				}
			}
		})
	}
}

func containsPart(list []string, part string) bool {
	for _, s := range list {
		if strings.Contains(s, part) {
			return true
		}
	}
	return false
}

func TestReadHeadersAsWritten(t *testing.T) {
	tab, err := Read(strings.NewReader("Unified Social Credit Code,　企业名称,备注\nx,y,z\n"), "a.csv", testSchema, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"uscc": "Unified Social Credit Code", "name": "企业名称"}
	if !reflect.DeepEqual(tab.Headers, want) {
		t.Errorf("Headers = %q, want %q", tab.Headers, want)
	}
}

func TestReadWarningsBounded(t *testing.T) {
	header := "uscc,name" + strings.Repeat(",备注", 200)
	tab, err := Read(strings.NewReader(header+"\n"+usccA+",甲\n"), "a.csv", testSchema, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tab.Warnings); n != maxWarnings+1 || tab.Warnings[n-1] != "further warnings omitted" {
		t.Errorf("%d warnings ending %q, want %d and a note", n, tab.Warnings[n-1], maxWarnings+1)
	}
}

func TestReadRejects(t *testing.T) {
	xlsx := xlsxFile(t, func(f *excelize.File) {
		setRows(t, f, "Sheet1", [][]any{{"uscc", "name"}, {usccA, strings.Repeat("某某公司", 500)}})
	})
	zipOf := func(names ...string) []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		for _, n := range names {
			w, _ := zw.Create(n)
			w.Write([]byte("<x/>"))
		}
		zw.Close()
		return b.Bytes()
	}
	garbage := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(rng.IntN(256))
	}
	// A zip bomb: the directory declares 65 MB of sheet XML. Read must refuse
	// it from the directory alone, so the entry's data need not be real.
	// (A directory that lies is TestReadBoundsWhatComesOut's.)
	bomb := func() []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		w, err := zw.CreateRaw(&zip.FileHeader{Name: "xl/worksheets/sheet1.xml", Method: zip.Deflate,
			CompressedSize64: 2, UncompressedSize64: 65 << 20})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte{3, 0})
		zw.Close()
		return b.Bytes()
	}()
	tests := []struct {
		name     string
		data     []byte
		max      int64
		schema   *Schema
		wantCode string
		wantMsg  []string
		wantKeys []string // in the error's Fields
	}{
		{name: "PDF", data: []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), wantCode: backend.EINVALID,
			wantMsg: []string{`"企业.xlsx" is not a CSV or XLSX file`, "PDF"}},
		{name: "PNG", data: []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), wantCode: backend.EINVALID,
			wantMsg: []string{"is not a CSV or XLSX file", "PNG"}},
		{name: "Excel 97-2003", data: []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00"), wantCode: backend.EINVALID,
			wantMsg: []string{"is not a CSV or XLSX file", ".xls"}},
		{name: "binary garbage", data: garbage, wantCode: backend.EINVALID,
			wantMsg: []string{"is not a CSV or XLSX file"}},
		{name: "text with a NUL byte", data: []byte(csvBasic + "x,y\x00z\n"), wantCode: backend.EINVALID,
			wantMsg: []string{"is not a CSV or XLSX file"}},
		{name: "binary garbage without NUL bytes", data: bytes.ReplaceAll(garbage, []byte{0}, []byte{1}), wantCode: backend.EINVALID,
			wantMsg: []string{"is not a CSV or XLSX file"}},
		{name: "UTF-8 full of control characters", data: []byte(strings.Repeat("a\x01\x02,", 100)), wantCode: backend.EINVALID,
			wantMsg: []string{"is not a CSV or XLSX file"}},
		{name: "a stray control character is fine", data: []byte(csvBasic + usccA + ",某\x0b公司,\n")},
		{name: "HTML saved as .xls", data: []byte("\n<html><body><table><tr><td>uscc</td></tr></table>"), wantCode: backend.EINVALID,
			wantMsg: []string{"is not a CSV or XLSX file", "HTML"}},
		{name: "truncated XLSX", data: xlsx[:len(xlsx)/2], wantCode: backend.EINVALID,
			wantMsg: []string{`"企业.xlsx" is a damaged XLSX file`, "truncated"}},
		{name: "Word document", data: zipOf("[Content_Types].xml", "word/document.xml"), wantCode: backend.EINVALID,
			wantMsg: []string{"is not a CSV or XLSX file", "Word document"}},
		{name: "plain zip", data: zipOf("a.txt"), wantCode: backend.EINVALID,
			wantMsg: []string{"is not a CSV or XLSX file", "zip archive"}},
		{name: "over the size limit", data: []byte(csvBasic), max: int64(len(csvBasic)) - 1, wantCode: backend.ETOOLARGE,
			wantMsg: []string{`"企业.xlsx" is larger than the`}},
		{name: "at the size limit", data: []byte(csvBasic), max: int64(len(csvBasic))},
		{name: "XLSX expanding past the limit", data: bomb, max: 1 << 20, wantCode: backend.ETOOLARGE,
			wantMsg: []string{`expands to more than 32 MB in "xl/worksheets/sheet1.xml"`}},
		{name: "neither UTF-8 nor GBK", data: []byte("uscc,name\n\x80\x80\x80,\xff\xfe\n"), wantCode: backend.EINVALID,
			wantMsg: []string{"neither UTF-8 nor GBK"}},
		{name: "empty file", data: nil, wantCode: backend.EINVALID, wantMsg: []string{`"企业.xlsx" is empty`}},
		{name: "only blank rows", data: []byte("\r\n , ,\n\u3000\n"), wantCode: backend.EINVALID, wantMsg: []string{"is empty"}},
		{name: "no header in the first rows", data: []byte("a,b\nc,d\ne,f\ng,h\ni,j\nk,l\n" + csvBasic), wantCode: backend.EINVALID,
			wantMsg: []string{"has no header row: none of the first 6 rows names a known column", `"统一社会信用代码", "企业名称"`}},
		{name: "no header at all", data: []byte("a,b\n"), wantCode: backend.EINVALID, wantMsg: []string{"has no header row: no row names"}},
		{name: "too many rows", data: []byte("uscc,name\n" + strings.Repeat("x,y\n", MaxRows+1)), wantCode: backend.ETOOLARGE,
			wantMsg: []string{"has more than 100000 rows"}},
		{name: "as many rows as allowed", data: []byte("uscc,name\n" + strings.Repeat("x,y\n", MaxRows))},
		{name: "missing required column", data: []byte("企业名称,所属乡镇\n甲,乙\n"), wantCode: backend.EINVALID,
			wantMsg:  []string{`missing required column "统一社会信用代码" (uscc)`},
			wantKeys: []string{"统一社会信用代码"}},
		{name: "column given twice", data: []byte("统一社会信用代码,企业名称,USCC\nx,y,z\n"), wantCode: backend.EINVALID,
			wantMsg:  []string{`columns "统一社会信用代码" (A) and "USCC" (C) both mean 统一社会信用代码`},
			wantKeys: []string{"USCC"}},
		{name: "invalid schema", data: []byte(csvBasic), wantCode: backend.EINTERNAL, wantMsg: []string{`header " 名称" is accepted by both "a" and "b"`},
			schema: &Schema{Columns: []Column{{Key: "a", Headers: []string{"名称"}}, {Key: "b", Headers: []string{" 名称"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			schema := testSchema
			if tt.schema != nil {
				schema = *tt.schema
			}
			_, err := Read(bytes.NewReader(tt.data), `C:\fakepath\企业.xlsx`, schema, tt.max)
			if code := backend.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("error = %v, want code %q", err, tt.wantCode)
			}
			msg := backend.ErrorMessage(err)
			if tt.wantCode == backend.EINTERNAL {
				msg = err.Error()
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(msg, m) {
					t.Errorf("message %q does not contain %q", msg, m)
				}
			}
			if strings.Contains(msg, "fakepath") {
				t.Errorf("message %q leaks the client's path", msg)
			}
			fields := backend.ErrorFields(err)
			for _, k := range tt.wantKeys {
				if _, ok := fields[k]; !ok {
					t.Errorf("fields %q lack %q", fields, k)
				}
			}
		})
	}
}

// workbookParts are the parts of a minimal XLSX whose one sheet shows the
// shared string 0 in A1; tests add xl/sharedStrings.xml.
var workbookParts = map[string]string{
	"[Content_Types].xml":        `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`,
	"_rels/.rels":                `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
	"xl/workbook.xml":            `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`,
	"xl/_rels/workbook.xml.rels": `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`,
	"xl/worksheets/sheet1.xml":   `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>`,
}

// xlsxWithSharedStrings is a minimal XLSX whose shared strings table holds
// head and then n times the entry si.
func xlsxWithSharedStrings(t testing.TB, head string, si string, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, body := range workbookParts {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	w, err := zw.Create("xl/sharedStrings.xml")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">%s`, n+1, n+1, head)
	entry := []byte(si)
	for range n {
		w.Write(entry)
	}
	w.Write([]byte(`</sst>`))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestReadBoundsWhatComesOut: a shared strings table bigger than a part may
// be, or with more entries than a file may have, is refused (ETOOLARGE)
// from what actually comes out of the zip, before excelize parses it; a
// table within both bounds reads.
func TestReadBoundsWhatComesOut(t *testing.T) {
	schema := Schema{Columns: []Column{{Key: "uscc", Headers: []string{"uscc"}}}}
	// 36 MB of shared strings in a few dozen KB.
	big := xlsxWithSharedStrings(t, `<si><t>uscc</t></si>`, `<si><t>`+strings.Repeat("x", 100)+`</t></si>`, 300_000)
	start := time.Now()
	_, err := Read(bytes.NewReader(big), "bomb.xlsx", schema, 0)
	if backend.ErrorCode(err) != backend.ETOOLARGE || !strings.Contains(backend.ErrorMessage(err), `xl/sharedStrings.xml`) {
		t.Fatalf("%d KB expanding to 36 MB of shared strings: %v, want ETOOLARGE naming the part", len(big)>>10, err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("refusing it took %s", took)
	}
	// Under the size bound, over the count: 900,000 tiny entries.
	many := xlsxWithSharedStrings(t, `<si><t>uscc</t></si>`, `<si><t/></si>`, MaxSharedStrings)
	if _, err := Read(bytes.NewReader(many), "many.xlsx", schema, 0); backend.ErrorCode(err) != backend.ETOOLARGE || !strings.Contains(backend.ErrorMessage(err), "distinct texts") {
		t.Fatalf("%d shared strings: %v, want ETOOLARGE on their number", MaxSharedStrings+1, err)
	}
	// Within both bounds, the table is large enough to be kept in a
	// temporary file by excelize, and the sheet still reads.
	ok := xlsxWithSharedStrings(t, `<si><t>uscc</t></si>`, `<x:si><x:t>`+strings.Repeat("y", 40)+`</x:t></x:si>`, 200_000)
	table, err := Read(bytes.NewReader(ok), "ok.xlsx", schema, 0)
	if err != nil {
		t.Fatalf("a 10 MB shared strings table: %v", err)
	}
	if table.Headers["uscc"] != "uscc" {
		t.Errorf("headers %v", table.Headers)
	}
}

// TestReadRefusesALyingDirectory: a part whose data expands past what the
// zip's directory declares is not read beyond it (archive/zip refuses), so
// a directory that lies cannot sneak a bomb past the declared-size check.
func TestReadRefusesALyingDirectory(t *testing.T) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, body := range workbookParts {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	// Compress 40 MB ourselves, then declare 1 KB.
	var deflated bytes.Buffer
	fw, _ := flate.NewWriter(&deflated, flate.BestCompression)
	fw.Write(bytes.Repeat([]byte("<si><t>a</t></si>"), 40<<20/17))
	fw.Close()
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "xl/sharedStrings.xml", Method: zip.Deflate,
		CompressedSize64: uint64(deflated.Len()), UncompressedSize64: 1024})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(deflated.Bytes())
	zw.Close()
	_, err = Read(bytes.NewReader(b.Bytes()), "liar.xlsx", Schema{Columns: []Column{{Key: "uscc"}}}, 0)
	if code := backend.ErrorCode(err); code != backend.EINVALID && code != backend.ETOOLARGE {
		t.Fatalf("a lying directory: %v, want it refused", err)
	}
}
