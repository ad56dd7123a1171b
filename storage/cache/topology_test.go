package cache_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"suiji/backend"
	"suiji/storage/cache"
	"suiji/storage/storagetest"
)

func TestOpenRefusesBadTopologyURLs(t *testing.T) {
	for _, url := range []string{
		"redis+sentinel://:secret@127.0.0.1:26379",          // no master name
		"redis+sentinel://:secret@127.0.0.1:26379/m/x",      // bad database
		"redis+sentinel://:secret@127.0.0.1/m/0",            // no port
		"redis+sentinel://:secret@127.0.0.1:26379/m/0?x=1",  // unknown option
		"redis+cluster://:secret@127.0.0.1:7000,127.0.0.1/", // one address without a port
		"redis+cluster://:secret@127.0.0.1:7000/3",          // Cluster has database 0 only
		"redis+ring://:secret@127.0.0.1:7000",               // unknown topology
	} {
		_, err := cache.Open(t.Context(), cache.Options{URL: url})
		if code := backend.ErrorCode(err); code != backend.EINVALID {
			t.Errorf("Open(%q): code %q (%v), want EINVALID", url, code, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q): error leaks the password: %v", url, err)
		}
	}
}

func TestOpenUnreachableSentinelNamesItWithoutPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := cache.Open(ctx, cache.Options{URL: "redis+sentinel://:secret@127.0.0.1:1,127.0.0.1:2/suiji/4?sentinel_password=hush"})
	if code := backend.ErrorCode(err); code != backend.EUNAVAILABLE {
		t.Fatalf("Open: code %q (%v), want EUNAVAILABLE", code, err)
	}
	if msg := backend.ErrorMessage(err); !strings.Contains(msg, "redis+sentinel://127.0.0.1:1,127.0.0.1:2/suiji/4") {
		t.Errorf("message %q does not name the Sentinels, master and database", msg)
	}
	if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "hush") {
		t.Errorf("error leaks a password: %v", err)
	}
}

// TestSentinelFailoverServesAgainWithoutReopening kills the master under
// Sentinel with SIGKILL and checks that the same Cache serves again, on
// the promoted replica, within seconds: what was replicated before the
// crash is there (a held lease still excludes), and new writes work.
func TestSentinelFailoverServesAgainWithoutReopening(t *testing.T) {
	set := storagetest.RedisSentinel(t)
	c := storagetest.RedisAt(t, set.URL)
	if c.Topology() != "sentinel" {
		t.Fatalf("Topology = %q", c.Topology())
	}
	ctx := t.Context()
	locks := c.Locks()
	if _, err := locks.Acquire(ctx, "draw:plan-1", time.Minute); err != nil {
		t.Fatal(err)
	}
	// Replication is asynchronous: wait until the replica has the lease,
	// as it would have a moment later in production.
	if n, err := c.Client().Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 replica: %d, %v", n, err)
	}

	set.Master.Kill()
	start := time.Now()
	err := storagetest.Eventually(ctx, 30*time.Second, func(ctx context.Context) error {
		_, err := locks.Acquire(ctx, "after-failover", time.Minute)
		return err
	})
	if err != nil {
		t.Fatalf("no write succeeded within 30 s of the master's death: %v", err)
	}
	took := time.Since(start)
	t.Logf("served again %s after the master was killed", took.Round(100*time.Millisecond))
	if took > 20*time.Second {
		t.Errorf("failover took %s; want seconds", took)
	}
	// The sentinel asked may learn of the promotion a moment after the
	// client's sentinel did (they gossip the new configuration).
	var addr string
	if err := storagetest.Eventually(ctx, 10*time.Second, func(ctx context.Context) error {
		var err error
		if addr, err = set.MasterAddr(ctx); err == nil && addr != set.ReplicaAddr() {
			err = fmt.Errorf("master %s", addr)
		}
		return err
	}); err != nil {
		t.Errorf("Sentinel's master is %q (%v), want the promoted replica %s", addr, err, set.ReplicaAddr())
	}
	// The lease taken before the crash survived on the replica: nobody
	// else may draw for that plan now.
	if _, err := locks.Acquire(ctx, "draw:plan-1", time.Minute); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Errorf("Acquire of a lease held before failover: %v, want ECONFLICT", err)
	}
}

// TestClusterEveryStoreWorks runs each Redis-backed store on a three-master
// Cluster: keys that one script or transaction touches together must share
// a slot (hash tags), or Redis answers CROSSSLOT.
func TestClusterEveryStoreWorks(t *testing.T) {
	url, _ := storagetest.RedisCluster(t, 3)
	c := storagetest.RedisAt(t, url)
	if c.Topology() != "cluster" {
		t.Fatalf("Topology = %q", c.Topology())
	}
	ctx := t.Context()

	// Refresh-token families: create, rotate, replay, revoke a user's.
	s := c.Sessions()
	for i := range 5 { // several families, so their keys spread over nodes
		if err := s.CreateFamily(ctx, fmt.Sprintf("fam-%d", i), "user-1", "h0", time.Hour); err != nil {
			t.Fatalf("CreateFamily: %v", err)
		}
	}
	if out, user, err := s.Rotate(ctx, "fam-0", "h0", "h1", 30*time.Second); err != nil || out != backend.RotateOK || user != "user-1" {
		t.Fatalf("Rotate = %q, %q, %v", out, user, err)
	}
	if out, _, err := s.Rotate(ctx, "fam-0", "h1", "h2", 30*time.Second); err != nil || out != backend.RotateOK {
		t.Fatalf("second Rotate = %q, %v", out, err)
	}
	if out, _, err := s.Rotate(ctx, "fam-0", "h0", "h3", 30*time.Second); err != nil || out != backend.RotateReplay {
		t.Fatalf("Rotate with a replayed token = %q, %v; want replay", out, err)
	}
	if err := s.RevokeUser(ctx, "user-1"); err != nil {
		t.Fatalf("RevokeUser: %v", err)
	}
	for i := range 5 {
		if active, err := s.FamilyActive(ctx, fmt.Sprintf("fam-%d", i)); err != nil || active {
			t.Errorf("family %d active = %v, %v after RevokeUser", i, active, err)
		}
	}
	checkUserStamps(t, s) // a family and a user's stamp in two slots, read in one pipeline
	checkSessionCap(t, s) // a user's families in many slots, read and revoked in pipelines

	// Login throttle: a pair's counter, lock and lock count share a slot;
	// the address's counter lives elsewhere.
	l := cache.NewLoginThrottle(c, cache.ThrottleOptions{PairLimit: 3, IPLimit: 100})
	for range 3 {
		if err := l.Attempt(ctx, "alice", "10.0.0.1"); err != nil {
			t.Fatalf("Attempt: %v", err)
		}
		if err := l.Fail(ctx, "alice", "10.0.0.1"); err != nil {
			t.Fatalf("Fail: %v", err)
		}
	}
	if err := l.Attempt(ctx, "alice", "10.0.0.1"); backend.ErrorCode(err) != backend.ERATELIMIT {
		t.Fatalf("Attempt after 3 failures: %v, want ERATELIMIT", err)
	}
	if err := l.Attempt(ctx, "alice", "10.0.0.9"); err != nil {
		t.Fatalf("Attempt from another address: %v", err)
	}
	if err := l.Succeed(ctx, "alice", "10.0.0.9"); err != nil {
		t.Fatalf("Succeed: %v", err)
	}

	// Idempotency keys, locks and the public request limit.
	idem := cache.NewIdempotencyStore(c)
	if prev, err := idem.Begin(ctx, "user-1", "k", "fp"); err != nil || prev != nil {
		t.Fatalf("Begin = %v, %v", prev, err)
	}
	if err := idem.Finish(ctx, "user-1", "k", "fp", &backend.StoredResponse{Status: 201, Body: []byte("{}")}); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if prev, err := idem.Begin(ctx, "user-1", "k", "fp"); err != nil || prev == nil || prev.Status != 201 {
		t.Fatalf("replayed Begin = %+v, %v", prev, err)
	}
	lease, err := c.Locks().Acquire(ctx, "draw:p", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := lease.Extend(ctx); err != nil {
		t.Fatalf("Extend: %v", err)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	rl := cache.NewRequestLimiter(c, "public", 2, time.Minute)
	for i := range 3 {
		err := rl.Allow(ctx, "10.0.0.1")
		if (i < 2) != (err == nil) {
			t.Fatalf("Allow %d: %v", i+1, err)
		}
	}

	// Live events reach a subscriber through the Cluster's pub/sub.
	bus := cache.NewEventBus(c)
	defer bus.Close()
	sub, err := bus.Subscribe(ctx, "user-1")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := bus.Publish(ctx, []*backend.Notification{{ID: "n1", UserID: "user-1", Seq: 1, Kind: "task_assigned"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-sub.C():
		if n.ID != "n1" {
			t.Errorf("event %q, want n1", n.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
}
