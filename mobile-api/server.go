package mobileapi

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"suiji/backend"
	"suiji/backend/app"
)

// Config is what the HTTP server needs to know; the binary fills it from
// the process configuration.
type Config struct {
	BodyLimit   int      // bytes; larger bodies get 413 (DefaultBodyLimit if 0)
	CORSOrigins []string // allowed origins; none means no CORS headers
	// UploadOrigins are where browsers send evidence bytes (MinIO's
	// public endpoint, "http://host:port"): the web front-ends' content
	// security policy allows connections there besides suiji itself.
	UploadOrigins  []string
	TrustedProxies []string      // proxies whose X-Forwarded-For is believed
	ReadyTimeout   time.Duration // per-dependency deadline of /readyz
	Version        string        // reported by /healthz
	// EventsHeartbeat is how often an idle event stream gets a comment
	// line and reads back what it may have missed (DefaultHeartbeat if 0).
	EventsHeartbeat time.Duration
	// The limits of limits.go; each takes its Default… value when 0.
	UploadLimit    int           // bytes of a spreadsheet upload, from a caller with a valid token
	ReadTimeout    time.Duration // to send a request's header and body (uploads: UploadTimeout)
	RequestTimeout time.Duration // a request's deadline (uploads, exports: UploadTimeout; streams: none)
	UploadTimeout  time.Duration // to send an upload; the deadline of imports and exports
	MaxConnsPerIP  int           // open connections per socket address (trusted proxies: no limit)
	// MaxStreamsPerUser bounds one user's event streams on an instance; a
	// further one closes the oldest (DefaultMaxStreamsPerUser if 0).
	MaxStreamsPerUser int
}

// Server is the HTTP API. Create it with New, serve it with Serve; tests
// drive App() directly with app.Test.
type Server struct {
	cfg     Config
	logger  *slog.Logger
	deps    []backend.Dependency
	svc     app.Services
	proxies trustedProxies // who may report the client address
	metrics *metrics
	web     *webFront // the web front-ends' files and pages
	app     *fiber.App

	handlers       inflight      // handlers running, for Serve to wait for
	claimHeartbeat time.Duration // how often idempotency claims are renewed (claimHeartbeat if 0; tests shorten it)
	imports        chan struct{} // the one import slot (see oneImport)
	streams        streamRegistry
}

// New builds the Fiber app with its middleware and routes. deps are the
// backing services /readyz reports on; svc the use cases handlers call,
// as built by backend/cmd/wire. Every route is mounted whatever svc holds;
// a test that leaves a service nil must not call its routes.
func New(cfg Config, logger *slog.Logger, deps []backend.Dependency, svc app.Services) *Server {
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 2 * time.Second
	}
	cfg.withDefaultLimits()
	s := &Server{cfg: cfg, logger: logger, deps: deps, svc: svc, metrics: newMetrics(svc, logger), proxies: parseTrustedProxies(cfg.TrustedProxies)}
	fc := fiber.Config{
		AppName: "suiji",
		// The largest body any route takes; headerReceived lowers it per
		// request before the body is read (see limits.go).
		BodyLimit:             max(cfg.BodyLimit, cfg.UploadLimit),
		ErrorHandler:          s.errorHandler,
		DisableStartupMessage: true,
		// Paths are matched as written: middleware that decides by path
		// (the public limit and caching, web.go) sees the path the route
		// matched, so /PUBLIC/v1/… cannot reach a /public/v1/… handler
		// past them. Every client writes the paths in lower case.
		CaseSensitive: true,
		// Without timeouts an idle keep-alive connection would hold graceful
		// shutdown open forever, and a slow sender would hold a connection
		// as long as it likes.
		ReadTimeout:  cfg.ReadTimeout,
		WriteTimeout: 60 * time.Second,
		IdleTimeout:  60 * time.Second,
	}
	s.app = fiber.New(fc)
	s.app.Server().HeaderReceived = s.headerReceived
	s.imports = make(chan struct{}, 1)
	s.routes()
	return s
}

// App returns the Fiber app, for tests and for mounting extra routes.
func (s *Server) App() *fiber.App { return s.app }

// routes installs middleware in order (outermost first) and the routes.
func (s *Server) routes() {
	s.app.Use(s.requestID, s.observe)
	s.app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: s.logPanic}))
	if len(s.cfg.CORSOrigins) > 0 {
		s.app.Use(cors.New(cors.Config{
			AllowOrigins:  strings.Join(s.cfg.CORSOrigins, ","),
			AllowHeaders:  "Authorization, Content-Type, Idempotency-Key, X-Request-ID",
			ExposeHeaders: "X-Request-ID, Retry-After",
			MaxAge:        600,
		}))
	}

	s.web = newWebFront(s)
	s.app.Use(s.web.public)
	s.mountAPI()
}

// Serve answers requests on ln until ctx is cancelled, then shuts down
// gracefully: the listener closes at once, requests in flight get up to
// shutdownTimeout to finish, idle connections are closed.
//
// Serve returns only once every handler has returned (each has its own
// deadline, so this ends), so that the caller may then close the stores
// those handlers use.
func (s *Server) Serve(ctx context.Context, ln net.Listener, shutdownTimeout time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.app.Listener(s.limitConns(ln)) }()

	select {
	case err := <-errc:
		s.handlers.wait()
		return err
	case <-ctx.Done():
	}
	s.logger.Info("shutting down", slog.Duration("timeout", shutdownTimeout))
	err := s.app.ShutdownWithTimeout(shutdownTimeout)
	if err != nil {
		s.logger.Warn("requests still running at the shutdown timeout; their connections are closed, waiting for their handlers", slog.Any("error", err))
	}
	s.handlers.wait()
	if err != nil {
		return err
	}
	return <-errc
}

// logPanic records a recovered panic with its stack; the client gets a 500
// with the generic message from the error handler.
func (s *Server) logPanic(c *fiber.Ctx, e any) {
	s.logger.ErrorContext(c.UserContext(), "panic",
		slog.String("request_id", requestID(c)),
		slog.Any("panic", e),
		slog.String("path", c.Path()))
}
