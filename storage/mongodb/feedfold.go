package mongodb

import (
	"context"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// Folding the task feeds' log into their buckets (see taskfeeds.go).

// feedHeadID is the document that counts the log's documents ("log": the
// highest number known to be written; raised after each insert, so it
// never runs ahead of the log) and each bucket's writes ("b": what the
// mirror watches for).
const feedHeadID = "*head"

// feedHead is the head document as read.
type feedHead struct {
	Counts map[string]int64 `bson:"b"`
	Log    int64            `bson:"log"`
}

// readHead reads the head (none yet: zeros).
func (s *TaskFeedStore) readHead(ctx context.Context) (feedHead, error) {
	var head feedHead
	err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: feedHeadID}}).Decode(&head)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return feedHead{}, translate(err)
	}
	return head, nil
}

// raiseLog raises the head's log count to k.
func (s *TaskFeedStore) raiseLog(ctx context.Context, k int64) error {
	defer lockDocument(s.coll(), feedHeadID)()
	_, err := s.coll().UpdateOne(ctx, bson.D{{Key: "_id", Value: feedHeadID}},
		bson.D{{Key: "$max", Value: bson.D{{Key: "log", Value: k}}}}, options.UpdateOne().SetUpsert(true))
	return translate(err)
}

// raiseHead raises the write count of buckets, after they were written.
func (s *TaskFeedStore) raiseHead(ctx context.Context, buckets []string) error {
	inc := make(bson.D, len(buckets))
	for i, b := range buckets {
		inc[i] = bson.E{Key: "b." + b, Value: int64(1)}
	}
	defer lockDocument(s.coll(), feedHeadID)()
	_, err := s.coll().UpdateOne(ctx, bson.D{{Key: "_id", Value: feedHeadID}}, bson.D{{Key: "$inc", Value: inc}}, options.UpdateOne().SetUpsert(true))
	return translate(err)
}

// allBuckets lists every bucket's _id.
func allBuckets() []string {
	out := make([]string, feedBuckets)
	for i := range out {
		out[i] = "feeds-" + strconv.Itoa(i)
	}
	return out
}

// logNumber is the k of a log document's _id, and whether it is one.
func logNumber(id string) (int64, bool) {
	if !strings.HasPrefix(id, logPrefix) {
		return 0, false
	}
	k, err := strconv.ParseInt(id[len(logPrefix):], 10, 64)
	return k, err == nil && k > 0
}

// foldBehind folds every bucket apart from any request, unless this DB
// is folding already or closed; a failure is left to the next fold.
func (s *TaskFeedStore) foldBehind() {
	if !s.db.folding.TryLock() {
		return
	}
	defer s.db.folding.Unlock()
	if s.db.foldsStopped {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = s.fold(ctx, nil)
}

// fold brings buckets (nil: every bucket) up to the head's log count:
// each bucket still behind it gets its users' entries from the log after
// its upto, in one update that is a compare-and-set on upto (a bucket
// another fold moved is left to it). After a fold of every bucket, the
// log documents every bucket holds, read again after the updates, become
// tombstones, and tombstones older than tombstoneAge are deleted.
func (s *TaskFeedStore) fold(ctx context.Context, buckets []string) error {
	head, err := s.readHead(ctx)
	if err != nil || head.Log == 0 {
		return err
	}
	all := buckets == nil
	if all {
		buckets = allBuckets()
	}
	upto, logs, err := s.foldState(ctx, buckets, all)
	if err != nil {
		return err
	}
	low := head.Log
	for _, b := range buckets {
		low = min(low, upto[b])
	}
	// The log documents after the lowest fold, as far as the head.
	entries := map[int64]map[string][]string{}
	for k := low + 1; k <= head.Log; k++ {
		var doc feedLogDoc
		err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: logID(k)}}).Decode(&doc)
		if errors.Is(err, mongo.ErrNoDocuments) || err == nil && doc.FoldedAt != nil {
			// Buried by another fold: every bucket holds it already,
			// and the buckets read before were moved past it.
			return nil
		} else if err != nil {
			return translate(err)
		}
		entries[k] = doc.Users
	}
	var models []mongo.WriteModel
	var moved []string
	for _, b := range buckets {
		if upto[b] >= head.Log {
			continue
		}
		var push, inc bson.D
		byKey := map[string][]string{}
		var keys []string
		for k := upto[b] + 1; k <= head.Log; k++ {
			for key, ids := range entries[k] {
				if feedBucketOfKey(key) != b {
					continue
				}
				if byKey[key] == nil {
					keys = append(keys, key)
				}
				byKey[key] = append(byKey[key], ids...)
			}
		}
		for _, key := range keys {
			push = append(push, bson.E{Key: "users." + key + ".ids", Value: bson.D{{Key: "$each", Value: byKey[key]}}})
			inc = append(inc, bson.E{Key: "users." + key + ".n", Value: int64(len(byKey[key]))})
		}
		update := bson.D{{Key: "$set", Value: bson.D{{Key: "upto", Value: head.Log}}}}
		if len(keys) > 0 {
			update = append(update, bson.E{Key: "$push", Value: push}, bson.E{Key: "$inc", Value: inc})
		}
		filter := bson.D{{Key: "_id", Value: b}, {Key: "upto", Value: upto[b]}}
		if upto[b] == 0 {
			filter = bson.D{{Key: "_id", Value: b}, {Key: "upto", Value: bson.D{{Key: "$exists", Value: false}}}}
		}
		models = append(models, mongo.NewUpdateOneModel().SetFilter(filter).SetUpdate(update).SetUpsert(true))
		moved = append(moved, b)
	}
	if len(moved) > 0 {
		if s.db.feeds != nil {
			defer s.db.feeds.written()
		}
		unlock := lockDocuments(s.coll(), moved) // FerretDB does not isolate updates: see lockDocument
		for start := 0; start < len(models); start += updateChunk {
			_, err := s.coll().BulkWrite(ctx, models[start:min(start+updateChunk, len(models))], options.BulkWrite().SetOrdered(false))
			if err := foldConflictsOnly(err); err != nil {
				unlock()
				return err
			}
		}
		unlock()
		if err := s.raiseHead(ctx, moved); err != nil {
			return err
		}
	}
	if !all {
		return nil
	}
	// What every bucket holds is no longer read. The buckets are read
	// again for it: a bucket whose compare-and-set failed was moved by
	// another fold, which may have stopped short of head.Log.
	upto, _, err = s.foldState(ctx, buckets, true)
	if err != nil {
		return err
	}
	held := head.Log
	for _, b := range buckets {
		held = min(held, upto[b])
	}
	// They become tombstones rather than going: a writer that read the
	// head before this fold may still try their numbers, and must lose.
	now := time.Now().UTC()
	var buries []mongo.WriteModel
	for _, k := range logs {
		if k <= held {
			buries = append(buries, mongo.NewReplaceOneModel().SetFilter(bson.D{{Key: "_id", Value: logID(k)}}).
				SetReplacement(feedLogDoc{ID: logID(k), FoldedAt: &now}))
		}
	}
	for start := 0; start < len(buries); start += updateChunk {
		if _, err := s.coll().BulkWrite(ctx, buries[start:min(start+updateChunk, len(buries))], options.BulkWrite().SetOrdered(false)); err != nil {
			return translate(err)
		}
	}
	_, err = s.coll().DeleteMany(ctx, bson.D{{Key: "folded_at", Value: bson.D{{Key: "$lt", Value: now.Add(-tombstoneAge)}}}})
	return translate(err)
}

// foldState reads each bucket's upto and, when every bucket is read, the
// numbers of the log documents stored and not yet buried (the read is the whole collection's
// either way on FerretDB; on MongoDB the projection keeps it small).
func (s *TaskFeedStore) foldState(ctx context.Context, buckets []string, all bool) (map[string]int64, []int64, error) {
	upto := make(map[string]int64, len(buckets))
	filter := bson.D{}
	if !all {
		filter = bson.D{{Key: "_id", Value: buckets[0]}}
		if len(buckets) > 1 {
			filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: buckets}}}}
		}
	}
	cur, err := s.coll().Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: "upto", Value: 1}, {Key: "folded_at", Value: 1}}))
	if err != nil {
		return nil, nil, translate(err)
	}
	var rows []struct {
		ID     string     `bson:"_id"`
		Upto   int64      `bson:"upto"`
		Folded *time.Time `bson:"folded_at"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, nil, translate(err)
	}
	var logs []int64
	for _, r := range rows {
		if k, ok := logNumber(r.ID); ok {
			if r.Folded == nil {
				logs = append(logs, k)
			}
		} else {
			upto[r.ID] = r.Upto
		}
	}
	return upto, logs, nil
}

// foldConflictsOnly returns err unless it only says that some buckets'
// compare-and-set found them moved (an upsert that found the _id taken):
// another fold did those.
func foldConflictsOnly(err error) error {
	var bwe mongo.BulkWriteException
	if err == nil || !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return translate(err)
	}
	for _, we := range bwe.WriteErrors {
		if backend.ErrorCode(translate(we)) != backend.ECONFLICT {
			return translate(err)
		}
	}
	return nil
}

// feedBucketOfKey is the bucket of the user whose feed key is key.
func feedBucketOfKey(key string) string {
	if strings.HasPrefix(key, "~") {
		if id, err := hex.DecodeString(key[1:]); err == nil {
			return feedBucket(string(id))
		}
	}
	return feedBucket(key)
}
