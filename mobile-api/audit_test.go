package mobileapi

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/audit"
)

// queryOf serves query parameters from a map, as c.Query would.
func queryOf(m map[string]string) func(string, ...string) string {
	return func(key string, _ ...string) string { return m[key] }
}

func TestAuditFilterFromQuery(t *testing.T) {
	f, err := auditFilterFromQuery(queryOf(map[string]string{
		"actor_id": "u-1", "action": "user.update", "object_type": "user", "object_id": "u-2",
		"from": "2026-03-01T08:00:00+08:00", "to": "2026-03-02T00:00:00.5Z", "after_seq": "40", "limit": "500",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := backend.AuditFilter{
		ActorID: "u-1", Action: "user.update", ObjectType: "user", ObjectID: "u-2",
		From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 2, 0, 0, 0, 500_000_000, time.UTC),
		AfterSeq: 40, Limit: 500,
	}
	if !f.From.Equal(want.From) || !f.To.Equal(want.To) {
		t.Errorf("from %v to %v, want %v to %v", f.From, f.To, want.From, want.To)
	}
	f.From, f.To, want.From, want.To = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("filter %+v, want %+v", f, want)
	}

	if f, err := auditFilterFromQuery(queryOf(nil)); err != nil || f != (backend.AuditFilter{Limit: 100}) {
		t.Errorf("no parameters: %+v, %v; want everything, 100 at a time", f, err)
	}
}

func TestAuditFilterFromQueryNamesEveryBadParameter(t *testing.T) {
	tests := []struct {
		query map[string]string
		bad   []string
	}{
		{map[string]string{"from": "yesterday"}, []string{"from"}},
		{map[string]string{"to": "2026-03-01"}, []string{"to"}},
		{map[string]string{"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, []string{"to"}},
		{map[string]string{"after_seq": "-1"}, []string{"after_seq"}},
		{map[string]string{"after_seq": "x"}, []string{"after_seq"}},
		{map[string]string{"limit": "0"}, []string{"limit"}},
		{map[string]string{"limit": "501"}, []string{"limit"}},
		{map[string]string{"from": "x", "to": "y", "after_seq": "z", "limit": "w"}, []string{"after_seq", "from", "limit", "to"}},
	}
	for _, tt := range tests {
		_, err := auditFilterFromQuery(queryOf(tt.query))
		if backend.ErrorCode(err) != backend.EINVALID {
			t.Errorf("%v: %v, want EINVALID", tt.query, err)
			continue
		}
		got := slices.Sorted(maps.Keys(backend.ErrorFields(err)))
		if !slices.Equal(got, tt.bad) {
			t.Errorf("%v: fields %v, want %v", tt.query, backend.ErrorFields(err), tt.bad)
		}
	}
}

// TestAuditEventResponseCanBeRehashed: the API output carries everything an
// outsider needs to recompute an event's hash with the documented encoding.
func TestAuditEventResponseCanBeRehashed(t *testing.T) {
	e := &backend.AuditEvent{
		Seq: 9, Time: time.Date(2026, 3, 1, 8, 15, 30, 120_000_000, time.UTC),
		ActorID: "u-1", ActorName: "王芳", Action: "user.update", ObjectType: "user", ObjectID: "u-2",
		BeforeDigest: strings.Repeat("a", 64), AfterDigest: strings.Repeat("b", 64),
		RequestID: "r-1", ClientIP: "192.0.2.1", PrevHash: strings.Repeat("c", 64),
	}
	e.Hash = audit.Hash(e)
	body, err := json.Marshal(newAuditEventResponse(e))
	if err != nil {
		t.Fatal(err)
	}
	var r auditEventResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"time":"2026-03-01T08:15:30.120Z"`) {
		t.Errorf("time not in the canonical layout: %s", body)
	}
	tm, err := time.Parse(audit.TimeLayout, r.Time)
	if err != nil {
		t.Fatal(err)
	}
	back := &backend.AuditEvent{
		Seq: r.Seq, Time: tm, ActorID: r.ActorID, ActorName: r.ActorName, Action: r.Action,
		ObjectType: r.ObjectType, ObjectID: r.ObjectID, BeforeDigest: r.BeforeDigest, AfterDigest: r.AfterDigest,
		RequestID: r.RequestID, ClientIP: r.ClientIP, PrevHash: r.PrevHash,
	}
	if audit.Hash(back) != r.Hash {
		t.Errorf("re-hashing the API's event gives %s, the API says %s", audit.Hash(back), r.Hash)
	}
}

// TestAuditHeadIsPublic: anyone may read the chain's head, and it is the
// newest event's seq and hash; it moves with every change.
func TestAuditHeadIsPublic(t *testing.T) {
	env := newAPIEnv(t, Config{})
	head := func() auditHeadResponse {
		t.Helper()
		resp, body := env.call(t, "", "GET", "/public/v1/audit/head", "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("head: %d %s", resp.StatusCode, body)
		}
		var h auditHeadResponse
		if err := json.Unmarshal(body, &h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	first := head()
	last, err := env.db.AuditEvents().LastAuditEvent(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if first.Seq != last.Seq || first.Hash != last.Hash || first.Time != audit.FormatTime(last.Time) {
		t.Fatalf("head %+v, want event %d with hash %s", first, last.Seq, last.Hash)
	}
	env.login(t, "leader") // a sign-in is an event too
	if next := head(); next.Seq <= first.Seq || next.Hash == first.Hash {
		t.Errorf("head did not move after a sign-in: %+v then %+v", first, next)
	}
}
