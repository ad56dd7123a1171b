package mobileapi

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
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
