package main

import (
	"context"
	"log/slog"
	"time"

	"suiji/backend"
	"suiji/backend/app"
	"suiji/backend/audit"
)

// How often the server completes interrupted audit appends, how old an
// outbox entry must be before it counts as interrupted (requests finish
// their own appends well within that), and how often the chain's head goes
// into the log.
const (
	recoverEvery   = time.Minute
	recoverAfter   = time.Minute
	logHeadEvery   = 24 * time.Hour
	maintainBudget = 30 * time.Second
)

// startMaintenance recovers the audit outbox, completes interrupted
// publications (results.Service.RepairPublic) and the documents of
// approvals not yet archived (results.Service.RepairDocuments), and logs the chain's head once,
// before the server takes requests, then keeps doing all three in the
// background until ctx ends: recovery and repair every recoverEvery, the
// head every logHeadEvery
// (the "daily log line" that lets anyone holding old logs notice deleted
// events). It returns a function that waits for the background work to stop.
func startMaintenance(ctx context.Context, svc app.Services, logger *slog.Logger) (wait func()) {
	recoverAudit(ctx, svc.Recorder, time.Now(), logger)
	repairPublic(ctx, svc, logger)
	repairDocuments(ctx, svc, logger)
	logAuditHead(ctx, svc.Audit, logger)
	done := make(chan struct{})
	go func() {
		defer close(done)
		recoverTick := time.NewTicker(recoverEvery)
		defer recoverTick.Stop()
		headTick := time.NewTicker(logHeadEvery)
		defer headTick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-recoverTick.C:
				recoverAudit(ctx, svc.Recorder, now.Add(-recoverAfter), logger)
				repairPublic(ctx, svc, logger)
				repairDocuments(ctx, svc, logger)
			case <-headTick.C:
				logAuditHead(ctx, svc.Audit, logger)
			}
		}
	}()
	return func() { <-done }
}

// recoverAudit appends audit events whose change was stored before
// `before` but whose append did not complete (a crash, an outage).
func recoverAudit(ctx context.Context, r *audit.Recorder, before time.Time, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, maintainBudget)
	defer cancel()
	n, err := r.Recover(ctx, before)
	if err != nil {
		logger.ErrorContext(ctx, "audit: recovering interrupted events failed; retrying later", slog.Any("error", err))
	}
	if n > 0 {
		logger.WarnContext(ctx, "audit: appended events interrupted by a crash or outage", slog.Int("events", n))
	}
}

// repairPublic writes the public records of publications interrupted
// between their two writes.
func repairPublic(ctx context.Context, svc app.Services, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, maintainBudget)
	defer cancel()
	n, err := svc.Results.RepairPublic(ctx)
	if err != nil {
		logger.ErrorContext(ctx, "results: completing interrupted publications failed; retrying later", slog.Any("error", err))
	}
	if n > 0 {
		logger.WarnContext(ctx, "results: completed publications interrupted by a crash or outage", slog.Int("results", n))
	}
}

// repairDocuments generates and archives the documents of approvals
// whose documents are still pending (MinIO was down, a crash).
func repairDocuments(ctx context.Context, svc app.Services, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, maintainBudget)
	defer cancel()
	n, err := svc.Results.RepairDocuments(ctx)
	if err != nil {
		logger.ErrorContext(ctx, "results: archiving the documents of approved results failed; retrying later", slog.Any("error", err))
	}
	if n > 0 {
		logger.WarnContext(ctx, "results: archived the documents of approvals interrupted by a crash or outage", slog.Int("tasks", n))
	}
}

// logAuditHead writes the chain's newest seq and hash to the log.
func logAuditHead(ctx context.Context, store backend.AuditStore, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, maintainBudget)
	defer cancel()
	head, err := audit.Head(ctx, store)
	switch {
	case backend.ErrorCode(err) == backend.ENOTFOUND:
		logger.InfoContext(ctx, "audit head", slog.Int64("seq", 0), slog.String("hash", ""))
	case err != nil:
		logger.ErrorContext(ctx, "audit head unavailable", slog.Any("error", err))
	default:
		logger.InfoContext(ctx, "audit head", slog.Int64("seq", head.Seq), slog.String("hash", head.Hash),
			slog.String("time", audit.FormatTime(head.Time)))
	}
}
