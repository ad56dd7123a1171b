package main

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestErrorKind(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`503 POST /api/v1/tasks/9292b6662b2e0f9c58ce07a3/evidence: 503 {"error":{"code":"EUNAVAILABLE"}}`,
			`503 POST /api/v1/tasks/:id/evidence: 503 {"error":{"code":"EUNAVAILABLE"}}`},
		{`404 POST /api/v1/evidence/84814e89-857f-bcc6-b38d-5030ca1a0246/complete: 404`,
			`404 POST /api/v1/evidence/:id/complete: 404`},
		{`503 503 Service Unavailable`, `503 503 Service Unavailable`},
		// Not an id: too short, or part of a longer word.
		{`0 dial tcp 127.0.0.1:8090: connect: refused abc123`, `0 dial tcp 127.0.0.1:8090: connect: refused abc123`},
	} {
		if got := errorKind(c.in); got != c.want {
			t.Errorf("errorKind(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	long := strings.Repeat("服", 100) // 300 bytes
	if got := errorKind(long); len(got) > 160 || !utf8.ValidString(got) || len(got) < 157 {
		t.Errorf("a long message cut to %d bytes (valid UTF-8: %t)", len(got), utf8.ValidString(got))
	}
	a := errorKind("503 POST /api/v1/tasks/9292b6662b2e0f9c58ce07a3/evidence")
	b := errorKind("503 POST /api/v1/tasks/19f48c1b7729e0b7bd381c51/evidence")
	if a != b {
		t.Errorf("two requests meeting one fault counted apart: %q and %q", a, b)
	}
}
