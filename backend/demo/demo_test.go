package demo

import (
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/uscc"
)

var testTowns = []string{"巴公镇", "高都镇", "金村镇", "大东沟镇", "北义城镇"}

func TestBuildIsDeterministicAndValid(t *testing.T) {
	today := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	a, b := Build(7, today, testTowns), Build(7, today, testTowns)
	if len(a.Enterprises) != 300 || a.Enterprises[123].USCC != b.Enterprises[123].USCC || a.Inspectors[5].Name != b.Inspectors[5].Name {
		t.Fatal("the same seed gave different data")
	}
	if Build(8, today, testTowns).Enterprises[0].USCC == a.Enterprises[0].USCC {
		t.Fatal("another seed gave the same data")
	}

	seen := map[string]bool{}
	var key, blacklisted, highRisk, closed int
	for _, e := range a.Enterprises {
		if !uscc.Valid(e.USCC) || seen[e.USCC] {
			t.Fatalf("bad or duplicate USCC %q", e.USCC)
		}
		seen[e.USCC] = true
		for _, c := range e.Categories {
			for _, k := range backend.KeySupervisionCategories {
				if c == k {
					key++
				}
			}
		}
		for _, f := range e.Flags {
			switch f {
			case backend.FlagBlacklist:
				blacklisted++
			case backend.FlagHighCreditRisk, backend.FlagFrequentComplaints, backend.FlagAbnormalOperation, backend.FlagSeriousViolation:
				highRisk++
			}
		}
		if e.Status == backend.EnterpriseClosed {
			closed++
		}
	}
	if key < 60 || blacklisted == 0 || highRisk == 0 || closed == 0 {
		t.Fatalf("sectors not realistic: key %d, blacklisted %d, high-risk %d, closed %d", key, blacklisted, highRisk, closed)
	}

	var expiring, expired int
	for _, in := range a.Inspectors {
		days := in.CertificateExpires.Sub(today).Hours() / 24
		if days < 0 {
			expired++
		} else if days <= 30 {
			expiring++
		}
		if len(in.Qualifications) < 2 {
			t.Fatalf("inspector %s has no specialty", in.Username)
		}
	}
	if len(a.Inspectors) < 28 || expiring == 0 || expired == 0 {
		t.Fatalf("%d inspectors, %d expiring, %d expired", len(a.Inspectors), expiring, expired)
	}
	if len(a.Items) < 18 {
		t.Fatalf("%d items", len(a.Items))
	}
}
