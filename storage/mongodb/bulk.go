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

// Bulk writes: what imports use to store thousands of records at the
// store's own speed (one round trip per batch) with the same per-record
// guarantees as the single writes — a unique index still decides every
// duplicate, and every update is still a compare-and-set on its version.

// maxInClause bounds the ids one $in query carries, so that a lookup of
// 100,000 keys is a hundred queries of a few kilobytes each.
const maxInClause = 1000

// findIn returns every document whose field is one of values, in chunks of
// maxInClause, as domain values.
func findIn[M any, D any](ctx context.Context, c collection, field string, values []any, extra bson.D, domain func(*M) D) ([]D, error) {
	var out []D
	for start := 0; start < len(values); start += maxInClause {
		chunk := values[start:min(start+maxInClause, len(values))]
		filter := append(bson.D{{Key: field, Value: bson.D{{Key: "$in", Value: chunk}}}}, extra...)
		part, err := findAll(ctx, c, filter, options.Find().SetBatchSize(maxInClause), domain)
		if err != nil {
			return nil, err
		}
		out = append(out, part...)
	}
	return out, nil
}

// insertMany inserts docs unordered, so one duplicate does not stop the
// rest. It returns one error per document — nil when stored, the
// translated write error (ECONFLICT for a duplicate key, through onWrite
// so the store can name the field) otherwise — or an error for a failure
// of the whole call (the server unreachable). The event staged in ctx
// goes into every document (a bulk change's as its mark; see outbox.go),
// and p learns whether any was stored.
func insertMany(ctx context.Context, c collection, docs []any, onWrite func(i int, err error) error) ([]error, error) {
	errs := make([]error, len(docs))
	if len(docs) == 0 {
		return errs, nil
	}
	p, err := prepare(ctx, c, len(docs))
	if err != nil {
		return nil, err
	}
	var ids []any
	if p != nil {
		marked := make([]any, len(docs))
		ids = make([]any, len(docs))
		for i, doc := range docs {
			d, id, err := stamped(doc, p)
			if err != nil {
				return nil, err
			}
			marked[i], ids[i] = d, id
		}
		docs = marked
	}
	_, err = c.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err != nil {
		var bwe mongo.BulkWriteException
		if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
			// Some documents may have landed, with the event: recovery
			// finds it (or their mark) there.
			return nil, translate(err)
		}
		for _, we := range bwe.WriteErrors {
			if we.Index < 0 || we.Index >= len(docs) {
				return nil, translate(err)
			}
			e := translate(we)
			if onWrite != nil {
				e = onWrite(we.Index, e)
			}
			errs[we.Index] = e
		}
	}
	if p != nil {
		var written []any
		for i, id := range ids {
			if errs[i] == nil {
				written = append(written, id)
			}
		}
		landed(p, c, written...)
	}
	return errs, nil
}

// versioned is one compare-and-set replacement of a bulk update: the
// record's id, its version as read (set to the next one on success), its
// new updated_at (which tells our write from another writer's), and the
// document to store at a given version.
type versioned struct {
	ID        string
	Version   *int
	UpdatedAt time.Time
	Doc       func(next int) any
}

// replaceManyVersioned is replaceVersioned for a batch, in one unordered
// bulk write. When every filter matched, every record moved to its next
// version. Otherwise (someone else changed or removed some records during
// the batch) a second look at the unmatched ones sorts them: gone
// (ENOTFOUND), moved on (ECONFLICT), or stored by this very write (its
// next version with our updated_at). The event staged in ctx goes into
// every record (a bulk change's as its mark; see outbox.go), and p learns
// whether any was stored.
// updateChunk is the most updates one bulk write command carries.
// FerretDB v1.24 keeps a SQLite connection for every document a command
// updates until the command ends, and has 100 per database: a command of
// a hundred updates (an import batch changing a thousand known records)
// waits for a connection forever and leaves the database unusable. A
// chunk this small also leaves room for other writers' commands.
const updateChunk = 16

func replaceManyVersioned(ctx context.Context, c collection, what string, batch []versioned, onWrite func(i int, err error) error) (_ []error, retErr error) {
	errs := make([]error, len(batch))
	if len(batch) == 0 {
		return errs, nil
	}
	p, err := prepare(ctx, c, len(batch))
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(batch))
	for i, b := range batch {
		ids[i] = b.ID
	}
	defer lockDocuments(c, ids)() // FerretDB does not isolate updates: see lockDocument
	if p != nil {
		defer func() {
			if retErr != nil {
				return // what landed is unknown: recovery finds the event there
			}
			var written []any
			for i, b := range batch {
				if errs[i] == nil {
					written = append(written, b.ID)
				}
			}
			landed(p, c, written...)
		}()
	}
	models := make([]mongo.WriteModel, len(batch))
	for i, b := range batch {
		// An update that sets every field rather than a replace, so that
		// the record's pending audit events survive (see replacement).
		update, _, err := replacement(b.Doc(*b.Version+1), p)
		if err != nil {
			return nil, err
		}
		models[i] = mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: b.ID}, {Key: "version", Value: *b.Version}}).
			SetUpdate(update)
	}
	matched := 0
	for start := 0; start < len(models); start += updateChunk {
		chunk := models[start:min(start+updateChunk, len(models))]
		res, err := c.BulkWrite(ctx, chunk, options.BulkWrite().SetOrdered(false))
		if res != nil {
			matched += int(res.MatchedCount)
		}
		if err == nil {
			continue
		}
		var bwe mongo.BulkWriteException
		if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
			return nil, translate(err)
		}
		for _, we := range bwe.WriteErrors {
			if we.Index < 0 || we.Index >= len(chunk) {
				return nil, translate(err)
			}
			i := start + we.Index
			e := translate(we)
			if onWrite != nil {
				e = onWrite(i, e)
			}
			errs[i] = e
		}
	}
	failed := 0
	for _, e := range errs {
		if e != nil {
			failed++
		}
	}
	if matched == len(batch)-failed {
		for i, b := range batch {
			if errs[i] == nil {
				*b.Version++
			}
		}
		return errs, nil
	}
	// Some filters matched nothing: look at what is stored now.
	unmatched := make([]any, 0, len(batch))
	for i, b := range batch {
		if errs[i] == nil {
			unmatched = append(unmatched, b.ID)
		}
	}
	type state struct {
		ID        string    `bson:"_id"`
		Version   int       `bson:"version"`
		UpdatedAt time.Time `bson:"updated_at"`
	}
	now, err := findIn(ctx, c, "_id", unmatched, nil, func(s *state) state { return *s })
	if err != nil {
		return nil, err
	}
	stored := make(map[string]state, len(now))
	for _, s := range now {
		stored[s.ID] = s
	}
	for i, b := range batch {
		if errs[i] != nil {
			continue
		}
		s, ok := stored[b.ID]
		switch {
		case !ok:
			errs[i] = backend.Errorf(backend.ENOTFOUND, "%s not found", what)
		case s.Version == *b.Version+1 && s.UpdatedAt.Equal(b.UpdatedAt.Truncate(time.Millisecond)):
			*b.Version++ // ours
		default:
			errs[i] = &backend.Error{Code: backend.ECONFLICT,
				Message: fmt.Sprintf("the %s was changed by someone else since version %d", what, *b.Version),
				Fields:  map[string]string{"version": "stale"}}
		}
	}
	return errs, nil
}
