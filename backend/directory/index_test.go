package directory_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/audit"
	"suiji/backend/directory"
	"suiji/backend/uscc"
	"suiji/storage/mongodb"
	"suiji/storage/storagetest"
)

// countingEnterprises counts the reads of the real store under it.
type countingEnterprises struct {
	backend.EnterpriseStore
	finds, loads, heads, byID atomic.Int64
}

func (c *countingEnterprises) FindEnterprises(ctx context.Context, f backend.EnterpriseFilter) ([]*backend.Enterprise, int, error) {
	c.finds.Add(1)
	return c.EnterpriseStore.FindEnterprises(ctx, f)
}

func (c *countingEnterprises) EachEnterprise(ctx context.Context, fn func(*backend.Enterprise) error) error {
	c.loads.Add(1)
	return c.EnterpriseStore.EachEnterprise(ctx, fn)
}

func (c *countingEnterprises) EnterprisesHead(ctx context.Context) (int64, error) {
	c.heads.Add(1)
	return c.EnterpriseStore.EnterprisesHead(ctx)
}

func (c *countingEnterprises) FindEnterpriseByID(ctx context.Context, id string) (*backend.Enterprise, error) {
	c.byID.Add(1)
	return c.EnterpriseStore.FindEnterpriseByID(ctx, id)
}

// indexedService is a directory Service (an instance) on db whose
// enterprise store counts its reads.
func indexedService(db *mongodb.DB, interval time.Duration, max int) (*directory.Service, *countingEnterprises) {
	store := &countingEnterprises{EnterpriseStore: db.Enterprises()}
	now := func() time.Time { return time.Now().UTC() }
	return &directory.Service{
		Towns: db.Towns(), Departments: db.Departments(), Enterprises: store,
		Versions: db.Versions(), Audit: &audit.Recorder{Store: db.AuditEvents(), Now: now}, Now: now,
		IndexInterval: interval, IndexMax: max,
	}, store
}

// reviewBase is the time the fixture's reviews are spread around.
var reviewBase = time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)

// indexFixture stores n enterprises straight through the store, in bulk,
// with every field a filter reads varied: three towns, two industries and
// none, both statuses, categories and flags in several combinations (and
// none), names with Latin letters in every case — the Kelvin sign, the
// long s and Greek sigmas among them, whose case-folding orbits hold more
// than two runes — and regular-expression metacharacters, and reviews
// never, at reviewBase exactly, a millisecond either side of it, and
// months away.
func indexFixture(t testing.TB, db *mongodb.DB, n int) []*backend.Enterprise {
	t.Helper()
	rng := rand.New(rand.NewPCG(14, 14))
	names := []string{"甲Abc化工有限公司", "乙abc煤业有限公司", "丙.*建材有限公司", "丁 ABC 食品厂", "Kelvin\u212a冷库",
		"ſtone石材厂", "ΣΟΦΙΑ贸易公司", "σοφια商行", "a+b|c[x]^$\\加工厂", "煤业集团"}
	reviews := []*time.Time{nil, &reviewBase, ptr(reviewBase.Add(-time.Millisecond)), ptr(reviewBase.Add(time.Millisecond)),
		ptr(reviewBase.AddDate(0, -5, 0)), ptr(reviewBase.AddDate(0, 3, 0))}
	cats := [][]string{{}, {backend.CategoryCoalMine}, {backend.CategoryHazardousChemicals, backend.CategoryDustExplosion}, {backend.CategoryDustExplosion}}
	flags := [][]string{{}, {}, {backend.FlagBlacklist}, {backend.FlagHighCreditRisk, backend.FlagBlacklist}, {backend.FlagSeriousViolation}}
	now := time.Now().UTC().Truncate(time.Millisecond)
	var out []*backend.Enterprise
	for i := range n {
		e := &backend.Enterprise{
			USCC: uscc.Generate(rng), Name: fmt.Sprintf("%s%d号", names[i%len(names)], i),
			Town: []string{"巴公镇", "高都镇", "金村镇"}[i%3], Industry: []string{"制造业", "化工", ""}[i%3*i%7%3],
			Address: fmt.Sprintf("某路%d号", i), Categories: cats[i%len(cats)], Flags: flags[i%len(flags)],
			Status:              []string{backend.EnterpriseActive, backend.EnterpriseActive, backend.EnterpriseClosed}[i%3*i%5%3],
			LegalRepresentative: "张三", SafetyManager: "李四", Phone: "0356-1234567",
			ReviewedAt: reviews[i%len(reviews)], CreatedAt: now, UpdatedAt: now,
		}
		if i%4 != 0 {
			e.Location = &backend.GeoPoint{Lat: 35.5 + float64(i)/1000, Lng: 112.8}
		}
		out = append(out, e)
	}
	errs, err := db.Enterprises().CreateEnterprises(t.Context(), out)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func enterpriseIDs(es []*backend.Enterprise) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// TestDirectoryIndexAnswersAsTheStore is the oracle test of the index:
// every filter, text rule, staleness cutoff, cursor, offset and limit is
// answered by the store's query (EnterpriseStore.FindEnterprises, on the
// test stack) and by the Service's listing on the same data, and the two
// answers — the page, each enterprise field by field, the total, the
// error — must be the same. The Service reads the whole directory once
// and never searches the store.
func TestDirectoryIndexAnswersAsTheStore(t *testing.T) {
	t.Parallel()
	db := storagetest.Mongo(t)
	es := indexFixture(t, db, 60)
	svc, store := indexedService(db, time.Hour, 0)
	ctx := asClerk(t.Context())
	byUSCC := slices.Clone(es)
	slices.SortFunc(byUSCC, func(a, b *backend.Enterprise) int { return strings.Compare(a.USCC, b.USCC) })
	mid := byUSCC[len(byUSCC)/2].USCC
	cutoff := reviewBase
	subMilli := reviewBase.Add(600 * time.Microsecond) // the store keeps milliseconds
	later := reviewBase.AddDate(0, 4, 0)
	filters := []backend.EnterpriseFilter{
		{}, {Town: "高都镇"}, {Town: "不存在镇"}, {Industry: "化工"}, {Industry: "制造业", Town: "巴公镇"},
		{Status: backend.EnterpriseClosed}, {Status: backend.EnterpriseActive, Town: "金村镇"},
		{Category: backend.CategoryDustExplosion}, {Category: backend.CategoryCoalMine, Status: backend.EnterpriseActive},
		{Category: backend.CategoryMajorHazardSource}, {Flag: backend.FlagBlacklist}, {Flag: backend.FlagHighCreditRisk, Category: backend.CategoryDustExplosion},
		// Text: part of a name in any case; the USCC's beginning in any case; metacharacters as text.
		{Query: "abc"}, {Query: "ABC"}, {Query: "aBc"}, {Query: "  煤业 "}, {Query: "   "}, {Query: "有限公司"},
		{Query: "kelvin"}, {Query: "KELVINK"}, {Query: "\u212aelvin"}, {Query: "k冷库"}, {Query: "STONE"}, {Query: "ſtone"}, {Query: "Stone石材"},
		{Query: "σοφια"}, {Query: "ΣΟΦΙΑ"}, {Query: "ςοφια"}, {Query: ".*"}, {Query: "a+b|c"}, {Query: "[X]^$\\"}, {Query: "|"}, {Query: "("},
		{Query: strings.ToLower(byUSCC[7].USCC[:12])}, {Query: byUSCC[7].USCC}, {Query: byUSCC[7].USCC[3:10]}, {Query: "9114"},
		{Query: "1号"}, {Query: "1号", Town: "巴公镇"}, {Query: "不存在"},
		// Staleness: never reviewed or reviewed before the cutoff, at the store's precision.
		{NotReviewedSince: &cutoff}, {NotReviewedSince: &subMilli}, {NotReviewedSince: &later},
		{NotReviewedSince: &cutoff, Status: backend.EnterpriseActive, Query: "abc"},
		// Pages: by cursor, offset and limit, alone and together.
		{Limit: 7}, {Limit: 7, Offset: 5}, {Offset: 58}, {Offset: 100}, {Limit: 1, Offset: 59},
		{After: backend.Cursor{mid}}, {After: backend.Cursor{mid}, Limit: 5}, {After: backend.Cursor{mid}, Offset: 3, Limit: 4},
		{After: backend.Cursor{mid + "0"}, Town: "高都镇"}, {After: backend.Cursor{""}}, {After: backend.Cursor{"ZZ"}},
		{After: backend.Cursor{byUSCC[0].USCC[:5]}, Query: "abc", Limit: 3},
		{Town: "巴公镇", Category: backend.CategoryDustExplosion, Flag: backend.FlagBlacklist, NotReviewedSince: &later, Limit: 2, Offset: 1},
		// Refused alike.
		{Offset: backend.MaxOffset + 1}, {After: backend.Cursor{"a", "b"}}, {After: backend.Cursor{"a", "b"}, Offset: backend.MaxOffset + 1},
	}
	for _, f := range filters {
		want, wantTotal, wantErr := db.Enterprises().FindEnterprises(ctx, f)
		got, total, err := svc.ListEnterprises(ctx, f)
		if backend.ErrorCode(err) != backend.ErrorCode(wantErr) || backend.ErrorMessage(err) != backend.ErrorMessage(wantErr) {
			t.Errorf("%+v: error %v, want %v", f, err, wantErr)
			continue
		}
		if total != wantTotal || !slices.Equal(enterpriseIDs(got), enterpriseIDs(want)) {
			t.Errorf("%+v: got %v (total %d), want %v (total %d)", f, enterpriseIDs(got), total, enterpriseIDs(want), wantTotal)
			continue
		}
		for i := range got {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("%+v: %d differs:\n%+v\nwant\n%+v", f, i, got[i], want[i])
			}
		}
		if none := []string{"不存在", "(", byUSCC[7].USCC[3:10]}; wantErr == nil && wantTotal == 0 && !slices.Contains(none, f.Query) &&
			f.Town != "不存在镇" && f.Category != backend.CategoryMajorHazardSource {
			t.Errorf("%+v matches nothing: the fixture does not exercise it", f)
		}
	}
	// Paging by cursor, with filters: every match once, in the store's order.
	for _, f := range []backend.EnterpriseFilter{{Limit: 7}, {Town: "高都镇", Limit: 4}, {Query: "ABC", Limit: 2}, {NotReviewedSince: &cutoff, Limit: 5}} {
		all := f
		all.Limit = 0
		want, _, err := db.Enterprises().FindEnterprises(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		var seen []string
		for range 100 {
			page, total, err := svc.ListEnterprises(ctx, f)
			if err != nil || total != len(want) {
				t.Fatalf("%+v: total %d, %v; want %d", f, total, err, len(want))
			}
			seen = append(seen, enterpriseIDs(page)...)
			if len(page) < f.Limit {
				break
			}
			f.After = f.CursorOf(page[len(page)-1])
		}
		if !slices.Equal(seen, enterpriseIDs(want)) {
			t.Errorf("paged %v, want %v", seen, enterpriseIDs(want))
		}
	}
	// By credit code (a dispatch's copies): the same enterprises as the
	// store's, field by field (a code asked twice names the same one), an
	// unknown code left out; and copies, which change nothing held.
	codes := []string{byUSCC[3].USCC, byUSCC[40].USCC, "91140525000000000X", byUSCC[3].USCC, byUSCC[59].USCC}
	byID := func(es []*backend.Enterprise) []*backend.Enterprise {
		out := slices.Clone(es)
		slices.SortFunc(out, func(a, b *backend.Enterprise) int { return strings.Compare(a.ID, b.ID) })
		return slices.CompactFunc(out, func(a, b *backend.Enterprise) bool { return a.ID == b.ID })
	}
	want, err := db.Enterprises().FindEnterprisesByUSCC(ctx, codes)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		got, err := svc.EnterprisesByUSCC(ctx, codes)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := byID(got), byID(want); len(w) != 3 || !reflect.DeepEqual(g, w) {
			t.Fatalf("round %d: by credit code %v, want %v", round, enterpriseIDs(g), enterpriseIDs(w))
		}
		for _, e := range got { // the caller's to change
			e.Name, e.Categories = "改过", append(e.Categories, "x")
			if e.Location != nil {
				e.Location.Lat = -1
			}
		}
	}
	if store.finds.Load() != 0 || store.loads.Load() != 1 {
		t.Fatalf("the store was searched %d times and read whole %d times; want 0 and 1", store.finds.Load(), store.loads.Load())
	}
}

// TestDirectoryIndexKeepsRoles: the index answers every caller, and what
// a caller is not shown (an inspector: the contacts) is withheld from its
// copy, never from the index; the staleness report and the export read
// the index too.
func TestDirectoryIndexKeepsRoles(t *testing.T) {
	t.Parallel()
	db := storagetest.Mongo(t)
	indexFixture(t, db, 12)
	svc, store := indexedService(db, time.Hour, 0)
	inspector := backend.WithActor(t.Context(), &backend.Actor{UserID: "u-insp", Username: "insp", Roles: []backend.Role{backend.RoleInspector}})
	list, _, err := svc.ListEnterprises(inspector, backend.EnterpriseFilter{})
	if err != nil || len(list) != 12 {
		t.Fatalf("inspector: %d, %v", len(list), err)
	}
	for _, e := range list {
		if e.Phone != "" || e.LegalRepresentative != "" || e.SafetyManager != "" {
			t.Fatalf("an inspector was shown contacts: %+v", e)
		}
		e.Name, e.Categories = "changed by the caller", append(e.Categories, "x")
	}
	stale, _, err := svc.StaleEnterprises(inspector, backend.EnterpriseFilter{})
	if err != nil || len(stale) == 0 || stale[0].Enterprise.Phone != "" {
		t.Fatalf("inspector's staleness report: %d, %v", len(stale), err)
	}
	ctx := asClerk(t.Context())
	list, _, err = svc.ListEnterprises(ctx, backend.EnterpriseFilter{})
	if err != nil || len(list) != 12 {
		t.Fatalf("clerk: %d, %v", len(list), err)
	}
	for _, e := range list {
		if e.Phone != "0356-1234567" || e.LegalRepresentative != "张三" || strings.HasPrefix(e.Name, "changed") || slices.Contains(e.Categories, "x") {
			t.Fatalf("the clerk's listing shows what another caller withheld or changed: %+v", e)
		}
	}
	var csv bytes.Buffer
	if err := svc.ExportEnterprises(ctx, &csv, directory.FormatCSV, "en", backend.EnterpriseFilter{Town: "巴公镇"}); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(strings.TrimSpace(csv.String()), "\n"); lines != 4 || !strings.Contains(csv.String(), "0356-1234567") {
		t.Fatalf("export: %d rows:\n%s", lines, csv.String())
	}
	if store.finds.Load() != 0 || store.loads.Load() != 1 {
		t.Fatalf("the store was searched %d times and read whole %d times; want 0 and 1", store.finds.Load(), store.loads.Load())
	}
}

// TestDirectoryIndexFollowsTheHead: two instances (Services) on one
// database. A write through one shows on it at once, even within its
// interval; on the other within its interval, and not before it reads the
// head again (a third instance, with an interval of an hour, still shows
// the old directory). Listings at once share one refresh, which reads by
// id only what changed — or everything, when the index is further behind
// than the change log keeps, or more enterprises changed than a patch
// reads.
func TestDirectoryIndexFollowsTheHead(t *testing.T) {
	t.Parallel()
	db := storagetest.Mongo(t)
	es := indexFixture(t, db, 20)
	ctx := asClerk(t.Context())
	const interval = 300 * time.Millisecond
	writer, _ := indexedService(db, time.Hour, 0)
	other, store := indexedService(db, interval, 0)
	slow, _ := indexedService(db, time.Hour, 0)
	for _, s := range []*directory.Service{writer, other, slow} {
		if _, total, err := s.ListEnterprises(ctx, backend.EnterpriseFilter{}); err != nil || total != 20 {
			t.Fatalf("before: %d, %v", total, err)
		}
	}
	lastHeads, lastByID := store.heads.Load(), store.byID.Load()
	// counts checks the full reads, the reads by id since the last check,
	// and the reads of the head: at least one, at most most (more when a
	// listing of the step came after the interval on a loaded machine).
	counts := func(what string, loads, byID, most int64) {
		t.Helper()
		l, h, b := store.loads.Load(), store.heads.Load(), store.byID.Load()
		if l != loads || b-lastByID != byID || h-lastHeads < 1 || h-lastHeads > most {
			t.Fatalf("%s: %d full reads, %d reads by id and %d reads of the head; want %d, %d and 1 to %d",
				what, l, b-lastByID, h-lastHeads, loads, byID, most)
		}
		lastHeads, lastByID = h, b
	}
	names := func(s *directory.Service, q string) []string {
		t.Helper()
		list, total, err := s.ListEnterprises(ctx, backend.EnterpriseFilter{Query: q})
		if err != nil || total != len(list) {
			t.Fatalf("%s: %d of %d, %v", q, len(list), total, err)
		}
		out := []string{}
		for _, e := range list {
			out = append(out, e.Name)
		}
		return out
	}
	wait := func() { time.Sleep(interval + 50*time.Millisecond) }
	// sameAsStore checks the whole directory against the store's listing:
	// a patch leaves every row in its place.
	sameAsStore := func(what string) {
		t.Helper()
		want, _, err := db.Enterprises().FindEnterprises(ctx, backend.EnterpriseFilter{})
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := other.ListEnterprises(ctx, backend.EnterpriseFilter{})
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: the other instance lists %v (%v), the store %v", what, enterpriseIDs(got), err, enterpriseIDs(want))
		}
		lastHeads = store.heads.Load() // on a loaded machine the interval may have passed
	}

	// An update through the writer.
	name := "更名后的企业"
	if _, err := writer.UpdateEnterprise(ctx, es[3].ID, directory.EnterprisePatch{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if got := names(writer, "更名后"); !slices.Equal(got, []string{name}) {
		t.Fatalf("the writer, within its hour, shows %v; want its own update at once", got)
	}
	if got := names(slow, "更名后"); len(got) != 0 {
		t.Fatalf("an instance within its hour shows %v; want the directory it holds", got)
	}
	wait()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			list, total, err := other.ListEnterprises(ctx, backend.EnterpriseFilter{Query: "更名后"})
			if err != nil || total != 1 || list[0].ID != es[3].ID {
				t.Errorf("after the interval: %d, %v", total, err)
			}
		})
	}
	wg.Wait()
	counts("an update", 1, 1, 2) // 8 listings, one refresh, one read by id

	// A new enterprise, and the review of another, through the writer.
	rng := rand.New(rand.NewPCG(99, 99))
	_, err := writer.CreateEnterprise(ctx, directory.NewEnterprise{USCC: uscc.Generate(rng), Name: "新登记企业", Town: "巴公镇"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(writer, "新登记"); !slices.Equal(got, []string{"新登记企业"}) {
		t.Fatalf("the writer shows %v; want its new enterprise at once", got)
	}
	staleBefore, _, err := other.StaleEnterprises(ctx, backend.EnterpriseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(staleBefore, func(s directory.StaleEnterprise) bool { return s.Enterprise.ID == es[0].ID }) {
		t.Fatalf("the never-reviewed %s is not in the staleness report", es[0].ID)
	}
	if _, err := writer.ReviewEnterprise(ctx, es[0].ID, nil); err != nil {
		t.Fatal(err)
	}
	wait()
	staleAfter, total, err := other.StaleEnterprises(ctx, backend.EnterpriseFilter{Limit: 100})
	if err != nil || total != len(staleAfter) || slices.ContainsFunc(staleAfter, func(s directory.StaleEnterprise) bool { return s.Enterprise.ID == es[0].ID }) {
		t.Fatalf("the reviewed enterprise is still stale on the other instance: %d, %v", total, err)
	}
	if got := names(other, "新登记"); !slices.Equal(got, []string{"新登记企业"}) {
		t.Fatalf("the other instance shows %v", got)
	}
	counts("a create and a review", 1, 2, 3) // the create came with or before the first listing; the review since
	sameAsStore("after patches")

	// An unchanged head costs a read of it and nothing else.
	wait()
	if _, total, err := other.ListEnterprises(ctx, backend.EnterpriseFilter{}); err != nil || total != 21 {
		t.Fatalf("unchanged: %d, %v", total, err)
	}
	counts("unchanged", 1, 0, 1)

	// An import batch of more enterprises than a patch reads: everything
	// is read again, once.
	batch := indexFixtureBatch(rng, 1001)
	if _, err := db.Enterprises().CreateEnterprises(ctx, batch); err != nil {
		t.Fatal(err)
	}
	wait()
	if _, total, err := other.ListEnterprises(ctx, backend.EnterpriseFilter{}); err != nil || total != 1022 {
		t.Fatalf("after a large batch: %d, %v", total, err)
	}
	counts("a large batch", 2, 0, 2)
	sameAsStore("after a reload")

	// Further behind than a patch follows, and than the change log keeps
	// (as if a thousand writes had come since): everything is read again.
	name = "日志之外的更名"
	if _, err := writer.UpdateEnterprise(ctx, es[5].ID, directory.EnterprisePatch{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Database().Collection("enterprises_head").UpdateOne(ctx, map[string]any{"_id": "head"},
		map[string]any{"$inc": map[string]any{"seq": 1000}}); err != nil {
		t.Fatal(err)
	}
	wait()
	if got := names(other, "日志之外"); !slices.Equal(got, []string{name}) {
		t.Fatalf("beyond the change log: %v", got)
	}
	counts("beyond the change log", 3, 0, 2)
	// And again, with the log's records gone.
	name = "记录丢失的更名"
	if _, err := writer.UpdateEnterprise(ctx, es[6].ID, directory.EnterprisePatch{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Database().Collection("enterprises_changes").DeleteMany(ctx, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	wait()
	if got := names(other, "记录丢失"); !slices.Equal(got, []string{name}) {
		t.Fatalf("without the change records: %v", got)
	}
	counts("no change records", 4, 0, 2)
}

// indexFixtureBatch returns n new enterprises for a bulk insert.
func indexFixtureBatch(rng *rand.Rand, n int) []*backend.Enterprise {
	now := time.Now().UTC().Truncate(time.Millisecond)
	out := make([]*backend.Enterprise, n)
	for i := range out {
		out[i] = &backend.Enterprise{USCC: uscc.Generate(rng), Name: fmt.Sprintf("批量企业%d", i), Town: "高都镇",
			Status: backend.EnterpriseActive, Categories: []string{}, Flags: []string{}, CreatedAt: now, UpdatedAt: now}
	}
	return out
}

// TestDirectoryIndexFallsBackToTheStore: above IndexMax (or with it below
// 0) the listings are the store's, with the same answers; at the maximum
// the index holds them; too many stays too many without reading
// everything again.
func TestDirectoryIndexFallsBackToTheStore(t *testing.T) {
	t.Parallel()
	db := storagetest.Mongo(t)
	indexFixture(t, db, 6)
	ctx := asClerk(t.Context())
	f := backend.EnterpriseFilter{Town: "巴公镇", Limit: 1}
	want, wantTotal, err := db.Enterprises().FindEnterprises(ctx, f)
	if err != nil || wantTotal != 2 {
		t.Fatalf("the store: %d, %v", wantTotal, err)
	}
	for _, max := range []int{5, -1} {
		svc, store := indexedService(db, 0, max)
		list, total, err := svc.ListEnterprises(ctx, f)
		if err != nil || total != wantTotal || !slices.Equal(enterpriseIDs(list), enterpriseIDs(want)) {
			t.Fatalf("max %d: %v of %d, %v", max, enterpriseIDs(list), total, err)
		}
		if store.finds.Load() != 1 {
			t.Fatalf("max %d: the store was searched %d times; want 1", max, store.finds.Load())
		}
	}
	atMax, store := indexedService(db, 0, 6)
	if _, total, err := atMax.ListEnterprises(ctx, backend.EnterpriseFilter{}); err != nil || total != 6 || store.finds.Load() != 0 {
		t.Fatalf("at the maximum: %d, %v, %d store searches", total, err, store.finds.Load())
	}
	svc, store := indexedService(db, -1, 5)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 2 {
		if _, total, err := svc.ListEnterprises(ctx, backend.EnterpriseFilter{}); err != nil || total != 6+i {
			t.Fatalf("above the maximum: %d, %v", total, err)
		}
		if _, err := db.Enterprises().CreateEnterprises(ctx, indexFixtureBatch(rng, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if store.loads.Load() != 1 || store.finds.Load() != 2 || store.heads.Load() != 2 {
		t.Fatalf("%d full reads, %d store searches, %d reads of the head; want 1, 2 and 2", store.loads.Load(), store.finds.Load(), store.heads.Load())
	}
}

// TestWarmIndexReadsOnceAhead: an instance warmed at start answers its
// first listing from memory — no full read, no read of the head within
// the interval — while one not warmed reads the directory then.
func TestWarmIndexReadsOnceAhead(t *testing.T) {
	t.Parallel()
	db := storagetest.Mongo(t)
	indexFixture(t, db, 12)
	ctx := asClerk(t.Context())
	warmed, store := indexedService(db, time.Hour, 0)
	if err := warmed.WarmIndex(t.Context()); err != nil {
		t.Fatal(err)
	}
	if l := store.loads.Load(); l != 1 {
		t.Fatalf("warming read the directory %d times, want once", l)
	}
	heads := store.heads.Load()
	if _, total, err := warmed.ListEnterprises(ctx, backend.EnterpriseFilter{}); err != nil || total != 12 {
		t.Fatalf("first listing: %d, %v", total, err)
	}
	if l, h := store.loads.Load(), store.heads.Load(); l != 1 || h != heads {
		t.Fatalf("the first listing after warming read the directory %d times and the head %d times; want neither again", l-1, h-heads)
	}
	cold, coldStore := indexedService(db, time.Hour, 0)
	if _, total, err := cold.ListEnterprises(ctx, backend.EnterpriseFilter{}); err != nil || total != 12 {
		t.Fatalf("cold listing: %d, %v", total, err)
	}
	if l := coldStore.loads.Load(); l != 1 {
		t.Fatalf("a cold instance's first listing read the directory %d times, want once", l)
	}
}
