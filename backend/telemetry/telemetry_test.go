package telemetry

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
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
