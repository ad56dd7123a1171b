//go:build faults

package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"mime/multipart"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
	"suiji/backend/audit"
	"suiji/backend/uscc"
)

// The kill tests wait for what the killed instance held to lapse (its
// idempotency claims and a draw's lease after 30 s, a dispatch's lease
// after 60 s), about two minutes in all, so they run with `make faults`
// (go test -tags faults), not in `make test`.

// killDuring sends a request to victim, kills victim after delay (the
// request still in flight, or just answered), and then repeats the same
// request with the same Idempotency-Key on survivor until it is answered
// with a 2xx — a claim left by the killed instance answers 409 until it
// expires — or with one of also. It returns the final status and body and
// whether the first request was answered before the kill.
func killDuring(t *testing.T, victim, survivor *instance, method, path, token string, body []byte, contentType string, delay time.Duration, also ...int) (int, []byte, bool) {
	t.Helper()
	key := fmt.Sprintf("fault-%d", rand.Int64())
	first := make(chan int, 1)
	go func() {
		st, _, _ := send(context.Background(), victim.base, method, path, token, key, body, contentType)
		first <- st
	}()
	time.Sleep(delay)
	victim.Kill()
	answered := (<-first) != 0
	// The killed instance's leases and claims lapse on their own: the
	// idempotency claim and a draw's lease after 30 s, a dispatch's
	// lease after 60 s.
	deadline := time.Now().Add(120 * time.Second)
	for {
		st, b, err := send(t.Context(), survivor.base, method, path, token, key, body, contentType)
		if err == nil && (st/100 == 2 || containsInt(also, st)) {
			return st, b, answered
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s with the same Idempotency-Key on the surviving instance: still %d %s (%v) after 120 s", method, path, st, b, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestFaultsKillAnInstanceMidRequest runs two API instances on one
// database and kills one with SIGKILL while it draws, dispatches and
// imports. Each time the same request, repeated with the same
// Idempotency-Key on the other instance, succeeds; nothing is stored
// twice, nothing committed is lost, and the audit chain verifies.
func TestFaultsKillAnInstanceMidRequest(t *testing.T) {
	fs := newFaultStack(t)
	a := startInstance(t, fs.env)
	b := startInstance(t, fs.env)
	ctx := t.Context()
	coord, leader := login(t, a.base, "coordinator"), login(t, a.base, "leader")

	items, _ := json.Marshal(fs.world.Items)
	var plan struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(must(t, a.base, "POST", "/api/v1/plans", coord, fmt.Sprintf(`{"year":2026,"title":"故障测试","kind":"undirected","item_ids":%s,
		"lead_department_id":%q,"sample":{"ratio":0.2},"group_size":2,"window":{"start":"2026-03-01","end":"2026-12-31"}}`, items, fs.world.Brigade.ID), 201), &plan)
	must(t, a.base, "POST", "/api/v1/plans/"+plan.ID+"/approve", leader, "", 200)
	must(t, a.base, "POST", "/api/v1/plans/"+plan.ID+"/commit", coord, "", 200)

	// A draw. A first attempt that completed (stored and answered, its
	// answer lost with the instance) makes the retry a redraw without a
	// reason: 422, with the one draw stored.
	st, body, answered := killDuring(t, a, b, "POST", "/api/v1/plans/"+plan.ID+"/draws", coord, []byte(`{}`), "", 30*time.Millisecond, 422)
	t.Logf("draw: first attempt answered before the kill: %t; retry %d", answered, st)
	draws, err := fs.db.Draws().FindDrawsByPlan(ctx, plan.ID)
	if err != nil || len(draws) != 1 {
		t.Fatalf("%d draws stored for the plan (%v), want exactly 1; retry answered %d %s", len(draws), err, st, body)
	}
	p, _ := fs.db.Plans().FindPlanByID(ctx, plan.ID)
	if p.Status != backend.PlanDrawn || p.CurrentDrawID != draws[0].ID {
		t.Fatalf("plan %s points at %q; want drawn, at %s", p.Status, p.CurrentDrawID, draws[0].ID)
	}

	// A dispatch, on the restarted instance.
	a.Start()
	a.waitReady(t)
	drawID := draws[0].ID
	st, body, answered = killDuring(t, a, b, "POST", "/api/v1/draws/"+drawID+"/dispatch", coord, []byte(`{}`), "", 40*time.Millisecond)
	t.Logf("dispatch: first attempt answered before the kill: %t; retry %d %.120s", answered, st, body)
	tasks, n, err := fs.db.Tasks().FindTasks(ctx, backend.TaskFilter{PlanID: plan.ID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(draws[0].Record.Selections); n != want || len(tasks) != want {
		t.Fatalf("%d tasks (%d listed) for a draw of %d selections", n, len(tasks), want)
	}
	seen := map[string]bool{}
	for _, tk := range tasks {
		if seen[tk.Enterprise.USCC] {
			t.Errorf("enterprise %s has two tasks", tk.Enterprise.USCC)
		}
		seen[tk.Enterprise.USCC] = true
	}
	notes, err := fs.db.Database().Collection("notifications").CountDocuments(ctx, bson.D{{Key: "kind", Value: backend.NoteTaskAssigned}})
	if err != nil {
		t.Fatal(err)
	}
	members := 0
	for _, tk := range tasks {
		members += len(tk.MemberUserIDs())
	}
	if int(notes) != members {
		t.Errorf("%d assignment alerts for %d group members: each must be alerted exactly once", notes, members)
	}

	// An import of 300 enterprises, on the restarted instance.
	a.Start()
	a.waitReady(t)
	file, contentType := enterpriseUpload(t, 300)
	st, body, answered = killDuring(t, a, b, "POST", "/api/v1/enterprises/import", coord, file, contentType, 60*time.Millisecond)
	t.Logf("import: first attempt answered before the kill: %t; retry %d %.120s", answered, st, body)
	count, err := fs.db.Database().Collection("enterprises").CountDocuments(ctx, bson.D{})
	if err != nil || count != 150+300 {
		t.Errorf("%d enterprises after the import (%v), want 450: each imported exactly once", count, err)
	}

	// The audit chain holds, whichever instance wrote which event.
	rep, err := audit.Verify(ctx, fs.db.AuditEvents())
	if err != nil || rep.Break != nil {
		t.Fatalf("audit chain after the kills: %v %v", err, rep.Break)
	}
	t.Logf("audit chain intact: %d events", rep.Events)
}

// enterpriseUpload is a multipart body with a CSV of n new, valid
// enterprises in the world's towns.
func enterpriseUpload(t *testing.T, n int) ([]byte, string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(42, uint64(time.Now().UnixNano())))
	var sheet bytes.Buffer
	w := csv.NewWriter(&sheet)
	_ = w.Write([]string{"统一社会信用代码", "企业名称", "所属乡镇", "行业", "地址", "重点监管类别", "信用风险标记", "经营状态"})
	towns := []string{"巴公镇", "高都镇", "金村镇"}
	for i := range n {
		_ = w.Write([]string{uscc.Generate(rng), fmt.Sprintf("故障测试企业%03d", i), towns[i%3], "制造业", "工业园" + fmt.Sprint(i), "", "", "存续"})
	}
	w.Flush()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("file", "enterprises.csv")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = part.Write(sheet.Bytes())
	_ = mw.Close()
	return body.Bytes(), mw.FormDataContentType()
}
