package mobileapi

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend/draw"
)

// TestPortalShowsADrawsReplacements: a draw's page lists its group
// replacements in every state — a commitment as soon as it is made, an
// approval, a draw with the member who came in, a rejection with its
// reason — each linking to its own page, which shows the commitment
// before the draw and the record (to re-compute) after; the office's
// notes (who asked, who decided, an approval's remark, the task) stay out.
func TestPortalShowsADrawsReplacements(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 12, `{"count":3}`)
	task := w.dispatchFirst(t, env)
	path := "/api/v1/tasks/" + task.ID + "/replacements"
	drawPage, drawURL := "/draws/"+w.draw.ID, "/public/v1/draws/"+w.draw.ID+"/replacements"

	page := func(t *testing.T, path string, want, absent []string) string {
		t.Helper()
		status, h, body := get(t, env.srv, path, nil)
		if status != 200 || !strings.HasPrefix(h["Content-Type"], "text/html") {
			t.Fatalf("%s: %d %q", path, status, h["Content-Type"])
		}
		for _, s := range want {
			if !bytes.Contains(body, []byte(s)) {
				t.Errorf("%s lacks %q", path, s)
			}
		}
		for _, s := range absent {
			if bytes.Contains(body, []byte(s)) {
				t.Errorf("%s shows %q", path, s)
			}
		}
		return string(body)
	}
	// Before any replacement the draw's page has no such section.
	page(t, drawPage, nil, []string{"检查组人员更换", "data-replacements-url"})

	var first replacementJSON
	scenario{as: "staff", method: "POST", path: path, body: `{"badge_no":"` + task.Members[0].BadgeNo + `","reason":"与企业负责人系亲属"}`, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { first = decode[replacementJSON](t, b) }}.run(t, env)
	office := []string{task.ID, env.users["staff"].ID, env.users["leader"].ID}
	page(t, drawPage, []string{"检查组人员更换", "与企业负责人系亲属", "已公布承诺，待领导批准", `href="/replacements/` + first.ID + `"`}, office)
	page(t, "/replacements/"+first.ID, []string{first.SeedCommitment, first.RosterSHA256, "已公布承诺，待领导批准", "替换人员尚未抽取"},
		append(office, "verify-page.js", `id="verify-run"`))

	scenario{as: "leader", method: "POST", path: path + "/" + first.ID + "/approval", body: `{"decision":"approve","comment":"同意，尽快安排"}`, wantStatus: 200}.run(t, env)
	page(t, "/replacements/"+first.ID, []string{"已批准，待抽取", "批准时间"}, append(office, "同意，尽快安排"))

	var rec draw.Replacement
	var err error
	scenario{as: "staff", method: "POST", path: path + "/" + first.ID + "/draw", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { rec = decode[draw.Replacement](t, b) }}.run(t, env)
	drawn := page(t, drawPage, []string{"已抽取", `data-replacements-url="` + drawURL + `"`, "<td>" + rec.In + "</td>", "此后有检查组人员更换"}, office)
	page(t, "/replacements/"+first.ID, []string{
		"第 1 次更换", `<dd id="replacement-in">` + rec.In + "</dd>", string(rec.Seed), strings.Join(rec.GroupAfter, "、"),
		`data-kind="replacement"`, `data-record-url="/public/v1/replacements/` + first.ID + `"`, "/portal/verify-page.js",
	}, append(office, "替换人员尚未抽取", "同意，尽快安排"))

	// A second replacement, rejected: listed with the leader's reason.
	var second replacementJSON
	scenario{as: "coordinator", method: "POST", path: path, body: `{"badge_no":"` + task.Members[1].BadgeNo + `","reason":"病假"}`, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { second = decode[replacementJSON](t, b) }}.run(t, env)
	scenario{as: "leader", method: "POST", path: path + "/" + second.ID + "/approval", body: `{"decision":"reject","comment":"病假证明未提交"}`, wantStatus: 200}.run(t, env)
	page(t, drawPage, []string{"已驳回，不再抽取：病假证明未提交", "病假"}, append(office, "同意，尽快安排"))
	// Oldest commitment first (times are kept to the second: the second
	// one is moved a minute before the first to tell).
	if _, err := env.db.Database().Collection("replacements").UpdateOne(t.Context(), bson.D{{Key: "_id", Value: second.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "committed_at", Value: first.CommittedAt.Add(-time.Minute)}}}}); err != nil {
		t.Fatal(err)
	}
	if list := page(t, drawPage, nil, nil); strings.Index(list, second.ID) > strings.Index(list, first.ID) {
		t.Error("the draw's replacements are not listed oldest commitment first")
	}
	page(t, "/replacements/"+second.ID, []string{"已驳回，不再抽取", "驳回理由", "病假证明未提交"}, append(office, "verify-page.js"))

	// A commitment whose task is cancelled before it is decided is never
	// drawn: neither page says it waits.
	var third replacementJSON
	scenario{as: "staff", method: "POST", path: path, body: `{"badge_no":"` + task.Members[1].BadgeNo + `","reason":"出差"}`, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { third = decode[replacementJSON](t, b) }}.run(t, env)
	page(t, "/replacements/"+third.ID, []string{"已公布承诺，待领导批准", "替换人员尚未抽取"}, nil)
	current, err := env.db.Tasks().FindTaskByID(t.Context(), task.ID)
	if err != nil {
		t.Fatal(err)
	}
	scenario{as: "staff", method: "POST", path: "/api/v1/tasks/" + task.ID + "/cancel", body: fmt.Sprintf(`{"version":%d,"reason":"企业已注销"}`, current.Version), wantStatus: 200}.run(t, env)
	page(t, "/replacements/"+third.ID, []string{"检查任务已结束，不再抽取"}, []string{"待领导批准", "替换人员尚未抽取"})
	if list := page(t, drawPage, []string{"检查任务已结束，不再抽取"}, nil); strings.Count(list, "待领导批准") != 0 {
		t.Error("the draw's page says a commitment of a cancelled task waits")
	}

	// A replacement whose draw stored its record but was cut short before
	// the replacement was marked drawn (or one drawn before the store kept
	// who came in apart from the record) is listed drawn, from its record.
	_, err = env.db.Database().Collection("replacements").UpdateOne(t.Context(), bson.D{{Key: "_id", Value: first.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: "committed"}}}, {Key: "$unset", Value: bson.D{{Key: "in", Value: ""}, {Key: "seq", Value: ""}, {Key: "drawn_at", Value: ""}, {Key: "record", Value: ""}}}})
	if err != nil {
		t.Fatal(err)
	}
	if again := page(t, drawPage, []string{"<td>" + rec.In + "</td>"}, nil); strings.Count(again, "已抽取") != strings.Count(drawn, "已抽取") {
		t.Errorf("a record not marked on its replacement is not listed drawn:\n%s", again)
	}

	// Pages that do not exist.
	for _, p := range []string{"/replacements/0123456789abcdef01234567", "/replacements/bad!id"} {
		if status, _, body := get(t, env.srv, p, nil); status != 404 || !bytes.Contains(body, []byte("页面不存在")) {
			t.Errorf("%s: %d", p, status)
		}
	}
}
