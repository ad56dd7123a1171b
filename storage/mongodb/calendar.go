package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// calendarOverrideModel is one override of the working-day calendar; the
// date is the document id, so a date has at most one.
type calendarOverrideModel struct {
	Date      string    `bson:"_id"`
	Kind      string    `bson:"kind"`
	Name      string    `bson:"name"`
	CreatedBy string    `bson:"created_by"`
	CreatedAt time.Time `bson:"created_at"`
}

func (m *calendarOverrideModel) domain() *backend.CalendarOverride {
	return &backend.CalendarOverride{Date: m.Date, Kind: m.Kind, Name: m.Name, CreatedBy: m.CreatedBy, CreatedAt: m.CreatedAt.UTC()}
}

// Calendar returns the store of the bureau's calendar overrides.
func (db *DB) Calendar() *CalendarStore { return &CalendarStore{db: db} }

// CalendarStore implements backend.CalendarStore.
type CalendarStore struct{ db *DB }

var _ backend.CalendarStore = (*CalendarStore)(nil)

func (s *CalendarStore) coll() collection { return s.db.collection("calendar_overrides") }

// PutOverride implements backend.CalendarStore: an upsert that keeps the
// date's pending audit events and adds the one staged in ctx (upsertOne).
func (s *CalendarStore) PutOverride(ctx context.Context, o *backend.CalendarOverride) error {
	m := calendarOverrideModel{Date: o.Date, Kind: o.Kind, Name: o.Name, CreatedBy: o.CreatedBy, CreatedAt: o.CreatedAt}
	return upsertOne(ctx, s.coll(), bson.D{{Key: "_id", Value: o.Date}}, m)
}

// FindOverrides implements backend.CalendarStore.
func (s *CalendarStore) FindOverrides(ctx context.Context) ([]*backend.CalendarOverride, error) {
	return findAll(ctx, s.coll(), bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}), (*calendarOverrideModel).domain)
}
