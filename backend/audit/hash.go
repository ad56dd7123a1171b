// Package audit keeps suiji's tamper-evident audit trail (art. 3, 29): every
// mutation is recorded as a backend.AuditEvent, and the events form a hash
// chain so that an event edited, deleted or inserted directly in the database
// is detected by Verify (which `suiji audit verify` runs).
//
// The package is pure: it imports only backend and the standard library and
// does no I/O of its own besides the backend.AuditStore it is given. It must
// not import storage, mobile-api or any driver.
//
// # The chain
//
// Events are numbered 1, 2, 3 … without gaps (Seq). Each event carries
// PrevHash, the Hash of the event with the previous Seq ("" for event 1), and
// Hash, the SHA-256 of its own canonical encoding (below), which covers
// PrevHash. Changing any field of any event therefore changes its Hash, which
// no longer matches either the recomputed value or the PrevHash stored in the
// next event; deleting an event leaves a gap in Seq; inserting one needs a Seq
// that is either taken (the store's unique index refuses it) or out of place.
//
// What a chain alone cannot show is the loss of its newest events, or a whole
// chain rebuilt by someone who can write the database and recompute hashes:
// for that, record Report.Head (the newest Hash) somewhere the database's
// writers cannot reach — a printed report, a published notice — and compare.
//
// # Canonical encoding, version 1
//
// Hash is the lowercase hexadecimal SHA-256 of these bytes:
//
//	"suiji-audit-v1\n"
//	then, for each field in this order:
//	  seq, time, actor_id, actor_name, action, object_type, object_id,
//	  before_digest, after_digest, request_id, client_ip, prev_hash
//	the bytes  NAME " " LEN ":" VALUE "\n"
//
// where NAME is the field name above, VALUE is the field's value as UTF-8
// bytes, and LEN is the number of bytes in VALUE in decimal without leading
// zeros (so a value may contain any byte, including newlines, without
// ambiguity). seq is written in decimal without leading zeros or sign; time is
// written in UTC with exactly millisecond precision, truncated, in the layout
// TimeLayout ("2006-01-02T15:04:05.000Z", e.g. "2026-03-01T08:15:30.120Z");
// every other field is written as stored. The Hash field itself is never part
// of the encoding. Example, for event 1 with only an action set at the Unix
// epoch:
//
//	suiji-audit-v1
//	seq 1:1
//	time 24:1970-01-01T00:00:00.000Z
//	actor_id 0:
//	actor_name 0:
//	action 11:user.create
//	object_type 0:
//	…
//	prev_hash 0:
//
// A later version, if ever needed, changes the first line; Hash only writes
// version 1.
//
// # Digests
//
// BeforeDigest and AfterDigest are Digest of the object before and after the
// change: the SHA-256 of encoding/json's encoding of the value (struct fields
// in declaration order, map keys sorted), or "" when there is no object. The
// object itself is not kept in the trail; the digests let anyone holding a
// copy of an object prove which version an event refers to.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strconv"
	"time"

	"suiji/backend"
)

// Version is the first line of the canonical encoding Hash writes.
const Version = "suiji-audit-v1"

// TimeLayout is how an event's Time is written in the canonical encoding
// (after conversion to UTC and truncation to milliseconds). MongoDB keeps
// times to the millisecond, so an event read back hashes as it was written.
// The API shows times in the same layout so that its output can be re-hashed.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Canonical returns the canonical encoding (version 1, see the package
// documentation) of every field of e except Hash.
func Canonical(e *backend.AuditEvent) []byte {
	b := make([]byte, 0, 512)
	b = append(b, Version...)
	b = append(b, '\n')
	field := func(name, value string) {
		b = append(b, name...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(len(value)), 10)
		b = append(b, ':')
		b = append(b, value...)
		b = append(b, '\n')
	}
	field("seq", strconv.FormatInt(e.Seq, 10))
	field("time", FormatTime(e.Time))
	field("actor_id", e.ActorID)
	field("actor_name", e.ActorName)
	field("action", e.Action)
	field("object_type", e.ObjectType)
	field("object_id", e.ObjectID)
	field("before_digest", e.BeforeDigest)
	field("after_digest", e.AfterDigest)
	field("request_id", e.RequestID)
	field("client_ip", e.ClientIP)
	field("prev_hash", e.PrevHash)
	return b
}

// Hash returns the lowercase hex SHA-256 of e's canonical encoding. It
// ignores e.Hash, so Hash(e) == e.Hash checks a stored event.
func Hash(e *backend.AuditEvent) string {
	sum := sha256.Sum256(Canonical(e))
	return hex.EncodeToString(sum[:])
}

// FormatTime writes t as the canonical encoding does: UTC, milliseconds
// (truncated), TimeLayout.
func FormatTime(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format(TimeLayout)
}

// Digest returns the lowercase hex SHA-256 of v's JSON encoding
// (encoding/json: struct fields in declaration order, map keys sorted, so the
// same value always gives the same digest), or "" when v is nil or a nil
// pointer, meaning "no object". Fields a type hides from JSON (json:"-") are
// not covered. It returns EINVALID when v cannot be encoded as JSON.
func Digest(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return "", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", backend.Wrap(err, backend.EINVALID, "audit: cannot digest a %T", v)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
