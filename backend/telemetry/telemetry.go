// Package telemetry holds the Prometheus metrics of suiji's use cases:
// dispatch, push outcomes, evidence uploads, and the backlog of the two
// outboxes (alerts not yet pushed, audit events not yet in the chain). The
// HTTP metrics live with the server (mobile-api), which serves these
// beside its own at /metrics; deploy/grafana/suiji.json charts both.
//
// The counters are process-wide (one binary serves one API), every label
// value is known in advance and initialised to zero so that dashboards and
// alerts see a series before the first event. It imports backend and the
// Prometheus client only.
package telemetry

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Registry holds the use cases' metrics; the server gathers it beside its
// own registry.
var Registry = prometheus.NewRegistry()

// Push outcomes of one alert sent to one device.
const (
	PushDelivered = "delivered"  // the transport accepted it
	PushTokenGone = "token_gone" // the device's token is dead; the device was removed
	PushRefused   = "refused"    // refused for good (a bad message)
	PushGaveUp    = "gave_up"    // 429/5xx until attempts or patience ran out
)

// Evidence upload outcomes.
const (
	UploadVerified = "verified" // size, hash and type matched what was declared
	UploadRejected = "rejected" // a mismatch: kept, marked rejected with its reason
)

// EvidenceKinds are the kinds of evidence (backend's evidence kinds).
var EvidenceKinds = []string{"photo", "video", "audio", "document", "external_report", "signature"}

var (
	dispatches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "suiji_dispatches_total",
		Help: "Dispatch calls that succeeded, by whether they created tasks (created) or found them all there (unchanged).",
	}, []string{"result"})
	tasksCreated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "suiji_dispatch_tasks_created_total",
		Help: "Tasks created by dispatching draws.",
	})
	pushSends = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "suiji_push_sends_total",
		Help: "Alerts (one entry, or a digest of a user's entries) sent to one device each, by outcome (delivered, token_gone, refused, gave_up).",
	}, []string{"outcome"})
	uploads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "suiji_evidence_uploads_total",
		Help: "Evidence uploads completed, by kind and outcome (verified, rejected).",
	}, []string{"kind", "outcome"})
	uploadBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "suiji_evidence_upload_bytes_total",
		Help: "Bytes of verified evidence, by kind.",
	}, []string{"kind"})
)

func init() {
	Registry.MustRegister(dispatches, tasksCreated, pushSends, uploads, uploadBytes)
	for _, r := range []string{"created", "unchanged"} {
		dispatches.WithLabelValues(r)
	}
	for _, o := range []string{PushDelivered, PushTokenGone, PushRefused, PushGaveUp} {
		pushSends.WithLabelValues(o)
	}
	for _, k := range EvidenceKinds {
		uploadBytes.WithLabelValues(k)
		for _, o := range []string{UploadVerified, UploadRejected} {
			uploads.WithLabelValues(k, o)
		}
	}
}

// Dispatched counts one successful dispatch that created created tasks.
func Dispatched(created int) {
	if created > 0 {
		dispatches.WithLabelValues("created").Inc()
		tasksCreated.Add(float64(created))
	} else {
		dispatches.WithLabelValues("unchanged").Inc()
	}
}

// PushSent counts one alert (an entry, or a digest of a user's entries)
// sent to one device, by outcome.
func PushSent(outcome string) { pushSends.WithLabelValues(outcome).Inc() }

// EvidenceCompleted counts one completed upload of kind with its outcome
// and, when verified, its size.
func EvidenceCompleted(kind, outcome string, size int64) {
	uploads.WithLabelValues(kind, outcome).Inc()
	if outcome == UploadVerified && size > 0 {
		uploadBytes.WithLabelValues(kind).Add(float64(size))
	}
}

// Backlog counts what waits in the outboxes. The counts scan collections
// and /metrics answers anyone, so one count answers every scrape for
// MaxAge: a loop of requests costs the stores nothing more, and scrapes
// that come while a count runs wait for it rather than start their own.
// A nil function (push off, no store) reports nothing.
type Backlog struct {
	PushPending  func(ctx context.Context) (int, error) // alerts written to inboxes, not yet pushed
	AuditPending func(ctx context.Context) (int, error) // audit events staged with their change, not yet in the chain
	Timeout      time.Duration                          // per count; 2 s when zero
	MaxAge       time.Duration                          // how long a count answers; DefaultBacklogMaxAge when zero
	Logger       *slog.Logger
	Now          func() time.Time // time.Now when nil; tests move it

	mu     sync.Mutex // held while counting, so concurrent scrapes share one count
	at     time.Time  // when the kept count was made; zero before the first
	gauges []prometheus.Metric
}

// DefaultBacklogMaxAge is how long one count of the outboxes answers
// scrapes: Prometheus scrapes every 15–60 s, and a backlog that matters
// lasts minutes.
const DefaultBacklogMaxAge = 30 * time.Second

var (
	pushBacklogDesc = prometheus.NewDesc("suiji_push_outbox_pending",
		"Alerts in inboxes still waiting to be pushed (the push outbox).", nil, nil)
	auditBacklogDesc = prometheus.NewDesc("suiji_audit_outbox_pending",
		"Audit events stored with their change but not yet appended to the chain.", nil, nil)
)

// Describe implements prometheus.Collector.
func (b *Backlog) Describe(ch chan<- *prometheus.Desc) {
	ch <- pushBacklogDesc
	ch <- auditBacklogDesc
}

// Collect implements prometheus.Collector: the kept count while it is
// younger than MaxAge, else a new one (one query per outbox).
func (b *Backlog) Collect(ch chan<- prometheus.Metric) {
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	maxAge := b.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultBacklogMaxAge
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.at.IsZero() || now().Sub(b.at) >= maxAge {
		// A failed count is kept as long as a good one: a store that is
		// slow to answer is not asked again by every scrape.
		b.gauges, b.at = b.count(), now()
	}
	for _, m := range b.gauges {
		ch <- m
	}
}

// count runs one query per outbox and returns the gauges of those that
// answered.
func (b *Backlog) count() []prometheus.Metric {
	timeout := b.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var gauges []prometheus.Metric
	for _, g := range []struct {
		desc *prometheus.Desc
		f    func(context.Context) (int, error)
	}{{pushBacklogDesc, b.PushPending}, {auditBacklogDesc, b.AuditPending}} {
		if g.f == nil {
			continue
		}
		n, err := g.f(ctx)
		if err != nil {
			// A missing gauge is visible on the dashboard; an error here
			// must not break the rest of the scrape.
			if b.Logger != nil {
				b.Logger.Warn("metrics: counting an outbox failed", slog.Any("error", err))
			}
			continue
		}
		gauges = append(gauges, prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(n)))
	}
	return gauges
}
