package directory_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/directory"
)

// BenchmarkDirectoryIndex: pages of the directory as the staff's browser
// asks for them (50 enterprises and the total: by offset, by town, by
// part of a name) answered by the store's query — the baseline, what
// every listing cost before the index: EnterpriseStore.FindEnterprises,
// a count and a sorted find — and by the Service's listing from its index,
// on the same data, interleaved (indexPages index pages per store page,
// so that the two see the same machine). At 2,000 enterprises (the
// directory of make load) and 100,000 (a city's). It reports each page's
// mean time, their ratio, the first listing (which reads the whole
// directory into the index), the first listing after one enterprise
// changed (a patch: the head, the change record, the enterprise by id)
// and the heap the index holds per enterprise.
//
//	go test -run '^$' -bench 'DirectoryIndex/2000' -benchtime 10x ./backend/directory/
//	go test -run '^$' -bench 'DirectoryIndex/100000' -benchtime 2x -timeout 60m ./backend/directory/
func BenchmarkDirectoryIndex(b *testing.B) {
	for _, n := range []int{2_000, cityEnterprises} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchmarkDirectoryIndex(b, n) })
	}
}

const indexPages = 20

func benchmarkDirectoryIndex(b *testing.B, n int) {
	records, _ := cityDirectory(n)
	svc, db := newService(b)
	insertMany(b, db.Enterprises(), records)
	ctx := asClerk(b.Context())

	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC() // and what sync.Pools kept through the first
	runtime.ReadMemStats(&before)
	start := time.Now()
	if _, total, err := svc.ListEnterprises(ctx, backend.EnterpriseFilter{Limit: 1}); err != nil || total != n {
		b.Fatalf("first listing: %d, %v", total, err)
	}
	load := time.Since(start)
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	perEnterprise := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)

	pages := []backend.EnterpriseFilter{
		{Limit: 50, Offset: 50 * 7},
		{Town: cityTowns[3], Limit: 50},
		{Query: "企业0012", Limit: 50},
		{Category: backend.CategoryHazardousChemicals, After: backend.Cursor{records[n/2].USCC}, Limit: 50},
	}
	var store, index time.Duration
	i := 0
	for b.Loop() {
		f := pages[i%len(pages)]
		i++
		start := time.Now()
		want, wantTotal, err := db.Enterprises().FindEnterprises(ctx, f)
		store += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		for range indexPages {
			got, total, err := svc.ListEnterprises(ctx, f)
			if err != nil || total != wantTotal || len(got) != len(want) {
				b.Fatalf("%+v: %d of %d, %v; the store %d of %d", f, len(got), total, err, len(want), wantTotal)
			}
		}
		index += time.Since(start)
	}
	storePage := store.Seconds() / float64(i)
	indexPage := index.Seconds() / float64(i*indexPages)

	// One enterprise changed through the store (another instance): the
	// first listing after the interval reads the head, the change record
	// and that enterprise.
	e := records[n/3]
	e.Name = "更名企业"
	if err := db.Enterprises().UpdateEnterprise(ctx, e); err != nil {
		b.Fatal(err)
	}
	time.Sleep(directory.DefaultIndexInterval + 50*time.Millisecond)
	start = time.Now()
	if got, _, err := svc.ListEnterprises(ctx, backend.EnterpriseFilter{Query: "更名企业"}); err != nil || len(got) != 1 {
		b.Fatalf("after a change: %d, %v", len(got), err)
	}
	patch := time.Since(start)

	b.ReportMetric(storePage*1e3, "store_ms/page")
	b.ReportMetric(indexPage*1e6, "index_µs/page")
	b.ReportMetric(storePage/indexPage, "store/index")
	b.ReportMetric(float64(load.Milliseconds()), "load_ms")
	b.ReportMetric(float64(patch.Microseconds())/1e3, "patch_ms")
	b.ReportMetric(perEnterprise, "B/enterprise")
}
