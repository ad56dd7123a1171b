package sheet

import (
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/width"

	"suiji/backend"
)

// Column describes one column of a spreadsheet: the key callers use and the
// header texts users may write for it.
type Column struct {
	// Key names the column in Row.Values, Row.Lists and RowError.Field,
	// e.g. "uscc". It is also accepted as a header.
	Key string
	// Headers are the accepted header texts: the canonical Chinese header
	// first (written by exports), then the English one (the first all-ASCII
	// header, written by exports in English; the key when there is none),
	// then any other spellings users are known to write.
	Headers []string
	// Required means a file without this column is rejected as a whole. It
	// says nothing about empty cells; whether a value may be blank is the
	// caller's rule, checked per row.
	Required bool
	// Multi marks a list cell: values separated by any of ；;，,、| or a line
	// break, read into Row.Lists as well as Row.Values.
	Multi bool
	// ExportOnly marks a column exports write for information and imports
	// ignore (with a warning when a file has it).
	ExportOnly bool
}

// Header language codes for Schema.HeaderLanguage.
const (
	// Chinese writes each column's first header (the canonical Chinese one).
	Chinese = "zh"
	// English writes each column's English header (see Column.Headers).
	English = "en"
)

// Schema is the set of columns of one kind of spreadsheet, e.g. the
// enterprise directory.
type Schema struct {
	// Name names the sheet written by WriteXLSX and is the sheet Read prefers
	// in a workbook with several sheets.
	Name string
	// Columns in the order exports write them.
	Columns []Column
	// HeaderLanguage chooses the headers WriteXLSX and WriteCSV write:
	// Chinese ("zh", the default when empty) or English ("en"). Read accepts
	// either regardless.
	HeaderLanguage string
}

// ListSeparator joins the values of a Multi column in exported files. The
// full-width semicolon is what Chinese users type between items, and, unlike
// a comma, it does not force quoting in CSV.
const ListSeparator = "；"

// Header returns the header exports write for the column with the given key
// in the schema's HeaderLanguage, or key itself when the schema has no such
// column.
func (s Schema) Header(key string) string {
	for _, c := range s.Columns {
		if c.Key == key {
			return c.header(s.HeaderLanguage)
		}
	}
	return key
}

// header returns the column's header in lang: the first header for Chinese,
// the first all-ASCII header for English, the key as a fallback so that a
// column never gets an empty header.
func (c Column) header(lang string) string {
	if lang == English {
		for _, h := range c.Headers {
			if isASCII(h) && strings.TrimSpace(h) != "" {
				return h
			}
		}
		return c.Key
	}
	if len(c.Headers) > 0 && strings.TrimSpace(c.Headers[0]) != "" {
		return c.Headers[0]
	}
	return c.Key
}

// Check reports a schema that cannot be read unambiguously: an empty or
// repeated key, or two columns accepting the same header after
// normalisation. Read calls it and returns its error as EINTERNAL, since a
// bad schema is a programming mistake, not the user's; callers may call it
// from a unit test to catch the mistake earlier.
func (s Schema) Check() error {
	_, err := s.index()
	return err
}

// index maps every normalised header (and key) to its column position.
func (s Schema) index() (map[string]int, error) {
	idx := make(map[string]int)
	keys := make(map[string]bool)
	for i, c := range s.Columns {
		if c.Key == "" {
			return nil, backend.Errorf(backend.EINTERNAL, "sheet schema %q: column %d has no key", s.Name, i+1)
		}
		if keys[c.Key] {
			return nil, backend.Errorf(backend.EINTERNAL, "sheet schema %q: key %q appears twice", s.Name, c.Key)
		}
		keys[c.Key] = true
		for _, h := range append([]string{c.Key}, c.Headers...) {
			n := normHeader(h)
			if n == "" {
				continue
			}
			if j, ok := idx[n]; ok && j != i {
				return nil, backend.Errorf(backend.EINTERNAL, "sheet schema %q: header %q is accepted by both %q and %q",
					s.Name, h, s.Columns[j].Key, c.Key)
			}
			idx[n] = i
		}
	}
	return idx, nil
}

// normHeader reduces a header to the form headers are compared in, so that
// the variations people produce in Excel and WPS (full-width letters, stray
// spaces, "Badge No." vs "badge_no", a "*" marking required columns) match.
func normHeader(h string) string {
	h = width.Fold.String(h)
	var b strings.Builder
	for _, r := range h {
		switch {
		case isBlank(r), r == '_', r == '-', r == '.', r == ':', r == '*', r == '※':
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// isBlank reports the characters trimmed from values: Unicode spaces
// (including the full-width space U+3000 and no-break space) and the
// invisible characters Windows tools leave behind (byte order mark,
// zero-width space and joiners).
func isBlank(r rune) bool {
	switch r {
	case '\uFEFF', '\u200B', '\u200C', '\u200D', '\u2060':
		return true
	}
	return unicode.IsSpace(r)
}

// clean trims a cell value.
func clean(s string) string { return strings.TrimFunc(s, isBlank) }

// isListSep reports the separators accepted between the items of a Multi
// cell: what people actually type, in half- and full-width forms.
func isListSep(r rune) bool {
	switch r {
	case '；', ';', '，', ',', '、', '|', '｜', '\n', '\r':
		return true
	}
	return false
}

// SplitList splits a Multi cell into its trimmed, non-empty items, in order.
// It returns nil for a blank cell.
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, isListSep) {
		if f = clean(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// JoinList joins the items of a Multi column for export, with ListSeparator.
func JoinList(items []string) string { return strings.Join(items, ListSeparator) }

// isASCII reports whether s is plain ASCII (an English header).
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// columnName returns the spreadsheet letter of a 0-based column index (A, B,
// …, AA), used in messages so users can find the column in Excel.
func columnName(i int) string {
	name := ""
	for n := i + 1; n > 0; n = (n - 1) / 26 {
		name = string(rune('A'+(n-1)%26)) + name
	}
	return name
}

// Quote formats a user's text for a message, cut short: a cell may hold
// MaxCellBytes of text, and a message that repeated it whole would carry
// that much for every row and column it names (the reader's, and the
// areas' row messages: directory, roster, item list).
func Quote(s string) string { return fmt.Sprintf("%q", Clip(s)) }

// QuoteAll is Quote of each of values, joined by ", ".
func QuoteAll(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = Quote(v)
	}
	return strings.Join(q, ", ")
}

// UnknownNames is the row message for cells of a column that names
// entries of a reference list (what: "qualification") and that name none:
// cells on no entry, and names several entries share (stored before names
// were kept unique), for which the cell must hold one of their codes.
// Every cell is quoted.
func UnknownNames(names backend.Names, what string, cells []string) string {
	var missing, parts []string
	for _, c := range cells {
		if codes := names.Ambiguous(c); codes != nil {
			parts = append(parts, fmt.Sprintf("%s is the name of several entries of the %s list (%s): write the code", Quote(c), what, strings.Join(codes, ", ")))
		} else {
			missing = append(missing, Quote(c))
		}
	}
	if len(missing) > 0 {
		parts = append([]string{"not on the " + what + " list: " + strings.Join(missing, ", ")}, parts...)
	}
	return strings.Join(parts, "; ")
}

// maxQuoted is how many characters of a user's text a message repeats:
// enough to recognise the value, never a whole hostile cell.
const maxQuoted = 40

// Clip cuts a user's text to maxQuoted characters and "…", as quote does,
// for the messages whose wording already sets the value in single quotes
// (the directory's "unknown town 'X'", which clients and tests match):
// they keep their form and lose only the length.
func Clip(s string) string {
	if len(s) <= maxQuoted { // at most maxQuoted characters, whatever they are
		return s
	}
	n := 0
	for i := range s {
		if n == maxQuoted {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
