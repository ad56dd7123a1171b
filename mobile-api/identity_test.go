package mobileapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"suiji/backend"
	"suiji/backend/accounts"
	"suiji/backend/auth"
	"suiji/storage/cache"
)

func TestLoginAndMe(t *testing.T) {
	env := newAPIEnv(t, Config{})
	s := env.login(t, "inspector")
	if s.AccessToken == "" || s.RefreshToken == "" || s.TokenType != "Bearer" || s.ExpiresIn < 600 || s.ExpiresIn > 1800 {
		t.Fatalf("session %+v", s)
	}
	if s.User.Username != "inspector1" || !strings.Contains(strings.Join(rolesOf(s.User.Roles), ","), "inspector") {
		t.Fatalf("user %+v", s.User)
	}
	scenario{
		name: "me", token: s.AccessToken, method: "GET", path: "/api/v1/me",
		wantStatus: 200, wantContain: []string{`"username":"inspector1"`}, wantAbsent: []string{"password", "argon2"},
	}.run(t, env)
}

func rolesOf(rs []backend.Role) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r))
	}
	return out
}

func TestLoginBadInput(t *testing.T) {
	env := newAPIEnv(t, Config{BodyLimit: 2048})
	wrongPassword := scenario{method: "POST", path: "/api/v1/auth/login", body: `{"username":"inspector1","password":"wrong password!"}`, wantStatus: 401, wantCode: backend.EUNAUTHORIZED}
	unknownUser := scenario{method: "POST", path: "/api/v1/auth/login", body: `{"username":"nobody","password":"wrong password!"}`, wantStatus: 401, wantCode: backend.EUNAUTHORIZED}
	var bodies []string
	for _, sc := range []scenario{wrongPassword, unknownUser} {
		sc.after = func(t *testing.T, _ *apiEnv, _ *http.Response, body []byte) { bodies = append(bodies, string(body)) }
		sc.run(t, env)
	}
	if bodies[0] != bodies[1] {
		t.Errorf("unknown user and wrong password can be told apart:\n%s\n%s", bodies[0], bodies[1])
	}

	for _, sc := range []scenario{
		{name: "malformed JSON", method: "POST", path: "/api/v1/auth/login", body: `{"username":`, wantStatus: 400, wantCode: backend.EINVALID},
		{name: "wrong type", method: "POST", path: "/api/v1/auth/login", body: `{"username":5,"password":"x"}`, wantStatus: 400, wantCode: backend.EINVALID, wantContain: []string{`"username"`}},
		{name: "missing fields", method: "POST", path: "/api/v1/auth/login", body: `{}`, wantStatus: 400, wantCode: backend.EINVALID, wantContain: []string{`"username":"required"`, `"password":"required"`}},
		{name: "empty refresh", method: "POST", path: "/api/v1/auth/refresh", body: `{}`, wantStatus: 400, wantCode: backend.EINVALID},
		{name: "forged refresh", method: "POST", path: "/api/v1/auth/refresh", body: `{"refresh_token":"AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`, wantStatus: 401, wantCode: backend.EUNAUTHORIZED},
	} {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, env) })
	}
}

// TestAccessTokenForgeries: every kind of bad token gets 401 with the JSON
// error shape.
func TestAccessTokenForgeries(t *testing.T) {
	env := newAPIEnv(t, Config{})
	good := env.login(t, "inspector").AccessToken
	admin := env.users["admin"]
	parts := strings.Split(good, ".")

	var claims map[string]any
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	sign := func(method jwt.SigningMethod, key any, mutate func(jwt.MapClaims)) string {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		if mutate != nil {
			mutate(c)
		}
		tok, err := jwt.NewWithClaims(method, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// Altered claims keep the original signature: the payload now says admin.
	claims2 := map[string]any{}
	for k, v := range claims {
		claims2[k] = v
	}
	claims2["sub"] = admin.ID
	altered, _ := json.Marshal(claims2)
	alteredToken := parts[0] + "." + base64.RawURLEncoding.EncodeToString(altered) + "." + parts[2]

	forgeries := map[string]string{
		"alg none":        sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil),
		"altered claims":  alteredToken,
		"wrong key":       sign(jwt.SigningMethodHS256, []byte("another-key-another-key-another-key"), nil),
		"HS512 right key": sign(jwt.SigningMethodHS512, []byte(testJWTKey), nil),
		"expired":         sign(jwt.SigningMethodHS256, []byte(testJWTKey), func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }),
		"wrong audience":  sign(jwt.SigningMethodHS256, []byte(testJWTKey), func(c jwt.MapClaims) { c["aud"] = "someone-else" }),
		"wrong issuer":    sign(jwt.SigningMethodHS256, []byte(testJWTKey), func(c jwt.MapClaims) { c["iss"] = "evil" }),
		"no expiry":       sign(jwt.SigningMethodHS256, []byte(testJWTKey), func(c jwt.MapClaims) { delete(c, "exp") }),
		"garbage":         "not.a.token",
		// Validly signed, but naming no user or no session.
		"empty subject": sign(jwt.SigningMethodHS256, []byte(testJWTKey), func(c jwt.MapClaims) { c["sub"] = "" }),
		"no subject":    sign(jwt.SigningMethodHS256, []byte(testJWTKey), func(c jwt.MapClaims) { delete(c, "sub") }),
		"empty session": sign(jwt.SigningMethodHS256, []byte(testJWTKey), func(c jwt.MapClaims) { c["fid"] = "" }),
		"no session":    sign(jwt.SigningMethodHS256, []byte(testJWTKey), func(c jwt.MapClaims) { delete(c, "fid") }),
	}
	for name, tok := range forgeries {
		t.Run(name, func(t *testing.T) {
			scenario{token: tok, method: "GET", path: "/api/v1/me", wantStatus: 401, wantCode: backend.EUNAUTHORIZED}.run(t, env)
		})
	}
	// The genuine token still works, so the 401s above are about the forgeries.
	scenario{token: good, method: "GET", path: "/api/v1/me", wantStatus: 200}.run(t, env)
}

func refresh(t *testing.T, env *apiEnv, token string) (int, sessionResponse) {
	t.Helper()
	resp, body := env.call(t, "", "POST", "/api/v1/auth/refresh", `{"refresh_token":"`+token+`"}`, nil)
	var s sessionResponse
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatal(err)
		}
	} else {
		decodeError(t, body)
	}
	return resp.StatusCode, s
}

func TestRefreshRotationGraceAndReplay(t *testing.T) {
	env := newAPIEnv(t, Config{})
	s1 := env.login(t, "inspector")

	status, s2 := refresh(t, env, s1.RefreshToken)
	if status != 200 || s2.RefreshToken == s1.RefreshToken || s2.AccessToken == "" {
		t.Fatalf("rotation: %d %+v", status, s2)
	}
	// The phone lost that answer and retries with the old token: allowed
	// once within the grace window.
	status, s3 := refresh(t, env, s1.RefreshToken)
	if status != 200 {
		t.Fatalf("retry within grace: %d", status)
	}
	// A second use of the old token is a replay: 401 and the family dies.
	if status, _ := refresh(t, env, s1.RefreshToken); status != 401 {
		t.Fatalf("replay: %d, want 401", status)
	}
	if status, _ := refresh(t, env, s3.RefreshToken); status != 401 {
		t.Fatalf("newest token after replay: %d, want 401 (family revoked)", status)
	}
	scenario{token: s3.AccessToken, method: "GET", path: "/api/v1/me", wantStatus: 401, wantCode: backend.EUNAUTHORIZED}.run(t, env)

	// Another session of the same user is not affected.
	other := env.login(t, "inspector")
	scenario{token: other.AccessToken, method: "GET", path: "/api/v1/me", wantStatus: 200}.run(t, env)
}

func TestReplayOfOlderTokenRevokesFamily(t *testing.T) {
	env := newAPIEnv(t, Config{})
	s1 := env.login(t, "staff")
	_, s2 := refresh(t, env, s1.RefreshToken)
	_, s3 := refresh(t, env, s2.RefreshToken)
	// s1 is two rotations old: no grace for it.
	if status, _ := refresh(t, env, s1.RefreshToken); status != 401 {
		t.Fatalf("old token: %d, want 401", status)
	}
	if status, _ := refresh(t, env, s3.RefreshToken); status != 401 {
		t.Fatalf("current token after replay: %d, want 401", status)
	}
}

func TestLogoutRevokesFamily(t *testing.T) {
	env := newAPIEnv(t, Config{})
	s := env.login(t, "leader")
	scenario{token: s.AccessToken, method: "POST", path: "/api/v1/auth/logout", wantStatus: 204}.run(t, env)
	scenario{token: s.AccessToken, method: "GET", path: "/api/v1/me", wantStatus: 401, wantCode: backend.EUNAUTHORIZED}.run(t, env)
	if status, _ := refresh(t, env, s.RefreshToken); status != 401 {
		t.Fatalf("refresh after logout: %d", status)
	}
}

func TestDisabledUserIsLockedOutAtOnce(t *testing.T) {
	env := newAPIEnv(t, Config{})
	victim := env.login(t, "inspector")
	admin := env.login(t, "admin")
	scenario{token: admin.AccessToken, method: "PATCH", path: "/api/v1/users/" + env.users["inspector"].ID,
		body: `{"disabled":true}`, wantStatus: 200, wantContain: []string{`"disabled":true`}}.run(t, env)

	scenario{token: victim.AccessToken, method: "GET", path: "/api/v1/me", wantStatus: 401, wantCode: backend.EUNAUTHORIZED}.run(t, env)
	if status, _ := refresh(t, env, victim.RefreshToken); status != 401 {
		t.Fatalf("refresh of disabled user: %d", status)
	}
	scenario{method: "POST", path: "/api/v1/auth/login", body: `{"username":"inspector1","password":"` + testPassword + `"}`,
		wantStatus: 401, wantCode: backend.EUNAUTHORIZED}.run(t, env)

	// Enabled again, the user can sign in.
	scenario{token: admin.AccessToken, method: "PATCH", path: "/api/v1/users/" + env.users["inspector"].ID,
		body: `{"disabled":false}`, wantStatus: 200}.run(t, env)
	env.login(t, "inspector")
}

func TestNobodyChangesTheirOwnRolesOrDepartment(t *testing.T) {
	env := newAPIEnv(t, Config{})
	adminID := env.users["admin"].ID
	for _, sc := range []scenario{
		{name: "admin own roles", as: "admin", method: "PATCH", path: "/api/v1/users/" + adminID, body: `{"roles":["inspector"]}`, wantStatus: 403, wantCode: backend.EFORBIDDEN},
		{name: "admin own department", as: "admin", method: "PATCH", path: "/api/v1/users/" + adminID, body: `{"department_id":"x"}`, wantStatus: 403, wantCode: backend.EFORBIDDEN},
		{name: "admin disables self", as: "admin", method: "PATCH", path: "/api/v1/users/" + adminID, body: `{"disabled":true}`, wantStatus: 403, wantCode: backend.EFORBIDDEN},
		// A stolen admin session must not set the password without the current one.
		{name: "admin sets own password without the current one", as: "admin", method: "PATCH", path: "/api/v1/users/" + adminID,
			body: `{"password":"taken-over-2026"}`, wantStatus: 403, wantCode: backend.EFORBIDDEN, wantContain: []string{"/api/v1/me"}},
		{name: "admin renames self", as: "admin", method: "PATCH", path: "/api/v1/users/" + adminID, body: `{"display_name":"系统管理员"}`, wantStatus: 200},
		{name: "inspector via me", as: "inspector", method: "PATCH", path: "/api/v1/me", body: `{"roles":["admin"]}`, wantStatus: 403, wantCode: backend.EFORBIDDEN},
		{name: "staff department via me", as: "staff", method: "PATCH", path: "/api/v1/me", body: `{"department_id":"other"}`, wantStatus: 403, wantCode: backend.EFORBIDDEN},
		{name: "inspector via users", as: "inspector", method: "PATCH", path: "/api/v1/users/" + env.users["inspector"].ID, body: `{"roles":["admin"]}`, wantStatus: 403, wantCode: backend.EFORBIDDEN},
		{name: "display name is fine", as: "inspector", method: "PATCH", path: "/api/v1/me", body: `{"display_name":"张三"}`, wantStatus: 200, wantContain: []string{"张三"}},
	} {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, env) })
	}
	u, err := env.db.Users().FindUserByID(t.Context(), env.users["inspector"].ID)
	if err != nil || len(u.Roles) != 1 || u.Roles[0] != backend.RoleInspector {
		t.Fatalf("inspector's roles changed: %+v %v", u, err)
	}
}

func TestUserManagement(t *testing.T) {
	env := newAPIEnv(t, Config{})
	var id string
	for _, sc := range []scenario{
		{name: "create", as: "admin", method: "POST", path: "/api/v1/users",
			body:       `{"username":"Wang.Wei","password":"0123456789","display_name":"王伟","roles":["inspector","staff"],"department_id":"brigade"}`,
			wantStatus: 201, wantContain: []string{`"username":"wang.wei"`}, wantAbsent: []string{"password", "argon2"},
			after: func(t *testing.T, _ *apiEnv, resp *http.Response, body []byte) {
				var u userResponse
				_ = json.Unmarshal(body, &u)
				id = u.ID
				if resp.Header.Get("Location") != "/api/v1/users/"+id {
					t.Errorf("Location %q", resp.Header.Get("Location"))
				}
			}},
		{name: "duplicate", as: "admin", method: "POST", path: "/api/v1/users",
			body: `{"username":"wang.wei","password":"0123456789","display_name":"x","roles":["inspector"]}`, wantStatus: 409, wantCode: backend.ECONFLICT},
		{name: "bad fields", as: "admin", method: "POST", path: "/api/v1/users",
			body:       `{"username":"a","password":"short","display_name":"","roles":["pope"]}`,
			wantStatus: 400, wantCode: backend.EINVALID,
			wantContain: []string{`"username"`, `"password"`, `"display_name"`, `"roles"`}},
		{name: "inspector may not create", as: "inspector", method: "POST", path: "/api/v1/users",
			body: `{"username":"evil","password":"0123456789","display_name":"x","roles":["admin"]}`, wantStatus: 403, wantCode: backend.EFORBIDDEN},
		{name: "list filters", as: "admin", method: "GET", path: "/api/v1/users?role=staff&limit=10",
			wantStatus: 200, wantContain: []string{`"staff1"`, `"wang.wei"`}, wantAbsent: []string{`"inspector1"`}},
		{name: "bad limit", as: "admin", method: "GET", path: "/api/v1/users?limit=5000", wantStatus: 400, wantCode: backend.EINVALID},
	} {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, env) })
	}
	scenario{as: "admin", method: "GET", path: "/api/v1/users/" + id, wantStatus: 200, wantContain: []string{"王伟"}}.run(t, env)
	scenario{as: "admin", method: "GET", path: "/api/v1/users/0123456789abcdef01234567", wantStatus: 404, wantCode: backend.ENOTFOUND}.run(t, env)
	// The new user signs in with the password the admin set.
	scenario{method: "POST", path: "/api/v1/auth/login", body: `{"username":"WANG.WEI","password":"0123456789"}`, wantStatus: 200}.run(t, env)
	// The evil user was not created.
	if _, err := env.db.Users().FindUserByUsername(t.Context(), "evil"); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Fatalf("forbidden create stored a user: %v", err)
	}
}

func TestFailedLoginsAreThrottled(t *testing.T) {
	env := newAPIEnv(t, Config{})
	var last *http.Response
	var body []byte
	for i := range 30 {
		// A forged X-Forwarded-For on every attempt must not help: no proxy
		// is trusted, so the header is ignored.
		last, body = env.call(t, "", "POST", "/api/v1/auth/login", `{"username":"inspector1","password":"guess-`+strconv.Itoa(i)+`"}`,
			map[string]string{"X-Forwarded-For": "203.0.113." + strconv.Itoa(i)})
	}
	if last.StatusCode != 429 {
		t.Fatalf("30th wrong password: %d, want 429: %s", last.StatusCode, body)
	}
	if e := decodeError(t, body); e.Code != backend.ERATELIMIT {
		t.Fatalf("code %q", e.Code)
	}
	ra, err := strconv.Atoi(last.Header.Get("Retry-After"))
	if err != nil || ra <= 0 || ra > 15*60 {
		t.Fatalf("Retry-After %q", last.Header.Get("Retry-After"))
	}
	// Even the right password is refused while throttled.
	scenario{method: "POST", path: "/api/v1/auth/login", body: `{"username":"inspector1","password":"` + testPassword + `"}`,
		wantStatus: 429, wantCode: backend.ERATELIMIT}.run(t, env)
	// Another account from elsewhere is unaffected by the username limit.
	env.login(t, "staff")
}

func TestTrustedProxyForwardedFor(t *testing.T) {
	// app.Test connects from 0.0.0.0; trusting it makes the test the proxy.
	env := newAPIEnv(t, Config{TrustedProxies: []string{"0.0.0.0"}})
	loginFrom := func(hops, username, password string) int {
		t.Helper()
		resp, _ := env.call(t, "", "POST", "/api/v1/auth/login", `{"username":"`+username+`","password":"`+password+`"}`,
			map[string]string{"X-Forwarded-For": hops})
		return resp.StatusCode
	}
	// Ten failures, each for another username, from one forwarded address:
	// the address limit is far off, so a user there still signs in.
	for i := range 10 {
		loginFrom("198.51.100.7", "u"+strconv.Itoa(i), "wrong-password")
	}
	if status := loginFrom("198.51.100.7", "staff1", testPassword); status != 200 {
		t.Fatalf("address limit tripped too early: %d", status)
	}
	// A client that prepends a forged hop is still counted at the address
	// the proxy saw (the rightmost untrusted hop).
	for i := range 50 {
		loginFrom("10.9.9.9, 198.51.100.7", "x"+strconv.Itoa(i), "wrong-password")
	}
	if status := loginFrom("198.51.100.7", "coordinator1", testPassword); status != 429 {
		t.Fatalf("forwarded address not throttled: %d", status)
	}
	if status := loginFrom("10.9.9.9", "coordinator1", testPassword); status != 200 {
		t.Fatalf("the forged hop was counted: %d", status)
	}
}

func TestDevices(t *testing.T) {
	env := newAPIEnv(t, Config{})
	insp := env.login(t, "inspector").AccessToken
	staff := env.login(t, "staff").AccessToken

	var first deviceResponse
	scenario{token: insp, method: "POST", path: "/api/v1/me/devices", body: `{"token":"fcm-token-AAA111","platform":"android"}`, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, body []byte) { _ = json.Unmarshal(body, &first) }}.run(t, env)
	scenario{token: insp, method: "POST", path: "/api/v1/me/devices", body: `{"token":"fcm-token-BBB222","platform":"ios"}`, wantStatus: 201}.run(t, env)
	// Registering the same token again refreshes it rather than adding one.
	scenario{token: insp, method: "POST", path: "/api/v1/me/devices", body: `{"token":"fcm-token-AAA111","platform":"android"}`, wantStatus: 201,
		wantContain: []string{`"id":"` + first.ID + `"`}}.run(t, env)
	scenario{token: insp, method: "GET", path: "/api/v1/me/devices", wantStatus: 200,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, body []byte) {
			var l struct{ Devices []deviceResponse }
			_ = json.Unmarshal(body, &l)
			if len(l.Devices) != 2 {
				t.Fatalf("devices %+v", l.Devices)
			}
		}, wantAbsent: []string{"fcm-token-AAA111"}}.run(t, env)

	for _, sc := range []scenario{
		{name: "bad platform", token: insp, method: "POST", path: "/api/v1/me/devices", body: `{"token":"x","platform":"nokia"}`, wantStatus: 400, wantCode: backend.EINVALID, wantContain: []string{`"platform"`}},
		{name: "no token", token: insp, method: "POST", path: "/api/v1/me/devices", body: `{"platform":"ios"}`, wantStatus: 400, wantCode: backend.EINVALID},
		// Another user's device looks like no device at all.
		{name: "other user's device", token: staff, method: "DELETE", path: "/api/v1/me/devices/" + first.ID, wantStatus: 404, wantCode: backend.ENOTFOUND},
		{name: "own device", token: insp, method: "DELETE", path: "/api/v1/me/devices/" + first.ID, wantStatus: 204},
		{name: "gone", token: insp, method: "DELETE", path: "/api/v1/me/devices/" + first.ID, wantStatus: 404, wantCode: backend.ENOTFOUND},
	} {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, env) })
	}

	// A handed-over phone: the same push token registered by another user
	// moves to them.
	scenario{token: staff, method: "POST", path: "/api/v1/me/devices", body: `{"token":"fcm-token-BBB222","platform":"ios"}`, wantStatus: 201}.run(t, env)
	mine, err := env.db.Devices().FindDevicesByUser(t.Context(), env.users["inspector"].ID)
	if err != nil || len(mine) != 0 {
		t.Fatalf("inspector still has %d devices (%v)", len(mine), err)
	}
}

func TestIdempotencyKeyCreatesOneUser(t *testing.T) {
	env := newAPIEnv(t, Config{})
	admin := env.login(t, "admin").AccessToken
	body := `{"username":"li.na","password":"0123456789","display_name":"李娜","roles":["inspector"]}`
	key := map[string]string{"Idempotency-Key": "create-li-na-1"}
	var firstBody string
	scenario{token: admin, method: "POST", path: "/api/v1/users", body: body, headers: key, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, _ *http.Response, b []byte) { firstBody = string(b) }}.run(t, env)
	scenario{token: admin, method: "POST", path: "/api/v1/users", body: body, headers: key, wantStatus: 201,
		after: func(t *testing.T, _ *apiEnv, resp *http.Response, b []byte) {
			if string(b) != firstBody || resp.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("not a replay: %s %v", b, resp.Header)
			}
		}}.run(t, env)
	scenario{token: admin, method: "POST", path: "/api/v1/users", body: strings.Replace(body, "李娜", "李娜娜", 1), headers: key,
		wantStatus: 422, wantCode: backend.EUNPROCESSABLE}.run(t, env)
	_, total, err := env.db.Users().FindUsers(t.Context(), backend.UserFilter{Query: "li.na"})
	if err != nil || total != 1 {
		t.Fatalf("%d users named li.na (%v), want 1", total, err)
	}
}

func TestMutationsAreAudited(t *testing.T) {
	env := newAPIEnv(t, Config{})
	admin := env.login(t, "admin").AccessToken
	scenario{token: admin, method: "POST", path: "/api/v1/users", body: `{"username":"zhao","password":"0123456789","display_name":"赵","roles":["leader"]}`, wantStatus: 201}.run(t, env)
	scenario{as: "coordinator", method: "GET", path: "/api/v1/audit?action=user.create", wantStatus: 200,
		wantContain: []string{`"action":"user.create"`, `"actor_name":"admin"`}, wantAbsent: []string{"password", "argon2"}}.run(t, env)
	scenario{as: "inspector", method: "GET", path: "/api/v1/audit", wantStatus: 403, wantCode: backend.EFORBIDDEN}.run(t, env)
	scenario{as: "coordinator", method: "GET", path: "/api/v1/audit?from=yesterday", wantStatus: 400, wantCode: backend.EINVALID}.run(t, env)
}

// TestRefreshGraceEnds: the old refresh token works once within 30 s of
// its rotation — and not after: past the window, presenting it is a
// replay that ends the session. The sessions' clock is moved instead of
// waiting the window out.
func TestRefreshGraceEnds(t *testing.T) {
	env := newAPIEnv(t, Config{})
	sessions, ok := env.svc.Auth.Sessions.(*cache.Sessions)
	if !ok {
		t.Fatalf("sessions are a %T", env.svc.Auth.Sessions)
	}
	clock := &dirClock{t: time.Now()}
	sessions.Now = clock.now
	t.Cleanup(func() { sessions.Now = nil })

	s1 := env.login(t, "inspector")
	if status, _ := refresh(t, env, s1.RefreshToken); status != 200 {
		t.Fatalf("rotation: %d", status)
	}
	clock.add(auth.DefaultRefreshGrace - time.Second)
	if status, _ := refresh(t, env, s1.RefreshToken); status != 200 {
		t.Fatalf("the old token %s after rotation: %d, want 200 (within the grace)", auth.DefaultRefreshGrace-time.Second, status)
	}

	s2 := env.login(t, "inspector")
	status, s3 := refresh(t, env, s2.RefreshToken)
	if status != 200 {
		t.Fatalf("rotation: %d", status)
	}
	clock.add(auth.DefaultRefreshGrace + time.Second)
	if status, _ := refresh(t, env, s2.RefreshToken); status != 401 {
		t.Fatalf("the old token %s after rotation: %d, want 401 (the grace is over)", auth.DefaultRefreshGrace+time.Second, status)
	}
	// Presented after the window it is a replay: the whole session ends.
	if status, _ := refresh(t, env, s3.RefreshToken); status != 401 {
		t.Errorf("the newest token after the late replay: %d, want 401", status)
	}
	scenario{token: s3.AccessToken, method: "GET", path: "/api/v1/me", wantStatus: 401, wantCode: backend.EUNAUTHORIZED}.run(t, env)
}

// TestNoEnabledAdminIsSaidLoudly: when the configured admin's username is
// held by an account that is no enabled admin, the start-up creates nobody
// and says so (auth.ErrNoAdmin, which serve logs as an error); with
// another admin enabled it is quiet.
func TestNoEnabledAdminIsSaidLoudly(t *testing.T) {
	env := newAPIEnv(t, Config{})
	ctx := t.Context()
	admin := env.users["admin"]
	admin.Disabled = true
	if err := env.updateUser(ctx, admin); err != nil {
		t.Fatal(err)
	}
	created, err := env.svc.Auth.EnsureAdmin(ctx, "admin", testPassword)
	if created || !errors.Is(err, auth.ErrNoAdmin) || !strings.Contains(err.Error(), `"admin"`) {
		t.Fatalf("no enabled admin: created %v, %v; want auth.ErrNoAdmin naming the username", created, err)
	}
	other := env.users["coordinator"]
	other.Roles = append(other.Roles, backend.RoleAdmin)
	if err := env.updateUser(ctx, other); err != nil {
		t.Fatal(err)
	}
	if created, err := env.svc.Auth.EnsureAdmin(ctx, "admin", testPassword); created || err != nil {
		t.Fatalf("another admin enabled: created %v, %v; want nothing to do", created, err)
	}
}

// TestTwoAdminsCannotRemoveEachOther: nobody changes their own role or
// status, so an admin acting keeps the bureau one admin — unless two act
// at once, each on the other: A takes B's role while B disables A, both
// checks pass, and no enabled admin is left. The changes to admins take
// one lease and re-read the actor under it. Called on the service, as two
// requests that both passed the route's role check.
func TestTwoAdminsCannotRemoveEachOther(t *testing.T) {
	env := newAPIEnv(t, Config{})
	ctx := t.Context()
	a := env.users["admin"]
	actor := func(u *backend.User) context.Context {
		return backend.WithActor(ctx, &backend.Actor{UserID: u.ID, Username: u.Username, Roles: u.Roles})
	}
	newAdmin := func(name string) *backend.User {
		u, err := env.svc.Accounts.CreateUser(actor(a), accounts.NewUser{Username: name, Password: testPassword, DisplayName: name,
			Roles: []backend.Role{backend.RoleAdmin}})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	enabledAdmins := func(ids ...string) int {
		n := 0
		for _, id := range ids {
			u, err := env.db.Users().FindUserByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !u.Disabled && slices.Contains(u.Roles, backend.RoleAdmin) {
				n++
			}
		}
		return n
	}
	coordinator := []backend.Role{backend.RoleCoordinator}
	disabled := true

	// One after the other, as the race would interleave them: B's request
	// was let in as an admin's before A's change took B's role.
	b := newAdmin("admin-b")
	if _, err := env.svc.Accounts.UpdateUser(actor(a), b.ID, accounts.UserPatch{Roles: &coordinator}); err != nil {
		t.Fatal(err)
	}
	_, err := env.svc.Accounts.UpdateUser(actor(b), a.ID, accounts.UserPatch{Disabled: &disabled})
	if backend.ErrorCode(err) != backend.EFORBIDDEN {
		t.Fatalf("a former admin disabling the last admin: %v, want EFORBIDDEN", err)
	}
	if enabledAdmins(a.ID) != 1 {
		t.Fatal("the last admin was disabled")
	}

	// At once, pair after pair: one of each pair stays an enabled admin.
	for i := range 8 {
		c, d := newAdmin(fmt.Sprintf("admin-c%d", i)), newAdmin(fmt.Sprintf("admin-d%d", i))
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = env.svc.Accounts.UpdateUser(actor(c), d.ID, accounts.UserPatch{Roles: &coordinator}) })
		wg.Go(func() { _, _ = env.svc.Accounts.UpdateUser(actor(d), c.ID, accounts.UserPatch{Disabled: &disabled}) })
		wg.Wait()
		if n := enabledAdmins(c.ID, d.ID); n != 1 {
			t.Fatalf("pair %d: %d of the two are enabled admins after each acted on the other, want 1", i, n)
		}
	}
}
