package wire_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/accounts"
	"suiji/backend/cmd/wire"
	"suiji/storage/storagetest"
)

// readCounter is a user store counting the users read by id.
type readCounter struct {
	backend.UserStore
	reads atomic.Int64
}

func (r *readCounter) FindUserByID(ctx context.Context, id string) (*backend.User, error) {
	r.reads.Add(1)
	return r.UserStore.FindUserByID(ctx, id)
}

// TestAuthenticateKeepsUsersInMemory: two instances as the server wires
// them. Once a user has signed in, an instance reads them from the store
// once and then answers from memory; a role change made on the other
// instance shows on the next request at once (the stamp moved), and so
// does a disable (the sessions are revoked too). A change whose writer
// died after beginning it leaves the user read from the store on every
// request until a change ends. An instance that warmed its users at start
// reads none.
func TestAuthenticateKeepsUsersInMemory(t *testing.T) {
	db, c := storagetest.Mongo(t), storagetest.Redis(t)
	cfg := storagetest.Config(t)
	now := func() time.Time { return time.Now().UTC() }
	a := wire.Services(&wire.Stores{Mongo: db, Cache: c}, cfg, now)
	b := wire.Services(&wire.Stores{Mongo: db, Cache: c}, cfg, now)
	counted := &readCounter{UserStore: a.Auth.Users}
	a.Auth.Users = counted
	admin := backend.WithActor(t.Context(), &backend.Actor{UserID: "u-admin", Username: "admin", Roles: []backend.Role{backend.RoleAdmin}})
	u, err := b.Accounts.CreateUser(admin, accounts.NewUser{Username: "inspector7", Password: "correct horse battery", DisplayName: "检查员七",
		Roles: []backend.Role{backend.RoleInspector}})
	if err != nil {
		t.Fatal(err)
	}
	session, err := b.Auth.Login(t.Context(), "inspector7", "correct horse battery", "203.0.113.7")
	if err != nil {
		t.Fatal(err)
	}
	authenticate := func(want ...backend.Role) {
		t.Helper()
		actor, err := a.Auth.Authenticate(t.Context(), session.AccessToken, "203.0.113.7")
		if err != nil {
			t.Fatalf("authenticate: %v", err)
		}
		if actor.UserID != u.ID || !slices.Equal(actor.Roles, want) {
			t.Fatalf("authenticated as %s with %v, want %s with %v", actor.UserID, actor.Roles, u.ID, want)
		}
	}
	reads := func(want int64, what string) {
		t.Helper()
		if n := counted.reads.Swap(0); n != want {
			t.Fatalf("%s: %d reads of the user, want %d", what, n, want)
		}
	}
	authenticate(backend.RoleInspector)
	reads(1, "the first request")
	for range 3 {
		authenticate(backend.RoleInspector)
	}
	reads(0, "three more requests")

	roles := []backend.Role{backend.RoleInspector, backend.RoleStaff}
	if _, err := b.Accounts.UpdateUser(admin, u.ID, accounts.UserPatch{Roles: &roles}); err != nil {
		t.Fatal(err)
	}
	authenticate(roles...)
	reads(1, "after a role change on the other instance")
	authenticate(roles...)
	reads(0, "the request after that")

	// A writer that died between beginning a change and ending it.
	if err := c.Sessions().BeginUserChange(t.Context(), u.ID); err != nil {
		t.Fatal(err)
	}
	authenticate(roles...)
	authenticate(roles...)
	reads(2, "with a change begun and never ended")
	only := []backend.Role{backend.RoleInspector}
	if _, err := b.Accounts.UpdateUser(admin, u.ID, accounts.UserPatch{Roles: &only}); err != nil {
		t.Fatal(err)
	}
	authenticate(only...)
	authenticate(only...)
	reads(1, "after the next change ended")

	// An instance started now reads the stamped users at start.
	started := wire.Services(&wire.Stores{Mongo: db, Cache: c}, cfg, now)
	startedReads := &readCounter{UserStore: started.Auth.Users}
	started.Auth.Users = startedReads
	if err := started.Auth.WarmUsers(t.Context()); err != nil {
		t.Fatal(err)
	}
	startedReads.reads.Store(0) // the warm-up lists; it reads nobody by id
	if actor, err := started.Auth.Authenticate(t.Context(), session.AccessToken, "203.0.113.7"); err != nil || !slices.Equal(actor.Roles, only) {
		t.Fatalf("a warmed instance: %+v %v", actor, err)
	}
	if n := startedReads.reads.Load(); n != 0 {
		t.Fatalf("a warmed instance read the user %d times", n)
	}

	disabled := true
	if _, err := b.Accounts.UpdateUser(admin, u.ID, accounts.UserPatch{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Auth.Authenticate(t.Context(), session.AccessToken, "203.0.113.7"); backend.ErrorCode(err) != backend.EUNAUTHORIZED {
		t.Fatalf("a disabled user's token: %v, want EUNAUTHORIZED", err)
	}
}
