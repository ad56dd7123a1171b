package cache_test

import (
	"testing"
	"time"

	"suiji/storage/cache"
	"suiji/storage/storagetest"
)

// TestUserStamps: a change's begin makes the stamp odd and its end even,
// each time a new value (so a copy tagged with an earlier even stamp never
// matches again), whatever state the previous change left (a writer that
// died after beginning); seeding gives an unstamped user an even stamp and
// leaves a stamp alone; the stamp comes back with the session's state.
func TestUserStamps(t *testing.T) {
	checkUserStamps(t, storagetest.Redis(t).Sessions())
}

func checkUserStamps(t *testing.T, s *cache.Sessions) {
	t.Helper()
	ctx := t.Context()
	stamp := func(wantActive bool) int64 {
		t.Helper()
		active, n, err := s.FamilyActiveStamp(ctx, "fam-stamps", "user-stamps")
		if err != nil || active != wantActive {
			t.Fatalf("FamilyActiveStamp = %v, %d, %v; want active %v", active, n, err, wantActive)
		}
		return n
	}
	if n := stamp(false); n != 0 {
		t.Fatalf("no family, no stamp: stamp %d, want 0", n)
	}
	if err := s.CreateFamily(ctx, "fam-stamps", "user-stamps", "h0", time.Hour); err != nil {
		t.Fatal(err)
	}
	if n := stamp(true); n != 0 {
		t.Fatalf("an unstamped user: %d, want 0", n)
	}
	if err := s.SeedUserStamp(ctx, "user-stamps"); err != nil {
		t.Fatal(err)
	}
	seeded := stamp(true)
	if seeded <= 0 || seeded%2 != 0 {
		t.Fatalf("seeded stamp %d, want even and positive", seeded)
	}
	seen := map[int64]bool{seeded: true}
	step := func(what string, f func() error, odd bool) {
		t.Helper()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		n := stamp(true)
		if (n%2 == 1) != odd || seen[n] {
			t.Fatalf("%s: stamp %d (seen before: %v), want odd %v and new", what, n, seen[n], odd)
		}
		seen[n] = true
	}
	begin := func() error { return s.BeginUserChange(ctx, "user-stamps") }
	end := func() error { return s.EndUserChange(ctx, "user-stamps") }
	step("begin", begin, true)
	step("end", end, false)
	step("begin", begin, true)
	step("begin again (the first writer died)", begin, true)
	step("end", end, false)
	step("end again", end, false)
	before := stamp(true)
	if got, err := s.UserStampsOf(ctx, []string{"user-stamps", "user-unstamped"}); err != nil || len(got) != 1 || got["user-stamps"] != before {
		t.Fatalf("UserStampsOf = %v, %v; want only user-stamps at %d", got, err, before)
	}
	if err := s.SeedUserStamp(ctx, "user-stamps"); err != nil || stamp(true) != before {
		t.Fatalf("seeding a stamped user changed it: %v", err)
	}
	if err := s.RevokeFamily(ctx, "fam-stamps"); err != nil {
		t.Fatal(err)
	}
	if n := stamp(false); n != before {
		t.Fatalf("a revoked family's stamp %d, want %d", n, before)
	}
}
