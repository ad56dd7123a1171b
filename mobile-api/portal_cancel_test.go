package mobileapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestPortalShowsADrawsCancelledInspections: a drawn unit whose
// inspection the office cancels before it began shows on the draw's
// public page as cancelled, with when and why — never who — while the
// other units show nothing of the kind — at once, though the page was
// read (and its cancellations kept a minute) just before. Before, the page listed it as
// drawn and no result ever came: one staff member's cancellation was
// invisible from outside.
func TestPortalShowsADrawsCancelledInspections(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 6, `{"count":2}`)
	d := w.dispatch(t, env)
	page := "/draws/" + w.draw.ID
	scenario{method: "GET", path: page, wantStatus: 200, wantAbsent: []string{"已取消的检查"}}.run(t, env)

	cancelled, err := env.db.Tasks().FindTaskByID(t.Context(), d.TaskIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	kept, err := env.db.Tasks().FindTaskByID(t.Context(), d.TaskIDs[1])
	if err != nil {
		t.Fatal(err)
	}
	scenario{as: "staff", method: "POST", path: "/api/v1/tasks/" + cancelled.ID + "/cancel",
		body: fmt.Sprintf(`{"version":%d,"reason":"企业已停产注销"}`, cancelled.Version), wantStatus: 200}.run(t, env)
	scenario{method: "GET", path: page, wantStatus: 200,
		wantContain: []string{"已取消的检查", "企业已停产注销", cancelled.Enterprise.USCC, cancelled.Enterprise.Name, "其中 1 家企业的检查已取消"},
		wantAbsent:  []string{env.users["staff"].ID, env.users["staff"].Username},
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, body []byte) {
			section := string(body)[strings.Index(string(body), `id="cancelled"`):]
			if strings.Contains(section, kept.Enterprise.USCC) {
				t.Fatalf("a unit still to be inspected is listed as cancelled")
			}
		}}.run(t, env)
}
