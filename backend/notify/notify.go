// Package notify tells inspectors and staff what happened to their tasks:
// inbox first, then push, then live (art. 18).
//
// Every notification is written to the recipient's stream in the
// NotificationStore (MongoDB): that is the record, which the app lists as
// its inbox and streams over server-sent events. Before that, each entry
// about a task appends the task's id to its user's task feed
// (backend.TaskFeedStore), which phones sync from (tasks.Service.Sync):
// the callers notify after storing the change, so whoever reads the feed
// entry reads the change, and a phone that hears of an entry (an alert,
// an event) finds it in its feed. A repeated Notify — a request retried
// after a crash — appends again, which only sends the task once more.
// Alerts to
// push go through a durable outbox (backend.PushOutbox) of batches of up
// to backend.PushBatchSize entries: Notify first stores a batch (the
// entries' ids), then the entries in the inbox, then marks the batch
// ready. The pusher (Run, on every instance) claims ready batches, sends
// each user with entries in them one alert — the entry, or a digest of
// several (Alert) — on each registered device through a
// backend.PushSender, and settles the batches. A crash anywhere between
// the inbox write and the push therefore loses nothing: the batch stays
// pending until some instance sends it — including a batch whose writer
// died before marking it ready, which is claimed after OrphanAfter and
// sent once its entries are all in the inbox (an alert never announces an
// entry the inbox lacks). A batch claimed by an instance that died while
// sending is marked lost and not sent again, so an alert reaches a device
// at most once; the inbox still has it. An entry belongs to the batch of
// the call that stored it (Notification.PushBatch), and only that batch
// alerts it: a call that names entries stored already — a repeated
// dispatch, after some of its tasks began — batches only the others, so
// no phone hears of an entry twice, and the batches settled long ago can
// be deleted (PruneSettled). Such a call also marks ready the batches the
// entries it found were stored with: a writer that died part-way through
// the inbox has its entries alerted by its own batch once its request is
// repeated, however the repeat differs. Entries are also published on the
// EventBus (Redis pub/sub) so that a phone connected to any instance hears
// of them at once.
//
// Batches, not alerts, are the unit of every outbox write — a per-alert
// state change would be a round trip (and, on FerretDB, a transaction)
// per alert — and the instance that wrote a batch claims it, with the
// others it wrote, in one write and sends it from memory.
//
// FCM does not reach most phones in mainland China; push is the wake-up,
// not the record. Another transport (a domestic vendor channel) is another
// backend.PushSender.
//
// It depends on backend interfaces only.
package notify

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"suiji/backend"
	"suiji/backend/telemetry"
)

// Defaults of the pusher's tuning.
const (
	DefaultClaimTTL      = 5 * time.Minute
	DefaultOrphanAfter   = time.Minute
	DefaultAbandonAfter  = 24 * time.Hour
	DefaultConcurrency   = 32
	DefaultMaxAttempts   = 5
	DefaultMaxRetryDelay = 30 * time.Second
	DefaultPoll          = 5 * time.Second
	DefaultKeepSettled   = 30 * 24 * time.Hour
	pruneEvery           = time.Hour
	retryBase            = 500 * time.Millisecond
)

// Service is the notification use case.
type Service struct {
	Store   backend.NotificationStore
	Feeds   backend.TaskFeedStore // the users' task feeds, which phones sync from
	Outbox  backend.PushOutbox
	Bus     backend.EventBus
	Devices backend.DeviceStore
	Push    backend.PushSender // nil when push is off
	Audit   backend.Auditor
	Logger  *slog.Logger
	Now     func() time.Time

	// Pusher tuning; zero values take the defaults above.
	ClaimTTL      time.Duration // how long a claimed batch is ours
	OrphanAfter   time.Duration // a batch whose writer has not marked it ready this long is the pusher's to finish
	AbandonAfter  time.Duration // an orphaned batch whose entries never all reached the inbox is given up after this
	Concurrency   int           // sends in flight at once
	MaxAttempts   int           // attempts per device on 429 and 5xx
	MaxRetryDelay time.Duration // longest wait between attempts; a longer Retry-After gives up
	Poll          time.Duration // how often the pusher looks for other instances' rows, idle or busy with its own
	KeepSettled   time.Duration // how long a settled batch stays in the outbox, for whoever looks into a push, before it is deleted

	// Sleep waits between attempts; tests may shorten it. nil: a timer.
	Sleep func(ctx context.Context, d time.Duration) error

	once   sync.Once
	wake   chan struct{}
	claim  string        // this instance's, random; each PushPending claims as claim.<n>
	claims atomic.Uint64 // n
	mu     sync.Mutex
	hot    map[string]hotBatch // batches this instance wrote, sent from memory
	writes uint64              // hotBatch.seq
	// lastDue is when PushPending last looked for others' batches.
	lastDue time.Time
	// lastPrune is when Run last deleted the settled batches.
	lastPrune time.Time
}

// hotBatch is the content of a batch this instance wrote, and the order
// in which it wrote them.
type hotBatch struct {
	notes []*backend.Notification
	at    time.Time
	seq   uint64
}

func (s *Service) init() {
	s.once.Do(func() {
		s.hot = map[string]hotBatch{}
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

// Notify records entries, up to NotifyChunk at a time: each entry about
// a task is appended to its user's task feed; when push is on, the
// alerts (entries not Silent) go into the push outbox, in batches of
// backend.PushBatchSize; then every entry is written to its user's stream
// (the inbox) and announced on the bus; then the outbox batches are
// marked ready and this instance's pusher is woken. Each of these steps
// is one call for the whole chunk, not one per outbox batch: on FerretDB
// an inbox append first reads the stream for the entries it holds
// already and raises the users' head buckets, so each call costs about as
// much again, however little it carries. Entries and batches whose IDs
// are stored already are left as they are, so repeating a call after a
// crash writes nothing twice. A bus failure is logged, not returned: the
// entries are stored, and readers catch up from the store.
func (s *Service) Notify(ctx context.Context, ns []*backend.Notification) error {
	s.init()
	now := s.Now().UTC()
	for _, n := range ns {
		if n.CreatedAt.IsZero() {
			n.CreatedAt = now
		}
	}
	for start := 0; start < len(ns); start += NotifyChunk {
		if err := s.notify(ctx, ns[start:min(start+NotifyChunk, len(ns))], now); err != nil {
			return err
		}
	}
	return nil
}

// NotifyChunk is how many entries Notify writes at a time: a dispatch's
// (two per task of a thousand-task draw) in one go.
const NotifyChunk = 4 * backend.PushBatchSize

func (s *Service) notify(ctx context.Context, ns []*backend.Notification, now time.Time) error {
	if err := s.appendFeeds(ctx, ns); err != nil {
		return err
	}
	// An entry stored already was alerted by the batch of the call that
	// stored it — this call repeats that one, or names it among others (a
	// repeated dispatch after some tasks began): it goes into no batch of
	// this call, or its phones would hear of it twice.
	fresh, err := s.Store.SettleNotifications(ctx, ns)
	if err != nil {
		return err
	}
	var alerts []*backend.Notification
	for _, n := range fresh {
		if !n.Silent {
			alerts = append(alerts, n)
		}
	}
	var batches []*backend.PushBatch
	var parts [][]*backend.Notification
	if s.Push != nil {
		for start := 0; start < len(alerts); start += backend.PushBatchSize {
			part := alerts[start:min(start+backend.PushBatchSize, len(alerts))]
			b := newBatch(part, now)
			for _, n := range part {
				n.PushBatch = b.ID
			}
			batches, parts = append(batches, b), append(parts, part)
		}
	}
	if len(batches) > 0 {
		if err := s.Outbox.AddPushBatches(ctx, batches); err != nil {
			return err
		}
	}
	stored, err := s.Store.AppendSettled(ctx, fresh)
	if err != nil {
		return err
	}
	s.publish(ctx, stored)
	// From here the pusher may send the batches; before, only once the
	// writer is presumed dead (OrphanAfter). So may it send the batches of
	// earlier calls whose entries this one found stored: such a call died
	// (or failed) part-way through the inbox, and its batch would wait for
	// entries that are in this call's batches now — or in none, being
	// stored — and never alert those it stored (adopted).
	ids := make([]string, len(batches))
	for i, b := range batches {
		ids[i] = b.ID
	}
	ids = append(ids, adopted(ns, ids)...)
	if len(ids) == 0 {
		return nil
	}
	if err := s.Outbox.MarkInboxWritten(ctx, ids, now); err != nil {
		return err
	}
	if len(batches) == 0 {
		s.Wake()
		return nil
	}
	s.mu.Lock()
	// Older than a claim, a batch was taken by another instance or waits
	// in the store, where claimDue finds it.
	for id, h := range s.hot {
		if now.Sub(h.at) > s.claimTTL() {
			delete(s.hot, id)
		}
	}
	for i, b := range batches {
		s.writes++
		s.hot[b.ID] = hotBatch{notes: alertedBy(b.ID, parts[i]), at: now, seq: s.writes}
	}
	s.mu.Unlock()
	s.Wake()
	return nil
}

// adopted returns the push batches, other than this call's own, that the
// entries of ns were stored with, each once.
func adopted(ns []*backend.Notification, own []string) []string {
	var out []string
	for _, n := range ns {
		if n.PushBatch != "" && !slices.Contains(own, n.PushBatch) && !slices.Contains(out, n.PushBatch) {
			out = append(out, n.PushBatch)
		}
	}
	return out
}

// alertedBy returns the entries of ns that the batch batchID alerts:
// those stored with it. An entry another writer stored first, between
// this call's settling and its append, is its writer's batch's to alert.
func alertedBy(batchID string, ns []*backend.Notification) []*backend.Notification {
	var out []*backend.Notification
	for _, n := range ns {
		if n.PushBatch == batchID {
			out = append(out, n)
		}
	}
	return out
}

// appendFeeds appends the task of each entry about one to its user's
// task feed, first of all: the task was stored before its entries were
// made, so whoever reads the feed entry reads the change; and anything a
// phone hears of (an alert, an event) is in its feed by then. A repeated
// call appends again, which only makes a sync send the task once more —
// and is what puts an entry in the feed when the first call died before.
func (s *Service) appendFeeds(ctx context.Context, ns []*backend.Notification) error {
	feeds := map[string][]backend.TaskFeedEntry{}
	for _, n := range ns {
		if n.TaskID != "" && n.UserID != "" {
			feeds[n.UserID] = append(feeds[n.UserID], backend.TaskFeedEntry{TaskID: n.TaskID, Version: n.TaskVersion})
		}
	}
	return s.Feeds.AppendTaskFeeds(ctx, feeds)
}

// newBatch is the outbox batch of alerts.
func newBatch(alerts []*backend.Notification, now time.Time) *backend.PushBatch {
	ids := make([]string, len(alerts))
	for i, n := range alerts {
		ids[i] = n.ID
	}
	return &backend.PushBatch{ID: BatchID(ids), NotificationIDs: ids, State: backend.PushPending, NextAt: now, CreatedAt: now}
}

// BatchID is the id of the outbox batch of the given entries: derived
// from theirs, so the same call repeated makes the same batch.
func BatchID(notificationIDs []string) string {
	h := sha256.New()
	for _, id := range notificationIDs {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func (s *Service) publish(ctx context.Context, stored []*backend.Notification) {
	if err := s.Bus.Publish(ctx, stored); err != nil {
		s.logger().WarnContext(ctx, "notify: publishing live events failed; streams catch up from the inbox", slog.Any("error", err))
	}
}

// PushBacklog counts the alerts waiting to be pushed (any instance's).
func (s *Service) PushBacklog(ctx context.Context) (int, error) {
	return s.Outbox.CountPushBacklog(ctx)
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
	t := time.NewTicker(s.poll())
	defer t.Stop()
	for {
		n, err := s.PushPending(ctx)
		if err != nil && ctx.Err() == nil {
			s.logger().WarnContext(ctx, "notify: pushing pending alerts failed", slog.Any("error", err))
		}
		if now := s.Now(); now.Sub(s.lastPrune) >= pruneEvery {
			s.lastPrune = now
			if _, err := s.PruneSettled(ctx); err != nil && ctx.Err() == nil {
				s.logger().WarnContext(ctx, "notify: deleting settled push batches failed", slog.Any("error", err))
			}
		}
		if err == nil && (n > 0 || s.morehot()) {
			continue // there may be more; its own batches wait in memory
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

// PruneSettled deletes the outbox batches settled for good (sent, failed,
// lost or abandoned) more than KeepSettled ago, and returns how many. Run
// calls it every hour, on every instance (a delete repeated deletes
// nothing). Every claim looks through the outbox — FerretDB keeps no index
// on the state — so kept for ever they would slow each claim year by
// year. Deleting one loses nothing: its entries are in the inbox, and a
// call that names them again makes no batch of them (notify).
func (s *Service) PruneSettled(ctx context.Context) (int, error) {
	return s.Outbox.DeleteSettledPushBatches(ctx, s.Now().UTC().Add(-orDefault(s.KeepSettled, DefaultKeepSettled)))
}

// PushPending claims the batches of the outbox that are due — those this
// instance wrote and has not sent, up to ClaimBatches of them in one
// write; when there are none, and at least every Poll, others', oldest
// first, up to ClaimBatches in all (at least one) — and sends each
// user with entries in them one alert (Alert: a digest of several) on
// every device, then settles each batch; it returns how many alerts the
// batches held (0: nothing was due). The batches of one call — a dispatch
// writes two — are sent together, from one pool of Concurrency sends, so
// that claiming and settling one does not hold up sending the others. A
// device whose token the push service no longer knows is removed. 429 and
// 5xx answers are retried with exponential backoff, honouring
// Retry-After, up to MaxAttempts; a Retry-After beyond MaxRetryDelay
// gives up at once.
func (s *Service) PushPending(ctx context.Context) (int, error) {
	if s.Push == nil {
		return 0, nil
	}
	s.init()
	now := s.Now().UTC()
	// A claim of its own for each call: a batch is settled, released or
	// read back only by the call that claimed it.
	claim := s.claim + "." + strconv.FormatUint(s.claims.Add(1), 36)
	hot, err := s.claimHot(ctx, claim, now)
	if err != nil {
		return 0, err
	}
	// Others' batches, or this instance's that a crash or a failure left:
	// when none of its own was due, and at least every Poll, so that a
	// stream of its own does not starve them. They are older: their
	// entries come first in a digest.
	var work []*claimedBatch
	alerts := 0
	if s.lookForDue(now, len(hot) == 0) {
		var dueErr error
		work, alerts, dueErr = s.claimDue(ctx, claim, now, max(1, ClaimBatches-len(hot)))
		if dueErr != nil && len(work)+len(hot) == 0 {
			return alerts, dueErr
		} else if dueErr != nil {
			s.logger().WarnContext(ctx, "notify: claiming others' push batches failed; sending what is claimed", slog.Any("error", dueErr))
		}
	}
	for _, w := range hot {
		alerts += len(w.notes)
	}
	if work = append(work, hot...); len(work) == 0 {
		return alerts, nil
	}
	recipients := recipientsOf(work)
	// The devices as registered now, when the alerts are sent.
	devices, err := s.devicesOf(ctx, recipients)
	if err != nil {
		for _, w := range work {
			s.release(ctx, claim, now, w.id)
		}
		return alerts, err
	}
	for _, d := range s.sendAlerts(ctx, recipients, devices) {
		s.prune(ctx, d)
	}
	var errs []error
	for _, w := range work {
		if !w.started && ctx.Err() != nil {
			s.release(ctx, claim, now, w.id)
			continue
		}
		state := backend.PushDone
		if w.failed {
			state = backend.PushFailed
		}
		errs = append(errs, s.Outbox.SettlePushBatch(context.WithoutCancel(ctx), w.id, claim, state, time.Time{}))
	}
	return alerts, errors.Join(errs...)
}

// release puts a batch claimed under claim, none of whose alerts was
// sent, back to be claimed again at once (by this instance or another):
// left claimed, it would be marked lost when the claim expires, and never
// sent. A batch not claimed under claim is left as it is.
func (s *Service) release(ctx context.Context, claim string, now time.Time, batchID string) {
	if err := s.Outbox.SettlePushBatch(context.WithoutCancel(ctx), batchID, claim, backend.PushPending, now); err != nil {
		s.logger().WarnContext(ctx, "notify: releasing a claimed push batch failed; it is marked lost when the claim expires",
			slog.String("batch_id", batchID), slog.Any("error", err))
	}
}

// lookForDue reports whether PushPending looks for others' batches now:
// always when none of its own was due (idle), else when it last looked a
// Poll or more before now. It records the look.
func (s *Service) lookForDue(now time.Time, idle bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !idle && now.Sub(s.lastDue) < s.poll() {
		return false
	}
	s.lastDue = now
	return true
}

// claimedBatch is a batch claimed to be sent, with its entries.
type claimedBatch struct {
	id      string
	notes   []*backend.Notification
	started bool // some alert about its entries went out, or began to
	failed  bool // some device ran out of attempts
}

// recipient is a user with entries in the batches being sent.
type recipient struct {
	userID  string
	notes   []*backend.Notification
	batches []*claimedBatch // those holding the notes
}

// recipientsOf groups the entries of the claimed batches by user, in the
// order the users first appear.
func recipientsOf(work []*claimedBatch) []*recipient {
	var out []*recipient
	byUser := map[string]*recipient{}
	for _, w := range work {
		for _, n := range w.notes {
			r := byUser[n.UserID]
			if r == nil {
				r = &recipient{userID: n.UserID}
				byUser[n.UserID] = r
				out = append(out, r)
			}
			r.notes = append(r.notes, n)
			if len(r.batches) == 0 || r.batches[len(r.batches)-1] != w {
				r.batches = append(r.batches, w)
			}
		}
	}
	return out
}

// sendAlerts sends each recipient one alert (Alert) on each of their
// devices, Concurrency sends at once, and returns the devices whose
// tokens are gone. A batch is failed when a device of a recipient with
// entries in it ran out of attempts, and started once any alert about
// its entries began; when ctx ends, no more begin.
func (s *Service) sendAlerts(ctx context.Context, rs []*recipient, devices map[string][]*backend.Device) map[string]*backend.Device {
	var mu sync.Mutex
	pruned := map[string]*backend.Device{}
	sem := make(chan struct{}, s.concurrency())
	var wg sync.WaitGroup
	for _, r := range rs {
		title, body, data := Alert(r.notes)
		for _, d := range devices[r.userID] {
			msg := backend.PushMessage{Token: d.Token, Platform: d.Platform, Title: title, Body: body, Data: data}
			sem <- struct{}{}
			if ctx.Err() != nil { // shutting down: what has not begun is released
				<-sem
				break
			}
			mu.Lock()
			for _, w := range r.batches {
				w.started = true
			}
			mu.Unlock()
			wg.Go(func() {
				defer func() { <-sem }()
				outcome := s.send(ctx, msg, r.notes)
				telemetry.PushSent(outcome.String())
				mu.Lock()
				defer mu.Unlock()
				switch outcome {
				case sendGone:
					pruned[d.ID] = d
				case sendGaveUp:
					for _, w := range r.batches {
						w.failed = true
					}
				}
			})
		}
	}
	wg.Wait()
	return pruned
}

// claimHot claims, in one write, the batches this instance wrote and has
// not sent — the oldest ClaimBatches of them; the rest are the next
// call's — and returns them, oldest first: their entries are in memory.
// It takes them out of memory first, so that no other call here claims
// them too; what another instance claimed first is its to send. When the
// claim fails, whatever it claimed is released and the batches go back
// to memory.
func (s *Service) claimHot(ctx context.Context, claim string, now time.Time) ([]*claimedBatch, error) {
	s.mu.Lock()
	ids := slices.SortedFunc(maps.Keys(s.hot), func(a, b string) int { return cmp.Compare(s.hot[a].seq, s.hot[b].seq) })
	ids = ids[:min(len(ids), ClaimBatches)]
	taken := make(map[string]hotBatch, len(ids))
	for _, id := range ids {
		taken[id] = s.hot[id]
		delete(s.hot, id)
	}
	s.mu.Unlock()
	if len(ids) == 0 {
		return nil, nil
	}
	claimed, err := s.Outbox.ClaimPushBatches(ctx, ids, claim, now, now.Add(s.claimTTL()))
	if err != nil {
		for _, id := range ids { // those it did claim, if any
			s.release(ctx, claim, now, id)
		}
		s.mu.Lock()
		for id, h := range taken {
			s.hot[id] = h
		}
		s.mu.Unlock()
		return nil, err
	}
	work := make([]*claimedBatch, 0, len(claimed))
	for _, id := range ids {
		if !slices.Contains(claimed, id) {
			continue
		}
		work = append(work, &claimedBatch{id: id, notes: taken[id].notes})
	}
	return work, nil
}

// claimDue claims the batches due, oldest first, up to limit of them,
// and returns those to send and how many alerts the batches claimed held
// (some are sent later: their entries are not all in the inbox yet). On
// an error it returns what it claimed before, to be sent, with the error.
func (s *Service) claimDue(ctx context.Context, claim string, now time.Time, limit int) (work []*claimedBatch, alerts int, err error) {
	for len(work) < limit {
		batch, err := s.Outbox.ClaimPushBatch(ctx, claim, now, now.Add(s.claimTTL()), now.Add(-s.orphanAfter()))
		if err != nil {
			return work, alerts, err
		}
		if batch == nil {
			break
		}
		claimed, complete, hot, err := s.contents(ctx, batch)
		if err != nil {
			s.release(ctx, claim, now, batch.ID)
			return work, alerts, err
		}
		alerts += len(batch.NotificationIDs)
		// Marked ready with entries missing, the batch was adopted by a
		// later call (notify): it sends what is stored with it — once its
		// writer can be presumed dead, not while it may still be storing
		// the rest.
		adoptedFromTheDead := batch.InboxWritten && now.Sub(batch.CreatedAt) >= s.orphanAfter()
		if !complete && !adoptedFromTheDead {
			// The writer died (or is slow) before all its entries reached
			// the inbox: wait for its request to be repeated — which stores
			// the rest with a batch of its own and marks this one ready —
			// or give up after AbandonAfter. Nothing is sent before.
			state, next := backend.PushPending, now.Add(s.orphanAfter())
			if now.Sub(batch.CreatedAt) > s.abandonAfter() && !batch.InboxWritten {
				state = backend.PushAbandoned
			}
			if err := s.Outbox.SettlePushBatch(context.WithoutCancel(ctx), batch.ID, claim, state, next); err != nil {
				return work, alerts, err // left claimed, it is marked lost when the claim expires
			}
			continue
		}
		work = append(work, &claimedBatch{id: batch.ID, notes: claimed})
		if hot && !s.morehot() {
			// The writer's batches are all claimed: no claim in vain
			// before sending. Others' rows are the next call's.
			break
		}
	}
	return work, alerts, nil
}

// ClaimBatches is the most outbox batches one PushPending claims and
// sends together.
const ClaimBatches = 4

// contents returns the entries a claimed batch alerts, whether every
// entry it names is in the inbox, and whether they came from memory (this
// instance wrote the batch) rather than from the inbox. Read from the
// inbox, they are the entries stored with the batch (alertedBy): an
// entry stored by another call, which named it too, is that call's batch's.
func (s *Service) contents(ctx context.Context, b *backend.PushBatch) (ns []*backend.Notification, complete, hot bool, err error) {
	s.mu.Lock()
	h, ok := s.hot[b.ID]
	delete(s.hot, b.ID)
	s.mu.Unlock()
	if ok {
		return h.notes, true, true, nil
	}
	found, err := s.Store.FindNotificationsByIDs(ctx, b.NotificationIDs)
	if err != nil {
		return nil, false, false, err
	}
	// In the batch's order, as written (the store's is none in particular).
	byID := make(map[string]*backend.Notification, len(found))
	for _, n := range found {
		byID[n.ID] = n
	}
	ns = make([]*backend.Notification, 0, len(found))
	stored := 0
	for _, id := range b.NotificationIDs {
		if n, ok := byID[id]; ok {
			stored++
			// An entry stored before entries named their batch (none yet
			// in production, but an older release's) is its batch's.
			if n.PushBatch == b.ID || n.PushBatch == "" {
				ns = append(ns, n)
			}
			delete(byID, id)
		}
	}
	return ns, stored == len(b.NotificationIDs), false, nil
}

// morehot reports whether batches this instance wrote wait to be claimed.
func (s *Service) morehot() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.hot) > 0
}

// devicesOf returns the registered devices of the recipients, by user.
func (s *Service) devicesOf(ctx context.Context, rs []*recipient) (map[string][]*backend.Device, error) {
	userIDs := make([]string, len(rs))
	for i, r := range rs {
		userIDs[i] = r.userID
	}
	devices, err := s.Devices.FindDevicesByUsers(ctx, userIDs)
	if err != nil {
		return nil, err
	}
	byUser := make(map[string][]*backend.Device, len(userIDs))
	for _, d := range devices {
		byUser[d.UserID] = append(byUser[d.UserID], d)
	}
	return byUser, nil
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

// send delivers one alert (about entries ns) to one device, retrying
// what may succeed later.
func (s *Service) send(ctx context.Context, msg backend.PushMessage, ns []*backend.Notification) sendOutcome {
	about := alertAttrs(ns)
	for attempt := 1; ; attempt++ {
		err := s.Push.Push(ctx, msg)
		switch backend.ErrorCode(err) {
		case "":
			return sendDelivered
		case backend.ENOTFOUND:
			return sendGone
		case backend.ERATELIMIT, backend.EUNAVAILABLE:
		default:
			s.logger().WarnContext(ctx, "notify: push refused", append(about, slog.Any("error", err))...)
			return sendRefused
		}
		if attempt >= s.maxAttempts() {
			s.logger().WarnContext(ctx, "notify: push gave up", append(about, slog.Int("attempts", attempt), slog.Any("error", err))...)
			return sendGaveUp
		}
		delay := backoff(attempt)
		if ra, ok := backend.RetryAfter(err); ok && ra > 0 {
			delay = ra
		}
		if delay > s.maxRetryDelay() {
			s.logger().WarnContext(ctx, "notify: push asked to wait too long", append(about, slog.Duration("retry_after", delay))...)
			return sendGaveUp
		}
		if err := s.sleep(ctx, delay); err != nil {
			return sendGaveUp
		}
	}
}

// alertAttrs name an alert's entries in the pusher's warnings: the
// entry and its task, or for a digest the first entry and its task and
// how many entries it tells of.
func alertAttrs(ns []*backend.Notification) []any {
	attrs := []any{slog.String("notification_id", ns[0].ID), slog.String("task_id", ns[0].TaskID)}
	if len(ns) > 1 {
		attrs = append(attrs, slog.Int("digest_of", len(ns)))
	}
	return attrs
}

// prune forgets a device whose token the push service no longer knows,
// with its audit event in the same write (the device is marked deleted
// with the event, and removed once the event is in the chain; see
// backend.Auditor.Change).
func (s *Service) prune(ctx context.Context, d *backend.Device) {
	remove := func(ctx context.Context) error { return s.Devices.DeleteDevice(ctx, d.ID) }
	var err error
	if s.Audit != nil {
		digest := map[string]string{"id": d.ID, "user_id": d.UserID, "platform": d.Platform}
		err = s.Audit.Change(ctx, backend.AuditChange{Action: "device.prune", ObjectType: "device", ObjectID: d.ID, Before: digest}, remove)
	} else {
		err = remove(ctx)
	}
	if err != nil && backend.ErrorCode(err) != backend.ENOTFOUND {
		s.logger().WarnContext(ctx, "notify: removing a dead push token failed", slog.String("device_id", d.ID), slog.Any("error", err))
	}
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
func (s *Service) poll() time.Duration     { return orDefault(s.Poll, DefaultPoll) }
func (s *Service) orphanAfter() time.Duration {
	return orDefault(s.OrphanAfter, DefaultOrphanAfter)
}
func (s *Service) abandonAfter() time.Duration {
	return orDefault(s.AbandonAfter, DefaultAbandonAfter)
}
func (s *Service) concurrency() int { return orDefault(s.Concurrency, DefaultConcurrency) }
func (s *Service) maxAttempts() int { return orDefault(s.MaxAttempts, DefaultMaxAttempts) }
func (s *Service) maxRetryDelay() time.Duration {
	return orDefault(s.MaxRetryDelay, DefaultMaxRetryDelay)
}

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
