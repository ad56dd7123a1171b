package mobileapi

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/accounts"
)

// TestDevicesPerUserBound: a user keeps at most accounts.MaxDevicesPerUser
// push registrations. Registering one more forgets the least recently
// seen (a token registered again counts as seen then), with its audit
// event; the count stays at the bound, the new device and the refreshed
// one stay, and another user's devices are untouched. A token longer
// than accounts.MaxTokenBytes is refused.
func TestDevicesPerUserBound(t *testing.T) {
	env := newAPIEnv(t, Config{})
	ctx := t.Context()
	insp := env.login(t, "inspector").AccessToken
	staff := env.login(t, "staff").AccessToken
	register := func(token, push string, status int) {
		t.Helper()
		scenario{token: token, method: "POST", path: "/api/v1/me/devices", body: fmt.Sprintf(`{"token":%q,"platform":"android"}`, push), wantStatus: status}.run(t, env)
		time.Sleep(3 * time.Millisecond) // each its own last_seen_at
	}
	tokenOf := func(i int) string { return fmt.Sprintf("fcm-token-%02d-%s", i, strings.Repeat("x", 140)) }
	held := func(push string) *backend.Device {
		t.Helper()
		d, err := env.db.Devices().FindDeviceByToken(ctx, push)
		if backend.ErrorCode(err) == backend.ENOTFOUND {
			return nil
		} else if err != nil {
			t.Fatal(err)
		}
		return d
	}
	count := func(role string) int {
		t.Helper()
		list, err := env.db.Devices().FindDevicesByUser(ctx, env.users[role].ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}

	register(staff, "staff-phone", 201)
	for i := range accounts.MaxDevicesPerUser {
		register(insp, tokenOf(i), 201)
	}
	if n := count("inspector"); n != accounts.MaxDevicesPerUser {
		t.Fatalf("%d devices, want %d", n, accounts.MaxDevicesPerUser)
	}
	register(insp, tokenOf(0), 201) // the first phone is seen again: now 1 is the oldest
	oldest := held(tokenOf(1))
	register(insp, tokenOf(accounts.MaxDevicesPerUser), 201)
	if n := count("inspector"); n != accounts.MaxDevicesPerUser {
		t.Fatalf("after one more: %d devices, want %d", n, accounts.MaxDevicesPerUser)
	}
	if held(tokenOf(1)) != nil {
		t.Fatal("the least recently seen device was kept")
	}
	for _, i := range []int{0, 2, accounts.MaxDevicesPerUser} {
		if held(tokenOf(i)) == nil {
			t.Fatalf("device %d was removed", i)
		}
	}
	register(insp, tokenOf(accounts.MaxDevicesPerUser+1), 201)
	if n := count("inspector"); n != accounts.MaxDevicesPerUser || held(tokenOf(2)) != nil {
		t.Fatalf("after two more: %d devices, device 2 held %v", n, held(tokenOf(2)) != nil)
	}
	if n := count("staff"); n != 1 {
		t.Fatalf("another user's devices: %d, want 1", n)
	}
	events, err := env.db.AuditEvents().FindAuditEvents(ctx, backend.AuditFilter{Action: "device.evict", ObjectID: oldest.ID})
	if err != nil || len(events) != 1 || events[0].ActorID != env.users["inspector"].ID {
		t.Fatalf("the eviction's audit events: %+v, %v", events, err)
	}

	scenario{token: staff, method: "POST", path: "/api/v1/me/devices", body: fmt.Sprintf(`{"token":%q,"platform":"web"}`, strings.Repeat("t", accounts.MaxTokenBytes+1)),
		wantStatus: 400, wantCode: backend.EINVALID, wantContain: []string{`"token"`}}.run(t, env)
	register(staff, strings.Repeat("t", accounts.MaxTokenBytes), 201)
}
