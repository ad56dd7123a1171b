package mobileapi

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"suiji/storage/storagetest"
)

// TestKeysetPaging walks a listing page by page with the "next" cursor and
// gets every record exactly once, in order — for a single-field key
// (enterprises by USCC) and a compound one (items by year and code) — and
// refuses offsets beyond the first screens, mixed paging and foreign or
// forged cursors.
func TestKeysetPaging(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := storagetest.NewWorld(t, env.db, 23)
	token := env.login(t, "coordinator").AccessToken

	walk := func(path, key, field string, limit int) []string {
		t.Helper()
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > 50 {
				t.Fatalf("%s: the cursor never ends", path)
			}
			q := fmt.Sprintf("%s?limit=%d", path, limit)
			if after != "" {
				q += "&after=" + url.QueryEscape(after)
			}
			resp, body := env.call(t, token, "GET", q, "", nil)
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d %s", q, resp.StatusCode, body)
			}
			page := decode[map[string]any](t, body)
			for _, r := range page[key].([]any) {
				got = append(got, r.(map[string]any)[field].(string))
			}
			next, _ := page["next"].(string)
			if next == "" {
				if n := len(page[key].([]any)); n == limit {
					t.Fatalf("%s: a full page without next", q)
				}
				return got
			}
			after = next
		}
	}

	usccs := walk("/api/v1/enterprises", "enterprises", "uscc", 5)
	var want []string
	for _, e := range w.Enterprises {
		want = append(want, e.USCC)
	}
	slices.Sort(want)
	if !slices.Equal(usccs, want) {
		t.Errorf("paged enterprises:\n got %v\nwant %v", usccs, want)
	}
	// The last page of 23 by 5 holds 3; a page size that divides the total
	// ends with an empty page after a full one.
	if all := walk("/api/v1/enterprises", "enterprises", "uscc", 23); !slices.Equal(all, want) {
		t.Errorf("one full page: %v", all)
	}

	// Items of several years, ordered by year then code.
	for _, body := range []string{
		`{"year":2025,"code":"Z-1","name":"旧","legal_basis":{"law":"《安全生产法》","article":"第一条"},"department_id":"` + w.Brigade.ID + `","content":"c","method":"on_site","qualification":"general"}`,
		`{"year":2027,"code":"A-1","name":"新","legal_basis":{"law":"《安全生产法》","article":"第一条"},"department_id":"` + w.Brigade.ID + `","content":"c","method":"on_site","qualification":"general"}`,
	} {
		scenario{as: "coordinator", method: "POST", path: "/api/v1/items", body: body, wantStatus: 201}.run(t, env)
	}
	codes := walk("/api/v1/items", "items", "code", 2)
	if len(codes) != len(w.Items)+2 || codes[0] != "Z-1" || codes[len(codes)-1] != "A-1" {
		t.Errorf("paged items across years: %v", codes)
	}

	itemCursor := ""
	{
		_, body := env.call(t, token, "GET", "/api/v1/items?limit=1", "", nil)
		itemCursor = decode[map[string]any](t, body)["next"].(string)
	}
	for _, sc := range []scenario{
		{name: "offset beyond the first screens", path: "/api/v1/enterprises?offset=1001"},
		{name: "after and offset", path: "/api/v1/enterprises?offset=5&after=" + url.QueryEscape(itemCursor)},
		{name: "forged cursor", path: "/api/v1/enterprises?after=%7B%22uscc%22"},
		{name: "another listing's cursor", path: "/api/v1/enterprises?after=" + url.QueryEscape(itemCursor)},
		{name: "item cursor with a bad year", path: "/api/v1/items?after=WyJ4IiwiQSJd"},
	} {
		t.Run(sc.name, func(t *testing.T) {
			sc.as, sc.method, sc.wantStatus, sc.wantCode = "coordinator", "GET", 400, "EINVALID"
			sc.run(t, env)
		})
	}
	// Offsets still work for the first screens.
	_, body := env.call(t, token, "GET", "/api/v1/enterprises?offset=20&limit=5", "", nil)
	if page := decode[map[string]any](t, body); len(page["enterprises"].([]any)) != 3 || page["total"].(float64) != 23 {
		t.Errorf("offset page: %s", body)
	}
	if strings.Contains(string(body), `"next"`) {
		t.Errorf("a short page offers a next page: %s", body)
	}
}
