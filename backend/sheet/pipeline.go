package sheet

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"suiji/backend"
)

// DefaultBatchSize is how many rows an import stores per round trip: large
// enough that a 100,000-row file costs a hundred bulk writes rather than
// 100,000 single ones, small enough that one batch is a few megabytes.
const DefaultBatchSize = 1000

// Records is one area's side of an import (enterprises, inspectors,
// items): how a row names its record, how a row is checked against what is
// stored, and how checked records are written. T is the area's record type,
// a pointer (its zero value, nil, means "no such record").
//
// Import drives it in a fixed order — Key for every row, Load once, Check
// for every row, Store in batches — so that every area imports with the
// same policy and the same cost: one bulk read of the records the file
// names, one bulk write per batch, one audit event per batch, written with
// the batch.
type Records[T comparable] interface {
	// Key returns the normalised identity of the record a row names (a
	// USCC, a badge number, "year/code") and the column it is read from —
	// or "", the column at fault and what is wrong with it. A row without
	// a key is still checked (as a new record) so that the report names
	// all its problems.
	Key(row Row) (key, field, problem string)
	// Load is called once, with every distinct key of the file, before any
	// row is checked. It returns the stored records among them — read in
	// bulk, not one query per key; others may come along — and loads
	// whatever else checking needs (reference lists such as towns).
	Load(ctx context.Context, keys []string) ([]T, error)
	// Check turns a row into the record to store: a new one when old is
	// nil, with its id chosen (backend.NewID: the batch's audit event names
	// it before the write), otherwise a copy of old with the file's
	// columns applied. It returns the row's problems by column key (nil
	// for a good row); an error stops the import (the store failed, not
	// the row).
	Check(ctx context.Context, row Row, old T) (T, map[string]string, error)
	// Fields is the record as its versions diff it (bookkeeping such as
	// version and timestamps left out): an update whose fields equal the
	// stored ones changes nothing and is not stored.
	Fields(rec T) map[string]any
	// Store writes one batch of checked changes: creates (at version 1),
	// and compare-and-set updates of the records as Load read them (each
	// to the next version), with UpdatedAt (and CreatedAt for new records)
	// set to now. Every document write takes the batch's audit event from
	// ctx (a bulk change's mark; backend.Auditor.Change), which the stores'
	// writes do. It returns one error per change — nil when stored,
	// ECONFLICT or EINVALID when the row lost a race (another writer came
	// first) — or an error that stops the import. Versions are the
	// pipeline's.
	Store(ctx context.Context, batch []Change[T], now time.Time) ([]error, error)
	// Ref identifies a stored record (its id, key and new version).
	Ref(rec T) Ref
}

// Book is where every import keeps its accounts: a version per stored
// record (action "import", in bulk per batch) and one audit event per
// batch.
type Book struct {
	Kind     string // the object type in versions and the audit trail, e.g. "enterprise"
	Versions backend.VersionStore
	Audit    backend.Auditor
	Now      func() time.Time
}

// VersionAction may be implemented by a Records whose versions are not all
// "import": an item list changed after its publication is amended, and its
// versions say so.
type VersionAction[T comparable] interface {
	VersionAction(c Change[T]) string
}

// Change is one checked row an import stores.
type Change[T comparable] struct {
	Line int
	Old  T // nil for a new record
	New  T
}

// Created reports whether the change creates a record.
func (c Change[T]) Created() bool {
	var none T
	return c.Old == none
}

// Ref identifies a stored record in an import's audit event.
type Ref struct {
	ID      string `json:"id"`
	Key     string `json:"key"`
	Version int    `json:"version"`
}

// Import is the one import pipeline: read the file → check every row
// (Key, one bulk Load, Check) → commit all-or-nothing (or, with
// opts.Partial, the good rows) in batches, each one bulk Store marked with
// the batch's audit event (action book.Kind+".import", naming the file by
// its SHA-256 and listing the batch's records with the id and version
// each is written at) and one bulk write of its versions.
//
// Every row naming a key that another row names too is rejected, since the
// file does not say which is right. A column absent from the file leaves
// that field alone (recs.Check decides per column).
//
// It returns the report, and an error: ETOOLARGE or EINVALID when the file
// cannot be read as a spreadsheet (no report then); with any rejected row
// and !opts.Partial, EINVALID from Report.Error together with the report,
// and nothing stored. Once storing has begun, rows are rejected only when
// they lose their race to another writer, and the other rows stand, in
// either mode; Report.Stored counts what was written, also when a failure
// stops the import (the error, with the report) after earlier batches.
func Import[T comparable](ctx context.Context, r io.Reader, opts ImportOptions, schema Schema, recs Records[T], book Book) (*Report, error) {
	digest := sha256.New()
	table, err := ReadContext(ctx, io.TeeReader(r, digest), opts.Filename, schema, opts.MaxBytes)
	if err != nil {
		return nil, err
	}
	report := NewReport(table)
	for _, c := range schema.Columns {
		if h, present := table.Headers[c.Key]; present && c.ExportOnly {
			report.Warnings = append(report.Warnings, "the column "+h+" is written by exports and not imported")
		}
	}
	changes, err := check(ctx, table, report, recs)
	if err != nil {
		return nil, err
	}
	if report.Rejected > 0 && !opts.Partial {
		return report, report.Error()
	}

	// One audit event covers a batch, not a row: the chain is appended one
	// event at a time, which would make a 100,000-row file take many
	// minutes, while each row's change is kept, with who and when, as a
	// version. The event pins every record of the batch by id and version,
	// so the chain still accounts for each change.
	//
	// The event is written with the batch (a bulk change: the event is
	// written ahead and every document the batch writes bears its mark, in
	// the same write; backend.Auditor.Change), so a crash at any point
	// leaves each batch either unwritten and unaudited or written, wholly
	// or in part, with its event, which recovery appends once. It is per batch, not per file, because it
	// must be fixed before the batch is written: a file's event would have
	// to claim batches a failure or a crash then never wrote. For the same
	// reason it lists the rows the batch writes as they will be stored,
	// which is what landed unless part of the bulk write did not: a row
	// that lost its race to another writer (answered as rejected, "import
	// the file again") or one the store stopped before. Such a row is still
	// listed; that it was not stored shows in the record, which does not
	// have that version from this import (no version entry by this actor
	// at this time). The event never claims less than was written, and
	// when every row was refused, there is no event.
	fileSHA := hex.EncodeToString(digest.Sum(nil))
	batch := opts.BatchSize
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	batches := (len(changes) + batch - 1) / batch
	for start := 0; start < len(changes); start += batch {
		part := changes[start:min(start+batch, len(changes))]
		now := book.Now().UTC().Truncate(time.Millisecond) // what MongoDB keeps of a time
		rows, err := plannedRefs(recs, part)
		if err != nil {
			report.stop(len(changes) - start)
			return report, err
		}
		var errs []error
		err = book.Audit.Change(ctx, backend.AuditChange{
			Action: book.Kind + ".import", ObjectType: book.Kind + "_import", ObjectID: fileSHA, Bulk: true,
			After: map[string]any{
				"filename": opts.Filename, "file_sha256": fileSHA, "partial": opts.Partial,
				"batch": start/batch + 1, "batches": batches, "rows": rows,
			},
		}, func(ctx context.Context) error {
			var err error
			errs, err = recs.Store(ctx, part, now)
			return err
		})
		if err != nil {
			// What of this batch landed is not known here (recovery
			// audits it); the earlier batches are stored.
			report.stop(len(changes) - start)
			return report, err
		}
		// A row's error other than a lost race stops the import: the
		// store could not say what became of that row.
		var fatal error
		unknown := 0
		for _, err := range errs {
			switch code := backend.ErrorCode(err); {
			case err == nil:
				report.Stored++
			case code != backend.ECONFLICT && code != backend.EINVALID:
				fatal = cmp.Or(fatal, err)
				unknown++
			}
		}
		if fatal != nil {
			report.stop(unknown + len(changes) - (start + len(part)))
			return report, fatal
		}
		var versions []*backend.Version
		actor := backend.ActorFromContext(ctx)
		action := func(Change[T]) string { return "import" }
		if va, ok := recs.(VersionAction[T]); ok {
			action = va.VersionAction
		}
		for i, c := range part {
			if err := errs[i]; err != nil {
				report.Reject(c.Line, "", backend.ErrorMessage(err)+"; import the file again")
				if c.Created() {
					report.Created--
				} else {
					report.Updated--
				}
				continue
			}
			ref := recs.Ref(c.New)
			var before map[string]any
			if !c.Created() {
				before = recs.Fields(c.Old)
			}
			versions = append(versions, &backend.Version{
				ObjectType: book.Kind, ObjectID: ref.ID, Number: ref.Version, At: now,
				ActorID: actor.UserID, ActorName: actor.Username, Action: action(c),
				Changes: backend.Diff(before, recs.Fields(c.New)),
			})
		}
		if err := book.Versions.AppendVersions(ctx, versions); err != nil {
			report.stop(len(changes) - (start + len(part)))
			return report, err
		}
		if opts.Progress != nil {
			opts.Progress(start+len(part), len(changes))
		}
	}
	return report, nil
}

// plannedRefs names the records of a batch as Store will write them: a new
// one by the id Check gave it, at version 1; an update at the version after
// the one Load read. EINTERNAL for a new record without an id.
func plannedRefs[T comparable](recs Records[T], part []Change[T]) ([]Ref, error) {
	refs := make([]Ref, len(part))
	for i, c := range part {
		ref := recs.Ref(c.New)
		if c.Created() {
			if ref.ID == "" {
				return nil, backend.Errorf(backend.EINTERNAL, "import: the new record %s has no id; Check chooses it", ref.Key)
			}
			ref.Version = 1
		} else {
			ref.Version = recs.Ref(c.Old).Version + 1
		}
		refs[i] = ref
	}
	return refs, nil
}

// check runs Key, Load and Check over every row, records the problems in
// report and counts what the good rows would do. It returns the changes to
// store: the good rows that change something, in file order.
func check[T comparable](ctx context.Context, table *Table, report *Report, recs Records[T]) ([]Change[T], error) {
	keys := make([]string, len(table.Rows))
	keyFields := make([]string, len(table.Rows)) // the column each key is read from
	lines := map[string][]int{}                  // key → lines naming it
	for i, row := range table.Rows {
		key, field, problem := recs.Key(row)
		keyFields[i] = field
		if p, bad := row.Problems[field]; bad {
			// The key cell holds no value (an Excel error): whatever
			// Key made of its text names no record.
			key, problem = "", p
		}
		if key == "" {
			report.Reject(row.Line, field, problem)
			continue
		}
		keys[i] = key
		lines[key] = append(lines[key], row.Line)
	}
	distinct := make([]string, 0, len(lines))
	for k := range lines {
		distinct = append(distinct, k)
	}
	slices.Sort(distinct)
	loaded, err := recs.Load(ctx, distinct)
	if err != nil {
		return nil, err
	}
	existing := make(map[string]T, len(loaded))
	for _, rec := range loaded {
		existing[recs.Ref(rec).Key] = rec
	}

	var changes []Change[T]
	for i, row := range table.Rows {
		key := keys[i]
		if ls := lines[key]; key != "" && len(ls) > 1 {
			report.Reject(row.Line, keyFields[i], Quote(key)+" is on lines "+joinInts(ls)+"; keep one row per record")
			continue
		}
		old := existing[key] // nil (none) for a row without a key
		rec, problems, err := recs.Check(ctx, row, old)
		if err != nil {
			return nil, err
		}
		// What the reader found wrong with a cell is the reason for its
		// column, whatever Check made of the cell's text.
		for f, p := range row.Problems {
			if problems == nil {
				problems = make(map[string]string, len(row.Problems))
			}
			problems[f] = p
		}
		if key == "" {
			delete(problems, keyFields[i]) // already reported by Key
			if len(problems) == 0 {
				continue
			}
		}
		if len(problems) > 0 {
			fields := make([]string, 0, len(problems))
			for f := range problems {
				fields = append(fields, f)
			}
			slices.Sort(fields)
			for _, f := range fields {
				report.Reject(row.Line, f, problems[f])
			}
			continue
		}
		c := Change[T]{Line: row.Line, Old: old, New: rec}
		switch {
		case c.Created():
			report.Created++
		case len(backend.Diff(recs.Fields(old), recs.Fields(rec))) == 0:
			report.Unchanged++
			continue
		default:
			report.Updated++
		}
		changes = append(changes, c)
	}
	return changes, nil
}

// Stamped records set their own bookkeeping times (backend.Enterprise,
// Inspector and Item do).
type Stamped interface {
	comparable
	Stamp(created bool, now time.Time)
}

// StoreEach is Records.Store for short lists (a roster, an item list):
// each change stamped with now and stored on its own, by create or by the
// same compare-and-set update as the API. An ECONFLICT or EINVALID is that
// row's error; any other stops the batch.
func StoreEach[T Stamped](ctx context.Context, batch []Change[T], now time.Time, create, update func(context.Context, T) error) ([]error, error) {
	errs := make([]error, len(batch))
	for i, c := range batch {
		c.New.Stamp(c.Created(), now)
		store := update
		if c.Created() {
			store = create
		}
		if err := store(ctx, c.New); err != nil {
			if code := backend.ErrorCode(err); code != backend.ECONFLICT && code != backend.EINVALID {
				return nil, err
			}
			errs[i] = err
		}
	}
	return errs, nil
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
