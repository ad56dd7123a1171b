package mobileapi

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-ID"

// requestID gives every request an id: the client's own when it sends a
// sane one (phones retrying a call keep theirs), otherwise a new random one.
// The id goes into the response header, the logs and the user context.
func (s *Server) requestID(c *fiber.Ctx) error {
	id := c.Get(HeaderRequestID)
	if !validRequestID(id) {
		id = newRequestID()
	} else {
		id = string([]byte(id)) // Fiber reuses the header's memory.
	}
	c.Locals(HeaderRequestID, id)
	c.Set(HeaderRequestID, id)
	c.SetUserContext(backend.WithRequestID(c.UserContext(), id))
	return c.Next()
}

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(HeaderRequestID).(string)
	return id
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		ok := r == '-' || r == '_' || r == '.' ||
			(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return hex.EncodeToString(b[:])
}

// observe writes the access log line and the request metrics. It renders
// errors itself (through the app's error handler) so that the status it
// records is the one the client gets.
func (s *Server) observe(c *fiber.Ctx) error {
	s.handlers.start()
	defer s.handlers.done()
	start := time.Now()
	if err := c.Next(); err != nil {
		if herr := s.errorHandler(c, err); herr != nil {
			return herr
		}
	}
	elapsed := time.Since(start)
	status := c.Response().StatusCode()
	route := routeLabel(c)
	s.metrics.observe(c.Method(), route, status, elapsed)

	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	size := -1 // a streamed body (server-sent events) is still being written; reading it here would block
	if !c.Response().IsBodyStream() {
		size = len(c.Response().Body())
	}
	attrs := append(make([]slog.Attr, 0, 14),
		slog.String("request_id", requestID(c)),
		slog.String("method", c.Method()),
		slog.String("path", c.Path()),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		slog.Int("bytes", size),
		slog.String("ip", s.clientIP(c)),
		slog.String("user_agent", c.Get(fiber.HeaderUserAgent)),
	)
	s.logger.LogAttrs(c.UserContext(), level, "request", append(attrs, objectAttrs(c)...)...)
	return nil
}

// objectAttrs names the objects a request touched, from its route's
// parameters — /api/v1/draws/:id/dispatch gives draw_id,
// /api/v1/tasks/:id/items/:item_id gives task_id and item_id,
// /api/v1/evidence/:id gives evidence_id — and a created object from the
// Location header (created_id), so that every request about a draw, a
// task or a piece of evidence is found in the logs by its id.
func objectAttrs(c *fiber.Ctx) []slog.Attr {
	var out []slog.Attr
	if r := c.Route(); r != nil {
		segs := strings.Split(r.Path, "/")
		for i, seg := range segs {
			if !strings.HasPrefix(seg, ":") || i == 0 {
				continue
			}
			name := strings.TrimPrefix(seg, ":")
			if name == "id" {
				name = singular(segs[i-1]) + "_id"
			}
			if v := c.Params(strings.TrimPrefix(seg, ":")); v != "" {
				out = append(out, slog.String(name, v))
			}
		}
	}
	if loc := c.GetRespHeader(fiber.HeaderLocation); loc != "" && c.Response().StatusCode() == fiber.StatusCreated {
		out = append(out, slog.String("created_id", loc[strings.LastIndexByte(loc, '/')+1:]))
	}
	return out
}

// singular turns a collection's path segment into the object's name:
// draws → draw, enterprises → enterprise, evidence → evidence.
func singular(collection string) string {
	switch {
	case strings.HasSuffix(collection, "ies"):
		return strings.TrimSuffix(collection, "ies") + "y"
	case strings.HasSuffix(collection, "s"):
		return strings.TrimSuffix(collection, "s")
	default:
		return collection
	}
}

// routeLabel is the matched route pattern (not the raw path, which would
// give every id its own metric series); requests no route matched share one
// label.
func routeLabel(c *fiber.Ctx) string {
	r := c.Route()
	if r == nil || r.Path == "" || r.Path == "/" && c.Path() != "/" {
		return "unmatched"
	}
	return r.Path
}

// statusText is used as the metrics label for a status.
func statusText(status int) string { return strconv.Itoa(status) }
