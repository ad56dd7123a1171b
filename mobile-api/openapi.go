package mobileapi

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"

	"github.com/gofiber/fiber/v2"
)

// openapiFragments holds the API contract in parts: base.json has the
// document's head and the operations of the foundation; each area of the
// API adds a file of its own with "paths" and "components", so that areas
// grow without editing one shared file.
//
//go:embed openapi/*.json
var openapiFragments embed.FS

// OpenAPI is the merged contract, served at /openapi.json. A test checks
// that every route the server registers is documented in it.
var OpenAPI = mustMergeOpenAPI(openapiFragments)

// mustMergeOpenAPI merges the fragments: base.json first, then the others in
// name order. A path, or a component of one kind, defined twice is a bug
// and panics at start (and in every test).
func mustMergeOpenAPI(fsys fs.FS) []byte {
	names, err := fs.Glob(fsys, "openapi/*.json")
	if err != nil {
		panic(err)
	}
	sort.Slice(names, func(i, j int) bool {
		return names[i] == "openapi/base.json" || (names[j] != "openapi/base.json" && names[i] < names[j])
	})
	var doc map[string]any
	for _, name := range names {
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			panic(err)
		}
		var frag map[string]any
		if err := json.Unmarshal(raw, &frag); err != nil {
			panic(fmt.Sprintf("%s: %v", name, err))
		}
		if doc == nil {
			doc = frag
			continue
		}
		mergeSection(doc, frag, name, "paths")
		comps, _ := frag["components"].(map[string]any)
		for kind := range comps {
			mergeSection(asMap(doc, "components"), comps, name, kind)
		}
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err)
	}
	return out
}

// mergeSection copies frag[key]'s entries into doc[key], refusing duplicates.
func mergeSection(doc, frag map[string]any, name, key string) {
	src, _ := frag[key].(map[string]any)
	dst := asMap(doc, key)
	for k, v := range src {
		if _, dup := dst[k]; dup {
			panic(fmt.Sprintf("openapi: %s defines %s %q again", name, key, k))
		}
		dst[k] = v
	}
}

func asMap(m map[string]any, key string) map[string]any {
	sub, ok := m[key].(map[string]any)
	if !ok {
		sub = map[string]any{}
		m[key] = sub
	}
	return sub
}

func (s *Server) handleOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(OpenAPI)
}
