package mobileapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/roster"
	"suiji/backend/uscc"
)

// countingEnterprises is the real enterprise store with its bulk lookups
// counted, so a test can see how many queries a request made.
type countingEnterprises struct {
	roster.Enterprises
	calls atomic.Int32
}

func (c *countingEnterprises) FindEnterprisesByIDs(ctx context.Context, ids []string) ([]*backend.Enterprise, error) {
	c.calls.Add(1)
	return c.Enterprises.FindEnterprisesByIDs(ctx, ids)
}

// TestListsInBodiesAreBoundedAndLookedUpAtOnce: every array in a body has
// a bound (a route's own, or 1,000), refused with the field named; the
// enterprises an inspector's conflicts name are checked in one query.
func TestListsInBodiesAreBoundedAndLookedUpAtOnce(t *testing.T) {
	env := newAPIEnv(t, Config{})
	f := newRosterFixture(t, env, 1)

	// Fifty real enterprises and one that does not exist, in one request:
	// one lookup, and the missing one named.
	rng := rand.New(rand.NewPCG(5, 5))
	var conflicts []map[string]string
	for i := range 50 {
		e := &backend.Enterprise{USCC: uscc.Generate(rng), Name: fmt.Sprintf("企业%d", i), Status: backend.EnterpriseActive,
			CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
		if err := env.db.Enterprises().CreateEnterprise(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		conflicts = append(conflicts, map[string]string{"enterprise_id": e.ID, "reason": "亲属任职"})
	}
	counted := &countingEnterprises{Enterprises: env.svc.Roster.Enterprises}
	env.svc.Roster.Enterprises = counted
	t.Cleanup(func() { env.svc.Roster.Enterprises = counted.Enterprises })
	withMissing := append(conflicts, map[string]string{"enterprise_id": "0123456789abcdef01234567", "reason": "x"})
	body, _ := json.Marshal(map[string]any{"user_id": f.users[0].ID, "name": "孙八", "badge_no": "C-9",
		"certificate_expires": string(chinaToday().AddDays(90)), "department_id": "dept-1", "conflicts": withMissing})
	wantFields(t, f.req(t, "coordinator", "POST", "/api/v1/inspectors", string(body), 400, nil), backend.EINVALID, "conflicts[50].enterprise_id")
	if n := counted.calls.Load(); n != 1 {
		t.Errorf("51 conflicts were checked with %d queries, want 1", n)
	}
	body, _ = json.Marshal(map[string]any{"user_id": f.users[0].ID, "name": "孙八", "badge_no": "C-9",
		"certificate_expires": string(chinaToday().AddDays(90)), "department_id": "dept-1", "conflicts": conflicts})
	f.req(t, "coordinator", "POST", "/api/v1/inspectors", string(body), 201, nil)

	// Over the domain's bound: named, and nothing looked up.
	counted.calls.Store(0)
	var many []map[string]string
	for i := range backend.MaxConflicts + 1 {
		many = append(many, map[string]string{"enterprise_id": fmt.Sprintf("e-%d", i), "reason": "r"})
	}
	body, _ = json.Marshal(map[string]any{"user_id": f.users[0].ID, "name": "孙九", "badge_no": "C-10",
		"certificate_expires": string(chinaToday().AddDays(90)), "department_id": "dept-1", "conflicts": many})
	wantFields(t, f.req(t, "coordinator", "POST", "/api/v1/inspectors", string(body), 400, nil), backend.EINVALID, "conflicts")
	if n := counted.calls.Load(); n != 0 {
		t.Errorf("%d lookups for a refused list", n)
	}

	// Over a route's own bound (a plan's items) and over the general one.
	ids := make([]string, 201)
	for i := range ids {
		ids[i] = fmt.Sprintf("item-%d", i)
	}
	plan, _ := json.Marshal(map[string]any{"year": 2026, "title": "计划", "kind": "directed", "item_ids": ids})
	b := f.req(t, "coordinator", "POST", "/api/v1/plans", string(plan), 400, nil)
	if e := decodeError(t, b); e.Fields["item_ids"] != "at most 200 entries" {
		t.Errorf("plan with 201 items: %+v", e)
	}
	cats := strings.Repeat(`"coal_mine",`, 1000) + `"coal_mine"`
	b = f.req(t, "coordinator", "POST", "/api/v1/enterprises", `{"uscc":"x","categories":[`+cats+`]}`, 400, nil)
	if e := decodeError(t, b); e.Fields["categories"] != "at most 1000 entries" {
		t.Errorf("enterprise with 1,001 categories: %+v", e)
	}
}
