package mobileapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/accounts"
)

// rosterFixture is what the roster and item tests share: two departments
// (the test users' "dept-1" and another) and users holding the inspector
// role to link inspectors to.
type rosterFixture struct {
	env    *apiEnv
	tokens map[string]string // access token by role
	users  []*backend.User   // inspector-role users, not yet linked
}

// newRosterFixture makes the departments through the directory's store:
// dept-1 (the test users' department; it may exist already if another
// area's hook made it) and dept-2.
func newRosterFixture(t *testing.T, env *apiEnv, inspectorUsers int) *rosterFixture {
	t.Helper()
	ctx := context.Background()
	for _, d := range []*backend.Department{
		{ID: "dept-1", Name: "roster test office 1", Kind: backend.DepartmentInternal},
		{ID: "dept-2", Name: "roster test office 2", Kind: backend.DepartmentBrigade},
	} {
		if err := env.db.Departments().CreateDepartment(ctx, d); err != nil && backend.ErrorCode(err) != backend.ECONFLICT {
			t.Fatal(err)
		}
	}
	f := &rosterFixture{env: env, tokens: map[string]string{}}
	for _, role := range []string{"admin", "coordinator", "staff", "leader", "inspector"} {
		f.tokens[role] = env.login(t, role).AccessToken
	}
	admin := env.users["admin"]
	system := backend.WithActor(ctx, &backend.Actor{UserID: admin.ID, Username: admin.Username, Roles: admin.Roles})
	for i := range inspectorUsers {
		u, err := env.svc.Accounts.CreateUser(system, accounts.NewUser{
			Username: fmt.Sprintf("officer%02d", i), Password: testPassword, DisplayName: fmt.Sprintf("Officer %d", i),
			Roles: []backend.Role{backend.RoleInspector}, DepartmentID: "dept-1",
		})
		if err != nil {
			t.Fatal(err)
		}
		f.users = append(f.users, u)
	}
	return f
}

// req sends a request as role and decodes a JSON object answer into out
// (when not nil), failing unless the status is want.
func (f *rosterFixture) req(t *testing.T, role, method, path, body string, want int, out any) []byte {
	t.Helper()
	resp, got := f.env.call(t, f.tokens[role], method, path, body, nil)
	if resp.StatusCode != want {
		t.Fatalf("%s %s as %s: status %d, want %d: %s", method, path, role, resp.StatusCode, want, got)
	}
	if out != nil {
		if err := json.Unmarshal(got, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, got)
		}
	}
	return got
}

// wantFields asserts an error body names exactly the given fields.
func wantFields(t *testing.T, body []byte, code string, fields ...string) {
	t.Helper()
	e := decodeError(t, body)
	if e.Code != code {
		t.Fatalf("code %s, want %s: %s", e.Code, code, body)
	}
	var got []string
	for k := range e.Fields {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(fields)
	if !slices.Equal(got, fields) {
		t.Fatalf("fields %v, want %v: %s", got, fields, body)
	}
}

// inspectorJSON is a create body.
func inspectorJSON(userID, name, badge, expires, dept string, quals ...string) string {
	q, _ := json.Marshal(append([]string{}, quals...))
	return fmt.Sprintf(`{"user_id":%q,"name":%q,"badge_no":%q,"certificate_expires":%q,"department_id":%q,"qualifications":%s}`,
		userID, name, badge, expires, dept, q)
}

// chinaToday is today in the bureau's calendar, which is what the service
// judges certificates on.
func chinaToday() backend.Date { return backend.DateOf(time.Now()) }

func TestInspectorCreateGetPatchAndVersions(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 1)
	expires := string(chinaToday().AddDays(365))

	var created inspectorResponse
	f.req(t, "coordinator", "POST", "/api/v1/inspectors",
		`{"user_id":"`+f.users[0].ID+`","name":"张三","badge_no":" ｚｚ-０１ 23","certificate_expires":"`+expires+
			`","department_id":"dept-2","qualifications":["coal_mine","general","coal_mine"],"phone":"0356-1234567"}`, 201, &created)
	if created.BadgeNo != "ZZ-0123" {
		t.Errorf("badge_no %q, want the normalised ZZ-0123", created.BadgeNo)
	}
	if !created.Active || !created.Drawable || created.CertificateExpired || created.Version != 1 {
		t.Errorf("new inspector: active %v drawable %v expired %v version %d", created.Active, created.Drawable, created.CertificateExpired, created.Version)
	}
	if !slices.Equal(created.Qualifications, []string{"coal_mine", "general"}) {
		t.Errorf("qualifications %v, want de-duplicated and sorted", created.Qualifications)
	}

	var got inspectorResponse
	f.req(t, "leader", "GET", "/api/v1/inspectors/"+created.ID, "", 200, &got)
	if got.Name != "张三" || got.DepartmentID != "dept-2" || got.CertificateExpires != expires {
		t.Errorf("GET: %+v", got)
	}

	var patched inspectorResponse
	f.req(t, "admin", "PATCH", "/api/v1/inspectors/"+created.ID, `{"name":"张三丰","version":1}`, 200, &patched)
	if patched.Name != "张三丰" || patched.Version != 2 {
		t.Errorf("PATCH: name %q version %d", patched.Name, patched.Version)
	}
	// The same values again: nothing stored, no version.
	f.req(t, "admin", "PATCH", "/api/v1/inspectors/"+created.ID, `{"name":"张三丰","qualifications":["general","coal_mine"]}`, 200, &patched)
	if patched.Version != 2 {
		t.Errorf("unchanged PATCH moved the version to %d", patched.Version)
	}
	// A stale version is refused.
	body := f.req(t, "admin", "PATCH", "/api/v1/inspectors/"+created.ID, `{"name":"李四","version":1}`, 409, nil)
	wantFields(t, body, backend.ECONFLICT, "version")

	var vs struct{ Versions []versionResponse }
	f.req(t, "staff", "GET", "/api/v1/inspectors/"+created.ID+"/versions", "", 200, &vs)
	if len(vs.Versions) != 2 || vs.Versions[0].Action != "create" || vs.Versions[1].Action != "update" {
		t.Fatalf("versions: %+v", vs.Versions)
	}
	if ch := vs.Versions[1].Changes; len(ch) != 1 || ch[0].Field != "name" || ch[0].Before != "张三" || ch[0].After != "张三丰" {
		t.Errorf("update changes: %+v", ch)
	}
	if vs.Versions[1].ActorName != "admin" {
		t.Errorf("update by %q", vs.Versions[1].ActorName)
	}
	// Each change is in the audit trail.
	for _, action := range []string{"inspector.create", "inspector.update"} {
		events, err := env.db.AuditEvents().FindAuditEvents(context.Background(), backend.AuditFilter{Action: action, ObjectID: created.ID})
		if err != nil || len(events) != 1 {
			t.Errorf("audit %s: %d events, %v", action, len(events), err)
		}
	}
	f.req(t, "admin", "GET", "/api/v1/inspectors/0123456789abcdef01234567", "", 404, nil)
}

func TestInspectorBadInputNamesEveryFieldAndStoresNothing(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 2)
	expires := string(chinaToday().AddDays(100))
	var first inspectorResponse
	f.req(t, "coordinator", "POST", "/api/v1/inspectors", inspectorJSON(f.users[0].ID, "王五", "A-001", expires, "dept-1", "general"), 201, &first)

	count := func() int {
		var list struct{ Total int }
		f.req(t, "coordinator", "GET", "/api/v1/inspectors", "", 200, &list)
		return list.Total
	}
	versions := func() int {
		vs, err := env.db.Versions().FindVersions(context.Background(), "inspector", first.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(vs)
	}
	before, beforeVersions := count(), versions()

	for _, tc := range []struct {
		name, body, code string
		fields           []string
	}{
		{"bad date, unknown qualification, unknown department",
			inspectorJSON(f.users[1].ID, "赵六", "A-002", "2026-02-30", "no-such-dept", "general", "astrology"),
			backend.EINVALID, []string{"certificate_expires", "qualifications", "department_id"}},
		{"not a date at all", inspectorJSON(f.users[1].ID, "赵六", "A-002", "next year", "dept-1"), backend.EINVALID, []string{"certificate_expires"}},
		{"unknown user", inspectorJSON("0123456789abcdef01234567", "赵六", "A-002", expires, "dept-1"), backend.EINVALID, []string{"user_id"}},
		{"user without the inspector role", inspectorJSON(env.users["leader"].ID, "赵六", "A-002", expires, "dept-1"), backend.EINVALID, []string{"user_id"}},
		{"empty name and bad badge", inspectorJSON(f.users[1].ID, "", "#", expires, "dept-1"), backend.EINVALID, []string{"name", "badge_no"}},
		{"conflicts without reason or with an unknown enterprise",
			`{"user_id":"` + f.users[1].ID + `","name":"赵六","badge_no":"A-002","certificate_expires":"` + expires +
				`","department_id":"dept-1","conflicts":[{"enterprise_id":"0123456789abcdef01234567","reason":"brother-in-law"},{"enterprise_id":"x","reason":""}]}`,
			backend.EINVALID, []string{"conflicts[0].enterprise_id", "conflicts[1].enterprise_id", "conflicts[1].reason"}},
		{"duplicate badge in another spelling", inspectorJSON(f.users[1].ID, "赵六", "a-００1", expires, "dept-1"), backend.ECONFLICT, []string{"badge_no"}},
		{"user already linked", inspectorJSON(f.users[0].ID, "赵六", "A-002", expires, "dept-1"), backend.ECONFLICT, []string{"user_id"}},
		{"wrong JSON type", `{"certificate_expires":20260101}`, backend.EINVALID, []string{"certificate_expires"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := 400
			if tc.code == backend.ECONFLICT {
				want = 409
			}
			body := f.req(t, "coordinator", "POST", "/api/v1/inspectors", tc.body, want, nil)
			wantFields(t, body, tc.code, tc.fields...)
		})
	}
	// A bad PATCH names its fields and changes nothing either.
	body := f.req(t, "coordinator", "PATCH", "/api/v1/inspectors/"+first.ID,
		`{"name":"改名","certificate_expires":"2026-13-01","department_id":"nowhere","qualifications":["nope"]}`, 400, nil)
	wantFields(t, body, backend.EINVALID, "certificate_expires", "department_id", "qualifications")

	if after := count(); after != before {
		t.Errorf("bad input changed the roster: %d inspectors, then %d", before, after)
	}
	if after := versions(); after != beforeVersions {
		t.Errorf("bad input added versions: %d, then %d", beforeVersions, after)
	}
	var still inspectorResponse
	f.req(t, "coordinator", "GET", "/api/v1/inspectors/"+first.ID, "", 200, &still)
	if still.Name != "王五" || still.Version != 1 {
		t.Errorf("after a refused PATCH: %+v", still)
	}
}

func TestInspectorConflictsOfInterestNameRealEnterprises(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 1)
	// The enterprise is made through the directory's store, which is all
	// the roster relies on.
	e := &backend.Enterprise{USCC: "91140525MA0000000X", Name: "泽州测试煤业", Status: backend.EnterpriseActive, Version: 1, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
	if err := env.db.Enterprises().CreateEnterprise(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	var in inspectorResponse
	f.req(t, "coordinator", "POST", "/api/v1/inspectors",
		`{"user_id":"`+f.users[0].ID+`","name":"钱七","badge_no":"C-1","certificate_expires":"`+string(chinaToday().AddDays(9))+
			`","department_id":"dept-1","conflicts":[{"enterprise_id":"`+e.ID+`","reason":"spouse works there"}]}`, 201, &in)
	if len(in.Conflicts) != 1 || in.Conflicts[0].EnterpriseID != e.ID || in.Conflicts[0].Reason != "spouse works there" {
		t.Fatalf("conflicts %+v", in.Conflicts)
	}
	body := f.req(t, "coordinator", "PATCH", "/api/v1/inspectors/"+in.ID,
		`{"conflicts":[{"enterprise_id":"`+e.ID+`","reason":"spouse"},{"enterprise_id":"`+e.ID+`","reason":"twice"}]}`, 400, nil)
	wantFields(t, body, backend.EINVALID, "conflicts[1].enterprise_id")
	f.req(t, "coordinator", "PATCH", "/api/v1/inspectors/"+in.ID, `{"conflicts":[]}`, 200, &in)
	if len(in.Conflicts) != 0 || in.Version != 2 {
		t.Errorf("after clearing conflicts: %+v", in)
	}
}

func TestInspectorListFiltersOrderAndPages(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 5)
	today := chinaToday()
	// Created out of badge order, to see the listing sort them.
	specs := []struct {
		badge, name, expires, dept string
		quals                      []string
		active                     bool
	}{
		{"B-300", "孙一", string(today.AddDays(200)), "dept-1", []string{"general"}, true},
		{"B-100", "孙二", string(today.AddDays(-1)), "dept-1", []string{"coal_mine"}, true}, // expired
		{"B-200", "周三", string(today.AddDays(50)), "dept-2", []string{"coal_mine", "general"}, false},
		{"X-900", "吴四", string(today), "dept-2", []string{"hazardous_chemicals"}, true}, // valid through today
		{"B-150", "郑五", string(today.AddDays(1)), "dept-1", []string{"general"}, true},
	}
	ids := map[string]string{}
	for i, s := range specs {
		var in inspectorResponse
		body := inspectorJSON(f.users[i].ID, s.name, s.badge, s.expires, s.dept, s.quals...)
		body = strings.TrimSuffix(body, "}") + fmt.Sprintf(`,"active":%t}`, s.active)
		f.req(t, "coordinator", "POST", "/api/v1/inspectors", body, 201, &in)
		ids[s.badge] = in.ID
	}
	list := func(query string) ([]string, int) {
		var out struct {
			Inspectors []inspectorResponse
			Total      int
		}
		f.req(t, "staff", "GET", "/api/v1/inspectors"+query, "", 200, &out)
		var badges []string
		for _, in := range out.Inspectors {
			badges = append(badges, in.BadgeNo)
		}
		return badges, out.Total
	}
	for _, tc := range []struct {
		query string
		want  []string
		total int
	}{
		{"", []string{"B-100", "B-150", "B-200", "B-300", "X-900"}, 5},
		{"?department_id=dept-2", []string{"B-200", "X-900"}, 2},
		{"?qualification=coal_mine", []string{"B-100", "B-200"}, 2},
		{"?active=false", []string{"B-200"}, 1},
		{"?drawable=true", []string{"B-150", "B-300", "X-900"}, 3},
		{"?drawable=false", []string{"B-100", "B-200"}, 2},
		{"?drawable=true&department_id=dept-1&qualification=general", []string{"B-150", "B-300"}, 2},
		{"?q=b-1", []string{"B-100", "B-150"}, 2},       // badge prefix, normalised
		{"?q=%E5%AD%99", []string{"B-100", "B-300"}, 2}, // 孙: name substring
		{"?q=00", nil, 0}, // not a badge prefix, not in a name
		{"?limit=2", []string{"B-100", "B-150"}, 5},
		{"?limit=2&offset=2", []string{"B-200", "B-300"}, 5},
		{"?limit=2&offset=4", []string{"X-900"}, 5},
	} {
		got, total := list(tc.query)
		if !slices.Equal(got, tc.want) || total != tc.total {
			t.Errorf("GET /api/v1/inspectors%s: %v (total %d), want %v (total %d)", tc.query, got, total, tc.want, tc.total)
		}
	}
	for _, bad := range []string{"?active=yes", "?drawable=1", "?limit=0", "?offset=-1"} {
		f.req(t, "staff", "GET", "/api/v1/inspectors"+bad, "", 400, nil)
	}
	// drawable in each record agrees with the filter.
	var one inspectorResponse
	f.req(t, "coordinator", "GET", "/api/v1/inspectors/"+ids["B-100"], "", 200, &one)
	if one.Drawable || !one.CertificateExpired {
		t.Errorf("expired inspector: drawable %v expired %v", one.Drawable, one.CertificateExpired)
	}
	f.req(t, "coordinator", "GET", "/api/v1/inspectors/"+ids["B-200"], "", 200, &one)
	if one.Drawable || one.CertificateExpired {
		t.Errorf("inactive inspector: drawable %v expired %v", one.Drawable, one.CertificateExpired)
	}
	f.req(t, "coordinator", "GET", "/api/v1/inspectors/"+ids["X-900"], "", 200, &one)
	if !one.Drawable {
		t.Errorf("certificate expiring today should still be drawable today")
	}
	// Reactivating makes the inactive one drawable again.
	f.req(t, "coordinator", "PATCH", "/api/v1/inspectors/"+ids["B-200"], `{"active":true}`, 200, &one)
	if !one.Drawable {
		t.Errorf("reactivated inspector not drawable")
	}
}

func TestInspectorExpiringList(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 5)
	today := chinaToday()
	for i, d := range []int{-40, -1, 0, 30, 31} {
		f.req(t, "coordinator", "POST", "/api/v1/inspectors",
			inspectorJSON(f.users[i].ID, fmt.Sprintf("E%d", i), fmt.Sprintf("E-%03d", i), string(today.AddDays(d)), "dept-1"), 201, nil)
	}
	var out struct {
		Inspectors []expiringInspectorResponse
		Today      string
		Until      string
	}
	f.req(t, "leader", "GET", "/api/v1/inspectors/expiring", "", 200, &out)
	if out.Today != string(today) || out.Until != string(today.AddDays(30)) {
		t.Errorf("today %s until %s", out.Today, out.Until)
	}
	var got []string
	for _, in := range out.Inspectors {
		got = append(got, fmt.Sprintf("%s:%d:%t", in.BadgeNo, in.DaysLeft, in.CertificateExpired))
	}
	want := []string{"E-000:-40:true", "E-001:-1:true", "E-002:0:false", "E-003:30:false"}
	if !slices.Equal(got, want) {
		t.Errorf("expiring within 30 days: %v, want %v", got, want)
	}
	f.req(t, "staff", "GET", "/api/v1/inspectors/expiring?days=0", "", 200, &out)
	if len(out.Inspectors) != 3 {
		t.Errorf("days=0 lists %d, want the 3 expired or expiring today", len(out.Inspectors))
	}
	f.req(t, "staff", "GET", "/api/v1/inspectors/expiring?days=-1", "", 400, nil)
	f.req(t, "inspector", "GET", "/api/v1/inspectors/expiring", "", 403, nil)
}

func TestInspectorObjectLevelRules(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 3)
	exp := string(chinaToday().AddDays(90))
	var other, own, mine inspectorResponse
	f.req(t, "coordinator", "POST", "/api/v1/inspectors", inspectorJSON(f.users[0].ID, "外科", "D2-1", exp, "dept-2"), 201, &other)
	// Staff (dept-1) add to their own department …
	f.req(t, "staff", "POST", "/api/v1/inspectors", inspectorJSON(f.users[1].ID, "本科", "D1-1", exp, "dept-1"), 201, &own)
	// … but not to another: 403, nothing stored.
	body := f.req(t, "staff", "POST", "/api/v1/inspectors", inspectorJSON(f.users[2].ID, "越权", "D2-2", exp, "dept-2"), 403, nil)
	wantFields(t, body, backend.EFORBIDDEN)
	// Staff read any inspector, but change only their own department's:
	// another department's inspector is 403 (not 404: staff may read it).
	f.req(t, "staff", "GET", "/api/v1/inspectors/"+other.ID, "", 200, nil)
	f.req(t, "staff", "PATCH", "/api/v1/inspectors/"+other.ID, `{"name":"改"}`, 403, nil)
	f.req(t, "staff", "PATCH", "/api/v1/inspectors/"+own.ID, `{"name":"本科二"}`, 200, nil)
	f.req(t, "staff", "PATCH", "/api/v1/inspectors/"+own.ID, `{"department_id":"dept-2"}`, 403, nil)
	f.req(t, "coordinator", "PATCH", "/api/v1/inspectors/"+other.ID, `{"department_id":"dept-1"}`, 200, nil)
	f.req(t, "staff", "PATCH", "/api/v1/inspectors/"+other.ID, `{"name":"现在是本科的"}`, 200, nil)
	// Leaders read, never write.
	f.req(t, "leader", "GET", "/api/v1/inspectors", "", 200, nil)
	f.req(t, "leader", "PATCH", "/api/v1/inspectors/"+own.ID, `{"name":"x"}`, 403, nil)

	// The inspector user sees their own record only, and not the roster.
	f.req(t, "coordinator", "POST", "/api/v1/inspectors", inspectorJSON(env.users["inspector"].ID, "我", "ME-1", exp, "dept-1"), 201, &mine)
	f.req(t, "inspector", "GET", "/api/v1/inspectors/"+mine.ID, "", 200, nil)
	f.req(t, "inspector", "GET", "/api/v1/inspectors/"+other.ID, "", 404, nil)
	f.req(t, "inspector", "GET", "/api/v1/inspectors", "", 403, nil)
	f.req(t, "inspector", "PATCH", "/api/v1/inspectors/"+mine.ID, `{"name":"自改"}`, 403, nil)
	f.req(t, "inspector", "GET", "/api/v1/inspectors/"+mine.ID+"/versions", "", 403, nil)
}

func TestQualificationsAreSeededAndExtensible(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 1)
	var out struct{ Qualifications []qualificationResponse }
	f.req(t, "inspector", "GET", "/api/v1/qualifications", "", 200, &out)
	got := map[string]string{}
	for _, q := range out.Qualifications {
		got[q.Code] = q.Name
	}
	for code, name := range map[string]string{"general": "综合", "coal_mine": "煤矿", "non_coal_mine": "非煤矿山", "hazardous_chemicals": "危险化学品", "metallurgy_industry_trade": "冶金工贸"} {
		if got[code] != name {
			t.Errorf("qualification %s = %q, want %q", code, got[code], name)
		}
	}
	if len(got) != 5 {
		t.Errorf("%d qualifications seeded, want 5", len(got))
	}
	// Seeding again (another instance starting) changes nothing.
	if err := env.svc.Roster.Qualifications.EnsureQualifications(context.Background(), backend.DefaultQualifications); err != nil {
		t.Fatal(err)
	}
	f.req(t, "coordinator", "POST", "/api/v1/qualifications", `{"code":"dust_explosion","name":"粉尘涉爆"}`, 201, nil)
	body := f.req(t, "admin", "POST", "/api/v1/qualifications", `{"code":"dust_explosion","name":"again"}`, 409, nil)
	wantFields(t, body, backend.ECONFLICT, "code")
	body = f.req(t, "coordinator", "POST", "/api/v1/qualifications", `{"code":"Bad Code","name":""}`, 400, nil)
	wantFields(t, body, backend.EINVALID, "code", "name")
	f.req(t, "staff", "POST", "/api/v1/qualifications", `{"code":"x_y","name":"x"}`, 403, nil)
	f.req(t, "inspector", "GET", "/api/v1/qualifications", "", 200, &out)
	if len(out.Qualifications) != 6 {
		t.Errorf("%d qualifications after adding one, want 6", len(out.Qualifications))
	}
	// The new one is usable at once.
	f.req(t, "coordinator", "POST", "/api/v1/inspectors",
		inspectorJSON(f.users[0].ID, "粉尘专家", "Q-1", string(chinaToday().AddDays(10)), "dept-1", "dust_explosion"), 201, nil)
}
