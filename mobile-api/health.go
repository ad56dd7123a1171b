package mobileapi

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
)

// HealthResponse is the body of GET /healthz.
type HealthResponse struct {
	Status  string `json:"status"`
	Version string `json:"version,omitempty"`
}

// handleHealthz answers as long as the process serves HTTP (liveness). It
// checks no dependency: a database outage must not get the process killed.
func (s *Server) handleHealthz(c *fiber.Ctx) error {
	return c.JSON(HealthResponse{Status: "ok", Version: s.cfg.Version})
}

// ReadyResponse is the body of GET /readyz.
type ReadyResponse struct {
	Status string                 `json:"status"`         // "ok" or "unavailable"
	Down   []string               `json:"down,omitempty"` // names of the services that failed
	Checks map[string]CheckResult `json:"checks"`
}

// CheckResult is one dependency's part of ReadyResponse.
type CheckResult struct {
	Status    string  `json:"status"` // "ok" or "down"
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

// handleReadyz pings every dependency at once, each under its own deadline,
// and answers 503 naming those that are down.
func (s *Server) handleReadyz(c *fiber.Ctx) error {
	resp := s.checkDependencies(c.UserContext())
	status := fiber.StatusOK
	if len(resp.Down) > 0 {
		status = fiber.StatusServiceUnavailable
	}
	return c.Status(status).JSON(resp)
}

func (s *Server) checkDependencies(ctx context.Context) ReadyResponse {
	resp := ReadyResponse{Status: "ok", Checks: make(map[string]CheckResult, len(s.deps))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, dep := range s.deps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			result := s.check(ctx, dep)
			mu.Lock()
			defer mu.Unlock()
			resp.Checks[dep.Name] = result
			if result.Status != "ok" {
				resp.Down = append(resp.Down, dep.Name)
			}
		}()
	}
	wg.Wait()
	if len(resp.Down) > 0 {
		resp.Status = "unavailable"
		sort.Strings(resp.Down)
	}
	return resp
}

func (s *Server) check(ctx context.Context, dep backend.Dependency) CheckResult {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReadyTimeout)
	defer cancel()
	start := time.Now()
	err := dep.Pinger.Ping(ctx)
	result := CheckResult{Status: "ok", LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		// The cause (which names hosts and addresses) goes to the log; the
		// public answer says only what kind of failure it was.
		s.logger.WarnContext(ctx, "dependency down", slog.String("dependency", dep.Name), slog.Any("error", err))
		result.Status = "down"
		result.Error = "unreachable or refusing"
		if ctx.Err() != nil {
			result.Error = "no answer within " + s.cfg.ReadyTimeout.String()
		}
	}
	return result
}
