package mobileapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
)

// DefaultHeartbeat is how often an idle event stream gets a comment line,
// so that proxies and phones keep the connection and notice a dead one.
const DefaultHeartbeat = 15 * time.Second

// backlogPage is how many missed entries an event stream reads back from
// the inbox at a time.
const backlogPage = 500

// notificationJSON is an inbox entry (or, on the event stream, a silent
// task-changed entry) as the API shows it.
type notificationJSON struct {
	ID        string            `json:"id"`
	Seq       int64             `json:"seq"`
	Kind      string            `json:"kind"`
	Silent    bool              `json:"silent,omitempty"`
	TaskID    string            `json:"task_id,omitempty"`
	PlanID    string            `json:"plan_id,omitempty"`
	Title     string            `json:"title,omitempty"`
	Body      string            `json:"body,omitempty"`
	Data      map[string]string `json:"data"`
	CreatedAt time.Time         `json:"created_at"`
	ReadAt    *time.Time        `json:"read_at"`
}

func newNotificationJSON(n *backend.Notification) notificationJSON {
	return notificationJSON{
		ID: n.ID, Seq: n.Seq, Kind: n.Kind, Silent: n.Silent, TaskID: n.TaskID, PlanID: n.PlanID,
		Title: n.Title, Body: n.Body, Data: n.Payload(), CreatedAt: n.CreatedAt, ReadAt: n.ReadAt,
	}
}

// handleListNotifications is the caller's inbox, newest first, with the
// unread count; ?before=SEQ pages to older entries.
func (s *Server) handleListNotifications(c *fiber.Ctx) error {
	limit, err := queryInt(c, "limit", backend.InboxDefaultLimit, 1, backend.InboxMaxLimit)
	if err != nil {
		return err
	}
	before, err := queryInt(c, "before", 0, 0, 1<<53)
	if err != nil {
		return err
	}
	in, err := s.svc.Notify.ListInbox(c.UserContext(), int64(before), limit, c.QueryBool("unread"))
	if err != nil {
		return err
	}
	out := make([]notificationJSON, len(in.Notifications))
	for i, n := range in.Notifications {
		out[i] = newNotificationJSON(n)
	}
	resp := fiber.Map{"notifications": out, "unread": in.Unread, "next_before": nil}
	if in.NextBefore > 0 {
		resp["next_before"] = in.NextBefore
	}
	return c.JSON(resp)
}

func (s *Server) handleReadNotification(c *fiber.Ctx) error {
	n, err := s.svc.Notify.MarkRead(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(newNotificationJSON(n))
}

func (s *Server) handleReadAllNotifications(c *fiber.Ctx) error {
	n, err := s.svc.Notify.MarkAllRead(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"marked": n})
}

// lastEventID reads where a reconnecting stream resumes: the Last-Event-ID
// header an EventSource sends, or ?last_event_id= for clients that cannot
// set headers. 0 (nothing seen) streams the whole backlog, so a fresh
// client should pass the seq of the newest inbox entry it listed.
func lastEventID(c *fiber.Ctx) (int64, error) {
	raw := strings.TrimSpace(c.Get("Last-Event-ID"))
	if raw == "" {
		raw = c.Query("last_event_id")
	}
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 {
		return 0, backend.InvalidFields("invalid Last-Event-ID", map[string]string{"Last-Event-ID": "the seq of the last event received"})
	}
	return n, nil
}

// handleEvents is the caller's live event stream (server-sent events).
// Each event's id is the entry's seq; a client that reconnects with
// Last-Event-ID first gets everything after it from the inbox, then new
// entries as soon as whichever instance wrote them announces them (Redis
// pub/sub). Events are always read from the inbox in seq order — the bus
// only wakes the stream — and every heartbeat reads back anything newer
// too, so an entry whose announcement was lost still arrives, and none is
// sent twice or out of order.
func (s *Server) handleEvents(c *fiber.Ctx) error {
	if !strings.Contains(c.Get(fiber.HeaderAccept), "text/event-stream") {
		return backend.InvalidFields("this is an event stream", map[string]string{fiber.HeaderAccept: "send Accept: text/event-stream (EventSource does)"})
	}
	last, err := lastEventID(c)
	if err != nil {
		return err
	}
	userID := strings.Clone(backend.ActorFromContext(c.UserContext()).UserID)
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := s.svc.Notify.Subscribe(ctx, userID)
	if err != nil {
		cancel()
		return err
	}
	c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache, no-store")
	c.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	conn := c.Context().Conn()
	shutdown := c.Context().Done() // closed when the server shuts down
	st := &eventStream{s: s, ctx: ctx, userID: userID, sent: last, heartbeat: s.heartbeat()}
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		defer sub.Close()
		st.w = w
		if !st.write("retry: 3000\n\n") || !st.catchUp() {
			return
		}
		tick := time.NewTicker(st.heartbeat)
		defer tick.Stop()
		for {
			// A stream lives longer than the server's write timeout.
			_ = conn.SetWriteDeadline(time.Now().Add(2*st.heartbeat + 10*time.Second))
			select {
			case <-shutdown:
				return
			case n, ok := <-sub.C():
				if !ok {
					return // too far behind: the client reconnects and resumes
				}
				if n.Seq <= st.sent {
					continue
				}
				// The bus only says that something is new: entries are
				// read from the inbox in seq order, so one whose message
				// comes late (or never) is not skipped. A burst is read
				// once.
				open := drain(sub.C())
				if !st.catchUp() || !open {
					return
				}
			case <-tick.C:
				if !st.write(": ping\n\n") || !st.catchUp() {
					return
				}
			}
		}
	})
	return nil
}

func (s *Server) heartbeat() time.Duration {
	if s.cfg.EventsHeartbeat > 0 {
		return s.cfg.EventsHeartbeat
	}
	return DefaultHeartbeat
}

// eventStream writes one client's events, never one twice and never out
// of order: sent is the seq of the last event written.
type eventStream struct {
	s         *Server
	ctx       context.Context
	w         *bufio.Writer
	userID    string
	sent      int64
	heartbeat time.Duration
}

// drain empties what c holds now; false when c was closed.
func drain(c <-chan *backend.Notification) bool {
	for {
		select {
		case _, ok := <-c:
			if !ok {
				return false
			}
		default:
			return true
		}
	}
}

// catchUp writes every stored entry after sent.
func (st *eventStream) catchUp() bool {
	for {
		list, err := st.s.svc.Notify.Since(st.ctx, st.userID, st.sent, backlogPage)
		if err != nil {
			st.s.logger.WarnContext(st.ctx, "events: reading the backlog failed", "error", err)
			return st.write(": backlog unavailable\n\n")
		}
		for _, n := range list {
			if !st.event(n) {
				return false
			}
		}
		if len(list) < backlogPage {
			return true
		}
	}
}

func (st *eventStream) event(n *backend.Notification) bool {
	data, err := json.Marshal(newNotificationJSON(n))
	if err != nil {
		return false
	}
	if !st.write(fmt.Sprintf("id: %d\ndata: %s\n\n", n.Seq, data)) {
		return false
	}
	st.sent = n.Seq
	return true
}

// write sends text and flushes it; false when the client is gone.
func (st *eventStream) write(text string) bool {
	if _, err := st.w.WriteString(text); err != nil {
		return false
	}
	return st.w.Flush() == nil
}
