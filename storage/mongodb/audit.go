package mongodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// auditCollection holds the audit trail.
const auditCollection = "audit_events"

// auditEventModel is the stored form of backend.AuditEvent. _id is the Seq
// itself, so that no two events can share a Seq even on a database whose
// indexes were never ensured (every collection has a unique _id); the
// seq_unique index keeps the same rule visible in the index table.
type auditEventModel struct {
	ID           int64     `bson:"_id"`
	Seq          int64     `bson:"seq"`
	Time         time.Time `bson:"time"`
	ActorID      string    `bson:"actor_id"`
	ActorName    string    `bson:"actor_name"`
	Action       string    `bson:"action"`
	ObjectType   string    `bson:"object_type"`
	ObjectID     string    `bson:"object_id"`
	BeforeDigest string    `bson:"before_digest"`
	AfterDigest  string    `bson:"after_digest"`
	RequestID    string    `bson:"request_id"`
	ClientIP     string    `bson:"client_ip"`
	PrevHash     string    `bson:"prev_hash"`
	Hash         string    `bson:"hash"`
	EventID      string    `bson:"event_id"`
}

func newAuditEventModel(e *backend.AuditEvent) *auditEventModel {
	return &auditEventModel{
		ID:           e.Seq,
		Seq:          e.Seq,
		Time:         e.Time.UTC(),
		ActorID:      e.ActorID,
		ActorName:    e.ActorName,
		Action:       e.Action,
		ObjectType:   e.ObjectType,
		ObjectID:     e.ObjectID,
		BeforeDigest: e.BeforeDigest,
		AfterDigest:  e.AfterDigest,
		RequestID:    e.RequestID,
		ClientIP:     e.ClientIP,
		PrevHash:     e.PrevHash,
		Hash:         e.Hash,
		EventID:      eventID(e),
	}
}

// eventID is the stored event_id of e: its ID, or "seq:N" for an event
// without one, so that every event has a distinct value under the unique
// index (FerretDB v1 has no sparse or partial indexes to skip missing ones).
func eventID(e *backend.AuditEvent) string {
	if e.ID != "" {
		return e.ID
	}
	return fmt.Sprintf("seq:%d", e.Seq)
}

func (m *auditEventModel) event() *backend.AuditEvent {
	return &backend.AuditEvent{
		Seq:          m.Seq,
		Time:         m.Time.UTC(),
		ActorID:      m.ActorID,
		ActorName:    m.ActorName,
		Action:       m.Action,
		ObjectType:   m.ObjectType,
		ObjectID:     m.ObjectID,
		BeforeDigest: m.BeforeDigest,
		AfterDigest:  m.AfterDigest,
		RequestID:    m.RequestID,
		ClientIP:     m.ClientIP,
		PrevHash:     m.PrevHash,
		Hash:         m.Hash,
		ID:           m.EventID,
	}
}

// AuditEvents is the audit trail's store: backend.AuditStore on the
// audit_events collection. It is append-only on purpose — it has no method
// that updates or deletes an event, so the server cannot alter history even
// by mistake. It knows nothing of the hash chain (backend/audit builds and
// verifies it) and stores each event exactly as given, which is what lets
// the chain expose an edit made behind its back.
type AuditEvents struct {
	c *mongo.Collection
}

var _ backend.AuditStore = (*AuditEvents)(nil)

// AuditEvents returns the audit trail's store on db.
func (db *DB) AuditEvents() *AuditEvents {
	return &AuditEvents{c: db.db.Collection(auditCollection)}
}

// The chain's head: a copy of the newest event in a document of its own
// ({_id: "chain", seq, event}), written after each append. Every audited
// change reads it, by _id alone — the one lookup FerretDB v1 answers
// without decoding the trail; finding the highest seq among the events instead reads
// and sorts the whole trail there. The head is never ahead of the
// events; when it lags (a writer died between its event and the head),
// the next append loses its seq race, which sets the head from the
// events, and appends on the next attempt.
const (
	auditHeadCollection = "audit_head"
	auditHeadID         = "chain"
)

type auditHeadModel struct {
	ID    string          `bson:"_id"`
	Seq   int64           `bson:"seq"`
	Event auditEventModel `bson:"event"`
}

func (s *AuditEvents) head() *mongo.Collection {
	return s.c.Database().Collection(auditHeadCollection)
}

// LastAuditEvent returns the event with the highest Seq. ENOTFOUND when
// there is none; EUNAVAILABLE when MongoDB cannot be reached.
func (s *AuditEvents) LastAuditEvent(ctx context.Context) (*backend.AuditEvent, error) {
	var h auditHeadModel
	err := s.head().FindOne(ctx, bson.D{{Key: "_id", Value: auditHeadID}}).Decode(&h)
	if err == nil {
		return h.Event.event(), nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return nil, translate(err)
	}
	return s.scanLast(ctx)
}

// scanLast finds the event with the highest Seq among the events.
func (s *AuditEvents) scanLast(ctx context.Context) (*backend.AuditEvent, error) {
	var m auditEventModel
	err := s.c.FindOne(ctx, bson.D{}, options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}})).Decode(&m)
	if err != nil {
		if err = translate(err); backend.ErrorCode(err) == backend.ENOTFOUND {
			return nil, backend.Wrap(err, backend.ENOTFOUND, "no audit events yet")
		}
		return nil, err
	}
	return m.event(), nil
}

// InsertAuditEvent stores e as it is. ECONFLICT when e.Seq or e.ID is
// taken (the unique _id, seq_unique and event_id_unique indexes decide,
// since FerretDB has no transactions); EUNAVAILABLE when MongoDB cannot be
// reached.
func (s *AuditEvents) InsertAuditEvent(ctx context.Context, e *backend.AuditEvent) error {
	m := newAuditEventModel(e)
	_, err := s.c.InsertOne(ctx, m)
	if err = translate(err); backend.ErrorCode(err) == backend.ECONFLICT {
		// The seq was taken: the head may lag; set it from the events.
		if last, lerr := s.scanLast(ctx); lerr == nil {
			s.raiseHead(ctx, newAuditEventModel(last))
		}
		return backend.Wrap(err, backend.ECONFLICT, "audit event %d (%s) already exists", e.Seq, eventID(e))
	}
	if err == nil {
		s.raiseHead(ctx, m)
	}
	return err
}

// raiseHead makes m the chain's head unless a newer event is. A failure
// leaves the head lagging, which the next append repairs (see
// auditHeadModel), so it is not an error of the append.
func (s *AuditEvents) raiseHead(ctx context.Context, m *auditEventModel) {
	defer lockDocument(s.head(), auditHeadID)() // FerretDB does not isolate updates
	_, _ = s.head().UpdateOne(ctx,
		bson.D{{Key: "_id", Value: auditHeadID}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: m.Seq}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: m.Seq}, {Key: "event", Value: m}}}},
		options.UpdateOne().SetUpsert(true)) // a newer head makes the upsert a duplicate _id: left as it is
}

// FindAuditEvents lists events matching f in Seq order: every non-empty
// string field must match exactly, From and To are inclusive bounds on Time,
// AfterSeq is a cursor (only larger Seqs), and Limit caps the page at
// backend.AuditDefaultLimit when zero or negative and at backend.AuditMaxLimit at most.
// EUNAVAILABLE when MongoDB cannot be reached.
func (s *AuditEvents) FindAuditEvents(ctx context.Context, f backend.AuditFilter) ([]*backend.AuditEvent, error) {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = backend.AuditDefaultLimit
	case limit > backend.AuditMaxLimit:
		limit = backend.AuditMaxLimit
	}
	filter := bson.D{}
	for _, eq := range []struct{ key, value string }{
		{"actor_id", f.ActorID},
		{"action", f.Action},
		{"object_type", f.ObjectType},
		{"object_id", f.ObjectID},
		{"event_id", f.ID},
	} {
		if eq.value != "" {
			filter = append(filter, bson.E{Key: eq.key, Value: eq.value})
		}
	}
	if f.AfterSeq > 0 {
		filter = append(filter, bson.E{Key: "seq", Value: bson.D{{Key: "$gt", Value: f.AfterSeq}}})
	}
	if !f.From.IsZero() || !f.To.IsZero() {
		between := bson.D{}
		if !f.From.IsZero() {
			between = append(between, bson.E{Key: "$gte", Value: f.From.UTC()})
		}
		if !f.To.IsZero() {
			between = append(between, bson.E{Key: "$lte", Value: f.To.UTC()})
		}
		filter = append(filter, bson.E{Key: "time", Value: between})
	}
	cur, err := s.c.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "seq", Value: 1}}).
		SetLimit(int64(limit)))
	if err != nil {
		return nil, translate(err)
	}
	events := make([]*backend.AuditEvent, 0, min(limit, 64))
	err = eachAuditEvent(ctx, cur, func(e *backend.AuditEvent) error {
		events = append(events, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return events, nil
}

// WalkAuditEvents calls fn for every event in Seq order until fn returns an
// error, which it returns unchanged. EUNAVAILABLE when MongoDB cannot be
// reached; EINTERNAL, naming the Seq, for a stored document that is not an
// audit event any more (its fields were replaced by values of other types).
func (s *AuditEvents) WalkAuditEvents(ctx context.Context, fn func(*backend.AuditEvent) error) error {
	cur, err := s.c.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}))
	if err != nil {
		return translate(err)
	}
	return eachAuditEvent(ctx, cur, fn)
}

// eachAuditEvent decodes every document of cur and hands it to fn, closing
// the cursor at the end. fn's error is returned unchanged.
func eachAuditEvent(ctx context.Context, cur *mongo.Cursor, fn func(*backend.AuditEvent) error) error {
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	for cur.Next(ctx) {
		var m auditEventModel
		if err := cur.Decode(&m); err != nil {
			return backend.Wrap(err, backend.EINTERNAL, "audit event %s cannot be read", describeSeq(cur.Current))
		}
		if err := fn(m.event()); err != nil {
			return err
		}
	}
	return translate(cur.Err())
}

// describeSeq names the document's seq for a message, whatever its type.
func describeSeq(doc bson.Raw) string {
	v, err := doc.LookupErr("seq")
	if err != nil {
		return "without a seq (_id " + doc.Lookup("_id").String() + ")"
	}
	if n, ok := v.AsInt64OK(); ok {
		return fmt.Sprintf("with seq %d", n)
	}
	return "with seq " + v.String()
}

// backfillEventIDs gives every stored event without an event_id the value
// "seq:N", so that the unique event_id index can be built on a chain
// written before events had IDs. It runs before the indexes are ensured;
// the hash does not cover the ID, so the chain still verifies.
func (db *DB) backfillEventIDs(ctx context.Context) error {
	c := db.db.Collection(auditCollection)
	cur, err := c.Find(ctx, bson.D{{Key: "event_id", Value: bson.D{{Key: "$exists", Value: false}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "seq", Value: 1}}))
	if err != nil {
		return translate(err)
	}
	var old []struct {
		ID  any   `bson:"_id"`
		Seq int64 `bson:"seq"`
	}
	if err := cur.All(ctx, &old); err != nil {
		return translate(err)
	}
	for _, e := range old {
		if _, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: e.ID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "event_id", Value: fmt.Sprintf("seq:%d", e.Seq)}}}}); err != nil {
			return translate(err)
		}
	}
	return nil
}
