package backend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
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
	// stores the event with the change, in one atomic write (for a bulk
	// change, every document write takes its mark); the event is
	// then appended to the chain, either at once or, after a crash or an
	// audit-store failure, by the recovery step. When write stored the
	// change, Change returns write's own error (nil on success) whatever
	// happened to the append, which recovery completes, so a caller never
	// retries a change that is already made. Use Change for every change
	// kept in a MongoDB document.
	Change(ctx context.Context, c AuditChange, write func(context.Context) error) error
	// Record appends the event of something that is not a document write
	// with an outbox (a sign-in or a sign-out, whose session lives in
	// Redis): call it after the action, with the object before and after
	// (nil when there is none). A crash in between leaves the action
	// unaudited, so every change kept in MongoDB uses Change instead.
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
	// Bulk marks a change spread over many documents and writes (an
	// import batch, a dispatch's tasks): the event is written ahead of the
	// change and every document written takes a mark naming it, so that
	// whichever of them landed before a crash brings the event with it
	// (see PendingAudit). The chain takes the event once (recovery appends
	// per event ID). A bulk change that stored nothing has no event.
	Bulk bool
	// Key, when set, names the change so that its event ID is derived
	// from it (AuditEventID) rather than drawn at random: a change that a
	// retry may repeat or complete (a dispatch finishing what a crash left
	// half done) then has one event however often it is attempted, since
	// the chain refuses a second event with an ID it holds.
	Key string
}

// AuditEventID is the event ID of a change named by key (AuditChange.Key):
// 32 hex digits like a random ID, so it is safe as a field name of the
// outbox and cannot be mistaken for another change's.
func AuditEventID(key string) string {
	sum := sha256.Sum256([]byte("suiji audit event\x00" + key))
	return hex.EncodeToString(sum[:16])
}

// PendingAudit is an audit event staged by Auditor.Change for the change
// being written. A store that keeps an outbox takes it from the context
// (PendingAuditFromContext), writes Event into the changed document in the
// same write, and then calls Stored; later writes of the same change see
// nothing staged. Stores without an outbox ignore it, and Change then
// appends the event after the write.
//
// A bulk change (Bulk) is staged differently, since taking an entry out of
// every one of thousands of documents again would cost an update each: the
// store writes the event once, ahead of the change, where recovery looks
// (Ahead), and every document the change writes takes a mark naming the
// event, in the same write, which stays. Recovery appends the event when a
// document bears its mark — the change landed, wholly or in part — and
// drops it when none does.
type PendingAudit struct {
	// Event is the event to append: every field is set except Seq,
	// PrevHash and Hash, which the chain gives it.
	Event AuditEvent
	// Bulk: every write of the change takes the event, not only the first
	// (AuditChange.Bulk).
	Bulk bool

	mu     sync.Mutex
	stored bool
	clears []func(context.Context) error // remove what holds the event
	done   map[string]bool               // keys of Once that succeeded
}

// Stored records that the event was written with the change (or, for a
// bulk change, that one more part of the change bearing its mark was),
// and how to remove it from that outbox once it is in the chain (nil when
// there is nothing to remove: a bulk change's marks stay).
func (p *PendingAudit) Stored(clear func(context.Context) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stored = true
	if clear != nil {
		p.clears = append(p.clears, clear)
	}
}

// Ahead records that a store wrote a bulk change's event ahead of the
// change, and how to remove it: once the event is in the chain (Clear),
// or when the change stored nothing after all.
func (p *PendingAudit) Ahead(clear func(context.Context) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clears = append(p.clears, clear)
}

// Once runs f unless a call with the same key succeeded before for this
// change: a store's once-per-change bookkeeping (writing a bulk change's
// event ahead of its first write to a collection). f may call p's other
// methods; calls racing each other may both run f, which must therefore
// be idempotent.
func (p *PendingAudit) Once(key string, f func() error) error {
	p.mu.Lock()
	done := p.done[key]
	p.mu.Unlock()
	if done {
		return nil
	}
	if err := f(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		p.done = map[string]bool{}
	}
	p.done[key] = true
	return nil
}

// IsStored reports whether a store has written the event with its change.
func (p *PendingAudit) IsStored() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stored
}

// Clear removes the event from everywhere it was written (it is in the
// chain now, or the bulk change it was written ahead of stored nothing);
// nothing when it was never written. It tries every place and returns the
// errors joined: an entry left behind is cleared by recovery.
func (p *PendingAudit) Clear(ctx context.Context) error {
	p.mu.Lock()
	clears := slices.Clone(p.clears)
	p.mu.Unlock()
	var errs []error
	for _, clear := range clears {
		errs = append(errs, clear(ctx))
	}
	return errors.Join(errs...)
}

// AuditOutbox finds staged events whose append to the chain did not
// complete: the process stopped, or the audit store failed, between a
// change and its event. backend/audit.Recorder.Recover appends them.
type AuditOutbox interface {
	// PendingAuditEvents returns up to limit staged events older than
	// before (by Event.Time) whose change was stored, oldest first, each
	// stored (Clear removes it). A bulk change's event comes once, when a
	// document bears its mark; one whose change never landed is dropped
	// once it is old enough that no writer can still be making the change.
	// EUNAVAILABLE when the store cannot be reached.
	PendingAuditEvents(ctx context.Context, before time.Time, limit int) ([]*PendingAudit, error)
	// CountPendingAuditEvents counts the staged events not in the chain
	// yet, however new, without looking for their changes: for metrics.
	CountPendingAuditEvents(ctx context.Context) (int, error)
}
