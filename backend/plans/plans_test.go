package plans_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/audit"
	"suiji/backend/draw/drawv1"
	"suiji/backend/plans"
	"suiji/storage/cache"
	"suiji/storage/mongodb"
	"suiji/storage/storagetest"
)

func newService(t *testing.T, db *mongodb.DB, c *cache.Cache) *plans.Service {
	now := func() time.Time { return time.Now().UTC() }
	return &plans.Service{
		Plans: db.Plans(), Draws: db.Draws(), Enterprises: db.Enterprises(), Inspectors: db.Inspectors(),
		Items: db.Items(), Departments: db.Departments(), Towns: db.Towns(), Locks: c.Locks(),
		Audit: &audit.Recorder{Store: db.AuditEvents(), Now: now}, Now: now, Rand: plans.NewRandReader(),
	}
}

// coordinator is an actor who may do everything with plans.
func coordinator(ctx context.Context) context.Context {
	return backend.WithActor(ctx, &backend.Actor{UserID: "u-coord", Username: "coordinator",
		Roles: []backend.Role{backend.RoleCoordinator, backend.RoleLeader}})
}

func readyPlan(t *testing.T, s *plans.Service, w *storagetest.World, kind string, sample backend.PlanSample) *backend.Plan {
	t.Helper()
	ctx := coordinator(t.Context())
	p, err := s.CreatePlan(ctx, plans.Input{
		Year: 2026, Title: "抽查", Kind: kind, ItemIDs: w.Items, LeadDepartmentID: w.Brigade.ID,
		Sample: sample, GroupSize: 2, WindowStart: "2026-01-01", WindowEnd: "2026-12-31",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApprovePlan(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if p, err = s.CommitSeed(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRedisLostMidDrawStoresNothing takes Redis away after the draw is
// computed and before it is written: nothing is stored, and once Redis is
// back a retry draws normally.
func TestRedisLostMidDrawStoresNothing(t *testing.T) {
	db, shared := storagetest.Mongo(t), storagetest.Redis(t)
	w := storagetest.NewWorld(t, db, 12)
	s := newService(t, db, shared)
	p := readyPlan(t, s, w, backend.PlanUndirected, backend.PlanSample{Ratio: 0.5})

	cfg := storagetest.Config(t)
	u, _ := url.Parse(cfg.RedisURL)
	proxy := storagetest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	flaky, err := cache.Open(t.Context(), cache.Options{URL: u.String(), Prefix: shared.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	defer flaky.Close()
	s.Locks = flaky.Locks()
	s.LockTTL = 2 * time.Second // the lease the failed attempt holds lapses soon
	s.BeforeStore = func(context.Context) { proxy.Cut() }

	_, err = s.Draw(coordinator(t.Context()), p.ID, "", "")
	if code := backend.ErrorCode(err); code != backend.EUNAVAILABLE {
		t.Fatalf("draw with Redis gone: %v (%s), want EUNAVAILABLE", err, code)
	}
	if draws, err := db.Draws().FindDrawsByPlan(t.Context(), p.ID); err != nil || len(draws) != 0 {
		t.Fatalf("%d draws stored (%v) after the lease was lost", len(draws), err)
	}
	if got, _ := db.Plans().FindPlanByID(t.Context(), p.ID); got.Status != backend.PlanApproved || got.DrawCount != 0 {
		t.Fatalf("plan changed by a failed draw: %+v", got)
	}

	// Redis is back (a working connection): the retry draws once the lease
	// the failed attempt could not release has lapsed.
	s.Locks, s.BeforeStore = shared.Locks(), nil
	var d *backend.Draw
	for range 50 {
		if d, err = s.Draw(coordinator(t.Context()), p.ID, "", ""); backend.ErrorCode(err) != backend.ECONFLICT {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil || d.Seq != 1 {
		t.Fatalf("retry: %+v %v", d, err)
	}
	if err := drawv1.Verify(d.Record); err != nil {
		t.Fatalf("retried draw does not verify: %v", err)
	}
}

// TestArticle16CapsAndExemptions draws every enterprise twice in two plans;
// a third plan's pool then holds only the enterprise exempt from the cap.
func TestArticle16CapsAndExemptions(t *testing.T) {
	db := storagetest.Mongo(t)
	w := storagetest.NewWorld(t, db, 6)
	s := newService(t, db, storagetest.Redis(t))
	ctx := coordinator(t.Context())

	for range 2 {
		p := readyPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 6})
		if d, err := s.Draw(ctx, p.ID, "", ""); err != nil || len(d.Record.Selections) != 6 {
			t.Fatalf("drawing all: %v", err)
		}
	}
	risky := w.Enterprises[3]
	risky.Flags = []string{backend.FlagHighCreditRisk}
	if err := db.Enterprises().UpdateEnterprise(t.Context(), risky); err != nil {
		t.Fatal(err)
	}

	third := readyPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 1})
	d, err := s.Draw(ctx, third.ID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Record.Pool) != 1 || d.Record.Pool[0].USCC != risky.USCC || d.Record.Selections[0].USCC != risky.USCC {
		t.Fatalf("pool %+v, want only the high-risk enterprise", d.Record.Pool)
	}
	// The last inspection's group is not drawn again for it.
	for _, b := range d.Record.Selections[0].Group {
		if slicesContains(d.Record.Pool[0].LastInspectors, b) {
			t.Fatalf("inspector %s of the last inspection drawn again", b)
		}
	}

	// A fourth plan still finds only the exempt enterprise: it was drawn
	// three times now, and the high-risk have no frequency limit.
	fourth := readyPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 1})
	d4, err := s.Draw(ctx, fourth.ID, "", "")
	if err != nil || len(d4.Record.Pool) != 1 || d4.Record.Selections[0].USCC != risky.USCC {
		t.Fatalf("fourth plan: %v %+v", err, d4)
	}
	// Asking for more than the capped pool holds is refused, storing nothing.
	fifth := readyPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 2})
	if _, err := s.Draw(ctx, fifth.ID, "", ""); backend.ErrorCode(err) != backend.EINVALID {
		t.Fatalf("drawing 2 from a pool of 1: %v", err)
	}
	if ds, _ := db.Draws().FindDrawsByPlan(t.Context(), fifth.ID); len(ds) != 0 {
		t.Fatalf("a failed draw stored %d draws", len(ds))
	}

	rep, err := s.CoverageReport(ctx, 2026)
	if err != nil || rep.Total != 2 || rep.Covered != 2 {
		t.Fatalf("coverage %+v %v", rep, err)
	}
}

func slicesContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
