package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"suiji/backend/auth"
	"suiji/backend/cmd/wire"
	"suiji/backend/config"
	mobileapi "suiji/mobile-api"
)

// runServe connects to MongoDB, Redis and MinIO, prepares indexes and
// buckets, and serves the API until ctx is cancelled (SIGINT/SIGTERM), then
// lets requests in flight finish and closes the connections.
func runServe(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: suiji serve")
		fmt.Fprintln(stderr, "Runs the HTTP API. Configuration comes from SUIJI_* environment variables (see the README).")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"serve takes no arguments"}
	}

	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	warnDevDefaults(cfg, stderr)

	st, err := wire.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close(logger)

	svc := wire.Services(st, cfg, utcNow)
	if created, err := svc.Auth.EnsureAdmin(ctx, cfg.AdminUsername, cfg.AdminPassword); errors.Is(err, auth.ErrNoAdmin) {
		// The bureau's work goes on; only account management waits.
		logger.Error("nobody can manage accounts", slog.Any("error", err))
	} else if err != nil {
		return fmt.Errorf("first admin (SUIJI_ADMIN_USERNAME/SUIJI_ADMIN_PASSWORD): %w", err)
	} else if created {
		logger.Warn("created the first admin", slog.String("username", cfg.AdminUsername))
	}

	mctx, stopMaintenance := context.WithCancel(ctx)
	waitMaintenance := startMaintenance(mctx, svc, logger)
	defer waitMaintenance()
	defer stopMaintenance()

	srv := mobileapi.New(mobileapi.Config{
		BodyLimit:      cfg.BodyLimit,
		UploadLimit:    cfg.UploadLimit,
		ReadTimeout:    cfg.ReadTimeout,
		RequestTimeout: cfg.RequestTimeout,
		UploadTimeout:  cfg.UploadTimeout,
		MaxConnsPerIP:  cfg.MaxConnsPerIP,
		CORSOrigins:    cfg.CORSOrigins,
		UploadOrigins:  []string{uploadOrigin(cfg)},
		TrustedProxies: cfg.TrustedProxies,
		ReadyTimeout:   cfg.ReadyTimeout,
		Version:        version(),
	}, logger, st.Dependencies(), svc)

	// Background work on every instance: the pusher sends pending alerts
	// (rows any instance wrote); the deadline scheduler runs on whichever
	// instance holds its lease. It all stops, and is waited for, before
	// the stores close and serve returns (nothing logs after it).
	var background sync.WaitGroup
	defer background.Wait()
	bctx, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	if svc.Notify.PushEnabled() {
		background.Go(func() { svc.Notify.Run(bctx) })
	} else {
		logger.Warn("push is off: SUIJI_FCM_CREDENTIALS_FILE and SUIJI_FCM_ENDPOINT are empty; the inbox and live events still work")
	}
	background.Go(func() { svc.Tasks.RunScheduler(bctx, cfg.SchedulerInterval, logger) })
	// The in-memory indexes are read once now, so that the first staff
	// listing and the first public search do not wait for a full read of
	// the collection (which may take longer than a request may), and the
	// open tasks and the users, so that phones' syncs answer from memory
	// from the start.
	background.Go(func() { warm(bctx, logger, "directory", svc.Directory.WarmIndex) })
	background.Go(func() { warm(bctx, logger, "public results", svc.Results.WarmPublicIndex) })
	background.Go(func() { warm(bctx, logger, "open tasks", svc.Tasks.WarmCache) })
	background.Go(func() { warm(bctx, logger, "users", svc.Auth.WarmUsers) })

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("SUIJI_HTTP_ADDR: %w", err)
	}
	logger.Info("suiji listening", slog.String("addr", ln.Addr().String()), slog.String("env", cfg.Env), slog.String("version", version()))
	if err := srv.Serve(ctx, ln, cfg.ShutdownTimeout); err != nil {
		return err
	}
	logger.Info("suiji stopped")
	return nil
}

// warm runs one index's first read and logs how it went; a failure only
// means the first request reads instead.
func warm(ctx context.Context, logger *slog.Logger, what string, read func(context.Context) error) {
	start := time.Now()
	if err := read(ctx); err != nil {
		logger.Warn("index not warmed; the first request reads the store", slog.String("index", what), slog.Any("err", err))
		return
	}
	logger.Info("index warmed", slog.String("index", what), slog.Duration("took", time.Since(start)))
}

// utcNow is the clock of every service in the binary.
func utcNow() time.Time { return time.Now().UTC() }

// newLogger returns the process logger: JSON lines unless stderr is a
// terminal (or SUIJI_LOG_FORMAT says otherwise).
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config.Load
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.LogFormat
	if format == "auto" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	logger := slog.New(h)
	slog.SetDefault(logger)
	return logger
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// warnDevDefaults prints a banner naming every secret still at its
// development value, so nobody mistakes a development server for a real one.
// (config.Load already refused them if SUIJI_ENV=production.)
func warnDevDefaults(cfg *config.Config, w io.Writer) {
	names := cfg.DevDefaults()
	if len(names) == 0 {
		return
	}
	bar := strings.Repeat("!", 72)
	fmt.Fprintln(w, bar)
	fmt.Fprintf(w, "!! DEVELOPMENT DEFAULTS IN USE (SUIJI_ENV=%s) — not for real data:\n", cfg.Env)
	for _, n := range names {
		fmt.Fprintf(w, "!!   %s\n", n)
	}
	fmt.Fprintln(w, "!! Set them to secrets of your own; SUIJI_ENV=production refuses to start with them.")
	fmt.Fprintln(w, bar)
}

// uploadOrigin is where phones send evidence bytes: the MinIO endpoint the
// upload instructions name, as an origin for the web front-ends' content
// security policy.
func uploadOrigin(cfg *config.Config) string {
	scheme := "http://"
	if cfg.MinIOSecure {
		scheme = "https://"
	}
	return scheme + cfg.MinIOEndpoint
}
