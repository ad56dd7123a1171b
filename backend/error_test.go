package backend

import (
	"context"
	"testing"
)

func TestNotFoundAs(t *testing.T) {
	for _, c := range []struct {
		name     string
		err      error
		wantCode string
		wantMsg  string
	}{
		{"missing parent: the child's name", Errorf(ENOTFOUND, "task not found"), ENOTFOUND, "evidence not found"},
		{"store unreachable: unchanged", Errorf(EUNAVAILABLE, "MongoDB is unavailable"), EUNAVAILABLE, "MongoDB is unavailable"},
		{"deadline: unchanged", Wrap(context.DeadlineExceeded, EUNAVAILABLE, "the request took too long"), EUNAVAILABLE, "the request took too long"},
		{"nil", nil, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := NotFoundAs(c.err, "evidence not found")
			if ErrorCode(got) != c.wantCode || (got != nil && ErrorMessage(got) != c.wantMsg) {
				t.Fatalf("NotFoundAs(%v) = %v (code %q), want code %q message %q", c.err, got, ErrorCode(got), c.wantCode, c.wantMsg)
			}
		})
	}
}
