package mobileapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
	"suiji/backend/uscc"
	"suiji/storage/mongodb"
)

// The helpers of the benchmarks that put an API route under load over
// real loopback HTTP beside a bare Fiber endpoint answering a comparable
// payload, on the same machine in the same run.

// listenLoopback opens a listener on a free loopback port.
func listenLoopback(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return ln
}

// serveAPI serves s on a loopback port, as `suiji serve` does (the
// per-address connection cap included), until the benchmark ends; it
// returns the base URL.
func serveAPI(tb testing.TB, s *Server) string {
	tb.Helper()
	ln := listenLoopback(tb)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, 5*time.Second) }()
	tb.Cleanup(func() { cancel(); <-served })
	return "http://" + ln.Addr().String()
}

// serveBare serves, on a loopback port, the baseline of an API route: a
// Fiber app with no middleware whose one route GET path answers c.JSON of
// the API's own answer body decoded into a T, so that it encodes the same
// JSON from Go values of the same types on every request. It returns the
// base URL.
func serveBare[T any](tb testing.TB, path string, body []byte) string {
	tb.Helper()
	var payload T
	if err := json.Unmarshal(body, &payload); err != nil {
		tb.Fatalf("the API's answer does not decode into the bare payload: %v", err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get(path, func(c *fiber.Ctx) error { return c.JSON(payload) })
	ln := listenLoopback(tb)
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	tb.Cleanup(func() { _ = app.Shutdown(); <-served })
	return "http://" + ln.Addr().String()
}

// loadClient is an HTTP client keeping up to conns connections open to
// one server, so that concurrent clients reuse theirs.
func loadClient(conns int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost, t.MaxConnsPerHost = conns, conns, conns
	return &http.Client{Transport: t, Timeout: time.Minute}
}

// loadRun is what one round of load measured: each request's latency
// and the round's wall time.
type loadRun struct {
	latencies []time.Duration
	wall      time.Duration
}

// runLoad sends n GET requests, request i to url(i) with the bearer
// token token(i) (none when ""), from clients goroutines at once over
// client, and checks each answer with check (200 and a body it accepts).
func runLoad(b *testing.B, client *http.Client, clients, n int, url func(int) string, token func(int) string, check func(body []byte) error) loadRun {
	b.Helper()
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				req, _ := http.NewRequest("GET", url(i), nil)
				if tok := token(i); tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(t0)
				if err == nil && resp.StatusCode != 200 {
					err = fmt.Errorf("GET %s: %d %.300s", req.URL.Path, resp.StatusCode, body)
				}
				if err == nil {
					err = check(body)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return loadRun{latencies: lat, wall: wall}
}

// loadStats gathers the rounds of one side of a comparison.
type loadStats struct {
	latencies []time.Duration
	wall      time.Duration
}

func (s *loadStats) add(r loadRun) {
	s.latencies = append(s.latencies, r.latencies...)
	s.wall += r.wall
}

// rps is the requests answered per second of wall time.
func (s *loadStats) rps() float64 { return float64(len(s.latencies)) / s.wall.Seconds() }

// pct is the q-quantile of the latencies (nearest rank).
func (s *loadStats) pct(q float64) time.Duration {
	l := slices.Clone(s.latencies)
	slices.Sort(l)
	i := int(q*float64(len(l))+0.999999) - 1
	return l[max(0, min(i, len(l)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// reportLoad reports the API's figures beside the bare endpoint's:
// throughput as a share of the bare one's, each latency quantile q as a
// share too (the bare latency over the API's, so that 50% means twice as
// long), and the raw figures of both.
func reportLoad(b *testing.B, api, bare *loadStats, quantiles ...float64) {
	b.ReportMetric(api.rps()/bare.rps(), "rps-share")
	b.ReportMetric(api.rps(), "rps-api")
	b.ReportMetric(bare.rps(), "rps-bare")
	for _, q := range quantiles {
		name := fmt.Sprintf("p%d", int(q*100))
		b.ReportMetric(float64(bare.pct(q))/float64(api.pct(q)), name+"-share")
		b.ReportMetric(ms(api.pct(q)), "ms-"+name+"-api")
		b.ReportMetric(ms(bare.pct(q)), "ms-"+name+"-bare")
	}
}

// benchInspectors stores n active inspectors of department dept with
// their accounts (username bench000 …, password hash hash, "" for none
// to sign in with) through the stores, and returns the accounts in order.
func benchInspectors(tb testing.TB, db *mongodb.DB, dept string, n int, hash string) []*backend.User {
	tb.Helper()
	ctx := tb.Context()
	now := time.Now().UTC()
	users := make([]*backend.User, n)
	for i := range n {
		u := &backend.User{Username: fmt.Sprintf("bench%03d", i), DisplayName: "检查员", Roles: []backend.Role{backend.RoleInspector},
			DepartmentID: dept, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
		if err := db.Users().CreateUser(ctx, u); err != nil {
			tb.Fatal(err)
		}
		in := &backend.Inspector{UserID: u.ID, Name: fmt.Sprintf("检查员%03d", i), BadgeNo: fmt.Sprintf("1405259%05d", i),
			CertificateExpires: "2030-12-31", DepartmentID: dept, Qualifications: []string{"general"}, Active: true}
		if err := db.Inspectors().CreateInspector(ctx, in); err != nil {
			tb.Fatal(err)
		}
		users[i] = u
	}
	return users
}

// benchTasks stores, through the stores in bulk, perInspector assigned
// tasks for each of users in groups of two with changing partners — as
// a dispatch leaves them: two items with their legal basis, the
// enterprise's summary and location, one inbox entry per member, and
// the task's id appended to each member's task feed (the sync's). The
// feeds are marked built first, as on a database that had them from the
// start. It returns the tasks.
func benchTasks(tb testing.TB, db *mongodb.DB, dept string, users []*backend.User, perInspector int) []*backend.Task {
	tb.Helper()
	ctx := tb.Context()
	if _, err := db.TaskFeeds().BuildTaskFeeds(ctx); err != nil {
		tb.Fatal(err)
	}
	n := len(users)
	total := n * perInspector / 2
	if n < 2 || total*2 != n*perInspector {
		tb.Fatalf("benchTasks: %d inspectors × %d tasks do not make groups of two", n, perInspector)
	}
	now := time.Now().UTC()
	items := []backend.TaskItem{
		{ID: "bench-item-1", Code: "JC-2026-01", Name: "安全生产责任制落实情况", DepartmentID: dept,
			LegalBasis: backend.LegalBasis{Law: "《中华人民共和国安全生产法》", Article: "第二十一条、第二十二条"},
			Content:    "检查主要负责人安全生产责任制建立、落实及考核情况", Method: backend.MethodOnSite, Qualification: "general"},
		{ID: "bench-item-2", Code: "JC-2026-02", Name: "安全生产教育和培训情况", DepartmentID: dept,
			LegalBasis: backend.LegalBasis{Law: "《中华人民共和国安全生产法》", Article: "第二十八条"},
			Content:    "检查从业人员安全生产教育培训计划、记录和考核情况", Method: backend.MethodOnSite, Qualification: "general"},
	}
	rng := rand.New(rand.NewPCG(9, 9))
	batch := make([]*backend.Task, 0, 500)
	var notes []*backend.Notification
	var out []*backend.Task
	var seq int64
	flush := func() {
		if _, err := db.Tasks().InsertTasks(ctx, batch); err != nil {
			tb.Fatal(err)
		}
		// The inbox entries go in as the store lays them out, numbered
		// here: AppendNotifications reads the last number and looks its
		// ids up with $in before each batch, and FerretDB answers both by
		// reading the whole collection, which made seeding 10,000 entries
		// take longer than the benchmark.
		docs := make([]any, len(notes))
		for i, n := range notes {
			seq++
			docs[i] = bson.D{{Key: "_id", Value: n.ID}, {Key: "user_id", Value: n.UserID}, {Key: "seq", Value: seq},
				{Key: "kind", Value: n.Kind}, {Key: "silent", Value: false}, {Key: "task_id", Value: n.TaskID},
				{Key: "plan_id", Value: n.PlanID}, {Key: "title", Value: n.Title}, {Key: "body", Value: n.Body},
				{Key: "created_at", Value: n.CreatedAt}}
		}
		if _, err := db.Database().Collection("notifications").InsertMany(ctx, docs); err != nil {
			tb.Fatal(err)
		}
		// The feeds as notify appends them: after the tasks, one append
		// per user for the chunk.
		feeds := map[string][]backend.TaskFeedEntry{}
		for _, n := range notes {
			feeds[n.UserID] = append(feeds[n.UserID], backend.TaskFeedEntry{TaskID: n.TaskID, Version: n.TaskVersion})
		}
		if err := db.TaskFeeds().AppendTaskFeeds(ctx, feeds); err != nil {
			tb.Fatal(err)
		}
		out = append(out, batch...)
		batch, notes = batch[:0:0], nil
	}
	for j := range total {
		// The first member runs through everyone once per n tasks, the
		// second likewise shifted by 1, 2, … so partners change.
		group := []*backend.User{users[j%n], users[(j+j/n+1)%n]}
		t := &backend.Task{
			ID: fmt.Sprintf("bench-task-%05d", j), Kind: backend.TaskRandom, PlanID: "bench-plan", DrawID: "bench-draw", Year: 2026,
			LeadDepartmentID: dept, DepartmentIDs: []string{dept},
			Enterprise: backend.TaskEnterprise{ID: fmt.Sprintf("bench-ent-%05d", j), USCC: uscc.Generate(rng),
				Name: fmt.Sprintf("晋城市泽州县基准企业%05d有限公司", j), Town: "巴公镇", Address: fmt.Sprintf("巴公镇工业园区%d号", j),
				Location: &backend.GeoPoint{Lat: 35.49 + float64(j%100)/1000, Lng: 112.85 + float64(j%70)/1000}, Categories: []string{}},
			Items: items, WindowStart: "2026-03-01", WindowEnd: "2026-12-31", Deadlines: backend.TaskDeadlines{Window: "2026-12-31"},
			State: backend.TaskAssigned, CreatedBy: "bench-coordinator", CreatedAt: now, UpdatedAt: now,
		}
		for k, u := range group {
			t.Members = append(t.Members, backend.TaskMember{BadgeNo: fmt.Sprintf("badge-%s", u.ID), InspectorID: "inspector-" + u.ID,
				UserID: u.ID, Name: u.DisplayName, DepartmentID: dept, Lead: k == 0, AddedAt: now})
			notes = append(notes, &backend.Notification{ID: fmt.Sprintf("bench-note-%05d-%d", j, k), UserID: u.ID, Kind: backend.NoteTaskAssigned,
				TaskID: t.ID, TaskVersion: 1, PlanID: t.PlanID, Title: "新的检查任务", Body: t.Enterprise.Name, CreatedAt: now})
		}
		batch = append(batch, t)
		if len(batch) == cap(batch) {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	return out
}
