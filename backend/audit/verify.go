package audit

import (
	"context"
	"errors"
	"fmt"

	"suiji/backend"
)

// BreakKind says what is wrong at a Break.
type BreakKind string

// The ways a chain can break.
const (
	// BreakGap: a Seq is missing (an event was deleted, or the chain was
	// truncated and restarted).
	BreakGap BreakKind = "gap"
	// BreakOrder: the store returned a Seq at or below one already seen (a
	// duplicate Seq, which the unique index should make impossible).
	BreakOrder BreakKind = "order"
	// BreakHash: an event's Hash is not the hash of its fields (it was edited
	// without recomputing the hash).
	BreakHash BreakKind = "hash"
	// BreakPrevHash: an event's PrevHash is not the Hash of the event before
	// it (the previous event was edited and rehashed, or this one was put in
	// its place).
	BreakPrevHash BreakKind = "prev_hash"
)

// Break is the first place where the chain does not hold.
type Break struct {
	// Seq is the first Seq at which the chain is broken; for a gap, the
	// missing Seq.
	Seq int64
	// Found is the Seq actually read there; it differs from Seq only for
	// BreakGap and BreakOrder.
	Found int64
	// Kind says what is wrong.
	Kind BreakKind
	// Message says it for people, e.g. "event 17: hash mismatch (edited?)".
	Message string
}

// String returns b.Message.
func (b *Break) String() string { return b.Message }

// Report is the outcome of Verify.
type Report struct {
	// Events is the number of events read: the length of the chain when it is
	// intact, or the number read up to and including the break.
	Events int64
	// Head is the Hash of the last intact event ("" for an empty chain). Kept
	// outside the database, it lets a later check notice that newest events
	// were removed or the whole chain rebuilt, which no chain can show by
	// itself.
	Head string
	// Break is the first break, or nil when the chain is intact.
	Break *Break
}

// errStop ends the walk at the first break.
var errStop = errors.New("audit: stop walking")

// Verify walks the whole chain in Seq order and checks that the Seqs run
// 1, 2, 3 … without gaps, that every event's PrevHash is the Hash of the event
// before it ("" for event 1), and that every Hash is the hash of its event's
// fields. It stops at the first break and names it in the report. The error is
// for failing to read the store only; a broken chain is a successful
// verification with Report.Break set.
func Verify(ctx context.Context, store backend.AuditStore) (Report, error) {
	var rep Report
	want := int64(1)
	fail := func(b Break) error {
		rep.Break = &b
		return errStop
	}
	err := store.WalkAuditEvents(ctx, func(e *backend.AuditEvent) error {
		rep.Events++
		switch {
		case e.Seq > want:
			return fail(Break{Seq: want, Found: e.Seq, Kind: BreakGap,
				Message: fmt.Sprintf("event %d expected, found %d (deleted?)", want, e.Seq)})
		case e.Seq < want:
			return fail(Break{Seq: want, Found: e.Seq, Kind: BreakOrder,
				Message: fmt.Sprintf("event %d expected, found %d again (duplicated or out of order?)", want, e.Seq)})
		}
		// The event's own hash first: an edit shows here, at the edited
		// event, rather than as a prev_hash mismatch one event later.
		if Hash(e) != e.Hash {
			return fail(Break{Seq: e.Seq, Found: e.Seq, Kind: BreakHash,
				Message: fmt.Sprintf("event %d: hash mismatch (edited?)", e.Seq)})
		}
		if e.PrevHash != rep.Head {
			msg := fmt.Sprintf("event %d: prev_hash does not match event %d", e.Seq, e.Seq-1)
			if e.Seq == 1 {
				msg = "event 1: prev_hash must be empty"
			}
			return fail(Break{Seq: e.Seq, Found: e.Seq, Kind: BreakPrevHash, Message: msg})
		}
		rep.Head = e.Hash
		want++
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return rep, backend.Wrap(err, backend.ErrorCode(err), "audit: reading the chain (%d events read)", rep.Events)
	}
	return rep, nil
}
