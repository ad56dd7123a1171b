package sheet

import (
	"fmt"
	"strconv"

	"suiji/backend"
)

// RowError is one reason one row was rejected.
type RowError struct {
	// Line is the row number as the user sees it in Excel; 0 for a problem
	// with the file as a whole.
	Line int `json:"line"`
	// Field is the column key, e.g. "uscc"; empty for a problem with the
	// row as a whole.
	Field string `json:"field,omitempty"`
	// Header is the header text the user wrote for Field (or the canonical
	// one when the column was not in the file), so the message points at
	// what the user sees.
	Header string `json:"header,omitempty"`
	// Message says what is wrong, in words the user can act on.
	Message string `json:"message"`
}

// maxErrorFields bounds the per-field entries Report.Error puts in the
// error body; the full list is in Report.Errors.
const maxErrorFields = 100

// Report is the outcome of an import, the body every import endpoint returns
// and the CLI prints. Callers fill Created, Updated and Unchanged; Reject
// records problems and counts rejected rows.
type Report struct {
	// Total is the number of data rows read.
	Total int `json:"total"`
	// Created, Updated and Unchanged count the rows stored (or, with
	// nothing stored, that would have been) by what happened to them.
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	// Rejected is the number of distinct rows with at least one error.
	Rejected int `json:"rejected"`
	// Errors lists every problem found, in the order found.
	Errors []RowError `json:"errors"`
	// Warnings carries Table.Warnings and anything the caller adds.
	Warnings []string `json:"warnings"`
	// Stored counts the rows Import wrote (created or updated). Created
	// and Updated say what the good rows do, stored or (with nothing
	// stored) not; once storing has begun, a row that loses its race to
	// another writer is rejected and taken off them, and a failure that
	// stops the import leaves them counting rows never written. Summary
	// says what was stored from this count. It is left out of the JSON
	// report, whose documented shape stays as it was (and as the API's
	// tests decode it, strictly); the answer's summary carries it.
	Stored int `json:"-"`

	stopped     bool // a failure stopped Import after it began storing
	unconfirmed int  // rows to store that Import did not see stored when it stopped

	schema   Schema
	headers  map[string]string
	rejected map[int]bool
}

// NewReport starts the report of importing t: Total and Warnings come from
// the table, and Reject will name columns by the headers the file used.
func NewReport(t *Table) *Report {
	r := &Report{Errors: []RowError{}, Warnings: []string{}}
	if t != nil {
		r.Total = len(t.Rows)
		r.Warnings = append(r.Warnings, t.Warnings...)
		r.schema = t.schema
		r.headers = t.Headers
	}
	return r
}

// Reject records that the row at line is rejected because of field (a
// column key, or "" for the row as a whole), filling Header with the header
// text the user wrote for it.
func (r *Report) Reject(line int, field, message string) {
	header := ""
	if field != "" {
		var ok bool
		if header, ok = r.headers[field]; !ok {
			header = r.schema.Header(field)
		}
	}
	r.Errors = append(r.Errors, RowError{Line: line, Field: field, Header: header, Message: message})
	if line > 0 && !r.rejected[line] {
		if r.rejected == nil {
			r.rejected = make(map[int]bool)
		}
		r.rejected[line] = true
		r.Rejected++
	}
}

// RowRejected reports whether the row at line has been rejected, so that
// an import in partial mode can skip it when storing.
func (r *Report) RowRejected(line int) bool { return r.rejected[line] }

// stop records that a failure stopped Import after it began storing, with
// n rows still to store whose fate it did not see: the batch that failed
// (of which some rows may have landed) and those after it.
func (r *Report) stop(n int) {
	r.stopped, r.unconfirmed = true, n
}

// Summary describes the outcome in one sentence. partial says whether the
// good rows were to be stored despite rejected ones (partial=true imports)
// or nothing was to be stored unless every row was good (the default). What
// it says was stored is what Stored counts: rows that lost a race while
// the others were written, and batches written before a failure stopped
// the import, were stored in either mode.
func (r *Report) Summary(partial bool) string {
	counts := fmt.Sprintf("%d created, %d updated, %d unchanged", r.Created, r.Updated, r.Unchanged)
	rejected := ""
	if len(r.Errors) > 0 {
		rejected = fmt.Sprintf("%d of %s rejected; ", r.Rejected, rows(r.Total))
	}
	switch {
	case r.stopped:
		s := fmt.Sprintf("%sthe import stopped before the end: %s stored", rejected, rows(r.Stored))
		if r.unconfirmed > 0 {
			s += fmt.Sprintf(", %d more not stored or not all", r.unconfirmed)
		}
		return s + "; import the file again to finish (rows already stored read as unchanged)"
	case len(r.Errors) == 0:
		return fmt.Sprintf("%s read: %s", rows(r.Total), counts)
	case !partial && r.Stored == 0:
		return rejected + "nothing was stored"
	default:
		return fmt.Sprintf("%sthe other %d were stored (%s)", rejected, r.Total-r.Rejected, counts)
	}
}

// rows formats a row count.
func rows(n int) string {
	if n == 1 {
		return "1 row"
	}
	return strconv.Itoa(n) + " rows"
}

// Error returns nil when no row was rejected, and otherwise an EINVALID
// error whose message is Summary(false) and whose fields name the first
// problems as "LINE:FIELD" → "HEADER: MESSAGE". It is for the default
// all-or-nothing mode, where any rejected row means nothing was stored.
func (r *Report) Error() error {
	if len(r.Errors) == 0 {
		return nil
	}
	fields := make(map[string]string, min(len(r.Errors), maxErrorFields))
	for _, e := range r.Errors {
		if len(fields) == maxErrorFields {
			break
		}
		k := strconv.Itoa(e.Line) + ":" + e.Field
		msg := e.Message
		if e.Header != "" {
			msg = e.Header + ": " + msg
		}
		if prev, ok := fields[k]; ok {
			msg = prev + "; " + e.Message
		}
		fields[k] = msg
	}
	return backend.InvalidFields(r.Summary(false), fields)
}
