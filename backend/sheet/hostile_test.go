package sheet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"suiji/backend"
)

// The files here are the ones a reviewer measured against Read before it
// had bounds on cell text and width: a 3 KB XLSX whose 1,000 rows show one
// 1 MB shared text in each of four cells took 39 s and 4 GB of heap; an
// 824 KB XLSX of 100,000 rows with one value in column XFD took 80 s of
// CPU and allocated 114 GB. The bounds on allocation below are far under
// what the same reads allocated without the fix (noted at each) and a few
// times what they allocate with it.

// TestReadRefusesAnAmplifyingSharedString: a cell showing a shared text
// over MaxCellBytes fails the whole file at once, naming the cell, without
// a copy of the text per cell.
func TestReadRefusesAnAmplifyingSharedString(t *testing.T) {
	data := amplifyingXLSX(t, 1<<20, 250) // 3 KB: 1,000 cells showing one 1 MB text
	var err error
	start := time.Now()
	alloc := allocated(func() { _, err = Read(bytes.NewReader(data), "企业.xlsx", testSchema, 0) })
	took := time.Since(start)
	if backend.ErrorCode(err) != backend.ETOOLARGE {
		t.Errorf("error %v, want ETOOLARGE", err)
	}
	for _, part := range []string{`"企业.xlsx"`, `row 2, column A ("uscc")`, "more than 32 KB of text"} {
		if !strings.Contains(backend.ErrorMessage(err), part) {
			t.Errorf("message %q lacks %q", backend.ErrorMessage(err), part)
		}
	}
	// Without the fix: 1 GB allocated, and no error.
	if alloc > 32<<20 {
		t.Errorf("refusing a %d-byte file allocated %d MB", len(data), alloc>>20)
	}
	if took > 5*time.Second {
		t.Errorf("refusing it took %s", took)
	}
}

// TestReadBoundsTheTextOfAFile: cells each within MaxCellBytes that show
// one shared text so often that the file's text passes MaxTextBytes fail
// the whole file, and the read allocates about the text once, not per use.
func TestReadBoundsTheTextOfAFile(t *testing.T) {
	data := amplifyingXLSX(t, 30<<10, 600) // 2 KB: 2,400 cells × 30 KB = 70 MB of text
	var err error
	alloc := allocated(func() { _, err = Read(bytes.NewReader(data), "企业.xlsx", testSchema, 0) })
	if backend.ErrorCode(err) != backend.ETOOLARGE || !strings.Contains(backend.ErrorMessage(err), `"企业.xlsx" holds more than 64 MB of text`) {
		t.Fatalf("error %v, want ETOOLARGE on the file's text", err)
	}
	// Without the fix: 72 MB allocated (and kept), and no error.
	if alloc > 16<<20 {
		t.Errorf("refusing it allocated %d MB", alloc>>20)
	}
}

// TestBuilderBoundsTheText: the bound is the builder's, so it counts what
// every reader (CSV too) hands it.
func TestBuilderBoundsTheText(t *testing.T) {
	b := &builder{schema: testSchema, idx: must(testSchema.index()), name: `"a.csv"`}
	if err := b.add(1, []string{"uscc"}, false); err != nil {
		t.Fatal(err)
	}
	cell := []string{strings.Repeat("x", MaxCellBytes)}
	for line := 2; ; line++ {
		if err := b.add(line, cell, false); err != nil {
			if backend.ErrorCode(err) != backend.ETOOLARGE || line != MaxTextBytes/MaxCellBytes+1 {
				t.Fatalf("row %d: %v, want ETOOLARGE at row %d", line, err, MaxTextBytes/MaxCellBytes+1)
			}
			break
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestReadRefusesALongCell: one cell over MaxCellBytes, inline in an XLSX
// or in a CSV, fails the file naming its row and column; a cell of exactly
// MaxCellBytes reads.
func TestReadRefusesALongCell(t *testing.T) {
	long := strings.Repeat("长", MaxCellBytes/3+1) // 32,769 bytes
	inline := rawXLSX(t, nil, func(w io.Writer) {
		fmt.Fprintf(w, `<row r="1"><c t="inlineStr"><is><t>uscc</t></is></c><c t="inlineStr"><is><t>name</t></is></c></row>`+
			`<row r="2"><c t="inlineStr"><is><t>%s</t></is></c><c t="inlineStr"><is><t>%s</t></is></c></row>`, usccA, long)
	})
	for name, data := range map[string][]byte{
		"XLSX": inline,
		"CSV":  []byte("uscc,name,address\n" + usccA + ",甲,乙\n" + usccB + ",丙," + long + "\n"),
	} {
		_, err := Read(bytes.NewReader(data), "企业", testSchema, 0)
		want := map[string]string{"XLSX": `row 2, column B ("name")`, "CSV": `row 3, column C ("address")`}[name]
		if backend.ErrorCode(err) != backend.ETOOLARGE || !strings.Contains(backend.ErrorMessage(err), want) {
			t.Errorf("%s: %v, want ETOOLARGE naming %s", name, err, want)
		}
	}
	exact := "uscc,name\n" + usccA + "," + strings.Repeat("x", MaxCellBytes) + "\n"
	if tab, err := Read(strings.NewReader(exact), "a.csv", testSchema, 0); err != nil || len(tab.Rows[0].Values["name"]) != MaxCellBytes {
		t.Errorf("a cell of exactly %d bytes: %v", MaxCellBytes, err)
	}
}

// TestReadLooksOnlyAsFarAsTheHeader: a value far right of the header (in
// column XFD, Excel's last) is reported in a warning and costs what any
// other cell costs, not a row 16,384 cells wide.
func TestReadLooksOnlyAsFarAsTheHeader(t *testing.T) {
	const n = 2000
	wide, narrow := wideXLSX(t, n), narrowXLSX(t, n)
	read := func(data []byte) (tab *Table, alloc uint64) {
		var err error
		alloc = allocated(func() { tab, err = Read(bytes.NewReader(data), "宽.xlsx", testSchema, 0) })
		if err != nil {
			t.Fatal(err)
		}
		return tab, alloc
	}
	tab, wideAlloc := read(wide)
	_, narrowAlloc := read(narrow)
	if len(tab.Rows) != n || tab.Rows[0].Values["uscc"] != usccA || tab.Rows[0].Values["name"] != "" {
		t.Fatalf("read %d rows, first %v", len(tab.Rows), tab.Rows[0].Values)
	}
	if !containsPart(tab.Warnings, "column XFD has values but no header (first in row 2)") {
		t.Errorf("warnings %q", tab.Warnings)
	}
	// Without the fix: 2.3 GB against 3 MB.
	if wideAlloc > 2*narrowAlloc {
		t.Errorf("the wide file allocated %d KB, the same cells in column C %d KB", wideAlloc>>10, narrowAlloc>>10)
	}

	// A CSV's fields past the header are looked at but not kept (up to
	// MaxFields a line: one wider is refused, TestReadRefusesACSVLineWiderThanASheet).
	line := usccA + ",甲" + strings.Repeat(",", 16_000) + "远"
	tab, err := Read(strings.NewReader("uscc,name\n"+line+"\n"), "宽.csv", testSchema, 0)
	far := fmt.Sprintf("column %s has values but no header (first in row 2)", columnName(1+16_000))
	if err != nil || len(tab.Rows) != 1 || !containsPart(tab.Warnings, far) {
		t.Errorf("wide CSV: %v, warnings %q", err, tab.Warnings)
	}
}

// countdown is a context that ends after its Err has been asked left
// times: a cancellation that lands in the middle of a read, wherever the
// machine's speed puts it.
type countdown struct {
	context.Context
	left atomic.Int64
}

func (c *countdown) Err() error {
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestReadStopsWhenTheContextEnds: a read whose request has ended returns
// EUNAVAILABLE wrapping the context's error, before the file starts or in
// the middle of it, for both formats; an import passes its context on.
func TestReadStopsWhenTheContextEnds(t *testing.T) {
	var csv strings.Builder
	csv.WriteString("uscc,name\n")
	for i := range MaxRows {
		fmt.Fprintf(&csv, "%s,某某公司%d\n", usccA, i)
	}
	xlsx := rawXLSX(t, []string{"uscc", "name"}, func(w io.Writer) {
		io.WriteString(w, `<row><c t="s"><v>0</v></c><c t="s"><v>1</v></c></row>`)
		for i := range 40_000 {
			fmt.Fprintf(w, `<row><c t="inlineStr"><is><t>%s</t></is></c><c t="inlineStr"><is><t>某某公司%d</t></is></c></row>`, usccA, i)
		}
	})
	for name, data := range map[string][]byte{"CSV": []byte(csv.String()), "XLSX": xlsx} {
		cancelled, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := ReadContext(cancelled, bytes.NewReader(data), name, testSchema, 64<<20)
		if backend.ErrorCode(err) != backend.EUNAVAILABLE || !errors.Is(err, context.Canceled) {
			t.Errorf("%s, cancelled before: %v, want EUNAVAILABLE wrapping context.Canceled", name, err)
		}

		// Ended after a few checks: the file is far longer than a few
		// times checkEvery rows, so only checks inside the loops see it,
		// and the read must stop at the first that does.
		midway := &countdown{Context: t.Context()}
		midway.left.Store(4)
		_, err = ReadContext(midway, bytes.NewReader(data), name, testSchema, 64<<20)
		if backend.ErrorCode(err) != backend.EUNAVAILABLE || !errors.Is(err, context.Canceled) {
			t.Errorf("%s, cancelled midway: %v, want EUNAVAILABLE wrapping context.Canceled", name, err)
		}
		switch left := midway.left.Load(); {
		case left >= 0:
			t.Errorf("%s: the read never saw its context end", name)
		case left < -1:
			t.Errorf("%s: the read went on after its context ended (%d more checks)", name, -1-left)
		}
	}

	p, l := newPets(), &ledger{}
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Import(gone, file("c3,小黑,1"), ImportOptions{}, petSchema, p, l.book()); !errors.Is(err, context.Canceled) || p.loads != 0 {
		t.Errorf("import with an ended context: %v, %d loads", err, p.loads)
	}
}
