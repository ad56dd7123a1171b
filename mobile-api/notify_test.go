package mobileapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
	"suiji/backend/app"
	"suiji/backend/cmd/wire"
	"suiji/backend/notify"
	"suiji/backend/tasks"
	"suiji/storage/cache"
	"suiji/storage/push"
)

// fakeFCM is an FCM HTTP v1 server on loopback, enough for the Firebase
// Admin SDK: POST /v1/projects/p/messages:send. It answers by the token's
// prefix: "gone" is unregistered (404 UNREGISTERED), "busy" is 503 on its
// first request and accepted after, "slow" is 429 with Retry-After: 1 on
// its first request and accepted after; anything else is accepted.
type fakeFCM struct {
	mu       sync.Mutex
	accepted map[string][]map[string]any // token → accepted "message" objects
	requests map[string][]time.Time      // token → when each request came
	url      string

	// countOnly makes the server read only each message's token and
	// count requests, as the benchmark needs: the push service is not on
	// the machine in production, so the benchmark should not pay for a
	// server keeping every message it was sent.
	countOnly bool
	counted   int // requests answered in countOnly mode, every one accepted
}

func newFakeFCM(t testing.TB) *fakeFCM {
	f := &fakeFCM{accepted: map[string][]map[string]any{}, requests: map[string][]time.Time{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.url = srv.URL + "/v1"
	return f
}

func (f *fakeFCM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/projects/p/messages:send" {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if f.countOnly {
		var req struct {
			Message struct {
				Token string `json:"token"`
			} `json:"message"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.Message.Token == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.counted++
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"name":"projects/p/messages/1"}`)
		return
	}
	var req struct {
		Message map[string]any `json:"message"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	token, _ := req.Message["token"].(string)
	f.mu.Lock()
	f.requests[token] = append(f.requests[token], time.Now())
	n := len(f.requests[token])
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	fail := func(status int, grpc, fcmCode string) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
			"code": status, "message": fcmCode, "status": grpc,
			"details": []any{map[string]any{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcmCode}},
		}})
	}
	switch {
	case strings.HasPrefix(token, "gone"):
		fail(http.StatusNotFound, "NOT_FOUND", "UNREGISTERED")
		return
	case strings.HasPrefix(token, "busy") && n == 1:
		fail(http.StatusServiceUnavailable, "UNAVAILABLE", "UNAVAILABLE")
		return
	case strings.HasPrefix(token, "slow") && n == 1:
		w.Header().Set("Retry-After", "1")
		fail(http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED")
		return
	}
	f.mu.Lock()
	f.accepted[token] = append(f.accepted[token], req.Message)
	f.mu.Unlock()
	_, _ = io.WriteString(w, `{"name":"projects/p/messages/1"}`)
}

// notificationIDs lists the notification ids accepted for token: an
// alert's, or each a digest names.
func (f *fakeFCM) notificationIDs(token string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, m := range f.accepted[token] {
		data, _ := m["data"].(map[string]any)
		if id, ok := data["notification_id"].(string); ok {
			ids = append(ids, id)
		} else if digest, ok := data["notification_ids"].(string); ok {
			ids = append(ids, strings.Split(digest, ",")...)
		}
	}
	return ids
}

func (f *fakeFCM) total() (requests, accepted int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	requests, accepted = f.counted, f.counted
	for _, r := range f.requests {
		requests += len(r)
	}
	for _, a := range f.accepted {
		accepted += len(a)
	}
	return requests, accepted
}

// instance builds another instance of env's deployment: the same database,
// its own connection to Redis under the same key prefix (so pub/sub and
// leases are shared), services built by wire as in production, and push
// through sender (nil: push off).
func (env *apiEnv) instance(t *testing.T, cfg Config, sender backend.PushSender) (*Server, app.Services) {
	t.Helper()
	c, err := cache.Open(t.Context(), cache.Options{URL: env.stack.RedisURL, Prefix: env.cache.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	svc := wire.Services(&wire.Stores{Mongo: env.db, Cache: c, Push: sender}, env.stack, func() time.Time { return time.Now().UTC() })
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = 1 << 20
	}
	return New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, svc), svc
}

func openFakePush(t testing.TB, f *fakeFCM) backend.PushSender {
	t.Helper()
	sender, err := push.Open(t.Context(), push.Options{Endpoint: f.url, ProjectID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	return sender
}

// actorCtx is a context acting as u.
func actorCtx(ctx context.Context, u *backend.User) context.Context {
	return backend.WithActor(ctx, &backend.Actor{UserID: u.ID, Username: u.Username, Roles: u.Roles, DepartmentID: u.DepartmentID})
}

// drainPush runs the pusher's batches until nothing is pending.
func drainPush(t testing.TB, svc app.Services) {
	t.Helper()
	for range 20 {
		n, err := svc.Notify.PushPending(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("the pusher never ran dry")
}

// assignments returns each member's task.assigned entries by user id.
func assignments(t *testing.T, env *apiEnv, users map[string]*backend.User) map[string][]*backend.Notification {
	t.Helper()
	out := map[string][]*backend.Notification{}
	for _, u := range users {
		list, err := env.db.Notifications().FindNotifications(t.Context(), backend.InboxQuery{UserID: u.ID, InboxOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range list {
			if n.Kind == backend.NoteTaskAssigned {
				out[u.ID] = append(out[u.ID], n)
			}
		}
	}
	return out
}

func TestPushAlertsEveryDeviceOnceAndPrunesDeadTokens(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 12, `{"count":3}`)
	fcm := newFakeFCM(t)
	_, svc := env.instance(t, Config{}, openFakePush(t, fcm))
	ctx := actorCtx(t.Context(), env.users["staff"])
	if _, err := svc.Tasks.Dispatch(ctx, w.draw.ID); err != nil {
		t.Fatal(err)
	}
	notes := assignments(t, env, w.inspectors)
	if len(notes) < 3 {
		t.Fatalf("only %d members were alerted", len(notes))
	}

	// Every member has a good phone; three of them also one that FCM
	// forgot, one that is busy once, and one rate-limited once.
	var members []string
	for u := range notes {
		members = append(members, u)
	}
	slices.Sort(members)
	tokens := map[string][]string{}
	for i, u := range members {
		tokens[u] = []string{"ok-" + u}
		switch i {
		case 0:
			tokens[u] = append(tokens[u], "gone-"+u)
		case 1:
			tokens[u] = append(tokens[u], "busy-"+u)
		case 2:
			tokens[u] = append(tokens[u], "slow-"+u)
		}
		for _, tok := range tokens[u] {
			d := &backend.Device{UserID: u, Token: tok, Platform: backend.PlatformAndroid, CreatedAt: time.Now().UTC(), LastSeenAt: time.Now().UTC()}
			if err := env.db.Devices().UpsertDevice(t.Context(), d); err != nil {
				t.Fatal(err)
			}
		}
	}
	start := time.Now()
	drainPush(t, svc)

	for _, u := range members {
		var want []string
		for _, n := range notes[u] {
			want = append(want, n.ID)
		}
		slices.Sort(want)
		for _, tok := range tokens[u] {
			got := fcm.notificationIDs(tok)
			slices.Sort(got)
			if strings.HasPrefix(tok, "gone") {
				if len(got) != 0 {
					t.Fatalf("an unregistered token was delivered to: %v", got)
				}
				continue
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s got %v, want each of %v exactly once", tok, got, want)
			}
		}
	}
	// One alert per device, however many entries (a digest of several);
	// 503 and 429 were retried, the 429 after its Retry-After.
	fcm.mu.Lock()
	busy, slow := fcm.requests[tokens[members[1]][1]], fcm.requests[tokens[members[2]][1]]
	for _, u := range members {
		if n := len(fcm.accepted["ok-"+u]); n != 1 {
			t.Errorf("%s's phone got %d alerts for %d entries, want one", u, n, len(notes[u]))
		}
	}
	fcm.mu.Unlock()
	if len(busy) != 2 {
		t.Fatalf("busy device got %d requests, want one and a retry", len(busy))
	}
	if len(slow) != 2 || slow[1].Sub(slow[0]) < 900*time.Millisecond {
		t.Fatalf("rate-limited device: requests at %v, want a retry after Retry-After: 1", slow)
	}
	// The unregistered token is gone; the good ones stay.
	left, err := env.db.Devices().FindDevicesByUser(t.Context(), members[0])
	if err != nil || len(left) != 1 || left[0].Token != "ok-"+members[0] {
		t.Fatalf("devices left for the first member: %+v, %v", left, err)
	}
	// What a phone receives: the kind (the entries' kinds in a digest),
	// high priority on Android, an APNs alert, Chinese text.
	fcm.mu.Lock()
	msg := fcm.accepted["ok-"+members[0]][0]
	fcm.mu.Unlock()
	raw, _ := json.Marshal(msg)
	kind := `"kind":"task.assigned"`
	if len(notes[members[0]]) > 1 {
		kind = `"kinds":"task.assigned"`
	}
	for _, want := range []string{kind, `"priority":"high"`, `"apns-priority":"10"`, `"alert":{"body":"`, `"title":"新检查任务`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("message lacks %s: %s", want, raw)
		}
	}
	// One entry is alerted as itself; several at once as one digest
	// naming them and their tasks.
	u, task := members[0], notes[members[0]][0]
	reminder := func(id, taskID string) *backend.Notification {
		return &backend.Notification{ID: id, UserID: u, Kind: backend.NoteTaskReminder, TaskID: taskID, PlanID: task.PlanID,
			Title: "期限提醒", Body: "反馈期限将至"}
	}
	lastAlert := func(notes ...*backend.Notification) map[string]any {
		t.Helper()
		if err := svc.Notify.Notify(ctx, notes); err != nil {
			t.Fatal(err)
		}
		drainPush(t, svc)
		fcm.mu.Lock()
		defer fcm.mu.Unlock()
		got := fcm.accepted["ok-"+u]
		data, _ := got[len(got)-1]["data"].(map[string]any)
		return data
	}
	one := lastAlert(reminder("reminder-1", task.TaskID))
	if one["notification_id"] != "reminder-1" || one["task_id"] != task.TaskID || one["kind"] != backend.NoteTaskReminder {
		t.Errorf("one entry's alert carries %v", one)
	}
	digest := lastAlert(reminder("reminder-2", task.TaskID), reminder("reminder-3", "another-task"))
	want := map[string]any{"kind": notify.KindDigest, "kinds": backend.NoteTaskReminder, "count": "2", "notification_ids": "reminder-2,reminder-3",
		"task_ids": task.TaskID + ",another-task", "plan_id": task.PlanID}
	if !maps.Equal(digest, want) {
		t.Errorf("two entries' alert carries %v, want %v", digest, want)
	}
	// Every row is settled; another pass sends nothing.
	requests, _ := fcm.total()
	drainPush(t, svc)
	if again, _ := fcm.total(); again != requests {
		t.Fatalf("a second pass sent %d more requests", again-requests)
	}
	if states := outboxStates(t, env); !slices.Equal(states, []string{backend.PushDone, backend.PushDone, backend.PushDone}) {
		t.Fatalf("outbox batches %v, want three, done", states)
	}
	t.Logf("pushed in %v", time.Since(start))
}

// outboxStates lists the states of the push outbox's batches.
func outboxStates(t *testing.T, env *apiEnv) []string {
	t.Helper()
	cur, err := env.db.Database().Collection("push_outbox").Find(t.Context(), bson.D{}, options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		State string `bson:"state"`
	}
	if err := cur.All(t.Context(), &rows); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r.State)
	}
	return out
}

// TestPushSurvivesCrashes: an instance writes a dispatch's alerts (outbox
// and inbox) and dies before pushing; another instance (a restart) sends
// every alert exactly once. A writer that died after its inbox write but
// before marking its outbox batch ready has the batch sent once it is
// presumed dead; one that died before its inbox write has nothing sent
// until its request is repeated, then exactly once. A batch an instance
// had claimed when it died is not sent again (at most once per device).
func TestPushSurvivesCrashes(t *testing.T) {
	env := newAPIEnv(t, Config{})
	w := newDispatchWorld(t, env, 12, `{"count":3}`)
	fcm := newFakeFCM(t)
	_, crashed := env.instance(t, Config{}, openFakePush(t, fcm))
	staff := actorCtx(t.Context(), env.users["staff"])
	res, err := crashed.Tasks.Dispatch(staff, w.draw.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The crashed instance's pusher never ran: nothing was sent.
	if requests, _ := fcm.total(); requests != 0 {
		t.Fatalf("%d pushes before the pusher ran", requests)
	}
	notes := assignments(t, env, w.inspectors)
	var all []*backend.Notification
	for u, list := range notes {
		all = append(all, list...)
		d := &backend.Device{UserID: u, Token: "ok-" + u, Platform: backend.PlatformIOS, CreatedAt: time.Now().UTC(), LastSeenAt: time.Now().UTC()}
		if err := env.db.Devices().UpsertDevice(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	// Two writers died: one after its inbox write, one before it.
	user, task := all[0].UserID, all[0].TaskID
	longAgo := time.Now().UTC().Add(-2 * notify.DefaultOrphanAfter)
	reminder := func(id string) *backend.Notification { // stored with its batch, as its writer stores it
		return &backend.Notification{ID: id, UserID: user, Kind: backend.NoteTaskReminder, TaskID: task, Title: "期限提醒", Body: "检查期限将至", CreatedAt: longAgo,
			PushBatch: notify.BatchID([]string{id})}
	}
	written, unwritten := reminder("written-1"), reminder("unwritten-1")
	for _, n := range []*backend.Notification{written, unwritten} {
		if err := env.db.PushOutbox().AddPushBatches(t.Context(), []*backend.PushBatch{{ID: notify.BatchID([]string{n.ID}),
			NotificationIDs: []string{n.ID}, State: backend.PushPending, NextAt: longAgo, CreatedAt: longAgo}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.db.Notifications().AppendNotifications(t.Context(), []*backend.Notification{written}); err != nil {
		t.Fatal(err)
	}

	_, restarted := env.instance(t, Config{}, openFakePush(t, fcm))
	drainPush(t, restarted)
	drainPush(t, restarted)
	sentTo := func(n *backend.Notification) int {
		count := 0
		for _, id := range fcm.notificationIDs("ok-" + n.UserID) {
			if id == n.ID {
				count++
			}
		}
		return count
	}
	for _, n := range append(all, written) {
		if c := sentTo(n); c != 1 {
			t.Fatalf("alert %s reached its device %d times, want exactly once", n.ID, c)
		}
	}
	if c := sentTo(unwritten); c != 0 {
		t.Fatalf("an alert whose entry is not in the inbox was sent %d times", c)
	}
	// Its writer's request is repeated: the inbox gets it, then the phone.
	if err := restarted.Notify.Notify(t.Context(), []*backend.Notification{reminder("unwritten-1")}); err != nil {
		t.Fatal(err)
	}
	drainPush(t, restarted)
	if c := sentTo(unwritten); c != 1 {
		t.Fatalf("the repeated alert was sent %d times, want once", c)
	}

	// An instance claims the next batch (a cancellation's alerts) and dies
	// while sending: the batch is lost, never sent twice.
	if _, err := crashed.Tasks.Cancel(staff, res.TaskIDs[0], 0, "企业停产"); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	dead, err := env.db.PushOutbox().ClaimPushBatch(t.Context(), "dead-instance", now, now.Add(-time.Millisecond), now.Add(-time.Hour))
	if err != nil || dead == nil {
		t.Fatalf("claim by the dead instance: %v, %v", dead, err)
	}
	requests, _ := fcm.total()
	drainPush(t, restarted)
	if again, _ := fcm.total(); again != requests {
		t.Fatalf("the dead instance's batch was sent again (%d requests)", again-requests)
	}
	states := outboxStates(t, env)
	slices.Sort(states)
	if !slices.Equal(states, []string{backend.PushDone, backend.PushDone, backend.PushDone, backend.PushLost}) {
		t.Fatalf("outbox %v, want three batches done and the dead claim lost", states)
	}
}

// twoPushers is a drawn world (sample as given) with two instances pushing
// to one fake FCM server, and a phone for each inspector (token "ok-" +
// user id).
func twoPushers(t *testing.T, sample string) (env *apiEnv, w *dispatchWorld, fcm *fakeFCM, writer, other app.Services) {
	t.Helper()
	env = newAPIEnv(t, Config{})
	w = newDispatchWorld(t, env, 12, sample)
	fcm = newFakeFCM(t)
	_, writer = env.instance(t, Config{}, openFakePush(t, fcm))
	_, other = env.instance(t, Config{}, openFakePush(t, fcm))
	for _, u := range w.inspectors {
		d := &backend.Device{UserID: u.ID, Token: "ok-" + u.ID, Platform: backend.PlatformAndroid, CreatedAt: time.Now().UTC(), LastSeenAt: time.Now().UTC()}
		if err := env.db.Devices().UpsertDevice(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	return env, w, fcm, writer, other
}

// TestPushOnceWhenPushersRace: the instance that wrote the alerts claims
// its own batches in one write, and other pushers may be faster. Another
// instance sends a dispatch's alerts first (from the inbox): the writer
// then sends nothing. The writer's pusher twice at once and another
// instance's, racing for the next alerts: each reaches its device once.
func TestPushOnceWhenPushersRace(t *testing.T) {
	env, w, fcm, writer, other := twoPushers(t, `{"count":4}`)
	if _, err := writer.Tasks.Dispatch(actorCtx(t.Context(), env.users["staff"]), w.draw.ID); err != nil {
		t.Fatal(err)
	}
	notes := assignments(t, env, w.inspectors)
	exactlyOnce := func(want map[string][]*backend.Notification) {
		t.Helper()
		for u, list := range want {
			var ids []string
			for _, n := range list {
				ids = append(ids, n.ID)
			}
			got := fcm.notificationIDs("ok-" + u)
			slices.Sort(ids)
			slices.Sort(got)
			if !slices.Equal(got, ids) {
				t.Fatalf("%s's phone was told of %v, want each of %v once", u, got, ids)
			}
		}
	}
	drainPush(t, other)
	exactlyOnce(notes)
	drainPush(t, writer)
	exactlyOnce(notes)

	// Three reminders for each member (there are two or more), each its
	// own call: more batches than one claim takes.
	for round := range 3 {
		for u, list := range notes {
			n := &backend.Notification{ID: fmt.Sprintf("reminder-%d-%s", round, u), UserID: u, Kind: backend.NoteTaskReminder, TaskID: list[0].TaskID,
				Title: "期限提醒", Body: "反馈期限将至"}
			notes[u] = append(notes[u], n)
			if err := writer.Notify.Notify(t.Context(), []*backend.Notification{n}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for _, svc := range []app.Services{writer, writer, other} {
		wg.Go(func() {
			for {
				n, err := svc.Notify.PushPending(t.Context())
				if err != nil || n == 0 {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	exactlyOnce(notes)
	for _, state := range outboxStates(t, env) {
		if state != backend.PushDone {
			t.Fatalf("outbox %v, want every batch done", outboxStates(t, env))
		}
	}
}

// onePhone is an instance pushing to the fake FCM server, and the
// inspector account with one phone (token "ok-" + user).
func onePhone(t *testing.T) (env *apiEnv, svc app.Services, fcm *fakeFCM, user string) {
	t.Helper()
	env = newAPIEnv(t, Config{})
	fcm = newFakeFCM(t)
	_, svc = env.instance(t, Config{}, openFakePush(t, fcm))
	user = env.users["inspector"].ID
	d := &backend.Device{UserID: user, Token: "ok-" + user, Platform: backend.PlatformAndroid, CreatedAt: time.Now().UTC(), LastSeenAt: time.Now().UTC()}
	if err := env.db.Devices().UpsertDevice(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	return env, svc, fcm, user
}

// unreadableDevices is the device store while the database answers no
// reads of devices: a fault between the claim and the sends.
type unreadableDevices struct{ backend.DeviceStore }

func (unreadableDevices) FindDevicesByUsers(context.Context, []string) ([]*backend.Device, error) {
	return nil, backend.Errorf(backend.EUNAVAILABLE, "the devices cannot be read")
}

// TestPushReleasesWhatItCouldNotSend: a pusher that claimed its batches
// and then failed before sending (it could not read the devices) puts
// them back at once, rather than leaving them claimed to be marked lost;
// the next pass sends each alert once.
func TestPushReleasesWhatItCouldNotSend(t *testing.T) {
	env, svc, fcm, user := onePhone(t)
	var notes []*backend.Notification
	for _, id := range []string{"a", "b"} {
		notes = append(notes, &backend.Notification{ID: id, UserID: user, Kind: backend.NoteTaskReminder, TaskID: "task-" + id, Title: "期限提醒", Body: "反馈期限将至"})
	}
	if err := svc.Notify.Notify(t.Context(), notes); err != nil {
		t.Fatal(err)
	}
	devices := svc.Notify.Devices
	svc.Notify.Devices = unreadableDevices{devices}
	if _, err := svc.Notify.PushPending(t.Context()); backend.ErrorCode(err) != backend.EUNAVAILABLE {
		t.Fatalf("a pass that cannot read the devices: %v", err)
	}
	if states := outboxStates(t, env); !slices.Equal(states, []string{backend.PushPending}) {
		t.Fatalf("outbox %v after the failed pass, want its batch pending again", states)
	}
	svc.Notify.Devices = devices
	drainPush(t, svc)
	if got := fcm.notificationIDs("ok-" + user); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("the phone was told of %v, want a and b once", got)
	}
	if states := outboxStates(t, env); !slices.Equal(states, []string{backend.PushDone}) {
		t.Fatalf("outbox %v, want its batch done", states)
	}
}

// shutdownWhileReadingDevices is the device store when the server begins
// to shut down (cancel) while the pusher reads the devices.
type shutdownWhileReadingDevices struct {
	backend.DeviceStore
	cancel context.CancelFunc
}

func (d shutdownWhileReadingDevices) FindDevicesByUsers(ctx context.Context, users []string) ([]*backend.Device, error) {
	found, err := d.DeviceStore.FindDevicesByUsers(ctx, users)
	d.cancel()
	return found, err
}

// TestPushReleasesOnShutdown: a pusher stopped after claiming its batches
// and before any alert went out puts them back rather than settling them
// failed (final); the next pass sends each alert once.
func TestPushReleasesOnShutdown(t *testing.T) {
	env, svc, fcm, user := onePhone(t)
	n := &backend.Notification{ID: "a", UserID: user, Kind: backend.NoteTaskReminder, TaskID: "task-a", Title: "期限提醒", Body: "反馈期限将至"}
	if err := svc.Notify.Notify(t.Context(), []*backend.Notification{n}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	devices := svc.Notify.Devices
	svc.Notify.Devices = shutdownWhileReadingDevices{devices, cancel}
	if _, err := svc.Notify.PushPending(ctx); err != nil {
		t.Fatal(err)
	}
	if requests, _ := fcm.total(); requests != 0 {
		t.Fatalf("%d pushes after the shutdown began", requests)
	}
	if states := outboxStates(t, env); !slices.Equal(states, []string{backend.PushPending}) {
		t.Fatalf("outbox %v after the stopped pass, want its batch pending again", states)
	}
	svc.Notify.Devices = devices
	drainPush(t, svc)
	if got := fcm.notificationIDs("ok-" + user); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("the phone was told of %v, want a once", got)
	}
}

// TestPushLooksForOthersBatchesWhileBusy: an instance that keeps writing
// alerts of its own still sends, at least every Poll, a batch another
// writer left (one that died after its inbox write).
func TestPushLooksForOthersBatchesWhileBusy(t *testing.T) {
	env, svc, fcm, user := onePhone(t)
	note := func(id string, at time.Time) *backend.Notification {
		return &backend.Notification{ID: id, UserID: user, Kind: backend.NoteTaskReminder, TaskID: "task-" + id, Title: "期限提醒", Body: "反馈期限将至", CreatedAt: at}
	}
	onePass := func(ids ...string) {
		t.Helper()
		for _, id := range ids {
			if err := svc.Notify.Notify(t.Context(), []*backend.Notification{note(id, time.Now().UTC())}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.Notify.PushPending(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	sent := func() []string {
		got := fcm.notificationIDs("ok-" + user)
		slices.Sort(got)
		return got
	}
	onePass() // idle: it has just looked for others' batches
	// Another writer died after its inbox write, long ago.
	longAgo := time.Now().UTC().Add(-2 * notify.DefaultOrphanAfter)
	left := note("left", longAgo)
	left.PushBatch = notify.BatchID([]string{left.ID}) // as its writer stored it
	if err := env.db.PushOutbox().AddPushBatches(t.Context(), []*backend.PushBatch{{ID: left.PushBatch,
		NotificationIDs: []string{left.ID}, State: backend.PushPending, NextAt: longAgo, CreatedAt: longAgo}}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.db.Notifications().AppendNotifications(t.Context(), []*backend.Notification{left}); err != nil {
		t.Fatal(err)
	}
	onePass("own-1")
	if got := sent(); !slices.Equal(got, []string{"own-1"}) {
		t.Fatalf("sent %v within a Poll of the last look, want only its own", got)
	}
	svc.Notify.Poll = time.Millisecond
	time.Sleep(2 * time.Millisecond)
	onePass("own-2")
	if got := sent(); !slices.Equal(got, []string{"left", "own-1", "own-2"}) {
		t.Fatalf("sent %v a Poll after the last look, want the left batch with its own", got)
	}
}

// TestARepeatedDispatchAlertsNoPhoneTwice: a dispatch repeated after one
// of its tasks began names the entries of the others again, a set no call
// named before (its outbox batch would be new); the phones, told of them
// by the first dispatch, are not told again, whichever instance pushes.
func TestARepeatedDispatchAlertsNoPhoneTwice(t *testing.T) {
	env, w, fcm, writer, other := twoPushers(t, `{"count":3}`)
	staff := actorCtx(t.Context(), env.users["staff"])
	res, err := writer.Tasks.Dispatch(staff, w.draw.ID)
	if err != nil {
		t.Fatal(err)
	}
	drainPush(t, writer)
	told, alerts := map[string][]string{}, 0
	for _, u := range w.inspectors {
		told[u.ID] = fcm.notificationIDs("ok-" + u.ID)
		alerts += len(told[u.ID])
	}
	if alerts != 2*len(res.TaskIDs) {
		t.Fatalf("the dispatch told the phones of %d assignments, want %d (two members each)", alerts, 2*len(res.TaskIDs))
	}
	for i, svc := range []app.Services{writer, other} {
		// A member checks in: the repeat names the other tasks' entries
		// alone, a set no call named before.
		task, err := env.db.Tasks().FindTaskByID(t.Context(), res.TaskIDs[i])
		if err != nil {
			t.Fatal(err)
		}
		member := w.inspectors[task.ActiveMembers()[0].BadgeNo]
		if _, err := writer.Tasks.CheckIn(actorCtx(t.Context(), member), task.ID, tasks.CheckInInput{Lat: 35.49, Lng: 112.85, AccuracyM: 10}); err != nil {
			t.Fatal(err)
		}
		if _, err := writer.Tasks.Dispatch(staff, w.draw.ID); err != nil {
			t.Fatal(err)
		}
		drainPush(t, svc)
		for _, u := range w.inspectors {
			if got := fcm.notificationIDs("ok-" + u.ID); !slices.Equal(got, told[u.ID]) {
				t.Fatalf("repeat %d: %s's phone was told of %v, want %v alone (told by the first dispatch)", i+1, u.ID, got, told[u.ID])
			}
		}
	}
}

// TestPushSendsOnlyTheEntriesItsBatchStored: a writer died after storing
// its entries but before marking its batch ready, and one of them had
// been stored — and sent — by an earlier call that named it too. The
// batch, read back from the inbox, sends only the entry it stored.
func TestPushSendsOnlyTheEntriesItsBatchStored(t *testing.T) {
	env, svc, fcm, user := onePhone(t)
	note := func(id string) *backend.Notification {
		return &backend.Notification{ID: id, UserID: user, Kind: backend.NoteTaskReminder, Title: "期限提醒", Body: "反馈期限将至"}
	}
	if err := svc.Notify.Notify(t.Context(), []*backend.Notification{note("earlier")}); err != nil {
		t.Fatal(err)
	}
	drainPush(t, svc)
	longAgo := time.Now().UTC().Add(-2 * notify.DefaultOrphanAfter)
	ids := []string{"earlier", "later"}
	batch := &backend.PushBatch{ID: notify.BatchID(ids), NotificationIDs: ids, State: backend.PushPending, NextAt: longAgo, CreatedAt: longAgo}
	if err := env.db.PushOutbox().AddPushBatches(t.Context(), []*backend.PushBatch{batch}); err != nil {
		t.Fatal(err)
	}
	later := note("later")
	later.PushBatch = batch.ID
	if _, err := env.db.Notifications().AppendNotifications(t.Context(), []*backend.Notification{note("earlier"), later}); err != nil {
		t.Fatal(err)
	}
	drainPush(t, svc)
	if got := fcm.notificationIDs("ok-" + user); !slices.Equal(got, []string{"earlier", "later"}) {
		t.Fatalf("the phone was told of %v, want earlier (by its own call) and later, once each", got)
	}
}

// TestPusherDeletesSettledBatches: the pusher deletes the batches settled
// more than KeepSettled ago — a batch still waiting stays — and an entry
// named again after its batch is gone is not alerted again.
func TestPusherDeletesSettledBatches(t *testing.T) {
	env, svc, fcm, user := onePhone(t)
	note := func(id string) *backend.Notification {
		return &backend.Notification{ID: id, UserID: user, Kind: backend.NoteTaskReminder, Title: "期限提醒", Body: "反馈期限将至"}
	}
	if err := svc.Notify.Notify(t.Context(), []*backend.Notification{note("sent")}); err != nil {
		t.Fatal(err)
	}
	drainPush(t, svc)
	waiting := &backend.PushBatch{ID: "waiting", NotificationIDs: []string{"not-yet"}, State: backend.PushPending, NextAt: time.Now().UTC(), CreatedAt: time.Now().UTC()}
	if err := env.db.PushOutbox().AddPushBatches(t.Context(), []*backend.PushBatch{waiting}); err != nil {
		t.Fatal(err)
	}
	svc.Notify.KeepSettled = time.Nanosecond
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); svc.Notify.Run(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); !slices.Equal(outboxStates(t, env), []string{backend.PushPending}); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("outbox %v after 10 s of the pusher, want the waiting batch alone", outboxStates(t, env))
		}
	}
	stop()
	<-done
	if err := svc.Notify.Notify(t.Context(), []*backend.Notification{note("sent")}); err != nil {
		t.Fatal(err)
	}
	drainPush(t, svc)
	if got := fcm.notificationIDs("ok-" + user); !slices.Equal(got, []string{"sent"}) {
		t.Fatalf("the phone was told of %v, want sent once", got)
	}
}

// TestPushAfterAWriterDiedHalfWayThroughTheInbox: a writer stored some of
// its entries and died; its request is repeated naming fewer of them (a
// task began meanwhile). The entries it stored are alerted by its own
// batch, which the repeat marks ready; those the repeat stores, by the
// repeat's; each once. An entry stored by an older release (no batch
// named) is its batch's.
func TestPushAfterAWriterDiedHalfWayThroughTheInbox(t *testing.T) {
	env, svc, fcm, user := onePhone(t)
	note := func(id string) *backend.Notification {
		return &backend.Notification{ID: id, UserID: user, Kind: backend.NoteTaskAssigned, Title: "新检查任务", Body: "请查看"}
	}
	ids := []string{"a", "b", "c", "d"}
	longAgo := time.Now().UTC().Add(-2 * notify.DefaultOrphanAfter)
	dead := &backend.PushBatch{ID: notify.BatchID(ids), NotificationIDs: ids, State: backend.PushPending, NextAt: longAgo, CreatedAt: longAgo}
	if err := env.db.PushOutbox().AddPushBatches(t.Context(), []*backend.PushBatch{dead}); err != nil {
		t.Fatal(err)
	}
	a, d := note("a"), note("d")
	a.PushBatch = dead.ID // stored by the writer; d by an older release
	if _, err := env.db.Notifications().AppendNotifications(t.Context(), []*backend.Notification{a, d}); err != nil {
		t.Fatal(err)
	}
	drainPush(t, svc)
	if got := fcm.notificationIDs("ok-" + user); len(got) != 0 {
		t.Fatalf("alerts %v before the writer is presumed dead or repeated", got)
	}
	if err := svc.Notify.Notify(t.Context(), []*backend.Notification{note("a"), note("b"), note("d")}); err != nil {
		t.Fatal(err)
	}
	drainPush(t, svc)
	drainPush(t, svc)
	got := fcm.notificationIDs("ok-" + user)
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Fatalf("the phone was told of %v, want a and d (the dead writer's batch) and b (the repeat's), once each", got)
	}

	// A writer still storing its entries (its batch just made) is not cut
	// short by a call that finds some of them: its batch waits for it.
	ids = []string{"e", "f"}
	alive := &backend.PushBatch{ID: notify.BatchID(ids), NotificationIDs: ids, State: backend.PushPending, NextAt: time.Now().UTC(), CreatedAt: time.Now().UTC()}
	if err := env.db.PushOutbox().AddPushBatches(t.Context(), []*backend.PushBatch{alive}); err != nil {
		t.Fatal(err)
	}
	e := note("e")
	e.PushBatch = alive.ID
	if _, err := env.db.Notifications().AppendNotifications(t.Context(), []*backend.Notification{e}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Notify.Notify(t.Context(), []*backend.Notification{note("e")}); err != nil {
		t.Fatal(err)
	}
	drainPush(t, svc)
	if got := fcm.notificationIDs("ok-" + user); len(got) != 3 {
		t.Fatalf("the phone was told of %v: a live writer's batch was sent before it stored f", got)
	}
	f := note("f")
	f.PushBatch = alive.ID
	if _, err := env.db.Notifications().AppendNotifications(t.Context(), []*backend.Notification{f}); err != nil {
		t.Fatal(err)
	}
	if err := env.db.PushOutbox().MarkInboxWritten(t.Context(), []string{alive.ID}, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	drainPush(t, svc)
	got = fcm.notificationIDs("ok-" + user)
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "b", "d", "e", "f"}) {
		t.Fatalf("the phone was told of %v, want e and f once the writer finished", got)
	}
}
