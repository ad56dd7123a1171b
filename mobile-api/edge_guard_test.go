package mobileapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/accounts"
	"suiji/storage/cache"
)

// changeBeforeCreate is the sign-in's session store with a change of the
// account made just before the session is created: after the password was
// checked, before the family is listed for the user — the interleaving of
// a sign-in with a password change (or a disable) that the change's
// revocation cannot see.
type changeBeforeCreate struct {
	backend.RefreshTokenStore
	once   sync.Once
	change func()
	family string // the family the sign-in created
}

func (c *changeBeforeCreate) CreateFamily(ctx context.Context, familyID, userID, tokenHash string, ttl time.Duration) error {
	c.once.Do(c.change)
	c.family = familyID
	return c.RefreshTokenStore.CreateFamily(ctx, familyID, userID, tokenHash, ttl)
}

// TestASignInOverlappingAChangeKeepsNoSession: an inspector signs in with
// the old password while an admin changes it (or disables the account),
// the change landing between the password's check and the session's
// creation. The sign-in is answered like a wrong password, and the session
// it created is revoked: neither its refresh token nor its access token
// (had they been handed out) works. The new password signs in.
func TestASignInOverlappingAChangeKeepsNoSession(t *testing.T) {
	for _, tc := range []struct {
		name  string
		patch accounts.UserPatch
	}{
		{"password", accounts.UserPatch{Password: new("a-brand-new-password")}},
		{"disabled", accounts.UserPatch{Disabled: new(true)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newAPIEnv(t, Config{})
			inspector, admin := env.users["inspector"], env.users["admin"]
			wrong, wrongBody := env.call(t, "", "POST", "/api/v1/auth/login",
				`{"username":"inspector1","password":"not the password"}`, nil)
			if wrong.StatusCode != 401 {
				t.Fatalf("a wrong password: %d", wrong.StatusCode)
			}
			hook := &changeBeforeCreate{RefreshTokenStore: env.svc.Auth.Sessions, change: func() {
				ctx := backend.WithActor(context.Background(), &backend.Actor{UserID: admin.ID, Username: admin.Username, Roles: admin.Roles})
				if _, err := env.svc.Accounts.UpdateUser(ctx, inspector.ID, tc.patch); err != nil {
					t.Errorf("the admin's change: %v", err)
				}
			}}
			orig := env.svc.Auth.Sessions
			env.svc.Auth.Sessions = hook
			resp, body := env.call(t, "", "POST", "/api/v1/auth/login",
				`{"username":"inspector1","password":"`+testPassword+`"}`, nil)
			env.svc.Auth.Sessions = orig
			if hook.family == "" {
				t.Fatal("the sign-in created no session")
			}

			if resp.StatusCode == 200 {
				// The session was handed out: it must be dead all the same.
				var s sessionResponse
				if err := json.Unmarshal(body, &s); err != nil {
					t.Fatal(err)
				}
				if status, _ := refresh(t, env, s.RefreshToken); status != 401 {
					t.Errorf("the overlapping sign-in's refresh token: %d, want 401", status)
				}
				if r, _ := env.call(t, s.AccessToken, "GET", "/api/v1/me", "", nil); r.StatusCode != 401 {
					t.Errorf("the overlapping sign-in's access token: %d, want 401", r.StatusCode)
				}
			}
			if resp.StatusCode != 401 {
				t.Fatalf("the sign-in overlapping the change: %d, want 401: %s", resp.StatusCode, body)
			}
			if got, want := decodeError(t, body), decodeError(t, wrongBody); got.Code != want.Code || got.Message != want.Message {
				t.Errorf("answer %+v, want the wrong password's %+v", got, want)
			}
			if active, err := env.svc.Auth.Sessions.FamilyActive(t.Context(), hook.family); err != nil || active {
				t.Errorf("the session the sign-in created is active %v (%v), want revoked", active, err)
			}

			if tc.patch.Password != nil {
				if status := loginStatus(env, "inspector1", *tc.patch.Password, ""); status != 200 {
					t.Errorf("the new password: %d, want 200", status)
				}
			}
		})
	}
}

// TestSessionsPerUserAreCapped: cache.MaxUserSessions+1 sign-ins of one
// user. The first session is ended by the last (refresh and access token
// refused); the others all work.
func TestSessionsPerUserAreCapped(t *testing.T) {
	env := newAPIEnv(t, Config{})
	sessions := make([]sessionResponse, cache.MaxUserSessions+1)
	for i := range sessions {
		sessions[i] = env.login(t, "inspector")
	}
	first := sessions[0]
	if r, _ := env.call(t, first.AccessToken, "GET", "/api/v1/me", "", nil); r.StatusCode != 401 {
		t.Errorf("the oldest session's access token after %d more sign-ins: %d, want 401", cache.MaxUserSessions, r.StatusCode)
	}
	if status, _ := refresh(t, env, first.RefreshToken); status != 401 {
		t.Errorf("the oldest session's refresh token: %d, want 401", status)
	}
	for i, s := range sessions[1:] {
		if r, body := env.call(t, s.AccessToken, "GET", "/api/v1/me", "", nil); r.StatusCode != 200 {
			t.Errorf("session %d's access token: %d %s", i+2, r.StatusCode, body)
		}
		if status, _ := refresh(t, env, s.RefreshToken); status != 200 {
			t.Errorf("session %d's refresh token: %d, want 200", i+2, status)
		}
	}
}

// TestMetricsCountTheBacklogOncePerWindow: /metrics answers anyone, and
// counting the outboxes scans collections, so scrapes in a row share one
// count: an alert added to the push outbox between two scrapes does not
// show in the second.
func TestMetricsCountTheBacklogOncePerWindow(t *testing.T) {
	env := newAPIEnv(t, Config{})
	pending := regexp.MustCompile(`(?m)^suiji_push_outbox_pending (\d+)$`)
	scrape := func() string {
		t.Helper()
		resp, body := env.call(t, "", "GET", "/metrics", "", nil)
		m := pending.FindSubmatch(body)
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("/metrics: %d without suiji_push_outbox_pending", resp.StatusCode)
		}
		return string(m[1])
	}
	before := scrape()
	now := time.Now().UTC()
	if err := env.db.PushOutbox().AddPushBatches(t.Context(), []*backend.PushBatch{{
		ID: "batch-metrics", NotificationIDs: []string{"n1", "n2", "n3"}, State: backend.PushPending, NextAt: now, CreatedAt: now,
	}}); err != nil {
		t.Fatal(err)
	}
	if n, err := env.svc.Notify.PushBacklog(t.Context()); err != nil || fmt.Sprint(n) == before {
		t.Fatalf("the backlog is %d (%v) after adding three alerts to %s", n, err, before)
	}
	if after := scrape(); after != before {
		t.Errorf("the second scrape counted again: %s, then %s", before, after)
	}
}

// TestPublicPathsAreMatchedAsWritten: routes match case-sensitively, so
// /PUBLIC/v1/… (which would skip the public limit and caching, decided on
// the lower-case prefix) reaches no handler, nor does any other path in
// another case; the paths as written work.
func TestPublicPathsAreMatchedAsWritten(t *testing.T) {
	env := newAPIEnv(t, Config{})
	for _, path := range []string{"/PUBLIC/v1/plans", "/Public/v1/plans", "/public/V1/plans", "/API/v1/me", "/Console/", "/APP/"} {
		if resp, body := env.call(t, "", "GET", path, "", nil); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404: %.200s", path, resp.StatusCode, body)
		}
	}
	resp, body := env.call(t, "", "GET", "/public/v1/plans", "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == "" {
		t.Errorf("GET /public/v1/plans: %d, ETag %q: %.200s", resp.StatusCode, resp.Header.Get("ETag"), body)
	}
	for _, path := range []string{"/console/", "/app/", "/"} {
		if resp, _ := do(t, env.srv, httptest.NewRequest("GET", path, nil)); resp.StatusCode != 200 {
			t.Errorf("GET %s: %d, want 200", path, resp.StatusCode)
		}
	}
}
