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
)

// itemJSON is a create body for an item of year, subject department dept.
func itemJSON(year int, code, name, dept string) string {
	return fmt.Sprintf(`{"year":%d,"code":%q,"name":%q,"legal_basis":{"law":"《中华人民共和国安全生产法》","article":"第二十一条"},`+
		`"department_id":%q,"content":"检查安全生产责任制建立和落实情况","method":"on_site","qualification":"general","categories":["coal_mine"]}`,
		year, code, name, dept)
}

func TestItemDraftPublishAndAmend(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 0)
	var a, b itemResponse
	f.req(t, "coordinator", "POST", "/api/v1/items", itemJSON(2026, "zz-aq-001", "安全生产责任制落实情况", "dept-1"), 201, &a)
	f.req(t, "staff", "POST", "/api/v1/items", itemJSON(2026, "ZZ-AQ-002", "安全培训教育情况", "dept-1"), 201, &b)
	if a.Code != "ZZ-AQ-001" || a.Published || a.Version != 1 {
		t.Fatalf("created: %+v", a)
	}
	// Drafts change freely, without a reason.
	f.req(t, "coordinator", "PATCH", "/api/v1/items/"+a.ID, `{"content":"检查主要负责人职责履行情况","method":"document_review"}`, 200, &a)
	if a.Version != 2 || a.Method != "document_review" {
		t.Fatalf("draft PATCH: %+v", a)
	}
	// Not public before publication, and 404 as if it did not exist.
	resp, body := env.call(t, "", "GET", "/public/v1/items?year=2026", "", nil)
	if resp.StatusCode != 404 {
		t.Fatalf("public list of an unpublished year: %d %s", resp.StatusCode, body)
	}
	if ok, err := env.svc.Items.IsPublished(context.Background(), 2026, a.ID); err != nil || ok {
		t.Errorf("IsPublished before publication: %v %v", ok, err)
	}

	// Only coordinators publish; an empty year cannot be published.
	f.req(t, "staff", "POST", "/api/v1/items/publish", `{"year":2026}`, 403, nil)
	wantFields(t, f.req(t, "coordinator", "POST", "/api/v1/items/publish", `{"year":2031}`, 400, nil), backend.EINVALID, "year")
	var pub struct {
		Year      int    `json:"year"`
		ItemCount int    `json:"item_count"`
		By        string `json:"published_by"`
	}
	f.req(t, "coordinator", "POST", "/api/v1/items/publish", `{"year":2026}`, 200, &pub)
	if pub.Year != 2026 || pub.ItemCount != 2 || pub.By != env.users["coordinator"].ID {
		t.Errorf("publish: %+v", pub)
	}
	f.req(t, "admin", "POST", "/api/v1/items/publish", `{"year":2026}`, 409, nil)

	// The public list, without login.
	resp, body = env.call(t, "", "GET", "/public/v1/items?year=2026", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("public list: %d %s", resp.StatusCode, body)
	}
	var public struct {
		Year  int
		Items []publicItemResponse
		Total int
	}
	if err := json.Unmarshal(body, &public); err != nil {
		t.Fatal(err)
	}
	if public.Total != 2 || public.Items[0].Code != "ZZ-AQ-001" || public.Items[1].Code != "ZZ-AQ-002" || public.Items[0].LegalBasis.Article != "第二十一条" {
		t.Errorf("public list: %s", body)
	}
	for _, q := range []string{"?year=abc", "?year=1999"} {
		if resp, body := env.call(t, "", "GET", "/public/v1/items"+q, "", nil); resp.StatusCode != 400 {
			t.Errorf("public list%s: %d %s", q, resp.StatusCode, body)
		}
	}
	// Without a year, the current one as Beijing counts it: on 31 December
	// 2026 at 17:00 UTC it is already 2027 there, whose list is unpublished.
	now := env.svc.Items.Now
	t.Cleanup(func() { env.svc.Items.Now = now })
	env.svc.Items.Now = func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }
	if resp, thisYear := env.call(t, "", "GET", "/public/v1/items", "", nil); resp.StatusCode != 200 || string(thisYear) != string(body) {
		t.Errorf("public list without a year in 2026: %d %s, want the 2026 list", resp.StatusCode, thisYear)
	}
	env.svc.Items.Now = func() time.Time { return time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC) }
	if resp, next := env.call(t, "", "GET", "/public/v1/items", "", nil); resp.StatusCode != 404 {
		t.Errorf("public list without a year on 1 January 2027 in Beijing: %d %s, want 2027's (unpublished: 404)", resp.StatusCode, next)
	}
	env.svc.Items.Now = now

	// After publication: a change needs a reason …
	wantFields(t, f.req(t, "coordinator", "PATCH", "/api/v1/items/"+a.ID, `{"content":"新内容"}`, 400, nil), backend.EINVALID, "reason")
	wantFields(t, f.req(t, "coordinator", "PATCH", "/api/v1/items/"+a.ID, `{"content":"新内容","reason":"  "}`, 400, nil), backend.EINVALID, "reason")
	wantFields(t, f.req(t, "coordinator", "PATCH", "/api/v1/items/"+a.ID, `{"code":"ZZ-NEW","reason":"renumber"}`, 400, nil), backend.EINVALID, "code")
	// … and with one makes a new version.
	var got itemResponse
	f.req(t, "coordinator", "GET", "/api/v1/items/"+a.ID, "", 200, &got)
	if !got.Published || got.PublishedAt == nil || got.Version != 3 {
		t.Fatalf("after publication: %+v", got)
	}
	f.req(t, "coordinator", "PATCH", "/api/v1/items/"+a.ID, `{"legal_basis":{"law":"《中华人民共和国安全生产法》（2021修正）","article":"第二十一条"},"reason":"安全生产法修正"}`, 200, &got)
	if got.Version != 4 || got.AmendmentReason != "安全生产法修正" || !got.Published {
		t.Errorf("amended: %+v", got)
	}
	// An amendment with the same values stores nothing.
	f.req(t, "coordinator", "PATCH", "/api/v1/items/"+a.ID, `{"legal_basis":{"law":"《中华人民共和国安全生产法》（2021修正）","article":"第二十一条"},"reason":"again"}`, 200, &got)
	if got.Version != 4 {
		t.Errorf("unchanged amendment moved the version to %d", got.Version)
	}
	var vs struct{ Versions []versionResponse }
	f.req(t, "inspector", "GET", "/api/v1/items/"+a.ID+"/versions", "", 200, &vs)
	var actions []string
	for _, v := range vs.Versions {
		actions = append(actions, v.Action)
	}
	if !slices.Equal(actions, []string{"create", "update", "publish", "amend"}) {
		t.Fatalf("version actions %v", actions)
	}
	amend := vs.Versions[3]
	fields := map[string]any{}
	for _, c := range amend.Changes {
		fields[c.Field] = c.After
	}
	if fields["amendment_reason"] != "安全生产法修正" || fields["legal_basis"] == nil {
		t.Errorf("amend version changes: %+v", amend.Changes)
	}

	// The public list shows the amended item; plans may use the year's items.
	_, body = env.call(t, "", "GET", "/public/v1/items?year=2026", "", nil)
	if err := json.Unmarshal(body, &public); err != nil || public.Items[0].LegalBasis.Law != "《中华人民共和国安全生产法》（2021修正）" {
		t.Errorf("public list after amendment: %s", body)
	}
	items, err := env.svc.Items.PublishedItems(context.Background(), 2026)
	if err != nil || len(items) != 2 {
		t.Errorf("PublishedItems: %d, %v", len(items), err)
	}
	if ok, err := env.svc.Items.IsPublished(context.Background(), 2026, a.ID); err != nil || !ok {
		t.Errorf("IsPublished: %v %v", ok, err)
	}
	if ok, _ := env.svc.Items.IsPublished(context.Background(), 2027, a.ID); ok {
		t.Errorf("IsPublished for another year")
	}
	if _, err := env.svc.Items.PublishedItems(context.Background(), 2027); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Errorf("PublishedItems of an unpublished year: %v", err)
	}

	// Adding to a published year is an amendment too: it needs a reason and
	// is published at once.
	wantFields(t, f.req(t, "coordinator", "POST", "/api/v1/items", itemJSON(2026, "ZZ-AQ-003", "新增事项", "dept-1"), 400, nil), backend.EINVALID, "reason")
	var c itemResponse
	body2 := itemJSON(2026, "ZZ-AQ-003", "新增事项", "dept-1")
	f.req(t, "coordinator", "POST", "/api/v1/items", body2[:len(body2)-1]+`,"reason":"新法规施行"}`, 201, &c)
	if !c.Published || c.AmendmentReason != "新法规施行" {
		t.Errorf("item added after publication: %+v", c)
	}
	f.req(t, "inspector", "GET", "/api/v1/items?year=2026", "", 200, nil)
}

func TestItemCodeIsUniquePerYear(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 0)
	var first, other itemResponse
	f.req(t, "coordinator", "POST", "/api/v1/items", itemJSON(2026, "ZZ-1", "事项一", "dept-1"), 201, &first)
	body := f.req(t, "coordinator", "POST", "/api/v1/items", itemJSON(2026, " zz-1 ", "事项一again", "dept-2"), 409, nil)
	wantFields(t, body, backend.ECONFLICT, "code")
	f.req(t, "coordinator", "POST", "/api/v1/items", itemJSON(2027, "ZZ-1", "事项一", "dept-1"), 201, &other)
	if other.Year != 2027 || other.Code != "ZZ-1" {
		t.Errorf("same code another year: %+v", other)
	}
	// Renaming a draft onto a taken code is refused too.
	var second itemResponse
	f.req(t, "coordinator", "POST", "/api/v1/items", itemJSON(2026, "ZZ-2", "事项二", "dept-1"), 201, &second)
	wantFields(t, f.req(t, "coordinator", "PATCH", "/api/v1/items/"+second.ID, `{"code":"zz-1"}`, 409, nil), backend.ECONFLICT, "code")
	wantFields(t, f.req(t, "coordinator", "PATCH", "/api/v1/items/"+second.ID, `{"year":2027}`, 400, nil), backend.EINVALID, "year")
	wantFields(t, f.req(t, "coordinator", "PATCH", "/api/v1/items/"+second.ID, `{"name":"x","version":7}`, 409, nil), backend.ECONFLICT, "version")

	var list struct {
		Items []itemResponse
		Total int
	}
	f.req(t, "leader", "GET", "/api/v1/items", "", 200, &list)
	if list.Total != 3 || list.Items[0].Code != "ZZ-1" || list.Items[0].Year != 2026 || list.Items[2].Year != 2027 {
		t.Errorf("items by year then code: %+v", list)
	}
	f.req(t, "leader", "GET", "/api/v1/items?year=2026&q=zz-2", "", 200, &list)
	if list.Total != 1 || list.Items[0].ID != second.ID {
		t.Errorf("filtered: %+v", list)
	}
	f.req(t, "leader", "GET", "/api/v1/items?department_id=dept-1&method=on_site&category=coal_mine&qualification=general", "", 200, &list)
	if list.Total != 3 {
		t.Errorf("all three match department, method, category and qualification: %d", list.Total)
	}
	f.req(t, "leader", "GET", "/api/v1/items?category=confined_space", "", 200, &list)
	if list.Total != 0 {
		t.Errorf("category filter: %d", list.Total)
	}
}

func TestItemBadInputNamesEveryFieldAndStoresNothing(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 0)
	body := f.req(t, "coordinator", "POST", "/api/v1/items",
		`{"year":1999,"code":"has space","name":"","legal_basis":{"law":"","article":""},"department_id":"nowhere",`+
			`"content":"","method":"by_phone","qualification":"astrology","categories":["coal_mine","casinos"]}`, 400, nil)
	wantFields(t, body, backend.EINVALID, "year", "code", "name", "legal_basis.law", "legal_basis.article",
		"department_id", "content", "method", "qualification", "categories")
	wantFields(t, f.req(t, "coordinator", "POST", "/api/v1/items", `{"year":"2026"}`, 400, nil), backend.EINVALID, "year")
	// A field of the wrong JSON type is named with the shape it must have,
	// not a Go type.
	bad := f.req(t, "coordinator", "POST", "/api/v1/items", `{"year":2026,"legal_basis":"《安全生产法》"}`, 400, nil)
	wantFields(t, bad, backend.EINVALID, "legal_basis")
	if e := decodeError(t, bad); e.Fields["legal_basis"] != "must be a JSON object" {
		t.Errorf("legal_basis: %q, want \"must be a JSON object\"", e.Fields["legal_basis"])
	}
	bad = f.req(t, "coordinator", "POST", "/api/v1/items", `{"year":2026,"categories":"coal_mine"}`, 400, nil)
	if e := decodeError(t, bad); e.Fields["categories"] != "must be an array of strings" {
		t.Errorf("categories: %q, want \"must be an array of strings\"", e.Fields["categories"])
	}
	bad = f.req(t, "coordinator", "POST", "/api/v1/items", `["not","an","object"]`, 400, nil)
	if e := decodeError(t, bad); !strings.Contains(e.Message, "must be a JSON object") || strings.Contains(e.Message, "mobileapi") {
		t.Errorf("an array for a body: %q", e.Message)
	}
	var list struct{ Total int }
	f.req(t, "coordinator", "GET", "/api/v1/items", "", 200, &list)
	if list.Total != 0 {
		t.Errorf("bad items were stored: %d", list.Total)
	}
}

func TestItemStaffWriteOnlyTheirDepartment(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 0)
	var own, other itemResponse
	f.req(t, "staff", "POST", "/api/v1/items", itemJSON(2026, "S-1", "本科事项", "dept-1"), 201, &own)
	f.req(t, "staff", "POST", "/api/v1/items", itemJSON(2026, "S-2", "他科事项", "dept-2"), 403, nil)
	f.req(t, "coordinator", "POST", "/api/v1/items", itemJSON(2026, "S-2", "他科事项", "dept-2"), 201, &other)
	f.req(t, "staff", "PATCH", "/api/v1/items/"+other.ID, `{"name":"改"}`, 403, nil)
	f.req(t, "staff", "PATCH", "/api/v1/items/"+own.ID, `{"department_id":"dept-2"}`, 403, nil)
	f.req(t, "staff", "PATCH", "/api/v1/items/"+own.ID, `{"name":"本科事项（修订）"}`, 200, nil)
	f.req(t, "leader", "PATCH", "/api/v1/items/"+own.ID, `{"name":"x"}`, 403, nil)
	f.req(t, "inspector", "POST", "/api/v1/items", itemJSON(2026, "S-3", "x", "dept-1"), 403, nil)
	f.req(t, "inspector", "GET", "/api/v1/items/"+other.ID, "", 200, nil)
}
