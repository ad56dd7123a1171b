package mongodb

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// appendAttempts bounds how often AppendNotifications re-reads the users'
// last sequence numbers after losing races for them; each lost race means
// another writer appended to the same user meanwhile.
const appendAttempts = 20

// notificationModel is how a stream entry is stored. The push fields make
// the entry its own outbox row.
type notificationModel struct {
	ID         string            `bson:"_id"`
	UserID     string            `bson:"user_id"`
	Seq        int64             `bson:"seq"`
	Kind       string            `bson:"kind"`
	Silent     bool              `bson:"silent"`
	TaskID     string            `bson:"task_id"`
	PlanID     string            `bson:"plan_id"`
	Title      string            `bson:"title"`
	Body       string            `bson:"body"`
	Data       map[string]string `bson:"data"`
	CreatedAt  time.Time         `bson:"created_at"`
	ReadAt     *time.Time        `bson:"read_at"`
	PushState  string            `bson:"push_state"`
	PushNextAt time.Time         `bson:"push_next_at"`
	PushClaim  string            `bson:"push_claim"`
	PushUntil  time.Time         `bson:"push_until"`
}

func toNotificationModel(n *backend.Notification) *notificationModel {
	return &notificationModel{
		ID: n.ID, UserID: n.UserID, Seq: n.Seq, Kind: n.Kind, Silent: n.Silent, TaskID: n.TaskID, PlanID: n.PlanID,
		Title: n.Title, Body: n.Body, Data: n.Data, CreatedAt: n.CreatedAt, ReadAt: n.ReadAt,
		PushState: n.PushState, PushNextAt: n.PushNextAt, PushClaim: n.PushClaim, PushUntil: n.PushUntil,
	}
}

func (m *notificationModel) domain() *backend.Notification {
	return &backend.Notification{
		ID: m.ID, UserID: m.UserID, Seq: m.Seq, Kind: m.Kind, Silent: m.Silent, TaskID: m.TaskID, PlanID: m.PlanID,
		Title: m.Title, Body: m.Body, Data: m.Data, CreatedAt: m.CreatedAt.UTC(), ReadAt: utcPtr(m.ReadAt),
		PushState: m.PushState, PushNextAt: m.PushNextAt.UTC(), PushClaim: m.PushClaim, PushUntil: m.PushUntil.UTC(),
	}
}

// Notifications returns the notification store.
func (db *DB) Notifications() *NotificationStore { return &NotificationStore{db: db} }

// NotificationStore implements backend.NotificationStore.
type NotificationStore struct{ db *DB }

var _ backend.NotificationStore = (*NotificationStore)(nil)

func (s *NotificationStore) coll() collection { return s.db.collection("notifications") }

// AppendNotifications implements backend.NotificationStore.
//
// Each attempt reads the last Seq of every user in the batch, numbers the
// user's new entries on from it and inserts them all, unordered, in one
// command. The unique (user_id, seq) index lets one writer have each
// number; an entry that lost its number is renumbered on the next attempt.
// Because a writer numbers its entries consecutively from the last one it
// saw, an entry with Seq k is only ever inserted when k-1 exists: a user's
// entries become visible in Seq order, which is what lets a reader resume
// after "the last Seq I saw" without missing anything.
func (s *NotificationStore) AppendNotifications(ctx context.Context, ns []*backend.Notification) ([]*backend.Notification, error) {
	ids := make([]string, len(ns))
	for i, n := range ns {
		if n.ID == "" {
			n.ID = newID()
		}
		ids[i] = n.ID
	}
	pending, err := s.settleStored(ctx, ns, ids)
	if err != nil {
		return nil, err
	}
	var stored []*backend.Notification
	for range appendAttempts {
		if len(pending) == 0 {
			return stored, nil
		}
		last, err := s.lastSeqs(ctx, pending)
		if err != nil {
			return nil, err
		}
		docs := make([]any, len(pending))
		for i, n := range pending {
			last[n.UserID]++
			n.Seq = last[n.UserID]
			docs[i] = toNotificationModel(n)
		}
		errs, err := insertMany(ctx, s.coll(), docs, nil)
		if err != nil {
			return nil, err
		}
		var retry []*backend.Notification
		for i, n := range pending {
			switch code := backend.ErrorCode(errs[i]); code {
			case "":
				stored = append(stored, n)
			case backend.ECONFLICT: // lost its number (or its id) to another writer
				retry = append(retry, n)
			default:
				return nil, errs[i]
			}
		}
		// An entry may have failed because another writer stored the same
		// id meanwhile; that one is done, with the other writer's Seq.
		retryIDs := make([]string, len(retry))
		for i, n := range retry {
			retryIDs[i] = n.ID
		}
		if pending, err = s.settleStored(ctx, retry, retryIDs); err != nil {
			return nil, err
		}
	}
	if len(pending) > 0 {
		return nil, backend.Errorf(backend.EUNAVAILABLE, "the inbox is too busy: %d entries could not be numbered; try again", len(pending))
	}
	return stored, nil
}

// settleStored sets Seq on the entries already stored and returns the
// others.
func (s *NotificationStore) settleStored(ctx context.Context, ns []*backend.Notification, ids []string) ([]*backend.Notification, error) {
	if len(ns) == 0 {
		return nil, nil
	}
	cur, err := s.coll().Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "seq", Value: 1}}))
	if err != nil {
		return nil, translate(err)
	}
	var rows []struct {
		ID  string `bson:"_id"`
		Seq int64  `bson:"seq"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, translate(err)
	}
	seqs := make(map[string]int64, len(rows))
	for _, r := range rows {
		seqs[r.ID] = r.Seq
	}
	var pending []*backend.Notification
	seen := map[string]bool{}
	for _, n := range ns {
		if seq, ok := seqs[n.ID]; ok {
			n.Seq = seq
		} else if !seen[n.ID] {
			seen[n.ID] = true
			pending = append(pending, n)
		}
	}
	return pending, nil
}

// lastSeqs returns the highest stored Seq of each user of ns: one indexed
// lookup per user, a few at a time (FerretDB v1 has no $max or $first
// accumulator to do it in one aggregation).
func (s *NotificationStore) lastSeqs(ctx context.Context, ns []*backend.Notification) (map[string]int64, error) {
	out := map[string]int64{}
	var list []string
	for _, n := range ns {
		if _, ok := out[n.UserID]; !ok {
			out[n.UserID] = 0
			list = append(list, n.UserID)
		}
	}
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, u := range list {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			seq, err := s.LastSeq(ctx, u)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			out[u] = seq
		}()
	}
	wg.Wait()
	return out, firstErr
}

// FindNotifications implements backend.NotificationStore.
func (s *NotificationStore) FindNotifications(ctx context.Context, q backend.InboxQuery) ([]*backend.Notification, error) {
	seq := bson.D{{Key: "$gt", Value: q.AfterSeq}}
	if q.BeforeSeq > 0 {
		seq = append(seq, bson.E{Key: "$lt", Value: q.BeforeSeq})
	}
	filter := bson.D{{Key: "user_id", Value: q.UserID}, {Key: "seq", Value: seq}}
	if q.InboxOnly {
		filter = append(filter, bson.E{Key: "silent", Value: false})
	}
	if q.UnreadOnly {
		filter = append(filter, bson.E{Key: "read_at", Value: nil})
	}
	order := 1
	if q.Newest {
		order = -1
	}
	opts := options.Find().SetSort(bson.D{{Key: "seq", Value: order}})
	if q.Limit > 0 {
		opts.SetLimit(int64(q.Limit))
	}
	return findAll(ctx, s.coll(), filter, opts, (*notificationModel).domain)
}

// CountUnread implements backend.NotificationStore.
func (s *NotificationStore) CountUnread(ctx context.Context, userID string) (int, error) {
	n, err := s.coll().CountDocuments(ctx, bson.D{{Key: "user_id", Value: userID}, {Key: "silent", Value: false}, {Key: "read_at", Value: nil}})
	return int(n), translate(err)
}

// LastSeq implements backend.NotificationStore.
func (s *NotificationStore) LastSeq(ctx context.Context, userID string) (int64, error) {
	var m notificationModel
	err := s.coll().FindOne(ctx, bson.D{{Key: "user_id", Value: userID}},
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}}).SetProjection(bson.D{{Key: "seq", Value: 1}})).Decode(&m)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	return m.Seq, translate(err)
}

// MarkRead implements backend.NotificationStore.
func (s *NotificationStore) MarkRead(ctx context.Context, userID, id string, at time.Time) (*backend.Notification, error) {
	_, err := s.coll().UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}, {Key: "read_at", Value: nil}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "read_at", Value: at}}}})
	if err != nil {
		return nil, translate(err)
	}
	var m notificationModel
	if err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "notification not found")
	}
	return m.domain(), nil
}

// MarkAllRead implements backend.NotificationStore.
func (s *NotificationStore) MarkAllRead(ctx context.Context, userID string, at time.Time) (int, error) {
	res, err := s.coll().UpdateMany(ctx,
		bson.D{{Key: "user_id", Value: userID}, {Key: "silent", Value: false}, {Key: "read_at", Value: nil}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "read_at", Value: at}}}})
	if err != nil {
		return 0, translate(err)
	}
	return int(res.ModifiedCount), nil
}

// ClaimPush implements backend.NotificationStore. A claim is three
// commands: pick candidates, mark those still pending as ours, read back
// what we won — another instance claiming at the same time wins some of
// them, never the same ones.
func (s *NotificationStore) ClaimPush(ctx context.Context, claim string, now, until time.Time, limit int) ([]*backend.Notification, error) {
	if _, err := s.coll().UpdateMany(ctx,
		bson.D{{Key: "push_state", Value: backend.PushSending}, {Key: "push_until", Value: bson.D{{Key: "$lt", Value: now}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "push_state", Value: backend.PushLost}}}}); err != nil {
		return nil, translate(err)
	}
	due := bson.D{{Key: "push_state", Value: backend.PushPending}, {Key: "push_next_at", Value: bson.D{{Key: "$lte", Value: now}}}}
	cur, err := s.coll().Find(ctx, due, options.Find().
		SetSort(bson.D{{Key: "push_next_at", Value: 1}, {Key: "_id", Value: 1}}).
		SetLimit(int64(limit)).SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, translate(err)
	}
	var rows []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	if _, err := s.coll().UpdateMany(ctx,
		bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "push_state", Value: backend.PushPending}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "push_state", Value: backend.PushSending}, {Key: "push_claim", Value: claim}, {Key: "push_until", Value: until}}}}); err != nil {
		return nil, translate(err)
	}
	return findAll(ctx, s.coll(), bson.D{
		{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}},
		{Key: "push_state", Value: backend.PushSending},
		{Key: "push_claim", Value: claim},
	}, options.Find().SetSort(bson.D{{Key: "push_next_at", Value: 1}, {Key: "_id", Value: 1}}), (*notificationModel).domain)
}

// SettlePush implements backend.NotificationStore.
func (s *NotificationStore) SettlePush(ctx context.Context, ids []string, claim, state string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.coll().UpdateMany(ctx,
		bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "push_state", Value: backend.PushSending}, {Key: "push_claim", Value: claim}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "push_state", Value: state}, {Key: "push_claim", Value: ""}}}})
	return translate(err)
}

// CountPushPending implements backend.NotificationStore.
func (s *NotificationStore) CountPushPending(ctx context.Context) (int, error) {
	n, err := s.coll().CountDocuments(ctx, bson.D{{Key: "push_state", Value: bson.D{{Key: "$in", Value: bson.A{backend.PushPending, backend.PushSending}}}}})
	return int(n), translate(err)
}
