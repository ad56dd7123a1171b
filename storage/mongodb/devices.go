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
// retries and finds the winner's document. With d.ID set, the write is a
// compare-and-set on the device the caller found by the token (or a new
// one under that id): a token that belongs to another device now is
// ECONFLICT, so that the audit event staged for d.ID (ctx) never lands in
// another device's document. A device deleted by an audited deletion
// whose event is not in the chain yet is registered again (the mark goes).
func (s *DeviceStore) UpsertDevice(ctx context.Context, d *backend.Device) error {
	p, err := prepare(ctx, s.coll(), 1)
	if err != nil {
		return err
	}
	filter := bson.D{{Key: "token", Value: d.Token}}
	set := bson.D{
		{Key: "user_id", Value: d.UserID},
		{Key: "platform", Value: d.Platform},
		{Key: "last_seen_at", Value: d.LastSeenAt},
	}
	onInsert := bson.D{{Key: "created_at", Value: d.CreatedAt}}
	id := d.ID
	if id != "" {
		filter = append(filter, bson.E{Key: "_id", Value: id}) // an insert takes its _id from the filter
	} else {
		id = newID()
		onInsert = append(onInsert, bson.E{Key: "_id", Value: id})
	}
	if p != nil {
		if d.ID == "" || p.Bulk {
			return backend.Errorf(backend.EINTERNAL, "an audited device registration names its device id and is one change")
		}
		set = append(set, bson.E{Key: outboxField + "." + p.Event.ID, Value: newOutboxEventModel(&p.Event)})
	}
	update := bson.D{
		{Key: "$set", Value: set},
		{Key: "$unset", Value: bson.D{{Key: deletedField, Value: ""}}},
		{Key: "$setOnInsert", Value: onInsert},
	}
	opts := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)
	for range 2 {
		var m deviceModel
		unlock := lockDocument(s.coll(), id)
		err = s.coll().FindOneAndUpdate(ctx, filter, update, opts).Decode(&m)
		unlock()
		if err == nil {
			*d = *m.domain()
			if p != nil {
				landed(p, s.coll(), any(d.ID))
			}
			return nil
		}
		if err = translate(err); backend.ErrorCode(err) != backend.ECONFLICT || d.ID != "" {
			return err
		}
	}
	return err
}

// FindDeviceByToken implements backend.DeviceStore.
func (s *DeviceStore) FindDeviceByToken(ctx context.Context, token string) (*backend.Device, error) {
	var m deviceModel
	if err := s.coll().FindOne(ctx, bson.D{{Key: "token", Value: token}}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "device not found")
	}
	return m.domain(), nil
}

// FindDevicesByUser implements backend.DeviceStore.
func (s *DeviceStore) FindDevicesByUser(ctx context.Context, userID string) ([]*backend.Device, error) {
	out, err := findAll(ctx, s.coll(), bson.D{{Key: "user_id", Value: userID}, notDeleted}, options.Find().SetSort(bson.D{{Key: "last_seen_at", Value: -1}, {Key: "_id", Value: 1}}), (*deviceModel).domain)
	return out, err
}

// FindDevicesByUsers implements backend.DeviceStore.
func (s *DeviceStore) FindDevicesByUsers(ctx context.Context, userIDs []string) ([]*backend.Device, error) {
	return findIn(ctx, s.coll(), "user_id", anySlice(userIDs), bson.D{notDeleted}, (*deviceModel).domain)
}

// FindDeviceByID implements backend.DeviceStore.
func (s *DeviceStore) FindDeviceByID(ctx context.Context, id string) (*backend.Device, error) {
	var m deviceModel
	if err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}, notDeleted}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "device not found")
	}
	return m.domain(), nil
}

// DeleteDevice implements backend.DeviceStore. With an audit event staged
// in ctx the device is marked deleted with its event and removed once the
// event is in the chain (deleteOne); the reads above skip it meanwhile.
func (s *DeviceStore) DeleteDevice(ctx context.Context, id string) error {
	found, err := deleteOne(ctx, s.coll(), id)
	if err != nil {
		return err
	}
	if !found {
		return backend.Errorf(backend.ENOTFOUND, "device not found")
	}
	return nil
}
