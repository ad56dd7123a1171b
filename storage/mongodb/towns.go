package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// townModel is how a town is stored.
type townModel struct {
	ID        string    `bson:"_id"`
	Name      string    `bson:"name"`
	Code      string    `bson:"code"`
	CreatedAt time.Time `bson:"created_at"`
}

func (m *townModel) domain() *backend.Town {
	return &backend.Town{ID: m.ID, Name: m.Name, Code: m.Code, CreatedAt: m.CreatedAt.UTC()}
}

// Towns returns the town store.
func (db *DB) Towns() *TownStore { return &TownStore{db: db} }

// TownStore implements backend.TownStore on the towns collection.
type TownStore struct{ db *DB }

var _ backend.TownStore = (*TownStore)(nil)

func (s *TownStore) coll() collection { return s.db.collection("towns") }

// CreateTown implements backend.TownStore.
func (s *TownStore) CreateTown(ctx context.Context, t *backend.Town) error {
	if t.ID == "" {
		t.ID = newID()
	}
	err := insertOne(ctx, s.coll(), townModel{ID: t.ID, Name: t.Name, Code: t.Code, CreatedAt: t.CreatedAt})
	if backend.ErrorCode(err) == backend.ECONFLICT {
		return backend.Wrap(err, backend.ECONFLICT, "town %s already exists", t.Name)
	}
	return translate(err)
}

// FindTowns implements backend.TownStore.
func (s *TownStore) FindTowns(ctx context.Context) ([]*backend.Town, error) {
	out, err := findAll(ctx, s.coll(), bson.D{}, options.Find().SetSort(bson.D{{Key: "name", Value: 1}}), (*townModel).domain)
	return out, err
}

// FindTownByName implements backend.TownStore.
func (s *TownStore) FindTownByName(ctx context.Context, name string) (*backend.Town, error) {
	var m townModel
	if err := s.coll().FindOne(ctx, bson.D{{Key: "name", Value: name}}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "town not found")
	}
	return m.domain(), nil
}
