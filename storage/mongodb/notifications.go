package mongodb

import (
	"context"
	"errors"
	"hash/fnv"
	"strconv"
	"strings"
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

// notificationModel is how a stream entry is stored: compactly (empty
// fields are left out), since a dispatch writes thousands at once.
type notificationModel struct {
	ID        string            `bson:"_id"`
	UserID    string            `bson:"user_id"`
	Seq       int64             `bson:"seq"`
	Kind      string            `bson:"kind"`
	Silent    bool              `bson:"silent"`
	TaskID    string            `bson:"task_id,omitempty"`
	PlanID    string            `bson:"plan_id,omitempty"`
	PushBatch string            `bson:"push_batch,omitempty"`
	Title     string            `bson:"title,omitempty"`
	Body      string            `bson:"body,omitempty"`
	Data      map[string]string `bson:"data,omitempty"`
	CreatedAt time.Time         `bson:"created_at"`
	ReadAt    *time.Time        `bson:"read_at,omitempty"`
}

func toNotificationModel(n *backend.Notification) *notificationModel {
	return &notificationModel{
		ID: n.ID, UserID: n.UserID, Seq: n.Seq, Kind: n.Kind, Silent: n.Silent, TaskID: n.TaskID, PlanID: n.PlanID,
		PushBatch: n.PushBatch, Title: n.Title, Body: n.Body, Data: n.Data, CreatedAt: n.CreatedAt, ReadAt: n.ReadAt,
	}
}

func (m *notificationModel) domain() *backend.Notification {
	return &backend.Notification{
		ID: m.ID, UserID: m.UserID, Seq: m.Seq, Kind: m.Kind, Silent: m.Silent, TaskID: m.TaskID, PlanID: m.PlanID,
		PushBatch: m.PushBatch, Title: m.Title, Body: m.Body, Data: m.Data, CreatedAt: m.CreatedAt.UTC(), ReadAt: utcPtr(m.ReadAt),
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
// Each attempt reads the last Seq stored, numbers the new entries on from
// it and inserts them all, unordered, in one command. The unique index on
// seq lets one writer have each number; an entry that lost its number is
// renumbered on the next attempt. Because a writer numbers its entries
// consecutively from the last one it saw, an entry with Seq k is only ever
// inserted when k-1 exists: entries become visible in Seq order, which is
// what lets a reader resume after "the last Seq I saw" without missing
// anything. One sequence for every user costs one lookup per attempt: the
// first attempt numbers on from the stream's head (a lookup by _id, which
// even FerretDB answers without decoding the entries; it is raised after each append,
// so it never runs ahead of what is stored, and a stale head only costs a
// lost race), the later ones from the highest Seq stored (FerretDB answers
// that by reading the whole collection).
//
// Before each insert, every user's head is raised to the highest Seq
// numbered for them, so a head is never below a visible entry of its
// user: FindNotifications answers "anything after my cursor?" from the
// head alone when nothing is new.
func (s *NotificationStore) AppendNotifications(ctx context.Context, ns []*backend.Notification) ([]*backend.Notification, error) {
	pending, err := s.SettleNotifications(ctx, ns)
	if err != nil {
		return nil, err
	}
	return s.AppendSettled(ctx, pending)
}

// AppendSettled implements backend.NotificationStore.
func (s *NotificationStore) AppendSettled(ctx context.Context, pending []*backend.Notification) ([]*backend.Notification, error) {
	var stored []*backend.Notification
	for attempt := range appendAttempts {
		if len(pending) == 0 {
			break
		}
		last, found, err := s.head(ctx, streamHead)
		if err == nil && (attempt > 0 || !found) {
			last, err = s.lastSeq(ctx, bson.D{})
		}
		if err != nil {
			return nil, err
		}
		docs := make([]any, len(pending))
		for i, n := range pending {
			n.Seq = last + int64(i) + 1
			docs[i] = toNotificationModel(n)
		}
		if err := s.raiseHeads(ctx, pending); err != nil {
			return nil, err
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
	if len(stored) > 0 {
		// The stream's head follows what is stored (never ahead of it).
		top := stored[len(stored)-1].Seq
		for _, n := range stored {
			top = max(top, n.Seq)
		}
		if err := s.raise(ctx, []string{streamHead}, []mongo.WriteModel{raiseHead(streamHead, bson.D{{Key: "seq", Value: top}})}); err != nil {
			return nil, err
		}
	}
	return stored, nil
}

// Heads: every user's head is at or above the Seq of the user's newest
// entry; the stream's head (streamHead: {_id, seq}) is at or below the
// newest Seq stored. The users' heads live in headBuckets documents
// ({_id: "users-<n>", users: {<user id>: seq}}), so that raising the heads
// of a dispatch's hundreds of users is a few updates, not one each. All
// are read by _id alone — the one lookup FerretDB v1 answers without
// reading and decoding every entry (see TaskStore.FindTasksByIDs).
const (
	streamHead  = "*"
	headBuckets = 32
)

func (s *NotificationStore) heads() collection { return s.db.collection("inbox_heads") }

// headBucket is the document that keeps a user's head; "" for an id that
// cannot be a field name (such a user has no head: reads fall back to the
// entries).
func headBucket(user string) string {
	if user == "" || strings.ContainsAny(user, ".$") {
		return ""
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(user))
	return "users-" + strconv.Itoa(int(h.Sum32()%headBuckets))
}

// head is the Seq of a user's head (or, for streamHead, the stream's),
// and whether it exists.
func (s *NotificationStore) head(ctx context.Context, user string) (int64, bool, error) {
	if user == streamHead {
		var h struct {
			Seq int64 `bson:"seq"`
		}
		err := s.heads().FindOne(ctx, bson.D{{Key: "_id", Value: streamHead}}).Decode(&h)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return 0, false, nil
		}
		return h.Seq, err == nil, translate(err)
	}
	bucket := headBucket(user)
	if bucket == "" {
		return 0, false, nil
	}
	var h struct {
		Users map[string]int64 `bson:"users"`
	}
	err := s.heads().FindOne(ctx, bson.D{{Key: "_id", Value: bucket}},
		options.FindOne().SetProjection(bson.D{{Key: "users." + user, Value: 1}})).Decode(&h)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, false, nil
	} else if err != nil {
		return 0, false, translate(err)
	}
	seq, ok := h.Users[user]
	return seq, ok, nil
}

func raiseHead(id string, seqs bson.D) mongo.WriteModel {
	return mongo.NewUpdateOneModel().SetFilter(bson.D{{Key: "_id", Value: id}}).
		SetUpdate(bson.D{{Key: "$max", Value: seqs}}).SetUpsert(true)
}

// raiseHeads raises each user's head to the highest Seq numbered for them
// in ns: one update per bucket, in one command.
func (s *NotificationStore) raiseHeads(ctx context.Context, ns []*backend.Notification) error {
	top := map[string]int64{}
	var users []string
	for _, n := range ns {
		if _, ok := top[n.UserID]; !ok {
			users = append(users, n.UserID)
		}
		top[n.UserID] = max(top[n.UserID], n.Seq)
	}
	byBucket := map[string]bson.D{}
	var buckets []string
	for _, u := range users {
		b := headBucket(u)
		if b == "" {
			continue
		}
		if _, ok := byBucket[b]; !ok {
			buckets = append(buckets, b)
		}
		byBucket[b] = append(byBucket[b], bson.E{Key: "users." + u, Value: top[u]})
	}
	if len(buckets) == 0 {
		return nil
	}
	models := make([]mongo.WriteModel, len(buckets))
	for i, b := range buckets {
		models[i] = raiseHead(b, byBucket[b])
	}
	return s.raise(ctx, buckets, models)
}

func (s *NotificationStore) raise(ctx context.Context, ids []string, models []mongo.WriteModel) error {
	defer lockDocuments(s.heads(), ids)()
	for attempt := 1; ; attempt++ {
		_, err := s.heads().BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
		// Two first upserts of one head race on its _id: the loser's
		// $max is applied by repeating it.
		if err == nil || backend.ErrorCode(translate(err)) != backend.ECONFLICT || attempt == 3 {
			return translate(err)
		}
	}
}

// SettleNotifications implements backend.NotificationStore.
func (s *NotificationStore) SettleNotifications(ctx context.Context, ns []*backend.Notification) ([]*backend.Notification, error) {
	ids := make([]string, len(ns))
	for i, n := range ns {
		if n.ID == "" {
			n.ID = newID()
		}
		ids[i] = n.ID
	}
	return s.settleStored(ctx, ns, ids)
}

// settleStored sets Seq and PushBatch on the entries already stored and
// returns the others.
func (s *NotificationStore) settleStored(ctx context.Context, ns []*backend.Notification, ids []string) ([]*backend.Notification, error) {
	if len(ns) == 0 {
		return nil, nil
	}
	cur, err := s.coll().Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "seq", Value: 1}, {Key: "push_batch", Value: 1}}))
	if err != nil {
		return nil, translate(err)
	}
	type row struct {
		ID        string `bson:"_id"`
		Seq       int64  `bson:"seq"`
		PushBatch string `bson:"push_batch"`
	}
	var rows []row
	if err := cur.All(ctx, &rows); err != nil {
		return nil, translate(err)
	}
	stored := make(map[string]row, len(rows))
	for _, r := range rows {
		stored[r.ID] = r
	}
	var pending []*backend.Notification
	seen := map[string]bool{}
	for _, n := range ns {
		if r, ok := stored[n.ID]; ok {
			n.Seq, n.PushBatch = r.Seq, r.PushBatch
		} else if !seen[n.ID] {
			seen[n.ID] = true
			pending = append(pending, n)
		}
	}
	return pending, nil
}

// FindNotifications implements backend.NotificationStore. A read of what
// came after a cursor (a sync, a stream catching up) looks at the user's
// head first: at or below the cursor, nothing came, and no entry is read.
func (s *NotificationStore) FindNotifications(ctx context.Context, q backend.InboxQuery) ([]*backend.Notification, error) {
	if !q.Newest && q.BeforeSeq == 0 {
		head, found, err := s.head(ctx, q.UserID)
		if err != nil {
			return nil, err
		}
		if found && head <= q.AfterSeq {
			return nil, nil
		}
	}
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

// FindNotificationsByIDs implements backend.NotificationStore.
func (s *NotificationStore) FindNotificationsByIDs(ctx context.Context, ids []string) ([]*backend.Notification, error) {
	return findIn(ctx, s.coll(), "_id", anySlice(ids), nil, (*notificationModel).domain)
}

// CountUnread implements backend.NotificationStore.
func (s *NotificationStore) CountUnread(ctx context.Context, userID string) (int, error) {
	n, err := s.coll().CountDocuments(ctx, bson.D{{Key: "user_id", Value: userID}, {Key: "silent", Value: false}, {Key: "read_at", Value: nil}})
	return int(n), translate(err)
}

// LastSeq implements backend.NotificationStore.
func (s *NotificationStore) LastSeq(ctx context.Context, userID string) (int64, error) {
	return s.lastSeq(ctx, bson.D{{Key: "user_id", Value: userID}})
}

// lastSeq is the highest Seq of the entries matching filter, 0 for none.
func (s *NotificationStore) lastSeq(ctx context.Context, filter bson.D) (int64, error) {
	var m notificationModel
	err := s.coll().FindOne(ctx, filter,
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
	return s.markRead(ctx, bson.D{{Key: "user_id", Value: userID}, {Key: "silent", Value: false}, {Key: "read_at", Value: nil}}, at)
}

// MarkKindRead implements backend.NotificationStore.
func (s *NotificationStore) MarkKindRead(ctx context.Context, userID, kind string, at time.Time) (int, error) {
	return s.markRead(ctx, bson.D{{Key: "user_id", Value: userID}, {Key: "kind", Value: kind}, {Key: "silent", Value: false}, {Key: "read_at", Value: nil}}, at)
}

func (s *NotificationStore) markRead(ctx context.Context, filter bson.D, at time.Time) (int, error) {
	res, err := s.coll().UpdateMany(ctx, filter, bson.D{{Key: "$set", Value: bson.D{{Key: "read_at", Value: at}}}})
	if err != nil {
		return 0, translate(err)
	}
	return int(res.ModifiedCount), nil
}

// pushBatchModel is a batch of the push outbox: the ids of its entries
// and its state.
type pushBatchModel struct {
	ID              string    `bson:"_id"`
	NotificationIDs []string  `bson:"notification_ids"`
	Count           int       `bson:"count"` // len(NotificationIDs), for the backlog metric
	InboxWritten    bool      `bson:"inbox_written"`
	State           string    `bson:"state"`
	NextAt          time.Time `bson:"next_at"`
	Claim           string    `bson:"claim"`
	Until           time.Time `bson:"until"`
	CreatedAt       time.Time `bson:"created_at"`
}

func (m *pushBatchModel) domain() *backend.PushBatch {
	return &backend.PushBatch{ID: m.ID, NotificationIDs: m.NotificationIDs, InboxWritten: m.InboxWritten, State: m.State,
		NextAt: m.NextAt.UTC(), Claim: m.Claim, Until: m.Until.UTC(), CreatedAt: m.CreatedAt.UTC()}
}

// PushOutbox returns the push outbox.
func (db *DB) PushOutbox() *PushOutboxStore { return &PushOutboxStore{db: db} }

// PushOutboxStore implements backend.PushOutbox. Every state change is one
// write per batch (of up to backend.PushBatchSize alerts): per-alert writes
// would cost a round trip (and, on FerretDB, a transaction) each.
type PushOutboxStore struct{ db *DB }

var _ backend.PushOutbox = (*PushOutboxStore)(nil)

func (s *PushOutboxStore) coll() collection { return s.db.collection("push_outbox") }

// lock makes this process's state changes of the outbox take turns, one
// update call at a time.
// Claims select their batches by a filter, not by id, and FerretDB v1
// applies an update to the documents it read before, writing each back
// whole: two claimers (or a claim and a mark) that overlap could both
// take one batch, or undo a claim, and an alert would go out twice. See
// lockDocument; on MongoDB each document's update is atomic and the
// filters alone decide.
func (s *PushOutboxStore) lock() (unlock func()) { return lockDocument(s.coll(), "\x00outbox") }

// AddPushBatches implements backend.PushOutbox.
func (s *PushOutboxStore) AddPushBatches(ctx context.Context, bs []*backend.PushBatch) error {
	ids := make([]string, len(bs))
	docs := make([]any, len(bs))
	for i, b := range bs {
		ids[i] = b.ID
		docs[i] = &pushBatchModel{ID: b.ID, NotificationIDs: b.NotificationIDs, Count: len(b.NotificationIDs), InboxWritten: b.InboxWritten, State: b.State,
			NextAt: b.NextAt, Claim: b.Claim, Until: b.Until, CreatedAt: b.CreatedAt}
	}
	_, err := insertNew(ctx, s.coll(), ids, docs)
	return err
}

// MarkInboxWritten implements backend.PushOutbox.
func (s *PushOutboxStore) MarkInboxWritten(ctx context.Context, ids []string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	defer s.lock()()
	_, err := s.coll().UpdateMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "state", Value: backend.PushPending}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "inbox_written", Value: true}, {Key: "next_at", Value: now}}}})
	return translate(err)
}

// ClaimPushBatch implements backend.PushOutbox.
func (s *PushOutboxStore) ClaimPushBatch(ctx context.Context, claim string, now, until, orphanedBefore time.Time) (*backend.PushBatch, error) {
	unlock := s.lock()
	_, err := s.coll().UpdateMany(ctx,
		bson.D{{Key: "state", Value: backend.PushSending}, {Key: "until", Value: bson.D{{Key: "$lt", Value: now}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: backend.PushLost}}}})
	unlock()
	if err != nil {
		return nil, translate(err)
	}
	var m pushBatchModel
	defer s.lock()()
	err = s.coll().FindOneAndUpdate(ctx,
		bson.D{
			{Key: "state", Value: backend.PushPending}, {Key: "next_at", Value: bson.D{{Key: "$lte", Value: now}}},
			{Key: "$or", Value: bson.A{
				bson.D{{Key: "inbox_written", Value: true}},
				bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: orphanedBefore}}}},
			}},
		},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: backend.PushSending}, {Key: "claim", Value: claim}, {Key: "until", Value: until}}}},
		options.FindOneAndUpdate().SetSort(bson.D{{Key: "next_at", Value: 1}, {Key: "_id", Value: 1}}).SetReturnDocument(options.After),
	).Decode(&m)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, translate(err)
	}
	return m.domain(), nil
}

// ClaimPushBatches implements backend.PushOutbox: one update of them
// all, and a read of which it claimed only when it claimed fewer than
// asked (another claimer took some).
func (s *PushOutboxStore) ClaimPushBatches(ctx context.Context, ids []string, claim string, now, until time.Time) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	unlock := s.lock()
	res, err := s.coll().UpdateMany(ctx,
		bson.D{
			{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "state", Value: backend.PushPending},
			{Key: "inbox_written", Value: true}, {Key: "next_at", Value: bson.D{{Key: "$lte", Value: now}}},
		},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: backend.PushSending}, {Key: "claim", Value: claim}, {Key: "until", Value: until}}}})
	unlock()
	if err != nil {
		return nil, translate(err)
	}
	if int(res.ModifiedCount) == len(ids) {
		return ids, nil
	}
	return findIDs(ctx, s.coll(), bson.D{
		{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "state", Value: backend.PushSending}, {Key: "claim", Value: claim},
	}, 0)
}

// SettlePushBatch implements backend.PushOutbox.
func (s *PushOutboxStore) SettlePushBatch(ctx context.Context, id, claim, state string, nextAt time.Time) error {
	defer s.lock()()
	set := bson.D{{Key: "state", Value: state}, {Key: "claim", Value: ""}}
	if state == backend.PushPending {
		set = append(set, bson.E{Key: "next_at", Value: nextAt})
	}
	_, err := s.coll().UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "state", Value: backend.PushSending}, {Key: "claim", Value: claim}},
		bson.D{{Key: "$set", Value: set}})
	return translate(err)
}

// CountPushBacklog implements backend.PushOutbox.
func (s *PushOutboxStore) CountPushBacklog(ctx context.Context) (int, error) {
	cur, err := s.coll().Find(ctx, bson.D{{Key: "state", Value: bson.D{{Key: "$in", Value: bson.A{backend.PushPending, backend.PushSending}}}}},
		options.Find().SetProjection(bson.D{{Key: "count", Value: 1}}))
	if err != nil {
		return 0, translate(err)
	}
	var rows []struct {
		Count int `bson:"count"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return 0, translate(err)
	}
	n := 0
	for _, r := range rows {
		n += r.Count
	}
	return n, nil
}

// DeleteSettledPushBatches implements backend.PushOutbox.
//
// It does not take the outbox's lock: a settled batch is never claimed,
// marked or settled again, so the delete touches no document those
// updates may read and write back — and the first delete after a long
// while, however long it takes, holds up no claim.
func (s *PushOutboxStore) DeleteSettledPushBatches(ctx context.Context, before time.Time) (int, error) {
	res, err := s.coll().DeleteMany(ctx, bson.D{
		{Key: "state", Value: bson.D{{Key: "$in", Value: bson.A{backend.PushDone, backend.PushFailed, backend.PushLost, backend.PushAbandoned}}}},
		{Key: "created_at", Value: bson.D{{Key: "$lt", Value: before}}},
	})
	if err != nil {
		return 0, translate(err)
	}
	return int(res.DeletedCount), nil
}
