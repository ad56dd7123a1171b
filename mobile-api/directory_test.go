package mobileapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"suiji/backend"
	"suiji/backend/directory"
	"suiji/backend/uscc"
)

// dirClock is a clock the test moves by hand.
type dirClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *dirClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *dirClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// dirUSCC returns n distinct valid codes, sorted as the listing orders them
// only by chance; tests sort when they need to.
func dirUSCC(seed uint64, n int) []string {
	rng := rand.New(rand.NewPCG(seed, 99))
	out := make([]string, n)
	for i := range out {
		out[i] = uscc.Generate(rng)
	}
	return out
}

// dirEnterprise decodes an enterprise body.
type dirEnterprise struct {
	ID         string     `json:"id"`
	USCC       string     `json:"uscc"`
	Name       string     `json:"name"`
	Town       string     `json:"town"`
	Categories []string   `json:"categories"`
	Flags      []string   `json:"flags"`
	Status     string     `json:"status"`
	ReviewedAt *time.Time `json:"reviewed_at"`
	Version    int        `json:"version"`
}

// dirPage decodes a listing.
type dirPage struct {
	Enterprises []struct {
		dirEnterprise
		NeverReviewed   bool `json:"never_reviewed"`
		DaysSinceReview *int `json:"days_since_review"`
	} `json:"enterprises"`
	Total int `json:"total"`
}

func (p dirPage) usccs() []string {
	out := make([]string, len(p.Enterprises))
	for i, e := range p.Enterprises {
		out[i] = e.USCC
	}
	return out
}

// dirDo makes one call as role and decodes a 2xx body into out (if not nil).
func dirDo(t *testing.T, env *apiEnv, token, method, path, body string, wantStatus int, out any) []byte {
	t.Helper()
	resp, b := env.call(t, token, method, path, body, nil)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, wantStatus, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return b
}

func dirBody(fields map[string]any) string {
	b, _ := json.Marshal(fields)
	return string(b)
}

func TestEnterpriseLifecycle(t *testing.T) {
	env := newAPIEnv(t, Config{})
	staff := env.login(t, "staff").AccessToken
	inspector := env.login(t, "inspector").AccessToken
	codes := dirUSCC(1, 1)

	var created dirEnterprise
	b := dirDo(t, env, staff, "POST", "/api/v1/enterprises", dirBody(map[string]any{
		"uscc": strings.ToLower(codes[0]), "name": "泽州县示例煤业有限公司", "town": "巴公镇", "industry": "煤炭开采",
		"address": "巴公镇东四义村", "location": map[string]any{"lat": 35.62, "lng": 112.87},
		"categories": []string{"major_hazard_source", "coal_mine", "coal_mine"}, "flags": []string{},
		"legal_representative": "张三", "safety_manager": "李四", "phone": "0356-1234567",
	}), 201, &created)
	if created.USCC != codes[0] || created.Version != 1 || created.Status != "active" || created.ReviewedAt != nil {
		t.Fatalf("created %+v; want the upper-cased USCC, version 1, active, never reviewed", created)
	}
	if strings.Join(created.Categories, ",") != "coal_mine,major_hazard_source" {
		t.Errorf("categories %v, want enumeration order without duplicates", created.Categories)
	}
	if !strings.Contains(string(b), `"location":{"lat":35.62,"lng":112.87}`) {
		t.Errorf("location not echoed: %s", b)
	}
	path := "/api/v1/enterprises/" + created.ID

	for _, sc := range []scenario{
		{name: "inspectors read the facts, not the contacts", as: "inspector", method: "GET", path: path, wantStatus: 200,
			wantContain: []string{`"name":"泽州县示例煤业有限公司"`, `"address":"巴公镇东四义村"`, `"legal_representative":""`, `"phone":""`},
			wantAbsent:  []string{"张三", "李四", "0356-1234567"}},
		{name: "staff read the contacts", as: "staff", method: "GET", path: path, wantStatus: 200,
			wantContain: []string{`"legal_representative":"张三"`, `"phone":"0356-1234567"`}},
		{name: "anonymous", method: "GET", path: path, wantStatus: 401, wantCode: "EUNAUTHORIZED"},
		{name: "anonymous list", method: "GET", path: "/api/v1/enterprises", wantStatus: 401},
		{name: "inspector may not write", as: "inspector", method: "PATCH", path: path, body: `{"name":"x"}`, wantStatus: 403},
		{name: "leader may not create", as: "leader", method: "POST", path: "/api/v1/enterprises", body: `{}`, wantStatus: 403},
		{name: "inspector may not review", token: inspector, method: "POST", path: path + "/review", wantStatus: 403},
		{name: "unknown id", as: "staff", method: "GET", path: "/api/v1/enterprises/nope", wantStatus: 404, wantCode: "ENOTFOUND"},
		{name: "patch unknown id", as: "staff", method: "PATCH", path: "/api/v1/enterprises/nope", body: `{"name":"x"}`, wantStatus: 404},
	} {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, env) })
	}

	var patched dirEnterprise
	dirDo(t, env, staff, "PATCH", path, `{"name":"泽州县示例煤业有限责任公司","flags":["blacklist"],"version":1}`, 200, &patched)
	if patched.Version != 2 || patched.Name != "泽州县示例煤业有限责任公司" || len(patched.Flags) != 1 {
		t.Fatalf("patched %+v", patched)
	}
	// A second writer still holding version 1 is refused, and nothing changes.
	resp, body := env.call(t, staff, "PATCH", path, `{"name":"覆盖","version":1}`, nil)
	if e := decodeError(t, body); resp.StatusCode != 409 || e.Code != "ECONFLICT" || e.Fields["version"] != "stale" {
		t.Fatalf("stale version: %d %s", resp.StatusCode, body)
	}
	// An unchanged patch (with or without the current version) stores nothing.
	var same dirEnterprise
	dirDo(t, env, staff, "PATCH", path, `{"name":" 泽州县示例煤业有限责任公司 ","categories":["coal_mine","major_hazard_source"],"version":2}`, 200, &same)
	if same.Version != 2 {
		t.Errorf("unchanged patch moved the version to %d", same.Version)
	}
	var got dirEnterprise
	dirDo(t, env, inspector, "GET", path, "", 200, &got)
	if got.Name != patched.Name || got.Version != 2 {
		t.Errorf("after the stale and no-op patches: %+v", got)
	}

	var hist struct {
		Versions []struct {
			Number    int       `json:"number"`
			At        time.Time `json:"at"`
			ActorID   string    `json:"actor_id"`
			ActorName string    `json:"actor_name"`
			Action    string    `json:"action"`
			Changes   []struct {
				Field  string `json:"field"`
				Before any    `json:"before"`
				After  any    `json:"after"`
			} `json:"changes"`
		} `json:"versions"`
	}
	dirDo(t, env, inspector, "GET", path+"/versions", "", 200, &hist)
	if len(hist.Versions) != 2 {
		t.Fatalf("%d versions, want 2 (create, update): %+v", len(hist.Versions), hist)
	}
	v1, v2 := hist.Versions[0], hist.Versions[1]
	if v1.Number != 1 || v1.Action != "create" || v1.ActorName != "staff1" || v1.ActorID != env.users["staff"].ID || v1.At.IsZero() {
		t.Errorf("version 1: %+v", v1)
	}
	if v2.Number != 2 || v2.Action != "update" || v2.ActorName != "staff1" || len(v2.Changes) != 2 {
		t.Fatalf("version 2: %+v", v2)
	}
	if c := v2.Changes[1]; c.Field != "name" || c.Before != "泽州县示例煤业有限公司" || c.After != "泽州县示例煤业有限责任公司" {
		t.Errorf("version 2 name change: %+v", c)
	}
	if c := v2.Changes[0]; c.Field != "flags" || fmt.Sprint(c.After) != "[blacklist]" {
		t.Errorf("version 2 flags change: %+v", c)
	}

	// Every write is in the audit trail.
	events, err := env.db.AuditEvents().FindAuditEvents(t.Context(), backend.AuditFilter{ObjectType: "enterprise", ObjectID: created.ID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action+" by "+e.ActorName)
	}
	if strings.Join(actions, "; ") != "enterprise.create by staff1; enterprise.update by staff1" {
		t.Errorf("audit: %q", actions)
	}
}

func TestEnterpriseValidationChangesNothing(t *testing.T) {
	env := newAPIEnv(t, Config{})
	staff := env.login(t, "staff").AccessToken
	codes := dirUSCC(2, 2)
	good := codes[0]
	var first dirEnterprise
	dirDo(t, env, staff, "POST", "/api/v1/enterprises", dirBody(map[string]any{"uscc": good, "name": "晋城某化工有限公司", "town": "高都镇", "categories": []string{"hazardous_chemicals"}}), 201, &first)
	var second dirEnterprise
	dirDo(t, env, staff, "POST", "/api/v1/enterprises", dirBody(map[string]any{"uscc": codes[1], "name": "另一家", "town": "高都镇"}), 201, &second)

	snapshot := func() string {
		b := dirDo(t, env, staff, "GET", "/api/v1/enterprises", "", 200, nil)
		h1 := dirDo(t, env, staff, "GET", "/api/v1/enterprises/"+first.ID+"/versions", "", 200, nil)
		h2 := dirDo(t, env, staff, "GET", "/api/v1/enterprises/"+second.ID+"/versions", "", 200, nil)
		return string(b) + string(h1) + string(h2)
	}
	before := snapshot()

	// Corrupt the good code in each way the validator names.
	wrongCheck := good[:17] + string(uscc.Charset[(strings.IndexByte(uscc.Charset, good[17])+1)%31])
	orgDigit := byte('0')
	if good[16] == '0' {
		orgDigit = '1'
	}
	// Position 17 is checked before 18, so this fails on the organisation code.
	wrongOrg := good[:16] + string(orgDigit) + good[17:]
	withO := good[:4] + "O" + good[5:]

	base := func(over map[string]any) string {
		m := map[string]any{"uscc": dirUSCC(3, 1)[0], "name": "新企业", "town": "巴公镇"}
		for k, v := range over {
			m[k] = v
		}
		return dirBody(m)
	}
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		fields                   map[string]string // field → substring of the reason
	}{
		{"short uscc", "POST", "/api/v1/enterprises", base(map[string]any{"uscc": good[:17]}), 400,
			map[string]string{"uscc": "must be 18 characters, got 17"}},
		{"letter O", "POST", "/api/v1/enterprises", base(map[string]any{"uscc": withO}), 400,
			map[string]string{"uscc": "invalid character 'O' at position 5"}},
		{"check character", "POST", "/api/v1/enterprises", base(map[string]any{"uscc": wrongCheck}), 400,
			map[string]string{"uscc": "check character (position 18) is " + wrongCheck[17:] + ", expected " + good[17:]}},
		{"organisation code", "POST", "/api/v1/enterprises", base(map[string]any{"uscc": wrongOrg}), 400,
			map[string]string{"uscc": "organisation code check digit (position 17) is " + string(orgDigit)}},
		{"missing uscc", "POST", "/api/v1/enterprises", base(map[string]any{"uscc": ""}), 400,
			map[string]string{"uscc": "required"}},
		{"duplicate uscc", "POST", "/api/v1/enterprises", base(map[string]any{"uscc": " " + strings.ToLower(good)}), 409,
			map[string]string{"uscc": "already registered"}},
		{"unknown town", "POST", "/api/v1/enterprises", base(map[string]any{"town": "X"}), 400,
			map[string]string{"town": "unknown town 'X'"}},
		{"bad category", "POST", "/api/v1/enterprises", base(map[string]any{"categories": []string{"coal_mine", "coal"}}), 400,
			map[string]string{"categories": "unknown category 'coal'"}},
		{"everything at once", "POST", "/api/v1/enterprises", dirBody(map[string]any{
			"uscc": "123", "name": " ", "town": "", "flags": []string{"red"}, "status": "open",
			"location": map[string]any{"lat": 95, "lng": 200}, "phone": "call me",
		}), 400, map[string]string{
			"uscc": "must be 18", "name": "required", "town": "required", "flags": "unknown flag 'red'",
			"status": "active or closed", "location.lat": "latitude", "location.lng": "longitude", "phone": "plausible",
		}},
		{"half a location", "POST", "/api/v1/enterprises", base(map[string]any{"location": map[string]any{"lat": 35.5}}), 400,
			map[string]string{"location.lng": "required"}},
		{"wrong JSON type", "POST", "/api/v1/enterprises", `{"uscc":18}`, 400, map[string]string{"uscc": "must be a string"}},
		{"patch to a taken uscc", "PATCH", "/api/v1/enterprises/" + second.ID, dirBody(map[string]any{"uscc": good}), 409,
			map[string]string{"uscc": "already registered"}},
		{"patch to an unknown town", "PATCH", "/api/v1/enterprises/" + second.ID, `{"town":"不存在镇","name":"改名"}`, 400,
			map[string]string{"town": "unknown town '不存在镇'"}},
		{"patch a bad category", "PATCH", "/api/v1/enterprises/" + first.ID, `{"categories":["coal_mine","dust"]}`, 400,
			map[string]string{"categories": "unknown category 'dust'"}},
		{"patch a bad uscc", "PATCH", "/api/v1/enterprises/" + first.ID, dirBody(map[string]any{"uscc": wrongCheck}), 400,
			map[string]string{"uscc": "check character"}},
		{"patch a bad status", "PATCH", "/api/v1/enterprises/" + first.ID, `{"status":"gone"}`, 400,
			map[string]string{"status": "active or closed"}},
		{"bad filter", "GET", "/api/v1/enterprises?category=coal", "", 400, map[string]string{"category": "unknown category"}},
		{"bad limit", "GET", "/api/v1/enterprises?limit=0", "", 400, map[string]string{"limit": "integer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := env.call(t, staff, tc.method, tc.path, tc.body, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			e := decodeError(t, body)
			for field, want := range tc.fields {
				if !strings.Contains(e.Fields[field], want) {
					t.Errorf("fields[%s] = %q, want it to contain %q (all: %v)", field, e.Fields[field], want, e.Fields)
				}
			}
			if len(e.Fields) != len(tc.fields) {
				t.Errorf("fields %v, want exactly %v", e.Fields, tc.fields)
			}
		})
	}
	if after := snapshot(); after != before {
		t.Errorf("rejected requests changed stored records:\nbefore %s\nafter  %s", before, after)
	}
}

func TestEnterpriseListFiltersAndPages(t *testing.T) {
	env := newAPIEnv(t, Config{})
	coord := env.login(t, "coordinator").AccessToken
	codes := dirUSCC(4, 7)
	rows := []map[string]any{
		{"name": "巴公化工", "town": "巴公镇", "industry": "化工", "categories": []string{"hazardous_chemicals", "major_hazard_source"}},
		{"name": "巴公煤矿", "town": "巴公镇", "industry": "煤炭", "categories": []string{"coal_mine"}, "flags": []string{"blacklist"}},
		{"name": "高都铸造", "town": "高都镇", "industry": "冶金", "categories": []string{"metallurgy_industry_trade", "dust_explosion"}},
		{"name": "高都粮库", "town": "高都镇", "industry": "仓储", "flags": []string{"high_credit_risk"}},
		{"name": "大阳冷库 (A.*)", "town": "大阳镇", "industry": "仓储", "categories": []string{"ammonia_refrigeration"}, "status": "closed"},
		{"name": "大阳石料", "town": "大阳镇", "industry": "采石", "categories": []string{"non_coal_mine"}},
		{"name": "南村面粉", "town": "南村镇", "industry": "食品", "categories": []string{"dust_explosion"}},
	}
	byName := map[string]string{}
	for i, r := range rows {
		r["uscc"] = codes[i]
		byName[r["name"].(string)] = codes[i]
		dirDo(t, env, coord, "POST", "/api/v1/enterprises", dirBody(r), 201, nil)
	}
	list := func(query string) dirPage {
		var p dirPage
		dirDo(t, env, coord, "GET", "/api/v1/enterprises?"+query, "", 200, &p)
		return p
	}
	names := func(ns ...string) string {
		var us []string
		for _, n := range ns {
			us = append(us, byName[n])
		}
		slices.Sort(us)
		return strings.Join(us, ",")
	}
	for _, tc := range []struct {
		query string
		want  string
	}{
		{"town=" + url.QueryEscape("巴公镇"), names("巴公化工", "巴公煤矿")},
		{"category=dust_explosion", names("高都铸造", "南村面粉")},
		{"flag=blacklist", names("巴公煤矿")},
		{"industry=" + url.QueryEscape("仓储"), names("高都粮库", "大阳冷库 (A.*)")},
		{"status=closed", names("大阳冷库 (A.*)")},
		{"status=active&industry=" + url.QueryEscape("仓储"), names("高都粮库")},
		{"q=" + url.QueryEscape("煤"), names("巴公煤矿")},
		{"q=" + url.QueryEscape("大阳"), names("大阳冷库 (A.*)", "大阳石料")},
		{"q=" + url.QueryEscape("(a.*)"), names("大阳冷库 (A.*)")}, // regex characters are literal; case-insensitive
		{"q=" + url.QueryEscape(".*"), names("大阳冷库 (A.*)")},
		{"q=" + strings.ToLower(codes[3][:12]), names("高都粮库")}, // USCC prefix, any case
		{"q=" + codes[3][4:12], ""},                            // not a prefix
		{"town=" + url.QueryEscape("高都镇") + "&category=dust_explosion", names("高都铸造")},
	} {
		if got := strings.Join(list(tc.query).usccs(), ","); got != tc.want {
			t.Errorf("?%s: got %s, want %s", tc.query, got, tc.want)
		}
	}

	// Pages: stable order by USCC, total before paging.
	all := append([]string(nil), codes...)
	slices.Sort(all)
	var paged []string
	for offset := 0; offset < 8; offset += 3 {
		p := list(fmt.Sprintf("offset=%d&limit=3", offset))
		if p.Total != 7 {
			t.Errorf("total %d, want 7", p.Total)
		}
		paged = append(paged, p.usccs()...)
	}
	if strings.Join(paged, ",") != strings.Join(all, ",") {
		t.Errorf("pages %v, want %v", paged, all)
	}
}

func TestEnterpriseStalenessAndReview(t *testing.T) {
	env := newAPIEnv(t, Config{})
	clock := &dirClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	env.svc.Directory.Now = clock.now
	staff := env.login(t, "staff").AccessToken
	codes := dirUSCC(5, 4)
	ids := make([]string, 4)
	for i, status := range []string{"active", "active", "closed", "active"} {
		var e dirEnterprise
		dirDo(t, env, staff, "POST", "/api/v1/enterprises", dirBody(map[string]any{
			"uscc": codes[i], "name": fmt.Sprintf("企业%d", i), "town": "周村镇", "status": status}), 201, &e)
		ids[i] = e.ID
	}
	// A is reviewed now; thirteen months later B is reviewed; C is closed;
	// D was never reviewed.
	var reviewed dirEnterprise
	dirDo(t, env, staff, "POST", "/api/v1/enterprises/"+ids[0]+"/review", "", 200, &reviewed)
	if reviewed.ReviewedAt == nil || !reviewed.ReviewedAt.Equal(clock.now()) || reviewed.Version != 2 {
		t.Fatalf("review: %+v", reviewed)
	}
	clock.add(395 * 24 * time.Hour)
	dirDo(t, env, staff, "POST", "/api/v1/enterprises/"+ids[1]+"/review", `{"version":1}`, 200, nil)
	resp, body := env.call(t, staff, "POST", "/api/v1/enterprises/"+ids[1]+"/review", `{"version":1}`, nil)
	if resp.StatusCode != 409 {
		t.Errorf("review with a stale version: %d %s", resp.StatusCode, body)
	}

	var stale dirPage
	dirDo(t, env, env.login(t, "inspector").AccessToken, "GET", "/api/v1/enterprises/stale", "", 200, &stale)
	got := map[string]string{}
	for _, e := range stale.Enterprises {
		switch {
		case e.NeverReviewed && e.DaysSinceReview == nil:
			got[e.ID] = "never"
		case e.DaysSinceReview != nil:
			got[e.ID] = fmt.Sprint(*e.DaysSinceReview)
		}
	}
	if stale.Total != 2 || got[ids[0]] != "395" || got[ids[3]] != "never" || len(got) != 2 {
		t.Fatalf("stale report: total %d, %v; want A (395 days) and D (never)", stale.Total, got)
	}
	var alt dirPage
	dirDo(t, env, staff, "GET", "/api/v1/enterprises?stale=true", "", 200, &alt)
	if alt.Total != 2 {
		t.Errorf("?stale=true total %d, want 2", alt.Total)
	}

	// Reviewing clears staleness, and the review is a version.
	dirDo(t, env, staff, "POST", "/api/v1/enterprises/"+ids[0]+"/review", "", 200, nil)
	dirDo(t, env, staff, "POST", "/api/v1/enterprises/"+ids[3]+"/review", "", 200, nil)
	dirDo(t, env, staff, "GET", "/api/v1/enterprises/stale", "", 200, &stale)
	if stale.Total != 0 || len(stale.Enterprises) != 0 {
		t.Errorf("after the reviews still stale: %+v", stale)
	}
	b := dirDo(t, env, staff, "GET", "/api/v1/enterprises/"+ids[0]+"/versions", "", 200, nil)
	if strings.Count(string(b), `"action":"review"`) != 2 || !strings.Contains(string(b), `"field":"reviewed_at"`) {
		t.Errorf("versions after two reviews: %s", b)
	}
}

func TestDepartmentFlows(t *testing.T) {
	env := newAPIEnv(t, Config{})
	var dept struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
	}
	coord := env.login(t, "coordinator").AccessToken
	dirDo(t, env, coord, "POST", "/api/v1/departments", `{"name":"综合执法大队","kind":"brigade"}`, 201, &dept)
	path := "/api/v1/departments/" + dept.ID
	for _, sc := range []scenario{
		{name: "duplicate name", as: "admin", method: "POST", path: "/api/v1/departments", body: `{"name":" 综合执法大队 ","kind":"internal"}`,
			wantStatus: 409, wantCode: "ECONFLICT", wantContain: []string{`"name":"taken"`}},
		{name: "bad kind", as: "admin", method: "POST", path: "/api/v1/departments", body: `{"name":"政策法规股","kind":"office"}`,
			wantStatus: 400, wantContain: []string{`"kind":"one of internal, brigade, external"`}},
		{name: "staff may not create", as: "staff", method: "POST", path: "/api/v1/departments", body: `{"name":"x","kind":"internal"}`, wantStatus: 403},
		{name: "inspector reads", as: "inspector", method: "GET", path: "/api/v1/departments", wantStatus: 200, wantContain: []string{"综合执法大队"}},
		{name: "anonymous", method: "GET", path: "/api/v1/departments", wantStatus: 401},
		{name: "leader reads one", as: "leader", method: "GET", path: path, wantStatus: 200, wantContain: []string{`"kind":"brigade"`}},
		{name: "unknown", as: "leader", method: "GET", path: "/api/v1/departments/nope", wantStatus: 404},
		{name: "staff may not patch", as: "staff", method: "PATCH", path: path, body: `{"kind":"internal"}`, wantStatus: 403},
		{name: "patch", as: "coordinator", method: "PATCH", path: path, body: `{"name":"泽州县应急管理综合行政执法队"}`, wantStatus: 200,
			wantContain: []string{`"name":"泽州县应急管理综合行政执法队"`, `"kind":"brigade"`}},
		{name: "unchanged patch", as: "coordinator", method: "PATCH", path: path, body: `{"kind":"brigade"}`, wantStatus: 200},
		{name: "patch made on an old version", as: "coordinator", method: "PATCH", path: path, body: `{"name":"旧名","version":1}`,
			wantStatus: 409, wantCode: "ECONFLICT", wantContain: []string{`"version":"stale"`}},
		{name: "version in a response", as: "leader", method: "GET", path: path, wantStatus: 200, wantContain: []string{`"version":2`}},
		{name: "bad patch", as: "coordinator", method: "PATCH", path: path, body: `{"kind":""}`, wantStatus: 400},
		{name: "versions", as: "inspector", method: "GET", path: path + "/versions", wantStatus: 200,
			wantContain: []string{`"action":"create"`, `"action":"update"`, `"before":"综合执法大队"`, `"actor_name":"coordinator1"`},
			after: func(t *testing.T, env *apiEnv, resp *http.Response, body []byte) {
				if n := strings.Count(string(body), `"number"`); n != 2 {
					t.Errorf("%d versions, want 2 (the unchanged patch stores none): %s", n, body)
				}
			}},
	} {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, env) })
	}
}

func TestTownFlows(t *testing.T) {
	env := newAPIEnv(t, Config{})
	var towns struct {
		Towns []struct {
			Name string `json:"name"`
			Code string `json:"code"`
		} `json:"towns"`
	}
	dirDo(t, env, env.login(t, "inspector").AccessToken, "GET", "/api/v1/towns", "", 200, &towns)
	if len(towns.Towns) != len(directory.ZezhouTowns) || len(towns.Towns) != 17 {
		t.Fatalf("%d towns seeded, want 17: %+v", len(towns.Towns), towns)
	}
	// Seeding again (another instance starting) adds nothing.
	if n, err := env.svc.Directory.EnsureTowns(t.Context()); err != nil || n != 0 {
		t.Errorf("EnsureTowns again: %d created, %v", n, err)
	}
	for _, sc := range []scenario{
		{name: "anonymous", method: "GET", path: "/api/v1/towns", wantStatus: 401},
		{name: "coordinator may not add", as: "coordinator", method: "POST", path: "/api/v1/towns", body: `{"name":"新镇"}`, wantStatus: 403},
		{name: "admin adds", as: "admin", method: "POST", path: "/api/v1/towns", body: `{"name":"金村镇北区","code":"140525199"}`, wantStatus: 201,
			wantContain: []string{`"code":"140525199"`}},
		{name: "duplicate", as: "admin", method: "POST", path: "/api/v1/towns", body: `{"name":"巴公镇"}`, wantStatus: 409, wantContain: []string{`"name":"taken"`}},
		{name: "bad code", as: "admin", method: "POST", path: "/api/v1/towns", body: `{"name":"某镇","code":"12ab"}`, wantStatus: 400, wantContain: []string{`"code"`}},
		{name: "no name", as: "admin", method: "POST", path: "/api/v1/towns", body: `{"name":"  "}`, wantStatus: 400, wantContain: []string{`"name"`}},
		{name: "enterprise in the new town", as: "staff", method: "POST", path: "/api/v1/enterprises",
			body: dirBody(map[string]any{"uscc": dirUSCC(6, 1)[0], "name": "新区企业", "town": "金村镇北区"}), wantStatus: 201},
		{name: "a township's old name finds the town", as: "staff", method: "POST", path: "/api/v1/enterprises",
			body: dirBody(map[string]any{"uscc": dirUSCC(6, 2)[1], "name": "川底企业", "town": "川底乡"}), wantStatus: 201,
			wantContain: []string{`"town":"川底镇"`}},
		{name: "listed", as: "leader", method: "GET", path: "/api/v1/towns", wantStatus: 200,
			after: func(t *testing.T, env *apiEnv, resp *http.Response, body []byte) {
				if n := strings.Count(string(body), `"id"`); n != 18 {
					t.Errorf("%d towns, want 18", n)
				}
			}},
	} {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, env) })
	}
}

// dirUpload sends file as the multipart field "file".
func dirUpload(t *testing.T, env *apiEnv, token, path, filename string, file []byte) (*http.Response, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(file); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return env.call(t, token, "POST", path, buf.String(), map[string]string{"Content-Type": mw.FormDataContentType()})
}

func dirXLSX(t *testing.T, rows [][]any) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestEnterpriseImportExport(t *testing.T) {
	env := newAPIEnv(t, Config{})
	staff := env.login(t, "staff").AccessToken
	codes := dirUSCC(8, 6)
	var ids []string
	for i, body := range []map[string]any{
		{"name": "巴公化工有限公司", "town": "巴公镇", "industry": "化工", "address": "巴公镇 工业园区 1 号",
			"location": map[string]any{"lat": 35.6123456, "lng": 112.8765432}, "categories": []string{"hazardous_chemicals", "major_hazard_source"},
			"flags": []string{"high_credit_risk"}, "legal_representative": "王五", "safety_manager": "赵六", "phone": "+86 356 1234567"},
		{"name": "大阳冷库", "town": "大阳镇", "categories": []string{"ammonia_refrigeration"}, "status": "closed", "phone": "13912345678"},
		{"name": "南村面粉厂", "town": "南村镇", "categories": []string{"dust_explosion", "confined_space"}, "flags": []string{"blacklist", "serious_violation"}},
	} {
		body["uscc"] = codes[i]
		var e dirEnterprise
		dirDo(t, env, staff, "POST", "/api/v1/enterprises", dirBody(body), 201, &e)
		ids = append(ids, e.ID)
	}
	dirDo(t, env, staff, "POST", "/api/v1/enterprises/"+ids[0]+"/review", "", 200, nil)
	snapshot := func() string {
		s := string(dirDo(t, env, staff, "GET", "/api/v1/enterprises", "", 200, nil))
		for _, id := range ids {
			s += string(dirDo(t, env, staff, "GET", "/api/v1/enterprises/"+id+"/versions", "", 200, nil))
		}
		return s
	}
	before := snapshot()

	// Export, then import the export: nothing changes, in both formats and
	// both header languages.
	for _, q := range []string{"format=xlsx", "format=csv", "format=xlsx&lang=en", "format=csv&lang=en"} {
		resp, file := env.call(t, staff, "GET", "/api/v1/enterprises/export?"+q, "", nil)
		if resp.StatusCode != 200 || len(file) == 0 {
			t.Fatalf("export %s: %d %s", q, resp.StatusCode, file)
		}
		if strings.Contains(q, "csv") && !strings.Contains(string(file), codes[0]) {
			t.Errorf("CSV export lacks %s: %s", codes[0], file)
		}
		if strings.Contains(q, "csv") && !strings.Contains(q, "en") && !strings.Contains(string(file), "统一社会信用代码") {
			t.Errorf("Chinese CSV export lacks the Chinese header: %s", file)
		}
		resp, body := dirUpload(t, env, staff, "/api/v1/enterprises/import", "export."+strings.TrimPrefix(strings.Split(q, "&")[0], "format="), file)
		var rep importOutcome
		_ = json.Unmarshal(body, &rep)
		if resp.StatusCode != 200 || rep.Report.Total != 3 || rep.Report.Unchanged != 3 || rep.Report.Rejected != 0 {
			t.Fatalf("re-import of the %s export: %d %s", q, resp.StatusCode, body)
		}
	}
	if after := snapshot(); after != before {
		t.Fatalf("re-importing the export changed records:\nbefore %s\nafter  %s", before, after)
	}

	// A workbook with bad rows: by default nothing is stored and every bad
	// row is reported.
	bad := codes[5][:17] + string(uscc.Charset[(strings.IndexByte(uscc.Charset, codes[5][17])+1)%31])
	file := dirXLSX(t, [][]any{
		{"统一社会信用代码", "企业名称", "所属乡镇", "重点监管类别", "经营状态"},
		{codes[3], "新建企业", "高都镇", "煤矿；重大危险源", "存续"},            // line 2: good, new
		{bad, "坏代码企业", "高都镇", "", ""},                          // line 3: bad check character
		{codes[4], "无名镇企业", "无名镇", "", ""},                     // line 4: unknown town
		{codes[5], "重复甲", "周村镇", "", ""},                       // line 5: duplicate …
		{strings.ToLower(codes[5]), "重复乙", "周村镇", "", ""},      // line 6: … of line 5
		{dirUSCC(9, 1)[0], "坏类别", "周村镇", "coal_mine,煤炭", "存续"}, // line 7: unknown category
		{codes[1], "大阳冷库（更名）", "大阳镇", "涉氨制冷", "注销"},            // line 8: good, updates
	})
	resp, body := dirUpload(t, env, staff, "/api/v1/enterprises/import", "名录.xlsx", file)
	var rep importOutcome
	if err := json.Unmarshal(body, &rep); err != nil || resp.StatusCode != 400 || rep.Error.Code != "EINVALID" {
		t.Fatalf("import with bad rows: %d %s", resp.StatusCode, body)
	}
	got := map[string]bool{}
	for _, e := range rep.Report.Errors {
		got[fmt.Sprintf("%d:%s", e.Line, e.Field)] = true
		if e.Header == "" || e.Message == "" {
			t.Errorf("error without header or message: %+v", e)
		}
	}
	for _, want := range []string{"3:uscc", "4:town", "5:uscc", "6:uscc", "7:categories"} {
		if !got[want] {
			t.Errorf("report lacks %s: %s", want, body)
		}
	}
	if rep.Report.Rejected != 5 || rep.Report.Total != 7 || len(got) != 5 {
		t.Errorf("report: %s", body)
	}
	if !strings.Contains(string(body), "unknown town '无名镇'") || !strings.Contains(string(body), "所属乡镇") {
		t.Errorf("report does not name the town and its header: %s", body)
	}
	if after := snapshot(); after != before {
		t.Fatalf("an all-or-nothing import with bad rows changed records")
	}

	// partial=true stores the good rows and still reports the bad ones.
	resp, body = dirUpload(t, env, staff, "/api/v1/enterprises/import?partial=true", "名录.xlsx", file)
	rep = importOutcome{}
	_ = json.Unmarshal(body, &rep)
	if resp.StatusCode != 200 || rep.Report.Created != 1 || rep.Report.Updated != 1 || rep.Report.Rejected != 5 {
		t.Fatalf("partial import: %d %s", resp.StatusCode, body)
	}
	var page dirPage
	dirDo(t, env, staff, "GET", "/api/v1/enterprises?limit=500", "", 200, &page)
	names := map[string]string{}
	for _, e := range page.Enterprises {
		names[e.USCC] = e.Name + "/" + e.Status + "/" + strings.Join(e.Categories, ",")
	}
	if len(names) != 4 || names[codes[3]] != "新建企业/active/coal_mine,major_hazard_source" || names[codes[1]] != "大阳冷库（更名）/closed/ammonia_refrigeration" {
		t.Errorf("after the partial import: %v", names)
	}
	events, err := env.db.AuditEvents().FindAuditEvents(t.Context(), backend.AuditFilter{Action: "enterprise.import"})
	if err != nil || len(events) != 1 || events[0].ActorName != "staff1" || events[0].ObjectType != "enterprise_import" {
		t.Errorf("audit of the partial import (one event for the file): %v %+v", err, events)
	}
	h := string(dirDo(t, env, staff, "GET", "/api/v1/enterprises/"+ids[1]+"/versions", "", 200, nil))
	if !strings.Contains(h, `"action":"import"`) || !strings.Contains(h, `"after":"大阳冷库（更名）"`) {
		t.Errorf("the import's change is not a version: %s", h)
	}

	for _, sc := range []struct {
		name, filename string
		file           []byte
		want           int
	}{
		{"png renamed", "photo.xlsx", append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{0, 1, 2, 255}, 64)...), 400},
		{"no uscc column", "x.csv", []byte("企业名称,所属乡镇\n某企业,巴公镇\n"), 400},
	} {
		t.Run(sc.name, func(t *testing.T) {
			resp, body := dirUpload(t, env, staff, "/api/v1/enterprises/import", sc.filename, sc.file)
			if resp.StatusCode != sc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, sc.want, body)
			}
			decodeError(t, body)
		})
	}
	resp, body = env.call(t, staff, "POST", "/api/v1/enterprises/import", `{"file":"x"}`, nil)
	if e := decodeError(t, body); resp.StatusCode != 400 || e.Fields["file"] == "" {
		t.Errorf("import without a file: %d %s", resp.StatusCode, body)
	}
	resp, _ = env.call(t, staff, "GET", "/api/v1/enterprises/export?format=pdf", "", nil)
	if resp.StatusCode != 400 {
		t.Errorf("export as pdf: %d", resp.StatusCode)
	}
	resp, _ = env.call(t, env.login(t, "inspector").AccessToken, "GET", "/api/v1/enterprises/export", "", nil)
	if resp.StatusCode != 403 {
		t.Errorf("inspector export: %d, want 403", resp.StatusCode)
	}
}

// TestEnterpriseImportOverBodyLimit sends a file over the body limit to a
// real listener (app.Test refuses such a body itself, before the server
// can answer): 413 with the error body, nothing stored.
func TestEnterpriseImportOverBodyLimit(t *testing.T) {
	env := newAPIEnv(t, Config{BodyLimit: 16 << 10, UploadLimit: 64 << 10})
	staff := env.login(t, "staff").AccessToken
	base := serveOnLoopback(t, env.srv)
	big := []byte("统一社会信用代码,企业名称,所属乡镇\n" + strings.Repeat(dirUSCC(10, 1)[0]+",某企业,巴公镇\n", 4000))
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "big.csv")
	_, _ = fw.Write(big)
	_ = mw.Close()
	// A raw connection: the server answers as soon as it sees the length
	// and closes, so a client still writing the body (net/http) would only
	// see a broken pipe, not the answer.
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "POST /api/v1/enterprises/import HTTP/1.1\r\nHost: suiji\r\nAuthorization: Bearer " + staff +
		"\r\nContent-Type: " + mw.FormDataContentType() + "\r\nContent-Length: " + strconv.Itoa(buf.Len()) + "\r\n\r\n"
	go func() { _, _ = conn.Write(append([]byte(head), buf.Bytes()...)) }() // may fail once the server closes
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 {
		t.Fatalf("status %d, want 413: %.200s", resp.StatusCode, body)
	}
	if e := decodeError(t, body); e.Code != "ETOOLARGE" {
		t.Errorf("code %s", e.Code)
	}
	var page dirPage
	dirDo(t, env, staff, "GET", "/api/v1/enterprises", "", 200, &page)
	if page.Total != 0 {
		t.Errorf("%d enterprises stored from a refused file", page.Total)
	}
}

// TestInspectorsSeeNoContactsBeyondTheirTasks: an inspector paging through
// the directory, its staleness report or an enterprise's history sees no
// legal representative, safety manager or phone; the office does. Through
// the hook that tasks wire, an inspector whose group inspects an
// enterprise reads that one's contacts, and no other's.
func TestInspectorsSeeNoContactsBeyondTheirTasks(t *testing.T) {
	env := newAPIEnv(t, Config{})
	staff := env.login(t, "staff").AccessToken
	inspector := env.login(t, "inspector").AccessToken
	codes := dirUSCC(7, 2)
	var ids []string
	for i, code := range codes {
		var e dirEnterprise
		dirDo(t, env, staff, "POST", "/api/v1/enterprises", dirBody(map[string]any{
			"uscc": code, "name": fmt.Sprintf("泽州县某企业%d", i), "town": "高都镇",
			"legal_representative": "王法人", "safety_manager": "赵安全", "phone": "13800138000",
		}), 201, &e)
		ids = append(ids, e.ID)
		// A change of contact, so the history holds one.
		dirDo(t, env, staff, "PATCH", "/api/v1/enterprises/"+e.ID, `{"phone":"13900139000"}`, 200, nil)
	}
	secret := []string{"王法人", "赵安全", "13800138000", "13900139000"}
	for _, path := range []string{"/api/v1/enterprises", "/api/v1/enterprises/stale", "/api/v1/enterprises/" + ids[0], "/api/v1/enterprises/" + ids[0] + "/versions"} {
		scenario{token: inspector, method: "GET", path: path, wantStatus: 200, wantAbsent: secret}.run(t, env)
		scenario{token: staff, method: "GET", path: path, wantStatus: 200, wantContain: []string{"王法人"}}.run(t, env)
	}
	inspectorID := env.users["inspector"].ID
	env.svc.Directory.ContactsForTask = func(_ context.Context, userID, enterpriseID string) (bool, error) {
		return userID == inspectorID && enterpriseID == ids[0], nil
	}
	t.Cleanup(func() { env.svc.Directory.ContactsForTask = nil })
	scenario{token: inspector, method: "GET", path: "/api/v1/enterprises/" + ids[0], wantStatus: 200,
		wantContain: []string{`"legal_representative":"王法人"`, `"phone":"13900139000"`}}.run(t, env)
	scenario{token: inspector, method: "GET", path: "/api/v1/enterprises/" + ids[1], wantStatus: 200, wantAbsent: secret}.run(t, env)
	scenario{token: inspector, method: "GET", path: "/api/v1/enterprises", wantStatus: 200, wantAbsent: secret}.run(t, env)
}
