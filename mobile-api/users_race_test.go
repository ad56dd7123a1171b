package mobileapi

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// statusOf sends one request from any goroutine (it never calls t.Fatal)
// and returns the status, or 0 when the app could not answer.
func statusOf(env *apiEnv, token, method, path, body string) int {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := env.srv.App().Test(req, -1)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestPatchMeNeverUndoesAnAdminsDisable: a user renames themselves 20
// times in parallel while an administrator disables them. Whatever the
// interleaving, the account ends disabled: a self-change read before the
// disable and written after it would have put disabled back to false with a
// whole-document replace. Several rounds, to give the race its chances.
func TestPatchMeNeverUndoesAnAdminsDisable(t *testing.T) {
	env := newAPIEnv(t, Config{})
	admin := env.login(t, "admin").AccessToken
	id := env.users["inspector"].ID
	for round := range 3 {
		if status := statusOf(env, admin, "PATCH", "/api/v1/users/"+id, `{"disabled":false}`); status != 200 {
			t.Fatalf("round %d: enabling: %d", round, status)
		}
		self := env.login(t, "inspector").AccessToken
		var wg sync.WaitGroup
		statuses := make([]int, 20)
		start := make(chan struct{})
		for i := range statuses {
			wg.Go(func() {
				<-start
				statuses[i] = statusOf(env, self, "PATCH", "/api/v1/me", fmt.Sprintf(`{"display_name":"巡查员 %d-%d"}`, round, i))
			})
		}
		var disable int
		wg.Go(func() {
			<-start
			disable = statusOf(env, admin, "PATCH", "/api/v1/users/"+id, `{"disabled":true}`)
		})
		close(start)
		wg.Wait()
		for i, s := range statuses {
			// 200 before the disable, 401 after it, 409 when too many
			// writers raced for the same version.
			if s != 200 && s != 401 && s != 409 {
				t.Errorf("round %d: PATCH /me %d answered %d", round, i, s)
			}
		}
		if disable != 200 {
			// The admin's write may itself lose every race (409); retry it
			// once things are quiet, as the console would.
			if disable != 409 {
				t.Fatalf("round %d: disable answered %d", round, disable)
			}
			if status := statusOf(env, admin, "PATCH", "/api/v1/users/"+id, `{"disabled":true}`); status != 200 {
				t.Fatalf("round %d: disable retried: %d", round, status)
			}
		}
		u, err := env.db.Users().FindUserByID(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !u.Disabled {
			t.Fatalf("round %d: the admin's disable was undone by a concurrent PATCH /me (%v)", round, statuses)
		}
	}
}
