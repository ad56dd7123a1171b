package backend_test

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The dependency rule of the README: mobile-api → backend ← storage. Only
// the wiring roots under backend/cmd may see both sides.
//
// A rule forbids a package (and everything it imports, transitively) from
// depending on any package under one of the forbidden prefixes.
type layerRule struct {
	name      string
	applies   func(pkg string) bool
	forbidden []string
}

// drivers are the client libraries of the backing services and the HTTP
// framework: only storage (drivers) and mobile-api (Fiber) may use them.
var drivers = []string{
	"go.mongodb.org/mongo-driver",
	"github.com/minio/minio-go",
	"github.com/redis/go-redis",
	"firebase.google.com/go",
}

var httpFramework = []string{"github.com/gofiber/fiber", "github.com/valyala/fasthttp"}

var layerRules = []layerRule{
	{
		name: "backend (the domain and its use cases) imports no driver, no Fiber, no storage and no mobile-api",
		applies: func(p string) bool {
			return under(p, "suiji/backend") && !under(p, "suiji/backend/cmd")
		},
		forbidden: slices.Concat(drivers, httpFramework, []string{"suiji/storage", "suiji/mobile-api"}),
	},
	{
		name:      "mobile-api imports no storage and no driver",
		applies:   func(p string) bool { return under(p, "suiji/mobile-api") },
		forbidden: slices.Concat(drivers, []string{"suiji/storage"}),
	},
	{
		name:      "storage imports no mobile-api and no Fiber",
		applies:   func(p string) bool { return under(p, "suiji/storage") },
		forbidden: slices.Concat(httpFramework, []string{"suiji/mobile-api"}),
	},
}

// under reports whether pkg is prefix or a package below it.
func under(pkg, prefix string) bool {
	return pkg == prefix || strings.HasPrefix(pkg, prefix+"/")
}

// listedPackage is what `go list -json` says of one package.
type listedPackage struct {
	ImportPath string
	Deps       []string // every package it depends on, transitively (not its tests)
}

// violations returns one line per package that breaks a rule.
func violations(pkgs []listedPackage) []string {
	var out []string
	for _, p := range pkgs {
		for _, r := range layerRules {
			if !r.applies(p.ImportPath) {
				continue
			}
			for _, d := range p.Deps {
				if slices.ContainsFunc(r.forbidden, func(f string) bool { return under(d, f) }) {
					out = append(out, p.ImportPath+" depends on "+d+" — "+r.name)
					break
				}
			}
		}
	}
	return out
}

// TestLayers checks the dependency rule on the real module with `go list`,
// so the README's promise cannot silently rot.
func TestLayers(t *testing.T) {
	cmd := exec.Command("go", "list", "-json=ImportPath,Deps", "suiji/...")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	// The rules must have something to bite on: each applies to packages.
	for _, r := range layerRules {
		if !slices.ContainsFunc(pkgs, func(p listedPackage) bool { return r.applies(p.ImportPath) }) {
			t.Errorf("no package falls under %q", r.name)
		}
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// TestLayersCatchForbiddenImports shows each rule failing on the import it
// forbids, directly or through another package, and passing on allowed ones.
func TestLayersCatchForbiddenImports(t *testing.T) {
	cases := []struct {
		pkg  listedPackage
		want bool // a violation
	}{
		{listedPackage{"suiji/backend/plans", []string{"suiji/backend", "suiji/backend/draw"}}, false},
		{listedPackage{"suiji/backend/plans", []string{"go.mongodb.org/mongo-driver/v2/mongo"}}, true},
		{listedPackage{"suiji/backend", []string{"suiji/storage/mongodb"}}, true},
		{listedPackage{"suiji/backend/app", []string{"github.com/gofiber/fiber/v2"}}, true},
		{listedPackage{"suiji/backend/cmd/wire", []string{"suiji/storage/mongodb", "suiji/mobile-api"}}, false},
		{listedPackage{"suiji/mobile-api", []string{"suiji/backend", "github.com/gofiber/fiber/v2"}}, false},
		{listedPackage{"suiji/mobile-api", []string{"suiji/storage/cache"}}, true},
		{listedPackage{"suiji/mobile-api", []string{"github.com/redis/go-redis/v9"}}, true},
		{listedPackage{"suiji/storage/mongodb", []string{"suiji/backend", "go.mongodb.org/mongo-driver/v2/mongo"}}, false},
		{listedPackage{"suiji/storage/push", []string{"suiji/mobile-api"}}, true},
		// A prefix match is by path element: suiji/storagex is not storage.
		{listedPackage{"suiji/mobile-api", []string{"suiji/storagex"}}, false},
	}
	for _, c := range cases {
		got := len(violations([]listedPackage{c.pkg})) > 0
		if got != c.want {
			t.Errorf("%s with deps %v: violation %v, want %v", c.pkg.ImportPath, c.pkg.Deps, got, c.want)
		}
	}
}
