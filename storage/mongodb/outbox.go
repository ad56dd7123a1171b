package mongodb

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// The audit outbox (see backend.Auditor.Change). FerretDB v1 has no
// multi-document transactions, so a change and its audit event cannot be
// two documents written together. Instead the write that makes a change
// also stores the change's staged event inside the changed document, in
// the field outboxField (a map from event ID to event): one document, one
// atomic write, so the change and its event exist together or not at all.
// Once the event is in the chain, the entry is removed again; after a crash
// in between, backend/audit.Recorder.Recover finds it here (AuditOutbox)
// and completes the append.
//
// Every write to a collection in outboxCollections goes through insertOne
// or replaceOne below, which add the staged event of the context and — for
// replacements — keep entries already there, so that a later change can
// never wipe out the pending event of an earlier one.

// outboxField holds a document's pending audit events, keyed by event ID.
const outboxField = "audit_outbox"

// outboxCollections are the collections whose documents may carry pending
// audit events; recovery looks in each of them.
var outboxCollections = []string{
	"users", "towns", "departments", "enterprises", "inspectors",
	"qualifications", "items", "item_publications", "plans",
	"tasks", // the result side of a task changes with the task (results.go)
	"findings", "non_cooperation", "evidence",
	"archive_documents",
}

// outboxEventModel is a pending event as its document stores it.
type outboxEventModel struct {
	ID           string    `bson:"id"`
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
}

func newOutboxEventModel(e *backend.AuditEvent) outboxEventModel {
	return outboxEventModel{
		ID: e.ID, Time: e.Time.UTC(), ActorID: e.ActorID, ActorName: e.ActorName, Action: e.Action,
		ObjectType: e.ObjectType, ObjectID: e.ObjectID, BeforeDigest: e.BeforeDigest, AfterDigest: e.AfterDigest,
		RequestID: e.RequestID, ClientIP: e.ClientIP,
	}
}

func (m *outboxEventModel) event() backend.AuditEvent {
	return backend.AuditEvent{
		ID: m.ID, Time: m.Time.UTC(), ActorID: m.ActorID, ActorName: m.ActorName, Action: m.Action,
		ObjectType: m.ObjectType, ObjectID: m.ObjectID, BeforeDigest: m.BeforeDigest, AfterDigest: m.AfterDigest,
		RequestID: m.RequestID, ClientIP: m.ClientIP,
	}
}

// staged returns the event ctx carries for a write to c, or nil. It is
// EINTERNAL to stage an event for a collection recovery does not search.
func staged(ctx context.Context, c collection) (*backend.PendingAudit, error) {
	p := backend.PendingAuditFromContext(ctx)
	if p != nil && !slices.Contains(outboxCollections, c.Name()) {
		return nil, backend.Errorf(backend.EINTERNAL, "collection %s keeps no audit outbox; add it to outboxCollections", c.Name())
	}
	return p, nil
}

// stored tells p that its event is in document id of c.
func stored(p *backend.PendingAudit, c collection, id any) {
	eventID := p.Event.ID
	p.Stored(func(ctx context.Context) error { return clearOutbox(ctx, c, id, eventID) })
}

// clearOutbox removes one pending event from document id, and the outbox
// field itself once it is empty, so that recovery's search stays small.
func clearOutbox(ctx context.Context, c collection, id any, eventID string) error {
	defer lockDocument(c, id)()
	if _, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: outboxField + "." + eventID, Value: ""}}}}); err != nil {
		return translate(err)
	}
	_, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: outboxField, Value: bson.D{}}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: outboxField, Value: ""}}}})
	return translate(err)
}

// insertOne inserts doc into c, with the event staged in ctx (if any) in
// its outbox.
func insertOne(ctx context.Context, c collection, doc any) error {
	p, err := staged(ctx, c)
	if err != nil {
		return err
	}
	if p == nil {
		_, err := c.InsertOne(ctx, doc)
		return translate(err)
	}
	d, err := toDocument(doc)
	if err != nil {
		return err
	}
	d = append(d, bson.E{Key: outboxField, Value: bson.D{{Key: p.Event.ID, Value: newOutboxEventModel(&p.Event)}}})
	if _, err := c.InsertOne(ctx, d); err != nil {
		return translate(err)
	}
	stored(p, c, documentID(d))
	return nil
}

// replaceOne replaces the document of c matching filter (which must name
// its _id) with doc and reports whether one matched. Unlike the driver's
// ReplaceOne it keeps the document's pending audit events and adds the one
// staged in ctx (see replacement).
func replaceOne(ctx context.Context, c collection, filter bson.D, doc any) (bool, error) {
	p, err := staged(ctx, c)
	if err != nil {
		return false, err
	}
	update, id, err := replacement(doc, p)
	if err != nil {
		return false, err
	}
	unlock := lockDocument(c, id)
	res, err := c.UpdateOne(ctx, filter, update)
	unlock()
	if err != nil {
		return false, translate(err)
	}
	if res.MatchedCount == 0 {
		return false, nil
	}
	if p != nil {
		stored(p, c, id)
	}
	return true, nil
}

// replacement turns doc into an update that replaces the document as far
// as its model can tell — it sets every field of doc and unsets the
// model's fields doc leaves out (omitempty) — while keeping the pending
// audit events the document holds, and adding p's (when not nil). A plain
// replace would drop them, and with them the only record of a change
// whose append was interrupted. It also returns doc's _id.
func replacement(doc any, p *backend.PendingAudit) (bson.D, any, error) {
	d, err := toDocument(doc)
	if err != nil {
		return nil, nil, err
	}
	set := bson.D{}
	present := map[string]bool{}
	for _, e := range d {
		present[e.Key] = true
		if e.Key != "_id" {
			set = append(set, e)
		}
	}
	if p != nil {
		set = append(set, bson.E{Key: outboxField + "." + p.Event.ID, Value: newOutboxEventModel(&p.Event)})
	}
	update := bson.D{{Key: "$set", Value: set}}
	unset := bson.D{}
	for _, name := range modelFields(reflect.TypeOf(doc)) {
		if !present[name] && name != outboxField {
			unset = append(unset, bson.E{Key: name, Value: ""})
		}
	}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	return update, documentID(d), nil
}

// toDocument encodes a model as a bson.D.
func toDocument(doc any) (bson.D, error) {
	raw, err := bson.Marshal(doc)
	if err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "encoding a document")
	}
	var d bson.D
	if err := bson.Unmarshal(raw, &d); err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "encoding a document")
	}
	return d, nil
}

// documentID returns the _id of an encoded document.
func documentID(d bson.D) any {
	for _, e := range d {
		if e.Key == "_id" {
			return e.Value
		}
	}
	return nil
}

// fieldCache remembers modelFields per type.
var fieldCache sync.Map // reflect.Type → []string

// modelFields lists the stored field names of a model struct (or pointer
// to one), as the driver names them: the bson tag's name, or the field
// name in lower case.
func modelFields(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	if names, ok := fieldCache.Load(t); ok {
		return names.([]string)
	}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("bson"), ",")
		switch {
		case name == "-":
			continue
		case name == "" && slices.Contains(strings.Split(opts, ","), "inline"):
			names = append(names, modelFields(f.Type)...) // an embedded model's fields are the document's own
			continue
		case name == "":
			name = strings.ToLower(f.Name)
		}
		names = append(names, name)
	}
	fieldCache.Store(t, names)
	return names
}

// AuditOutbox finds pending audit events in every collection that keeps
// them: backend.AuditOutbox for audit.Recorder.Recover.
type AuditOutbox struct{ db *DB }

var _ backend.AuditOutbox = (*AuditOutbox)(nil)

// AuditOutbox returns the finder of pending audit events on db.
func (db *DB) AuditOutbox() *AuditOutbox { return &AuditOutbox{db: db} }

// PendingAuditEvents implements backend.AuditOutbox. It reads only the
// documents that hold an outbox, which are few: an entry lives from a
// change's write until its append a moment later, unless something failed.
func (o *AuditOutbox) PendingAuditEvents(ctx context.Context, before time.Time, limit int) ([]*backend.PendingAudit, error) {
	type holder struct {
		ID     any                         `bson:"_id"`
		Outbox map[string]outboxEventModel `bson:"audit_outbox"`
	}
	var out []*backend.PendingAudit
	for _, name := range outboxCollections {
		c := o.db.collection(name)
		cur, err := c.Find(ctx, bson.D{{Key: outboxField, Value: bson.D{{Key: "$exists", Value: true}}}},
			options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: outboxField, Value: 1}}))
		if err != nil {
			return nil, translate(err)
		}
		var docs []holder
		if err := cur.All(ctx, &docs); err != nil {
			return nil, translate(err)
		}
		for _, d := range docs {
			for _, m := range d.Outbox {
				if !m.Time.Before(before) {
					continue
				}
				p := &backend.PendingAudit{Event: m.event()}
				stored(p, c, d.ID)
				out = append(out, p)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b *backend.PendingAudit) int { return a.Event.Time.Compare(b.Event.Time) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
