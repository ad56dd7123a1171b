package backend

import (
	"context"
	"time"
)

// Notification kinds: what happened to a user's task.
const (
	NoteTaskAssigned  = "task.assigned"  // you are in a new task's group
	NoteTaskReplaced  = "task.replaced"  // a member of your group changed
	NoteTaskRemoved   = "task.removed"   // you were replaced in a group
	NoteTaskCancelled = "task.cancelled" // a task of yours was cancelled
	NoteTaskReminder  = "task.reminder"  // a deadline is 2 working days away
	NoteTaskOverdue   = "task.overdue"   // a deadline was missed
	NoteTaskUpdated   = "task.updated"   // silent: the task changed (sync only)
)

// Push states of a notification: the inbox row is also the push outbox, so
// the alert and the record of it are written in one single-document insert
// and a crash between the two cannot happen.
const (
	PushNone    = ""        // silent, or push is off: nothing to send
	PushPending = "pending" // waiting to be sent
	PushSending = "sending" // claimed by an instance that is sending it
	PushDone    = "done"    // every device answered (or there was none)
	PushLost    = "lost"    // its sender died mid-send; not sent again (at most once)
	PushFailed  = "failed"  // retries ran out
)

// Notification is one entry of a user's event stream. Inbox entries (not
// Silent) are what the user reads in the app and what is pushed; silent
// entries only tell the user's phones and consoles that a task changed, so
// that live streams and delta sync see it. Seq numbers a user's entries 1,
// 2, 3 … in the order they became visible: it is the SSE event id and the
// sync cursor.
type Notification struct {
	ID        string // deterministic from what it is about, so a repeat is a no-op
	UserID    string
	Seq       int64
	Kind      string
	Silent    bool
	TaskID    string
	PlanID    string
	Title     string // Chinese text shown in the inbox and the push alert
	Body      string
	Data      map[string]string // extra payload for the app (always has task_id and kind)
	CreatedAt time.Time
	ReadAt    *time.Time

	PushState  string
	PushNextAt time.Time // earliest time it may be sent
	PushClaim  string    // the claiming instance's token while PushSending
	PushUntil  time.Time // when a claim expires
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

// NotificationStore keeps every user's event stream, which is also the
// push outbox.
type NotificationStore interface {
	// AppendNotifications stores the entries whose IDs are not stored yet,
	// giving each the next Seq of its user: a user's entries become visible
	// in Seq order (a unique (user, seq) index decides between concurrent
	// writers). Entries already stored are left as they are. It sets Seq on
	// every entry of ns (stored before or now) and returns those stored now.
	AppendNotifications(ctx context.Context, ns []*Notification) ([]*Notification, error)
	// FindNotifications lists a user's entries matching q.
	FindNotifications(ctx context.Context, q InboxQuery) ([]*Notification, error)
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

	// ClaimPush claims up to limit entries due for push (PushPending with
	// PushNextAt ≤ now) for the claim token until until, and returns them.
	// Entries claimed by an instance whose claim has expired are first
	// moved to PushLost: they may have been sent, and an alert is sent at
	// most once per device.
	ClaimPush(ctx context.Context, claim string, now, until time.Time, limit int) ([]*Notification, error)
	// SettlePush records the outcome of claimed entries (PushDone or
	// PushFailed). It changes nothing of an entry whose claim is no longer
	// the caller's.
	SettlePush(ctx context.Context, ids []string, claim, state string) error
	// CountPushPending counts the entries waiting to be pushed (PushPending
	// or claimed and PushSending): the push outbox's backlog, for metrics.
	CountPushPending(ctx context.Context) (int, error)
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
