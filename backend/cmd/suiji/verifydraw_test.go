package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"suiji/backend/draw"
)

func testRecord(t *testing.T) *draw.Record {
	t.Helper()
	var all []draw.Candidate
	for i := range 30 {
		all = append(all, draw.Candidate{USCC: fmt.Sprintf("9114052500000%05d", i), Town: []string{"巴公镇", "高都镇"}[i%2], Active: true})
	}
	var roster []draw.Officer
	for i := range 6 {
		roster = append(roster, draw.Officer{BadgeNo: fmt.Sprintf("B%d", i), Department: "brigade", Qualifications: []string{"general"}, Active: true, CertificateExpires: "2027-01-01"})
	}
	in := draw.Inputs{Kind: draw.KindUndirected, Size: draw.Size{Ratio: 0.2}, Pool: draw.BuildPool(all, draw.Filter{}, false), Roster: roster,
		Groups: draw.GroupSpec{Shares: []draw.Share{{Department: "brigade", Members: 2}}, Required: []string{"general"}, ValidThrough: "2026-12-31"}}
	seed := strings.Repeat("5e", 32)
	sel, alloc, err := draw.Run(seed, in)
	if err != nil {
		t.Fatal(err)
	}
	r := draw.NewRecord(seed, "", in, sel, alloc)
	r.ID, r.PlanID, r.Seq = "d1", "p1", 1
	return r
}

func TestVerifyDrawAcceptsAndRejects(t *testing.T) {
	dir := t.TempDir()
	save := func(r *draw.Record) string {
		raw, _ := json.Marshal(r)
		p := filepath.Join(dir, r.Seed[:4]+fmt.Sprint(len(raw))+".json")
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := testRecord(t)
	var out bytes.Buffer
	if err := run(t.Context(), []string{"verify-draw", save(good)}, &out, &bytes.Buffer{}); err != nil || !strings.HasPrefix(out.String(), "OK") {
		t.Fatalf("genuine record: %v %s", err, out.String())
	}

	bad := testRecord(t)
	bad.Selections[1].USCC = bad.Pool[0].USCC
	out.Reset()
	err := run(t.Context(), []string{"verify-draw", save(bad)}, &out, &bytes.Buffer{})
	if err == nil || !strings.Contains(out.String(), "selections[1]") {
		t.Fatalf("altered record: %v %s", err, out.String())
	}

	// From a URL, as a citizen would point it at the public endpoint.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(good)
	}))
	defer srv.Close()
	out.Reset()
	if err := run(t.Context(), []string{"verify-draw", srv.URL + "/public/v1/draws/d1"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatalf("from URL: %v %s", err, out.String())
	}
	if err := run(t.Context(), []string{"verify-draw", filepath.Join(dir, "missing.json")}, &out, &bytes.Buffer{}); err == nil {
		t.Fatal("a missing file verified")
	}
}
