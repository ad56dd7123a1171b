package draw

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchInputs is a city's case: 100,000 enterprises over 17 towns, a third
// already drawn once or twice this year, 300 inspectors in 4 departments,
// and groups of 2 from the brigade; with scarce, one in four brigade
// inspectors holds the qualification every group needs.
func benchInputs(b testing.TB, scarce bool) *Inputs {
	towns := make([]string, 17)
	for i := range towns {
		towns[i] = fmt.Sprintf("town-%02d", i)
	}
	all := make([]Candidate, 100000)
	for i := range all {
		all[i] = Candidate{
			USCC: fmt.Sprintf("91140525%010d", i), Town: towns[(i*7)%17], Industry: "制造业", Status: StatusActive,
			Categories: []string{"metallurgy_industry_trade"}, RandomDraws: i % 3,
		}
		for d := range all[i].RandomDraws {
			all[i].DrawIDs = append(all[i].DrawIDs, fmt.Sprintf("earlier-%d", d))
		}
		all[i].CoveredThisYear = all[i].RandomDraws > 0
	}
	depts := []string{"brigade", "hazchem", "mines", "trade"}
	roster := make([]Officer, 300)
	for i := range roster {
		quals := []string{"general"}
		if i%16 == 0 {
			quals = append(quals, "metallurgy_industry_trade")
		}
		roster[i] = Officer{BadgeNo: fmt.Sprintf("%06d", i), Department: depts[i%4], Qualifications: quals, Active: true, CertificateExpires: "2027-12-31"}
	}
	required := []string{"general"}
	if scarce {
		required = append(required, "metallurgy_industry_trade")
	}
	in, err := NewInputs(KindUndirected, Size{Ratio: "0.1"}, Filter{},
		GroupSpec{Shares: []Share{{"brigade", 2}}, Required: required, ValidThrough: "2026-12-31"}, all, roster)
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// BenchmarkDraw reports the whole draw (pool rules, canonical order and
// hash, allocation, sampling, exact groups) as a ratio to its baseline, one
// SHA-256 pass over the pool's canonical text, measured interleaved.
func BenchmarkDraw(b *testing.B) {
	for _, scarce := range []bool{false, true} {
		in := benchInputs(b, scarce)
		name := "groups-of-2"
		if scarce {
			name = "scarce-qualification"
		}
		b.Run(name, func(b *testing.B) {
			seed := NewDrawSeed(SealedSeed(strings.Repeat("be", 32)), "")
			var drawTime, passTime time.Duration
			for b.Loop() {
				start := time.Now()
				pool, err := BuildPool(in.Pool.Candidates, in.Filter, in.Kind)
				if err != nil {
					b.Fatal(err)
				}
				run := *in
				run.Pool = pool
				res, err := Run(seed, &run)
				if err != nil || len(res.Selections) != 6667 {
					b.Fatalf("%v", err)
				}
				drawTime += time.Since(start)
				start = time.Now()
				_ = PoolHash(in.Pool.Candidates)
				passTime += time.Since(start)
			}
			b.ReportMetric(float64(drawTime)/float64(passTime), "×sha256-pass")
		})
	}
}
