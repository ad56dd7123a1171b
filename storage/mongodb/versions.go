package mongodb

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// versionModel is how a record version is stored.
type versionModel struct {
	ObjectType string    `bson:"object_type"`
	ObjectID   string    `bson:"object_id"`
	Number     int       `bson:"number"`
	At         time.Time `bson:"at"`
	ActorID    string    `bson:"actor_id"`
	ActorName  string    `bson:"actor_name"`
	Action     string    `bson:"action"`
	// Changes is the list of changed fields as one JSON text
	// ([{"field","before","after"}…], values as the domain diffed them),
	// so that any value comes back exactly as it went in, and a version is
	// one flat document: a 100,000-row import writes 100,000 of them, and
	// nested arrays of sub-documents cost FerretDB several times more.
	// Versions written before this layout hold an array of
	// fieldChangeModel instead; both are read.
	Changes bson.RawValue `bson:"changes"`
}

// fieldChangeModel is the older layout of one change: values as JSON text.
type fieldChangeModel struct {
	Field  string `bson:"field"`
	Before string `bson:"before"`
	After  string `bson:"after"`
}

// changeJSON is one change in the JSON text layout.
type changeJSON struct {
	Field  string          `json:"field"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}

// Versions returns the version store.
func (db *DB) Versions() *VersionStore { return &VersionStore{db: db} }

// VersionStore implements backend.VersionStore on the versions collection.
type VersionStore struct{ db *DB }

var _ backend.VersionStore = (*VersionStore)(nil)

func (s *VersionStore) coll() collection { return s.db.collection("versions") }

// AppendVersion implements backend.VersionStore.
func (s *VersionStore) AppendVersion(ctx context.Context, v *backend.Version) error {
	_, err := s.coll().InsertOne(ctx, toVersionModel(v))
	return translate(err)
}

func toVersionModel(v *backend.Version) versionModel {
	changes := make([]changeJSON, len(v.Changes))
	for i, c := range v.Changes {
		changes[i] = changeJSON{Field: c.Field, Before: json.RawMessage(jsonText(c.Before)), After: json.RawMessage(jsonText(c.After))}
	}
	text, _ := json.Marshal(changes) // values were JSON-encodable: jsonText
	t, data, _ := bson.MarshalValue(string(text))
	return versionModel{
		ObjectType: v.ObjectType, ObjectID: v.ObjectID, Number: v.Number, At: v.At,
		ActorID: v.ActorID, ActorName: v.ActorName, Action: v.Action,
		Changes: bson.RawValue{Type: t, Value: data},
	}
}

// domainChanges reads either layout of a version's changes.
func (m *versionModel) domainChanges() []backend.FieldChange {
	out := []backend.FieldChange{}
	if text, ok := m.Changes.StringValueOK(); ok {
		var changes []changeJSON
		_ = json.Unmarshal([]byte(text), &changes)
		for _, c := range changes {
			out = append(out, backend.FieldChange{Field: c.Field, Before: fromJSONText(string(c.Before)), After: fromJSONText(string(c.After))})
		}
		return out
	}
	var old []fieldChangeModel
	_ = m.Changes.Unmarshal(&old)
	for _, c := range old {
		out = append(out, backend.FieldChange{Field: c.Field, Before: fromJSONText(c.Before), After: fromJSONText(c.After)})
	}
	return out
}

// AppendVersions implements backend.VersionStore.
func (s *VersionStore) AppendVersions(ctx context.Context, vs []*backend.Version) error {
	docs := make([]any, len(vs))
	for i, v := range vs {
		docs[i] = toVersionModel(v)
	}
	errs, err := insertMany(ctx, s.coll(), docs, nil)
	if err != nil {
		return err
	}
	return errors.Join(errs...)
}

// FindVersions implements backend.VersionStore.
func (s *VersionStore) FindVersions(ctx context.Context, objectType, objectID string) ([]*backend.Version, error) {
	cur, err := s.coll().Find(ctx,
		bson.D{{Key: "object_type", Value: objectType}, {Key: "object_id", Value: objectID}},
		options.Find().SetSort(bson.D{{Key: "number", Value: 1}}))
	if err != nil {
		return nil, translate(err)
	}
	var models []versionModel
	if err := cur.All(ctx, &models); err != nil {
		return nil, translate(err)
	}
	out := make([]*backend.Version, len(models))
	for i, m := range models {
		out[i] = &backend.Version{
			ObjectType: m.ObjectType, ObjectID: m.ObjectID, Number: m.Number, At: m.At.UTC(),
			ActorID: m.ActorID, ActorName: m.ActorName, Action: m.Action,
			Changes: m.domainChanges(),
		}
	}
	return out, nil
}
