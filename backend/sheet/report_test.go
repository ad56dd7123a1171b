package sheet

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"suiji/backend"
)

func TestSheetReportReject(t *testing.T) {
	tab, err := Read(strings.NewReader("USCC,企业名称,备注\n"+usccA+",甲,x\n,乙,\n"+usccB+",,\n"), "a.csv", testSchema, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReport(tab)
	r.Reject(3, "uscc", "required")
	r.Reject(4, "name", "required")
	r.Reject(4, "town", "unknown town") // not in the file: canonical header
	r.Reject(4, "", "duplicate of row 2")
	r.Reject(0, "nosuch", "file-level")

	want := []RowError{
		{Line: 3, Field: "uscc", Header: "USCC", Message: "required"},
		{Line: 4, Field: "name", Header: "企业名称", Message: "required"},
		{Line: 4, Field: "town", Header: "所属乡镇", Message: "unknown town"},
		{Line: 4, Message: "duplicate of row 2"},
		{Line: 0, Field: "nosuch", Header: "nosuch", Message: "file-level"},
	}
	if !reflect.DeepEqual(r.Errors, want) {
		t.Errorf("Errors =\n%+v\nwant\n%+v", r.Errors, want)
	}
	if r.Total != 3 || r.Rejected != 2 {
		t.Errorf("Total, Rejected = %d, %d; want 3, 2 (rows 3 and 4; file-level problems count no row)", r.Total, r.Rejected)
	}
	for line, want := range map[int]bool{2: false, 3: true, 4: true, 0: false} {
		if got := r.RowRejected(line); got != want {
			t.Errorf("RowRejected(%d) = %v, want %v", line, got, want)
		}
	}
	if !reflect.DeepEqual(r.Warnings, []string{`unknown column "备注" (column C) ignored`}) {
		t.Errorf("Warnings = %q, want the table's", r.Warnings)
	}
}

func TestSheetReportSummaryAndError(t *testing.T) {
	tests := []struct {
		name        string
		report      func() *Report
		wantAll     string // Summary(false)
		wantPartial string // Summary(true)
		wantFields  map[string]string
	}{
		{
			name: "all stored",
			report: func() *Report {
				return &Report{Total: 120, Created: 100, Updated: 15, Unchanged: 5}
			},
			wantAll:     "120 rows read: 100 created, 15 updated, 5 unchanged",
			wantPartial: "120 rows read: 100 created, 15 updated, 5 unchanged",
		},
		{
			name: "rejected rows",
			report: func() *Report {
				r := NewReport(&Table{Rows: make([]Row, 120), schema: testSchema})
				r.Created, r.Updated, r.Unchanged = 100, 15, 2
				r.Reject(3, "uscc", "check character is wrong")
				r.Reject(3, "uscc", "already in row 2")
				r.Reject(7, "", "row is too long")
				r.Reject(9, "town", "unknown town")
				return r
			},
			wantAll:     "3 of 120 rows rejected; nothing was stored",
			wantPartial: "3 of 120 rows rejected; the other 117 were stored (100 created, 15 updated, 2 unchanged)",
			wantFields: map[string]string{
				"3:uscc": "统一社会信用代码: check character is wrong; already in row 2",
				"7:":     "row is too long",
				"9:town": "所属乡镇: unknown town",
			},
		},
		{
			name: "one row",
			report: func() *Report {
				r := &Report{Total: 1}
				r.Reject(2, "x", "bad")
				return r
			},
			wantAll:     "1 of 1 row rejected; nothing was stored",
			wantPartial: "1 of 1 row rejected; the other 0 were stored (0 created, 0 updated, 0 unchanged)",
			wantFields:  map[string]string{"2:x": "x: bad"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.report()
			if got := r.Summary(false); got != tt.wantAll {
				t.Errorf("Summary(false) = %q, want %q", got, tt.wantAll)
			}
			if got := r.Summary(true); got != tt.wantPartial {
				t.Errorf("Summary(true) = %q, want %q", got, tt.wantPartial)
			}
			err := r.Error()
			if tt.wantFields == nil {
				if err != nil {
					t.Errorf("Error() = %v, want nil", err)
				}
				return
			}
			if backend.ErrorCode(err) != backend.EINVALID || backend.ErrorMessage(err) != tt.wantAll {
				t.Errorf("Error() = %v, want EINVALID %q", err, tt.wantAll)
			}
			if got := backend.ErrorFields(err); !reflect.DeepEqual(got, tt.wantFields) {
				t.Errorf("fields = %q, want %q", got, tt.wantFields)
			}
		})
	}
}

func TestSheetReportErrorFieldsBounded(t *testing.T) {
	r := &Report{Total: 5000}
	for i := range 5000 {
		r.Reject(i+2, "uscc", "bad")
	}
	if n := len(backend.ErrorFields(r.Error())); n != maxErrorFields {
		t.Errorf("fields = %d entries, want %d", n, maxErrorFields)
	}
	if r.Rejected != 5000 || len(r.Errors) != 5000 {
		t.Errorf("Rejected, len(Errors) = %d, %d; want every row kept in the report", r.Rejected, len(r.Errors))
	}
}

func TestSheetReportJSON(t *testing.T) {
	r := NewReport(nil)
	r.Total, r.Created = 2, 1
	r.Reject(3, "uscc", "bad")
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"total":2,"created":1,"updated":0,"unchanged":0,"rejected":1,` +
		`"errors":[{"line":3,"field":"uscc","header":"uscc","message":"bad"}],"warnings":[]}`
	if string(b) != want {
		t.Errorf("JSON =\n%s\nwant\n%s", b, want)
	}
	if b, _ := json.Marshal(NewReport(nil)); !strings.Contains(string(b), `"errors":[]`) {
		t.Errorf("an empty report encodes errors as %s, want [] so clients need no null check", b)
	}
}
