package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const vectors = "../../draw/testdata/vectors"

// TestVerifyDrawOverEveryVector runs the command over every record of the
// draw package's test vectors — both algorithm versions, failed attempts,
// replacements, and every tampered copy — and expects each verdict the
// manifest gives, first mismatch included.
func TestVerifyDrawOverEveryVector(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(vectors, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Vectors []struct {
			File, Type, Expect, Path string
			History                  []string
		}
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	ran, rejected := 0, 0
	for _, v := range m.Vectors {
		if v.File == "" { // a chain of replacements needs several records
			continue
		}
		args := []string{"verify-draw"}
		for _, h := range v.History {
			args = append(args, "--history", filepath.Join(vectors, h))
		}
		var out bytes.Buffer
		err := run(t.Context(), append(args, filepath.Join(vectors, v.File)), &out, &bytes.Buffer{})
		switch {
		case v.Expect == "ok" && (err != nil || !strings.HasPrefix(out.String(), "OK")):
			t.Errorf("%s: want OK, got %v %s", v.File, err, out.String())
		case v.Expect == "mismatch" && (err == nil || !strings.HasPrefix(out.String(), "MISMATCH: "+v.Path+":")):
			t.Errorf("%s: want MISMATCH at %s, got %v %s", v.File, v.Path, err, out.String())
		}
		ran++
		if v.Expect == "mismatch" {
			rejected++
		}
	}
	if ran < 20 || rejected < 10 {
		t.Fatalf("only %d vectors ran (%d tampered)", ran, rejected)
	}
}

// TestVerifyDrawFromURL fetches a record as a citizen would, from the
// public endpoint, gzip-compressed.
func TestVerifyDrawFromURL(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(vectors, "joint-scarce.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			t.Error("verify-draw does not ask for compression")
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = zw.Write(good)
		_ = zw.Close()
	}))
	defer srv.Close()
	var out bytes.Buffer
	if err := run(t.Context(), []string{"verify-draw", srv.URL + "/public/v1/draws/plan-j-1"}, &out, &bytes.Buffer{}); err != nil || !strings.Contains(out.String(), "OK: draw plan-j-1") {
		t.Fatalf("from URL: %v %s", err, out.String())
	}
	if err := run(t.Context(), []string{"verify-draw", filepath.Join(t.TempDir(), "missing.json")}, &out, &bytes.Buffer{}); err == nil {
		t.Fatal("a missing file verified")
	}
}
