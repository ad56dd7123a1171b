package mongodb

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// versionModel is how a record version is stored.
type versionModel struct {
	ObjectType string             `bson:"object_type"`
	ObjectID   string             `bson:"object_id"`
	Number     int                `bson:"number"`
	At         time.Time          `bson:"at"`
	ActorID    string             `bson:"actor_id"`
	ActorName  string             `bson:"actor_name"`
	Action     string             `bson:"action"`
	Changes    []fieldChangeModel `bson:"changes"`
}

// fieldChangeModel keeps values as their JSON text, so that any value the
// domain diffed comes back exactly as it went in.
type fieldChangeModel struct {
	Field  string `bson:"field"`
	Before string `bson:"before"`
	After  string `bson:"after"`
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
	m := versionModel{
		ObjectType: v.ObjectType, ObjectID: v.ObjectID, Number: v.Number, At: v.At,
		ActorID: v.ActorID, ActorName: v.ActorName, Action: v.Action,
		Changes: make([]fieldChangeModel, len(v.Changes)),
	}
	for i, c := range v.Changes {
		m.Changes[i] = fieldChangeModel{Field: c.Field, Before: jsonText(c.Before), After: jsonText(c.After)}
	}
	return m
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
		v := &backend.Version{
			ObjectType: m.ObjectType, ObjectID: m.ObjectID, Number: m.Number, At: m.At.UTC(),
			ActorID: m.ActorID, ActorName: m.ActorName, Action: m.Action,
			Changes: make([]backend.FieldChange, len(m.Changes)),
		}
		for j, c := range m.Changes {
			v.Changes[j] = backend.FieldChange{Field: c.Field, Before: fromJSONText(c.Before), After: fromJSONText(c.After)}
		}
		out[i] = v
	}
	return out, nil
}
