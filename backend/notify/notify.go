// Package notify tells inspectors and staff what happened to their tasks:
// inbox first, then push, then live (art. 18).
//
// Every notification is first written to the recipient's stream in the
// NotificationStore (MongoDB): that is the record, which the app lists as
// its inbox, streams over server-sent events and syncs from. The inbox row
// is also the push outbox: it is written with push state "pending" in the
// same single-document insert, and the pusher (Run, on every instance)
// claims pending rows, sends them to the user's registered devices through
// a backend.PushSender and settles them. A crash between the inbox write and
// the push therefore loses nothing: the row stays pending until some
// instance sends it. A row claimed by an instance that died while sending
// is marked lost and not sent again, so an alert reaches a device at most
// once; the inbox still has it. Then the entry is published on the
// EventBus (Redis pub/sub) so that a phone connected to any instance hears
// of it at once.
//
// FCM does not reach most phones in mainland China; push is the wake-up,
// not the record. Another transport (a domestic vendor channel) is another
// backend.PushSender.
//
// It depends on backend interfaces only.
package notify

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"suiji/backend"
	"suiji/backend/telemetry"
)

// Defaults of the pusher's tuning.
const (
	DefaultClaimTTL      = 5 * time.Minute
	DefaultBatch         = 500
	DefaultConcurrency   = 32
	DefaultMaxAttempts   = 5
	DefaultMaxRetryDelay = 30 * time.Second
	DefaultPoll          = 5 * time.Second
	retryBase            = 500 * time.Millisecond
)

// Service is the notification use case.
type Service struct {
	Store   backend.NotificationStore
	Bus     backend.EventBus
	Devices backend.DeviceStore
	Push    backend.PushSender // nil when push is off
	Audit   backend.Auditor
	Logger  *slog.Logger
	Now     func() time.Time

	// Pusher tuning; zero values take the defaults above.
	ClaimTTL      time.Duration // how long a claimed batch is ours
	Batch         int           // entries claimed at a time
	Concurrency   int           // sends in flight at once
	MaxAttempts   int           // attempts per device on 429 and 5xx
	MaxRetryDelay time.Duration // longest wait between attempts; a longer Retry-After gives up
	Poll          time.Duration // how often an idle pusher looks for work (other instances' rows)

	// Sleep waits between attempts; tests may shorten it. nil: a timer.
	Sleep func(ctx context.Context, d time.Duration) error

	once  sync.Once
	wake  chan struct{}
	claim string
}

func (s *Service) init() {
	s.once.Do(func() {
		s.wake = make(chan struct{}, 1)
		var b [12]byte
		_, _ = crand.Read(b[:])
		s.claim = hex.EncodeToString(b[:])
	})
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// PushEnabled reports whether alerts are pushed (a sender is configured).
func (s *Service) PushEnabled() bool { return s.Push != nil }

// Notify writes entries to their users' streams (inbox first), marks inbox
// entries for push when push is on, announces them on the bus and wakes
// this instance's pusher. Entries whose IDs are stored already are left as
// they are, so repeating a call after a crash writes nothing twice. A bus
// failure is logged, not returned: the entries are stored, and readers
// catch up from the store.
func (s *Service) Notify(ctx context.Context, ns []*backend.Notification) error {
	if len(ns) == 0 {
		return nil
	}
	s.init()
	now := s.Now().UTC()
	for _, n := range ns {
		if n.CreatedAt.IsZero() {
			n.CreatedAt = now
		}
		if n.Data == nil {
			n.Data = map[string]string{}
		}
		n.Data["kind"] = n.Kind
		if n.TaskID != "" {
			n.Data["task_id"] = n.TaskID
		}
		n.Data["notification_id"] = n.ID
		if !n.Silent && s.Push != nil {
			n.PushState, n.PushNextAt = backend.PushPending, now
		}
	}
	stored, err := s.Store.AppendNotifications(ctx, ns)
	if err != nil {
		return err
	}
	if err := s.Bus.Publish(ctx, stored); err != nil {
		s.logger().WarnContext(ctx, "notify: publishing live events failed; streams catch up from the inbox", slog.Any("error", err))
	}
	if len(stored) > 0 && s.Push != nil {
		s.Wake()
	}
	return nil
}

// PushBacklog counts the alerts waiting to be pushed (any instance's).
func (s *Service) PushBacklog(ctx context.Context) (int, error) {
	return s.Store.CountPushPending(ctx)
}

// Wake makes this instance's pusher look for work now.
func (s *Service) Wake() {
	s.init()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Inbox is a page of the acting user's inbox, newest first, and the
// number of unread entries.
type Inbox struct {
	Notifications []*backend.Notification
	Unread        int
	NextBefore    int64 // pass as before for the next (older) page; 0 when there is none
}

// ListInbox returns the acting user's inbox entries older than before (0:
// the newest), at most limit (bounded by backend.InboxMaxLimit).
func (s *Service) ListInbox(ctx context.Context, before int64, limit int, unreadOnly bool) (*Inbox, error) {
	userID := backend.ActorFromContext(ctx).UserID
	if limit <= 0 {
		limit = backend.InboxDefaultLimit
	}
	limit = min(limit, backend.InboxMaxLimit)
	list, err := s.Store.FindNotifications(ctx, backend.InboxQuery{
		UserID: userID, BeforeSeq: before, InboxOnly: true, UnreadOnly: unreadOnly, Newest: true, Limit: limit + 1,
	})
	if err != nil {
		return nil, err
	}
	unread, err := s.Store.CountUnread(ctx, userID)
	if err != nil {
		return nil, err
	}
	in := &Inbox{Notifications: list, Unread: unread}
	if len(list) > limit {
		in.Notifications = list[:limit]
		in.NextBefore = list[limit-1].Seq
	}
	return in, nil
}

// MarkRead marks one of the acting user's entries read. ENOTFOUND for
// anyone else's.
func (s *Service) MarkRead(ctx context.Context, id string) (*backend.Notification, error) {
	return s.Store.MarkRead(ctx, backend.ActorFromContext(ctx).UserID, id, s.Now().UTC())
}

// MarkAllRead marks all the acting user's inbox entries read and returns
// how many were unread.
func (s *Service) MarkAllRead(ctx context.Context) (int, error) {
	return s.Store.MarkAllRead(ctx, backend.ActorFromContext(ctx).UserID, s.Now().UTC())
}

// Since returns the acting user's stream entries (inbox and silent) after
// seq, oldest first, at most limit: what a reconnecting event stream or a
// sync missed.
func (s *Service) Since(ctx context.Context, userID string, seq int64, limit int) ([]*backend.Notification, error) {
	return s.Store.FindNotifications(ctx, backend.InboxQuery{UserID: userID, AfterSeq: seq, Limit: limit})
}

// Subscribe returns a live feed of userID's new entries.
func (s *Service) Subscribe(ctx context.Context, userID string) (backend.Subscription, error) {
	return s.Bus.Subscribe(ctx, userID)
}

// Run is the pusher: until ctx ends it sends pending alerts, at once when
// woken by Notify and every Poll otherwise (rows another instance wrote and
// could not send). It returns when ctx is cancelled; without a sender it
// returns at once.
func (s *Service) Run(ctx context.Context) {
	if s.Push == nil {
		return
	}
	s.init()
	poll := s.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		n, err := s.PushPending(ctx)
		if err != nil && ctx.Err() == nil {
			s.logger().WarnContext(ctx, "notify: pushing pending alerts failed", slog.Any("error", err))
		}
		if err == nil && n > 0 {
			continue // there may be more
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

// PushPending claims one batch of pending alerts, sends each to every
// device of its user and settles it, and returns how many it claimed.
// A device whose token FCM no longer knows is removed. 429 and 5xx
// answers are retried with exponential backoff, honouring Retry-After, up
// to MaxAttempts; a Retry-After beyond MaxRetryDelay gives up at once.
func (s *Service) PushPending(ctx context.Context) (int, error) {
	if s.Push == nil {
		return 0, nil
	}
	s.init()
	now := s.Now().UTC()
	claimed, err := s.Store.ClaimPush(ctx, s.claim, now, now.Add(s.claimTTL()), s.batch())
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	users := map[string]bool{}
	var userIDs []string
	for _, n := range claimed {
		if !users[n.UserID] {
			users[n.UserID] = true
			userIDs = append(userIDs, n.UserID)
		}
	}
	devices, err := s.Devices.FindDevicesByUsers(ctx, userIDs)
	if err != nil {
		return 0, err
	}
	byUser := map[string][]*backend.Device{}
	for _, d := range devices {
		byUser[d.UserID] = append(byUser[d.UserID], d)
	}

	var mu sync.Mutex
	failed := map[string]bool{} // notification id → a device ran out of attempts
	pruned := map[string]*backend.Device{}
	sem := make(chan struct{}, s.concurrency())
	var wg sync.WaitGroup
	for _, n := range claimed {
		for _, d := range byUser[n.UserID] {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				outcome := s.send(ctx, n, d)
				telemetry.PushSent(outcome.String())
				switch outcome {
				case sendGone:
					mu.Lock()
					pruned[d.ID] = d
					mu.Unlock()
				case sendGaveUp:
					mu.Lock()
					failed[n.ID] = true
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()

	for _, d := range pruned {
		s.prune(ctx, d)
	}
	var done, gaveUp []string
	for _, n := range claimed {
		if failed[n.ID] {
			gaveUp = append(gaveUp, n.ID)
		} else {
			done = append(done, n.ID)
		}
	}
	bg := context.WithoutCancel(ctx)
	if err := s.Store.SettlePush(bg, done, s.claim, backend.PushDone); err != nil {
		return len(claimed), err
	}
	return len(claimed), s.Store.SettlePush(bg, gaveUp, s.claim, backend.PushFailed)
}

type sendOutcome int

const (
	sendDelivered sendOutcome = iota
	sendGone                  // the token is dead: forget the device
	sendRefused               // the message was refused; retrying will not help
	sendGaveUp                // 429/5xx until attempts or patience ran out
)

// String is the outcome's name in the push metrics.
func (o sendOutcome) String() string {
	switch o {
	case sendDelivered:
		return telemetry.PushDelivered
	case sendGone:
		return telemetry.PushTokenGone
	case sendRefused:
		return telemetry.PushRefused
	default:
		return telemetry.PushGaveUp
	}
}

// send delivers one alert to one device, retrying what may succeed later.
func (s *Service) send(ctx context.Context, n *backend.Notification, d *backend.Device) sendOutcome {
	msg := backend.PushMessage{Token: d.Token, Platform: d.Platform, Title: n.Title, Body: n.Body, Data: pushData(n)}
	for attempt := 1; ; attempt++ {
		err := s.Push.Push(ctx, msg)
		switch backend.ErrorCode(err) {
		case "":
			return sendDelivered
		case backend.ENOTFOUND:
			return sendGone
		case backend.ERATELIMIT, backend.EUNAVAILABLE:
		default:
			s.logger().WarnContext(ctx, "notify: push refused", slog.String("notification_id", n.ID), slog.String("task_id", n.TaskID), slog.Any("error", err))
			return sendRefused
		}
		if attempt >= s.maxAttempts() {
			s.logger().WarnContext(ctx, "notify: push gave up", slog.String("notification_id", n.ID), slog.String("task_id", n.TaskID), slog.Int("attempts", attempt), slog.Any("error", err))
			return sendGaveUp
		}
		delay := backoff(attempt)
		if ra, ok := backend.RetryAfter(err); ok && ra > 0 {
			delay = ra
		}
		if delay > s.maxRetryDelay() {
			s.logger().WarnContext(ctx, "notify: push asked to wait too long", slog.String("notification_id", n.ID), slog.String("task_id", n.TaskID), slog.Duration("retry_after", delay))
			return sendGaveUp
		}
		if err := s.sleep(ctx, delay); err != nil {
			return sendGaveUp
		}
	}
}

// prune forgets a device whose token the push service no longer knows.
func (s *Service) prune(ctx context.Context, d *backend.Device) {
	err := s.Devices.DeleteDevice(ctx, d.ID)
	if err != nil && backend.ErrorCode(err) != backend.ENOTFOUND {
		s.logger().WarnContext(ctx, "notify: removing a dead push token failed", slog.String("device_id", d.ID), slog.Any("error", err))
		return
	}
	if err == nil && s.Audit != nil {
		digest := map[string]string{"id": d.ID, "user_id": d.UserID, "platform": d.Platform}
		if err := s.Audit.Record(ctx, "device.prune", "device", d.ID, digest, nil); err != nil {
			s.logger().WarnContext(ctx, "notify: auditing a pruned device failed", slog.Any("error", err))
		}
	}
}

// pushData is the payload an alert carries: what the app needs to open the
// right screen and to fetch the entry.
func pushData(n *backend.Notification) map[string]string {
	data := make(map[string]string, len(n.Data)+1)
	for k, v := range n.Data {
		data[k] = v
	}
	data["seq"] = strconv.FormatInt(n.Seq, 10)
	return data
}

// backoff is the wait before attempt+1 without a Retry-After: exponential
// from retryBase with full jitter.
func backoff(attempt int) time.Duration {
	ceiling := retryBase << min(attempt-1, 10)
	return ceiling/2 + rand.N(ceiling/2+1)
}

func (s *Service) sleep(ctx context.Context, d time.Duration) error {
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) claimTTL() time.Duration { return orDefault(s.ClaimTTL, DefaultClaimTTL) }
func (s *Service) batch() int              { return orDefault(s.Batch, DefaultBatch) }
func (s *Service) concurrency() int        { return orDefault(s.Concurrency, DefaultConcurrency) }
func (s *Service) maxAttempts() int        { return orDefault(s.MaxAttempts, DefaultMaxAttempts) }
func (s *Service) maxRetryDelay() time.Duration {
	return orDefault(s.MaxRetryDelay, DefaultMaxRetryDelay)
}

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
