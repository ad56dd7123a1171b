package sheet

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"

	"suiji/backend"
)

// DefaultMaxBytes is the size limit Read applies when called with
// maxBytes <= 0: a 10,000-row directory is well under 2 MB as XLSX, so 32 MB
// leaves room while bounding the memory one upload can take.
const DefaultMaxBytes = 32 << 20

// Format names, as reported in Table.Format.
const (
	FormatXLSX = "xlsx"
	FormatCSV  = "csv"
)

// MaxRows bounds the data rows Read accepts, so that a small file that
// expands hugely (an XLSX is a zip) cannot take the server's memory; it is
// ten times the 10,000 enterprises the county's directory is sized for.
const MaxRows = 100_000

// Bounds on the text Read takes from a file, whatever its format. A few KB
// of XLSX can name one shared text in a million cells, and every use of it
// is a string each caller then trims, splits, checks and copies; these
// bounds make that cost follow what a real directory holds, not what the
// file can point at.
const (
	// MaxCellBytes bounds one cell's text, in bytes of UTF-8. The longest
	// real values (an address, an item's legal basis with the article
	// quoted, an inspection method) are a few hundred characters; 32 KB is
	// some 10,000 Chinese characters, about a third of what Excel lets a
	// cell hold, and no field of any directory comes near it.
	MaxCellBytes = 32 << 10
	// MaxTextBytes bounds the text of all the cells Read looks at in one
	// file, each use of a cell counted (a text an XLSX shares between
	// cells is counted once per cell, since each becomes a value). MaxRows
	// rows of a directory are some 25 MB of text; 64 MB leaves room and
	// matches the bounds on what an XLSX may expand to.
	MaxTextBytes = 64 << 20
	// MaxColumns bounds the columns Read looks at while it looks for the
	// header; below the header it looks only as far as the header goes.
	// Values further right are ignored with a warning, without being read:
	// a cell in column XFD must not cost 16,384 cells. It is Excel 2003's
	// limit and ten times the widest schema.
	MaxColumns = 256
	// MaxFields bounds the cells of one row of the file, looked at or not:
	// Excel's own limit (column XFD), which the XLSX reader enforces on
	// every cell reference, so a CSV line may be no wider than a sheet
	// row. A CSV line is counted before it is parsed, since parsing makes
	// a string and two positions for every field of the line — a few MB of
	// commas would otherwise cost a gigabyte before the row is cut to its
	// header's width.
	MaxFields = excelize.MaxColumns
)

// checkEvery is how many rows Read takes between looks at its context, so
// that a request that ends (a deadline, a client gone) stops the read soon
// after, at a cost too small to measure.
const checkEvery = 256

// maxTitleRows is how many non-blank rows above the header Read skips while
// looking for it: a title and a subtitle or date line are common; more than a
// handful means the file is not the table we expect.
const maxTitleRows = 5

// Table is a spreadsheet read against a Schema.
type Table struct {
	// Rows are the data rows below the header, fully blank rows left out.
	Rows []Row
	// Warnings describe what was ignored (unknown columns, title rows,
	// values under no header) so the user can tell whether the file said
	// more than was read.
	Warnings []string
	// Headers maps the key of every column present in the file to the header
	// text the user wrote, so messages can use the user's words. A key absent
	// here means the column was not in the file, which callers treat as
	// "leave this field alone" rather than "clear it".
	Headers map[string]string
	// Format is FormatXLSX or FormatCSV.
	Format string

	schema Schema
}

// Row is one data row.
type Row struct {
	// Line is the row number as the user sees it in Excel (the header of a
	// file without title rows is 1).
	Line int
	// Values holds the trimmed text of every column present in the file,
	// blank cells as "" (Multi columns too, as written), line breaks as "\n".
	Values map[string]string
	// Lists holds the items of every Multi column present in the file, split
	// by SplitList; nil for a blank cell.
	Lists map[string][]string
	// Problems holds, by column key, what the reader found wrong with a
	// cell whatever the column means (an Excel error value such as #N/A,
	// which is not the value the user sees a reason for); nil when none.
	// Import rejects such a row with these reasons, ahead of the area's
	// own for the same column.
	Problems map[string]string
}

// Read is ReadContext for a caller without a deadline (tests, tools).
func Read(r io.Reader, filename string, schema Schema, maxBytes int64) (*Table, error) {
	return ReadContext(context.Background(), r, filename, schema, maxBytes)
}

// ReadContext reads a CSV or XLSX file into a Table, mapping its header to
// schema. filename is used only in messages; the format is detected from
// content. maxBytes bounds the file size (DefaultMaxBytes when <= 0). The
// read stops soon after ctx ends.
//
// Errors: ETOOLARGE for a file over maxBytes, an XLSX that expands to an
// implausible size, more than MaxRows rows, a cell over MaxCellBytes or more
// than MaxTextBytes of text; EINVALID for a file that is not CSV or XLSX, a
// damaged XLSX, text in an unknown encoding, an empty file, or a header that
// lacks a required column or names a column twice; EUNAVAILABLE when ctx
// ends first; EINTERNAL for an invalid schema.
func ReadContext(ctx context.Context, r io.Reader, filename string, schema Schema, maxBytes int64) (*Table, error) {
	idx, err := schema.index()
	if err != nil {
		return nil, err
	}
	name := displayName(filename)
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	data, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, backend.Wrap(err, backend.EINVALID, "%s could not be read", name)
	}
	if int64(len(data)) > maxBytes {
		return nil, backend.Errorf(backend.ETOOLARGE, "%s is larger than the %s limit", name, humanSize(maxBytes))
	}

	if err := stopped(ctx, name); err != nil {
		return nil, err
	}

	b := &builder{schema: schema, idx: idx, name: name}
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		b.table.Format = FormatXLSX
		err = readXLSX(ctx, data, name, schema.Name, b)
	} else {
		b.table.Format = FormatCSV
		err = readCSV(ctx, data, name, b)
	}
	if err != nil {
		return nil, err
	}
	return b.finish()
}

// stopped returns the error for a read whose context has ended, nil while
// it runs. The deadline middleware words a timeout for the client; this
// message is for the log and for callers without one.
func stopped(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return backend.Wrap(err, backend.EUNAVAILABLE, "reading %s was stopped before the end: the request was cancelled or ran out of time", name)
	}
	return nil
}

// displayName is the file's base name for messages; browsers send
// "C:\fakepath\x.csv" and the path is nobody's business.
func displayName(filename string) string {
	if i := strings.LastIndexAny(filename, `/\`); i >= 0 {
		filename = filename[i+1:]
	}
	if filename == "" {
		return "the file"
	}
	return Quote(filename)
}

// humanSize formats a byte limit for a message.
func humanSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d byte", n)
}

// notSpreadsheet is the error for content that is neither CSV nor XLSX;
// hint, when not empty, tells the user what it looks like instead.
func notSpreadsheet(name, hint string) error {
	msg := name + " is not a CSV or XLSX file"
	if hint != "" {
		msg += "; " + hint
	}
	return backend.Errorf(backend.EINVALID, "%s", msg)
}

// binaryMagic lists signatures of files people upload by mistake, so they
// get a clear answer instead of a confusing header error.
var binaryMagic = []struct {
	prefix, hint string
}{
	{"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", "it is an Excel 97-2003 (.xls) or password-protected workbook: save it as .xlsx (Excel workbook) without a password"},
	{"%PDF", "it is a PDF document"},
	{"\x89PNG", "it is a PNG image"},
	{"\xFF\xD8\xFF", "it is a JPEG image"},
	{"GIF8", "it is a GIF image"},
	{"PK", "it is a zip archive but not an Excel workbook"},
	{"\x1F\x8B", "it is a compressed (gzip) file"},
	{"Rar!", "it is a RAR archive"},
	{"7z\xBC\xAF", "it is a 7-Zip archive"},
}

// readXLSX streams the chosen worksheet's rows into b.
func readXLSX(ctx context.Context, data []byte, name string, want string, b *builder) (err error) {
	// excelize is a large parser fed untrusted bytes; a bug there must
	// cost one upload an error, not the server its life.
	defer func() {
		if p := recover(); p != nil {
			err = backend.Wrap(fmt.Errorf("excelize panic: %v", p), backend.EINVALID, "%s is a damaged XLSX file", name)
		}
	}()

	// Check the zip ourselves first: its directory tells a truncated file
	// or the wrong kind of document, and decompressing every part once,
	// within bounds, refuses a bomb before excelize inflates anything.
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return backend.Wrap(err, backend.EINVALID, "%s is a damaged XLSX file (it may be truncated); save it again from Excel", name)
	}
	workbook := false
	kind := "a zip archive"
	for _, f := range zr.File {
		// Word, PowerPoint and OpenDocument files are zips too.
		switch n := strings.ToLower(f.Name); {
		case strings.HasPrefix(n, "xl/"):
			workbook = true
		case strings.HasPrefix(n, "word/"):
			kind = "a Word document"
		case strings.HasPrefix(n, "ppt/"):
			kind = "a PowerPoint presentation"
		case n == "mimetype" || strings.HasPrefix(n, "meta-inf/"):
			kind = "an OpenDocument file (save spreadsheets as .xlsx)"
		}
	}
	if !workbook {
		return notSpreadsheet(name, "it is "+kind+", not an Excel workbook")
	}
	if err := checkParts(ctx, zr, name); err != nil {
		return err
	}

	// excelize opens the workbook for what it knows best (the sheets, which
	// are visible, the number formats); the cells are read by sheetReader.
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		// Parts over spillBytes (large sheets, a large shared strings
		// table) go to temporary files instead of into memory;
		// checkParts has bounded them all.
		UnzipSizeLimit:    MaxExpandedBytes,
		UnzipXMLSizeLimit: spillBytes,
		// Dates in Excel's default short date format (numFmt 14) read as
		// ISO dates instead of US "01-02-26", which no caller could parse.
		ShortDatePattern: "yyyy-mm-dd",
	})
	if err != nil {
		return backend.Wrap(err, backend.EINVALID, "%s is a damaged XLSX file; save it again from Excel", name)
	}
	defer f.Close()

	sheet := pickSheet(f, want)
	if sheet == "" {
		return notSpreadsheet(name, "it is a workbook without a worksheet")
	}
	if n := len(f.GetSheetList()); n > 1 {
		b.warn(fmt.Sprintf("read sheet %s; the other %d sheets were ignored", Quote(sheet), n-1))
	}
	part, err := sheetPart(zr, sheet)
	if err != nil {
		return backend.Wrap(err, backend.EINVALID, "%s is a damaged XLSX file: sheet %s cannot be read", name, Quote(sheet))
	}
	shared, err := readSharedStrings(ctx, zr, name)
	if err != nil {
		return err
	}
	r := &sheetReader{name: name, sheet: Quote(sheet), shared: shared, numbers: newNumberFormats(f), b: b}
	return r.read(ctx, part)
}

// Bounds on what an XLSX may expand to, whatever the size of the upload: a
// spreadsheet is a zip of XML parts, and a small file can expand enormously
// (125 KB of zip can hold 51 MB of shared strings, which excelize would turn
// into a gigabyte of memory). The limits leave room for MaxRows rows of any
// of this package's schemas.
const (
	// MaxPartBytes bounds one worksheet or the shared strings table.
	MaxPartBytes = 32 << 20
	// MaxOtherPartBytes bounds every other part (styles, themes, images).
	MaxOtherPartBytes = 8 << 20
	// MaxExpandedBytes bounds all parts together.
	MaxExpandedBytes = 96 << 20
	// MaxSharedStrings bounds the entries of the shared strings table
	// (excelize keeps an index entry for each), eight per row of MaxRows.
	MaxSharedStrings = 8 * MaxRows
	// spillBytes is the part size from which excelize keeps a part in a
	// temporary file rather than in memory.
	spillBytes = 4 << 20
)

// checkParts decompresses every part of the zip once, counting, and
// refuses (ETOOLARGE) a part or a file that expands past the bounds above,
// or a shared strings table with too many entries. The sizes the zip's
// directory declares are checked first, which refuses most bombs at no
// cost; the count of what really comes out is what decides, since a
// directory can lie (and archive/zip refuses data beyond what it declares).
func checkParts(ctx context.Context, zr *zip.Reader, name string) error {
	tooLarge := func(what string, limit int64) error {
		return backend.Errorf(backend.ETOOLARGE, "%s expands to more than %s%s; split it into smaller files", name, humanSize(limit), what)
	}
	var declared uint64
	for _, f := range zr.File {
		declared += f.UncompressedSize64
		if declared > MaxExpandedBytes {
			return tooLarge("", MaxExpandedBytes)
		}
		if limit, _ := partLimit(f.Name); f.UncompressedSize64 > uint64(limit) {
			return tooLarge(" in "+Quote(f.Name), limit)
		}
	}
	var total int64
	for _, f := range zr.File {
		if err := stopped(ctx, name); err != nil {
			return err
		}
		if f.FileInfo().IsDir() {
			continue
		}
		limit, shared := partLimit(f.Name)
		rc, err := f.Open()
		if err != nil {
			return backend.Wrap(err, backend.EINVALID, "%s is a damaged XLSX file: part %s cannot be read", name, Quote(f.Name))
		}
		counter := &partCounter{shared: shared}
		n, err := io.Copy(counter, io.LimitReader(rc, limit+1))
		rc.Close()
		if err != nil {
			return backend.Wrap(err, backend.EINVALID, "%s is a damaged XLSX file: part %s cannot be read", name, Quote(f.Name))
		}
		if n > limit {
			return tooLarge(" in "+Quote(f.Name), limit)
		}
		if total += n; total > MaxExpandedBytes {
			return tooLarge("", MaxExpandedBytes)
		}
		if counter.entries > MaxSharedStrings {
			return backend.Errorf(backend.ETOOLARGE, "%s holds more than %d distinct texts; split it into smaller files", name, MaxSharedStrings)
		}
	}
	return nil
}

// partLimit is the expanded size allowed for the part named name, and
// whether it is the shared strings table.
func partLimit(name string) (limit int64, shared bool) {
	n := strings.ToLower(strings.ReplaceAll(name, `\`, "/"))
	switch {
	case n == "xl/sharedstrings.xml":
		return MaxPartBytes, true
	case strings.HasPrefix(n, "xl/worksheets/"):
		return MaxPartBytes, false
	}
	return MaxOtherPartBytes, false
}

// partCounter is an io.Writer that counts the entries (<si> elements, with
// or without a namespace prefix) of a shared strings table as it streams
// by, carrying the last bytes of each chunk over to the next.
type partCounter struct {
	shared  bool
	entries int
	tail    []byte
}

func (c *partCounter) Write(p []byte) (int, error) {
	if !c.shared {
		return len(p), nil
	}
	buf := append(c.tail, p...)
	for _, tag := range [][]byte{[]byte("<si>"), []byte("<si "), []byte(":si>"), []byte(":si ")} {
		c.entries += bytes.Count(buf, tag)
	}
	// Keep the last 3 bytes (a tag cut in two) for the next chunk, minus
	// any that already completed a counted tag.
	keep := min(3, len(buf))
	c.tail = append(c.tail[:0], buf[len(buf)-keep:]...)
	return len(p), nil
}

// pickSheet chooses the worksheet to read: a visible one named like the
// schema (what our exports write), else the first visible one (what the user
// sees on opening the file), else the first of all.
func pickSheet(f *excelize.File, want string) string {
	list := f.GetSheetList()
	first := ""
	for _, s := range list {
		if visible, _ := f.GetSheetVisible(s); !visible {
			continue
		}
		if want != "" && normHeader(s) == normHeader(want) {
			return s
		}
		if first == "" {
			first = s
		}
	}
	if first == "" && len(list) > 0 {
		first = list[0]
	}
	return first
}

// readCSV decodes data as CSV text and feeds its records into b.
func readCSV(ctx context.Context, data []byte, name string, b *builder) error {
	text, err := decodeText(data, name)
	if err != nil {
		return err
	}
	comma := sniffComma(text)
	cr := csv.NewReader(bytes.NewReader(text))
	cr.Comma = comma
	cr.FieldsPerRecord = -1 // rows of different lengths are normal in hand-made files
	cr.LazyQuotes = true    // so is a stray quote in 某某"公司"
	cr.ReuseRecord = true

	// csv.Reader skips blank lines and folds line breaks inside quoted cells
	// into one record; Excel shows the former as rows and the latter inside
	// one row. Subtracting the extra lines of multi-line records turns the
	// physical line into the row number Excel shows.
	extra := 0
	for n := 1; ; n++ {
		if n%checkEvery == 0 {
			if err := stopped(ctx, name); err != nil {
				return err
			}
		}
		// csv.Reader makes every field of a record before returning it;
		// the record is counted first, without making anything, so that a
		// line too wide for any spreadsheet costs a scan, not its fields.
		off := int(cr.InputOffset())
		if n, at := recordFields(text[off:], byte(comma), MaxFields); n > MaxFields {
			line := bytes.Count(text[:off+at], []byte("\n")) + 1 - extra
			return backend.Errorf(backend.ETOOLARGE, "%s: row %d has more than %d cells, more than a spreadsheet row can hold; check that this is the right file",
				name, line, MaxFields)
		}
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine - extra
			}
			return backend.Wrap(err, backend.EINVALID, "%s: row %d is not valid CSV", name, line)
		}
		start, _ := cr.FieldPos(0)
		last := len(rec) - 1
		end, _ := cr.FieldPos(last)
		end += strings.Count(rec[last], "\n")
		line := start - extra
		extra += end - start
		// Fields past the builder's width are only looked at, so that a
		// header row's width, not the longest line, sets the work per row.
		keep := min(len(rec), b.width())
		dropped := false
		for i := keep; i < len(rec); i++ {
			if clean(rec[i]) != "" {
				b.ignored(line, i)
				dropped = true
			}
		}
		rec = rec[:keep]
		for i, v := range rec {
			rec[i] = unescapeFormula(v)
		}
		if err := b.addChecked(line, rec, dropped, csvErrorCells(rec)); err != nil {
			return err
		}
	}
}

// recordFields counts the fields of the CSV record at the start of text (after
// the blank lines csv.Reader skips) the way csv.Reader with LazyQuotes splits
// them, up to just past limit, and returns the count and the offset in text
// at which the record starts. A field that starts with a quote runs to a
// quote followed by the separator or the end of the line (or of the text),
// across lines; a doubled quote, or with LazyQuotes any other quote, is
// part of it. Any other field runs to the separator or the end of the line.
// It makes nothing and reads each byte once.
func recordFields(text []byte, comma byte, limit int) (n, start int) {
	i := 0
	for i < len(text) { // blank lines: csv.Reader skips them
		switch {
		case text[i] == '\n':
			i++
			continue
		case text[i] == '\r' && (i+1 == len(text) || text[i+1] == '\n'):
			i++
			continue
		}
		break
	}
	if i == len(text) {
		return 0, i
	}
	start, n = i, 1
	for n <= limit {
		if i < len(text) && text[i] == '"' {
			i++
			for {
				j := bytes.IndexByte(text[i:], '"')
				if j < 0 {
					return n, start // the text ends inside the quotes: so does the field
				}
				i += j + 1
				switch {
				case i < len(text) && text[i] == '"':
					i++ // a doubled quote
					continue
				case i < len(text) && text[i] == comma:
					i++
				case i == len(text) || text[i] == '\n' || text[i] == '\r' && (i+1 == len(text) || text[i+1] == '\n'):
					return n, start
				default:
					continue // a stray quote, taken as text (LazyQuotes)
				}
				break
			}
		} else {
			j := i
			for j < len(text) && text[j] != comma && text[j] != '\n' {
				j++
			}
			if j == len(text) || text[j] == '\n' {
				return n, start
			}
			i = j + 1
		}
		n++
	}
	return n, start
}

// decodeText turns the bytes of a supposed CSV file into UTF-8, or explains
// why they are not one.
func decodeText(data []byte, name string) ([]byte, error) {
	for _, m := range binaryMagic {
		if bytes.HasPrefix(data, []byte(m.prefix)) {
			return nil, notSpreadsheet(name, m.hint)
		}
	}
	switch {
	case bytes.HasPrefix(data, []byte("\xEF\xBB\xBF")):
		data = data[3:]
	case bytes.HasPrefix(data, []byte("\xFF\xFE")), bytes.HasPrefix(data, []byte("\xFE\xFF")):
		// Excel's "Unicode text" is UTF-16 with a byte order mark.
		dec := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder()
		out, err := dec.Bytes(data)
		if err != nil {
			return nil, notSpreadsheet(name, "")
		}
		data = out
	case !utf8.Valid(data):
		// Chinese Excel's plain "CSV" is GBK; GB18030 is its superset and
		// decodes every GBK file the same way.
		out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
		if err != nil || bytes.ContainsRune(out, utf8.RuneError) {
			if looksBinary(data) {
				return nil, notSpreadsheet(name, "")
			}
			return nil, backend.Errorf(backend.EINVALID, "%s is neither UTF-8 nor GBK text; save it as \"CSV UTF-8\" from Excel", name)
		}
		data = out
	}
	if looksBinary(data) {
		return nil, notSpreadsheet(name, "")
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if bytes.HasPrefix(trimmed, []byte("<")) {
		// Old systems export HTML tables or XML spreadsheets as ".xls".
		return nil, notSpreadsheet(name, "it is an HTML or XML document; open it in Excel and save it as .xlsx")
	}
	return data, nil
}

// looksBinary reports text that no spreadsheet program wrote: a NUL byte, or
// more than 1% control characters in the first 64 KB. Real CSV files may
// carry a stray control character or two pasted from other systems; binary
// data is full of them.
func looksBinary(data []byte) bool {
	if bytes.IndexByte(data, 0) >= 0 {
		return true
	}
	sample := data[:min(len(data), 64<<10)]
	ctl := 0
	for _, c := range sample {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7F {
			ctl++
		}
	}
	return ctl*100 > len(sample)
}

// sniffComma chooses the separator from the first few non-blank lines: the
// first one holding a comma or a tab decides, tab only when it holds no
// comma (a tab inside a comma-separated value is just text).
func sniffComma(text []byte) rune {
	seen := 0
	for len(text) > 0 && seen < maxTitleRows+1 {
		line := text
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		seen++
		hasComma, hasTab := bytes.IndexByte(line, ',') >= 0, bytes.IndexByte(line, '\t') >= 0
		switch {
		case hasComma:
			return ','
		case hasTab:
			return '\t'
		}
	}
	return ','
}

// formulaChars start the cell values that Excel would evaluate as a formula
// when opening a CSV file ("CSV injection").
const formulaChars = "=+-@"

// escapeFormula makes a value safe for a CSV opened in Excel by prefixing
// an apostrophe to one that would start a formula. Values that already start
// with apostrophes before such a character get one more, so that
// unescapeFormula restores every value exactly.
func escapeFormula(v string) string {
	rest := strings.TrimLeft(v, "'")
	if rest != "" && strings.IndexByte(formulaChars, rest[0]) >= 0 {
		return "'" + v
	}
	return v
}

// unescapeFormula undoes escapeFormula on a CSV cell (after trimming, as
// the writer trims before escaping).
func unescapeFormula(v string) string {
	c := clean(v)
	rest := strings.TrimLeft(c, "'")
	if len(rest) < len(c) && rest != "" && strings.IndexByte(formulaChars, rest[0]) >= 0 {
		return c[1:]
	}
	return v
}

// builder turns raw rows into a Table: it finds the header, maps columns,
// and collects rows, warnings and file-level problems.
type builder struct {
	schema Schema
	idx    map[string]int
	name   string

	table      Table
	haveHeader bool
	titles     []string     // title rows skipped above the header
	cols       []int        // file column → schema column, -1 when unknown
	blank      map[int]bool // file columns whose header cell is blank
	warned     map[int]bool // columns already warned about for values under no header
	problems   []string
	fields     map[string]string
	text       int // bytes of cell text taken so far, bounded by MaxTextBytes
}

// maxWarnings bounds Table.Warnings: a sheet with thousands of unknown
// columns needs one clear message, not thousands.
const maxWarnings = 50

// warn records a warning, up to maxWarnings and a final note.
func (b *builder) warn(s string) {
	switch n := len(b.table.Warnings); {
	case n < maxWarnings:
		b.table.Warnings = append(b.table.Warnings, s)
	case n == maxWarnings:
		b.table.Warnings = append(b.table.Warnings, "further warnings omitted")
	}
}

// width is how many cells of a row the builder takes: up to MaxColumns
// while it looks for the header, then as many as the header has. Readers
// pass at most that many and report any value further right to ignored
// instead, without making a string of it.
func (b *builder) width() int {
	if b.haveHeader {
		return len(b.cols)
	}
	return MaxColumns
}

// ignored notes the value a reader left out of row line at column i (0-based)
// because it lies past width. Below the header it gets the warning of any
// value under no header; above it, it is as meaningless as the rest of a
// title row.
func (b *builder) ignored(line, i int) {
	if b.haveHeader {
		b.noHeader(line, i)
	}
}

// noHeader warns, once per column, that column i has values but no header;
// they usually mean the header row is missing a cell.
func (b *builder) noHeader(line, i int) {
	if b.warned[i] || len(b.table.Warnings) > maxWarnings {
		return // said already, or nothing more will be said
	}
	b.warned[i] = true
	b.warn(fmt.Sprintf("column %s has values but no header (first in row %d); they were ignored", columnName(i), line))
}

// count adds a row's cells to the text taken so far, refusing a cell over
// MaxCellBytes and a file over MaxTextBytes. It runs before anything looks
// inside a cell (trims it, splits it, matches it to a header), so that no
// cell costs more than its bound and no file more than its own.
func (b *builder) count(line int, cells []string) error {
	for i, c := range cells {
		if len(c) > MaxCellBytes {
			return b.cellTooLong(line, i)
		}
		b.text += len(c)
	}
	if b.text > MaxTextBytes {
		return backend.Errorf(backend.ETOOLARGE, "%s holds more than %s of text (reached in row %d); split it into smaller files",
			b.name, humanSize(MaxTextBytes), line)
	}
	return nil
}

// cellTooLong is the error for a cell over MaxCellBytes at row line, column
// i (0-based), naming the column by its header when it has one. The file
// fails as a whole: no column takes that much text, so it is the wrong file
// or a hostile one, and reporting it per row could repeat it a million times.
func (b *builder) cellTooLong(line, i int) error {
	col := columnName(i)
	if i < len(b.cols) && b.cols[i] >= 0 {
		col += " (" + Quote(b.table.Headers[b.schema.Columns[b.cols[i]].Key]) + ")"
	}
	return backend.Errorf(backend.ETOOLARGE, "%s: the cell in row %d, column %s holds more than %s of text, more than any column takes; shorten it, or check that this is the right file",
		b.name, line, col, humanSize(MaxCellBytes))
}

// add takes one raw row with its Excel row number: at most width cells,
// and whether the reader left values out past them (which makes the row
// non-blank, as those values would have).
func (b *builder) add(line int, cells []string, dropped bool) error {
	return b.addChecked(line, cells, dropped, nil)
}

// addChecked is add with the problems the reader found with cells of the
// row, by position (nil when none); those under a known header become the
// row's Problems.
func (b *builder) addChecked(line int, cells []string, dropped bool, problems map[int]string) error {
	if err := b.count(line, cells); err != nil {
		return err
	}
	blank := !dropped
	for _, c := range cells {
		if clean(c) != "" {
			blank = false
			break
		}
	}
	if blank {
		return nil
	}
	if !b.haveHeader {
		return b.header(line, cells)
	}
	if len(b.table.Rows) >= MaxRows {
		return backend.Errorf(backend.ETOOLARGE, "%s has more than %d rows; split it into smaller files", b.name, MaxRows)
	}
	row := Row{Line: line, Values: make(map[string]string, len(b.table.Headers))}
	for i, col := range b.cols {
		if col < 0 {
			continue
		}
		v := ""
		if i < len(cells) {
			v = cleanValue(cells[i])
		}
		c := b.schema.Columns[col]
		row.Values[c.Key] = v
		if p, bad := problems[i]; bad {
			if row.Problems == nil {
				row.Problems = make(map[string]string)
			}
			row.Problems[c.Key] = p
		}
		if c.Multi {
			if row.Lists == nil {
				row.Lists = make(map[string][]string)
			}
			row.Lists[c.Key] = SplitList(v)
		}
	}
	// Values under no header are dropped; say so once per column, since
	// they usually mean the header row is missing a cell.
	for i := range cells {
		if i < len(b.cols) && (b.cols[i] >= 0 || !b.blank[i]) {
			continue // read, or under an unknown header already warned about
		}
		if !b.warned[i] && clean(cells[i]) != "" {
			b.noHeader(line, i)
		}
	}
	b.table.Rows = append(b.table.Rows, row)
	return nil
}

// header examines a non-blank row before the header has been found.
func (b *builder) header(line int, cells []string) error {
	known := false
	for _, c := range cells {
		if _, ok := b.idx[normHeader(c)]; ok {
			known = true
			break
		}
	}
	if !known {
		b.titles = append(b.titles, fmt.Sprintf("row %d (%s)", line, Quote(firstNonBlank(cells))))
		if len(b.titles) > maxTitleRows {
			return b.noHeaderError()
		}
		return nil
	}
	b.haveHeader = true
	if len(b.titles) > 0 {
		b.warn(fmt.Sprintf("%s above the header row %d ignored", strings.Join(b.titles, ", "), line))
	}
	b.table.Headers = make(map[string]string)
	b.blank = make(map[int]bool)
	b.warned = make(map[int]bool)
	b.fields = make(map[string]string)
	at := make(map[string]int) // key → file column, to name both sides of a repeat
	b.cols = make([]int, len(cells))
	for i, c := range cells {
		b.cols[i] = -1
		text := clean(c)
		if text == "" {
			b.blank[i] = true
			continue
		}
		col, ok := b.idx[normHeader(text)]
		if !ok {
			b.warn(fmt.Sprintf("unknown column %s (column %s) ignored", Quote(text), columnName(i)))
			continue
		}
		key := b.schema.Columns[col].Key
		if j, dup := at[key]; dup {
			b.problems = append(b.problems, fmt.Sprintf("columns %s (%s) and %s (%s) both mean %s",
				Quote(b.table.Headers[key]), columnName(j), Quote(text), columnName(i), b.schema.Columns[col].header(Chinese)))
			b.fields[text] = "repeats column " + columnName(j)
			continue
		}
		at[key] = i
		b.table.Headers[key] = text
		b.cols[i] = col
	}
	for _, c := range b.schema.Columns {
		if _, ok := b.table.Headers[c.Key]; c.Required && !ok {
			h := c.header(Chinese)
			msg := "missing required column " + Quote(h)
			if en := c.header(English); en != h {
				msg += " (" + en + ")"
			}
			b.problems = append(b.problems, msg)
			b.fields[h] = "required column is missing"
		}
	}
	return nil
}

// noHeaderError is the error for a file whose first rows hold none of the
// schema's headers.
func (b *builder) noHeaderError() error {
	var want []string
	for _, c := range b.schema.Columns {
		if c.Required {
			want = append(want, Quote(c.header(Chinese)))
		}
	}
	if len(want) == 0 {
		for _, c := range b.schema.Columns[:min(3, len(b.schema.Columns))] {
			want = append(want, Quote(c.header(Chinese)))
		}
	}
	which := "no row"
	if len(b.titles) > maxTitleRows {
		which = fmt.Sprintf("none of the first %d rows", len(b.titles))
	}
	return backend.Errorf(backend.EINVALID, "%s has no header row: %s names a known column (expected columns such as %s)",
		b.name, which, strings.Join(want, ", "))
}

// finish returns the table or the file-level error.
func (b *builder) finish() (*Table, error) {
	if !b.haveHeader {
		if len(b.titles) == 0 {
			return nil, backend.Errorf(backend.EINVALID, "%s is empty", b.name)
		}
		return nil, b.noHeaderError()
	}
	if len(b.problems) > 0 {
		return nil, backend.InvalidFields(fmt.Sprintf("%s: %s", b.name, strings.Join(b.problems, "; ")), b.fields)
	}
	b.table.schema = b.schema
	t := b.table
	return &t, nil
}

// cleanValue trims a cell and writes its line breaks as "\n", whatever the
// file used, so that a value compares equal however it travelled (Excel
// cells use "\n", CSV files from Windows "\r\n").
func cleanValue(s string) string {
	s = clean(s)
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	return s
}

// firstNonBlank returns the first non-blank cell of a row, to quote it.
func firstNonBlank(cells []string) string {
	for _, c := range cells {
		if c = clean(c); c != "" {
			return c
		}
	}
	return ""
}
