package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"suiji/backend"
	"suiji/backend/accounts"
	"suiji/backend/audit"
	"suiji/backend/auth"
	"suiji/backend/config"
	mobileapi "suiji/mobile-api"
	"suiji/storage/cache"
	"suiji/storage/mongodb"
	"suiji/storage/objects"
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

	st, err := openStores(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.close(logger)

	svc := st.services(cfg)
	if created, err := svc.Auth.EnsureAdmin(ctx, cfg.AdminUsername, cfg.AdminPassword); err != nil {
		return fmt.Errorf("first admin (SUIJI_ADMIN_USERNAME/SUIJI_ADMIN_PASSWORD): %w", err)
	} else if created {
		logger.Warn("created the first admin", slog.String("username", cfg.AdminUsername))
	}

	srv := mobileapi.New(mobileapi.Config{
		BodyLimit:      cfg.BodyLimit,
		CORSOrigins:    cfg.CORSOrigins,
		TrustedProxies: cfg.TrustedProxies,
		ReadyTimeout:   cfg.ReadyTimeout,
		Version:        version(),
	}, logger, st.dependencies(), svc)

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

// stores holds the open connections to the backing services.
type stores struct {
	mongo   *mongodb.DB
	cache   *cache.Cache
	objects *objects.Store
}

// openStores connects to each service and prepares it (indexes, buckets).
// Any failure names the service; whatever was opened is closed again.
func openStores(ctx context.Context, cfg *config.Config) (_ *stores, err error) {
	st := &stores{}
	defer func() {
		if err != nil {
			st.close(slog.New(slog.DiscardHandler))
		}
	}()
	if st.mongo, err = mongodb.Open(ctx, mongodb.Options{URI: cfg.MongoURI, Database: cfg.MongoDatabase}); err != nil {
		return nil, fmt.Errorf("connecting to MongoDB (SUIJI_MONGO_URI): %w", err)
	}
	if err = st.mongo.EnsureIndexes(ctx); err != nil {
		return nil, fmt.Errorf("creating MongoDB indexes: %w", err)
	}
	if st.cache, err = cache.Open(ctx, cache.Options{URL: cfg.RedisURL, Prefix: cfg.RedisPrefix}); err != nil {
		return nil, fmt.Errorf("connecting to Redis (SUIJI_REDIS_URL): %w", err)
	}
	st.objects, err = objects.Open(ctx, objects.Options{
		Endpoint:        cfg.MinIOEndpoint,
		AccessKey:       cfg.MinIOAccessKey,
		SecretKey:       cfg.MinIOSecretKey,
		Secure:          cfg.MinIOSecure,
		Region:          cfg.MinIORegion,
		EvidenceBucket:  cfg.EvidenceBucket,
		DocumentsBucket: cfg.DocumentsBucket,
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to MinIO (SUIJI_MINIO_ENDPOINT): %w", err)
	}
	if err = st.objects.EnsureBuckets(ctx); err != nil {
		return nil, fmt.Errorf("creating MinIO buckets: %w", err)
	}
	return st, nil
}

// services builds the use cases on the open stores.
func (st *stores) services(cfg *config.Config) mobileapi.Services {
	now := func() time.Time { return time.Now().UTC() }
	recorder := &audit.Recorder{Store: st.mongo.AuditEvents(), Now: now}
	sessions := st.cache.Sessions()
	svc := mobileapi.Services{
		Auth: &auth.Service{
			Users:        st.mongo.Users(),
			Sessions:     sessions,
			Throttle:     cache.NewLoginThrottle(st.cache, cache.ThrottleOptions{}),
			Audit:        recorder,
			Key:          []byte(cfg.JWTKey),
			Now:          now,
			AccessTTL:    auth.DefaultAccessTTL,
			RefreshTTL:   auth.DefaultRefreshTTL,
			RefreshGrace: auth.DefaultRefreshGrace,
		},
		Accounts: &accounts.Service{
			Users:    st.mongo.Users(),
			Devices:  st.mongo.Devices(),
			Sessions: sessions,
			Audit:    recorder,
			Now:      now,
		},
		Audit:       st.mongo.AuditEvents(),
		Idempotency: cache.NewIdempotencyStore(st.cache),
	}
	for _, wire := range wirings {
		wire(st, &svc, recorder, now)
	}
	return svc
}

// wirings add the use cases of the API's areas (directory, roster, items,
// plans …) to the services, each registered by an init function in the
// area's own wire_*.go file.
var wirings []func(st *stores, svc *mobileapi.Services, audit backend.Auditor, now func() time.Time)

// dependencies lists the services /readyz reports on.
func (st *stores) dependencies() []backend.Dependency {
	return []backend.Dependency{
		{Name: "mongodb", Pinger: st.mongo},
		{Name: "redis", Pinger: st.cache},
		{Name: "minio", Pinger: st.objects},
	}
}

func (st *stores) close(logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if st.mongo != nil {
		if err := st.mongo.Close(ctx); err != nil {
			logger.Warn("closing MongoDB", slog.Any("error", err))
		}
	}
	if st.cache != nil {
		if err := st.cache.Close(); err != nil {
			logger.Warn("closing Redis", slog.Any("error", err))
		}
	}
}

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
