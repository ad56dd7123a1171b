package sheet

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// benchN is the row count of the read benchmarks; a variable so that a
// scaling check can change it.
var benchN = 10_000

// benchRows makes n enterprise-like rows over testSchema's 12 columns.
func benchRows(n int) []map[string]string {
	towns := []string{"南村镇", "巴公镇", "北义城镇", "高都镇", "大东沟镇", "周村镇", "金村镇", "川底镇"}
	cats := []string{"coal_mine", "hazardous_chemicals", "dust_explosion", "metallurgy_industry_trade", "confined_space"}
	rows := make([]map[string]string, n)
	for i := range rows {
		rows[i] = map[string]string{
			"uscc":           fmt.Sprintf("91140525MA%08d", i), // made up, 18 characters
			"name":           fmt.Sprintf("泽州县某某第%d号工贸有限公司", i),
			"town":           towns[i%len(towns)],
			"industry":       "金属制品业",
			"address":        fmt.Sprintf("山西省晋城市泽州县%s某某村%d号", towns[i%len(towns)], i%300),
			"categories":     JoinList([]string{cats[i%len(cats)], cats[(i+2)%len(cats)]}),
			"flags":          map[bool]string{true: "high_credit_risk", false: ""}[i%17 == 0],
			"legal_rep":      "张某某",
			"safety_manager": "李某某",
			"phone":          fmt.Sprintf("0356-%07d", i),
			"postcode":       "048000",
			"status":         "active",
		}
	}
	return rows
}

// benchRead times Read over a file written by write, reporting rows/s so
// XLSX and CSV can be compared as a ratio.
func benchRead(b *testing.B, write func(*bytes.Buffer, []map[string]string) error) {
	n := benchN
	var buf bytes.Buffer
	if err := write(&buf, benchRows(n)); err != nil {
		b.Fatal(err)
	}
	benchReadFile(b, buf.Bytes(), testSchema, n)
}

// benchReadFile times Read over data, which holds n rows of schema.
func benchReadFile(b *testing.B, data []byte, schema Schema, n int) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tab, err := Read(bytes.NewReader(data), "bench", schema, 0)
		if err != nil {
			b.Fatal(err)
		}
		if len(tab.Rows) != n {
			b.Fatalf("read %d rows, want %d", len(tab.Rows), n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkReadXLSX10k(b *testing.B) {
	benchRead(b, func(w *bytes.Buffer, rows []map[string]string) error { return WriteXLSX(w, testSchema, rows) })
}

func BenchmarkReadCSV10k(b *testing.B) {
	benchRead(b, func(w *bytes.Buffer, rows []map[string]string) error { return WriteCSV(w, testSchema, rows, true) })
}

// BenchmarkReadXLSXExcel10k reads a workbook shaped like one saved by
// Excel rather than by WriteXLSX: shared strings, a date column in the
// short date format, postcodes as numbers shown with leading zeros.
func BenchmarkReadXLSXExcel10k(b *testing.B) {
	n := benchN
	schema := Schema{Name: testSchema.Name, Columns: append(append([]Column(nil), testSchema.Columns...),
		Column{Key: "since", Headers: []string{"成立日期", "since"}})}
	data := xlsxFile(b, func(f *excelize.File) {
		header := make([]any, len(schema.Columns))
		for i, c := range schema.Columns {
			header[i] = c.Headers[0]
		}
		rows := [][]any{header}
		for i, r := range benchRows(n) {
			row := make([]any, 0, len(schema.Columns))
			for _, c := range testSchema.Columns {
				row = append(row, r[c.Key])
			}
			row[10] = 48000 + i%100 // postcode, as a number
			rows = append(rows, append(row, time.Date(2000+i%25, time.Month(1+i%12), 1+i%28, 0, 0, 0, 0, time.UTC)))
		}
		setRows(b, f, "Sheet1", rows)
		zeros := "000000"
		postcode, _ := f.NewStyle(&excelize.Style{CustomNumFmt: &zeros})
		date, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
		last := fmt.Sprint(n + 1)
		f.SetCellStyle("Sheet1", "K2", "K"+last, postcode)
		f.SetCellStyle("Sheet1", "M2", "M"+last, date)
	})
	benchReadFile(b, data, schema, n)
}

// BenchmarkWriteXLSX10k shows the export side, which the stream writer keeps
// linear.
func BenchmarkWriteXLSX10k(b *testing.B) {
	rows := benchRows(10_000)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var buf bytes.Buffer
		if err := WriteXLSX(&buf, testSchema, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(10_000*b.N)/b.Elapsed().Seconds(), "rows/s")
}
