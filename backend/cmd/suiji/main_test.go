package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"suiji/backend"
	"suiji/storage/storagetest"
)

func TestHelpListsCommands(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"--help"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, c := range commands {
		if !strings.Contains(out.String(), c.name) {
			t.Errorf("help does not list %q:\n%s", c.name, out.String())
		}
	}
}

func TestUnknownOrMissingCommandIsUsageError(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}} {
		var ue usageError
		if err := run(t.Context(), args, &bytes.Buffer{}, &bytes.Buffer{}); !errors.As(err, &ue) {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
}

func TestServeRefusesDevelopmentDefaultsInProduction(t *testing.T) {
	t.Setenv("SUIJI_ENV", "production")
	err := run(t.Context(), []string{"serve"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("serve started in production with development secrets")
	}
	for _, name := range []string{"SUIJI_JWT_KEY", "SUIJI_SEED_KEY", "SUIJI_MINIO_SECRET_KEY", "SUIJI_ADMIN_PASSWORD"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

// TestServeWiresEverything runs the real `suiji serve` against the test
// stack: indexes and buckets are prepared, /readyz reports all three
// services, and cancelling (what SIGTERM does in main) stops it cleanly.
func TestServeWiresEverything(t *testing.T) {
	// Borrow a database and buckets of this test's own, so the stack's
	// defaults are never touched; storagetest removes them afterwards.
	db := storagetest.Mongo(t)
	store := storagetest.Objects(t)
	storagetest.Redis(t)
	port := freePort(t)
	t.Setenv("SUIJI_HTTP_ADDR", fmt.Sprintf("127.0.0.1:%d", port))
	t.Setenv("SUIJI_MONGO_DATABASE", db.Name())
	t.Setenv("SUIJI_EVIDENCE_BUCKET", store.EvidenceBucket())
	t.Setenv("SUIJI_DOCUMENTS_BUCKET", store.DocumentsBucket())
	t.Setenv("SUIJI_LOG_FORMAT", "json")

	// A change whose audit event was left in the outbox by a crash: the
	// server completes it before it takes requests.
	staged := &backend.PendingAudit{Event: backend.AuditEvent{ID: backend.NewID(), Time: time.Now().UTC().Truncate(time.Millisecond),
		Action: "user.create", ObjectType: "user", ObjectID: "u-crashed", AfterDigest: strings.Repeat("a", 64)}}
	u := &backend.User{ID: "u-crashed", Username: "crashed", DisplayName: "Crashed", Roles: []backend.Role{backend.RoleStaff}}
	if err := db.Users().CreateUser(backend.WithPendingAudit(t.Context(), staged), u); err != nil || !staged.IsStored() {
		t.Fatalf("staging a crashed change: %v (stored %v)", err, staged.IsStored())
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, &bytes.Buffer{}, &stderr) }()

	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	var body struct {
		Status string                     `json:"status"`
		Checks map[string]json.RawMessage `json:"checks"`
	}
	// Generous: under -race on a busy 2-core machine, creating the indexes
	// and buckets alone can take tens of seconds.
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never became ready (last: %v %+v)\n%s", err, body, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if body.Status != "ok" || len(body.Checks) != 3 {
		t.Fatalf("readyz %+v, want ok with three checks", body)
	}
	if found, err := db.AuditEvents().FindAuditEvents(t.Context(), backend.AuditFilter{ID: staged.Event.ID}); err != nil || len(found) != 1 {
		t.Errorf("the crashed change's event was not recovered at start: %v, %v", found, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after cancellation")
	}
	if !strings.Contains(stderr.String(), `"msg":"audit head"`) {
		t.Errorf("the audit chain's head was not logged at start:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "DEVELOPMENT DEFAULTS") {
		t.Errorf("development defaults were not announced:\n%s", stderr.String())
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestSampleCommandPrintsReferencePicks(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), []string{"sample", "--seed", "abcde", "--total", "1000", "--count", "3", "--with-replacement"}, &out, &bytes.Buffer{})
	if err != nil || out.String() != "247\n427\n157\n" {
		t.Fatalf("sample printed %q (%v), want the reference picks 247 427 157", out.String(), err)
	}
	out.Reset()
	if err := run(t.Context(), []string{"sample", "--seed", "0", "--total", "2", "--count", "2"}, &out, &bytes.Buffer{}); err != nil || out.String() != "1\n2\n" {
		t.Fatalf("without replacement: %q %v", out.String(), err)
	}
	var ue usageError
	if err := run(t.Context(), []string{"sample", "--total", "5"}, &bytes.Buffer{}, &bytes.Buffer{}); !errors.As(err, &ue) {
		t.Fatalf("missing seed: %v", err)
	}
}
