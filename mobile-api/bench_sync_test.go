package mobileapi

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"suiji/storage/storagetest"
)

// syncInspectors × syncTasksEach is the case: 500 inspectors, 20
// tasks each (groups of two: 5,000 tasks). A round sends syncPerRound
// syncs, the inspectors in turn from where the last round stopped, from
// syncClients concurrent clients. Before task feeds each sync read every
// task on FerretDB v1 — seconds each on the shared machine — which is
// why a round is small and the server's request deadline is raised, so
// that a slow sync is measured rather than cut off.
const (
	syncInspectors = 500
	syncTasksEach  = 20
	syncPerRound   = 8
	syncClients    = 2 // concurrent clients, each on its own kept-alive connection
)

// BenchmarkSyncMyTasks measures the phones' first sync, GET
// /api/v1/me/tasks, for 500 inspectors with 20 tasks each (seeded in bulk
// through the stores, with the inbox entries and task feeds as a dispatch
// leaves them), each signed in with a real token, over real loopback HTTP
// from 2 concurrent clients. Every round sends 8 inspectors' syncs, then
// as many requests to the baseline: a bare Fiber endpoint (no middleware)
// encoding the same answer — an inspector's 20 tasks — from the same Go
// types. Reported: throughput and p50/p99 as shares of the baseline's
// (goal ≥ 50%), and the raw figures.
func BenchmarkSyncMyTasks(b *testing.B) {
	env := newSerialAPIEnv(b, Config{})
	env.srv = New(Config{BodyLimit: 1 << 20, RequestTimeout: 10 * time.Minute}, slog.New(slog.DiscardHandler), nil, env.svc)
	w := storagetest.NewWorld(b, env.db, 0)
	start := time.Now()
	users := benchInspectors(b, env.db, w.Brigade.ID, syncInspectors, env.users["inspector"].PasswordHash)
	benchTasks(b, env.db, w.Brigade.ID, users, syncTasksEach)
	b.Logf("%d inspectors and their tasks stored in %v", len(users), time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := env.svc.Tasks.WarmCache(b.Context()); err != nil { // as the server does at start
		b.Fatal(err)
	}
	b.Logf("the open tasks read into the instance's cache in %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	tokens := make([]string, len(users))
	for i, u := range users {
		tokens[i] = env.loginAs(b, u)
	}
	b.Logf("%d inspectors signed in in %v", len(users), time.Since(start).Round(time.Millisecond))
	if err := env.svc.Auth.WarmUsers(b.Context()); err != nil { // as the server does at start
		b.Fatal(err)
	}
	marker := []byte(`"id":"bench-task-`)
	check := func(body []byte) error {
		if n := bytes.Count(body, marker); n != syncTasksEach {
			return fmt.Errorf("a sync brought %d tasks, want %d: %.300s", n, syncTasksEach, body)
		}
		return nil
	}
	start = time.Now()
	resp, first := env.call(b, tokens[0], "GET", "/api/v1/me/tasks", "", nil)
	b.Logf("one sync alone: %v", time.Since(start).Round(time.Millisecond))
	if resp.StatusCode != 200 {
		b.Fatalf("sync: %d %s", resp.StatusCode, first)
	}
	if err := check(first); err != nil {
		b.Fatal(err)
	}
	api := serveAPI(b, env.srv) + "/api/v1/me/tasks"
	bare := serveBare[struct {
		Tasks  []taskJSON `json:"tasks"`
		Cursor string     `json:"cursor"`
		More   bool       `json:"more"`
	}](b, "/api/v1/me/tasks", first) + "/api/v1/me/tasks"

	client := loadClient(syncClients)
	var apiStats, bareStats loadStats
	next := 0
	for b.Loop() {
		token := func(i int) string { return tokens[(next+i)%len(tokens)] }
		apiStats.add(runLoad(b, client, syncClients, syncPerRound, func(int) string { return api }, token, check))
		bareStats.add(runLoad(b, client, syncClients, syncPerRound, func(int) string { return bare }, token, check))
		next += syncPerRound
	}
	reportLoad(b, &apiStats, &bareStats, 0.5, 0.99)
	b.ReportMetric(float64(len(first))/1e3, "kB-answer")
}
