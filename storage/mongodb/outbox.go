package mongodb

import (
	"cmp"
	"context"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
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
// Every write to a collection in outboxCollections goes through insertOne,
// replaceOne, upsertOne or deleteOne below, or through the bulk writes
// insertMany and replaceManyVersioned (bulk.go), which add the staged event
// of the context and — for replacements — keep entries already there, so
// that a later change can never wipe out the pending event of an earlier
// one.
//
// A bulk change (backend.AuditChange.Bulk: an import batch, a dispatch's
// tasks) stages one event in every document it writes, under the same
// event ID: whichever documents landed before a crash bring the event
// with them, and recovery appends it once (PendingAuditEvents hands out
// each event ID once, whatever holds it).
//
// A deletion cannot keep the event in a document it removes. deleteOne
// therefore marks the document deleted (deletedField) and stores the
// event with the mark, in one write; the document is removed when its
// event is cleared, once it is in the chain. Until then the store's reads
// skip marked documents (notDeleted).

// outboxField holds a document's pending audit events, keyed by event ID.
const outboxField = "audit_outbox"

// deletedField marks a document deleted by an audited deletion whose event
// is not in the chain yet (see deleteOne).
const deletedField = "audit_deleted"

// notDeleted is the filter term that skips documents marked deleted.
var notDeleted = bson.E{Key: deletedField, Value: bson.D{{Key: "$exists", Value: false}}}

// outboxCollections are the collections whose documents may carry pending
// audit events; recovery looks in each of them.
var outboxCollections = []string{
	"users", "towns", "departments", "enterprises", "inspectors",
	"qualifications", "items", "item_publications", "plans",
	"tasks", // the result side of a task changes with the task (results.go)
	"findings", "non_cooperation", "evidence",
	"archive_documents",
	"replacements", "calendar_overrides", "devices",
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

// stageMany returns the event ctx carries for a write of n documents to
// c, or nil. A single-document change's event belongs in one document, so
// staging it for several is EINTERNAL: the change must be a bulk one.
func stageMany(ctx context.Context, c collection, n int) (*backend.PendingAudit, error) {
	p, err := staged(ctx, c)
	if err == nil && p != nil && !p.Bulk && n > 1 {
		return nil, backend.Errorf(backend.EINTERNAL, "the audit event of a change of one document was staged for %d documents of %s; stage a bulk change", n, c.Name())
	}
	return p, err
}

// stored tells p that its event is in documents ids of c (nothing when
// there are none).
func stored[T any](p *backend.PendingAudit, c collection, ids ...T) {
	if len(ids) == 0 {
		return
	}
	eventID := p.Event.ID
	held := make([]any, len(ids))
	for i, id := range ids {
		held[i] = id
	}
	p.Stored(func(ctx context.Context) error { return clearOutbox(ctx, c, held, eventID) })
}

// clearOutbox removes one pending event from documents ids, and the
// outbox field itself once it is empty, so that recovery's search stays
// small; a document marked deleted (deleteOne) whose outbox is empty then
// is removed. Each step is one bulk write of per-_id updates, since
// FerretDB v1 answers only _id equality from an index.
func clearOutbox(ctx context.Context, c collection, ids []any, eventID string) error {
	defer lockDocuments(c, ids)()
	byID := func(extra bson.D, update bson.D) []mongo.WriteModel {
		models := make([]mongo.WriteModel, len(ids))
		for i, id := range ids {
			models[i] = mongo.NewUpdateOneModel().SetFilter(append(bson.D{{Key: "_id", Value: id}}, extra...)).SetUpdate(update)
		}
		return models
	}
	unordered := options.BulkWrite().SetOrdered(false)
	if _, err := c.BulkWrite(ctx, byID(nil, bson.D{{Key: "$unset", Value: bson.D{{Key: outboxField + "." + eventID, Value: ""}}}}), unordered); err != nil {
		return translate(err)
	}
	empty := bson.D{{Key: outboxField, Value: bson.D{}}}
	if slices.Contains(deletingCollections, c.Name()) {
		deletes := make([]mongo.WriteModel, len(ids))
		for i, id := range ids {
			deletes[i] = mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: id}, empty[0], {Key: deletedField, Value: true}})
		}
		if _, err := c.BulkWrite(ctx, deletes, unordered); err != nil {
			return translate(err)
		}
	}
	_, err := c.BulkWrite(ctx, byID(empty, bson.D{{Key: "$unset", Value: bson.D{{Key: outboxField, Value: ""}}}}), unordered)
	return translate(err)
}

// deletingCollections are the outbox collections whose documents deleteOne
// marks deleted, which clearOutbox removes.
var deletingCollections = []string{"devices"}

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
	d, err := withOutbox(doc, p)
	if err != nil {
		return err
	}
	if _, err := c.InsertOne(ctx, d); err != nil {
		return translate(err)
	}
	stored(p, c, documentID(d))
	return nil
}

// withOutbox encodes a new document with p's event in its outbox.
func withOutbox(doc any, p *backend.PendingAudit) (bson.D, error) {
	d, err := toDocument(doc)
	if err != nil {
		return nil, err
	}
	return append(d, bson.E{Key: outboxField, Value: bson.D{{Key: p.Event.ID, Value: newOutboxEventModel(&p.Event)}}}), nil
}

// upsertOne replaces the document of c matching filter (which must name
// its _id) with doc, or inserts doc when there is none, keeping pending
// events and adding the one staged in ctx, like replaceOne.
func upsertOne(ctx context.Context, c collection, filter bson.D, doc any) error {
	p, err := staged(ctx, c)
	if err != nil {
		return err
	}
	update, id, err := replacement(doc, p)
	if err != nil {
		return err
	}
	unlock := lockDocument(c, id)
	_, err = c.UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(true))
	unlock()
	if err != nil {
		return translate(err)
	}
	if p != nil {
		stored(p, c, id)
	}
	return nil
}

// deleteOne deletes document id of c and reports whether there was one.
// With an event staged in ctx it marks the document deleted and stores the
// event with the mark instead, in one write; the document goes when its
// event is cleared (see clearOutbox), and until then notDeleted keeps it
// out of the store's reads. c must be one of deletingCollections.
func deleteOne(ctx context.Context, c collection, id any) (bool, error) {
	p, err := staged(ctx, c)
	if err != nil {
		return false, err
	}
	if p == nil {
		res, err := c.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, notDeleted})
		if err != nil {
			return false, translate(err)
		}
		return res.DeletedCount > 0, nil
	}
	if !slices.Contains(deletingCollections, c.Name()) {
		return false, backend.Errorf(backend.EINTERNAL, "collection %s does not delete by mark; add it to deletingCollections", c.Name())
	}
	unlock := lockDocument(c, id)
	res, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, notDeleted}, bson.D{{Key: "$set", Value: bson.D{
		{Key: deletedField, Value: true},
		{Key: outboxField + "." + p.Event.ID, Value: newOutboxEventModel(&p.Event)},
	}}})
	unlock()
	if err != nil {
		return false, translate(err)
	}
	if res.MatchedCount == 0 {
		return false, nil
	}
	stored(p, c, id)
	return true, nil
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
// An event several documents hold (a bulk change's, in one collection or
// more) comes once, as its earliest copy, and its Clear clears them all.
func (o *AuditOutbox) PendingAuditEvents(ctx context.Context, before time.Time, limit int) ([]*backend.PendingAudit, error) {
	type holder struct {
		ID     any                         `bson:"_id"`
		Outbox map[string]outboxEventModel `bson:"audit_outbox"`
	}
	type holders struct {
		c   collection
		ids []any
	}
	byEvent := map[string]*backend.PendingAudit{}
	held := map[string][]*holders{} // event ID → its documents, by collection
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
			for id, m := range d.Outbox {
				if !m.Time.Before(before) {
					continue
				}
				if p, ok := byEvent[id]; !ok || m.Time.Before(p.Event.Time) {
					// The earliest copy: a retry restaging a keyed event
					// (backend.AuditChange.Key) made a later one.
					byEvent[id] = &backend.PendingAudit{Event: m.event()}
				}
				hs := held[id]
				if len(hs) == 0 || hs[len(hs)-1].c != c {
					hs = append(hs, &holders{c: c})
					held[id] = hs
				}
				h := hs[len(hs)-1]
				h.ids = append(h.ids, d.ID)
			}
		}
	}
	out := make([]*backend.PendingAudit, 0, len(byEvent))
	for id, p := range byEvent {
		for _, h := range held[id] {
			stored(p, h.c, h.ids...)
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *backend.PendingAudit) int {
		return cmp.Or(a.Event.Time.Compare(b.Event.Time), strings.Compare(a.Event.ID, b.Event.ID))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
