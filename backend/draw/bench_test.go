package draw

import (
	"fmt"
	"testing"
	"time"
)

// benchInputs is the benchmark case: 100,000 enterprises over 17
// towns, a 10% undirected draw, 300 inspectors in 4 departments, groups of
// 2 from the brigade covering two qualifications.
func benchInputs() ([]Candidate, []Officer) {
	towns := make([]string, 17)
	for i := range towns {
		towns[i] = fmt.Sprintf("town-%02d", i)
	}
	all := make([]Candidate, 100000)
	for i := range all {
		all[i] = Candidate{
			USCC: fmt.Sprintf("91140525%010d", i), Town: towns[(i*7)%17], Industry: "制造业",
			Categories: []string{"metallurgy_industry_trade"}, Active: true, RandomTasksThisYear: i % 3,
		}
	}
	depts := []string{"brigade", "hazchem", "mines", "trade"}
	roster := make([]Officer, 300)
	for i := range roster {
		quals := []string{"general"}
		if i%4 == 0 {
			quals = append(quals, "metallurgy_industry_trade")
		}
		roster[i] = Officer{BadgeNo: fmt.Sprintf("%06d", i), Department: depts[i%4], Qualifications: quals, Active: true, CertificateExpires: "2027-12-31"}
	}
	return all, roster
}

// BenchmarkDraw reports the whole draw (pool rules, canonical order and
// hash, allocation, sampling, groups) against its baseline, one SHA-256 pass
// over the pool's canonical text: compare draw/op with sha256-pass/op.
func BenchmarkDraw(b *testing.B) {
	all, roster := benchInputs()
	pool := BuildPool(all, Filter{}, false)
	b.Run("sha256-pass", func(b *testing.B) {
		for b.Loop() {
			_ = PoolHash(pool.Members)
		}
	})
	b.Run("draw", func(b *testing.B) {
		spec := GroupSpec{Shares: []Share{{"brigade", 2}}, Required: []string{"general"}, ValidThrough: "2026-12-31"}
		var drawTime, passTime time.Duration
		for b.Loop() {
			start := time.Now()
			p := BuildPool(all, Filter{}, false)
			sel, _, err := Run("benchmark-seed", Inputs{Kind: KindUndirected, Size: Size{Ratio: 0.1}, Pool: p, Roster: roster, Groups: spec})
			if err != nil || len(sel) == 0 {
				b.Fatal(err)
			}
			drawTime += time.Since(start)
			// The baseline, interleaved so both see the same machine load.
			start = time.Now()
			_ = PoolHash(pool.Members)
			passTime += time.Since(start)
		}
		b.ReportMetric(float64(drawTime)/float64(passTime), "×sha256-pass")
	})
}
