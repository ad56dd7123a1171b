package sheet

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"suiji/backend"
)

// TestReadRefusesACSVLineWiderThanASheet: a CSV line of more than
// MaxFields cells (Excel's XFD, the bound every XLSX cell reference has)
// fails the file, naming the row, before csv.Reader makes its fields; a
// line of exactly MaxFields cells, and a quoted cell full of commas, are
// read as before.
func TestReadRefusesACSVLineWiderThanASheet(t *testing.T) {
	// 3 MB of commas: without the bound, 3 million fields made (some
	// 120 MB) and the file read.
	wide := "uscc,name\n" + usccA + ",甲\n\"多行\n名称\"," + usccB + "\n" + usccB + ",乙" + strings.Repeat(",", 3<<20) + "\n"
	_, err := Read(strings.NewReader(wide), "宽.csv", testSchema, 0)
	if backend.ErrorCode(err) != backend.ETOOLARGE || !strings.Contains(backend.ErrorMessage(err), fmt.Sprintf(`"宽.csv": row 4 has more than %d cells`, MaxFields)) {
		t.Fatalf("error %v, want ETOOLARGE naming row 4 (Excel's, after a two-line cell)", err)
	}

	// Through an import: the file fails as a whole and nothing is read
	// against the store, let alone stored.
	p, l := newPets(), &ledger{}
	r, err := Import(t.Context(), strings.NewReader("编号,名字\nc3,小黑\nd4,小白"+strings.Repeat(",", 2<<20)+"\n"), ImportOptions{Partial: true}, petSchema, p, l.book())
	if r != nil || backend.ErrorCode(err) != backend.ETOOLARGE || p.loads != 0 || len(p.stores) != 0 || len(p.stored) != 2 {
		t.Fatalf("import of a wide line: report %v, error %v, %d loads, stores %v", r, err, p.loads, p.stores)
	}

	exact := "uscc,name\n" + usccA + ",甲" + strings.Repeat(",", MaxFields-2) + "\n"
	if tab, err := Read(strings.NewReader(exact), "a.csv", testSchema, 0); err != nil || len(tab.Rows) != 1 {
		t.Errorf("a line of exactly %d cells: %v", MaxFields, err)
	}
	commas := "uscc,name,address\n" + usccA + ",甲,\"" + strings.Repeat(",", 20_000) + "\"\n"
	if tab, err := Read(strings.NewReader(commas), "a.csv", testSchema, 0); err != nil || len(tab.Rows) != 1 || len(tab.Rows[0].Values["address"]) != 20_000 {
		t.Errorf("a quoted cell holding 20,000 commas: %v", err)
	}
	tabs := "uscc\tname\n" + usccA + "\t甲" + strings.Repeat("\t", MaxFields) + "\n"
	if _, err := Read(strings.NewReader(tabs), "a.txt", testSchema, 0); backend.ErrorCode(err) != backend.ETOOLARGE {
		t.Errorf("a tab-separated line of %d cells: %v, want ETOOLARGE", MaxFields+1, err)
	}
}

// TestReadRefusesAnXLSXRowWiderThanASheet: cells without a reference
// count on from the last, and may run no further than a reference can
// name (MaxFields, the bound a CSV line has too).
func TestReadRefusesAnXLSXRowWiderThanASheet(t *testing.T) {
	row := func(n int) []byte {
		return rawXLSX(t, []string{"uscc", "name"}, func(w io.Writer) {
			io.WriteString(w, `<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="2">`)
			io.WriteString(w, strings.Repeat(`<c><v>1</v></c>`, n))
			io.WriteString(w, `</row>`)
		})
	}
	if _, err := Read(bytes.NewReader(row(MaxFields+1)), "宽.xlsx", testSchema, 0); backend.ErrorCode(err) != backend.EINVALID ||
		!strings.Contains(backend.ErrorMessage(err), fmt.Sprintf("row 2 of sheet \"Sheet1\" is damaged (it has more than %d cells)", MaxFields)) {
		t.Errorf("a row of %d cells: %v", MaxFields+1, err)
	}
	if tab, err := Read(bytes.NewReader(row(MaxFields)), "宽.xlsx", testSchema, 0); err != nil || len(tab.Rows) != 1 {
		t.Errorf("a row of %d cells: %v", MaxFields, err)
	}
}

// TestRecordFieldsCountsAsCSVReaderSplits: the count that decides the
// refusal is csv.Reader's own (LazyQuotes), on the lines people and
// tools write, and the ones they should not.
func TestRecordFieldsCountsAsCSVReaderSplits(t *testing.T) {
	for _, text := range []string{
		"a,b,c\n", "a,b,c", "a,,\n", ",\n", "\n\n\r\na,b\n", "\r\na,b\r\nc\n",
		`"a,b",c` + "\n", `"a""b",c,"d` + "\n" + `e,f"` + "\n", `"a"b,c",d` + "\n", `a"b,c"` + "\n",
		`"abc` + "\n", `"a",` + "\n", `"a"` + "\r\n" + `b,c`, `x,"y"` + "\r", `"a" ,b,c` + "\n", `某某"公司",乙,丙` + "\n",
		"a\tb,c\n",
	} {
		cr := csv.NewReader(strings.NewReader(text))
		cr.FieldsPerRecord, cr.LazyQuotes = -1, true
		off := 0
		for {
			n, _ := recordFields([]byte(text)[off:], ',', 1000)
			rec, err := cr.Read()
			if err == io.EOF {
				if n != 0 {
					t.Errorf("%q at %d: %d fields counted, csv.Reader sees none", text, off, n)
				}
				break
			}
			if err != nil {
				t.Fatalf("%q: %v", text, err)
			}
			if n != len(rec) {
				t.Errorf("%q at %d: %d fields counted, csv.Reader splits %d: %q", text, off, n, len(rec), rec)
			}
			off = int(cr.InputOffset())
		}
	}
	if n, _ := recordFields([]byte(strings.Repeat(",", 1<<20)), ',', 10); n != 11 {
		t.Errorf("counting stops just past the limit: %d", n)
	}
}

// TestXLSXErrorCellsRejectTheRow: a cell holding an Excel error value
// (t="e": #N/A, #REF! …) is no value: the row is rejected naming the
// column, also when it is the key, and nothing is stored.
func TestXLSXErrorCellsRejectTheRow(t *testing.T) {
	data := rawXLSX(t, []string{"编号", "名字", "年龄"}, func(w io.Writer) {
		io.WriteString(w, `<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c></row>`)
		io.WriteString(w, `<row r="2"><c r="A2" t="inlineStr"><is><t>c3</t></is></c><c r="B2" t="e"><f>VLOOKUP(A2,X!A:B,2,0)</f><v>#N/A</v></c><c r="C2"><v>1</v></c></row>`)
		io.WriteString(w, `<row r="3"><c r="A3" t="e"><v>#REF!</v></c><c r="B3" t="inlineStr"><is><t>小白</t></is></c></row>`)
		io.WriteString(w, `<row r="4"><c r="A4" t="inlineStr"><is><t>g7</t></is></c><c r="B4" t="inlineStr"><is><t>阿黄</t></is></c></row>`)
	})
	tab, err := Read(bytes.NewReader(data), "宠物.xlsx", petSchema, 0)
	if err != nil {
		t.Fatal(err)
	}
	if p := tab.Rows[0].Problems["name"]; !strings.Contains(p, `Excel error value "#N/A"`) || len(tab.Rows[0].Problems) != 1 {
		t.Errorf("row 2 problems %q", tab.Rows[0].Problems)
	}
	if tab.Rows[2].Problems != nil {
		t.Errorf("a good row has problems %q", tab.Rows[2].Problems)
	}

	p, l := newPets(), &ledger{}
	r, err := Import(t.Context(), bytes.NewReader(data), ImportOptions{}, petSchema, p, l.book())
	if backend.ErrorCode(err) != backend.EINVALID || len(p.stores) != 0 || len(p.stored) != 2 || len(l.versions) != 0 {
		t.Fatalf("error %v, stores %v, %d stored", err, p.stores, len(p.stored))
	}
	got := map[string]string{}
	for _, e := range r.Errors {
		got[fmt.Sprint(e.Line, ":", e.Field)] = e.Message
	}
	if len(got) != 2 || !strings.Contains(got["2:name"], `"#N/A"`) || !strings.Contains(got["3:tag"], `"#REF!"`) || r.Rejected != 2 {
		t.Errorf("errors %q", got)
	}
	// With partial, the good row is stored, the others are not.
	r, err = Import(t.Context(), bytes.NewReader(data), ImportOptions{Partial: true}, petSchema, p, l.book())
	if err != nil || r.Created != 1 || r.Rejected != 2 || p.stored["C3"] != nil || p.stored["G7"] == nil || r.Stored != 1 {
		t.Errorf("partial: %v %+v, stored %v", err, r, p.stored)
	}
}

// TestImportSummaryCountsWhatWasStored: a row that loses its race while
// the others are written, and batches written before a failure, were
// stored, and the summary says so in either mode.
func TestImportSummaryCountsWhatWasStored(t *testing.T) {
	// All or nothing, every row good, one loses its race in Store.
	p, l := newPets(), &ledger{}
	p.conflict["D4"] = true
	r, err := Import(t.Context(), file("a1,旺财,5", "c3,小黑,1", "d4,小白,2"), ImportOptions{}, petSchema, p, l.book())
	if err != nil {
		t.Fatal(err)
	}
	if r.Stored != 2 || r.Rejected != 1 || p.stored["C3"] == nil || p.stored["A1"].Age != "5" {
		t.Fatalf("report %+v, stored %v", r, p.stored)
	}
	if s := r.Summary(false); strings.Contains(s, "nothing was stored") || !strings.Contains(s, "1 of 3 rows rejected; the other 2 were stored (1 created, 1 updated, 0 unchanged)") {
		t.Errorf("summary %q", s)
	}

	// The second of three batches fails: the first is stored, and said to be.
	p, l = newPets(), &ledger{}
	p.fail = 2
	r, err = Import(t.Context(), file("c3,小黑,1", "d4,小白,2", "e5,花花,3"), ImportOptions{BatchSize: 1}, petSchema, p, l.book())
	if backend.ErrorCode(err) != backend.EUNAVAILABLE || r == nil {
		t.Fatalf("error %v, report %v", err, r)
	}
	if r.Stored != 1 || p.stored["C3"] == nil || p.stored["D4"] != nil || p.stored["E5"] != nil {
		t.Fatalf("stored %d, store %v", r.Stored, p.stored)
	}
	for _, partial := range []bool{false, true} {
		if s := r.Summary(partial); !strings.Contains(s, "stopped before the end: 1 row stored, 2 more not stored or not all") {
			t.Errorf("summary (partial %v) %q", partial, s)
		}
	}

	// Rejected at check time without partial: nothing stored, as before.
	p, l = newPets(), &ledger{}
	r, _ = Import(t.Context(), file("c3,小黑,1", "d4,,2"), ImportOptions{}, petSchema, p, l.book())
	if r.Stored != 0 || r.Summary(false) != "1 of 2 rows rejected; nothing was stored" {
		t.Errorf("summary %q, stored %d", r.Summary(false), r.Stored)
	}
}

// TestRowMessagesQuoteCellsShort: a value repeated in a row message is
// quoted and cut short, whatever the cell holds.
func TestRowMessagesQuoteCellsShort(t *testing.T) {
	long := strings.Repeat("长", MaxCellBytes/3)
	if q := Quote(long); utf8.RuneCountInString(q) != maxQuoted+3 || !strings.HasSuffix(q, `…"`) {
		t.Errorf("Quote of %d bytes = %d characters: %.60s", len(long), utf8.RuneCountInString(q), q)
	}
	if Quote("a\nb") != `"a\nb"` || Clip("短") != "短" || Clip(long) != strings.Repeat("长", maxQuoted)+"…" {
		t.Errorf("Quote/Clip: %s %s", Quote("a\nb"), Clip("短"))
	}
	names := backend.NewNames(map[string]string{"coal_mine": "煤矿", "coal2": "煤矿", "general": "综合"})
	msg := UnknownNames(names, "qualification", []string{long, "煤矿"})
	if len(msg) > 300 || !strings.Contains(msg, "not on the qualification list: \"长") ||
		!strings.Contains(msg, `"煤矿" is the name of several entries of the qualification list (coal2, coal_mine): write the code`) {
		t.Errorf("UnknownNames: %s", msg)
	}

	// The pipeline's own message about a key on two lines.
	tag := strings.Repeat("X", 20_000)
	p, l := newPets(), &ledger{}
	r, _ := Import(t.Context(), file(tag+",甲,1", tag+",乙,2"), ImportOptions{}, petSchema, p, l.book())
	for _, e := range r.Errors {
		if len(e.Message) > 200 {
			t.Errorf("line %d: a message of %d bytes", e.Line, len(e.Message))
		}
	}
	if len(r.Errors) != 2 {
		t.Errorf("errors %v", r.Errors)
	}
}

// TestCSVErrorValuesRejectTheRow: a CSV has no cell types — Excel writes
// a failed formula's error value as text — so a cell that is exactly one
// (#N/A, #REF! …, any case, padded) rejects its row naming the column,
// as in an XLSX; a value merely containing one is a value.
func TestCSVErrorValuesRejectTheRow(t *testing.T) {
	data := []byte("编号,名字,年龄\nc3,#N/A,1\n #ref! ,小白,2\ng7,阿黄 #N/A 号,3\n")
	tab, err := Read(bytes.NewReader(data), "宠物.csv", petSchema, 0)
	if err != nil {
		t.Fatal(err)
	}
	if p := tab.Rows[0].Problems["name"]; !strings.Contains(p, `Excel error value "#N/A"`) || len(tab.Rows[0].Problems) != 1 {
		t.Errorf("row 2 problems %q", tab.Rows[0].Problems)
	}
	if p := tab.Rows[1].Problems["tag"]; !strings.Contains(p, `"#ref!"`) {
		t.Errorf("row 3 problems %q", tab.Rows[1].Problems)
	}
	if tab.Rows[2].Problems != nil {
		t.Errorf("a name holding #N/A among other words has problems %q", tab.Rows[2].Problems)
	}
}
