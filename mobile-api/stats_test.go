package mobileapi

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/draw"
	"suiji/backend/sheet"
	"suiji/backend/uscc"
)

// statsSeed is the dataset of the statistics test, stored straight into
// the stores, and everything the test needs to compute the figures itself.
type statsSeed struct {
	deptA, deptB string
	enterprises  []*backend.Enterprise
	inForce      []seedDraw // the draws in force of 2026
	tasks        []*backend.Task
}

type seedDraw struct {
	leadDept   string
	selections []string // USCCs
}

// seedStats stores departments, 60 enterprises of every kind, plans with
// draws (one superseded, one of another year) and 40 tasks of every kind
// and state, all drawn from a seeded random source.
func seedStats(t *testing.T, env *apiEnv) *statsSeed {
	t.Helper()
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(16, 2026))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	s := &statsSeed{}
	for i, name := range []string{"综合执法大队", "危化股"} {
		d := &backend.Department{Name: name, Kind: backend.DepartmentInternal}
		must(env.db.Departments().CreateDepartment(ctx, d))
		if i == 0 {
			s.deptA = d.ID
		} else {
			s.deptB = d.ID
		}
	}
	for i := range 60 {
		e := &backend.Enterprise{USCC: uscc.Generate(rng), Name: fmt.Sprintf("统计企业%02d", i), Town: "巴公镇",
			Industry: "制造业", Status: backend.EnterpriseActive, Version: 1}
		if i%5 == 0 {
			e.Categories = append(e.Categories, []string{backend.CategoryCoalMine, backend.CategoryHazardousChemicals}[i%2])
		}
		if i%7 == 0 {
			e.Categories = append(e.Categories, backend.CategoryDustExplosion)
		}
		if i%11 == 0 {
			e.Flags = append(e.Flags, backend.FlagBlacklist)
		}
		if i%13 == 0 {
			e.Flags = append(e.Flags, backend.FlagHighCreditRisk)
		}
		if i%17 == 3 {
			e.Status = backend.EnterpriseClosed
		}
		must(env.db.Enterprises().CreateEnterprise(ctx, e))
		s.enterprises = append(s.enterprises, e)
	}
	pick := func(n int) []string {
		var out []string
		for _, k := range rng.Perm(len(s.enterprises))[:n] {
			out = append(out, s.enterprises[k].USCC)
		}
		return out
	}
	// Three enterprises the three plans of 2026 all select: an ordinary
	// one (over the cap), a cap-exempt one and a key unit (neither is).
	ordinaryU, exemptU, keyU := s.enterprises[1].USCC, s.enterprises[13].USCC, s.enterprises[10].USCC
	plan := func(year int, lead string, draws ...[]string) {
		p := &backend.Plan{Year: year, Title: fmt.Sprintf("计划%d", year), Kind: "undirected", LeadDepartmentID: lead,
			Status: backend.PlanDispatched, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
		must(env.db.Plans().CreatePlan(ctx, p))
		for i, sel := range draws {
			rec := &draw.Record{RecordHead: draw.RecordHead{PlanID: p.ID, Seq: i + 1, Year: year, Outcome: draw.OutcomeDrawn}}
			for _, u := range sel {
				rec.Selections = append(rec.Selections, draw.Selection{USCC: u, Town: "巴公镇"})
			}
			must(env.db.Draws().InsertDraw(ctx, &backend.Draw{PlanID: p.ID, Seq: i + 1, Year: year, Record: rec, CreatedAt: time.Now().UTC()}))
		}
		if year == 2026 {
			s.inForce = append(s.inForce, seedDraw{leadDept: lead, selections: draws[len(draws)-1]})
		}
	}
	withTriple := func(n int) []string {
		out := []string{ordinaryU, exemptU, keyU}
		for _, u := range pick(n) {
			if !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
		return out
	}
	plan(2026, s.deptA, pick(20), withTriple(12)) // the first attempt was superseded
	plan(2026, s.deptB, withTriple(9))
	plan(2026, s.deptA, withTriple(7))
	plan(2025, s.deptA, append(pick(15), ordinaryU, ordinaryU))

	// Six inspectors, three per department; 40 tasks of every kind and
	// state, their deadlines and completions spread around "now".
	type officer struct{ badge, name, dept string }
	var officers []officer
	for i := range 6 {
		d := s.deptA
		if i >= 3 {
			d = s.deptB
		}
		officers = append(officers, officer{fmt.Sprintf("14052509%03d", i), fmt.Sprintf("执法员%d", i), d})
	}
	now := cst(2026, 11, 30, 12, 0)
	day := func(offset int) string { return string(backend.DateOf(now.AddDate(0, 0, offset))) }
	for i := range 40 {
		year := 2026
		if i%10 == 9 {
			year = 2025
		}
		lead := []string{s.deptA, s.deptB}[rng.IntN(2)]
		task := &backend.Task{
			ID: fmt.Sprintf("stats-task-%02d", i), Kind: []string{backend.TaskRandom, backend.TaskTargeted, backend.TaskExternal}[rng.IntN(3)],
			Year: year, LeadDepartmentID: lead, DepartmentIDs: []string{lead}, State: backend.TaskAssigned,
			Enterprise: backend.TaskEnterprise{ID: s.enterprises[i].ID, USCC: s.enterprises[i].USCC, Name: s.enterprises[i].Name},
			CreatedAt:  now.AddDate(0, -2, i).UTC(), UpdatedAt: now.UTC(),
		}
		for _, k := range rng.Perm(6)[:2+rng.IntN(2)] {
			o := officers[k]
			task.Members = append(task.Members, backend.TaskMember{BadgeNo: o.badge, Name: o.name, DepartmentID: o.dept, AddedAt: now.UTC()})
			if !slices.Contains(task.DepartmentIDs, o.dept) {
				task.DepartmentIDs = append(task.DepartmentIDs, o.dept)
			}
		}
		if rng.IntN(3) > 0 { // the inspection ended
			ended := now.AddDate(0, 0, -rng.IntN(40)).UTC()
			task.InspectionEndedAt, task.State = &ended, backend.TaskCompleted
			task.Deadlines.Feedback, task.Deadlines.Publication = day(rng.IntN(30)-15), day(rng.IntN(40)-15)
			if rng.IntN(3) > 0 {
				at := now.AddDate(0, 0, rng.IntN(30)-25).UTC()
				task.FeedbackAt = &at
			}
			if rng.IntN(2) > 0 {
				at := now.AddDate(0, 0, rng.IntN(30)-25).UTC()
				task.PublishedAt, task.State = &at, backend.TaskPublished
			}
		}
		if rng.IntN(8) == 0 {
			task.State = backend.TaskCancelled
		}
		s.tasks = append(s.tasks, task)
	}
	// The edges: due today (pending) and yesterday (overdue); done in the
	// first minutes of the day after the deadline in Beijing (late,
	// though still the deadline's day in UTC) and in the last minutes of
	// the deadline day (on time).
	ended := now.AddDate(0, 0, -20).UTC()
	lateByBeijing, lastMinute := cst(2026, 11, 21, 0, 30).UTC(), cst(2026, 11, 20, 23, 30).UTC()
	for i, e := range []struct {
		feedbackDue, publicationDue string
		feedbackAt, publishedAt     *time.Time
	}{
		{day(0), day(-1), nil, nil},
		{"2026-11-20", "2026-11-20", &lateByBeijing, &lastMinute},
	} {
		task := &backend.Task{ID: fmt.Sprintf("stats-edge-%d", i), Kind: backend.TaskTargeted, Year: 2026, LeadDepartmentID: s.deptA,
			DepartmentIDs: []string{s.deptA}, State: backend.TaskCompleted, InspectionEndedAt: &ended,
			Deadlines:  backend.TaskDeadlines{Feedback: e.feedbackDue, Publication: e.publicationDue},
			FeedbackAt: e.feedbackAt, PublishedAt: e.publishedAt, CreatedAt: now.UTC(), UpdatedAt: now.UTC(),
			Enterprise: backend.TaskEnterprise{ID: s.enterprises[50+i].ID, USCC: s.enterprises[50+i].USCC, Name: s.enterprises[50+i].Name},
			Members:    []backend.TaskMember{{BadgeNo: officers[0].badge, Name: officers[0].name, DepartmentID: s.deptA, AddedAt: now.UTC()}}}
		s.tasks = append(s.tasks, task)
	}
	if _, err := env.db.Tasks().InsertTasks(ctx, s.tasks); err != nil {
		t.Fatal(err)
	}
	env.svc.Results.Now = func() time.Time { return now.UTC() }
	return s
}

// expectedStats computes the figures of the seed for dept ("" for all)
// without any of the code under test.
func (s *statsSeed) expected(dept string) map[string]float64 {
	out := map[string]float64{}
	drawn := map[string]int{}
	for _, d := range s.inForce {
		for _, u := range d.selections {
			drawn[u]++
		}
	}
	has := func(list []string, values ...string) bool {
		for _, v := range values {
			if slices.Contains(list, v) {
				return true
			}
		}
		return false
	}
	keyCats := []string{"coal_mine", "non_coal_mine", "hazardous_chemicals", "metallurgy_industry_trade"}
	exempt := []string{"high_credit_risk", "frequent_complaints", "abnormal_operation", "serious_violation"}
	for _, set := range []struct {
		name string
		in   func(e *backend.Enterprise) bool
	}{
		{"key_supervision", func(e *backend.Enterprise) bool { return has(e.Categories, keyCats...) }},
		{"blacklist", func(e *backend.Enterprise) bool { return has(e.Flags, "blacklist") }},
	} {
		total, covered := 0, 0
		for _, e := range s.enterprises {
			if e.Status == backend.EnterpriseActive && set.in(e) {
				total++
				if drawn[e.USCC] > 0 {
					covered++
				}
			}
		}
		out["coverage."+set.name+".total"], out["coverage."+set.name+".covered"] = float64(total), float64(covered)
		out["coverage."+set.name+".share"] = float64(covered) / float64(total)
	}
	over := 0
	for _, e := range s.enterprises {
		if drawn[e.USCC] > 2 && !has(e.Categories, keyCats...) && !has(e.Flags, append(exempt, "blacklist")...) {
			over++
		}
	}
	out["over_cap.count"] = float64(over)
	random, targeted := 0, 0
	for _, d := range s.inForce {
		if dept == "" || d.leadDept == dept {
			random += len(d.selections)
		}
	}
	today := "2026-11-30"
	feedback := map[string]int{}
	publication := map[string]int{}
	loads := map[string]int{}
	for _, task := range s.tasks {
		if task.Year != 2026 || task.State == backend.TaskCancelled {
			continue
		}
		if dept == "" || task.LeadDepartmentID == dept {
			switch task.Kind {
			case backend.TaskTargeted:
				targeted++
			case backend.TaskExternal:
				random++
			}
		}
		if dept != "" && !slices.Contains(task.DepartmentIDs, dept) {
			continue
		}
		for _, m := range task.Members {
			if dept == "" || m.DepartmentID == dept {
				loads[m.BadgeNo]++
			}
		}
		if task.InspectionEndedAt == nil {
			continue
		}
		for _, c := range []struct {
			counts map[string]int
			due    string
			done   *time.Time
		}{{feedback, task.Deadlines.Feedback, task.FeedbackAt}, {publication, task.Deadlines.Publication, task.PublishedAt}} {
			c.counts["due"]++
			switch {
			case c.done != nil && c.done.In(backend.ChinaTime).Format(time.DateOnly) <= c.due:
				c.counts["on_time"]++
			case c.done != nil:
				c.counts["late"]++
			case today > c.due:
				c.counts["overdue"]++
			default:
				c.counts["pending"]++
			}
		}
	}
	out["random_share.random"], out["random_share.targeted"] = float64(random), float64(targeted)
	out["random_share.share"] = float64(random) / float64(random+targeted)
	for _, k := range []string{"due", "on_time", "late", "overdue", "pending"} {
		out["feedback."+k], out["publication."+k] = float64(feedback[k]), float64(publication[k])
	}
	for badge, n := range loads {
		out["tasks_per_inspector."+badge] = float64(n)
	}
	return out
}

// flattenStats turns the JSON answer into the same keys.
func flattenStats(st statsJSON) map[string]float64 {
	out := map[string]float64{}
	for name, c := range map[string]coverageJSON{"key_supervision": st.Coverage.KeySupervision, "blacklist": st.Coverage.Blacklist} {
		out["coverage."+name+".total"], out["coverage."+name+".covered"], out["coverage."+name+".share"] = float64(c.Total), float64(c.Covered), c.Share
	}
	out["over_cap.count"] = float64(st.OverCap.Count)
	out["random_share.random"], out["random_share.targeted"], out["random_share.share"] =
		float64(st.RandomShare.Random), float64(st.RandomShare.Targeted), st.RandomShare.Share
	for name, tl := range map[string]timelinessJSON{"feedback": st.Feedback, "publication": st.Publication} {
		out[name+".due"], out[name+".on_time"], out[name+".late"], out[name+".overdue"], out[name+".pending"] =
			float64(tl.Due), float64(tl.OnTime), float64(tl.Late), float64(tl.Overdue), float64(tl.Pending)
	}
	for _, l := range st.TasksPerInspector {
		out["tasks_per_inspector."+l.BadgeNo] = float64(l.Tasks)
	}
	return out
}

func sameFigures(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok || math.Abs(g-v) > 1e-4 {
			t.Errorf("%s: %s = %v (present %v), want %v", what, k, g, ok, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected figure %s = %v", what, k, got[k])
		}
	}
}

// TestStatisticsEqualIndependentFigures: on a seeded dataset (superseded
// and other-year draws, every kind and state of task, deadlines met, met
// late, missed and running), /api/v1/stats for the bureau and for each
// department equals figures the test computes itself, as JSON and as
// XLSX; staff see only their own department's.
func TestStatisticsEqualIndependentFigures(t *testing.T) {
	env := newAPIEnv(t, Config{})
	s := seedStats(t, env)
	get := func(role, query string) statsJSON {
		t.Helper()
		var st statsJSON
		scenario{as: role, method: "GET", path: "/api/v1/stats?year=2026" + query, wantStatus: 200,
			after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { st = decode[statsJSON](t, b) }}.run(t, env)
		return st
	}
	all := get("coordinator", "")
	want := s.expected("")
	sameFigures(t, "bureau", flattenStats(all), want)
	// The seed must exercise every figure, or equality proves little.
	for _, k := range []string{"over_cap.count", "feedback.late", "feedback.overdue", "feedback.pending", "publication.late",
		"publication.overdue", "random_share.targeted"} {
		if want[k] == 0 {
			t.Errorf("the seed gives %s = 0; choose another seed", k)
		}
	}
	if all.OverCap.Count != 1 || all.OverCap.Enterprises[0].USCC != s.enterprises[1].USCC || all.OverCap.Enterprises[0].Draws != 3 {
		t.Errorf("over the cap: %+v", all.OverCap)
	}
	if len(all.Coverage.KeySupervision.Uncovered) != int(want["coverage.key_supervision.total"]-want["coverage.key_supervision.covered"]) {
		t.Errorf("uncovered key units listed: %d", len(all.Coverage.KeySupervision.Uncovered))
	}
	if all.RandomShare.MeetsTarget != (want["random_share.share"] >= 0.7) {
		t.Errorf("meets_target %v at share %v", all.RandomShare.MeetsTarget, all.RandomShare.Share)
	}
	sameFigures(t, "department A", flattenStats(get("leader", "&department_id="+s.deptA)), s.expected(s.deptA))

	// Staff: their own department by default, another one refused.
	staff := env.users["staff"]
	staff.DepartmentID = s.deptB
	if err := env.updateUser(context.Background(), staff); err != nil {
		t.Fatal(err)
	}
	own := get("staff", "")
	if own.DepartmentID != s.deptB {
		t.Fatalf("staff's statistics are of %q, want their department", own.DepartmentID)
	}
	sameFigures(t, "department B (staff)", flattenStats(own), s.expected(s.deptB))
	scenario{as: "staff", method: "GET", path: "/api/v1/stats?year=2026&department_id=" + s.deptA, wantStatus: 403}.run(t, env)
	scenario{as: "inspector", method: "GET", path: "/api/v1/stats?year=2026", wantStatus: 403}.run(t, env)
	scenario{as: "coordinator", method: "GET", path: "/api/v1/stats?year=2026&department_id=0123456789abcdef01234567", wantStatus: 400,
		wantContain: []string{`"department_id"`}}.run(t, env)
	scenario{as: "coordinator", method: "GET", path: "/api/v1/stats?year=2026&format=pdf", wantStatus: 400, wantContain: []string{`"format"`}}.run(t, env)

	// The XLSX export holds the same figures under the same keys.
	resp, body := env.call(t, env.login(t, "coordinator").AccessToken, "GET", "/api/v1/stats?year=2026&format=xlsx", "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != contentTypeXLSX {
		t.Fatalf("xlsx: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	table, err := sheet.Read(bytes.NewReader(body), "stats.xlsx", sheet.Schema{Name: "统计", Columns: []sheet.Column{
		{Key: "key", Headers: []string{"代码"}, Required: true}, {Key: "value", Headers: []string{"数值"}, Required: true}}}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	fromSheet := map[string]float64{}
	for _, row := range table.Rows {
		if _, ok := want[row.Values["key"]]; ok {
			v, err := strconv.ParseFloat(row.Values["value"], 64)
			if err != nil {
				t.Fatalf("row %v: %v", row.Values, err)
			}
			fromSheet[row.Values["key"]] = v
		}
	}
	sameFigures(t, "xlsx", fromSheet, want)
}
