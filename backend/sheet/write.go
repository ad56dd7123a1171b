package sheet

import (
	"encoding/csv"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/width"

	"suiji/backend"
)

// Column widths in Excel's units (about one Latin character each), and how
// many rows are measured to choose them: enough to be representative,
// few enough that width estimation never costs as much as writing.
const (
	minColWidth   = 8
	maxColWidth   = 60
	widthSampleN  = 1000
	defaultSheet  = "Sheet1"
	textNumFmtID  = 49 // Excel's built-in "@" (text) number format
	headerBgColor = "#DDEBF7"
)

// WriteXLSX writes rows as an XLSX workbook with one sheet named
// schema.Name: the headers in row 1, bold and frozen so they stay visible
// while scrolling, then one row per map, columns in schema order. Every cell
// is written as text in columns formatted as text, so USCCs, phone numbers
// and codes with leading zeros stay exactly as given, also in rows the user
// adds later in Excel. Keys not in the schema are ignored; values are
// trimmed and their line breaks written as "\n", as Read returns them, so
// that what is written reads back equal. Multi columns are written as given
// (join lists with JoinList).
//
// Errors: EINTERNAL when the workbook cannot be built or w fails.
func WriteXLSX(w io.Writer, schema Schema, rows []map[string]string) error {
	f := excelize.NewFile()
	defer f.Close()
	name := sheetName(schema.Name)
	if name != defaultSheet {
		if err := f.SetSheetName(defaultSheet, name); err != nil {
			return backend.Wrap(err, backend.EINTERNAL, "sheet: naming sheet %s", Quote(name))
		}
	}
	text, err := f.NewStyle(&excelize.Style{NumFmt: textNumFmtID})
	if err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "sheet: text style")
	}
	head, err := f.NewStyle(&excelize.Style{
		NumFmt: textNumFmtID,
		Font:   &excelize.Font{Bold: true},
		Fill:   excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{headerBgColor}},
	})
	if err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "sheet: header style")
	}
	sw, err := f.NewStreamWriter(name)
	if err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "sheet: stream writer")
	}
	// Panes, widths and column styles must precede the first row in a
	// stream writer.
	if err := sw.SetPanes(&excelize.Panes{
		Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}},
	}); err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "sheet: freezing the header")
	}
	headers := headerRow(schema)
	for i, c := range schema.Columns {
		wd := columnWidth(headers[i], c.Key, rows)
		if err := sw.SetColWidth(i+1, i+1, wd); err != nil {
			return backend.Wrap(err, backend.EINTERNAL, "sheet: column width")
		}
		if err := sw.SetColStyle(i+1, i+1, text); err != nil {
			return backend.Wrap(err, backend.EINTERNAL, "sheet: column style")
		}
	}
	cells := make([]any, len(schema.Columns))
	for i, h := range headers {
		cells[i] = excelize.Cell{StyleID: head, Value: h}
	}
	if err := sw.SetRow("A1", cells, excelize.RowOpts{StyleID: head}); err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "sheet: header row")
	}
	for n, row := range rows {
		for i, c := range schema.Columns {
			cells[i] = nil // blank cells are left out; the column style covers them
			if v := cleanValue(row[c.Key]); v != "" {
				cells[i] = excelize.Cell{StyleID: text, Value: v}
			}
		}
		ref, err := excelize.CoordinatesToCellName(1, n+2)
		if err != nil {
			return backend.Wrap(err, backend.EINTERNAL, "sheet: row %d", n+2)
		}
		if err := sw.SetRow(ref, cells); err != nil {
			return backend.Wrap(err, backend.EINTERNAL, "sheet: row %d", n+2)
		}
	}
	if err := sw.Flush(); err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "sheet: finishing the sheet")
	}
	if err := f.Write(w); err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "sheet: writing the workbook")
	}
	return nil
}

// WriteCSV writes rows as CSV in UTF-8: the headers, then one record per
// map, columns in schema order, lines ending in CRLF as Excel expects. With
// bom, the file starts with a UTF-8 byte order mark, without which Excel on
// Windows reads Chinese text as GBK and shows mojibake. A value Excel would
// evaluate as a formula (starting with = + - @) gets a leading apostrophe,
// which Read removes again; keys not in the schema are ignored and values
// are trimmed and line breaks normalised as by WriteXLSX.
//
// Note that Excel opening a CSV still turns long digit strings and leading
// zeros into numbers; XLSX is the format for people, CSV for programs.
//
// Errors: EINTERNAL when w fails.
func WriteCSV(w io.Writer, schema Schema, rows []map[string]string, bom bool) error {
	if bom {
		if _, err := io.WriteString(w, "\uFEFF"); err != nil {
			return backend.Wrap(err, backend.EINTERNAL, "sheet: writing CSV")
		}
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	rec := make([]string, len(schema.Columns))
	for i, h := range headerRow(schema) {
		rec[i] = escapeFormula(h)
	}
	if err := cw.Write(rec); err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "sheet: writing CSV")
	}
	for _, row := range rows {
		for i, c := range schema.Columns {
			rec[i] = escapeFormula(cleanValue(row[c.Key]))
		}
		if err := cw.Write(rec); err != nil {
			return backend.Wrap(err, backend.EINTERNAL, "sheet: writing CSV")
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "sheet: writing CSV")
	}
	return nil
}

// headerRow returns the headers exports write, in the schema's language.
func headerRow(schema Schema) []string {
	h := make([]string, len(schema.Columns))
	for i, c := range schema.Columns {
		h[i] = c.header(schema.HeaderLanguage)
	}
	return h
}

// sheetName makes a valid Excel sheet name of the schema's name: at most 31
// characters, none of : \ / ? * [ ], not starting or ending with an
// apostrophe.
func sheetName(s string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`:\/?*[]`, r) {
			return '_'
		}
		return r
	}, s)
	// Excel counts UTF-16 units; CJK characters are one unit each.
	if r := []rune(s); len(r) > 31 {
		s = string(r[:31])
	}
	s = strings.Trim(s, "' ")
	if s == "" {
		return defaultSheet
	}
	return s
}

// columnWidth estimates a width that shows the header and typical values
// without wrapping, counting CJK characters as two.
func columnWidth(header, key string, rows []map[string]string) float64 {
	wd := displayWidth(header)
	for _, row := range rows[:min(len(rows), widthSampleN)] {
		// A multi-line cell is as wide as its longest line.
		for _, line := range strings.Split(cleanValue(row[key]), "\n") {
			wd = max(wd, displayWidth(clean(line)))
		}
	}
	return float64(min(max(wd+2, minColWidth), maxColWidth))
}

// displayWidth counts the columns a string takes in a monospaced view.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}
