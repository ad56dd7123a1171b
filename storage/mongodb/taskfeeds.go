package mongodb

import (
	"context"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// Task feeds (backend.TaskFeed) live in feedBuckets documents of
// task_feeds, {_id: "feeds-<n>", users: {<key>: taskFeedModel}}, each
// user's feed in the bucket its id hashes to, under a key made from the
// id (feedKey). Every read and write is by _id alone: on MongoDB the _id
// index (the collection needs no other), on FerretDB v1 the one filter it
// hands to SQLite rather than decoding every document (see
// FindTasksByIDs), over a few dozen documents. Buckets rather than a
// document per user because FerretDB's cost is per update, not per byte:
// a dispatch chunk naming 300 users appends with feedBuckets updates at
// most, not 300 (which doubled a dispatch's time there). A read asks for
// the user's field only.
//
// In a user's feed, IDs are the entries appended since the last
// compaction, at positions Base+1, Base+2 …; Old and OldPos are the
// entries compaction kept, with their positions. N is the position of the
// last entry (Base + len(IDs)): an append pushes to IDs and adds to N in
// one update of the bucket, which MongoDB applies atomically and FerretDB
// in turn (lockDocuments), so concurrent appends take consecutive
// positions.
type taskFeedModel struct {
	N      int64    `bson:"n"`
	Base   int64    `bson:"base,omitempty"`
	IDs    []string `bson:"ids"`
	Old    []string `bson:"old,omitempty"`
	OldPos []int64  `bson:"old_pos,omitempty"`
}

func (m *taskFeedModel) domain(user string) *backend.TaskFeed {
	f := &backend.TaskFeed{UserID: user, Len: m.N, Entries: make([]backend.TaskFeedEntry, 0, len(m.Old)+len(m.IDs))}
	for i, id := range m.Old {
		if i < len(m.OldPos) {
			f.Entries = append(f.Entries, decodeFeedEntry(m.OldPos[i], id))
		}
	}
	for i, id := range m.IDs {
		f.Entries = append(f.Entries, decodeFeedEntry(m.Base+int64(i)+1, id))
	}
	return f
}

// encodeFeedEntry is how an entry is stored in IDs and Old: the task id,
// and "@" and the version when it names one. Strings rather than
// subdocuments keep an append one $push of plain values, and an entry
// written before versions existed (a bare id) reads as version 0.
func encodeFeedEntry(e backend.TaskFeedEntry) string {
	if e.Version <= 0 {
		return e.TaskID
	}
	return e.TaskID + "@" + strconv.FormatInt(e.Version, 10)
}

// decodeFeedEntry reads what encodeFeedEntry wrote (task ids hold no "@").
func decodeFeedEntry(pos int64, s string) backend.TaskFeedEntry {
	e := backend.TaskFeedEntry{Pos: pos, TaskID: s}
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		if v, err := strconv.ParseInt(s[at+1:], 10, 64); err == nil && v > 0 {
			e.TaskID, e.Version = s[:at], v
		}
	}
	return e
}

// feedBuckets is how many documents hold the feeds.
const feedBuckets = 64

// feedBucket is the document that holds a user's feed.
func feedBucket(user string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(user))
	return "feeds-" + strconv.Itoa(int(h.Sum32()%feedBuckets))
}

// feedKey is the field of a user's feed in its bucket: the id itself when
// it is letters, digits, '-' and '_' (every id suiji makes), otherwise
// "~" and its hex, so that no id makes a path ('.') or an operator ('$').
func feedKey(user string) string {
	for _, r := range user {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "~" + hex.EncodeToString([]byte(user))
		}
	}
	return user
}

// feedsReadyID is the document that marks the feeds complete.
const feedsReadyID = "*ready"

// buildChunk is how many users' feeds one append of BuildTaskFeeds
// writes.
const buildChunk = 500

// TaskFeeds returns the task feed store.
func (db *DB) TaskFeeds() *TaskFeedStore { return &TaskFeedStore{db: db} }

// TaskFeedStore implements backend.TaskFeedStore.
type TaskFeedStore struct{ db *DB }

var _ backend.TaskFeedStore = (*TaskFeedStore)(nil)

func (s *TaskFeedStore) coll() collection { return s.db.collection("task_feeds") }

// AppendTaskFeeds implements backend.TaskFeedStore: one upsert per bucket
// ($push with $each to each of its users' ids, $inc of their n),
// updateChunk buckets per unordered command.
func (s *TaskFeedStore) AppendTaskFeeds(ctx context.Context, feeds map[string][]backend.TaskFeedEntry) error {
	byBucket := map[string]bson.D{}
	for u, entries := range feeds {
		if u == "" || len(entries) == 0 {
			continue
		}
		ids := make([]string, len(entries))
		for i, e := range entries {
			ids[i] = encodeFeedEntry(e)
		}
		b, key := feedBucket(u), "users."+feedKey(u)
		byBucket[b] = append(byBucket[b], bson.E{Key: key, Value: ids})
	}
	buckets := make([]string, 0, len(byBucket))
	for b := range byBucket {
		buckets = append(buckets, b)
	}
	if len(buckets) == 0 {
		return nil
	}
	slices.Sort(buckets)
	if s.db.feeds != nil {
		defer s.db.feeds.written() // even after an error: the write may have landed
	}
	unlock := lockDocuments(s.coll(), buckets) // FerretDB does not isolate updates: see lockDocument
	for start := 0; start < len(buckets); start += updateChunk {
		if err := s.appendBuckets(ctx, buckets[start:min(start+updateChunk, len(buckets))], byBucket); err != nil {
			unlock()
			return err
		}
	}
	unlock()
	return s.raiseHead(ctx, buckets)
}

// appendBuckets appends to the feeds of buckets in one command.
func (s *TaskFeedStore) appendBuckets(ctx context.Context, buckets []string, byBucket map[string]bson.D) error {
	for attempt := 1; ; attempt++ {
		models := make([]mongo.WriteModel, len(buckets))
		for i, b := range buckets {
			var push, inc bson.D
			for _, e := range byBucket[b] {
				ids := e.Value.([]string)
				push = append(push, bson.E{Key: e.Key + ".ids", Value: bson.D{{Key: "$each", Value: ids}}})
				inc = append(inc, bson.E{Key: e.Key + ".n", Value: int64(len(ids))})
			}
			models[i] = mongo.NewUpdateOneModel().SetFilter(bson.D{{Key: "_id", Value: b}}).SetUpsert(true).
				SetUpdate(bson.D{{Key: "$push", Value: push}, {Key: "$inc", Value: inc}})
		}
		_, err := s.coll().BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
		if err == nil {
			return nil
		}
		// Two first upserts of one bucket (other instances, on MongoDB)
		// race on its _id: the loser is applied again; the others are done.
		var bwe mongo.BulkWriteException
		if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 || attempt == 3 {
			return translate(err)
		}
		var again []string
		for _, we := range bwe.WriteErrors {
			if we.Index < 0 || we.Index >= len(buckets) || backend.ErrorCode(translate(we)) != backend.ECONFLICT {
				return translate(err)
			}
			again = append(again, buckets[we.Index])
		}
		buckets = again
	}
}

// TaskFeed implements backend.TaskFeedStore: from the instance's copy of
// the feeds when it is fresh and holds atLeast entries (feedmirror.go),
// else by the bucket's _id.
func (s *TaskFeedStore) TaskFeed(ctx context.Context, userID string, atLeast int64) (*backend.TaskFeed, error) {
	if f, ok, err := s.mirrored(ctx, userID, atLeast); err != nil || ok {
		return f, err
	}
	key := feedKey(userID)
	var b struct {
		Users map[string]taskFeedModel `bson:"users"`
	}
	err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: feedBucket(userID)}},
		options.FindOne().SetProjection(bson.D{{Key: "users." + key, Value: 1}})).Decode(&b)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return &backend.TaskFeed{UserID: userID}, nil
	} else if err != nil {
		return nil, translate(err)
	}
	m := b.Users[key]
	return m.domain(userID), nil
}

// CompactTaskFeed implements backend.TaskFeedStore: the entries kept (the
// last of each task) become Old with their positions, IDs empties and
// Base moves to N — a compare-and-set on N, which every append moves. The
// filter on n makes FerretDB decode every bucket (it hands only _id alone
// to SQLite); a compaction is rare — a feed compacts once it holds twice
// as many entries as tasks — so that is the price of keeping MongoDB,
// where several instances append at once, exact.
func (s *TaskFeedStore) CompactTaskFeed(ctx context.Context, f *backend.TaskFeed) (bool, error) {
	kept := compactEntries(f.Entries)
	if len(kept) == len(f.Entries) {
		return false, nil
	}
	old := make([]string, len(kept))
	pos := make([]int64, len(kept))
	for i, e := range kept {
		old[i], pos[i] = encodeFeedEntry(e), e.Pos
	}
	bucket, key := feedBucket(f.UserID), "users."+feedKey(f.UserID)
	if s.db.feeds != nil {
		defer s.db.feeds.written()
	}
	unlock := lockDocument(s.coll(), bucket)
	res, err := s.coll().UpdateOne(ctx, bson.D{{Key: "_id", Value: bucket}, {Key: key + ".n", Value: f.Len}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: key + ".old", Value: old}, {Key: key + ".old_pos", Value: pos}, {Key: key + ".ids", Value: []string{}}, {Key: key + ".base", Value: f.Len},
	}}})
	unlock()
	if err != nil {
		return false, translate(err)
	}
	if res.ModifiedCount != 1 {
		return false, nil
	}
	return true, s.raiseHead(ctx, []string{bucket})
}

// compactEntries keeps the last entry of each task, in position order,
// naming the version the dropped ones and it ask for together
// (backend.MinVersions), so a reader asks the same of the entries kept.
func compactEntries(entries []backend.TaskFeedEntry) []backend.TaskFeedEntry {
	versions := backend.MinVersions(entries)
	seen := make(map[string]bool, len(entries))
	var kept []backend.TaskFeedEntry
	for i := len(entries) - 1; i >= 0; i-- {
		if e := entries[i]; !seen[e.TaskID] {
			seen[e.TaskID] = true
			e.Version = versions[e.TaskID]
			kept = append(kept, e)
		}
	}
	slices.Reverse(kept)
	return kept
}

// TaskFeedsReady implements backend.TaskFeedStore.
func (s *TaskFeedStore) TaskFeedsReady(ctx context.Context) (bool, error) {
	err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: feedsReadyID}}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, translate(err)
}

// BuildTaskFeeds implements backend.TaskFeedStore. It reads every inbox
// entry once, in Seq order (on FerretDB, the whole collection; on MongoDB
// the seq index), and appends to each user's feed the tasks their entries
// name, each once, in the order of its last entry: a feed is read only
// for which tasks follow a position, and all of these follow position 0,
// before which no phone holds a feed cursor (none is handed out until
// the feeds are ready).
func (s *TaskFeedStore) BuildTaskFeeds(ctx context.Context) (int, error) {
	if ready, err := s.TaskFeedsReady(ctx); err != nil || ready {
		return 0, err
	}
	cur, err := s.db.Notifications().coll().Find(ctx, bson.D{},
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetProjection(bson.D{{Key: "user_id", Value: 1}, {Key: "task_id", Value: 1}}))
	if err != nil {
		return 0, translate(err)
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	byUser := map[string][]backend.TaskFeedEntry{}
	var n int64
	for cur.Next(ctx) {
		var row struct {
			UserID string `bson:"user_id"`
			TaskID string `bson:"task_id"`
		}
		if err := cur.Decode(&row); err != nil {
			return 0, translate(err)
		}
		if row.TaskID != "" && row.UserID != "" {
			n++
			byUser[row.UserID] = append(byUser[row.UserID], backend.TaskFeedEntry{Pos: n, TaskID: row.TaskID})
		}
	}
	if err := cur.Err(); err != nil {
		return 0, translate(err)
	}
	users := make([]string, 0, len(byUser))
	for u := range byUser {
		users = append(users, u)
	}
	slices.Sort(users)
	appended := 0
	for start := 0; start < len(users); start += buildChunk {
		chunk := map[string][]backend.TaskFeedEntry{}
		for _, u := range users[start:min(start+buildChunk, len(users))] {
			kept := compactEntries(byUser[u])
			chunk[u] = kept
			appended += len(kept)
		}
		if err := s.AppendTaskFeeds(ctx, chunk); err != nil {
			return 0, err
		}
	}
	_, err = s.coll().InsertOne(ctx, bson.D{{Key: "_id", Value: feedsReadyID}, {Key: "at", Value: time.Now().UTC()}})
	if err := translate(err); err != nil && backend.ErrorCode(err) != backend.ECONFLICT {
		return 0, err
	}
	return appended, nil
}
