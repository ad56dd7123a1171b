package backend

import (
	"context"
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
	Limit      int
}

// AuditStore is the append-only store of audit events. It knows nothing of
// the hash chain; backend/audit builds and verifies it.
type AuditStore interface {
	// LastAuditEvent returns the event with the highest Seq. ENOTFOUND when
	// there is none.
	LastAuditEvent(ctx context.Context) (*AuditEvent, error)
	// InsertAuditEvent stores e as it is. ECONFLICT when e.Seq is taken (a
	// concurrent writer won; the caller rebuilds on the new last event).
	InsertAuditEvent(ctx context.Context, e *AuditEvent) error
	// FindAuditEvents lists events matching f in Seq order.
	FindAuditEvents(ctx context.Context, f AuditFilter) ([]*AuditEvent, error)
	// WalkAuditEvents calls fn for every event in Seq order until fn returns
	// an error, which it returns.
	WalkAuditEvents(ctx context.Context, fn func(*AuditEvent) error) error
}

// Auditor records a mutation in the audit trail; backend/audit.Recorder is
// the implementation. Use cases call it after each change they make, with the
// object before and after (nil when there is none); the actor, request id and
// client address come from ctx.
type Auditor interface {
	Record(ctx context.Context, action, objectType, objectID string, before, after any) error
}
