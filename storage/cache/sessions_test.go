package cache_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"suiji/backend"
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

// TestSessionsCopyFollowsChangesElsewhere: two processes (two Caches on
// one Redis and prefix). Once subscribed, each answers a signed-in
// request's session and stamp from its copy; a stamp moved or a family
// revoked by one process shows in that process at once and in the other
// as soon as the message arrives — never as the copy's old answer after
// that — and a revocation of all a user's families likewise.
func TestSessionsCopyFollowsChangesElsewhere(t *testing.T) {
	one := storagetest.Redis(t)
	ctx := t.Context()
	_, other := storagetest.SecondInstance(t, storagetest.Mongo(t), one)
	here, there := one.Sessions(), other.Sessions()
	for _, f := range []string{"fam-a", "fam-b"} {
		if err := here.CreateFamily(ctx, f, "user-a", "h0", time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := here.SeedUserStamp(ctx, "user-a"); err != nil {
		t.Fatal(err)
	}
	ask := func(s *cache.Sessions, fam string) (bool, int64) {
		t.Helper()
		active, stamp, err := s.FamilyActiveStamp(ctx, fam, "user-a")
		if err != nil {
			t.Fatal(err)
		}
		return active, stamp
	}
	// Both subscribe on their first question, then answer from memory.
	for _, c := range []*cache.Cache{one, other} {
		s := c.Sessions()
		err := storagetest.Eventually(ctx, 5*time.Second, func(context.Context) error {
			before, _ := cache.AuthCacheHits(c)
			ask(s, "fam-a")
			ask(s, "fam-a")
			if after, live := cache.AuthCacheHits(c); !live || after == before {
				return fmt.Errorf("no answer from the copy (live %v)", live)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	eventually := func(what string, s *cache.Sessions, fam string, want func(bool, int64) bool) {
		t.Helper()
		err := storagetest.Eventually(ctx, 2*time.Second, func(context.Context) error {
			if a, n := ask(s, fam); !want(a, n) {
				return fmt.Errorf("active %v, stamp %d", a, n)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for range 20 { // and it stays so: no old answer comes back
			if a, n := ask(s, fam); !want(a, n) {
				t.Fatalf("%s, then active %v, stamp %d again", what, a, n)
			}
		}
	}
	_, seeded := ask(there, "fam-a")
	if err := here.BeginUserChange(ctx, "user-a"); err != nil {
		t.Fatal(err)
	}
	if _, n := ask(here, "fam-a"); n%2 != 1 {
		t.Fatalf("the changing process's own answer: stamp %d, want odd at once", n)
	}
	eventually("a change begun elsewhere", there, "fam-a", func(_ bool, n int64) bool { return n != seeded && n%2 == 1 })
	if err := here.RevokeFamily(ctx, "fam-a"); err != nil {
		t.Fatal(err)
	}
	if a, _ := ask(here, "fam-a"); a {
		t.Fatal("the revoking process still answers active")
	}
	eventually("a family revoked elsewhere", there, "fam-a", func(a bool, _ int64) bool { return !a })
	ask(there, "fam-b") // held in the other's copy
	if err := here.RevokeUser(ctx, "user-a"); err != nil {
		t.Fatal(err)
	}
	eventually("every family of the user revoked elsewhere", there, "fam-b", func(a bool, _ int64) bool { return !a })
}

// TestSessionsPerUserAreCapped: see checkSessionCap.
func TestSessionsPerUserAreCapped(t *testing.T) {
	checkSessionCap(t, storagetest.Redis(t).Sessions())
}

// checkSessionCap: a user's family beyond MaxUserSessions ends the one
// unused longest and the others live on — a refresh counts as use, so a
// session refreshed since is not the one ended; a family revoked
// meanwhile leaves the list and frees its place;
// a listed family that is missing is dropped once it has expired and kept
// (never ended) while its sign-in may still be creating it; RevokeUser
// ends every family listed, in the list of before the cap too.
func checkSessionCap(t *testing.T, s *cache.Sessions) {
	ctx := t.Context()
	clock := time.Now()
	s.Now = func() time.Time { return clock }
	t.Cleanup(func() { s.Now = nil })
	create := func(fam string) {
		t.Helper()
		clock = clock.Add(time.Second)
		if err := s.CreateFamily(ctx, fam, "user-cap", "h0", time.Hour); err != nil {
			t.Fatalf("CreateFamily(%s): %v", fam, err)
		}
	}
	active := func(fam string, want bool) {
		t.Helper()
		if got, err := s.FamilyActive(ctx, fam); err != nil || got != want {
			t.Errorf("family %s active = %v, %v; want %v", fam, got, err, want)
		}
	}
	listed := func(want int, in []string, out []string) {
		t.Helper()
		got, err := cache.UserFamilies(s, "user-cap")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Errorf("%d families listed, want %d: %v", len(got), want, got)
		}
		for _, f := range in {
			if !slices.Contains(got, f) {
				t.Errorf("%s is not listed: %v", f, got)
			}
		}
		for _, f := range out {
			if slices.Contains(got, f) {
				t.Errorf("%s is still listed: %v", f, got)
			}
		}
	}
	fam := func(i int) string { return fmt.Sprintf("fam-%03d", i) }
	n := cache.MaxUserSessions

	for i := range cache.MaxUserSessions + 1 {
		create(fam(i))
	}
	active(fam(0), false)
	for i := 1; i <= cache.MaxUserSessions; i++ {
		active(fam(i), true)
	}
	listed(cache.MaxUserSessions, nil, []string{fam(0)})

	// A sign-out frees a place: the next sign-in ends nobody.
	if err := s.RevokeFamily(ctx, fam(5)); err != nil {
		t.Fatal(err)
	}
	create(fam(n + 1))
	active(fam(1), true)
	listed(cache.MaxUserSessions, nil, []string{fam(5)})

	// The oldest sign-in, refreshed since (the phone in daily use), goes
	// to the back: the next sign-in ends the one after it instead.
	clock = clock.Add(time.Second)
	if outcome, _, err := s.Rotate(ctx, fam(1), "h0", "h1", time.Second); err != nil || outcome != backend.RotateOK {
		t.Fatalf("refreshing %s: %s, %v", fam(1), outcome, err)
	}
	create(fam(n + 2))
	active(fam(1), true)
	active(fam(2), false)
	listed(cache.MaxUserSessions, []string{fam(1)}, []string{fam(2)})

	// One listed long ago and gone (expired) is dropped; one listed just
	// now and not there yet (being created) stays listed and counts, so
	// the next sign-in ends the two oldest.
	if err := cache.ListFamily(s, "user-cap", "fam-expired", clock.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := cache.ListFamily(s, "user-cap", "fam-starting", clock); err != nil {
		t.Fatal(err)
	}
	create(fam(n + 3))
	active(fam(3), false)
	active(fam(4), false)
	active(fam(6), true)
	active(fam(1), true)
	active(fam(n+3), true)
	listed(cache.MaxUserSessions, []string{"fam-starting", fam(6), fam(1), fam(n + 3)}, []string{"fam-expired", fam(3), fam(4)})

	// RevokeUser ends all of them, and one listed before the upgrade.
	if err := s.CreateFamily(ctx, "fam-legacy", "user-other", "h0", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := cache.ListLegacyFamily(s, "user-cap", "fam-legacy"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeUser(ctx, "user-cap"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n+3; i++ {
		active(fam(i), false)
	}
	active("fam-legacy", false)
}
