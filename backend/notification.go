package backend

import (
	"context"
	"strconv"
	"time"
)

// Notification kinds: what happened to a user's task, (leaders) what
// waits for their decision, or (the office) what a leader decided.
const (
	NoteTaskAssigned  = "task.assigned"  // you are in a new task's group
	NoteTaskReplaced  = "task.replaced"  // a member of your group changed
	NoteTaskRemoved   = "task.removed"   // you were replaced in a group
	NoteTaskCancelled = "task.cancelled" // a task of yours was cancelled
	NoteTaskReminder  = "task.reminder"  // a deadline is 2 working days away
	NoteTaskOverdue   = "task.overdue"   // a deadline was missed
	NoteTaskUpdated   = "task.updated"   // silent: the task changed (sync only)
	// NoteReplacementPending tells the leaders that a replacement of a
	// member of a task's group is committed and waits for their approval.
	NoteReplacementPending = "replacement.pending"
	// NoteReplacementDecided tells whoever committed a replacement that a
	// leader approved or rejected it.
	NoteReplacementDecided = "replacement.decided"
)

// Push states of a batch of the push outbox.
const (
	PushPending = "pending" // waiting to be sent
	PushSending = "sending" // claimed by an instance that is sending it
	PushDone    = "done"    // every device answered (or there was none)
	PushLost    = "lost"    // its sender died mid-send; not sent again (at most once)
	PushFailed  = "failed"  // some device's retries ran out
	// PushAbandoned: the writer died before its entries reached the inbox
	// and nobody repeated its request within a day; nothing was sent.
	PushAbandoned = "abandoned"
)

// Notification is one entry of a user's event stream. Inbox entries (not
// Silent) are what the user reads in the app and what is pushed; silent
// entries only tell the user's phones and consoles that a task changed, so
// that live streams and delta sync see it. Seq numbers all entries, of
// every user, in the order they became visible (entry k is visible only
// after every entry before it): a user's stream is their entries in Seq
// order, and Seq is the SSE event id. (The phones' sync counts the task
// feed instead, TaskFeedStore; Seq was its cursor before, and still is
// while the feeds are not built.)
type Notification struct {
	ID     string // deterministic from what it is about, so a repeat is a no-op
	UserID string
	Seq    int64
	Kind   string
	Silent bool
	TaskID string
	// TaskVersion is the task's stored version after the change the entry
	// tells of (0 when none or not known). It goes to the task feeds, not
	// the inbox: a sync answers from tasks it holds that are at least as
	// new (tasks.Service.Sync).
	TaskVersion int64
	PlanID      string
	// PushBatch is the push outbox batch that alerts the entry: set by
	// the call that stores it, and only then (notify.Service.Notify). An
	// entry is pushed by its own batch alone, so a later call that names
	// it again — a repeated dispatch, whose batch holds other entries too —
	// never pushes it twice. Empty for silent entries and when push is off.
	PushBatch string
	Title     string // Chinese text shown in the inbox and the push alert
	Body      string
	Data      map[string]string // extra payload for the app, beyond what Payload adds
	CreatedAt time.Time
	ReadAt    *time.Time
}

// Payload is the key/value payload an alert or an event carries: Data plus
// the entry's kind, id, task and plan.
func (n *Notification) Payload() map[string]string {
	out := make(map[string]string, len(n.Data)+4)
	for k, v := range n.Data {
		out[k] = v
	}
	out["kind"], out["notification_id"] = n.Kind, n.ID
	if n.TaskID != "" {
		out["task_id"] = n.TaskID
	}
	if n.PlanID != "" {
		out["plan_id"] = n.PlanID
	}
	return out
}

// Page sizes of inbox listings.
const (
	InboxDefaultLimit = 50
	InboxMaxLimit     = 200
)

// InboxQuery selects a user's entries.
type InboxQuery struct {
	UserID     string
	AfterSeq   int64 // only entries with a larger Seq
	BeforeSeq  int64 // only entries with a smaller Seq (0: no bound)
	InboxOnly  bool  // leave silent entries out
	UnreadOnly bool
	Newest     bool // newest first (the inbox); otherwise oldest first (streams, sync)
	Limit      int
}

// NotificationStore keeps every user's event stream.
type NotificationStore interface {
	// AppendNotifications stores the entries whose IDs are not stored yet,
	// giving each the next Seq: entries become visible in Seq order (a
	// unique index on seq decides between concurrent writers). Entries
	// already stored are left as they are. It sets Seq on every entry of
	// ns (stored before or now) and returns those stored now.
	AppendNotifications(ctx context.Context, ns []*Notification) ([]*Notification, error)
	// SettleNotifications sets Seq and PushBatch on the entries of ns
	// stored already, as stored, and returns the others (each ID once),
	// in the order of ns.
	SettleNotifications(ctx context.Context, ns []*Notification) ([]*Notification, error)
	// AppendSettled is AppendNotifications for the entries
	// SettleNotifications has just returned: it does not read again which
	// of them are stored (one another writer stored meanwhile is still
	// settled, not stored twice).
	AppendSettled(ctx context.Context, fresh []*Notification) ([]*Notification, error)
	// FindNotifications lists a user's entries matching q.
	FindNotifications(ctx context.Context, q InboxQuery) ([]*Notification, error)
	// FindNotificationsByIDs returns the stored entries among ids, in no
	// particular order.
	FindNotificationsByIDs(ctx context.Context, ids []string) ([]*Notification, error)
	// CountUnread counts a user's unread inbox entries.
	CountUnread(ctx context.Context, userID string) (int, error)
	// LastSeq returns the Seq of a user's newest entry (0 for none).
	LastSeq(ctx context.Context, userID string) (int64, error)
	// MarkRead marks one of a user's entries read at at (a repeat keeps the
	// first time). ENOTFOUND when the user has no such entry.
	MarkRead(ctx context.Context, userID, id string, at time.Time) (*Notification, error)
	// MarkAllRead marks every unread inbox entry of a user read and returns
	// how many it marked.
	MarkAllRead(ctx context.Context, userID string, at time.Time) (int, error)
	// MarkKindRead marks every unread inbox entry of a user of the given
	// kind read and returns how many it marked.
	MarkKindRead(ctx context.Context, userID, kind string, at time.Time) (int, error)
}

// PushBatch is one unit of the push outbox: the ids of up to
// PushBatchSize inbox entries to alert, written before the entries
// themselves and claimed, sent and settled as a whole.
type PushBatch struct {
	ID              string // deterministic from its entries' ids, so a repeat adds nothing
	NotificationIDs []string
	InboxWritten    bool   // the writer has written the entries to the inbox, or a later call found some stored and adopted the batch (notify)
	State           string // PushPending … PushAbandoned
	NextAt          time.Time
	Claim           string    // the claiming instance's token while PushSending
	Until           time.Time // when a claim expires
	CreatedAt       time.Time
}

// PushBatchSize is how many entries one outbox batch holds.
const PushBatchSize = 1000

// PushOutbox is the durable push outbox in MongoDB: a crash anywhere
// between writing an alert and sending it loses nothing, and an alert is
// sent at most once per device.
type PushOutbox interface {
	// AddPushBatches stores the batches whose IDs are not stored yet.
	AddPushBatches(ctx context.Context, bs []*PushBatch) error
	// MarkInboxWritten records that the batches' entries are in the inbox
	// — or, for a batch another call adopted, that those it will ever get
	// are — which makes them due at now.
	MarkInboxWritten(ctx context.Context, ids []string, now time.Time) error
	// ClaimPushBatch claims the oldest batch due — PushPending, NextAt ≤
	// now, and its entries in the inbox or its writer presumed dead (the
	// batch created before orphanedBefore) — for claim until until, and
	// returns it; nil when none is due. Batches whose claim has expired
	// are first moved to PushLost: they may have been sent in part, and an
	// alert is sent at most once.
	ClaimPushBatch(ctx context.Context, claim string, now, until, orphanedBefore time.Time) (*PushBatch, error)
	// ClaimPushBatches claims, of the batches ids, those due with their
	// entries in the inbox (PushPending, InboxWritten, NextAt ≤ now) for
	// claim until until, in one write, and returns the ids it claimed:
	// the batches an instance wrote itself, which it knows. The claim must
	// be the caller's alone: which batches it took is read back by it.
	ClaimPushBatches(ctx context.Context, ids []string, claim string, now, until time.Time) ([]string, error)
	// SettlePushBatch records a claimed batch's outcome: PushDone,
	// PushFailed or PushAbandoned, or PushPending again to be claimed from
	// nextAt on. It changes nothing when the claim is no longer the
	// caller's.
	SettlePushBatch(ctx context.Context, id, claim, state string, nextAt time.Time) error
	// CountPushBacklog counts the alerts waiting to be pushed (in batches
	// pending or being sent): the push outbox's backlog, for metrics.
	CountPushBacklog(ctx context.Context) (int, error)
	// DeleteSettledPushBatches deletes the batches settled for good —
	// PushDone, PushFailed, PushLost or PushAbandoned — that were created
	// before before, and returns how many it deleted. Nothing else changes
	// them any more; kept for ever they would make every claim, which
	// looks through the outbox, slower year by year.
	DeleteSettledPushBatches(ctx context.Context, before time.Time) (int, error)
}

// EventBus carries new stream entries to every server instance, so that a
// phone connected to one instance hears of a notification written by
// another. It carries no record: a lost message is read back from the
// NotificationStore when the phone resumes.
type EventBus interface {
	// Publish announces stored entries. EUNAVAILABLE when the bus is down.
	Publish(ctx context.Context, ns []*Notification) error
	// Subscribe returns a subscription to one user's new entries. The
	// subscription is live when Subscribe returns.
	Subscribe(ctx context.Context, userID string) (Subscription, error)
}

// Subscription is a live feed of one user's new entries.
type Subscription interface {
	// C delivers entries as they are published; it is closed by Close.
	C() <-chan *Notification
	// Close ends the subscription.
	Close()
}

// PushMessage is one alert for one device.
type PushMessage struct {
	Token    string
	Platform string // PlatformAndroid, PlatformIOS or PlatformWeb
	Title    string
	Body     string
	Data     map[string]string
}

// PushSender delivers alerts through one push transport (FCM today; a
// domestic vendor channel may be another implementation). Its errors say
// what to do next: ENOTFOUND — the device's token is gone, forget the
// device; ERATELIMIT or EUNAVAILABLE — try again later (RetryAfter(err)
// carries the transport's requested delay, if any); any other — the message
// itself was refused, do not retry.
type PushSender interface {
	Push(ctx context.Context, m PushMessage) error
}

// NoteID is the deterministic id of the notification of kind about a task
// for a user (round tells repeats of one kind apart: a version, a second
// replacement, another deadline), so that a repeated change notifies
// nobody twice.
func NoteID(kind, taskID, userID, round string) string {
	return HashID("note", kind, taskID, userID, round)
}

// TaskUpdatedNotes are the silent entries that tell each active member of
// t, as just stored, that it changed: their task feeds name its version,
// and their phones' next sync brings it as it now stands.
func TaskUpdatedNotes(t *Task) []*Notification {
	var out []*Notification
	for _, u := range t.MemberUserIDs() {
		out = append(out, &Notification{
			ID: NoteID(NoteTaskUpdated, t.ID, u, strconv.Itoa(t.Version)), UserID: u, Kind: NoteTaskUpdated,
			Silent: true, TaskID: t.ID, TaskVersion: int64(t.Version), PlanID: t.PlanID,
		})
	}
	return out
}
