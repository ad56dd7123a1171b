package mongodb

import (
	"encoding/json"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

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
