package directory_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/sheet"
	"suiji/backend/uscc"
)

// A city's directory: the scale the import pipeline and the listings are
// measured at (issue "A city's scale").
const cityEnterprises = 100_000

// cityTowns are towns of the seeded list the generated rows spread over.
var cityTowns = []string{"巴公镇", "北义城镇", "高都镇", "下村镇", "大阳镇", "周村镇", "南村镇", "金村镇"}

// cityDirectory returns n generated enterprises, sorted by USCC, and the
// same as a CSV file in the import's columns.
func cityDirectory(n int) ([]*backend.Enterprise, string) {
	rng := rand.New(rand.NewPCG(100, 100))
	seen := make(map[string]bool, n)
	out := make([]*backend.Enterprise, 0, n)
	var csv strings.Builder
	csv.WriteString("uscc,name,town,industry,address,categories,flags,status,lat,lng\n")
	for len(out) < n {
		code := uscc.Generate(rng)
		if seen[code] {
			continue
		}
		seen[code] = true
		i := len(out)
		e := &backend.Enterprise{
			USCC: code, Name: fmt.Sprintf("城市企业%06d有限公司", i), Town: cityTowns[i%len(cityTowns)],
			Industry: "制造业", Address: fmt.Sprintf("某路%d号", i), Categories: []string{},
			Flags: []string{}, Status: backend.EnterpriseActive,
			Location: &backend.GeoPoint{Lat: 35.5 + float64(i%1000)/10000, Lng: 112.8 + float64(i%977)/10000},
		}
		if i%10 == 0 {
			e.Categories = []string{backend.CategoryHazardousChemicals}
		}
		out = append(out, e)
		fmt.Fprintf(&csv, "%s,%s,%s,%s,%s,%s,,active,%g,%g\n", e.USCC, e.Name, e.Town, e.Industry, e.Address,
			strings.Join(e.Categories, ";"), e.Location.Lat, e.Location.Lng)
	}
	slices.SortFunc(out, func(a, b *backend.Enterprise) int { return strings.Compare(a.USCC, b.USCC) })
	return out, csv.String()
}

// insertMany stores es with the store's bulk insert in batches of the
// import's size: the baseline — the store's own speed for these documents.
func insertMany(b *testing.B, store backend.EnterpriseStore, es []*backend.Enterprise) {
	b.Helper()
	now := time.Now().UTC()
	for start := 0; start < len(es); start += sheet.DefaultBatchSize {
		batch := es[start:min(start+sheet.DefaultBatchSize, len(es))]
		for _, e := range batch {
			e.ID, e.CreatedAt, e.UpdatedAt = "", now, now
		}
		errs, err := store.CreateEnterprises(b.Context(), batch)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range errs {
			if e != nil {
				b.Fatal(e)
			}
		}
	}
}

// BenchmarkScaleImport imports 100,000 enterprises from CSV through the one
// import pipeline (checks, versions, the audit event) and, beside it on the
// same store, inserts the same records with InsertMany alone. Each runs
// into an empty database once per iteration; the import's throughput is
// reported as a share of InsertMany's (goal ≥ 50%).
func BenchmarkScaleImport(b *testing.B) {
	records, csv := cityDirectory(cityEnterprises)
	var base, imp time.Duration
	for b.Loop() {
		// Interleaved, so that both see the same machine load.
		_, db := newService(b)
		start := time.Now()
		insertMany(b, db.Enterprises(), records)
		base += time.Since(start)

		svc, _ := newService(b)
		ctx := asClerk(b.Context())
		start = time.Now()
		report, err := svc.ImportEnterprises(ctx, strings.NewReader(csv), sheet.ImportOptions{Filename: "city.csv", MaxBytes: 64 << 20})
		imp += time.Since(start)
		if err != nil || report.Created != cityEnterprises {
			b.Fatalf("import: %v %+v", err, report)
		}
	}
	n := float64(b.N) * cityEnterprises
	b.ReportMetric(n/base.Seconds(), "insertmany_rows/s")
	b.ReportMetric(n/imp.Seconds(), "import_rows/s")
	b.ReportMetric(base.Seconds()/imp.Seconds()*100, "%_of_insertmany")
}

// BenchmarkScaleListing lists page 1 and page 1,000 (50 per page) of a
// 100,000-enterprise directory, the later one by its cursor, interleaved;
// the ratio of the two is reported (goal: within 2×).
func BenchmarkScaleListing(b *testing.B) {
	records, _ := cityDirectory(cityEnterprises)
	svc, db := newService(b)
	insertMany(b, db.Enterprises(), records)
	ctx := asClerk(b.Context())
	const limit, page = 50, 1000
	var f backend.EnterpriseFilter
	after := f.CursorOf(records[(page-1)*limit-1]) // the last record of page 999
	list := func(after backend.Cursor) time.Duration {
		start := time.Now()
		got, total, err := svc.ListEnterprises(ctx, backend.EnterpriseFilter{After: after, Limit: limit})
		if err != nil || len(got) != limit || total != cityEnterprises {
			b.Fatalf("listing: %d of %d, %v", len(got), total, err)
		}
		return time.Since(start)
	}
	if got, _, _ := svc.ListEnterprises(ctx, backend.EnterpriseFilter{After: after, Limit: 1}); got[0].USCC != records[(page-1)*limit].USCC {
		b.Fatalf("page %d starts at %s, want %s", page, got[0].USCC, records[(page-1)*limit].USCC)
	}
	var first, later time.Duration
	for b.Loop() {
		first += list(nil)
		later += list(after)
	}
	b.ReportMetric(float64(first.Microseconds())/float64(b.N), "page1_µs")
	b.ReportMetric(float64(later.Microseconds())/float64(b.N), "page1000_µs")
	b.ReportMetric(later.Seconds()/first.Seconds(), "page1000/page1")
}
