package mobileapi

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/draw"
	"suiji/backend/uscc"
	"suiji/storage/storagetest"
)

// cityPool is the scale the draw is measured at: a city's directory.
const cityPool = 100_000

// seedCity stores cityPool enterprises over 17 towns with the store's bulk
// insert (InsertMany in batches of 1,000), not through the API, and 60
// more brigade inspectors: a roster of 68.
func seedCity(b *testing.B, env *apiEnv, w *planWorld) {
	b.Helper()
	ctx := b.Context()
	rng := rand.New(rand.NewPCG(17, 17))
	seen := map[string]bool{}
	now := time.Now().UTC()
	batch := make([]*backend.Enterprise, 0, 1000)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		errs, err := env.db.Enterprises().CreateEnterprises(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range errs {
			if e != nil {
				b.Fatal(e)
			}
		}
		batch = batch[:0]
	}
	for n := 0; n < cityPool; {
		code := uscc.Generate(rng)
		if seen[code] {
			continue
		}
		seen[code] = true
		e := &backend.Enterprise{USCC: code, Name: fmt.Sprintf("城市企业%06d有限公司", n), Town: fmt.Sprintf("城区%02d街道", n%17),
			Industry: "制造业", Address: fmt.Sprintf("某路%d号", n), Categories: []string{}, Flags: []string{},
			Status: backend.EnterpriseActive, LegalRepresentative: "法定代表人", Phone: "13800000000", Version: 1, CreatedAt: now, UpdatedAt: now}
		if n%10 == 0 {
			e.Categories = []string{backend.CategoryHazardousChemicals}
		}
		batch = append(batch, e)
		n++
		if len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
	for i := range 60 {
		in := &backend.Inspector{UserID: fmt.Sprintf("bench-user-%d", i), Name: fmt.Sprintf("检查员B%d", i), BadgeNo: fmt.Sprintf("14052590%04d", i),
			CertificateExpires: "2030-12-31", DepartmentID: w.Brigade.ID, Qualifications: []string{"general", backend.CategoryHazardousChemicals},
			Active: true, Version: 1}
		if err := env.db.Inspectors().CreateInspector(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// postJSON sends a signed-in JSON request and wants status.
func postJSON(b *testing.B, env *apiEnv, token, path, body string, status int) []byte {
	b.Helper()
	resp, out := env.call(b, token, "POST", path, body, nil)
	if resp.StatusCode != status {
		b.Fatalf("POST %s: %d %s", path, resp.StatusCode, out)
	}
	return out
}

// BenchmarkScaleDraw measures a 10% undirected draw over a city's pool of
// 100,000 enterprises through the API, each step beside its baseline on
// the same store in the same run: the raw read of those enterprises (the
// store's own find of every document) plus the raw write of the record
// (its JSON, stored in the record's chunks). It draws three times in a row
// — the first draw and two approved redraws, each with its own commitment —
// under the default lease, and reports the public record's size
// compressed and not, and the server's peak heap while 20 clients fetch it
// at once over a real connection.
func BenchmarkScaleDraw(b *testing.B) {
	env := newSerialAPIEnv(b, Config{})
	w := &planWorld{storagetest.NewWorld(b, env.db, 0)}
	for _, role := range []string{"staff", "coordinator", "leader"} {
		u := env.users[role]
		u.DepartmentID = w.Brigade.ID
		if err := env.updateUser(b.Context(), u); err != nil {
			b.Fatal(err)
		}
	}
	seedCity(b, env, w)
	staff, leader := env.login(b, "staff").AccessToken, env.login(b, "leader").AccessToken

	var commitTime, drawTime, readTime, writeTime time.Duration
	var record []byte
	var lastDraw string
	rounds := 0
	for b.Loop() {
		rounds++
		var p planJSON
		if err := json.Unmarshal(postJSON(b, env, staff, "/api/v1/plans", w.planBody("undirected", `{"ratio":0.1}`), 201), &p); err != nil {
			b.Fatal(err)
		}
		postJSON(b, env, leader, "/api/v1/plans/"+p.ID+"/approve", "", 200)
		for attempt := 1; attempt <= 3; attempt++ {
			if attempt > 1 {
				postJSON(b, env, leader, "/api/v1/plans/"+p.ID+"/redraw-approvals", `{"reason":"测试连续三次抽取"}`, 201)
			}
			start := time.Now()
			postJSON(b, env, staff, "/api/v1/plans/"+p.ID+"/commit", `{}`, 200)
			commitTime += time.Since(start)
			start = time.Now()
			var d drawJSON
			if err := json.Unmarshal(postJSON(b, env, staff, "/api/v1/plans/"+p.ID+"/draws", `{}`, 201), &d); err != nil {
				b.Fatal(err)
			}
			drawTime += time.Since(start)
			if d.Outcome != draw.OutcomeDrawn || len(d.Selections) != cityPool/10 || d.Seq != attempt {
				b.Fatalf("attempt %d: %s %s, %d selections", attempt, d.Outcome, d.Failure, len(d.Selections))
			}
			lastDraw = d.ID
		}
		// The baseline, on the same store: read every enterprise document,
		// then write the record's bytes as the store writes chunks.
		start := time.Now()
		all, _, err := env.db.Enterprises().FindEnterprises(b.Context(), backend.EnterpriseFilter{})
		if err != nil || len(all) != cityPool {
			b.Fatalf("raw read: %d, %v", len(all), err)
		}
		readTime += time.Since(start)
		record, _ = fetchRecordBench(b, env, lastDraw, "")
		var rec draw.Record
		if err := json.Unmarshal(record, &rec); err != nil {
			b.Fatal(err)
		}
		var chunks [][]byte
		_ = draw.ChunkList(rec.Candidates, 2000)(func(c []byte) error { chunks = append(chunks, c); return nil })
		sel, _ := json.Marshal(rec.Selections)
		chunks = append(chunks, sel)
		start = time.Now()
		if err := env.db.Draws().PutSnapshot(b.Context(), "baseline", fmt.Sprintf("%s-%d", lastDraw, rounds), chunks); err != nil {
			b.Fatal(err)
		}
		writeTime += time.Since(start)
	}
	base := float64(readTime+writeTime) / float64(rounds)
	draws := float64(3 * rounds)
	b.ReportMetric(float64(drawTime)/draws/base, "draw×read+write")
	b.ReportMetric(float64(commitTime)/draws/base, "commit×read+write")
	b.ReportMetric(float64(readTime+writeTime)/float64(rounds)/1e9, "s-baseline")
	b.ReportMetric(float64(drawTime)/draws/1e9, "s-draw")
	b.ReportMetric(float64(commitTime)/draws/1e9, "s-commit")

	zipped, _ := fetchRecordBench(b, env, lastDraw, "gzip")
	brotlied, _ := fetchRecordBench(b, env, lastDraw, "br")
	b.ReportMetric(float64(len(record))/1e6, "MB-record")
	b.ReportMetric(float64(len(zipped))/float64(len(record)), "gzip-share")
	b.ReportMetric(float64(len(brotlied))/float64(len(record)), "br-share")
	b.ReportMetric(peakWhileFetching(b, env, lastDraw, 20)/1e6, "MB-peak-heap-20-clients")
}

// fetchRecordBench gets a record's bytes as transferred (compressed when
// encoding is given) and checks they decode to a record.
func fetchRecordBench(b *testing.B, env *apiEnv, id, encoding string) ([]byte, *http.Response) {
	b.Helper()
	headers := map[string]string{}
	if encoding != "" {
		headers["Accept-Encoding"] = encoding
	}
	resp, body := env.call(b, "", "GET", "/public/v1/draws/"+id, "", headers)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != encoding {
		b.Fatalf("GET record: %d %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	return body, resp
}

// peakWhileFetching serves the API on a loopback port and has n clients
// fetch a record at once (gzip, read to the end, checked); it returns the
// largest growth of the process's heap in use seen meanwhile, sampled
// every 5 ms, over what it was before.
func peakWhileFetching(b *testing.B, env *apiEnv, id string, n int) float64 {
	b.Helper()
	url := serveAPI(b, env.srv) + "/public/v1/draws/" + id
	ctx := b.Context()

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				errs <- err
				return
			}
			got, err := io.Copy(io.Discard, zr)
			if err != nil || got < cityPool*100 || resp.StatusCode != 200 {
				errs <- fmt.Errorf("fetched %d bytes, status %d: %v", got, resp.StatusCode, err)
			}
		}()
	}
	wg.Wait()
	close(done)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if peak.Load() < before {
		return 0
	}
	return float64(peak.Load() - before)
}
