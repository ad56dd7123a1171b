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

// Task feeds (backend.TaskFeed) live in task_feeds as a log and its
// folds.
//
// An append inserts one log document, {_id: "log-<k>", users: {<key>:
// [entries]}}, numbered k on from the head's log count (the head raises
// it after the insert); losing k to another writer (its _id is taken)
// moves on to k+1, or past the head if that is further. So log-k is only
// ever written once log-(k-1) was, and the log is read in k order, never
// past a gap. An insert is what
// FerretDB v1 does cheaply: an update of a document decodes and rewrites
// it whole, and an append used to update every bucket below, so it cost
// as much as all the feeds together and grew with them.
//
// The buckets, feedBuckets documents {_id: "feeds-<n>", upto: k, users:
// {<key>: taskFeedModel}}, hold each user's feed up to log k (the fold):
// every foldEvery appends, the log is folded into them (fold, behind the
// append that reaches the count), and log documents that every bucket
// holds become tombstones (see feedLogDoc). A user's feed is their
// bucket's model followed by their entries in log-(upto+1), log-(upto+2)
// … Every read and write is by _id alone: on MongoDB the _id index (the collection needs no other),
// on FerretDB v1 the one filter it hands to SQLite rather than decoding
// every document (see FindTasksByIDs). A user's feed lives in the bucket
// its id hashes to, under a key made from the id (feedKey).
//
// In a user's feed, IDs are the entries folded since the last
// compaction, at positions Base+1, Base+2 …; Old and OldPos are the
// entries compaction kept, with their positions; N is the position of the
// last entry folded (Base + len(IDs)). Log entries follow at N+1 ….
// Compaction (CompactTaskFeed) is a compare-and-set on N; a fold is one
// on upto, and adds to IDs and N (MongoDB applies each atomically,
// FerretDB in turn: lockDocuments).
type taskFeedModel struct {
	N      int64    `bson:"n"`
	Base   int64    `bson:"base,omitempty"`
	IDs    []string `bson:"ids"`
	Old    []string `bson:"old,omitempty"`
	OldPos []int64  `bson:"old_pos,omitempty"`
}

// feed is a user's feed: m, then logged — the user's entries in the log
// after the fold, in log order — at the positions after m.N.
func (m *taskFeedModel) feed(user string, logged []string) *backend.TaskFeed {
	f := &backend.TaskFeed{UserID: user, Len: m.N + int64(len(logged)), Entries: make([]backend.TaskFeedEntry, 0, len(m.Old)+len(m.IDs)+len(logged))}
	for i, id := range m.Old {
		if i < len(m.OldPos) {
			f.Entries = append(f.Entries, decodeFeedEntry(m.OldPos[i], id))
		}
	}
	for i, id := range m.IDs {
		f.Entries = append(f.Entries, decodeFeedEntry(m.Base+int64(i)+1, id))
	}
	for i, id := range logged {
		f.Entries = append(f.Entries, decodeFeedEntry(m.N+int64(i)+1, id))
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

const (
	// logPrefix begins the _id of every log document.
	logPrefix = "log-"
	// logDocEntries is the most entries one log document holds (about a
	// megabyte, far below MongoDB's 16 MB document limit); a bigger append
	// (a build of the feeds) writes several, in order.
	logDocEntries = 20_000
	// foldEvery is how many appends the log gathers between folds.
	foldEvery = 16
	// logAttempts bounds how many numbers an append tries for one log
	// document; each lost means another writer appended meanwhile.
	logAttempts = 64
)

func logID(k int64) string { return logPrefix + strconv.FormatInt(k, 10) }

// feedLogDoc is a log document: the entries one append made, by user key;
// once every bucket holds them, a tombstone (FoldedAt set, Users empty),
// kept for tombstoneAge so that no writer that read the head before the
// fold can take its number again.
type feedLogDoc struct {
	ID       string              `bson:"_id"`
	Users    map[string][]string `bson:"users,omitempty"`
	FoldedAt *time.Time          `bson:"folded_at,omitempty"`
}

// tombstoneAge is how long a folded log document's number stays taken: far
// longer than any append takes from reading the head to its insert.
const tombstoneAge = 24 * time.Hour

// TaskFeeds returns the task feed store.
func (db *DB) TaskFeeds() *TaskFeedStore { return &TaskFeedStore{db: db} }

// TaskFeedStore implements backend.TaskFeedStore.
type TaskFeedStore struct{ db *DB }

var _ backend.TaskFeedStore = (*TaskFeedStore)(nil)

func (s *TaskFeedStore) coll() collection { return s.db.collection("task_feeds") }

// AppendTaskFeeds implements backend.TaskFeedStore: one log document
// (more for an append of over logDocEntries entries), then the head's log
// count; the append that brings the count to a multiple of foldEvery
// starts a fold behind it.
func (s *TaskFeedStore) AppendTaskFeeds(ctx context.Context, feeds map[string][]backend.TaskFeedEntry) error {
	users := make([]string, 0, len(feeds))
	for u, entries := range feeds {
		if u != "" && len(entries) > 0 {
			users = append(users, u)
		}
	}
	if len(users) == 0 {
		return nil
	}
	slices.Sort(users)
	var docs []map[string][]string
	room := 0
	for _, u := range users {
		key := feedKey(u)
		for _, e := range feeds[u] {
			if room == 0 {
				docs, room = append(docs, map[string][]string{}), logDocEntries
			}
			doc := docs[len(docs)-1]
			doc[key] = append(doc[key], encodeFeedEntry(e))
			room--
		}
	}
	if s.db.feeds != nil {
		defer s.db.feeds.written() // even after an error: the write may have landed
	}
	head, err := s.readHead(ctx)
	if err != nil {
		return err
	}
	k := head.Log
	for _, doc := range docs {
		if k, err = s.insertLog(ctx, k+1, doc); err != nil {
			return err
		}
	}
	if err := s.raiseLog(ctx, k); err != nil {
		return err
	}
	if k/foldEvery > head.Log/foldEvery {
		go s.foldBehind()
	}
	return nil
}

// insertLog inserts a log document numbered k, or the first free number
// after it, and returns the number. After losing a number it goes on from
// the head when that is further: under contention the others raise it
// faster than one climbs number by number.
func (s *TaskFeedStore) insertLog(ctx context.Context, k int64, users map[string][]string) (int64, error) {
	for range logAttempts {
		_, err := s.coll().InsertOne(ctx, feedLogDoc{ID: logID(k), Users: users})
		if err == nil {
			return k, nil
		}
		if err := translate(err); backend.ErrorCode(err) != backend.ECONFLICT {
			return 0, err
		}
		head, err := s.readHead(ctx)
		if err != nil {
			return 0, err
		}
		k = max(k+1, head.Log+1) // log-k exists, and so does every number up to the head
	}
	return 0, backend.Errorf(backend.EUNAVAILABLE, "the task feeds are too busy: no log number was free after %d tries; try again", logAttempts)
}

// TaskFeed implements backend.TaskFeedStore: from the instance's copy of
// the feeds when it is fresh and holds atLeast entries (feedmirror.go),
// else from the store: the user's bucket, then the log after its fold.
func (s *TaskFeedStore) TaskFeed(ctx context.Context, userID string, atLeast int64) (*backend.TaskFeed, error) {
	if f, ok, err := s.mirrored(ctx, userID, atLeast); err != nil || ok {
		return f, err
	}
	key := feedKey(userID)
	// A fold may bury log documents (tombstones, see feedLogDoc) between
	// the bucket's read and theirs: then the bucket is read again.
	for attempt := 0; ; attempt++ {
		var b struct {
			Upto  int64                    `bson:"upto"`
			Users map[string]taskFeedModel `bson:"users"`
		}
		err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: feedBucket(userID)}},
			options.FindOne().SetProjection(bson.D{{Key: "users." + key, Value: 1}, {Key: "upto", Value: 1}})).Decode(&b)
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return nil, translate(err)
		}
		head, err := s.readHead(ctx)
		if err != nil {
			return nil, err
		}
		var logged []string
		k := b.Upto + 1
		for ; ; k++ {
			var doc feedLogDoc
			err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: logID(k)}},
				options.FindOne().SetProjection(bson.D{{Key: "users." + key, Value: 1}, {Key: "folded_at", Value: 1}})).Decode(&doc)
			if errors.Is(err, mongo.ErrNoDocuments) || err == nil && doc.FoldedAt != nil {
				break
			} else if err != nil {
				return nil, translate(err)
			}
			logged = append(logged, doc.Users[key]...)
		}
		// A gap (or tombstone) at or below the head's count means a fold
		// moved the bucket past it since the bucket was read.
		if k > head.Log || attempt == 2 {
			m := b.Users[key]
			return m.feed(userID, logged), nil
		}
	}
}

// CompactTaskFeed implements backend.TaskFeedStore: the entries kept (the
// last of each task) become Old with their positions, IDs empties and
// Base moves to N — a compare-and-set on N, which every fold moves. The
// user's bucket is folded first, so that N covers the entries the log
// holds for them. The filter on n makes FerretDB decode every bucket (it
// hands only _id alone to SQLite); a compaction is rare — a feed compacts
// once it holds twice as many entries as tasks — so that is the price of
// keeping MongoDB, where several instances write at once, exact.
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
	if err := s.fold(ctx, []string{bucket}); err != nil {
		return false, err
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
