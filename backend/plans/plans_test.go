package plans_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/audit"
	"suiji/backend/draw"
	"suiji/backend/plans"
	"suiji/storage/cache"
	"suiji/storage/mongodb"
	"suiji/storage/storagetest"
)

const seedKey = "a-test-seed-key-of-at-least-32-bytes!"

func newService(t *testing.T, db *mongodb.DB, c *cache.Cache) *plans.Service {
	now := func() time.Time { return time.Now().UTC() }
	return &plans.Service{
		Plans: db.Plans(), Draws: db.Draws(), Pools: db.Pool(), Enterprises: db.Enterprises(), Inspectors: db.Inspectors(),
		Items: db.Items(), Departments: db.Departments(), Towns: db.Towns(), Locks: c.Locks(),
		Audit: &audit.Recorder{Store: db.AuditEvents(), Outbox: db.AuditOutbox(), Now: now}, Now: now,
		Rand: plans.NewRandReader(), SeedKey: seedKey,
	}
}

// Actors: the office drafts and draws, a leader (another person) approves.
func office(ctx context.Context) context.Context {
	return backend.WithActor(ctx, &backend.Actor{UserID: "u-coord", Username: "coordinator", Roles: []backend.Role{backend.RoleCoordinator}})
}

func leader(ctx context.Context) context.Context {
	return backend.WithActor(ctx, &backend.Actor{UserID: "u-leader", Username: "leader", Roles: []backend.Role{backend.RoleLeader}})
}

// approvedPlan drafts a plan as the office and has a leader approve it.
func approvedPlan(t *testing.T, s *plans.Service, w *storagetest.World, kind string, sample backend.PlanSample) *backend.Plan {
	t.Helper()
	p, err := s.CreatePlan(office(t.Context()), plans.Input{
		Year: 2026, Title: "抽查", Kind: kind, ItemIDs: w.Items, LeadDepartmentID: w.Brigade.ID,
		Sample: sample, GroupSize: 2, WindowStart: "2026-01-01", WindowEnd: "2026-12-31",
	})
	if err != nil {
		t.Fatal(err)
	}
	if p, err = s.ApprovePlan(leader(t.Context()), p.ID); err != nil {
		t.Fatal(err)
	}
	return p
}

// readyPlan is an approved plan committed for its first attempt.
func readyPlan(t *testing.T, s *plans.Service, w *storagetest.World, kind string, sample backend.PlanSample) *backend.Plan {
	t.Helper()
	p := approvedPlan(t, s, w, kind, sample)
	p, err := s.CommitSeed(office(t.Context()), p.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// publicRecord is an attempt's whole public record, as the endpoint
// streams it, read back.
func publicRecord(t *testing.T, s *plans.Service, id string) (*draw.Verdict, error) {
	t.Helper()
	d, err := s.PublicDraw(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.WritePublicRecord(t.Context(), d, &buf); err != nil {
		t.Fatal(err)
	}
	return draw.VerifyStream(&buf)
}

func TestDrafterCannotApprove(t *testing.T) {
	db := storagetest.Mongo(t)
	w := storagetest.NewWorld(t, db, 6)
	s := newService(t, db, storagetest.Redis(t))
	both := backend.WithActor(t.Context(), &backend.Actor{UserID: "u-both", Roles: []backend.Role{backend.RoleCoordinator, backend.RoleLeader}})
	p, err := s.CreatePlan(both, plans.Input{Year: 2026, Title: "抽查", Kind: backend.PlanDirected, ItemIDs: w.Items,
		LeadDepartmentID: w.Brigade.ID, Sample: backend.PlanSample{Count: 2}, GroupSize: 2, WindowStart: "2026-01-01", WindowEnd: "2026-12-31"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApprovePlan(both, p.ID); backend.ErrorCode(err) != backend.EFORBIDDEN {
		t.Fatalf("the drafter approved their own plan: %v", err)
	}
	if _, err := s.ApprovePlan(leader(t.Context()), p.ID); err != nil {
		t.Fatalf("another leader: %v", err)
	}
}

// TestEveryAttemptNeedsItsOwnCommitment: a redraw cannot reuse the seed
// the first draw revealed — it needs a leader's approval with its reason,
// then a fresh commitment; then it draws on its own seed and verifies.
func TestEveryAttemptNeedsItsOwnCommitment(t *testing.T) {
	db := storagetest.Mongo(t)
	w := storagetest.NewWorld(t, db, 12)
	s := newService(t, db, storagetest.Redis(t))
	ctx := office(t.Context())
	p := approvedPlan(t, s, w, backend.PlanUndirected, backend.PlanSample{Ratio: "0.25"})
	if _, err := s.Draw(ctx, p.ID, ""); backend.ErrorCode(err) != backend.ECONFLICT || !strings.Contains(err.Error(), "commit") {
		t.Fatalf("a draw without a commitment: %v", err)
	}
	p, err := s.CommitSeed(ctx, p.ID, "福彩3D 2026-03-05 开奖号码")
	if err != nil || p.Commitment.Seq != 1 || p.SeedCommitment == "" || p.Commitment.PoolSize != 12 || p.Commitment.SampleSize != 3 {
		t.Fatalf("commit: %+v %v", p.Commitment, err)
	}
	if _, err := s.CommitSeed(ctx, p.ID, ""); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("a second commitment while one is pending: %v", err)
	}
	if _, err := s.Draw(ctx, p.ID, ""); backend.ErrorCode(err) != backend.EINVALID {
		t.Fatalf("no entropy value for a committed source: %v", err)
	}
	d1, err := s.Draw(ctx, p.ID, "5 2 8")
	if err != nil || d1.Seq != 1 || !d1.Drawn() || d1.Record.EntropySource != "福彩3D 2026-03-05 开奖号码" || d1.Record.PublicEntropy != "5 2 8" {
		t.Fatalf("first draw: %+v %v", d1, err)
	}
	if v, err := publicRecord(t, s, d1.ID); err != nil || v.Selections != 3 {
		t.Fatalf("first record: %+v %v", v, err)
	}

	// The revealed seed is used up: no redraw without approval and commit.
	if _, err := s.Draw(ctx, p.ID, "5 2 8"); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("a redraw on the revealed seed: %v", err)
	}
	if _, err := s.CommitSeed(ctx, p.ID, ""); backend.ErrorCode(err) != backend.ECONFLICT || !strings.Contains(err.Error(), "approval") {
		t.Fatalf("a commitment for a redraw nobody approved: %v", err)
	}
	if _, err := s.ApproveRedraw(leader(t.Context()), p.ID, ""); backend.ErrorCode(err) != backend.EINVALID {
		t.Fatalf("an approval without a reason: %v", err)
	}
	// Approved by one who holds both roles: another person commits and
	// draws it.
	both := backend.WithActor(t.Context(), &backend.Actor{UserID: "u-both", Username: "both", Roles: []backend.Role{backend.RoleLeader, backend.RoleCoordinator}})
	if _, err := s.ApproveRedraw(both, p.ID, "企业名录更正后重新抽取"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitSeed(both, p.ID, ""); backend.ErrorCode(err) != backend.EFORBIDDEN {
		t.Fatalf("the redraw's approver committed it: %v", err)
	}
	if _, err := s.Draw(ctx, p.ID, ""); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("an approved redraw without its own commitment: %v", err)
	}
	p, err = s.CommitSeed(ctx, p.ID, "")
	if err != nil || p.Commitment.Seq != 2 || p.SeedCommitment == d1.Record.SeedCommitment {
		t.Fatalf("the redraw's commitment: %+v %v", p.Commitment, err)
	}
	d2, err := s.Draw(ctx, p.ID, "")
	if err != nil || d2.Seq != 2 || d2.Record.Reason != "企业名录更正后重新抽取" || d2.Record.Seed == d1.Record.Seed {
		t.Fatalf("redraw: %+v %v", d2, err)
	}
	if v, err := publicRecord(t, s, d2.ID); err != nil || v.Seq != 2 {
		t.Fatalf("the redraw's record: %+v %v", v, err)
	}
	got, _ := db.Plans().FindPlanByID(t.Context(), p.ID)
	if got.CurrentDrawID != d2.ID || got.DrawCount != 2 || got.Commitment != nil || got.RedrawApproval != nil || got.SeedCommitment != "" {
		t.Fatalf("plan after the redraw: %+v", got)
	}
}

// TestFailedAttemptIsRecordedAndRevealsNothing: five of six enterprises
// may only be inspected by the same two inspectors, whose caps (4 groups)
// cannot take five. The pool passes the commit-time check (each enterprise
// has a group on its own), the draw of all six fails: the attempt is
// stored with its reason and its sequence number, without seed or
// selection, and the next attempt needs approval and a commitment.
func TestFailedAttemptIsRecordedAndRevealsNothing(t *testing.T) {
	db := storagetest.Mongo(t)
	w := storagetest.NewWorld(t, db, 6)
	for i, in := range w.Inspectors {
		switch {
		case i >= 4:
			in.Active = false
		case i < 2:
			for _, e := range w.Enterprises[:5] {
				in.Conflicts = append(in.Conflicts, backend.Conflict{EnterpriseID: e.ID, Reason: "亲属"})
			}
		}
		if err := db.Inspectors().UpdateInspector(t.Context(), in); err != nil {
			t.Fatal(err)
		}
	}
	s := newService(t, db, storagetest.Redis(t))
	p := readyPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 6})
	d, err := s.Draw(office(t.Context()), p.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if d.Drawn() || d.Record.Seed != "" || len(d.Record.Selections) != 0 || d.Record.Failure == "" || d.Seq != 1 {
		t.Fatalf("failed attempt %+v", d.Record.RecordHead)
	}
	for _, e := range w.Enterprises {
		if strings.Contains(d.Record.Failure, e.USCC) {
			t.Fatalf("the failure names %s", e.USCC)
		}
	}
	v, err := publicRecord(t, s, d.ID)
	if err != nil || v.Outcome != draw.OutcomeFailed || v.Seed != "" {
		t.Fatalf("the failed attempt's record: %+v %v", v, err)
	}
	list, err := s.PublicDraws(t.Context(), p.ID)
	if err != nil || len(list) != 1 || list[0].Record.Failure != d.Record.Failure {
		t.Fatalf("public history: %v %v", list, err)
	}
	got, _ := db.Plans().FindPlanByID(t.Context(), p.ID)
	if got.DrawCount != 1 || got.Status != backend.PlanApproved || got.CurrentDrawID != "" || got.Commitment != nil {
		t.Fatalf("plan after a failed attempt: %+v", got)
	}
	if _, err := s.CommitSeed(office(t.Context()), p.ID, ""); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("another attempt without approval: %v", err)
	}
}

// TestCommitRefusesAnUngroupablePool: an enterprise that no group may
// inspect is found at commit, before any seed exists, and named.
func TestCommitRefusesAnUngroupablePool(t *testing.T) {
	db := storagetest.Mongo(t)
	w := storagetest.NewWorld(t, db, 6)
	target := w.Enterprises[2]
	for _, in := range w.Inspectors[:4] { // half the brigade, both holders of hazchem among them… and more
		in.Conflicts = []backend.Conflict{{EnterpriseID: target.ID}}
		if err := db.Inspectors().UpdateInspector(t.Context(), in); err != nil {
			t.Fatal(err)
		}
	}
	for _, in := range w.Inspectors[4:] {
		if len(in.Qualifications) > 1 {
			in.Conflicts = []backend.Conflict{{EnterpriseID: target.ID}}
			if err := db.Inspectors().UpdateInspector(t.Context(), in); err != nil {
				t.Fatal(err)
			}
		}
	}
	s := newService(t, db, storagetest.Redis(t))
	p := approvedPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 2})
	_, err := s.CommitSeed(office(t.Context()), p.ID, "")
	var be *backend.Error
	if !errors.As(err, &be) || be.Code != backend.EINVALID || be.Fields["enterprises"] != target.USCC {
		t.Fatalf("commit of an ungroupable pool: %v", err)
	}
	if seeds, _ := db.Plans().LoadSeed(t.Context(), p.ID, 1); seeds != nil {
		t.Fatal("a seed was made for a refused commitment")
	}
}

// TestDrawRefusesAChangedPool: the pool and roster are frozen at commit;
// a directory or roster edit after it makes the draw refuse (commit
// again), and the new commitment draws.
func TestDrawRefusesAChangedPool(t *testing.T) {
	db := storagetest.Mongo(t)
	w := storagetest.NewWorld(t, db, 9)
	s := newService(t, db, storagetest.Redis(t))
	ctx := office(t.Context())
	p := readyPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 3})

	e := w.Enterprises[4]
	e.Flags, e.UpdatedAt = []string{backend.FlagHighCreditRisk}, time.Now().UTC()
	if err := db.Enterprises().UpdateEnterprise(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Draw(ctx, p.ID, ""); backend.ErrorCode(err) != backend.ECONFLICT || !strings.Contains(err.Error(), "directory changed") {
		t.Fatalf("draw after a directory edit: %v", err)
	}
	if p, err := s.CommitSeed(ctx, p.ID, ""); err != nil || p.Commitment.Seq != 1 {
		t.Fatalf("commit again: %v", err)
	}

	in := w.Inspectors[1]
	in.Qualifications = append(in.Qualifications, backend.CategoryHazardousChemicals)
	if err := db.Inspectors().UpdateInspector(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Draw(ctx, p.ID, ""); backend.ErrorCode(err) != backend.ECONFLICT || !strings.Contains(err.Error(), "roster") {
		t.Fatalf("draw after a roster edit: %v", err)
	}
	if _, err := s.CommitSeed(ctx, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	d, err := s.Draw(ctx, p.ID, "")
	if err != nil || !d.Drawn() {
		t.Fatalf("draw on the new commitment: %v", err)
	}
	if _, err := publicRecord(t, s, d.ID); err != nil {
		t.Fatal(err)
	}
}

// TestSeedIsSealedAtRest: the stored seed is ciphertext, not the seed; a
// server with another key cannot open it, and draws nothing.
func TestSeedIsSealedAtRest(t *testing.T) {
	db := storagetest.Mongo(t)
	w := storagetest.NewWorld(t, db, 6)
	s := newService(t, db, storagetest.Redis(t))
	p := readyPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 2})
	stored, err := db.Plans().LoadSeed(t.Context(), p.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	other := *s
	other.SeedKey = "another-key-of-at-least-32-bytes-long"
	if _, err := other.Draw(office(t.Context()), p.ID, ""); backend.ErrorCode(err) != backend.EINTERNAL {
		t.Fatalf("a draw with the wrong key: %v", err)
	}
	d, err := s.Draw(office(t.Context()), p.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, []byte(d.Record.Seed)) || len(stored) < 64 || d.Record.Seed.Commitment() != p.SeedCommitment {
		t.Fatalf("the seed is stored in the clear: %q", stored)
	}
}

// slowDraws is the draw store with a pause in the middle of a draw (when
// it reads the frozen pool back), for the lease tests: fault injection in
// the test's store wrapper, not in the service.
type slowDraws struct {
	backend.DrawStore
	pause func()
}

func (s *slowDraws) ScanSnapshot(ctx context.Context, kind, sha string, emit func([]byte) error) error {
	if kind == backend.SnapshotPool && s.pause != nil {
		s.pause()
	}
	return s.DrawStore.ScanSnapshot(ctx, kind, sha, emit)
}

// TestLeaseLivesAsLongAsTheDraw: with a lease of one second, a draw that
// takes three keeps it — another instance trying to take it meanwhile is
// refused — and stores its draw.
func TestLeaseLivesAsLongAsTheDraw(t *testing.T) {
	db, c := storagetest.Mongo(t), storagetest.Redis(t)
	w := storagetest.NewWorld(t, db, 12)
	s := newService(t, db, c)
	s.LockTTL = time.Second
	p := readyPlan(t, s, w, backend.PlanUndirected, backend.PlanSample{Ratio: "0.5"})
	var during error
	s.Draws = &slowDraws{DrawStore: db.Draws(), pause: func() {
		time.Sleep(2 * time.Second) // twice the lease's life
		_, during = c.Locks().Acquire(t.Context(), "draw:"+p.ID, time.Second)
		time.Sleep(time.Second)
	}}
	start := time.Now()
	d, err := s.Draw(office(t.Context()), p.ID, "")
	if err != nil || !d.Drawn() {
		t.Fatalf("a 3-second draw under a 1-second lease: %v", err)
	}
	if took := time.Since(start); took < 3*time.Second {
		t.Fatalf("the draw took %v, the test needs 3 s", took)
	}
	if backend.ErrorCode(during) != backend.ECONFLICT {
		t.Fatalf("after 2 s another instance took the lease (%v): it was not kept alive", during)
	}
	if _, err := publicRecord(t, s, d.ID); err != nil {
		t.Fatal(err)
	}
}

// TestRedisCutMidDrawStoresNothing takes Redis away in the middle of a
// draw: the next extension of the lease fails, the draw stops and stores
// nothing; once Redis is back the same commitment draws.
func TestRedisCutMidDrawStoresNothing(t *testing.T) {
	db, shared := storagetest.Mongo(t), storagetest.Redis(t)
	w := storagetest.NewWorld(t, db, 12)
	s := newService(t, db, shared)
	p := readyPlan(t, s, w, backend.PlanUndirected, backend.PlanSample{Ratio: "0.5"})

	cfg := storagetest.Config(t)
	u, _ := url.Parse(cfg.RedisURL)
	proxy := storagetest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	flaky, err := cache.Open(t.Context(), cache.Options{URL: u.String(), Prefix: shared.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	defer flaky.Close()
	s.Locks, s.LockTTL = flaky.Locks(), time.Second
	s.Draws = &slowDraws{DrawStore: db.Draws(), pause: func() {
		proxy.Cut()
		time.Sleep(1500 * time.Millisecond) // an extension falls due meanwhile
	}}
	_, err = s.Draw(office(t.Context()), p.ID, "")
	if code := backend.ErrorCode(err); code != backend.EUNAVAILABLE && code != backend.ECONFLICT {
		t.Fatalf("draw with Redis gone: %v (%s), want the lease's failure", err, code)
	}
	if draws, err := db.Draws().FindDrawsByPlan(t.Context(), p.ID); err != nil || len(draws) != 0 {
		t.Fatalf("%d draws stored (%v) after the lease was lost", len(draws), err)
	}
	if got, _ := db.Plans().FindPlanByID(t.Context(), p.ID); got.DrawCount != 0 || got.Commitment == nil {
		t.Fatalf("plan changed by a failed draw: %+v", got)
	}

	// Redis is back: the retry draws once the lease the cut attempt could
	// not release has lapsed.
	s.Locks, s.Draws = shared.Locks(), db.Draws()
	var d *backend.Draw
	for range 50 {
		if d, err = s.Draw(office(t.Context()), p.ID, ""); backend.ErrorCode(err) != backend.ECONFLICT {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || d.Seq != 1 {
		t.Fatalf("retry: %+v %v", d, err)
	}
}

// TestArticle16CapsAndExemptions draws every enterprise twice in two
// plans; a third plan's pool then holds only the enterprise exempt from
// the cap, and its record shows the others left out with their reason and
// their two draws by id.
func TestArticle16CapsAndExemptions(t *testing.T) {
	db := storagetest.Mongo(t)
	w := storagetest.NewWorld(t, db, 6)
	s := newService(t, db, storagetest.Redis(t))
	ctx := office(t.Context())

	var first []string
	var lastGroup []string // the group of the second draw for the enterprise drawn a third time
	risky := w.Enterprises[3]
	for range 2 {
		p := readyPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 6})
		d, err := s.Draw(ctx, p.ID, "")
		if err != nil || len(d.Record.Selections) != 6 {
			t.Fatalf("drawing all: %v", err)
		}
		first = append(first, d.ID)
		for _, sel := range d.Record.Selections {
			if sel.USCC == risky.USCC {
				lastGroup = sel.Group
			}
		}
	}
	slices.Sort(first) // a record lists draw ids as a sorted set (SPEC §6.3)
	risky.Flags, risky.UpdatedAt = []string{backend.FlagHighCreditRisk}, time.Now().UTC()
	if err := db.Enterprises().UpdateEnterprise(t.Context(), risky); err != nil {
		t.Fatal(err)
	}

	third := readyPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 1})
	d, err := s.Draw(ctx, third.ID, "")
	if err != nil || d.Record.PoolSize != 1 || d.Record.Selections[0].USCC != risky.USCC {
		t.Fatalf("pool %+v %v, want only the high-risk enterprise", d, err)
	}
	v, err := publicRecord(t, s, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	excluded := 0
	for _, c := range v.Record.Candidates {
		if c.USCC == risky.USCC {
			continue
		}
		if c.Excluded != draw.ExcludedDrawnTwice || c.RandomDraws != 2 || strings.Join(c.DrawIDs, ",") != strings.Join(first, ",") {
			t.Fatalf("candidate %+v, want left out for its two draws %v", c, first)
		}
		excluded++
	}
	if excluded != 5 {
		t.Fatalf("%d exclusions listed, want 5", excluded)
	}
	// The last inspection's group is not drawn again for it. The control:
	// the record names exactly that group as the last inspectors (the check
	// below would pass trivially on an empty list). That the group step never
	// picks a named inspector is checked exactly, against a brute-force
	// oracle, by backend/draw's TestGroupStepIsExact.
	var named []string
	for _, o := range v.Record.Roster {
		if slices.Contains(o.LastInspected, risky.USCC) {
			named = append(named, o.BadgeNo)
		}
	}
	slices.Sort(named)
	want := slices.Sorted(slices.Values(lastGroup))
	if len(want) < 2 || !slices.Equal(named, want) {
		t.Fatalf("the record names %v as the last inspectors of %s, want the second draw's group %v", named, risky.USCC, want)
	}
	for _, b := range d.Record.Selections[0].Group {
		if slices.Contains(want, b) {
			t.Fatalf("inspector %s of the last inspection drawn again (group %v, last %v)", b, d.Record.Selections[0].Group, want)
		}
	}
	// Asking for more than the capped pool holds is refused at commit.
	fifth := approvedPlan(t, s, w, backend.PlanDirected, backend.PlanSample{Count: 2})
	if _, err := s.CommitSeed(ctx, fifth.ID, ""); backend.ErrorCode(err) != backend.EINVALID {
		t.Fatalf("committing 2 from a pool of 1: %v", err)
	}
	rep, err := s.CoverageReport(ctx, 2026)
	if err != nil || rep.Total != 2 || rep.Covered != 2 {
		t.Fatalf("coverage %+v %v", rep, err)
	}
}
