package mongodb

import (
	"context"
	"encoding/json"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// collection is the driver's collection type, named once here.
type collection = *mongo.Collection

func (db *DB) collection(name string) collection { return db.db.Collection(name) }

// newID returns a fresh document id: an ObjectID in hex, so ids sort by
// creation time and are opaque strings to everyone above this package.
func newID() string { return bson.NewObjectID().Hex() }

// notFound gives an ENOTFOUND a message naming what was missing; other
// errors pass through.
func notFound(err error, message string) error {
	if backend.ErrorCode(err) == backend.ENOTFOUND {
		return backend.Wrap(err, backend.ENOTFOUND, "%s", message)
	}
	return err
}

// findIDs returns the ids of the documents of c matching filter, at most
// limit of them (0: all), reading nothing else.
func findIDs(ctx context.Context, c collection, filter bson.D, limit int) ([]string, error) {
	cur, err := c.Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, translate(err)
	}
	var rows []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, translate(err)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids, nil
}

// anySlice converts values for a $in filter.
func anySlice[T any](values []T) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = v
	}
	return out
}

// jsonText encodes a value as JSON text for storage ("null" for nil).
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

// fromJSONText decodes what jsonText stored.
func fromJSONText(s string) any {
	var v any
	_ = json.Unmarshal([]byte(s), &v)
	return v
}

// findAll runs a find and returns every stored document M as its domain
// value, through M's domain method.
func findAll[M any, D any](ctx context.Context, c collection, filter any, opts options.Lister[options.FindOptions], domain func(*M) D) ([]D, error) {
	cur, err := c.Find(ctx, filter, opts)
	if err != nil {
		return nil, translate(err)
	}
	var models []M
	if err := cur.All(ctx, &models); err != nil {
		return nil, translate(err)
	}
	out := make([]D, len(models))
	for i := range models {
		out[i] = domain(&models[i])
	}
	return out, nil
}

// replaceVersioned is the compare-and-set every versioned record uses, so
// two concurrent edits cannot both win. The convention, for every store:
// the caller passes the record as it read it (*version is the version it
// read); the store writes doc(next) — the record at version next =
// *version+1 — only if the stored version is still *version, and on
// success sets *version = next. Callers never bump versions themselves.
//
// A write error goes through onWrite (nil for translate alone), which lets
// a store name the unique field that clashed; when nothing matched, a
// second look tells a record that is gone (ENOTFOUND) from one that moved
// on (ECONFLICT, fields.version "stale").
func replaceVersioned(ctx context.Context, c collection, id string, version *int, doc func(next int) any, what string, onWrite func(error) error) error {
	prev := *version
	matched, err := replaceOne(ctx, c, bson.D{{Key: "_id", Value: id}, {Key: "version", Value: prev}}, doc(prev+1))
	if err != nil {
		if onWrite != nil {
			return onWrite(err)
		}
		return err
	}
	if matched {
		*version = prev + 1
		return nil
	}
	n, err := c.CountDocuments(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return backend.Errorf(backend.ENOTFOUND, "%s not found", what)
	}
	return &backend.Error{Code: backend.ECONFLICT,
		Message: fmt.Sprintf("the %s was changed by someone else since version %d; reload it and try again", what, prev),
		Fields:  map[string]string{"version": "stale"}}
}
