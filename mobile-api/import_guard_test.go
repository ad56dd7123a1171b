package mobileapi

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"suiji/backend"
	"suiji/backend/roster"
	"suiji/backend/sheet"
	"suiji/storage/storagetest"
)

// enterpriseCount is the directory's total, read through the API (which
// also shows that a listing encodes).
func enterpriseCount(t *testing.T, env *apiEnv, token string) int {
	t.Helper()
	var page dirPage
	dirDo(t, env, token, "GET", "/api/v1/enterprises?limit=500", "", 200, &page)
	return page.Total
}

// TestEnterpriseImportRefusesNaNAndTheListingStillEncodes: a file's "NaN"
// or "Inf" coordinate is refused naming its column; with partial the other
// rows are stored, and the listing (which NaN made a 500) still answers.
func TestEnterpriseImportRefusesNaNAndTheListingStillEncodes(t *testing.T) {
	env := newAPIEnv(t, Config{})
	staff := env.login(t, "staff").AccessToken
	codes := dirUSCC(61, 3)
	file := "统一社会信用代码,企业名称,所属乡镇,纬度,经度\n" +
		codes[0] + ",甲,巴公镇,NaN,112.8\n" + codes[1] + ",乙,巴公镇,35.5,-Inf\n" + codes[2] + ",丙,巴公镇,35.5,112.8\n"
	resp, body := dirUpload(t, env, staff, "/api/v1/enterprises/import", "名录.csv", []byte(file))
	out := decodeImport(t, body)
	if resp.StatusCode != 400 || out.Report.Rejected != 2 || !strings.Contains(out.Summary, "nothing was stored") {
		t.Fatalf("import: %d %s", resp.StatusCode, body)
	}
	if out.Error.Fields["2:lat"] == "" || out.Error.Fields["3:lng"] == "" {
		t.Errorf("fields %v, want 2:lat and 3:lng", out.Error.Fields)
	}
	if n := enterpriseCount(t, env, staff); n != 0 {
		t.Fatalf("a refused import stored %d enterprises", n)
	}
	resp, body = dirUpload(t, env, staff, "/api/v1/enterprises/import?partial=true", "名录.csv", []byte(file))
	if out := decodeImport(t, body); resp.StatusCode != 200 || out.Report.Created != 1 || out.Report.Rejected != 2 {
		t.Fatalf("partial import: %d %s", resp.StatusCode, body)
	}
	if n := enterpriseCount(t, env, staff); n != 1 {
		t.Fatalf("%d enterprises, want the good row's", n)
	}
}

// racingUpdates is the real enterprise store with another writer changing
// the first enterprise of the first bulk update just before it is written.
type racingUpdates struct {
	backend.EnterpriseStore
	done atomic.Bool
}

func (r *racingUpdates) UpdateEnterprises(ctx context.Context, es []*backend.Enterprise) ([]error, error) {
	if len(es) > 0 && !r.done.Swap(true) {
		other, err := r.EnterpriseStore.FindEnterpriseByID(context.Background(), es[0].ID)
		if err != nil {
			return nil, err
		}
		other.Phone = "0356-7654321"
		if err := r.EnterpriseStore.UpdateEnterprise(context.Background(), other); err != nil {
			return nil, err
		}
	}
	return r.EnterpriseStore.UpdateEnterprises(ctx, es)
}

// TestImportAnswerSaysWhatWasStored: the API's summary follows what was
// written — after a row lost its race (200, the others stored, not
// "nothing was stored") and after a failure stopped the import once a
// batch was written (503 with the summary counting that batch).
func TestImportAnswerSaysWhatWasStored(t *testing.T) {
	env := newAPIEnv(t, Config{})
	staff := env.login(t, "staff").AccessToken
	codes := dirUSCC(62, 1003) // A, one more, and 1,001 rows: two batches
	dirDo(t, env, staff, "POST", "/api/v1/enterprises", dirBody(map[string]any{"uscc": codes[0], "name": "甲", "town": "巴公镇"}), 201, nil)
	store := env.svc.Directory.Enterprises
	env.svc.Directory.Enterprises = &racingUpdates{EnterpriseStore: store}
	file := "统一社会信用代码,企业名称,所属乡镇\n" + codes[1] + ",乙,巴公镇\n" + codes[0] + ",甲（改）,巴公镇\n"
	resp, body := dirUpload(t, env, staff, "/api/v1/enterprises/import", "名录.csv", []byte(file))
	out := decodeImport(t, body)
	if resp.StatusCode != 200 || out.Report.Rejected != 1 || out.Report.Created != 1 {
		t.Fatalf("import losing a race: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(out.Summary, "nothing was stored") || !strings.Contains(out.Summary, "the other 1 were stored (1 created") {
		t.Errorf("summary %q", out.Summary)
	}
	if n := enterpriseCount(t, env, staff); n != 2 {
		t.Fatalf("%d enterprises, want the first and the created one", n)
	}

	// 1,000 rows to a batch: the second fails.
	env.svc.Directory.Enterprises = &storagetest.FailingCreates{EnterpriseStore: store, N: 2}
	var b strings.Builder
	b.WriteString("统一社会信用代码,企业名称,所属乡镇\n")
	for i, c := range codes[2:] {
		fmt.Fprintf(&b, "%s,企业%d,巴公镇\n", c, i)
	}
	resp, body = dirUpload(t, env, staff, "/api/v1/enterprises/import", "名录.csv", []byte(b.String()))
	out = decodeImport(t, body)
	if resp.StatusCode != 503 || out.Error.Code != backend.EUNAVAILABLE {
		t.Fatalf("import stopped by a failure: %d %.300s", resp.StatusCode, body)
	}
	if !strings.Contains(out.Summary, "stopped before the end: 1000 rows stored") {
		t.Errorf("summary %q", out.Summary)
	}
	if n, _, err := store.FindEnterprises(t.Context(), backend.EnterpriseFilter{}); err != nil || len(n) != 1002 {
		t.Errorf("%d enterprises stored, want 1,002 (the first batch and the two before): %v", len(n), err)
	}
}

// TestQualificationNamesAreUnique: a qualification whose name another has
// is refused naming the name, since spreadsheets name qualifications by
// name.
func TestQualificationNamesAreUnique(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 0)
	var before struct{ Qualifications []qualificationResponse }
	f.req(t, "coordinator", "GET", "/api/v1/qualifications", "", 200, &before)
	body := f.req(t, "coordinator", "POST", "/api/v1/qualifications", `{"code":"coal2","name":" 煤矿 "}`, 409, nil)
	wantFields(t, body, backend.ECONFLICT, "name")
	if e := decodeError(t, body); !strings.Contains(e.Fields["name"], "coal_mine") {
		t.Errorf("fields %v, want the other qualification named", e.Fields)
	}
	body = f.req(t, "coordinator", "POST", "/api/v1/qualifications", `{"code":"general","name":"综合二"}`, 409, nil)
	wantFields(t, body, backend.ECONFLICT, "code")
	var after struct{ Qualifications []qualificationResponse }
	f.req(t, "coordinator", "GET", "/api/v1/qualifications", "", 200, &after)
	if len(after.Qualifications) != len(before.Qualifications) {
		t.Fatalf("refusals changed the list: %v → %v", before, after)
	}
	f.req(t, "coordinator", "POST", "/api/v1/qualifications", `{"code":"fire","name":"消防"}`, 201, nil)
	// A name taken since is refused too (there is no unique index — see
	// storage/mongodb/indexes.go — so two creates racing could both pass;
	// an import then reads the name as unknown: TestImportsRefuseASharedQualificationName).
	body = f.req(t, "coordinator", "POST", "/api/v1/qualifications", `{"code":"fire2","name":"消防"}`, 409, nil)
	wantFields(t, body, backend.ECONFLICT, "name")
}

// sharedNameQualifications is the qualification store with a second entry
// named 煤矿, as a database from before names were unique may hold.
type sharedNameQualifications struct{ backend.QualificationStore }

func (s sharedNameQualifications) FindQualifications(ctx context.Context) ([]*backend.Qualification, error) {
	qs, err := s.QualificationStore.FindQualifications(ctx)
	return append(qs, &backend.Qualification{Code: "coal2", Name: "煤矿"}), err
}

// TestImportsRefuseASharedQualificationName: a cell naming a qualification
// by a name two entries share means neither (which one was meant cannot be
// told, and the choice would vary from run to run): the row is rejected
// saying to write the code, and nothing is stored; the code is taken.
func TestImportsRefuseASharedQualificationName(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 1)
	shared := sharedNameQualifications{env.svc.Roster.Qualifications}
	env.svc.Roster.Qualifications, env.svc.Items.Qualifications = shared, shared
	exp := string(chinaToday().AddDays(100))

	roster := "badge_no,name,username,department,certificate_expires,qualifications\nQ-1,老王,officer00,dept-1," + exp + ",综合；煤矿\n"
	status, body := f.upload(t, "coordinator", "/api/v1/inspectors/import", "名录.csv", []byte(roster), "")
	out := decodeImport(t, body)
	if status != 400 || !strings.Contains(out.Error.Fields["2:qualifications"], `"煤矿" is the name of several`) {
		t.Fatalf("roster import: %d %s", status, body)
	}
	if got := f.badges(t); len(got) != 0 {
		t.Fatalf("a refused import stored %v", got)
	}

	items := "year,code,name,law,article,department,content,method,qualification\n2032,Q-1,x,l,a,dept-1,c,on_site,煤矿\n"
	status, body = f.upload(t, "coordinator", "/api/v1/items/import", "清单.csv", []byte(items), "")
	out = decodeImport(t, body)
	if status != 400 || !strings.Contains(out.Error.Fields["2:qualification"], "write the code") {
		t.Fatalf("item import: %d %s", status, body)
	}
	var list struct{ Items []itemResponse }
	f.req(t, "coordinator", "GET", "/api/v1/items?year=2032", "", 200, &list)
	if len(list.Items) != 0 {
		t.Fatalf("a refused import stored %d items", len(list.Items))
	}

	// The code says which.
	status, body = f.upload(t, "coordinator", "/api/v1/inspectors/import", "名录.csv", []byte(strings.Replace(roster, "煤矿", "coal2", 1)), "")
	if status != 200 {
		t.Fatalf("roster import by code: %d %s", status, body)
	}
}

// TestRosterImportRequiresTheCertificateExpiry: a new inspector without an
// expiry (no column, or a blank cell) is rejected with the reason, as the
// API refuses one; nothing is stored.
func TestRosterImportRequiresTheCertificateExpiry(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 2)
	for name, file := range map[string]string{
		"no column":  "badge_no,name,username,department\nE-1,老王,officer00,dept-1\n",
		"blank cell": "badge_no,name,username,department,certificate_expires\nE-1,老王,officer00,dept-1,\n",
	} {
		status, body := f.upload(t, "coordinator", "/api/v1/inspectors/import", "名录.csv", []byte(file), "true")
		out := decodeImport(t, body)
		if status != 200 || out.Report.Rejected != 1 || out.Report.Created != 0 ||
			!strings.Contains(fmt.Sprint(out.Report.Errors), "certificate_expires") {
			t.Fatalf("%s: %d %s", name, status, body)
		}
		if got := f.badges(t); len(got) != 0 {
			t.Fatalf("%s: stored %v", name, got)
		}
	}
}

// errorCellXLSX is a roster workbook whose row 2 has the name column
// holding an Excel error value (#N/A, from a failed VLOOKUP) instead of a
// name: excelize writes the workbook, and the cell is then rewritten as
// Excel stores a formula's error.
func errorCellXLSX(t *testing.T, exp string) []byte {
	t.Helper()
	var file bytes.Buffer
	rows := []map[string]string{{"badge_no": "X-1", "name": "4242", "username": "officer00", "department": "dept-1", "certificate_expires": exp}}
	if err := sheet.WriteXLSX(&file, roster.InspectorSchema, rows); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(file.Bytes()), int64(file.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	rewrote := false
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if strings.HasPrefix(zf.Name, "xl/worksheets/") {
			cell := regexp.MustCompile(`<c r="B2"[^>]*>.*?</c>`)
			if cell.Match(data) {
				data = cell.ReplaceAll(data, []byte(`<c r="B2" t="e"><f>VLOOKUP(A2,Sheet2!A:B,2,0)</f><v>#N/A</v></c>`))
				rewrote = true
			}
		}
		w, err := zw.Create(zf.Name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil || !rewrote {
		t.Fatalf("rewriting the cell: %v, %v", err, rewrote)
	}
	return out.Bytes()
}

// TestImportRejectsExcelErrorCells: a cell holding an Excel error value is
// no name: the row is rejected naming the column, and nothing is stored.
func TestImportRejectsExcelErrorCells(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 1)
	status, body := f.upload(t, "coordinator", "/api/v1/inspectors/import", "名录.xlsx", errorCellXLSX(t, string(chinaToday().AddDays(100))), "")
	out := decodeImport(t, body)
	if status != 400 || out.Report.Rejected != 1 || !strings.Contains(out.Error.Fields["2:name"], `姓名: the cell holds the Excel error value "#N/A"`) {
		t.Fatalf("import: %d %s", status, body)
	}
	if got := f.badges(t); len(got) != 0 {
		t.Fatalf("stored %v", got)
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(body, &raw) != nil || raw["summary"] == nil {
		t.Errorf("the refusal carries no summary: %s", body)
	}
}

// TestImportMessagesQuoteLongCells: the roster's and the item list's row
// messages repeat a short, quoted piece of a cell, not the cell.
func TestImportMessagesQuoteLongCells(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 1)
	long := strings.Repeat("长", 10_000) // 30 KB, under the cell bound
	exp := string(chinaToday().AddDays(100))
	for path, file := range map[string]string{
		"/api/v1/inspectors/import": "badge_no,name,username,department,certificate_expires,qualifications\nL-1,老王,officer00,dept-1," + exp + "," + long + "\n",
		"/api/v1/items/import": "year,code,name,law,article,department,content,method,qualification,categories\n" +
			"2033,L-1,x,l,a,dept-1,c,on_site," + long + "," + long + "\n",
	} {
		status, body := f.upload(t, "coordinator", path, "long.csv", []byte(file), "")
		out := decodeImport(t, body)
		if status != 400 || len(out.Report.Errors) == 0 {
			t.Fatalf("%s: %d %.300s", path, status, body)
		}
		for _, e := range out.Report.Errors {
			if len(e.Message) > 300 || !strings.Contains(e.Message, `"长长`) {
				t.Errorf("%s: %s: a message of %d bytes: %.100s", path, e.Field, len(e.Message), e.Message)
			}
		}
	}
	if got := f.badges(t); len(got) != 0 {
		t.Fatalf("stored %v", got)
	}
}
