package mobileapi

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"suiji/backend"
)

// loginStatus signs in from any goroutine (no t.Fatal) and returns the
// status; from, when set, is the address a trusted proxy reports.
func loginStatus(env *apiEnv, username, password, from string) int {
	req := httptest.NewRequest("POST", "/api/v1/auth/login", strings.NewReader(`{"username":"`+username+`","password":"`+password+`"}`))
	req.Header.Set("Content-Type", "application/json")
	if from != "" {
		req.Header.Set("X-Forwarded-For", from)
	}
	resp, err := env.srv.App().Test(req, -1)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestParallelWrongPasswordsAreCountedFirst: 40 wrong passwords for one
// user at once. Each is counted before its password is checked, so at most
// the limit (10) are checked and answered 401; the rest get 429 without
// costing an argon2id computation.
func TestParallelWrongPasswordsAreCountedFirst(t *testing.T) {
	env := newAPIEnv(t, Config{})
	statuses := make([]int, 40)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range statuses {
		wg.Go(func() {
			<-start
			statuses[i] = loginStatus(env, "inspector1", fmt.Sprintf("guess-%02d", i), "")
		})
	}
	close(start)
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	if counts[401] > 10 || counts[401]+counts[429] != 40 {
		t.Fatalf("answers %v: want at most 10 of 401 and the rest 429", counts)
	}
}

// TestAStrangerCannotLockTheOwnerOut: someone guessing the coordinator's
// password from their own address locks only that address out of the
// account; the coordinator signs in from the office as usual.
func TestAStrangerCannotLockTheOwnerOut(t *testing.T) {
	env := newAPIEnv(t, Config{TrustedProxies: []string{"0.0.0.0"}}) // the test is the proxy
	for i := range 15 {
		loginStatus(env, "coordinator1", fmt.Sprintf("guess-%d", i), "203.0.113.66")
	}
	if status := loginStatus(env, "coordinator1", testPassword, "203.0.113.66"); status != 429 {
		t.Fatalf("the stranger's address after 15 guesses: %d, want 429", status)
	}
	if status := loginStatus(env, "coordinator1", testPassword, "10.0.0.8"); status != 200 {
		t.Fatalf("the coordinator from the office: %d, want 200", status)
	}
}

// TestWrongCurrentPasswordsAreThrottled: PATCH /me with a wrong current
// password counts like a failed sign-in, so a stolen session cannot guess
// the password to change it: after ten, even the right one waits.
func TestWrongCurrentPasswordsAreThrottled(t *testing.T) {
	env := newAPIEnv(t, Config{})
	token := env.login(t, "inspector").AccessToken
	for i := range 10 {
		scenario{token: token, method: "PATCH", path: "/api/v1/me",
			body:       fmt.Sprintf(`{"current_password":"guess-%d","new_password":"a-new-password-1"}`, i),
			wantStatus: 400, wantCode: backend.EINVALID}.run(t, env)
	}
	scenario{token: token, method: "PATCH", path: "/api/v1/me",
		body:       `{"current_password":"` + testPassword + `","new_password":"a-new-password-1"}`,
		wantStatus: 429, wantCode: backend.ERATELIMIT}.run(t, env)
	scenario{token: token, method: "PATCH", path: "/api/v1/me", body: `{"new_password":"a-new-password-1"}`,
		wantStatus: 400, wantCode: backend.EINVALID, wantContain: []string{"current_password"}}.run(t, env)
}

// TestChangingThePasswordEndsSessions: a user who sets a new password
// (perhaps because the old one leaked) ends every session: the access and
// refresh tokens of this and every other sign-in stop working, and the new
// password signs in.
func TestChangingThePasswordEndsSessions(t *testing.T) {
	env := newAPIEnv(t, Config{})
	phone := env.login(t, "inspector")
	laptop := env.login(t, "inspector")
	scenario{token: laptop.AccessToken, method: "PATCH", path: "/api/v1/me",
		body:       `{"current_password":"` + testPassword + `","new_password":"another horse battery"}`,
		wantStatus: 200}.run(t, env)
	for name, s := range map[string]sessionResponse{"phone": phone, "laptop": laptop} {
		scenario{token: s.AccessToken, method: "GET", path: "/api/v1/me", wantStatus: 401, wantCode: backend.EUNAUTHORIZED}.run(t, env)
		if status, _ := refresh(t, env, s.RefreshToken); status != 401 {
			t.Errorf("%s's refresh token after the change: %d, want 401", name, status)
		}
	}
	if status := loginStatus(env, "inspector1", testPassword, ""); status != 401 {
		t.Errorf("the old password: %d, want 401", status)
	}
	if status := loginStatus(env, "inspector1", "another horse battery", ""); status != 200 {
		t.Errorf("the new password: %d, want 200", status)
	}
}
