package mobileapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
)

// DefaultHeartbeat is how often an idle event stream gets a comment line,
// so that proxies and phones keep the connection and notice a dead one.
const DefaultHeartbeat = 15 * time.Second

// DefaultMaxStreamsPerUser is how many event streams one user keeps open
// on an instance (a phone, a few console tabs). A further one closes the
// user's oldest rather than being refused: a phone that reconnects after
// a network change, while its old connection is not yet seen dead, must
// get through.
const DefaultMaxStreamsPerUser = 8

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
// sent twice or out of order. Before it writes anything new (and at every
// heartbeat) it checks that the session it was opened with stands
// (auth.Service.SessionLive): a stream ends once its session is revoked or
// its account disabled — the client's reconnect is then refused.
func (s *Server) handleEvents(c *fiber.Ctx) error {
	if !strings.Contains(c.Get(fiber.HeaderAccept), "text/event-stream") {
		return backend.InvalidFields("this is an event stream", map[string]string{fiber.HeaderAccept: "send Accept: text/event-stream (EventSource does)"})
	}
	last, err := lastEventID(c)
	if err != nil {
		return err
	}
	signedIn := backend.ActorFromContext(c.UserContext())
	actor := &backend.Actor{UserID: strings.Clone(signedIn.UserID), FamilyID: strings.Clone(signedIn.FamilyID)}
	userID := actor.UserID
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
	st := &eventStream{s: s, ctx: ctx, actor: actor, userID: userID, sent: last, heartbeat: s.heartbeat()}
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		defer sub.Close()
		displaced, leave := s.streams.join(userID, s.cfg.MaxStreamsPerUser)
		defer leave()
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
			case <-displaced:
				// The user opened more than MaxStreamsPerUser since: this
				// client waits a minute before it reconnects (and displaces
				// another), rather than the usual seconds.
				st.write("retry: 60000\n\n")
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
				if !st.signedIn() || !st.catchUp() || !open {
					return
				}
			case <-tick.C:
				if !st.signedIn() || !st.write(": ping\n\n") || !st.catchUp() {
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
	actor     *backend.Actor // who opened it: its session and user
	userID    string
	sent      int64
	heartbeat time.Duration
}

// signedIn reports whether the session the stream was opened with still
// stands. A check that cannot be made now (the session store is down)
// keeps the stream: the next one asks again, and requests meanwhile fail
// the same way.
func (st *eventStream) signedIn() bool {
	err := st.s.svc.Auth.SessionLive(st.ctx, st.actor)
	if backend.ErrorCode(err) == backend.EUNAUTHORIZED {
		return false
	}
	if err != nil {
		st.s.logger.WarnContext(st.ctx, "events: the session could not be checked; the stream goes on", "error", err)
	}
	return true
}

// streamRegistry holds an instance's open event streams by user, oldest
// first, to bound how many one user keeps (MaxStreamsPerUser).
type streamRegistry struct {
	mu   sync.Mutex
	open map[string][]chan struct{}
}

// join registers a stream of userID and returns a channel closed when a
// newer stream of the user displaces it — the oldest goes once the user
// has more than max — and the function that unregisters it.
func (r *streamRegistry) join(userID string, max int) (<-chan struct{}, func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.open == nil {
		r.open = map[string][]chan struct{}{}
	}
	mine := make(chan struct{})
	list := append(r.open[userID], mine)
	for len(list) > max {
		close(list[0])
		list = list[1:]
	}
	r.open[userID] = list
	return mine, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		list := r.open[userID]
		if i := slices.Index(list, mine); i >= 0 {
			list = slices.Delete(list, i, i+1)
		}
		if len(list) == 0 {
			delete(r.open, userID)
		} else {
			r.open[userID] = list
		}
	}
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
