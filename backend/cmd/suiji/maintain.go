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

// startMaintenance recovers the audit outbox, builds the task feeds of a
// database that has none yet (tasks.Service.BuildFeeds: once, then a
// lookup by _id), completes interrupted
// publications (results.Service.RepairPublic) and the documents of
// approvals not yet archived (results.Service.RepairDocuments), and logs the chain's head once,
// before the server takes requests, then keeps doing all three in the
// background until ctx ends: recovery and repair every recoverEvery, the
// head every logHeadEvery
// (the "daily log line" that lets anyone holding old logs notice deleted
// events). It returns a function that waits for the background work to stop.
func startMaintenance(ctx context.Context, svc app.Services, logger *slog.Logger) (wait func()) {
	runRepairs(ctx, svc, time.Now(), logger)
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
				runRepairs(ctx, svc, now.Add(-recoverAfter), logger)
			case <-headTick.C:
				logAuditHead(ctx, svc.Audit, logger)
			}
		}
	}()
	return func() { <-done }
}

// A repair completes work a crash or an outage interrupted: it returns how
// many pieces it completed. Each is logged under its own words.
type repair struct {
	run          func(ctx context.Context) (int, error)
	failed, done string // log messages: the repair failed; n pieces completed
	unit         string // what n counts
}

// repairs are the repairs maintenance runs, in order; before bounds the
// audit recovery to events staged before it (so it does not race requests
// still completing their own appends).
func repairs(svc app.Services, before time.Time) []repair {
	return []repair{
		{func(ctx context.Context) (int, error) { return svc.Recorder.Recover(ctx, before) },
			"audit: recovering interrupted events failed; retrying later",
			"audit: appended events interrupted by a crash or outage", "events"},
		{svc.Tasks.BuildFeeds,
			"tasks: building the task feeds from the inbox failed; phones sync from the inbox meanwhile; retrying later",
			"tasks: built the task feeds from the inbox entries written before them", "entries"},
		{svc.Results.RepairPublic,
			"results: completing interrupted publications failed; retrying later",
			"results: completed publications interrupted by a crash or outage", "results"},
		{svc.Results.RepairDocuments,
			"results: archiving the documents of approved results failed; retrying later",
			"results: archived the documents of approvals interrupted by a crash or outage", "tasks"},
	}
}

// runRepairs runs each repair within maintainBudget, logging what it did.
func runRepairs(ctx context.Context, svc app.Services, before time.Time, logger *slog.Logger) {
	for _, r := range repairs(svc, before) {
		rctx, cancel := context.WithTimeout(ctx, maintainBudget)
		n, err := r.run(rctx)
		cancel()
		if err != nil {
			logger.ErrorContext(ctx, r.failed, slog.Any("error", err))
		}
		if n > 0 {
			logger.WarnContext(ctx, r.done, slog.Int(r.unit, n))
		}
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
