package sheet

import (
	"archive/zip"
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"

	"suiji/backend"
)

// storedZip rewrites a zip without compression, so that the fuzzer's
// mutations reach the XML inside an XLSX instead of dying in inflate.
func storedZip(t testing.TB, data []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, r); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// FuzzRead checks that no input makes Read panic or blame itself
// (EINTERNAL), and that whatever it reads survives a CSV round trip.
func FuzzRead(f *testing.F) {
	var xlsx bytes.Buffer
	if err := WriteXLSX(&xlsx, testSchema, trickyRows[:2]); err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{
		[]byte(csvBasic),
		[]byte("\uFEFF泽州县企业名录,,\nuscc\tname\tcategories\n" + usccA + "\t\"甲\n乙\"\t\"a；b\"\n\n"),
		gbk(f, csvBasic),
		utf16le(f, strings.ReplaceAll(csvBasic, ",", "\t")),
		[]byte("uscc,name,USCC\n"),
		[]byte("'=x,''+y\n"),
		storedZip(f, xlsx.Bytes()),
		xlsx.Bytes()[:len(xlsx.Bytes())/3],
		[]byte("%PDF-1.4"),
		{},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := Read(bytes.NewReader(data), "fuzz", testSchema, 1<<20)
		if err != nil {
			if code := backend.ErrorCode(err); code != backend.EINVALID && code != backend.ETOOLARGE {
				t.Fatalf("code %s for bad input: %v", code, err)
			}
			return
		}
		var rows []map[string]string
		last := 0
		for _, r := range tab.Rows {
			if r.Line <= last {
				t.Fatalf("row lines not increasing: %d after %d", r.Line, last)
			}
			last = r.Line
			for _, c := range testSchema.Columns {
				if c.Multi {
					if _, ok := r.Values[c.Key]; ok && !reflect.DeepEqual(r.Lists[c.Key], SplitList(r.Values[c.Key])) {
						t.Fatalf("Lists[%s] = %q, Values %q", c.Key, r.Lists[c.Key], r.Values[c.Key])
					}
				}
			}
			rows = append(rows, r.Values)
		}
		var buf bytes.Buffer
		if err := WriteCSV(&buf, testSchema, rows, true); err != nil {
			t.Fatal(err)
		}
		again, err := Read(&buf, "again", testSchema, 0)
		if err != nil {
			t.Fatalf("re-reading our own CSV: %v", err)
		}
		i := 0
		for _, r := range tab.Rows {
			blank := true
			for _, v := range r.Values {
				blank = blank && v == ""
			}
			if blank {
				continue // a row whose known columns are blank is not written back as a row
			}
			if i >= len(again.Rows) {
				t.Fatalf("row %d lost in the round trip", r.Line)
			}
			for k, v := range r.Values {
				if got := again.Rows[i].Values[k]; got != v {
					t.Fatalf("row %d %s: %q became %q", r.Line, k, v, got)
				}
			}
			i++
		}
	})
}
