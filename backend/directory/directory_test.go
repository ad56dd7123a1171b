package directory_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/audit"
	"suiji/backend/directory"
	"suiji/backend/sheet"
	"suiji/backend/uscc"
	"suiji/storage/mongodb"
	"suiji/storage/storagetest"
)

// newService builds the directory on a database of the test's own.
func newService(t testing.TB) (*directory.Service, *mongodb.DB) {
	t.Helper()
	db := storagetest.Mongo(t)
	now := func() time.Time { return time.Now().UTC() }
	return &directory.Service{
		Towns: db.Towns(), Departments: db.Departments(), Enterprises: db.Enterprises(),
		Versions: db.Versions(), Audit: &audit.Recorder{Store: db.AuditEvents(), Now: now}, Now: now,
	}, db
}

func asClerk(ctx context.Context) context.Context {
	return backend.WithActor(ctx, &backend.Actor{UserID: "u-clerk", Username: "clerk", Roles: []backend.Role{backend.RoleStaff}})
}

// TestDirectoryConcurrentPatches: two clerks change the same enterprise
// from the same version at once; the compare-and-set lets exactly one win.
func TestDirectoryConcurrentPatches(t *testing.T) {
	svc, _ := newService(t)
	ctx := asClerk(t.Context())
	code := uscc.Generate(rand.New(rand.NewPCG(1, 1)))
	e, err := svc.CreateEnterprise(ctx, directory.NewEnterprise{USCC: code, Name: "甲", Town: "巴公镇"})
	if err != nil {
		t.Fatal(err)
	}
	const writers = 6
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			name := strings.Repeat("乙", i+1)
			_, errs[i] = svc.UpdateEnterprise(ctx, e.ID, directory.EnterprisePatch{Name: &name})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch backend.ErrorCode(err) {
		case "":
			won++
		case backend.ECONFLICT:
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	got, err := svc.GetEnterprise(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := svc.EnterpriseVersions(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Every winner moved the version by one and left exactly one history
	// row; losers left nothing.
	if got.Version != 1+won || len(versions) != 1+won || won < 1 {
		t.Errorf("%d winners, version %d, %d versions", won, got.Version, len(versions))
	}
	for i, v := range versions {
		if v.Number != i+1 {
			t.Errorf("version numbers %d at %d", v.Number, i)
		}
	}
}

// failingVersions is the real version store with AppendVersion failing on
// demand, to show what a lost second write leaves behind.
type failingVersions struct {
	backend.VersionStore
	fail bool
}

func (f *failingVersions) AppendVersion(ctx context.Context, v *backend.Version) error {
	if f.fail {
		return backend.Wrap(errors.New("connection lost"), backend.EUNAVAILABLE, "MongoDB is unavailable")
	}
	return f.VersionStore.AppendVersion(ctx, v)
}

// TestDirectoryLostVersionWrite documents the non-transactional write
// order: the enterprise change stands, the caller gets the error, the
// history has a visible gap, and later changes work.
func TestDirectoryLostVersionWrite(t *testing.T) {
	svc, db := newService(t)
	fv := &failingVersions{VersionStore: db.Versions()}
	svc.Versions = fv
	ctx := asClerk(t.Context())
	e, err := svc.CreateEnterprise(ctx, directory.NewEnterprise{USCC: uscc.Generate(rand.New(rand.NewPCG(2, 2))), Name: "甲", Town: "高都镇"})
	if err != nil {
		t.Fatal(err)
	}
	fv.fail = true
	name := "乙"
	if _, err := svc.UpdateEnterprise(ctx, e.ID, directory.EnterprisePatch{Name: &name}); backend.ErrorCode(err) != backend.EUNAVAILABLE {
		t.Fatalf("update with the version write failing: %v", err)
	}
	fv.fail = false
	name = "丙"
	if _, err := svc.UpdateEnterprise(ctx, e.ID, directory.EnterprisePatch{Name: &name}); err != nil {
		t.Fatalf("the next update: %v", err)
	}
	versions, _ := svc.EnterpriseVersions(ctx, e.ID)
	var numbers []int
	for _, v := range versions {
		numbers = append(numbers, v.Number)
	}
	if len(numbers) != 2 || numbers[0] != 1 || numbers[1] != 3 {
		t.Errorf("version numbers %v, want [1 3]: the gap at 2 shows the lost history row", numbers)
	}
}

// TestDirectorySeedTownsConcurrently: several instances starting at once
// seed each town once.
func TestDirectorySeedTownsConcurrently(t *testing.T) {
	_, db := newService(t)
	var wg sync.WaitGroup
	total := make([]int, 4)
	for i := range total {
		wg.Go(func() {
			now := func() time.Time { return time.Now().UTC() }
			svc := &directory.Service{Towns: db.Towns(), Versions: db.Versions(), Audit: &audit.Recorder{Store: db.AuditEvents(), Now: now}, Now: now}
			n, err := svc.EnsureTowns(t.Context())
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
			total[i] = n
		})
	}
	wg.Wait()
	towns, err := db.Towns().FindTowns(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(towns) != 17 || total[0]+total[1]+total[2]+total[3] != 17 {
		t.Errorf("%d towns, %v created per instance; want 17 in all", len(towns), total)
	}
}

// TestDirectoryImportFromReader: the command line's path — a reader, no
// HTTP, progress reported per stored batch — with the system as the actor.
func TestDirectoryImportFromReader(t *testing.T) {
	svc, _ := newService(t)
	rng := rand.New(rand.NewPCG(3, 3))
	var b strings.Builder
	b.WriteString("uscc,name,town,categories,flags,status,lat,lng\n")
	for i := range 20 {
		b.WriteString(uscc.Generate(rng) + ",企业" + string(rune('A'+i)) + ",巴公镇,coal_mine;major_hazard_source,,active,35.6,112.8\n")
	}
	var calls, last int
	report, err := svc.ImportEnterprises(t.Context(), strings.NewReader(b.String()),
		sheet.ImportOptions{Filename: "directory.csv", BatchSize: 8, Progress: func(done, total int) { calls++; last = done }})
	if err != nil {
		t.Fatalf("import: %v (%+v)", err, report)
	}
	if report.Created != 20 || calls != 3 || last != 20 { // batches of 8, 8 and 4
		t.Errorf("created %d, progress called %d times up to %d", report.Created, calls, last)
	}
	list, total, err := svc.ListEnterprises(t.Context(), backend.EnterpriseFilter{Category: backend.CategoryCoalMine})
	if err != nil || total != 20 || list[0].Location == nil {
		t.Errorf("after import: %d listed, %v", total, err)
	}
}

// TestDirectoryStaleFilterAndQuery checks the store's filters on the edge
// cases: a review exactly at the cutoff, and free text full of regex
// metacharacters.
func TestDirectoryStaleFilterAndQuery(t *testing.T) {
	svc, _ := newService(t)
	now := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	svc.Now = func() time.Time { return now }
	ctx := asClerk(t.Context())
	rng := rand.New(rand.NewPCG(4, 4))
	mk := func(name string) *backend.Enterprise {
		e, err := svc.CreateEnterprise(ctx, directory.NewEnterprise{USCC: uscc.Generate(rng), Name: name, Town: "下村镇"})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	atCutoff, justBefore, never := mk("a+b|c"), mk("[x]"), mk("^$\\")
	now = time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC) // exactly 12 months earlier
	if _, err := svc.ReviewEnterprise(ctx, atCutoff.ID, nil); err != nil {
		t.Fatal(err)
	}
	now = now.Add(-time.Millisecond)
	if _, err := svc.ReviewEnterprise(ctx, justBefore.ID, nil); err != nil {
		t.Fatal(err)
	}
	now = time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	stale, total, err := svc.StaleEnterprises(ctx, backend.EnterpriseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, s := range stale {
		ids[s.Enterprise.ID] = true
	}
	if total != 2 || !ids[justBefore.ID] || !ids[never.ID] {
		t.Errorf("stale: %d %v; want the one reviewed just before the cutoff and the never-reviewed one", total, ids)
	}
	for q, want := range map[string]int{"a+b|c": 1, "[X]": 1, "^$\\": 1, ".*": 0, "|": 1} {
		_, n, err := svc.ListEnterprises(ctx, backend.EnterpriseFilter{Query: q})
		if err != nil || n != want {
			t.Errorf("q=%q: %d, %v; want %d", q, n, err, want)
		}
	}
}

// BenchmarkImportEnterprisesXLSX imports a 10,000-row XLSX directory (the
// county's size, issue 4) into an empty database and reports rows/s. Each
// iteration uses a fresh database, so every row is created with its version
// and audit event.
func BenchmarkImportEnterprisesXLSX(b *testing.B) {
	const rows = 10_000
	rng := rand.New(rand.NewPCG(5, 5))
	data := make([]map[string]string, rows)
	for i := range data {
		data[i] = map[string]string{
			"uscc": uscc.Generate(rng), "name": "泽州县示例企业" + strconv.Itoa(i), "town": directory.ZezhouTowns[i%len(directory.ZezhouTowns)],
			"industry": "制造业", "address": "泽州县某路" + strconv.Itoa(i) + "号", "lat": "35.5", "lng": "112.8",
			"categories": "粉尘涉爆；有限空间", "status": "存续", "legal_representative": "张三", "phone": "0356-1234567",
		}
	}
	var file bytes.Buffer
	if err := sheet.WriteXLSX(&file, directory.EnterpriseSchema, data); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		svc, _ := newService(b)
		b.StartTimer()
		report, err := svc.ImportEnterprises(b.Context(), bytes.NewReader(file.Bytes()), sheet.ImportOptions{Filename: "bench.xlsx"})
		if err != nil || report.Created != rows {
			b.Fatalf("import: %v, %+v", err, report)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(file.Len()), "file_bytes")
}
