package mobileapi

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestOpenAPISecurityMatchesTheRouteTable: every documented operation of a
// served route declares its security as the route table decides it —
// "security": [] for public routes (the document has no global default),
// bearerAuth for signed-in ones — and names at least one 4xx answer, so
// that a generated client knows both. (make check also lints the whole
// document with Redocly's recommended rules.)
func TestOpenAPISecurityMatchesTheRouteTable(t *testing.T) {
	// OpenAPI 3.1 writes a nullable value as a type list ("type": ["string",
	// "null"]); the 3.0 keyword is an error to 3.1 tools.
	if strings.Contains(string(OpenAPI), `"nullable"`) {
		t.Error(`the document uses "nullable", which OpenAPI 3.1 does not have: write "type": [T, "null"]`)
	}
	var doc struct {
		Security []any `json:"security"`
		Paths    map[string]map[string]struct {
			Security  *[]map[string][]string     `json:"security"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Security != nil {
		t.Errorf("a global security default hides what each operation needs: %v", doc.Security)
	}
	s := newTestServer(t, Config{})
	param := regexp.MustCompile(`:([a-z_]+)`)
	for _, r := range s.apiRoutes() {
		path := param.ReplaceAllString(r.path, "{$1}")
		op, ok := doc.Paths[path][strings.ToLower(r.method)]
		if !ok {
			continue // TestOpenAPIDocumentsEveryRoute reports it
		}
		name := r.method + " " + path
		switch {
		case op.Security == nil:
			t.Errorf("%s declares no security", name)
		case r.access == public && len(*op.Security) != 0:
			t.Errorf("%s is public but documented with security %v (want [])", name, *op.Security)
		case r.access == signedIn && (len(*op.Security) != 1 || (*op.Security)[0]["bearerAuth"] == nil):
			t.Errorf("%s needs sign-in but is documented with security %v (want bearerAuth)", name, *op.Security)
		}
		has4xx := false
		for code := range op.Responses {
			has4xx = has4xx || strings.HasPrefix(code, "4")
		}
		if !has4xx {
			t.Errorf("%s documents no 4xx answer", name)
		}
	}
}
