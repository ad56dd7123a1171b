// Package sheet is the tabular layer behind every import and export of the
// directories (enterprises, inspectors, items): it turns a spreadsheet the
// bureau's staff made in Excel or WPS into rows of trimmed strings keyed by
// column, and rows back into a spreadsheet that opens cleanly in Excel and
// reads back unchanged.
//
// It is pure: no storage, no HTTP, no files, no environment. Input is an
// io.Reader, output an io.Writer, and validation of the values themselves
// (is this a valid USCC? does this town exist?) belongs to the caller, who
// records problems in a Report so that every import endpoint answers in the
// same shape. It imports only the standard library, excelize, golang.org/x/text
// and backend (for error codes); excelize may still spill sheets over 16 MB
// to the system temporary directory while writing, and parts over 4 MB while
// reading.
//
// # Formats accepted by Read
//
// The format is recognised from the content, never from the file name, since
// names lie (a ".xls" that is really HTML, a ".csv" renamed from ".xlsx"):
//
//   - XLSX (Office Open XML; a zip file). Read uses the sheet named like
//     Schema.Name if there is a visible one, otherwise the first visible sheet.
//     Numbers read as Excel displays them; dates in the standard short date
//     format read as YYYY-MM-DD. Text reads as written (a number format
//     never changes text).
//   - CSV in UTF-8, with or without a byte order mark; in GB18030/GBK, which is
//     what "CSV (逗号分隔)" in Chinese Excel writes; or in UTF-16 with a byte
//     order mark ("Unicode 文本"). Comma separated, or tab separated when the
//     header line has tabs and no commas.
//
// Anything else — an old .xls (97-2003), an encrypted workbook, a PDF, an
// image, HTML, binary data — is rejected with EINVALID naming the file, and a
// file over the size limit with ETOOLARGE before any parsing work is done.
// So is an XLSX that expands too far, whatever its own size: every part is
// decompressed once, counting, before excelize sees it, and a worksheet or
// the shared strings table over MaxPartBytes, any other part over
// MaxOtherPartBytes, all parts together over MaxExpandedBytes, or more than
// MaxSharedStrings shared strings are refused; as is a file of more than
// MaxRows rows. Large parts within those bounds are kept by excelize in
// temporary files (removed when the file is closed) rather than in memory.
//
// What a file may point at is bounded too, in both formats: a cell over
// MaxCellBytes of text, or more than MaxTextBytes of text in all the cells
// read (a text an XLSX shares between cells counted at each use), fails the
// file with ETOOLARGE naming the cell or the row reached. Read looks at
// MaxColumns columns while it looks for the header and below it only as far
// as the header goes; values further right are ignored with a warning,
// without being read, so a value in column XFD costs what any cell costs.
// The cells of an XLSX sheet are read from its XML by this package, not by
// excelize's row reader, which builds every row as wide as its rightmost
// cell and copies a shared text for each cell that shows it. ReadContext
// (and Import) stop soon after the context ends, with EUNAVAILABLE.
//
// Neither format may have a row wider than Excel's (MaxFields cells, to
// column XFD): an XLSX cell reference cannot name one, and a CSV line is
// counted before csv.Reader makes its fields, so a few MB of commas fail
// the file (ETOOLARGE, naming the row) instead of costing a gigabyte.
//
// A cell holding an Excel error value (t="e": #N/A, #REF! …, what a formula
// shows when it failed) is read as its text but noted in Row.Problems under
// its column; Import rejects the row with that reason.
//
// # Header rules
//
// The header is the first non-blank row that contains at least one known
// header; up to five title rows above it (such as "泽州县企业名录（2025年）") are
// skipped with a warning. A column is recognised by any of its Headers or its
// Key, compared after folding full-width letters to ASCII, lower-casing, and
// removing spaces (including the full-width space and byte order marks),
// underscores, hyphens, dots, colons and the asterisks templates use to mark
// required columns; so "统一社会信用代码", " USCC ", "ＵＳＣＣ" and "uscc*" all mean
// the same column. Unknown columns are ignored and reported in
// Table.Warnings; a missing required column, or two headers that mean the
// same column, make the whole file invalid, with the header named, because
// guessing which one the user meant would silently store the wrong data.
//
// Fully blank rows are skipped. Row.Line is the row number the user sees in
// Excel (the header row of a file without title rows is 1), also for CSV
// files with blank lines or cells holding line breaks, so that an error
// message can be checked against the spreadsheet.
//
// # Writing
//
// WriteXLSX and WriteCSV write the Schema's canonical headers (Chinese by
// default, English on request) and every value as text, so USCCs and numbers
// with leading zeros survive Excel. Whatever they write, Read reads back to
// the same values: that is what makes "export, edit in Excel, import" safe.
package sheet
