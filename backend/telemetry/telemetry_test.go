package telemetry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"suiji/backend"
	"suiji/storage/storagetest"
)

func TestCountersCount(t *testing.T) {
	created, unchanged := testutil.ToFloat64(dispatches.WithLabelValues("created")), testutil.ToFloat64(dispatches.WithLabelValues("unchanged"))
	tasks := testutil.ToFloat64(tasksCreated)
	Dispatched(3)
	Dispatched(0)
	if got := testutil.ToFloat64(tasksCreated) - tasks; got != 3 {
		t.Errorf("tasks created +%v, want +3", got)
	}
	if testutil.ToFloat64(dispatches.WithLabelValues("created"))-created != 1 || testutil.ToFloat64(dispatches.WithLabelValues("unchanged"))-unchanged != 1 {
		t.Error("dispatch results not counted once each")
	}

	gone := testutil.ToFloat64(pushSends.WithLabelValues(PushTokenGone))
	PushSent(PushTokenGone)
	if testutil.ToFloat64(pushSends.WithLabelValues(PushTokenGone))-gone != 1 {
		t.Error("push outcome not counted")
	}

	bytes := testutil.ToFloat64(uploadBytes.WithLabelValues("video"))
	EvidenceCompleted("video", UploadVerified, 1000)
	EvidenceCompleted("video", UploadRejected, 5000) // rejected bytes are not counted
	if got := testutil.ToFloat64(uploadBytes.WithLabelValues("video")) - bytes; got != 1000 {
		t.Errorf("verified bytes +%v, want +1000", got)
	}
}

func TestSeriesExistBeforeTheFirstEvent(t *testing.T) {
	n, err := testutil.GatherAndCount(Registry, "suiji_push_sends_total", "suiji_evidence_uploads_total")
	if err != nil {
		t.Fatal(err)
	}
	if want := 4 + len(EvidenceKinds)*2; n != want {
		t.Errorf("%d series, want %d initialised to zero", n, want)
	}
}

func TestBacklogCountsAtScrapeAndSurvivesAFailure(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&Backlog{
		PushPending:  func(context.Context) (int, error) { return 7, nil },
		AuditPending: func(context.Context) (int, error) { return 0, errors.New("MongoDB unreachable") },
	})
	want := "# HELP suiji_push_outbox_pending Alerts in inboxes still waiting to be pushed (the push outbox).\n" +
		"# TYPE suiji_push_outbox_pending gauge\nsuiji_push_outbox_pending 7\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestBacklogIsCountedOncePerWindow: /metrics answers anyone, and each
// count scans the outboxes, so scrapes within MaxAge share one count —
// also when they come at once — and an alert added meanwhile shows only
// once the window has passed. On the real push outbox (MongoDB).
func TestBacklogIsCountedOncePerWindow(t *testing.T) {
	outbox := storagetest.Mongo(t).PushOutbox()
	var counts atomic.Int64
	var mu sync.Mutex
	now := time.Now()
	b := &Backlog{
		PushPending: func(ctx context.Context) (int, error) {
			counts.Add(1)
			return outbox.CountPushBacklog(ctx)
		},
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(b)
	scrape := func() float64 {
		t.Helper()
		families, err := reg.Gather()
		if err != nil || len(families) != 1 {
			t.Fatalf("gather: %v, %d families", err, len(families))
		}
		return families[0].GetMetric()[0].GetGauge().GetValue()
	}
	add := func(id string, n int) {
		t.Helper()
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("%s-%d", id, i)
		}
		if err := outbox.AddPushBatches(t.Context(), []*backend.PushBatch{{ID: id, NotificationIDs: ids, State: backend.PushPending, NextAt: now, CreatedAt: now}}); err != nil {
			t.Fatal(err)
		}
	}

	add("batch-1", 2)
	if got := scrape(); got != 2 || counts.Load() != 1 {
		t.Fatalf("first scrape: %v pending after %d counts, want 2 after 1", got, counts.Load())
	}
	add("batch-2", 3)
	if got := scrape(); got != 2 || counts.Load() != 1 {
		t.Fatalf("second scrape in a row: %v pending after %d counts, want the first count's 2, still 1 count", got, counts.Load())
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { _, _ = reg.Gather() })
	}
	wg.Wait()
	if counts.Load() != 1 {
		t.Fatalf("ten scrapes at once: %d counts, want still 1", counts.Load())
	}

	mu.Lock()
	now = now.Add(DefaultBacklogMaxAge)
	mu.Unlock()
	if got := scrape(); got != 5 || counts.Load() != 2 {
		t.Fatalf("a scrape once the window passed: %v pending after %d counts, want 5 after 2", got, counts.Load())
	}
	counts.Store(0)
	mu.Lock()
	now = now.Add(DefaultBacklogMaxAge)
	mu.Unlock()
	for range 10 {
		wg.Go(func() { _, _ = reg.Gather() })
	}
	wg.Wait()
	if counts.Load() != 1 {
		t.Fatalf("ten scrapes at once in a new window: %d counts, want 1 shared", counts.Load())
	}
}
