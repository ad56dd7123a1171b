package sheet

import (
	"io"

	"suiji/backend"
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
	// Progress, when set, is called after each row is stored with the rows
	// done and the rows to store, e.g. to drive the command line's
	// progress bar.
	Progress func(done, total int)
}

// Planned is a checked row that an import is about to store.
type Planned struct {
	Line    int
	Created bool // a new record; otherwise an update
}

// Commit stores an import's checked rows once every row has been checked.
// With rejected rows and !opts.Partial it stores nothing and returns
// Error(). Otherwise store(i) runs for each planned row in order, with
// opts.Progress told after each; a row whose store fails with ECONFLICT or
// EINVALID — changed by someone else since it was checked — is rejected and
// its Created or Updated count undone, and any other error stops the import.
func (r *Report) Commit(opts ImportOptions, planned []Planned, store func(i int) error) error {
	if r.Rejected > 0 && !opts.Partial {
		return r.Error()
	}
	for i, p := range planned {
		if err := store(i); err != nil {
			if code := backend.ErrorCode(err); code != backend.ECONFLICT && code != backend.EINVALID {
				return err
			}
			r.Reject(p.Line, "", backend.ErrorMessage(err))
			if p.Created {
				r.Created--
			} else {
				r.Updated--
			}
		}
		if opts.Progress != nil {
			opts.Progress(i+1, len(planned))
		}
	}
	return nil
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
