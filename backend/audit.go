package backend

import (
	"context"
	"sync"
	"time"
)

// AuditEvent records one mutation (art. 3, 29): who did what to which object,
// when, from where, and digests of the object before and after. Events form a
// hash chain: Hash covers every other field including PrevHash, the Hash of
// the event with the previous Seq, so an edited, inserted or deleted event
// breaks the chain at that point.
type AuditEvent struct {
	Seq          int64     // 1, 2, 3 … without gaps; unique
	Time         time.Time // UTC, millisecond precision
	ActorID      string    // "" for the system or the anonymous public
	ActorName    string
	Action       string // e.g. "user.create", "auth.login"
	ObjectType   string // e.g. "user"
	ObjectID     string
	BeforeDigest string // SHA-256 hex of the object's canonical JSON before; "" if none
	AfterDigest  string // … after; "" if deleted or none
	RequestID    string
	ClientIP     string
	PrevHash     string // Hash of event Seq-1; "" for Seq 1
	Hash         string // SHA-256 hex over the canonical encoding of all the above
	// ID names the event from the moment its change is staged (see
	// Auditor.Change) until it is in the chain, so that appending it is
	// exactly-once: the store refuses a second event with the same ID. It
	// is bookkeeping, not history, and so not covered by Hash; Seq is the
	// event's identity in the chain. Events recorded before IDs existed
	// carry "seq:N".
	ID string
}

// Page sizes of audit listings: the default when a filter gives none, and
// the largest page a store returns.
const (
	AuditDefaultLimit = 100
	AuditMaxLimit     = 500
)

// AuditFilter selects events for the audit listing.
type AuditFilter struct {
	ActorID    string
	Action     string
	ObjectType string
	ObjectID   string
	From, To   time.Time // inclusive bounds; zero means open
	AfterSeq   int64     // cursor: only events with a larger Seq
	ID         string    // only the event with this ID
	Limit      int
}

// AuditStore is the append-only store of audit events. It knows nothing of
// the hash chain; backend/audit builds and verifies it.
type AuditStore interface {
	// LastAuditEvent returns the event with the highest Seq. ENOTFOUND when
	// there is none.
	LastAuditEvent(ctx context.Context) (*AuditEvent, error)
	// InsertAuditEvent stores e as it is. ECONFLICT when e.Seq is taken (a
	// concurrent writer won; the caller rebuilds on the new last event) or
	// e.ID is taken (the event is in the chain already).
	InsertAuditEvent(ctx context.Context, e *AuditEvent) error
	// FindAuditEvents lists events matching f in Seq order.
	FindAuditEvents(ctx context.Context, f AuditFilter) ([]*AuditEvent, error)
	// WalkAuditEvents calls fn for every event in Seq order until fn returns
	// an error, which it returns.
	WalkAuditEvents(ctx context.Context, fn func(*AuditEvent) error) error
}

// Auditor records mutations in the audit trail; backend/audit.Recorder is
// the implementation. The actor, request id and client address of an event
// come from ctx.
type Auditor interface {
	// Change makes a change and records its event together, so that a
	// crash cannot leave one without the other (art. 29). write makes the
	// change with the context it is given, which carries the staged event:
	// the first document write that takes it (PendingAuditFromContext)
	// stores the event with the change, in one atomic write; the event is
	// then appended to the chain, either at once or, after a crash or an
	// audit-store failure, by the recovery step. When write stored the
	// change, Change returns write's own error (nil on success) whatever
	// happened to the append, which recovery completes, so a caller never
	// retries a change that is already made. Use Change for every change
	// kept in a MongoDB document.
	Change(ctx context.Context, c AuditChange, write func(context.Context) error) error
	// Record appends the event of something that is not a document write
	// with an outbox (a sign-in, whose session lives in Redis; a whole
	// import): call it after the action, with the object before and after
	// (nil when there is none).
	Record(ctx context.Context, action, objectType, objectID string, before, after any) error
}

// AuditChange describes a change for Auditor.Change: the action, the object
// it changes, and the object before and after (nil when there is none),
// which the event records as digests. ObjectID must be known before the
// write, so creations choose their id first (NewID).
type AuditChange struct {
	Action     string
	ObjectType string
	ObjectID   string
	Before     any
	After      any
}

// PendingAudit is an audit event staged by Auditor.Change for the change
// being written. A store that keeps an outbox takes it from the context
// (PendingAuditFromContext), writes Event into the changed document in the
// same write, and then calls Stored; later writes of the same change see
// nothing staged. Stores without an outbox ignore it, and Change then
// appends the event after the write.
type PendingAudit struct {
	// Event is the event to append: every field is set except Seq,
	// PrevHash and Hash, which the chain gives it.
	Event AuditEvent

	mu    sync.Mutex
	clear func(context.Context) error // removes the outbox entry; nil until stored
}

// Stored records that the event was written with the change, and how to
// remove it from the outbox once it is in the chain.
func (p *PendingAudit) Stored(clear func(context.Context) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear = clear
}

// IsStored reports whether a store has written the event with its change.
func (p *PendingAudit) IsStored() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.clear != nil
}

// Clear removes the event from the outbox (it is in the chain now); nothing
// when it was never stored.
func (p *PendingAudit) Clear(ctx context.Context) error {
	p.mu.Lock()
	clear := p.clear
	p.mu.Unlock()
	if clear == nil {
		return nil
	}
	return clear(ctx)
}

// AuditOutbox finds staged events whose append to the chain did not
// complete: the process stopped, or the audit store failed, between a
// change and its event. backend/audit.Recorder.Recover appends them.
type AuditOutbox interface {
	// PendingAuditEvents returns up to limit staged events older than
	// before (by Event.Time), oldest first, each stored (Clear removes it
	// from its document). EUNAVAILABLE when the store cannot be reached.
	PendingAuditEvents(ctx context.Context, before time.Time, limit int) ([]*PendingAudit, error)
}
