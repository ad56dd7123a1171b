package sheet

import (
	"bytes"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
)

// testSchema resembles the enterprise directory: required and optional
// columns, two list columns, several spellings per column.
var testSchema = Schema{
	Name: "企业名录",
	Columns: []Column{
		{Key: "uscc", Headers: []string{"统一社会信用代码", "uscc", "Unified Social Credit Code"}, Required: true},
		{Key: "name", Headers: []string{"企业名称", "name", "Enterprise Name"}, Required: true},
		{Key: "town", Headers: []string{"所属乡镇", "town"}},
		{Key: "industry", Headers: []string{"行业", "industry"}},
		{Key: "address", Headers: []string{"地址", "address"}},
		{Key: "categories", Headers: []string{"企业类别", "categories"}, Multi: true},
		{Key: "flags", Headers: []string{"标记", "flags"}, Multi: true},
		{Key: "legal_rep", Headers: []string{"法定代表人", "legal_representative"}},
		{Key: "safety_manager", Headers: []string{"安全负责人", "safety_manager"}},
		{Key: "phone", Headers: []string{"联系电话", "phone"}},
		{Key: "postcode", Headers: []string{"邮政编码", "postcode"}},
		{Key: "status", Headers: []string{"状态", "status"}},
	},
}

// xlsxFile builds a workbook with excelize directly (not with WriteXLSX), so
// reading tests do not depend on our writer.
func xlsxFile(t testing.TB, build func(f *excelize.File)) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	build(f)
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// setRows writes rows of strings from A1 down.
func setRows(t testing.TB, f *excelize.File, sheet string, rows [][]any) {
	t.Helper()
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sheet, cell, &r); err != nil {
			t.Fatal(err)
		}
	}
}

// gbk encodes s as Chinese Excel's plain "CSV" does.
func gbk(t testing.TB, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// utf16le encodes s as Excel's "Unicode text" does, with a byte order mark.
func utf16le(t testing.TB, s string) []byte {
	t.Helper()
	b, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
