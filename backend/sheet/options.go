package sheet

import (
	"io"
)

// ImportOptions says how an import treats its file and its bad rows. Every
// importer (enterprises, inspectors, items) takes it, from the API and from
// `suiji import` alike.
type ImportOptions struct {
	// Filename names the file in messages; the format is read from the
	// content, never from the name.
	Filename string
	// Partial stores the good rows even when others are rejected. By
	// default a file with any rejected row stores nothing.
	Partial bool
	// MaxBytes bounds the file (DefaultMaxBytes when 0).
	MaxBytes int64
	// Progress, when set, is called after each stored batch with the rows
	// done and the rows to store, e.g. to drive the command line's
	// progress bar.
	Progress func(done, total int)
	// BatchSize is how many rows are stored per bulk write
	// (DefaultBatchSize when 0).
	BatchSize int
}

// Export writes rows in format (FormatCSV, with a BOM so Excel on Windows
// reads Chinese; anything else XLSX) with headers in lang (Chinese or
// English): the one way every exporter writes its file.
func Export(w io.Writer, schema Schema, format, lang string, rows []map[string]string) error {
	schema.HeaderLanguage = lang
	if format == FormatCSV {
		return WriteCSV(w, schema, rows, true)
	}
	return WriteXLSX(w, schema, rows)
}
