package mobileapi

import (
	"regexp"
	"slices"
	"testing"

	"suiji/backend"
)

// TestAuthorizationMatrix calls every /api/v1 route as every role and as the
// anonymous public, and checks the gate: anonymous callers of signed-in
// routes get 401, callers without a required role get 403, everyone else
// gets past the gate (whatever the handler then says about the empty body
// or the made-up id, as long as it is not a 5xx). Later issues extend the
// table by adding routes; the test follows automatically.
func TestAuthorizationMatrix(t *testing.T) {
	env := newAPIEnv(t, Config{})
	routes := append(env.srv.apiRoutes(), env.srv.webRoutes()...)
	if len(routes) < 10 {
		t.Fatalf("only %d routes in the table", len(routes))
	}
	// One session per role serves every cell but logout's (argon2id makes
	// each sign-in deliberately slow).
	tokens := map[string]string{}
	for _, role := range matrixRoles[1:] {
		tokens[role] = env.login(t, role).AccessToken
	}
	for _, r := range routes {
		path := pathParam.ReplaceAllStringFunc(r.path, func(p string) string {
			if p == ":year" {
				return "2026"
			}
			return "0123456789abcdef01234567"
		})
		for _, role := range matrixRoles {
			name := r.method + " " + r.path + " as " + orAnonymous(role)
			t.Run(name, func(t *testing.T) {
				token := ""
				switch {
				case role == "":
				case r.path == "/api/v1/auth/logout":
					token = env.login(t, role).AccessToken // its own session: logout ends it
				default:
					token = tokens[role]
				}
				body := ""
				if mutating(r.method) {
					body = "{}"
				}
				resp, respBody := env.call(t, token, r.method, path, body, nil)
				got := resp.StatusCode
				switch want := expectedGate(r, role, env); want {
				case 401, 403:
					if got != want {
						t.Fatalf("status %d, want %d: %s", got, want, respBody)
					}
					decodeError(t, respBody)
				default:
					// Past the gate the handler answers whatever the empty
					// body or made-up id deserves — but never a server error.
					if got == 401 || got == 403 || got >= 500 {
						t.Fatalf("status %d, want past the gate with a client answer: %s", got, respBody)
					}
				}
			})
		}
	}
}

// pathParam matches a route parameter such as :id.
var pathParam = regexp.MustCompile(`:[a-z_]+`)

// expectedGate is 401, 403, or 0 for "allowed through".
func expectedGate(r route, role string, env *apiEnv) int {
	if r.access == public {
		return 0
	}
	if role == "" {
		return 401
	}
	actor := &backend.Actor{Roles: env.users[role].Roles}
	if r.roles != nil && !slices.ContainsFunc(r.roles, actor.HasRole) {
		return 403
	}
	return 0
}

func orAnonymous(role string) string {
	if role == "" {
		return "anonymous"
	}
	return role
}
