package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/accounts"
	"suiji/backend/cmd/wire"
	"suiji/storage/mongodb"
	"suiji/storage/objects"
	"suiji/storage/storagetest"
)

// childCommand, as the first argument of this test binary, makes it the
// suiji binary: the fault tests start API instances as separate processes
// (to kill them with SIGKILL) by running the test binary again with
// "suiji-child serve". The child runs main's run, the same code as the
// built binary, with no test framework in the way.
const childCommand = "suiji-child"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childCommand {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "suiji:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// faultPassword is every fault-test user's password.
const faultPassword = "fault-test-password-1"

// faultStack is a database, buckets and Redis prefix of the test's own,
// with a small county, a coordinator and a leader in its brigade, and a
// sign-in account for each of its inspectors.
type faultStack struct {
	db    *mongodb.DB
	objs  *objects.Store
	world *storagetest.World
	env   []string          // SUIJI_* for the instances, on top of the test stack's
	users map[string]string // inspector accounts: user id → username
}

func newFaultStack(t *testing.T) *faultStack {
	t.Helper()
	st := useTestStores(t)
	ctx := t.Context()
	fs := &faultStack{db: st.Mongo, objs: st.Objects, world: storagetest.NewWorld(t, st.Mongo, 150), users: map[string]string{}}
	cfg := storagetest.Config(t)
	svc := wire.Services(st, cfg, utcNow)
	if _, err := svc.Auth.EnsureAdmin(ctx, "admin", faultPassword); err != nil {
		t.Fatal(err)
	}
	admin, err := st.Mongo.Users().FindUserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	actx := backend.WithActor(ctx, &backend.Actor{UserID: admin.ID, Username: admin.Username, Roles: admin.Roles})
	for _, role := range []backend.Role{backend.RoleCoordinator, backend.RoleLeader} {
		if _, err := svc.Accounts.CreateUser(actx, accounts.NewUser{
			Username: string(role), Password: faultPassword, DisplayName: string(role),
			Roles: []backend.Role{role}, DepartmentID: fs.world.Brigade.ID,
		}); err != nil {
			t.Fatal(err)
		}
	}
	for i, in := range fs.world.Inspectors {
		u, err := svc.Accounts.CreateUser(actx, accounts.NewUser{
			Username: fmt.Sprintf("inspector%d", i), Password: faultPassword, DisplayName: in.Name,
			Roles: []backend.Role{backend.RoleInspector}, DepartmentID: in.DepartmentID,
		})
		if err != nil {
			t.Fatal(err)
		}
		in.UserID = u.ID
		if err := st.Mongo.Inspectors().UpdateInspector(ctx, in); err != nil {
			t.Fatal(err)
		}
		fs.users[u.ID] = u.Username
	}
	for _, k := range []string{"SUIJI_MONGO_URI", "SUIJI_MONGO_DATABASE", "SUIJI_REDIS_URL", "SUIJI_REDIS_PREFIX",
		"SUIJI_MINIO_ENDPOINT", "SUIJI_EVIDENCE_BUCKET", "SUIJI_DOCUMENTS_BUCKET"} {
		fs.env = append(fs.env, k+"="+os.Getenv(k))
	}
	fs.env = append(fs.env, "SUIJI_ENV=test", "SUIJI_ADMIN_PASSWORD="+faultPassword, "SUIJI_LOG_FORMAT=json", "SUIJI_LOG_LEVEL=warn")
	return fs
}

// instance is one `suiji serve` process.
type instance struct {
	*storagetest.Process
	base string
}

// startInstance starts an API instance with the stack's settings plus
// extra (later settings win) and waits until /readyz answers 200.
func startInstance(t *testing.T, env []string, extra ...string) *instance {
	t.Helper()
	port := freePort(t)
	env = append(append(append([]string{}, env...), extra...), fmt.Sprintf("SUIJI_HTTP_ADDR=127.0.0.1:%d", port))
	in := &instance{base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	in.Process = storagetest.StartProcess(t, t.TempDir(), os.Args[0], env, childCommand, "serve")
	in.waitReady(t)
	return in
}

func (in *instance) waitReady(t *testing.T) {
	t.Helper()
	in.WaitFor("/readyz 200", 60*time.Second, func(ctx context.Context) error {
		if !in.Running() {
			return fmt.Errorf("exited")
		}
		st, _, err := send(ctx, in.base, "GET", "/readyz", "", "", nil, "")
		if err == nil && st != 200 {
			err = fmt.Errorf("readyz %d", st)
		}
		return err
	})
}

// send makes one request and returns its status and body.
func send(ctx context.Context, base, method, path, token, key string, body []byte, contentType string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if contentType == "" && body != nil {
		contentType = "application/json"
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// must sends a request that must answer want.
func must(t *testing.T, base, method, path, token string, body string, want int) []byte {
	t.Helper()
	st, b, err := send(t.Context(), base, method, path, token, "", []byte(body), "")
	if err != nil || st != want {
		t.Fatalf("%s %s: %d %s (%v), want %d", method, path, st, b, err, want)
	}
	return b
}

func login(t *testing.T, base, user string) string {
	t.Helper()
	b := must(t, base, "POST", "/api/v1/auth/login", "", fmt.Sprintf(`{"username":%q,"password":%q}`, user, faultPassword), 200)
	var s struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(b, &s)
	return s.AccessToken
}

// outcome is one request of a load loop.
type outcome struct {
	at      time.Time
	status  int
	code    string
	latency time.Duration
	err     error
}

// loadLoop sends GET path with token from workers goroutines until ctx
// ends, and returns what each request got.
func loadLoop(ctx context.Context, base, path, token string, workers int) <-chan []outcome {
	out := make(chan []outcome, 1)
	go func() {
		results := make(chan outcome, 1024)
		done := make(chan struct{})
		var all []outcome
		go func() {
			for r := range results {
				all = append(all, r)
			}
			close(done)
		}()
		var wg = make(chan struct{}, workers)
		for range workers {
			go func() {
				defer func() { wg <- struct{}{} }()
				for ctx.Err() == nil {
					start := time.Now()
					rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					st, b, err := send(rctx, base, "GET", path, token, "", nil, "")
					cancel()
					var e struct {
						Error struct {
							Code string `json:"code"`
						} `json:"error"`
					}
					_ = json.Unmarshal(b, &e)
					results <- outcome{at: start, status: st, code: e.Error.Code, latency: time.Since(start), err: err}
					time.Sleep(50 * time.Millisecond)
				}
			}()
		}
		for range workers {
			<-wg
		}
		close(results)
		<-done
		out <- all
	}()
	return out
}

// TestFaultsDatabaseRestartUnderLoad stops the database (a FerretDB of the
// test's own, SIGKILL) under a steady load: while it is down every request
// fails fast with 503 EUNAVAILABLE and /readyz says 503; started again on
// the same files, the instance serves again by itself, without a restart,
// and nothing answers 500.
func TestFaultsDatabaseRestartUnderLoad(t *testing.T) {
	useTestStores(t) // buckets and Redis prefix; the database is our own
	fdb, uri := storagetest.FerretDB(t)
	in := startInstance(t, nil, "SUIJI_MONGO_URI="+uri, "SUIJI_MONGO_DATABASE=faults", "SUIJI_ENV=test",
		"SUIJI_ADMIN_PASSWORD="+faultPassword, "SUIJI_LOG_FORMAT=json", "SUIJI_LOG_LEVEL=warn")
	token := login(t, in.base, "admin")

	ctx, stop := context.WithCancel(t.Context())
	results := loadLoop(ctx, in.base, "/api/v1/departments", token, 4)
	time.Sleep(2 * time.Second)
	downAt := time.Now()
	fdb.Kill()
	// Down longer than two server-selection timeouts (5 s), so that every
	// worker has at least one request wholly inside the outage.
	time.Sleep(12 * time.Second)
	st, body, _ := send(t.Context(), in.base, "GET", "/readyz", "", "", nil, "")
	if st != 503 || !strings.Contains(string(body), "mongodb") {
		t.Errorf("/readyz with the database down: %d %s, want 503 naming mongodb", st, body)
	}
	upAt := time.Now()
	fdb.Start()
	var recovered time.Time
	err := storagetest.Eventually(t.Context(), 60*time.Second, func(ctx context.Context) error {
		st, _, err := send(ctx, in.base, "GET", "/api/v1/departments", token, "", nil, "")
		if err == nil && st != 200 {
			err = fmt.Errorf("status %d", st)
		}
		return err
	})
	if err != nil {
		t.Fatalf("the instance did not serve again within 60 s of the database's return: %v\n%s", err, in.Tail())
	}
	recovered = time.Now()
	time.Sleep(2 * time.Second)
	stop()
	all := <-results
	t.Logf("database down %s, served again %s after its restart; %d requests",
		upAt.Sub(downAt).Round(100*time.Millisecond), recovered.Sub(upAt).Round(100*time.Millisecond), len(all))

	var during, after, slow int
	statuses := map[int]int{}
	var maxDown time.Duration
	defer func() { t.Logf("statuses %v; slowest answer while down %s", statuses, maxDown.Round(time.Millisecond)) }()
	for _, r := range all {
		statuses[r.status]++
		if r.err != nil {
			t.Errorf("a request got no answer: %v", r.err)
			continue
		}
		if r.status >= 500 && r.status != 503 {
			t.Errorf("a request answered %d %s; only 503 is expected while the database is down", r.status, r.code)
		}
		// Only requests answered before the restart count as "while down": one
		// still waiting for a server when the database returns may rightly
		// be served (the driver selects the server again), and answer 200.
		if r.at.After(downAt.Add(time.Second)) && r.at.Add(r.latency).Before(upAt) {
			during++
			if r.status != 503 || r.code != backend.EUNAVAILABLE {
				t.Errorf("while down: %d %s, want 503 EUNAVAILABLE", r.status, r.code)
			}
			if r.latency > 7*time.Second {
				slow++
			}
			maxDown = max(maxDown, r.latency)
		}
		if r.at.After(recovered) {
			after++
			if r.status != 200 {
				t.Errorf("after recovery: %d %s", r.status, r.code)
			}
		}
	}
	if during == 0 || after == 0 {
		t.Errorf("%d requests while down, %d after recovery: the load did not cover both", during, after)
	}
	if slow > 0 {
		t.Errorf("%d of %d requests while down took over 7 s: they must fail fast", slow, during)
	}
}

// TestFaultsRedisMasterKilledUnderSentinel kills the Redis master of a
// Sentinel set under a running instance while a draw is asked for: the
// instance serves again within seconds without a restart, the draw —
// repeated with its Idempotency-Key until it succeeds — is stored once.
func TestFaultsRedisMasterKilledUnderSentinel(t *testing.T) {
	fs := newFaultStack(t)
	set := storagetest.RedisSentinel(t)
	in := startInstance(t, fs.env, "SUIJI_REDIS_URL="+set.URL)
	coord, leader := login(t, in.base, "coordinator"), login(t, in.base, "leader")
	items, _ := json.Marshal(fs.world.Items)
	var plan struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(must(t, in.base, "POST", "/api/v1/plans", coord, fmt.Sprintf(`{"year":2026,"title":"哨兵故障","kind":"undirected","item_ids":%s,
		"lead_department_id":%q,"sample":{"ratio":0.2},"group_size":2,"window":{"start":"2026-03-01","end":"2026-12-31"}}`, items, fs.world.Brigade.ID), 201), &plan)
	must(t, in.base, "POST", "/api/v1/plans/"+plan.ID+"/approve", leader, "", 200)
	must(t, in.base, "POST", "/api/v1/plans/"+plan.ID+"/commit", coord, "", 200)

	// Sessions written in the last moment before the master dies are lost
	// with it (asynchronous replication; see deploy/README.md): let the
	// replica catch up first, as it does within milliseconds.
	if err := set.WaitReplicated(t.Context()); err != nil {
		t.Fatal(err)
	}
	set.Master.Kill()
	killed := time.Now()
	key := fmt.Sprintf("sentinel-%d", rand.Int64())
	var st int
	var body []byte
	for {
		var err error
		st, body, err = send(t.Context(), in.base, "POST", "/api/v1/plans/"+plan.ID+"/draws", coord, key, []byte(`{}`), "")
		if err == nil && st == 201 {
			break
		}
		if err == nil && st != 503 && st != 409 {
			t.Fatalf("draw during the failover: %d %s; want 503 (Redis down), 409 (claim held) or 201", st, body)
		}
		if time.Since(killed) > 60*time.Second {
			t.Fatalf("no draw within 60 s of the master's death: %d %s (%v)\n%s", st, body, err, in.Tail())
		}
		time.Sleep(300 * time.Millisecond)
	}
	took := time.Since(killed)
	t.Logf("draw stored %s after the Redis master was killed", took.Round(100*time.Millisecond))
	if took > 30*time.Second {
		t.Errorf("serving again took %s; want seconds", took)
	}
	// A repeat is the same answer; a new sign-in works on the new master.
	st2, body2, _ := send(t.Context(), in.base, "POST", "/api/v1/plans/"+plan.ID+"/draws", coord, key, []byte(`{}`), "")
	if st2 != 201 || !bytes.Equal(body2, body) {
		t.Errorf("repeat with the same key: %d, same body %t", st2, bytes.Equal(body2, body))
	}
	login(t, in.base, "leader")
	draws, err := fs.db.Draws().FindDrawsByPlan(t.Context(), plan.ID)
	if err != nil || len(draws) != 1 {
		t.Fatalf("%d draws stored (%v), want exactly 1", len(draws), err)
	}
}
