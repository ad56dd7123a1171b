package mongodb

import (
	"cmp"
	"context"
	"encoding/binary"
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
// Every write to a collection in outboxCollections goes through insertOne,
// replaceOne, upsertOne, setFields, setFieldsIf or deleteOne below, or
// through the bulk writes insertMany and replaceManyVersioned (bulk.go),
// which add the staged event of the context and — for replacements — keep
// entries already there, so that a later change can never wipe out the
// pending event of an earlier one.
//
// A bulk change (backend.AuditChange.Bulk: an import batch, a dispatch's
// plan and tasks; a change of a few documents of different collections —
// a plan's commit or draw, a replacement's draw — is staged the same
// way, as the event of one document cannot name the others) would cost an update per document to clear, which on
// FerretDB v1 is milliseconds each (every update is a transaction of its
// own): seconds per thousand-row batch. So its event is written once per
// collection ahead of the change, in aheadCollection, and each document
// the change writes takes a mark naming the event (markField) in the same
// write; the mark stays, and clearing the event removes only the entries
// ahead. Recovery appends an event written ahead when a document of its
// collection bears its mark — the change landed, wholly or in part — and
// drops it, once older than aheadGrace, when none does: the change never
// landed. (A later bulk change overwrites a document's mark; should it
// rewrite every document of an interrupted one before recovery looks,
// that one's event would be dropped. Recovery runs at start and every
// minute, so the window is that short.)
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

// markField names, in a document a bulk change wrote, the ID of that
// change's event; aheadCollection holds bulk changes' events written
// ahead of them, one document per event and collection (aheadModel).
const (
	markField       = "audit_event"
	aheadCollection = "audit_ahead"
)

// aheadGrace is how long an event written ahead of a bulk change whose
// documents bear no mark is kept: its change may still be being written.
// A batch's write takes seconds.
const aheadGrace = 10 * time.Minute

// aheadModel is a bulk change's event written ahead of its writes to one
// collection.
type aheadModel struct {
	ID         string           `bson:"_id"` // event ID + "/" + collection
	EventID    string           `bson:"event_id"`
	Collection string           `bson:"collection"`
	Event      outboxEventModel `bson:"event"`
}

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
	// A draw attempt, its sealed seed and a replacement's record are
	// written with the event of the change they are part of (a plan's
	// draw, commit or a task's replacement: bulk changes).
	"draws", "plan_seeds", "replacement_records",
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

// prepare returns the event ctx carries for a write of n documents to c,
// or nil. For a bulk change it first writes the event ahead (once per
// change and collection). A single-document change's event belongs in one
// document, so staging it for several is EINTERNAL: the change must be a
// bulk one.
func prepare(ctx context.Context, c collection, n int) (*backend.PendingAudit, error) {
	p, err := staged(ctx, c)
	switch {
	case err != nil || p == nil:
		return nil, err
	case p.Bulk:
		return p, writeAhead(ctx, c, p)
	case n > 1:
		return nil, backend.Errorf(backend.EINTERNAL, "the audit event of a change of one document was staged for %d documents of %s; stage a bulk change", n, c.Name())
	}
	return p, nil
}

// writeAhead writes bulk change p's event ahead of its first write to c.
func writeAhead(ctx context.Context, c collection, p *backend.PendingAudit) error {
	return p.Once("ahead:"+c.Name(), func() error {
		ahead := c.Database().Collection(aheadCollection)
		id := p.Event.ID + "/" + c.Name()
		_, err := ahead.InsertOne(ctx, aheadModel{ID: id, EventID: p.Event.ID, Collection: c.Name(), Event: newOutboxEventModel(&p.Event)})
		// A duplicate is the same event written ahead by an earlier attempt
		// of a change named by a key (backend.AuditChange.Key), which a
		// crash cut short: it serves this attempt as well. It is not this
		// attempt's to remove: should this one store nothing (the earlier
		// one wrote everything), removing it would lose the event of what
		// the earlier one stored. Recovery appends it, or finds it in the
		// chain, and clears it.
		if err = translate(err); backend.ErrorCode(err) == backend.ECONFLICT {
			return nil
		} else if err != nil {
			return err
		}
		p.Ahead(func(ctx context.Context) error {
			_, err := ahead.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
			return translate(err)
		})
		return nil
	})
}

// stamped encodes a new document with p's event added: in its outbox, or,
// for a bulk change, as its mark. It returns the document and its _id.
// The event's field is spliced into the encoded document rather than the
// document decoded and encoded again, which would cost an import batch
// tens of milliseconds.
func stamped(doc any, p *backend.PendingAudit) (bson.Raw, any, error) {
	raw, err := bson.Marshal(doc)
	if err != nil {
		return nil, nil, backend.Wrap(err, backend.EINTERNAL, "encoding a document")
	}
	field := bson.D{{Key: markField, Value: p.Event.ID}}
	if !p.Bulk {
		field = bson.D{{Key: outboxField, Value: bson.D{{Key: p.Event.ID, Value: newOutboxEventModel(&p.Event)}}}}
	}
	extra, err := bson.Marshal(field)
	if err != nil {
		return nil, nil, backend.Wrap(err, backend.EINTERNAL, "encoding an audit event")
	}
	// A document is its length (4 bytes), its elements and a 0 byte.
	out := make([]byte, 0, len(raw)+len(extra))
	out = append(out, raw[:len(raw)-1]...)
	out = append(out, extra[4:]...)
	binary.LittleEndian.PutUint32(out, uint32(len(out)))
	var id any
	if v, err := bson.Raw(out).LookupErr("_id"); err == nil {
		if err := v.Unmarshal(&id); err != nil {
			return nil, nil, backend.Wrap(err, backend.EINTERNAL, "reading a document's _id")
		}
	}
	return out, id, nil
}

// landed tells p that documents ids of c were written with its event
// (nothing when there are none): for a bulk change, that some bear its
// mark; otherwise, that document ids[0] holds it in its outbox.
func landed(p *backend.PendingAudit, c collection, ids ...any) {
	switch {
	case len(ids) == 0:
	case p.Bulk:
		p.Stored(nil) // marks stay; the event written ahead is cleared
	default:
		id, eventID := ids[0], p.Event.ID
		p.Stored(func(ctx context.Context) error { return clearOutbox(ctx, c, id, eventID) })
	}
}

// clearOutbox removes one pending event from document id, and the outbox
// field itself once it is empty, so that recovery's search stays small; a
// document marked deleted (deleteOne) whose outbox is empty then is
// removed.
func clearOutbox(ctx context.Context, c collection, id any, eventID string) error {
	defer lockDocument(c, id)()
	if _, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: outboxField + "." + eventID, Value: ""}}}}); err != nil {
		return translate(err)
	}
	empty := bson.E{Key: outboxField, Value: bson.D{}}
	if slices.Contains(deletingCollections, c.Name()) {
		if _, err := c.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, empty, {Key: deletedField, Value: true}}); err != nil {
			return translate(err)
		}
	}
	_, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, empty},
		bson.D{{Key: "$unset", Value: bson.D{{Key: outboxField, Value: ""}}}})
	return translate(err)
}

// deletingCollections are the outbox collections whose documents deleteOne
// marks deleted, which clearOutbox removes.
var deletingCollections = []string{"devices"}

// insertOne inserts doc into c, with the event staged in ctx (if any) in
// its outbox (or, for a bulk change, its mark).
func insertOne(ctx context.Context, c collection, doc any) error {
	p, err := prepare(ctx, c, 1)
	if err != nil {
		return err
	}
	if p == nil {
		_, err := c.InsertOne(ctx, doc)
		return translate(err)
	}
	d, id, err := stamped(doc, p)
	if err != nil {
		return err
	}
	if _, err := c.InsertOne(ctx, d); err != nil {
		return translate(err)
	}
	landed(p, c, id)
	return nil
}

// upsertOne replaces the document of c matching filter (which must name
// its _id) with doc, or inserts doc when there is none, keeping pending
// events and adding the one staged in ctx, like replaceOne.
func upsertOne(ctx context.Context, c collection, filter bson.D, doc any) error {
	p, err := prepare(ctx, c, 1)
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
		landed(p, c, id)
	}
	return nil
}

// deleteOne deletes document id of c and reports whether there was one.
// With an event staged in ctx it marks the document deleted and stores the
// event with the mark instead, in one write; the document goes when its
// event is cleared (see clearOutbox), and until then notDeleted keeps it
// out of the store's reads. c must be one of deletingCollections.
func deleteOne(ctx context.Context, c collection, id any) (bool, error) {
	p, err := prepare(ctx, c, 1)
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
	if p.Bulk || !slices.Contains(deletingCollections, c.Name()) {
		return false, backend.Errorf(backend.EINTERNAL, "collection %s does not delete by mark, or not in bulk", c.Name())
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
	landed(p, c, id)
	return true, nil
}

// replaceOne replaces the document of c matching filter (which must name
// its _id) with doc and reports whether one matched. Unlike the driver's
// ReplaceOne it keeps the document's pending audit events and adds the one
// staged in ctx (see replacement).
func replaceOne(ctx context.Context, c collection, filter bson.D, doc any) (bool, error) {
	p, err := prepare(ctx, c, 1)
	if err != nil {
		return false, err
	}
	update, id, err := replacement(doc, p)
	if err != nil {
		return false, err
	}
	return updateLanded(ctx, c, p, id, filter, update)
}

// setFields sets fields of document id of c and reports whether there
// was one, adding the event staged in ctx (if any) to its outbox — or, for
// a bulk change, as its mark — in the same write.
func setFields(ctx context.Context, c collection, id any, set bson.D) (bool, error) {
	p, err := prepare(ctx, c, 1)
	if err != nil {
		return false, err
	}
	if p != nil {
		set = append(set, eventField(p))
	}
	return updateLanded(ctx, c, p, id, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: set}})
}

// setFieldsIf is setFields as a compare-and-set: it sets fields of
// document id of c only while the document also matches where (terms
// besides its _id), and reports whether it did.
func setFieldsIf(ctx context.Context, c collection, id any, where, set bson.D) (bool, error) {
	p, err := prepare(ctx, c, 1)
	if err != nil {
		return false, err
	}
	if p != nil {
		set = append(set, eventField(p))
	}
	filter := append(bson.D{{Key: "_id", Value: id}}, where...)
	return updateLanded(ctx, c, p, id, filter, bson.D{{Key: "$set", Value: set}})
}

// updateLanded applies update to the document of c matching filter (id
// its _id) and reports whether one matched; when one did, the change
// staged as p (if any) has landed there. The document's lock is held
// around the write: FerretDB does not isolate updates, and an earlier
// event may be being cleared from the same document.
func updateLanded(ctx context.Context, c collection, p *backend.PendingAudit, id any, filter, update bson.D) (bool, error) {
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
		landed(p, c, id)
	}
	return true, nil
}

// eventField is the $set term that writes p's event with a document: an
// entry of its outbox, or, for a bulk change, its mark.
func eventField(p *backend.PendingAudit) bson.E {
	if p.Bulk {
		return bson.E{Key: markField, Value: p.Event.ID}
	}
	return bson.E{Key: outboxField + "." + p.Event.ID, Value: newOutboxEventModel(&p.Event)}
}

// replacement turns doc into an update that replaces the document as far
// as its model can tell — it sets every field of doc and unsets the
// model's fields doc leaves out (omitempty) — while keeping the pending
// audit events the document holds, and adding p's (when not nil; a bulk
// change's as the document's mark). A plain replace would drop them, and
// with them the only record of a change whose append was interrupted. It
// also returns doc's _id.
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
		set = append(set, eventField(p))
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
// change's write until its append a moment later, unless something failed;
// and the events written ahead of bulk changes, as few, of which it
// returns those whose change landed (a document of their collection bears
// their mark) and drops those whose change never did (none does, and they
// are older than aheadGrace). Each event comes once, however many places
// hold it, and its Clear clears them all.
func (o *AuditOutbox) PendingAuditEvents(ctx context.Context, before time.Time, limit int) ([]*backend.PendingAudit, error) {
	events := map[string]*backend.PendingAudit{}
	// add keeps the earliest copy of an event and how to clear each.
	add := func(m outboxEventModel, clear func(context.Context) error) {
		p, ok := events[m.ID]
		if !ok || m.Time.Before(p.Event.Time) {
			// A later copy: a repeat of a change named by a key
			// (backend.AuditChange.Key) staged the event again.
			q := &backend.PendingAudit{Event: m.event()}
			if ok {
				q.Stored(p.Clear)
			}
			events[m.ID], p = q, q
		}
		p.Stored(clear)
	}
	err := o.outboxes(ctx, func(c collection, id any, m outboxEventModel) {
		if m.Time.Before(before) {
			add(m, func(ctx context.Context) error { return clearOutbox(ctx, c, id, m.ID) })
		}
	})
	if err != nil {
		return nil, err
	}
	aheads, err := o.aheads(ctx)
	if err != nil {
		return nil, err
	}
	for id, list := range aheads {
		if !list[0].Event.Time.Before(before) {
			continue
		}
		drop := func(ctx context.Context) error {
			_, err := o.db.collection(aheadCollection).DeleteMany(ctx, bson.D{{Key: "event_id", Value: id}})
			return translate(err)
		}
		found := false
		for _, a := range list {
			// One document is enough; FerretDB reads the collection to
			// find it (there is no index on the mark), which is rare: only
			// for an event whose change was interrupted.
			err := o.db.collection(a.Collection).FindOne(ctx, bson.D{{Key: markField, Value: id}},
				options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
			if err == nil {
				found = true
				break
			}
			if err = translate(err); backend.ErrorCode(err) != backend.ENOTFOUND {
				return nil, err
			}
		}
		switch {
		case found:
			add(list[0].Event, drop)
		case time.Since(list[0].Event.Time) > aheadGrace:
			// The change never landed: nothing to audit.
			if err := drop(ctx); err != nil {
				return nil, err
			}
		}
	}
	out := make([]*backend.PendingAudit, 0, len(events))
	for _, p := range events {
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

// CountPendingAuditEvents implements backend.AuditOutbox: the distinct
// events in outboxes and written ahead of bulk changes.
func (o *AuditOutbox) CountPendingAuditEvents(ctx context.Context) (int, error) {
	ids := map[string]bool{}
	if err := o.outboxes(ctx, func(_ collection, _ any, m outboxEventModel) { ids[m.ID] = true }); err != nil {
		return 0, err
	}
	aheads, err := o.aheads(ctx)
	for id := range aheads {
		ids[id] = true
	}
	return len(ids), err
}

// outboxes calls fn for every pending event in a document's outbox.
func (o *AuditOutbox) outboxes(ctx context.Context, fn func(c collection, id any, m outboxEventModel)) error {
	type holder struct {
		ID     any                         `bson:"_id"`
		Outbox map[string]outboxEventModel `bson:"audit_outbox"`
	}
	for _, name := range outboxCollections {
		c := o.db.collection(name)
		cur, err := c.Find(ctx, bson.D{{Key: outboxField, Value: bson.D{{Key: "$exists", Value: true}}}},
			options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: outboxField, Value: 1}}))
		if err != nil {
			return translate(err)
		}
		var docs []holder
		if err := cur.All(ctx, &docs); err != nil {
			return translate(err)
		}
		for _, d := range docs {
			for key, m := range d.Outbox {
				m.ID = key
				fn(c, d.ID, m)
			}
		}
	}
	return nil
}

// aheads returns the events written ahead of bulk changes, by event ID,
// the earliest copy first.
func (o *AuditOutbox) aheads(ctx context.Context) (map[string][]aheadModel, error) {
	list, err := findAll(ctx, o.db.collection(aheadCollection), bson.D{}, options.Find(), func(m *aheadModel) aheadModel { return *m })
	if err != nil {
		return nil, err
	}
	out := map[string][]aheadModel{}
	for _, a := range list {
		out[a.EventID] = append(out[a.EventID], a)
	}
	for _, l := range out {
		slices.SortFunc(l, func(a, b aheadModel) int { return a.Event.Time.Compare(b.Event.Time) })
	}
	return out, nil
}
