package mobileapi

import (
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"suiji/backend/app"
	"suiji/backend/telemetry"
)

// metrics holds the server's Prometheus registry. Each Server has its own,
// so that tests can build several servers in one process.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// newMetrics builds the server's registry. The use cases' own metrics
// (backend/telemetry) are served beside it, and the outboxes' backlog is
// counted at each scrape when svc has the services that know it.
func newMetrics(svc app.Services, logger *slog.Logger) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "suiji_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "suiji_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by method and route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
	}
	m.registry.MustRegister(
		m.requests, m.latency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	backlog := &telemetry.Backlog{Logger: logger}
	if svc.Notify != nil {
		backlog.PushPending = svc.Notify.PushBacklog
	}
	if svc.Recorder != nil {
		backlog.AuditPending = svc.Recorder.Backlog
	}
	m.registry.MustRegister(backlog)
	return m
}

func (m *metrics) observe(method, route string, status int, elapsed time.Duration) {
	m.requests.WithLabelValues(method, route, statusText(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(elapsed.Seconds())
}

func (m *metrics) handler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(prometheus.Gatherers{m.registry, telemetry.Registry}, promhttp.HandlerOpts{}))
}
