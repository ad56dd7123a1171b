package mobileapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"suiji/backend"
)

// Defaults of the limits in Config. The binary sets them from SUIJI_*
// variables (backend/config); these apply to servers built without them
// (tests).
const (
	DefaultBodyLimit      = 1 << 20
	DefaultUploadLimit    = 16 << 20
	DefaultReadTimeout    = 10 * time.Second
	DefaultRequestTimeout = 30 * time.Second
	DefaultUploadTimeout  = 3 * time.Minute
	DefaultMaxConnsPerIP  = 64
)

// importWait is how long an import waits for the instance's one import slot
// before it is told to come back (429).
const importWait = 2 * time.Second

func (c *Config) withDefaultLimits() {
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&c.BodyLimit, DefaultBodyLimit)
	set(&c.UploadLimit, DefaultUploadLimit)
	set(&c.MaxConnsPerIP, DefaultMaxConnsPerIP)
	set(&c.MaxStreamsPerUser, DefaultMaxStreamsPerUser)
	setD(&c.ReadTimeout, DefaultReadTimeout)
	setD(&c.RequestTimeout, DefaultRequestTimeout)
	setD(&c.UploadTimeout, DefaultUploadTimeout)
}

// routeKind sorts routes by the limits they need. Every route is ordinary
// unless its method and path say otherwise, by convention: POST …/import
// takes a spreadsheet, GET …/export writes one, a plan's commit and draws
// read and freeze a city's pool, /api/v1/me/events streams.
type routeKind int

const (
	ordinary routeKind = iota // BodyLimit, ReadTimeout, RequestTimeout
	upload                    // UploadLimit (valid token only), UploadTimeout to send and to run; one at a time
	long                      // ordinary body, UploadTimeout to run
	stream                    // ordinary body, no deadline: it runs until the client leaves
)

func kindOf(method, path string) routeKind {
	switch {
	case method == fiber.MethodPost && strings.HasSuffix(path, "/import"):
		return upload
	case method == fiber.MethodGet && strings.HasSuffix(path, "/export"):
		return long
	case method == fiber.MethodPost && strings.HasPrefix(path, "/api/v1/plans/") &&
		(strings.HasSuffix(path, "/commit") || strings.HasSuffix(path, "/draws")):
		return long // a city's pool: read, frozen, drawn
	case path == "/api/v1/me/events":
		return stream
	}
	return ordinary
}

// headerReceived runs when a request's header has arrived and before its
// body is read, and sets how much body the server will read and how long it
// may take. Ordinary routes get BodyLimit; an upload gets UploadLimit, but
// only when the request carries an access token we signed — so an
// anonymous client cannot make the server set aside more than BodyLimit
// per connection. A declared body over the limit is refused at once (413),
// before any of it is read or allocated.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	rc := fasthttp.RequestConfig{MaxRequestBodySize: s.cfg.BodyLimit}
	if kindOf(string(h.Method()), string(h.RequestURI()[:pathEnd(h.RequestURI())])) != upload {
		return rc
	}
	rc.ReadTimeout = s.cfg.UploadTimeout
	token, ok := strings.CutPrefix(string(h.Peek(fiber.HeaderAuthorization)), "Bearer ")
	if ok && s.svc.Auth != nil && s.svc.Auth.Signed(token) && s.mayImport(token) {
		rc.MaxRequestBodySize = s.cfg.UploadLimit
	}
	return rc
}

// importAuthWait bounds how long a request's header waits for its token's
// session and roles to be checked.
const importAuthWait = 2 * time.Second

// mayImport reports whether token is a live session of someone who may
// import (admin, coordinator or staff: the import routes' roles). Only
// they get UploadLimit, which fasthttp sets aside as soon as the body is
// declared — before any handler checks a role, and whatever the token's
// session has become since it was signed. It asks as a request does,
// which the users' cache usually answers from memory.
func (s *Server) mayImport(token string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), importAuthWait)
	defer cancel()
	a, err := s.svc.Auth.Authenticate(ctx, token, "")
	return err == nil && a.HasAnyRole(backend.RoleAdmin, backend.RoleCoordinator, backend.RoleStaff)
}

// pathEnd is the length of uri's path (before any query).
func pathEnd(uri []byte) int {
	for i, b := range uri {
		if b == '?' || b == '#' {
			return i
		}
	}
	return len(uri)
}

// deadline gives a request's work its time budget: the context its
// handlers pass on ends after d, so every MongoDB and Redis call made for
// it ends by then. A request that ran out answers 503 saying so.
func deadline(d time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), d)
		defer cancel()
		c.SetUserContext(ctx)
		err := c.Next()
		if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return backend.Wrap(err, backend.EUNAVAILABLE, "the request took longer than %s and was stopped; try again later", d)
		}
		return err
	}
}

// oneImport lets one import run at a time in this instance: an import
// holds a whole spreadsheet and its rows in memory, so a second one waits
// up to importWait for the first and is then asked to come back (429 with
// Retry-After) rather than doubling the memory.
func (s *Server) oneImport(c *fiber.Ctx) error {
	t := time.NewTimer(importWait)
	defer t.Stop()
	select {
	case s.imports <- struct{}{}:
	case <-t.C:
		return backend.RateLimited(5*time.Second, "another import is running on this server; try again in a few seconds")
	case <-c.UserContext().Done():
		return c.UserContext().Err()
	}
	defer func() { <-s.imports }()
	return c.Next()
}

// inflight counts running handlers so that Serve can wait for them before
// the caller closes the stores they use.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil when nobody waits
}

func (f *inflight) start() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
}

func (f *inflight) done() {
	f.mu.Lock()
	f.n--
	if f.n == 0 && f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
	f.mu.Unlock()
}

// wait returns once no handler runs.
func (f *inflight) wait() {
	f.mu.Lock()
	if f.n == 0 {
		f.mu.Unlock()
		return
	}
	if f.idle == nil {
		f.idle = make(chan struct{})
	}
	idle := f.idle
	f.mu.Unlock()
	<-idle
}

// limitConns caps the connections one client address may hold open at
// MaxConnsPerIP, so one client cannot take every connection the server
// has; an IPv6 /64, which one client usually holds whole, counts as one
// address (backend.AddressBucket). Only the socket's address is known here;
// connections from trusted proxies (SUIJI_TRUSTED_PROXIES) are not counted,
// since they carry many clients — the proxy must limit those itself. A
// connection over the cap gets a 429 in the JSON error shape and is closed.
func (s *Server) limitConns(ln net.Listener) net.Listener {
	return &connLimiter{Listener: ln, s: s, open: map[string]int{}}
}

type connLimiter struct {
	net.Listener
	s    *Server
	mu   sync.Mutex
	open map[string]int
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		ip := net.ParseIP(host)
		if ip == nil || l.s.proxies.contains(ip) {
			return c, nil
		}
		key := backend.AddressBucket(ip.String())
		l.mu.Lock()
		if l.open[key] >= l.s.cfg.MaxConnsPerIP {
			l.mu.Unlock()
			go refuse(c, l.s.cfg.MaxConnsPerIP)
			continue
		}
		l.open[key]++
		l.mu.Unlock()
		return &countedConn{Conn: c, release: func() { l.release(key) }}, nil
	}
}

func (l *connLimiter) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

// refuse answers a connection over the cap and closes it.
func refuse(c net.Conn, limit int) {
	defer c.Close()
	body := fmt.Sprintf(`{"error":{"code":%q,"message":"more than %d connections from your address; close some and retry"}}`, backend.ERATELIMIT, limit)
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = fmt.Fprintf(c, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// countedConn gives its slot back once, when closed.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
