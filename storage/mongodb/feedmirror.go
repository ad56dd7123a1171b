package mongodb

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// The task feeds' mirror: each DB (each instance) keeps a copy of the
// feed buckets in memory, so that a sync reads its caller's feed without
// asking the store — on FerretDB v1 even a read by _id compares every
// bucket's _id and decodes the one found, which dominated a sync once the
// tasks came from memory (tasks.Service's cache).
//
// # Freshness
//
// The head document (feedHeadID) counts the writes of each bucket: every
// append and compaction raises its buckets' counts after writing them. A
// read of a feed answers from the copy when the copy's head was read
// within feedMirrorInterval and no write went through this DB since;
// otherwise the head is read again, then by _id each bucket whose count
// moved — behind the read, which answers from the copy, when the copy is
// only a few seconds old and this DB wrote nothing since; before it
// otherwise. A copy that is stale by a few seconds is safe for syncs: its feeds are shorter, so the cursor handed
// out is earlier and the next sync brings the rest — except that a
// cursor beyond the copy's end means another instance has seen more, and
// that read goes to the store (TaskFeed's atLeast). A writer that dies
// between a bucket's write and the head's (or, on FerretDB, two
// instances' raises of one count racing, which it does not isolate)
// leaves a count unmoved; the whole copy is read again every
// feedMirrorFullEvery, which bounds how long such a change stays unseen.
type feedMirror struct {
	refresh sync.Mutex // one refresh at a time

	mu      sync.Mutex
	buckets map[string]*mirrorBucket // replaced, never changed, by a refresh
	checked time.Time                // when the head of buckets was read
	full    time.Time                // when every bucket was last read
	writes  int64                    // writes through this DB
	seen    int64                    // the writes buckets shows
}

// mirrorBucket is one bucket as read, with the head's count for it read
// before it.
type mirrorBucket struct {
	count int64
	users map[string]taskFeedModel
}

const (
	// feedHeadID is the document counting each bucket's writes.
	feedHeadID = "*head"
	// feedMirrorInterval is how long a read of the head stands.
	feedMirrorInterval = time.Second
	// feedMirrorWaitAfter is how old a copy may be and still answer while
	// a refresh runs behind it.
	feedMirrorWaitAfter = 5 * time.Second
	// feedMirrorFullEvery is how often the whole copy is read again.
	feedMirrorFullEvery = time.Minute
)

// written marks the copy stale: the next read reads the head.
func (m *feedMirror) written() {
	m.mu.Lock()
	m.writes++
	m.mu.Unlock()
}

// youngerThan reports, under m.mu, whether the copy shows every write up
// to writes and its head was read within age.
func (m *feedMirror) youngerThan(writes int64, age time.Duration) bool {
	return m.buckets != nil && m.seen >= writes && time.Since(m.checked) < age
}

// feeds returns the copy. A copy past the interval but younger than
// feedMirrorWaitAfter, with no write through this DB since, answers at
// once while a refresh runs behind it (the next read sees what it found);
// otherwise the read waits for a refresh: after a write here (so that the
// instance shows its own writes), or when the copy is older than that.
func (m *feedMirror) feeds(ctx context.Context, s *TaskFeedStore) (map[string]*mirrorBucket, error) {
	m.mu.Lock()
	buckets, writes := m.buckets, m.writes
	fresh, behind := m.youngerThan(writes, feedMirrorInterval), m.youngerThan(writes, feedMirrorWaitAfter)
	m.mu.Unlock()
	switch {
	case fresh:
		return buckets, nil
	case behind:
		go m.refreshBehind(s)
		return buckets, nil
	}
	m.refresh.Lock()
	defer m.refresh.Unlock()
	return m.reload(ctx, s, writes)
}

// refreshBehind refreshes the copy apart from any request, unless a
// refresh is under way.
func (m *feedMirror) refreshBehind(s *TaskFeedStore) {
	if !m.refresh.TryLock() {
		return
	}
	defer m.refresh.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), feedMirrorWaitAfter)
	defer cancel()
	m.mu.Lock()
	writes := m.writes
	m.mu.Unlock()
	_, _ = m.reload(ctx, s, writes) // a failure leaves the copy for the next read to retry
}

// reload brings the copy up to the head, unless a refresh that covers
// writes ran meanwhile. The caller holds m.refresh.
func (m *feedMirror) reload(ctx context.Context, s *TaskFeedStore, writes int64) (map[string]*mirrorBucket, error) {
	m.mu.Lock()
	if m.youngerThan(writes, feedMirrorInterval) {
		buckets := m.buckets // a refresh that began after our write ran meanwhile
		m.mu.Unlock()
		return buckets, nil
	}
	old, full, writes := m.buckets, time.Since(m.full) >= feedMirrorFullEvery, m.writes
	m.mu.Unlock()

	started := time.Now()
	counts, err := s.headCounts(ctx)
	if err != nil {
		return nil, err
	}
	next := make(map[string]*mirrorBucket, len(counts))
	if full || old == nil {
		if err := s.eachBucket(ctx, func(id string, users map[string]taskFeedModel) {
			next[id] = &mirrorBucket{count: counts[id], users: users}
		}); err != nil {
			return nil, err
		}
	} else {
		for id, b := range old {
			next[id] = b
		}
		for id, n := range counts {
			if b := old[id]; b != nil && b.count == n {
				continue
			}
			users, err := s.bucket(ctx, id)
			if err != nil {
				return nil, err
			}
			next[id] = &mirrorBucket{count: n, users: users}
		}
	}
	m.mu.Lock()
	m.buckets, m.checked, m.seen = next, started, writes
	if full || old == nil {
		m.full = started
	}
	m.mu.Unlock()
	return next, nil
}

// headCounts reads the head: each bucket's write count.
func (s *TaskFeedStore) headCounts(ctx context.Context) (map[string]int64, error) {
	var head struct {
		Counts map[string]int64 `bson:"b"`
	}
	err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: feedHeadID}}).Decode(&head)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return nil, translate(err)
	}
	return head.Counts, nil
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

// feedBucketDoc is a bucket document as read whole.
type feedBucketDoc struct {
	ID    string                   `bson:"_id"`
	Users map[string]taskFeedModel `bson:"users"`
}

// bucket reads one bucket by _id (none: no users).
func (s *TaskFeedStore) bucket(ctx context.Context, id string) (map[string]taskFeedModel, error) {
	var doc feedBucketDoc
	err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return nil, translate(err)
	}
	return doc.Users, nil
}

// eachBucket reads every bucket, in one streamed read.
func (s *TaskFeedStore) eachBucket(ctx context.Context, fn func(id string, users map[string]taskFeedModel)) error {
	cur, err := s.coll().Find(ctx, bson.D{})
	if err != nil {
		return translate(err)
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	for cur.Next(ctx) {
		var doc feedBucketDoc
		if err := cur.Decode(&doc); err != nil {
			return translate(err)
		}
		if strings.HasPrefix(doc.ID, "feeds-") {
			fn(doc.ID, doc.Users)
		}
	}
	return translate(cur.Err())
}

// mirrored returns a user's feed from the DB's copy, or false when there
// is no copy to use: none kept, or one shorter than atLeast.
func (s *TaskFeedStore) mirrored(ctx context.Context, userID string, atLeast int64) (*backend.TaskFeed, bool, error) {
	if s.db.feeds == nil {
		return nil, false, nil
	}
	buckets, err := s.db.feeds.feeds(ctx, s)
	if err != nil {
		return nil, false, err
	}
	var m taskFeedModel
	if b := buckets[feedBucket(userID)]; b != nil {
		m = b.users[feedKey(userID)]
	}
	if m.N < atLeast {
		return nil, false, nil
	}
	return m.domain(userID), true, nil
}
