package mobileapi

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"suiji/backend/itemlist"
	"suiji/backend/roster"
	"suiji/backend/sheet"
)

// upload posts a file as multipart field "file" (plus partial when set) and
// returns the status and body.
func (f *rosterFixture) upload(t *testing.T, role, path, filename string, data []byte, partial string) (int, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if partial != "" {
		if err := mw.WriteField("partial", partial); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	resp, body := f.env.call(t, f.tokens[role], "POST", path, buf.String(), map[string]string{"Content-Type": mw.FormDataContentType()})
	return resp.StatusCode, body
}

// download GETs an export and returns its bytes, failing unless 200.
func (f *rosterFixture) download(t *testing.T, role, path string) ([]byte, http.Header) {
	t.Helper()
	resp, body := f.env.call(t, f.tokens[role], "GET", path, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return body, resp.Header
}

// badges lists the roster's badge numbers in order.
func (f *rosterFixture) badges(t *testing.T) []string {
	t.Helper()
	var out struct{ Inspectors []inspectorResponse }
	f.req(t, "coordinator", "GET", "/api/v1/inspectors?limit=500", "", 200, &out)
	var b []string
	for _, in := range out.Inspectors {
		b = append(b, in.BadgeNo+"|"+in.Name+"|"+in.DepartmentID+"|"+in.CertificateExpires+"|"+strings.Join(in.Qualifications, "+"))
	}
	return b
}

func TestInspectorImportUpsertsAndRoundTrips(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 4)
	exp := string(chinaToday().AddDays(200))
	var existing inspectorResponse
	f.req(t, "coordinator", "POST", "/api/v1/inspectors", inspectorJSON(f.users[0].ID, "老王", "IMP-1", exp, "dept-1", "general"), 201, &existing)

	csv := "badge_no,name,username,department,certificate_expires,qualifications,active,phone\n" +
		"imp-1,老王（改）,officer00,roster test office 2," + exp + ",general,yes,\n" +
		"IMP-2,小李,officer01,dept-1," + exp + ",煤矿；general,是,13800000000\n"
	status, body := f.upload(t, "coordinator", "/api/v1/inspectors/import", "roster.csv", []byte(csv), "")
	if status != 200 {
		t.Fatalf("import: %d %s", status, body)
	}
	rep := decodeImport(t, body).Report
	if rep.Total != 2 || rep.Created != 1 || rep.Updated != 1 || rep.Rejected != 0 {
		t.Fatalf("report: %s", body)
	}
	var got inspectorResponse
	f.req(t, "coordinator", "GET", "/api/v1/inspectors/"+existing.ID, "", 200, &got)
	if got.Name != "老王（改）" || got.DepartmentID != "dept-2" || got.Version != 2 {
		t.Errorf("updated by import: %+v", got)
	}
	var vs struct{ Versions []versionResponse }
	f.req(t, "coordinator", "GET", "/api/v1/inspectors/"+existing.ID+"/versions", "", 200, &vs)
	if len(vs.Versions) != 2 || vs.Versions[1].Action != "import" {
		t.Errorf("import version: %+v", vs.Versions)
	}
	before := f.badges(t)
	if len(before) != 2 || !strings.Contains(before[1], "IMP-2|小李|dept-1|"+exp+"|coal_mine+general") {
		t.Errorf("roster after import: %v", before)
	}

	// Export, then import the export: every row unchanged, in both formats
	// and both header languages.
	for _, q := range []string{"", "?format=csv", "?format=xlsx&lang=en", "?format=csv&lang=en"} {
		data, h := f.download(t, "leader", "/api/v1/inspectors/export"+q)
		if !strings.Contains(h.Get("Content-Disposition"), "inspectors.") {
			t.Errorf("Content-Disposition %q", h.Get("Content-Disposition"))
		}
		table, err := sheet.Read(bytes.NewReader(data), "export", roster.InspectorSchema, 0)
		if err != nil || len(table.Rows) != 2 {
			t.Fatalf("export%s reads back as %v, %v", q, table, err)
		}
		status, body := f.upload(t, "coordinator", "/api/v1/inspectors/import", "export", data, "")
		rep = decodeImport(t, body).Report
		if status != 200 || rep.Unchanged != 2 || rep.Created+rep.Updated+rep.Rejected != 0 {
			t.Errorf("re-import of export%s: %d %s", q, status, body)
		}
	}
	if after := f.badges(t); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("round trip changed the roster:\n%v\n%v", before, after)
	}
	f.download(t, "staff", "/api/v1/inspectors/export")
	f.req(t, "inspector", "GET", "/api/v1/inspectors/export", "", 403, nil)
	f.req(t, "leader", "GET", "/api/v1/inspectors/export?format=pdf", "", 400, nil)
}

func TestInspectorImportWithBadRowsChangesNothing(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 4)
	exp := string(chinaToday().AddDays(30))
	f.req(t, "coordinator", "POST", "/api/v1/inspectors", inspectorJSON(f.users[0].ID, "原有", "OLD-1", exp, "dept-1"), 201, nil)
	// An XLSX with Chinese headers: one good new row, one good update, and
	// rows with a bad date, an unknown qualification, an unknown user, and
	// a badge repeated within the file.
	rows := []map[string]string{
		{"badge_no": "NEW-1", "name": "新人", "username": "officer01", "department": "dept-1", "certificate_expires": exp, "qualifications": "综合"},
		{"badge_no": "OLD-1", "name": "原有（改）"},
		{"badge_no": "BAD-1", "name": "坏日期", "username": "officer02", "department": "dept-1", "certificate_expires": "2026-02-30"},
		{"badge_no": "BAD-2", "name": "坏资格", "username": "officer03", "department": "dept-1", "certificate_expires": exp, "qualifications": "占卜"},
		{"badge_no": "BAD-3", "name": "无账号", "username": "nobody", "department": "dept-1", "certificate_expires": exp},
		{"badge_no": "new-1", "name": "重复", "username": "officer02", "department": "dept-1", "certificate_expires": exp},
	}
	var file bytes.Buffer
	if err := sheet.WriteXLSX(&file, roster.InspectorSchema, rows); err != nil {
		t.Fatal(err)
	}
	before := f.badges(t)
	status, body := f.upload(t, "coordinator", "/api/v1/inspectors/import", "名录.xlsx", file.Bytes(), "")
	if status != 400 {
		t.Fatalf("import with bad rows: %d %s", status, body)
	}
	e := decodeImport(t, body).Error
	for _, k := range []string{"2:badge_no", "4:certificate_expires", "5:qualifications", "6:username", "7:badge_no"} {
		if e.Fields[k] == "" {
			t.Errorf("error lacks %s: %s", k, body)
		}
	}
	if !strings.Contains(e.Fields["4:certificate_expires"], "执法证有效期至") {
		t.Errorf("the message should name the column as the file does: %q", e.Fields["4:certificate_expires"])
	}
	if after := f.badges(t); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatalf("a refused import changed the roster:\n%v\n%v", before, after)
	}

	// partial=true stores the good row and still reports the others; both
	// lines naming NEW-1 are rejected, since the file does not say which
	// one is right.
	status, body = f.upload(t, "coordinator", "/api/v1/inspectors/import", "名录.xlsx", file.Bytes(), "true")
	rep := decodeImport(t, body).Report
	if status != 200 || rep.Created != 0 || rep.Updated != 1 || rep.Rejected != 5 || len(rep.Errors) != 5 {
		t.Fatalf("partial import: %d %s", status, body)
	}
	if got := f.badges(t); len(got) != 1 || !strings.HasPrefix(got[0], "OLD-1|原有（改）") {
		t.Errorf("after partial import: %v", got)
	}

	// Not a spreadsheet, no file, a bad partial flag, a file without the
	// badge column: refused as a whole.
	status, body = f.upload(t, "coordinator", "/api/v1/inspectors/import", "photo.png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"), "")
	if status != 400 {
		t.Errorf("PNG: %d %s", status, body)
	}
	if status, body = f.upload(t, "coordinator", "/api/v1/inspectors/import", "x.csv", []byte("name\n张三\n"), ""); status != 400 {
		t.Errorf("no badge column: %d %s", status, body)
	}
	if status, body = f.upload(t, "coordinator", "/api/v1/inspectors/import", "x.csv", []byte("badge_no\nA-1\n"), "maybe"); status != 400 {
		t.Errorf("partial=maybe: %d %s", status, body)
	}
	f.req(t, "coordinator", "POST", "/api/v1/inspectors/import", `{}`, 400, nil)
	// Staff import only their own department's inspectors.
	status, body = f.upload(t, "staff", "/api/v1/inspectors/import", "x.csv",
		[]byte("执法证号,姓名,登录账号,所属部门,执法证有效期至\nST-1,某,officer02,dept-2,"+exp+"\n"), "")
	if status != 400 || !strings.Contains(string(body), "2:department") {
		t.Errorf("staff importing into another department: %d %s", status, body)
	}
	if status, _ = f.upload(t, "leader", "/api/v1/inspectors/import", "x.csv", []byte("badge_no\nA-1\n"), ""); status != 403 {
		t.Errorf("leader import: %d", status)
	}
}

func TestItemImportExportAndAmendments(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 0)
	rows := []map[string]string{
		{"year": "2026", "code": "zz-01", "name": "安全生产责任制", "law": "《安全生产法》", "article": "第二十二条", "department": "roster test office 1",
			"content": "检查全员安全生产责任制", "method": "现场检查", "qualification": "综合", "categories": "煤矿；非煤矿山"},
		{"year": "2026", "code": "ZZ-02", "name": "应急预案", "law": "《安全生产法》", "article": "第八十一条", "department": "dept-2",
			"content": "检查应急预案编制和演练", "method": "document_review", "qualification": "general"},
	}
	var file bytes.Buffer
	if err := sheet.WriteXLSX(&file, itemlist.ItemSchema, rows); err != nil {
		t.Fatal(err)
	}
	status, body := f.upload(t, "coordinator", "/api/v1/items/import", "清单.xlsx", file.Bytes(), "")
	if status != 200 || !strings.Contains(string(body), `"created":2`) {
		t.Fatalf("item import: %d %s", status, body)
	}
	var list struct{ Items []itemResponse }
	f.req(t, "coordinator", "GET", "/api/v1/items?year=2026", "", 200, &list)
	if len(list.Items) != 2 || list.Items[0].Code != "ZZ-01" || list.Items[0].Method != "on_site" ||
		strings.Join(list.Items[0].Categories, ",") != "coal_mine,non_coal_mine" || list.Items[0].DepartmentID != "dept-1" {
		t.Fatalf("imported items: %+v", list.Items)
	}

	// Duplicate codes within a file, a bad method: nothing stored.
	dup := "year,code,name,law,article,department,content,method,qualification\n" +
		"2027,A-1,x,l,a,dept-1,c,on_site,general\n" +
		"2027,a-1,y,l,a,dept-1,c,on_site,general\n" +
		"2027,A-2,z,l,a,dept-1,c,by_pigeon,general\n"
	status, body = f.upload(t, "coordinator", "/api/v1/items/import", "dup.csv", []byte(dup), "")
	if status != 400 || !strings.Contains(string(body), "3:code") || !strings.Contains(string(body), "4:method") {
		t.Fatalf("bad item file: %d %s", status, body)
	}
	f.req(t, "coordinator", "GET", "/api/v1/items?year=2027", "", 200, &list)
	if len(list.Items) != 0 {
		t.Errorf("a refused import stored %d items", len(list.Items))
	}

	// Export and re-import: unchanged.
	data, _ := f.download(t, "inspector", "/api/v1/items/export?year=2026")
	status, body = f.upload(t, "coordinator", "/api/v1/items/import", "export.xlsx", data, "")
	if status != 200 || !strings.Contains(string(body), `"unchanged":2`) {
		t.Fatalf("re-import of export: %d %s", status, body)
	}

	// After publication an imported change needs a reason, and is an amendment.
	f.req(t, "coordinator", "POST", "/api/v1/items/publish", `{"year":2026}`, 200, nil)
	change := "年度,事项编码,检查内容\n2026,ZZ-02,检查应急预案编制、评审和演练\n"
	status, body = f.upload(t, "coordinator", "/api/v1/items/import", "amend.csv", []byte(change), "")
	if status != 400 || !strings.Contains(string(body), "2:reason") {
		t.Fatalf("amendment without reason: %d %s", status, body)
	}
	change = "年度,事项编码,检查内容,修订理由\n2026,ZZ-02,检查应急预案编制、评审和演练,《生产安全事故应急条例》施行\n"
	status, body = f.upload(t, "coordinator", "/api/v1/items/import", "amend.csv", []byte(change), "")
	if status != 200 || !strings.Contains(string(body), `"updated":1`) {
		t.Fatalf("amendment with reason: %d %s", status, body)
	}
	f.req(t, "coordinator", "GET", "/api/v1/items?year=2026&q=ZZ-02", "", 200, &list)
	it := list.Items[0]
	if it.AmendmentReason != "《生产安全事故应急条例》施行" || !it.Published {
		t.Errorf("amended by import: %+v", it)
	}
	var vs struct{ Versions []versionResponse }
	f.req(t, "coordinator", "GET", "/api/v1/items/"+it.ID+"/versions", "", 200, &vs)
	if n := len(vs.Versions); n != 3 || vs.Versions[n-1].Action != "amend" || vs.Versions[0].Action != "import" {
		t.Errorf("versions of an imported, published, amended item: %+v", vs.Versions)
	}
	// Staff import only their own department's items.
	status, body = f.upload(t, "staff", "/api/v1/items/import", "s.csv",
		[]byte("year,code,name,law,article,department,content,method,qualification\n2028,S-1,x,l,a,dept-2,c,on_site,general\n"), "")
	if status != 400 || !strings.Contains(string(body), "2:department") {
		t.Errorf("staff importing another department's item: %d %s", status, body)
	}
}
