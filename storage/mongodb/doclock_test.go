package mongodb_test

import (
	"fmt"
	"sync"
	"testing"

	"suiji/backend"
	"suiji/storage/storagetest"
)

// TestVersionedUpdateHasOneWinner: twenty writers that read the same
// version of a user update it at once; exactly one wins and the others get
// ECONFLICT "stale", round after round. (FerretDB alone lets several win:
// see lockDocument.)
func TestVersionedUpdateHasOneWinner(t *testing.T) {
	db := storagetest.Mongo(t)
	users := db.Users()
	u := &backend.User{Username: "wang.fang", DisplayName: "王芳", Roles: []backend.Role{backend.RoleStaff}}
	if err := users.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		read, err := users.FindUserByID(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		errs := make([]error, 20)
		var wg sync.WaitGroup
		for i := range errs {
			mine := *read
			mine.DisplayName = fmt.Sprintf("王芳 %d-%d", round, i)
			wg.Go(func() { errs[i] = users.UpdateUser(t.Context(), &mine) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case backend.ErrorFields(err)["version"] != "stale":
				t.Fatalf("round %d: %v, want success or a stale version", round, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d writers of version %d won, want exactly 1", round, wins, read.Version)
		}
		after, _ := users.FindUserByID(t.Context(), u.ID)
		if after.Version != read.Version+1 {
			t.Fatalf("round %d: version %d, want %d", round, after.Version, read.Version+1)
		}
	}
}
