package mobileapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/accounts"
	"suiji/backend/app"
	"suiji/backend/auth"
	"suiji/backend/cmd/wire"
	"suiji/backend/config"
	"suiji/storage/cache"
	"suiji/storage/mongodb"
	"suiji/storage/storagetest"
)

// testJWTKey signs access tokens in API tests.
const testJWTKey = "suiji-api-test-key-0123456789abcdef"

// testPassword is every test user's password.
const testPassword = "correct horse battery"

// apiEnv is a full API server on the real test stack (its own database and
// key prefix), with every service built by wire.Services as in production,
// and one user per role. Tests that need another clock or setting change
// the service through env.svc (its fields are pointers the server shares).
type apiEnv struct {
	srv   *Server
	svc   app.Services
	db    *mongodb.DB
	cache *cache.Cache
	stack *config.Config           // the test stack's configuration the services were built with
	users map[string]*backend.User // by role name; "admin" is the bootstrap admin
}

// matrixRoles are the callers the authorisation matrix tries; "" is the
// anonymous public.
var matrixRoles = []string{"", "admin", "coordinator", "staff", "leader", "inspector"}

// newAPIEnv builds the environment of one API test, which runs in parallel
// with the package's other such tests: each has its own database and key
// prefix, and most of a test's time is spent waiting on the stack. Tests
// that measure the process (memory, timing) use newSerialAPIEnv instead:
// Go runs them before any parallel test resumes, so nothing else runs in
// the process meanwhile.
func newAPIEnv(t *testing.T, cfg Config) *apiEnv {
	t.Helper()
	t.Parallel()
	return newSerialAPIEnv(t, cfg)
}

// newSerialAPIEnv is newAPIEnv for a test that must run alone.
func newSerialAPIEnv(t testing.TB, cfg Config) *apiEnv {
	t.Helper()
	env := &apiEnv{db: storagetest.Mongo(t), cache: storagetest.Redis(t), users: map[string]*backend.User{}}
	stack := storagetest.Config(t)
	stack.JWTKey = testJWTKey
	env.stack = stack
	env.svc = wire.Services(&wire.Stores{Mongo: env.db, Cache: env.cache}, stack, func() time.Time { return time.Now().UTC() })
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = 1 << 20
	}
	env.srv = New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, env.svc)

	ctx := context.Background()
	if _, err := env.svc.Auth.EnsureAdmin(ctx, "admin", testPassword); err != nil {
		t.Fatalf("bootstrap admin: %v", err)
	}
	admin, err := env.db.Users().FindUserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	env.users["admin"] = admin
	system := backend.WithActor(ctx, &backend.Actor{UserID: admin.ID, Username: admin.Username, Roles: admin.Roles})
	for _, role := range []backend.Role{backend.RoleCoordinator, backend.RoleStaff, backend.RoleLeader, backend.RoleInspector} {
		u, err := env.svc.Accounts.CreateUser(system, accounts.NewUser{
			Username: string(role) + "1", Password: testPassword, DisplayName: "Test " + string(role),
			Roles: []backend.Role{role}, DepartmentID: "dept-1",
		})
		if err != nil {
			t.Fatalf("creating %s: %v", role, err)
		}
		env.users[string(role)] = u
	}
	return env
}

// login signs in as the user of role and returns the session body.
func (env *apiEnv) login(t testing.TB, role string) sessionResponse {
	t.Helper()
	resp, body := env.call(t, "", "POST", "/api/v1/auth/login",
		`{"username":"`+env.users[role].Username+`","password":"`+testPassword+`"}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("login as %s: %d %s", role, resp.StatusCode, body)
	}
	var s sessionResponse
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// call sends one request with an optional bearer token.
func (env *apiEnv) call(t testing.TB, token, method, path, body string, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return do(t, env.srv, req)
}

// scenario is one API call and what must come of it, in the style of
// pocketbase's ApiScenario.
type scenario struct {
	name        string
	as          string // role to sign in as; "" anonymous
	token       string // explicit bearer token (overrides as)
	method      string
	path        string
	body        string
	headers     map[string]string
	wantStatus  int
	wantCode    string   // error code when wantStatus is an error
	wantContain []string // substrings the body must contain
	wantAbsent  []string // substrings it must not contain
	after       func(t *testing.T, env *apiEnv, resp *http.Response, body []byte)
}

func (sc scenario) run(t *testing.T, env *apiEnv) {
	t.Helper()
	token := sc.token
	if token == "" && sc.as != "" {
		token = env.login(t, sc.as).AccessToken
	}
	resp, body := env.call(t, token, sc.method, sc.path, sc.body, sc.headers)
	if resp.StatusCode != sc.wantStatus {
		t.Fatalf("%s %s as %q: status %d, want %d: %s", sc.method, sc.path, sc.as, resp.StatusCode, sc.wantStatus, body)
	}
	if sc.wantCode != "" {
		if e := decodeError(t, body); e.Code != sc.wantCode {
			t.Fatalf("error code %q, want %q", e.Code, sc.wantCode)
		}
	}
	for _, s := range sc.wantContain {
		if !strings.Contains(string(body), s) {
			t.Errorf("body lacks %q: %s", s, body)
		}
	}
	for _, s := range sc.wantAbsent {
		if strings.Contains(string(body), s) {
			t.Errorf("body contains %q: %s", s, body)
		}
	}
	if sc.after != nil {
		sc.after(t, env, resp, body)
	}
}

// importOutcome is the one answer shape of every spreadsheet import: a
// summary and the report when the file was taken; the error shape with the
// report beside it when a row was rejected and nothing stored.
type importOutcome struct {
	Summary string `json:"summary"`
	Partial bool   `json:"partial"`
	Error   struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
	Report struct {
		Total, Created, Updated, Unchanged, Rejected int
		Errors                                       []struct {
			Line    int    `json:"line"`
			Field   string `json:"field"`
			Header  string `json:"header"`
			Message string `json:"message"`
		} `json:"errors"`
		Warnings []string `json:"warnings"`
	} `json:"report"`
}

// decodeImport decodes an import's answer strictly: no field beyond the
// shape above.
func decodeImport(t *testing.T, body []byte) importOutcome {
	t.Helper()
	var out importOutcome
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("import answer %s is not the import shape: %v", body, err)
	}
	return out
}

// updateUser stores u as an administrator's change does: through the
// stamped store (auth.StampedUsers), so that an instance keeping users in
// memory sees the change at its next request.
func (e *apiEnv) updateUser(ctx context.Context, u *backend.User) error {
	return auth.StampedUsers{UserStore: e.db.Users(), Stamps: e.cache.Sessions()}.UpdateUser(ctx, u)
}

// checkFeedsNameStoredVersions checks that the task feed of every member
// of every stored task names the task's stored version (or names none: an
// entry from before versions): every change that reaches the store also
// reaches the group's feeds, so that phones' syncs — answered from tasks
// held in memory at the version the feed names — show it.
func (e *apiEnv) checkFeedsNameStoredVersions(t *testing.T) {
	t.Helper()
	tasks, _, err := e.db.Tasks().FindTasks(t.Context(), backend.TaskFilter{Limit: backend.TaskMaxLimit, NoTotal: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		for _, u := range task.MemberUserIDs() {
			f, err := e.db.TaskFeeds().TaskFeed(t.Context(), u, 0)
			if err != nil {
				t.Fatal(err)
			}
			v, named := backend.MinVersions(f.Entries)[task.ID]
			if !named || (v != 0 && v != int64(task.Version)) {
				t.Errorf("task %s (%s) is at version %d; %s's feed names version %d (named: %v)", task.ID, task.State, task.Version, u, v, named)
			}
		}
	}
}
