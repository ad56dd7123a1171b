package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// deviceModel is how a push registration is stored.
type deviceModel struct {
	ID         string    `bson:"_id"`
	UserID     string    `bson:"user_id"`
	Token      string    `bson:"token"`
	Platform   string    `bson:"platform"`
	CreatedAt  time.Time `bson:"created_at"`
	LastSeenAt time.Time `bson:"last_seen_at"`
}

func (m *deviceModel) domain() *backend.Device {
	return &backend.Device{
		ID: m.ID, UserID: m.UserID, Token: m.Token, Platform: m.Platform,
		CreatedAt: m.CreatedAt.UTC(), LastSeenAt: m.LastSeenAt.UTC(),
	}
}

// Devices returns the device store.
func (db *DB) Devices() *DeviceStore { return &DeviceStore{db: db} }

// DeviceStore implements backend.DeviceStore on the devices collection.
type DeviceStore struct{ db *DB }

var _ backend.DeviceStore = (*DeviceStore)(nil)

func (s *DeviceStore) coll() collection { return s.db.collection("devices") }

// UpsertDevice implements backend.DeviceStore. The unique index on token
// decides between two phones registering the same token at once: the loser
// retries and finds the winner's document.
func (s *DeviceStore) UpsertDevice(ctx context.Context, d *backend.Device) error {
	filter := bson.D{{Key: "token", Value: d.Token}}
	update := bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "user_id", Value: d.UserID},
			{Key: "platform", Value: d.Platform},
			{Key: "last_seen_at", Value: d.LastSeenAt},
		}},
		{Key: "$setOnInsert", Value: bson.D{
			{Key: "_id", Value: newID()},
			{Key: "created_at", Value: d.CreatedAt},
		}},
	}
	opts := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)
	var err error
	for range 2 {
		var m deviceModel
		if err = s.coll().FindOneAndUpdate(ctx, filter, update, opts).Decode(&m); err == nil {
			*d = *m.domain()
			return nil
		}
		if err = translate(err); backend.ErrorCode(err) != backend.ECONFLICT {
			return err
		}
	}
	return err
}

// FindDevicesByUser implements backend.DeviceStore.
func (s *DeviceStore) FindDevicesByUser(ctx context.Context, userID string) ([]*backend.Device, error) {
	out, err := findAll(ctx, s.coll(), bson.D{{Key: "user_id", Value: userID}}, options.Find().SetSort(bson.D{{Key: "last_seen_at", Value: -1}, {Key: "_id", Value: 1}}), (*deviceModel).domain)
	return out, err
}

// FindDevicesByUsers implements backend.DeviceStore.
func (s *DeviceStore) FindDevicesByUsers(ctx context.Context, userIDs []string) ([]*backend.Device, error) {
	return findIn(ctx, s.coll(), "user_id", anySlice(userIDs), nil, (*deviceModel).domain)
}

// FindDeviceByID implements backend.DeviceStore.
func (s *DeviceStore) FindDeviceByID(ctx context.Context, id string) (*backend.Device, error) {
	var m deviceModel
	if err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "device not found")
	}
	return m.domain(), nil
}

// DeleteDevice implements backend.DeviceStore.
func (s *DeviceStore) DeleteDevice(ctx context.Context, id string) error {
	res, err := s.coll().DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return translate(err)
	}
	if res.DeletedCount == 0 {
		return backend.Errorf(backend.ENOTFOUND, "device not found")
	}
	return nil
}
