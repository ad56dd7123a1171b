package sheet

// The cells of an XLSX worksheet are read here, from the stream of its XML,
// rather than with excelize's Rows.Columns. Columns hands back each row as
// a slice as wide as its rightmost cell (16,384 strings for one value in
// column XFD) and makes a new copy of a shared text for every cell that
// shows it (4 GB from a 4 KB file that shows one 1 MB text in 4,000 cells),
// all before the caller sees the row; nor does it stop when the request
// does. This reader makes strings only for the cells within the width the
// builder takes, hands every cell that shows a shared text the one string
// read from the table, and checks the request's context as it goes. The
// builder then counts and bounds what it takes (MaxCellBytes,
// MaxTextBytes). excelize still opens the workbook and formats numbers.

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/htmlindex"

	"suiji/backend"
)

// tokensPerCheck is how many XML tokens the readers take between looks at
// the context: a few hundred rows' worth, or one long hostile row's part.
const tokensPerCheck = 4096

// newXMLDecoder returns a decoder for one part of the zip. Parts declaring
// an encoding other than UTF-8 (GBK from some Chinese tools) are decoded
// with x/text, as excelize decodes them.
func newXMLDecoder(r io.Reader) *xml.Decoder {
	d := xml.NewDecoder(r)
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		enc, err := htmlindex.Get(label)
		if err != nil {
			return nil, err
		}
		return enc.NewDecoder().Reader(in), nil
	}
	return d
}

// findPart returns the zip entry named name, matched as excelize matches
// them (backslashes as slashes, and, failing an exact match, ignoring
// case), or nil.
func findPart(zr *zip.Reader, name string) *zip.File {
	var fold *zip.File
	for _, f := range zr.File {
		n := strings.ReplaceAll(f.Name, `\`, "/")
		if n == name {
			return f
		}
		if fold == nil && strings.EqualFold(n, name) {
			fold = f
		}
	}
	return fold
}

// decodePart unmarshals the (small, bounded by checkParts) part name into v.
func decodePart(zr *zip.Reader, name string, v any) error {
	f := findPart(zr, name)
	if f == nil {
		return errors.New("no part " + name)
	}
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	return newXMLDecoder(rc).Decode(v)
}

// relationships is a .rels part: how one part names the parts it uses.
type relationships struct {
	Rels []struct {
		ID     string `xml:"Id,attr"`
		Type   string `xml:"Type,attr"`
		Target string `xml:"Target,attr"`
	} `xml:"Relationship"`
}

// workbookSheets is the list of sheets in workbook.xml (the r:id attribute
// in either the transitional or the strict namespace).
type workbookSheets struct {
	Sheets []struct {
		Name string `xml:"name,attr"`
		RID  string `xml:"id,attr"`
	} `xml:"sheets>sheet"`
}

// resolvePart turns a relationship's target, relative to the part from
// whose .rels it comes, into a zip entry name, as excelize does.
func resolvePart(from, target string) string {
	target = strings.ReplaceAll(target, `\`, "/")
	if !strings.HasPrefix(target, "/") {
		target = path.Dir(from) + "/" + target
	}
	return strings.TrimPrefix(path.Clean("/"+target), "/")
}

// relsOf is the name of the .rels part of the part named name.
func relsOf(name string) string {
	return strings.TrimPrefix(path.Join(path.Dir("/"+name), "_rels", path.Base(name)+".rels"), "/")
}

// sheetPart finds the zip entry of the worksheet named sheet: the package
// names the workbook, the workbook names its sheets by relationship, the
// workbook's relationships name the parts.
func sheetPart(zr *zip.Reader, sheet string) (*zip.File, error) {
	wb := "xl/workbook.xml"
	var root relationships
	if decodePart(zr, "_rels/.rels", &root) == nil {
		for _, r := range root.Rels {
			if strings.HasSuffix(r.Type, "/officeDocument") {
				wb = resolvePart("", r.Target)
				break
			}
		}
	}
	var sheets workbookSheets
	if err := decodePart(zr, wb, &sheets); err != nil {
		return nil, err
	}
	var rels relationships
	if err := decodePart(zr, relsOf(wb), &rels); err != nil {
		return nil, err
	}
	for _, s := range sheets.Sheets {
		if !strings.EqualFold(s.Name, sheet) {
			continue
		}
		for _, r := range rels.Rels {
			if r.ID == s.RID {
				if f := findPart(zr, resolvePart(wb, r.Target)); f != nil {
					return f, nil
				}
			}
		}
	}
	return nil, errors.New("no part for sheet " + sheet)
}

// readSharedStrings reads the workbook's shared strings table: each entry's
// text as excelize shows it (its runs joined, phonetic guides left out,
// _xHHHH_ escapes decoded). It is read once, and every cell that shows an
// entry is given the same string. checkParts has bounded the table's size
// and entries.
func readSharedStrings(ctx context.Context, zr *zip.Reader, name string) ([]string, error) {
	part := findPart(zr, "xl/sharedStrings.xml")
	if part == nil {
		return nil, nil
	}
	damaged := func(err error) error {
		return backend.Wrap(err, backend.EINVALID, "%s is a damaged XLSX file: its shared strings cannot be read", name)
	}
	rc, err := part.Open()
	if err != nil {
		return nil, damaged(err)
	}
	defer rc.Close()
	dec := newXMLDecoder(rc)
	var (
		out      []string
		buf      []byte
		inSI     bool
		inT      bool
		phonetic int // depth of <rPh> elements, whose text is not shown
	)
	for n := 1; ; n++ {
		if n%tokensPerCheck == 0 {
			if err := stopped(ctx, name); err != nil {
				return nil, err
			}
		}
		tok, err := dec.RawToken()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, damaged(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "si":
				inSI, buf = true, buf[:0]
			case "rPh":
				phonetic++
			case "t":
				inT = inSI && phonetic == 0
			}
		case xml.CharData:
			if inT {
				buf = append(buf, t...)
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inT = false
			case "rPh":
				phonetic = max(phonetic-1, 0)
			case "si":
				if inSI {
					out = append(out, unescapeBSTR(buf))
					inSI = false
				}
			}
		}
	}
}

// unescapeBSTR decodes the _xHHHH_ escapes Office writes for characters XML
// cannot hold (_x000D_ for a carriage return; _x005F_ for an underscore that
// would otherwise start one), as excelize does, but in one pass: excelize
// builds its result by repeated concatenation, which is quadratic in the
// number of escapes. Escaped surrogate halves are dropped, as excelize
// drops them.
func unescapeBSTR(b []byte) string {
	if !bytes.Contains(b, []byte("_x")) {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		if r, ok := bstrEscape(b[i:]); ok {
			if utf8.ValidRune(r) {
				out = utf8.AppendRune(out, r)
			}
			i += len("_xHHHH_")
			continue
		}
		out = append(out, b[i])
		i++
	}
	return string(out)
}

// bstrEscape reports whether b starts with an _xHHHH_ escape, and its rune.
func bstrEscape(b []byte) (rune, bool) {
	if len(b) < 7 || b[0] != '_' || b[1] != 'x' || b[6] != '_' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[2:6]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}

// xlsxCell is what sheetReader gathers of one <c> element.
type xlsxCell struct {
	col     int    // 1-based, from the cell's reference or counted on from the last
	style   int    // index into the workbook's cell formats; 0 is General
	typ     string // the t attribute: s, str, inlineStr, b, e, d, or n/"" for a number
	formula bool
	v       []byte // text of <v>
	is      []byte // text of <is> (an inline string), without phonetic guides
	inline  bool   // the cell has an <is>
	long    bool   // its text ran past MaxCellBytes and was not all kept
}

// sheetReader streams the rows of one worksheet into a builder. It keeps
// one row's cells at a time, at most the builder's width of them.
type sheetReader struct {
	name    string   // the file, for messages
	sheet   string   // the sheet's name, quoted, for messages
	shared  []string // the shared strings table
	numbers *numberFormats
	b       *builder

	line     int            // Excel's number of the row being read, or of the last one
	inRow    bool           // between <row> and </row>
	width    int            // cells of this row the builder takes
	cells    []string       // this row's values so far
	errs     map[int]string // this row's cells holding an Excel error value, by position: the reason
	dropped  bool           // this row has values past width
	inCell   bool           // between <c> and </c>
	cell     xlsxCell
	text     *[]byte // where character data goes: the cell's v or is, or nowhere
	inInline bool    // inside the cell's <is>
	phonetic int     // depth of <rPh> inside it
}

// read streams the worksheet part into the builder.
func (r *sheetReader) read(ctx context.Context, part *zip.File) error {
	rc, err := part.Open()
	if err != nil {
		return backend.Wrap(err, backend.EINVALID, "%s is a damaged XLSX file: sheet %s cannot be read", r.name, r.sheet)
	}
	defer rc.Close()
	dec := newXMLDecoder(rc)
	for n := 1; ; n++ {
		if n%tokensPerCheck == 0 {
			if err := stopped(ctx, r.name); err != nil {
				return err
			}
		}
		tok, err := dec.RawToken()
		if err == io.EOF && !r.inRow {
			return nil
		}
		if err != nil {
			return backend.Wrap(err, backend.EINVALID, "%s: sheet %s is damaged after row %d", r.name, r.sheet, r.line)
		}
		done := false
		switch t := tok.(type) {
		case xml.StartElement:
			err = r.start(t)
		case xml.CharData:
			r.charData(t)
		case xml.EndElement:
			done, err = r.end(t)
		}
		if err != nil || done {
			return err
		}
	}
}

// start handles an opening tag.
func (r *sheetReader) start(t xml.StartElement) error {
	switch t.Name.Local {
	case "row":
		return r.startRow(t.Attr)
	case "c":
		if r.inRow {
			return r.startCell(t.Attr)
		}
	case "v":
		if r.inCell {
			r.cell.v = r.cell.v[:0] // a cell has one value; the last one wins, as in excelize
			r.text = &r.cell.v
		}
	case "f":
		r.cell.formula = r.inCell
	case "is":
		if r.inCell {
			r.inInline, r.cell.inline = true, true
		}
	case "rPh":
		r.phonetic++
	case "t":
		if r.inInline && r.phonetic == 0 {
			r.text = &r.cell.is
		}
	}
	return nil
}

// charData keeps the text of a cell's value, up to just past MaxCellBytes:
// that is enough to know the cell is too long.
func (r *sheetReader) charData(t xml.CharData) {
	if r.text == nil {
		return
	}
	if room := MaxCellBytes + 1 - len(*r.text); len(t) > room {
		t = t[:max(room, 0)]
		r.cell.long = true
	}
	*r.text = append(*r.text, t...)
}

// end handles a closing tag; done reports the end of the sheet's data.
func (r *sheetReader) end(t xml.EndElement) (done bool, err error) {
	switch t.Name.Local {
	case "v", "t":
		r.text = nil
	case "is":
		r.inInline = false
	case "rPh":
		r.phonetic = max(r.phonetic-1, 0)
	case "c":
		if r.inCell {
			r.inCell, r.text = false, nil
			return false, r.endCell()
		}
	case "row":
		if r.inRow {
			r.inRow = false
			return false, r.b.addChecked(r.line, r.cells, r.dropped, r.errs)
		}
	case "sheetData":
		return true, nil
	}
	return false, nil
}

// startRow begins a row: its number is its r attribute, or one more than
// the last row's. Rows must come in order, as every spreadsheet program
// writes them, so that row numbers in messages mean what they say.
func (r *sheetReader) startRow(attrs []xml.Attr) error {
	n := r.line + 1
	if v, err := strconv.Atoi(attr(attrs, "r")); err == nil && v > 0 {
		n = v
	}
	if n <= r.line || n > excelize.TotalRows {
		return backend.Errorf(backend.EINVALID, "%s: sheet %s is damaged after row %d (its rows are out of order)", r.name, r.sheet, r.line)
	}
	r.line, r.inRow = n, true
	r.cells, r.dropped = r.cells[:0], false
	clear(r.errs)
	r.width = r.b.width()
	r.cell.col = 0
	return nil
}

// startCell begins a cell: its column is that of its reference (A1), or
// the one after the last cell's.
func (r *sheetReader) startCell(attrs []xml.Attr) error {
	col := r.cell.col + 1
	if ref := attr(attrs, "r"); ref != "" {
		c, _, err := excelize.CellNameToCoordinates(ref)
		if err != nil {
			return backend.Wrap(err, backend.EINVALID, "%s: row %d of sheet %s is damaged", r.name, r.line, r.sheet)
		}
		col = c
	} else if col > MaxFields {
		// Cells without a reference count on from the last; a row of
		// them may run no further than a referenced one could.
		return backend.Errorf(backend.EINVALID, "%s: row %d of sheet %s is damaged (it has more than %d cells)", r.name, r.line, r.sheet, MaxFields)
	}
	style, _ := strconv.Atoi(attr(attrs, "s"))
	r.cell = xlsxCell{col: col, style: style, typ: attr(attrs, "t"), v: r.cell.v[:0], is: r.cell.is[:0]}
	r.inCell, r.inInline, r.phonetic = true, false, 0
	return nil
}

// endCell places the cell just read in the row: as a value when it lies
// within the width, else only as a note that the row has more. A cell
// that comes left of the one before it goes after it, as excelize places it.
func (r *sheetReader) endCell() error {
	c := &r.cell
	pos := max(c.col-1, len(r.cells))
	if pos >= r.width {
		if has, err := r.hasValue(c); err != nil || !has {
			return err
		}
		r.b.ignored(r.line, pos)
		r.dropped = true
		return nil
	}
	if c.long {
		return r.b.cellTooLong(r.line, pos)
	}
	v, err := r.value(c)
	if err != nil || (v == "" && !c.formula) {
		return err // an empty cell is no cell, unless it holds a formula
	}
	for len(r.cells) < pos {
		r.cells = append(r.cells, "")
	}
	r.cells = append(r.cells, v)
	if c.typ == "e" {
		// An error value (#N/A, #REF!, #VALUE! …) is what a formula shows
		// when it failed, not a value anyone meant: stored as text, "#N/A"
		// would become a name, a town or a badge number. The row is
		// rejected naming the column, so the user fixes the formula or
		// pastes the values.
		if r.errs == nil {
			r.errs = make(map[int]string)
		}
		r.errs[pos] = excelErrorProblem(v)
	}
	return nil
}

// hasValue reports whether a cell past the width holds something, without
// making its text.
func (r *sheetReader) hasValue(c *xlsxCell) (bool, error) {
	switch {
	case c.formula:
		return true, nil
	case c.typ == "s" && len(c.v) > 0:
		i, err := r.sharedIndex(c)
		return err == nil && r.shared[i] != "", err
	case c.typ == "inlineStr" && c.inline:
		return len(c.is) > 0, nil
	}
	return len(c.v) > 0, nil
}

// value is a cell's text as excelize's Rows.Columns gives it, with one
// difference: text is never passed through a number format (those are for
// numbers; excelize's way of applying one to text repeats the text for
// every @ in the format, which a hostile file can use as an amplifier).
// An ISO date cell (t="d", which Excel does not write) reads as written.
func (r *sheetReader) value(c *xlsxCell) (string, error) {
	switch c.typ {
	case "s":
		if len(c.v) == 0 {
			return "", nil
		}
		i, err := r.sharedIndex(c)
		if err != nil {
			return "", err
		}
		return r.shared[i], nil
	case "inlineStr":
		if c.inline {
			return unescapeBSTR(c.is), nil
		}
		return string(c.v), nil
	case "b":
		switch string(c.v) {
		case "1":
			return "TRUE", nil
		case "0":
			return "FALSE", nil
		}
		return string(c.v), nil
	case "str", "e", "d":
		return string(c.v), nil
	}
	if len(c.v) == 0 {
		return "", nil
	}
	return r.numbers.format(string(c.v), c.style), nil
}

// sharedIndex is the shared strings entry a cell of type s names.
func (r *sheetReader) sharedIndex(c *xlsxCell) (int, error) {
	i, err := strconv.Atoi(string(bytes.TrimSpace(c.v)))
	if err != nil || i < 0 || i >= len(r.shared) {
		return 0, backend.Errorf(backend.EINVALID, "%s: row %d of sheet %s is damaged (a cell names text %s that the file does not have)",
			r.name, r.line, r.sheet, Quote(string(c.v)))
	}
	return i, nil
}

// attr is the value of the attribute local in attrs, or "".
func attr(attrs []xml.Attr, local string) string {
	for _, a := range attrs {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// maxNumFmtChars is the longest number format applied: Excel's own limit.
// excelize formats by copying literal parts of the format into the result,
// so a longer one (a hostile file's) would make every number's text as
// long as the styles part allows; such a format is ignored (General).
const maxNumFmtChars = 255

// maxFormatMemo bounds the memo of formatted numbers; when full it starts
// over. Dates, years and postcodes repeat down a column, so a small memo
// saves most of the formatting work.
const maxFormatMemo = 4096

// scratchSheet is the sheet numberFormats adds to the opened workbook (in
// memory only; the upload is never written) to have excelize format a
// number: excelize formats only the cells of a worksheet.
const scratchSheet = "suiji-number-format"

// numberFormats shows numbers as excelize shows them, which is what Excel
// displays: dates in their format (short dates as YYYY-MM-DD), postcodes
// with their leading zeros, General numbers without a trailing ".0".
type numberFormats struct {
	f       *excelize.File
	scratch bool         // the scratch sheet exists
	badFmt  map[int]bool // number format IDs longer than maxNumFmtChars; nil until styles are read
	memo    map[formatKey]string
}

type formatKey struct {
	style int
	value string
}

func newNumberFormats(f *excelize.File) *numberFormats {
	return &numberFormats{f: f, memo: make(map[formatKey]string)}
}

// format shows the number v of a cell with the given style.
func (n *numberFormats) format(v string, style int) string {
	general, ok := generalNumber(v)
	if !ok || style == 0 {
		return general // not a number (left as written), or General
	}
	k := formatKey{style, v}
	if s, ok := n.memo[k]; ok {
		return s
	}
	s, err := n.viaExcelize(v, style)
	if err != nil {
		s = general // a style the file does not have, as excelize reads it
	}
	if len(n.memo) >= maxFormatMemo {
		clear(n.memo)
	}
	n.memo[k] = s
	return s
}

// viaExcelize has excelize format v in the given style, in the scratch
// sheet's cell A1.
func (n *numberFormats) viaExcelize(v string, style int) (string, error) {
	if !n.scratch {
		// GetCellValue parses excelize's copy of the shared strings table
		// the first time it runs, to look up text cells; a number needs
		// none of it and sheetReader has its own, so excelize is given
		// none (in memory; the upload is never written).
		n.f.Pkg.Delete("xl/sharedStrings.xml")
		if _, err := n.f.NewSheet(scratchSheet); err != nil {
			return "", err
		}
		n.scratch = true
	}
	if err := n.f.SetCellDefault(scratchSheet, "A1", v); err != nil {
		return "", err
	}
	if err := n.f.SetCellStyle(scratchSheet, "A1", "A1", style); err != nil {
		return "", err
	}
	if !n.formatUsable(style) {
		return "", errors.New("number format too long")
	}
	return n.f.GetCellValue(scratchSheet, "A1")
}

// formatUsable reports whether the number format of style is short enough
// to apply. The styles are read by SetCellStyle before it is called.
func (n *numberFormats) formatUsable(style int) bool {
	ss := n.f.Styles
	if ss == nil || ss.CellXfs == nil || style < 0 || style >= len(ss.CellXfs.Xf) {
		return false
	}
	if n.badFmt == nil {
		n.badFmt = map[int]bool{}
		if ss.NumFmts != nil {
			for _, nf := range ss.NumFmts.NumFmt {
				if utf8.RuneCountInString(nf.FormatCode) > maxNumFmtChars || utf8.RuneCountInString(nf.FormatCode16) > maxNumFmtChars {
					n.badFmt[nf.NumFmtID] = true
				}
			}
		}
	}
	id := ss.CellXfs.Xf[style].NumFmtID
	return id == nil || !n.badFmt[*id]
}

// generalNumber shows v in Excel's General format as excelize does (up to
// 15 significant digits; no exponent where the digits fit), and reports
// whether v is a number at all.
func generalNumber(v string) (string, bool) {
	if strings.Contains(v, "_") {
		return v, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return v, false
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if digits := len(s) - strings.Count(s, "."); digits > 15 && !zeroFilled(v) {
		return strconv.FormatFloat(f, 'G', 15, 64), true
	}
	return s, true
}

// zeroFilled reports an integer whose digits past Excel's 15 are all
// zeros, which General shows in full.
func zeroFilled(v string) bool {
	if strings.ContainsAny(v, ".Ee") {
		return false
	}
	v = strings.TrimLeft(v, "+-0")
	return len(strings.TrimRight(v, "0")) <= 15
}

// excelErrorProblem is why a cell showing an Excel error value is no
// value.
func excelErrorProblem(v string) string {
	return fmt.Sprintf("the cell holds the Excel error value %s (a formula that failed), not a value; fix the formula or paste the values", Quote(v))
}

// excelErrorValues are the values Excel shows for a formula that failed,
// which a CSV export writes as plain text.
var excelErrorValues = []string{"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA", "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!"}

// csvErrorCells finds the cells of a CSV record that hold exactly an
// Excel error value (a CSV has no cell types: Excel writes the value it
// shows), by position, with why; nil when none.
func csvErrorCells(cells []string) map[int]string {
	var out map[int]string
	for i, c := range cells {
		if v := strings.TrimSpace(c); slices.Contains(excelErrorValues, strings.ToUpper(v)) {
			if out == nil {
				out = map[int]string{}
			}
			out[i] = excelErrorProblem(v)
		}
	}
	return out
}
