package mobileapi

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"suiji/backend"
)

// serve runs srv on a loopback port until the test ends and returns its
// base URL.
func serve(t *testing.T, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// sseEvent is one server-sent event, or a comment line (a heartbeat).
type sseEvent struct {
	id      int64
	data    notificationJSON
	comment string
}

// sseStream is an open event stream.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent
}

// openStream connects to base's event stream as token, resuming after
// lastID when it is not "".
func openStream(t *testing.T, base, token, lastID string) *sseStream {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/api/v1/me/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("event stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sseStream{resp: resp, events: make(chan sseEvent, 1000)}
	go func() {
		defer close(s.events)
		r := bufio.NewReader(resp.Body)
		var ev sseEvent
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if ev.id != 0 {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				s.events <- sseEvent{comment: strings.TrimSpace(line[1:])}
			case strings.HasPrefix(line, "retry: "):
				s.events <- sseEvent{comment: line} // how long the client is to wait before it reconnects
			case strings.HasPrefix(line, "id: "):
				ev.id, _ = strconv.ParseInt(line[4:], 10, 64)
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &ev.data)
			}
		}
	}()
	t.Cleanup(func() { s.close() })
	return s
}

func (s *sseStream) close() { _ = s.resp.Body.Close() }

// next returns the next event (skipping heartbeats) within d.
func (s *sseStream) next(t *testing.T, d time.Duration) (sseEvent, bool) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return sseEvent{}, false
			}
			if ev.comment == "" {
				return ev, true
			}
		case <-timeout:
			return sseEvent{}, false
		}
	}
}

// TestEventsAcrossInstancesAndResume: a phone streaming from instance A
// hears at once of a task dispatched on instance B (Redis pub/sub), gets
// heartbeats, and after a dropped connection resumes with Last-Event-ID to
// get exactly what it missed — in order, nothing twice — read back from
// the inbox.
func TestEventsAcrossInstancesAndResume(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 12, `{"count":3}`)
	cfg := Config{EventsHeartbeat: 300 * time.Millisecond}
	a, _ := env.instance(t, cfg, nil)
	b, _ := env.instance(t, cfg, nil)
	baseA, baseB := serve(t, a), serve(t, b)

	// The first selection's first member streams from A.
	member := w.inspectors[w.draw.Selections[0].Group[0]]
	token := env.loginAs(t, member)
	s := openStream(t, baseA, token, "")
	staff := env.login(t, "staff").AccessToken

	call := func(base, method, path, body string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+staff)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s on B: %d", method, path, resp.StatusCode)
		}
	}
	call(baseB, "POST", "/api/v1/draws/"+w.draw.ID+"/dispatch", "")

	mine, _, err := env.db.Tasks().FindTasks(t.Context(), backend.TaskFilter{MemberUserID: member.ID})
	if err != nil || len(mine) == 0 {
		t.Fatalf("member's tasks: %d, %v", len(mine), err)
	}
	var seen []int64
	for range mine {
		ev, ok := s.next(t, 5*time.Second)
		if !ok {
			t.Fatalf("no live event from the other instance (got %v)", seen)
		}
		if ev.data.Kind != backend.NoteTaskAssigned || ev.data.TaskID == "" || ev.id != ev.data.Seq {
			t.Fatalf("event %+v", ev)
		}
		seen = append(seen, ev.id)
	}
	// Heartbeats keep the idle stream alive.
	gotPing := false
	for deadline := time.After(3 * time.Second); !gotPing; {
		select {
		case ev := <-s.events:
			gotPing = ev.comment == "ping"
		case <-deadline:
			t.Fatal("no heartbeat")
		}
	}

	// The connection drops; meanwhile B cancels the member's tasks.
	s.close()
	last := seen[len(seen)-1]
	for _, task := range mine {
		call(baseB, "POST", "/api/v1/tasks/"+task.ID+"/cancel", `{"reason":"企业停产"}`)
	}
	missed, err := env.db.Notifications().FindNotifications(t.Context(), backend.InboxQuery{UserID: member.ID, AfterSeq: last})
	if err != nil || len(missed) != len(mine) {
		t.Fatalf("missed entries %d (%v), want %d", len(missed), err, len(mine))
	}

	// Resuming on B with Last-Event-ID gives exactly the missed entries.
	r := openStream(t, baseB, token, strconv.FormatInt(last, 10))
	for _, want := range missed {
		ev, ok := r.next(t, 5*time.Second)
		if !ok || ev.id != want.Seq || ev.data.ID != want.ID || ev.data.Kind != backend.NoteTaskCancelled {
			t.Fatalf("resumed event %+v (ok %v), want seq %d %s", ev, ok, want.Seq, want.Kind)
		}
	}
	if ev, ok := r.next(t, time.Second); ok {
		t.Fatalf("an event beyond what was missed: %+v", ev)
	}
	// A stream without the Accept header is refused, not hung.
	resp, body := env.call(t, token, "GET", "/api/v1/me/events", "", map[string]string{"Last-Event-ID": "x"})
	if resp.StatusCode != 400 {
		t.Fatalf("bad stream request: %d %s", resp.StatusCode, body)
	}
}

// ended reports whether the stream closes within d without another
// event, and the comment and retry lines it wrote before it did.
func (s *sseStream) ended(t *testing.T, d time.Duration) (bool, []string) {
	t.Helper()
	timeout := time.After(d)
	var lines []string
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return true, lines
			}
			if ev.comment == "" {
				t.Fatalf("an event on a stream that should have ended: %+v", ev)
			}
			lines = append(lines, ev.comment)
		case <-timeout:
			return false, lines
		}
	}
}

// TestEventStreamsEndWithTheirSession: a stream ends, before it writes
// anything new, once its session is revoked (here: signed out); one user
// keeps at most MaxStreamsPerUser streams on an instance, a further one
// closing the oldest; a stream of a session that stands resumes with what
// the others did not get.
func TestEventStreamsEndWithTheirSession(t *testing.T) {
	env := newAPIEnv(t, Config{})
	srv, svc := env.instance(t, Config{EventsHeartbeat: 200 * time.Millisecond, MaxStreamsPerUser: 2}, nil)
	base := serve(t, srv)
	user := env.users["inspector"].ID
	notify := func(id string) {
		t.Helper()
		n := &backend.Notification{ID: id, UserID: user, Kind: backend.NoteTaskReminder, TaskID: "task-" + id, Title: "期限提醒", Body: "反馈期限将至"}
		if err := svc.Notify.Notify(t.Context(), []*backend.Notification{n}); err != nil {
			t.Fatal(err)
		}
	}
	first, second := env.login(t, "inspector").AccessToken, env.login(t, "inspector").AccessToken
	s1, s2 := openStream(t, base, first, "0"), openStream(t, base, second, "0")
	notify("a")
	var seqA int64
	for i, s := range []*sseStream{s1, s2} {
		ev, ok := s.next(t, 5*time.Second)
		if !ok || ev.data.ID != "a" {
			t.Fatalf("stream %d: %+v (%v), want a", i+1, ev, ok)
		}
		seqA = ev.id
	}

	// A third stream of the user closes the oldest.
	s3 := openStream(t, base, second, strconv.FormatInt(seqA, 10))
	if ended, lines := s1.ended(t, 3*time.Second); !ended {
		t.Fatal("the user's oldest stream is still open after a third one opened (at most 2)")
	} else if !slices.Contains(lines, "retry: 60000") {
		t.Fatalf("the displaced stream ended without asking its client to wait a minute: %q", lines)
	}

	// Signed out: the session's streams end without what comes next.
	if resp, body := env.call(t, second, "POST", "/api/v1/auth/logout", "", nil); resp.StatusCode >= 300 {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	notify("b")
	for i, s := range []*sseStream{s2, s3} {
		if ended, _ := s.ended(t, 3*time.Second); !ended {
			t.Fatalf("stream %d of a signed-out session is still open", i+2)
		}
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/me/events", nil)
	req.Header.Set("Authorization", "Bearer "+second)
	req.Header.Set("Accept", "text/event-stream")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("reconnecting with the signed-out session: %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}

	// The first session stands: its stream resumes with b.
	s4 := openStream(t, base, first, strconv.FormatInt(seqA, 10))
	if ev, ok := s4.next(t, 5*time.Second); !ok || ev.data.ID != "b" {
		t.Fatalf("resumed stream: %+v (%v), want b", ev, ok)
	}
}
