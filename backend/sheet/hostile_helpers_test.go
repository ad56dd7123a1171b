package sheet

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

// rawXLSX builds a minimal XLSX by hand, as an attacker would: the parts of
// workbookParts, a shared strings table holding sst, and a sheet whose
// <sheetData> is what rows writes. Nothing here goes through excelize, so
// the file can say things no spreadsheet program writes.
func rawXLSX(t testing.TB, sst []string, rows func(w io.Writer)) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	create := func(name string) io.Writer {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	for name, body := range workbookParts {
		if name != "xl/worksheets/sheet1.xml" {
			io.WriteString(create(name), body)
		}
	}
	w := create("xl/sharedStrings.xml")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">`, len(sst), len(sst))
	for _, s := range sst {
		io.WriteString(w, `<si><t xml:space="preserve">`)
		xml.EscapeText(w, []byte(s))
		io.WriteString(w, `</t></si>`)
	}
	io.WriteString(w, `</sst>`)
	w = create("xl/worksheets/sheet1.xml")
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	rows(w)
	io.WriteString(w, `</sheetData></worksheet>`)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// amplifyingXLSX is the reviewer's shared-string bomb: one shared string of
// size bytes, and under a header (uscc, name, address, town) n rows whose
// four cells all show it. The file stays a few KB whatever size and n.
func amplifyingXLSX(t testing.TB, size, n int) []byte {
	sst := []string{strings.Repeat("x", size), "uscc", "name", "address", "town"}
	return rawXLSX(t, sst, func(w io.Writer) {
		io.WriteString(w, `<row r="1"><c r="A1" t="s"><v>1</v></c><c r="B1" t="s"><v>2</v></c><c r="C1" t="s"><v>3</v></c><c r="D1" t="s"><v>4</v></c></row>`)
		for range n {
			io.WriteString(w, `<row><c t="s"><v>0</v></c><c t="s"><v>0</v></c><c t="s"><v>0</v></c><c t="s"><v>0</v></c></row>`)
		}
	})
}

// wideXLSX is the reviewer's wide-row file: under a header (uscc, name), n
// rows with a USCC in column A and one more value in column XFD, the last
// column Excel has.
func wideXLSX(t testing.TB, n int) []byte {
	return rawXLSX(t, []string{"uscc", "name", usccA, "备注"}, func(w io.Writer) {
		io.WriteString(w, `<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>`)
		for i := 2; i < n+2; i++ {
			fmt.Fprintf(w, `<row r="%d"><c r="A%d" t="s"><v>2</v></c><c r="XFD%d" t="s"><v>3</v></c></row>`, i, i, i)
		}
	})
}

// narrowXLSX is wideXLSX with the second value in column C instead of XFD:
// the same cells, the same bytes of XML, none of the width.
func narrowXLSX(t testing.TB, n int) []byte {
	return rawXLSX(t, []string{"uscc", "name", usccA, "备注"}, func(w io.Writer) {
		io.WriteString(w, `<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>`)
		for i := 2; i < n+2; i++ {
			fmt.Fprintf(w, `<row r="%d"><c r="A%d" t="s"><v>2</v></c><c r="C%d" t="s"><v>3</v></c></row>`, i, i, i)
		}
	})
}

// allocated runs f and returns the bytes it allocated on the heap (all of
// them, not what was live at the end: a read that builds and drops a
// gigabyte of garbage is as much a problem as one that keeps it).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
