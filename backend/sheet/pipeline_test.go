package sheet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"suiji/backend"
)

// pet is the record of a toy area that exercises the pipeline without a
// store: keyed by tag, with a name and an age.
type pet struct {
	ID      string
	Tag     string
	Name    string
	Age     string
	Version int
}

var petSchema = Schema{Name: "pets", Columns: []Column{
	{Key: "tag", Headers: []string{"编号", "tag"}, Required: true},
	{Key: "name", Headers: []string{"名字", "name"}},
	{Key: "age", Headers: []string{"年龄", "age"}},
	{Key: "note", Headers: []string{"备注", "note"}, ExportOnly: true},
}}

// pets is an in-memory area. conflict names tags whose store loses a race;
// fail makes the n-th Store call fail outright.
type pets struct {
	stored   map[string]*pet
	loads    int
	stores   [][]string // tags per Store call
	conflict map[string]bool
	fail     int
}

func (p *pets) Key(row Row) (string, string, string) {
	tag := strings.ToUpper(row.Values["tag"])
	if tag == "" || strings.ContainsAny(tag, " /") {
		return "", "tag", "a tag is letters and digits"
	}
	return tag, "tag", ""
}

func (p *pets) Load(_ context.Context, keys []string) ([]*pet, error) {
	p.loads++
	var out []*pet
	for _, k := range keys {
		if e, ok := p.stored[k]; ok {
			cp := *e
			out = append(out, &cp)
		}
	}
	return out, nil
}

func (p *pets) Check(_ context.Context, row Row, old *pet) (*pet, map[string]string, error) {
	n := &pet{ID: "id-" + strings.ToUpper(row.Values["tag"]), Tag: strings.ToUpper(row.Values["tag"])}
	if old != nil {
		cp := *old
		n = &cp
	}
	problems := map[string]string{}
	if v, ok := row.Values["name"]; ok {
		n.Name = v
	}
	if v, ok := row.Values["age"]; ok {
		n.Age = v
		if strings.Trim(v, "0123456789") != "" {
			problems["age"] = "a number"
		}
	}
	if n.Name == "" {
		problems["name"] = "required"
	}
	return n, problems, nil
}

func (p *pets) Fields(e *pet) map[string]any { return map[string]any{"name": e.Name, "age": e.Age} }

func (p *pets) Store(_ context.Context, batch []Change[*pet], _ time.Time) ([]error, error) {
	if p.fail > 0 && len(p.stores)+1 == p.fail {
		return nil, backend.Errorf(backend.EUNAVAILABLE, "the store went away")
	}
	var tags []string
	errs := make([]error, len(batch))
	for i, c := range batch {
		tags = append(tags, c.New.Tag)
		if p.conflict[c.New.Tag] {
			errs[i] = backend.Errorf(backend.ECONFLICT, "changed by someone else")
			continue
		}
		if c.Created() {
			c.New.Version = 1
		} else {
			c.New.Version++
		}
		cp := *c.New
		p.stored[c.New.Tag] = &cp
	}
	p.stores = append(p.stores, tags)
	return errs, nil
}

func (p *pets) Ref(e *pet) Ref { return Ref{ID: e.ID, Key: e.Tag, Version: e.Version} }

// ledger is an in-memory Book: versions and audit events.
type ledger struct {
	versions []*backend.Version
	events   []map[string]any
	actions  []string
	changes  []backend.AuditChange // as staged, for the events of Change
}

func (l *ledger) AppendVersion(_ context.Context, v *backend.Version) error {
	l.versions = append(l.versions, v)
	return nil
}

func (l *ledger) AppendVersions(_ context.Context, vs []*backend.Version) error {
	l.versions = append(l.versions, vs...)
	return nil
}

func (l *ledger) FindVersions(context.Context, string, string) ([]*backend.Version, error) {
	return nil, nil
}

func (l *ledger) Record(_ context.Context, action, _, _ string, _, after any) error {
	l.actions = append(l.actions, action)
	l.events = append(l.events, after.(map[string]any))
	return nil
}

func (l *ledger) Change(ctx context.Context, c backend.AuditChange, write func(context.Context) error) error {
	if err := write(ctx); err != nil {
		return err
	}
	l.changes = append(l.changes, c)
	return l.Record(ctx, c.Action, c.ObjectType, c.ObjectID, c.Before, c.After)
}

func (l *ledger) book() Book {
	return Book{Kind: "pet", Versions: l, Audit: l, Now: func() time.Time { return time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC) }}
}

func newPets() *pets {
	return &pets{stored: map[string]*pet{
		"A1": {ID: "id-A1", Tag: "A1", Name: "旺财", Age: "3", Version: 1},
		"B2": {ID: "id-B2", Tag: "B2", Name: "咪咪", Age: "2", Version: 4},
	}, conflict: map[string]bool{}}
}

// file is a CSV with a header and the given rows (lines 2, 3, …).
func file(rows ...string) *strings.Reader {
	return strings.NewReader("编号,名字,年龄\n" + strings.Join(rows, "\n") + "\n")
}

func TestImportAllOrNothingNamesEveryRejectedRow(t *testing.T) {
	p, l := newPets(), &ledger{}
	r, err := Import(t.Context(), file(
		"a1,旺财,4",  // 2: update
		"b2,咪咪,2",  // 3: unchanged
		"c3,小黑,1",  // 4: new
		"d 4,,x",   // 5: bad key, and no name, and a bad age
		"e5,花花,七",  // 6: bad age
		"f6,大黄,5",  // 7: duplicate key …
		"F6,大黄二,6", // 8: … on both lines
	), ImportOptions{}, petSchema, p, l.book())
	if backend.ErrorCode(err) != backend.EINVALID {
		t.Fatalf("error %v, want EINVALID", err)
	}
	if len(p.stores) != 0 || len(l.versions) != 0 || len(l.events) != 0 {
		t.Fatalf("stored something: %v, %d versions, %d events", p.stores, len(l.versions), len(l.events))
	}
	if p.loads != 1 {
		t.Errorf("Load called %d times, want once for the whole file", p.loads)
	}
	got := map[string]bool{}
	for _, e := range r.Errors {
		got[fmt.Sprintf("%d:%s", e.Line, e.Field)] = true
	}
	for _, want := range []string{"5:tag", "5:name", "5:age", "6:age", "7:tag", "8:tag"} {
		if !got[want] {
			t.Errorf("no error for %s; errors: %+v", want, r.Errors)
		}
	}
	if len(r.Errors) != 6 {
		t.Errorf("errors %+v, want exactly 6 (the key problem once)", r.Errors)
	}
	if r.Total != 7 || r.Rejected != 4 || r.Created != 1 || r.Updated != 1 || r.Unchanged != 1 {
		t.Errorf("counts %+v", r)
	}
	if !strings.Contains(err.Error(), "nothing was stored") {
		t.Errorf("message %q", err.Error())
	}
}

func TestImportPartialStoresGoodRowsInBatchesWithVersionsAndAnEventPerBatch(t *testing.T) {
	p, l := newPets(), &ledger{}
	p.conflict["D4"] = true // loses a race when stored
	var progress []string
	r, err := Import(t.Context(), strings.NewReader("编号,名字,年龄,备注\n"+
		"a1,旺财,4,\n"+ // 2: update A1 v1 → v2
		"c3,小黑,1,\n"+ // 3: new
		"d4,小白,1,\n"+ // 4: new, conflict
		"e5,花花,七,\n"+ // 5: rejected
		"b2,咪咪,2,\n"+ // 6: unchanged
		"g7,阿黄,9,新来的\n"), // 7: new
		ImportOptions{Partial: true, BatchSize: 2, Filename: "pets.csv",
			Progress: func(done, total int) { progress = append(progress, fmt.Sprint(done, "/", total)) }},
		petSchema, p, l.book())
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"A1", "C3"}, {"D4", "G7"}}; !slices.EqualFunc(p.stores, want, slices.Equal) {
		t.Errorf("Store calls %v, want %v", p.stores, want)
	}
	if !slices.Equal(progress, []string{"2/4", "4/4"}) {
		t.Errorf("progress %v", progress)
	}
	if r.Created != 2 || r.Updated != 1 || r.Unchanged != 1 || r.Rejected != 2 || !r.RowRejected(4) || !r.RowRejected(5) {
		t.Errorf("report %+v", r)
	}
	if !slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, "备注") }) {
		t.Errorf("no warning for the export-only column: %v", r.Warnings)
	}
	// A version per stored record, with the right number and changes.
	if len(l.versions) != 3 {
		t.Fatalf("%d versions, want 3", len(l.versions))
	}
	v := l.versions[0]
	if v.ObjectType != "pet" || v.ObjectID != "id-A1" || v.Number != 2 || v.Action != "import" ||
		len(v.Changes) != 1 || v.Changes[0].Field != "age" || v.Changes[0].Before != "3" || v.Changes[0].After != "4" {
		t.Errorf("update version %+v %+v", v, v.Changes)
	}
	if v := l.versions[1]; v.ObjectID != "id-C3" || v.Number != 1 || len(v.Changes) != 2 {
		t.Errorf("create version %+v", v)
	}
	// One audit event per batch, written with it (a bulk change), naming
	// the file and the batch's rows as they are written — the row that
	// lost its race too, since the event is fixed before the write.
	if len(l.events) != 2 || l.actions[0] != "pet.import" || l.actions[1] != "pet.import" {
		t.Fatalf("audit %v", l.actions)
	}
	for i, want := range [][]Ref{{{"id-A1", "A1", 2}, {"id-C3", "C3", 1}}, {{"id-D4", "D4", 1}, {"id-G7", "G7", 1}}} {
		ev, c := l.events[i], l.changes[i]
		if refs := ev["rows"].([]Ref); !slices.Equal(refs, want) {
			t.Errorf("batch %d: rows %v, want %v", i+1, refs, want)
		}
		if ev["filename"] != "pets.csv" || len(ev["file_sha256"].(string)) != 64 || ev["batch"] != i+1 || ev["batches"] != 2 ||
			!c.Bulk || c.ObjectType != "pet_import" || c.ObjectID != ev["file_sha256"] {
			t.Errorf("batch %d: event %v of %+v", i+1, ev, c)
		}
	}
}

func TestImportStopsOnStoreFailureAndStillAuditsWhatWasStored(t *testing.T) {
	p, l := newPets(), &ledger{}
	p.fail = 2 // the second batch fails
	_, err := Import(t.Context(), file("c3,小黑,1", "d4,小白,2", "e5,花花,3"),
		ImportOptions{BatchSize: 2}, petSchema, p, l.book())
	if backend.ErrorCode(err) != backend.EUNAVAILABLE {
		t.Fatalf("error %v, want EUNAVAILABLE", err)
	}
	if len(l.events) != 1 || len(l.events[0]["rows"].([]Ref)) != 2 {
		t.Fatalf("audit events %v, want the first batch's, naming its two records", l.events)
	}
	if _, ok := p.stored["E5"]; ok {
		t.Error("stored a row after the failure")
	}
}

func TestImportRejectsUnreadableFilesWithoutAReport(t *testing.T) {
	p, l := newPets(), &ledger{}
	r, err := Import(t.Context(), strings.NewReader("\x89PNG\r\n\x1a\n\x00\x00"), ImportOptions{Filename: "x.png"}, petSchema, p, l.book())
	if r != nil || backend.ErrorCode(err) != backend.EINVALID || p.loads != 0 {
		t.Fatalf("report %v, error %v, loads %d", r, err, p.loads)
	}
	var be *backend.Error
	if !errors.As(err, &be) {
		t.Fatalf("not a domain error: %v", err)
	}
}
