package mongodb

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"suiji/backend"
)

// The task feeds' mirror: each DB (each instance) keeps a copy of the
// feed buckets and of the log not yet folded into them in memory, so that
// a sync reads its caller's feed without asking the store — on FerretDB
// v1 even a read by _id compares every document's _id and decodes the one
// found, which dominated a sync once the tasks came from memory
// (tasks.Service's cache).
//
// # Freshness
//
// The head document (feedHeadID) counts the log's documents and the
// writes of each bucket: every append raises the first, every fold and
// compaction its buckets' counts, after writing them. A read of a feed
// answers from the copy when the copy's head was read within
// feedMirrorInterval and no write went through this DB since; otherwise
// the head is read again, then by _id each bucket whose count moved and
// each log document the copy lacks — behind the read, which answers from
// the copy, when the copy is only a few seconds old and this DB wrote
// nothing since; before it otherwise. A copy that is stale by a few
// seconds is safe for syncs: its feeds are shorter (a feed in the copy
// stops at the first log document it lacks), so the cursor handed out is
// earlier and the next sync brings the rest — except that a cursor beyond
// the copy's end means another instance has seen more, and that read
// goes to the store (TaskFeed's atLeast). A writer that dies between its
// write and the head's (or, on FerretDB, two instances' raises of one
// count racing, which it does not isolate) leaves a count unmoved; the
// whole copy is read again every feedMirrorFullEvery, which bounds how
// long such a change stays unseen.
type feedMirror struct {
	refresh sync.Mutex // one refresh at a time

	mu      sync.Mutex
	buckets map[string]*mirrorBucket      // replaced, never changed, by a refresh
	logs    map[int64]map[string][]string // the log documents read, by number; likewise
	logSeen int64                         // the head's log count when last read
	checked time.Time                     // when the head of buckets was read
	full    time.Time                     // when every bucket was last read
	writes  int64                         // writes through this DB
	seen    int64                         // the writes buckets shows
}

// mirrorBucket is one bucket as read, with the head's count for it read
// before it.
type mirrorBucket struct {
	count int64
	upto  int64
	users map[string]taskFeedModel
}

const (
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
func (m *feedMirror) feeds(ctx context.Context, s *TaskFeedStore) (*feedCopy, error) {
	m.mu.Lock()
	c, writes := &feedCopy{buckets: m.buckets, logs: m.logs}, m.writes
	fresh, behind := m.youngerThan(writes, feedMirrorInterval), m.youngerThan(writes, feedMirrorWaitAfter)
	m.mu.Unlock()
	switch {
	case fresh:
		return c, nil
	case behind:
		go m.refreshBehind(s)
		return c, nil
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

// feedCopy is the copy as one read sees it.
type feedCopy struct {
	buckets map[string]*mirrorBucket
	logs    map[int64]map[string][]string
}

// reload brings the copy up to the head, unless a refresh that covers
// writes ran meanwhile. The caller holds m.refresh.
func (m *feedMirror) reload(ctx context.Context, s *TaskFeedStore, writes int64) (*feedCopy, error) {
	m.mu.Lock()
	if m.youngerThan(writes, feedMirrorInterval) {
		c := &feedCopy{buckets: m.buckets, logs: m.logs} // a refresh that began after our write ran meanwhile
		m.mu.Unlock()
		return c, nil
	}
	old, oldLogs, logSeen := m.buckets, m.logs, m.logSeen
	full, writes := time.Since(m.full) >= feedMirrorFullEvery, m.writes
	m.mu.Unlock()

	started := time.Now()
	head, err := s.readHead(ctx)
	if err != nil {
		return nil, err
	}
	next := make(map[string]*mirrorBucket, feedBuckets)
	logs := map[int64]map[string][]string{}
	if full || old == nil {
		if err := s.eachDocument(ctx, func(doc *feedDoc) {
			if k, ok := logNumber(doc.ID); ok {
				if doc.Log != nil {
					logs[k] = doc.Log
				}
			} else if strings.HasPrefix(doc.ID, "feeds-") {
				next[doc.ID] = &mirrorBucket{count: head.Counts[doc.ID], upto: doc.Upto, users: doc.Users}
			}
		}); err != nil {
			return nil, err
		}
	} else {
		for id, b := range old {
			next[id] = b
		}
		for id, n := range head.Counts {
			if b := old[id]; b != nil && b.count == n {
				continue
			}
			doc, err := s.bucket(ctx, id)
			if err != nil {
				return nil, err
			}
			next[id] = &mirrorBucket{count: n, upto: doc.Upto, users: doc.Users}
		}
		for k, l := range oldLogs {
			logs[k] = l
		}
		for k := logSeen + 1; k <= head.Log; k++ {
			l, found, err := s.logDocument(ctx, k)
			if err != nil {
				return nil, err
			}
			if found {
				logs[k] = l
			}
		}
	}
	// What every bucket holds is read from the buckets alone.
	low := head.Log
	for _, id := range allBuckets() {
		if b := next[id]; b != nil {
			low = min(low, b.upto)
		} else {
			low = 0
		}
	}
	for k := range logs {
		if k <= low {
			delete(logs, k)
		}
	}
	m.mu.Lock()
	m.buckets, m.logs, m.logSeen, m.checked, m.seen = next, logs, head.Log, started, writes
	if full || old == nil {
		m.full = started
	}
	m.mu.Unlock()
	return &feedCopy{buckets: next, logs: logs}, nil
}

// feedDoc is a document of task_feeds as read whole: a bucket (Upto,
// Users) or a log document (Log; nil for a tombstone).
type feedDoc struct {
	ID    string                   `bson:"_id"`
	Upto  int64                    `bson:"upto"`
	Users map[string]taskFeedModel `bson:"-"`
	Log   map[string][]string      `bson:"-"`
}

// decodeFeedDoc decodes a document of task_feeds by its kind.
func decodeFeedDoc(raw bson.Raw) (*feedDoc, error) {
	doc := &feedDoc{}
	if err := bson.Unmarshal(raw, doc); err != nil {
		return nil, err
	}
	if _, ok := logNumber(doc.ID); ok {
		var l feedLogDoc
		if err := bson.Unmarshal(raw, &l); err != nil {
			return nil, err
		}
		if l.FoldedAt == nil { // a tombstone has no entries, and is no log for readers
			doc.Log = l.Users
			if doc.Log == nil {
				doc.Log = map[string][]string{}
			}
		}
		return doc, nil
	}
	var b struct {
		Users map[string]taskFeedModel `bson:"users"`
	}
	if err := bson.Unmarshal(raw, &b); err != nil {
		return nil, err
	}
	doc.Users = b.Users
	return doc, nil
}

// bucket reads one bucket by _id (none: no users, nothing folded).
func (s *TaskFeedStore) bucket(ctx context.Context, id string) (*feedDoc, error) {
	raw, err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return &feedDoc{ID: id}, nil
	} else if err != nil {
		return nil, translate(err)
	}
	doc, err := decodeFeedDoc(raw)
	return doc, translate(err)
}

// logDocument reads log document k, and whether it exists (a tombstone
// does not).
func (s *TaskFeedStore) logDocument(ctx context.Context, k int64) (map[string][]string, bool, error) {
	var doc feedLogDoc
	err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: logID(k)}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) || err == nil && doc.FoldedAt != nil {
		return nil, false, nil
	}
	return doc.Users, err == nil, translate(err)
}

// eachDocument reads every document of task_feeds, in one streamed read.
func (s *TaskFeedStore) eachDocument(ctx context.Context, fn func(doc *feedDoc)) error {
	cur, err := s.coll().Find(ctx, bson.D{})
	if err != nil {
		return translate(err)
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	for cur.Next(ctx) {
		doc, err := decodeFeedDoc(cur.Current)
		if err != nil {
			return translate(err)
		}
		fn(doc)
	}
	return translate(cur.Err())
}

// feed is a user's feed in the copy: their bucket's model, then their
// entries in the log documents after its fold, as long as they follow
// one another.
func (c *feedCopy) feed(userID string) *backend.TaskFeed {
	key := feedKey(userID)
	var m taskFeedModel
	var upto int64
	if b := c.buckets[feedBucket(userID)]; b != nil {
		m, upto = b.users[key], b.upto
	}
	var logged []string
	for k := upto + 1; ; k++ {
		l, ok := c.logs[k]
		if !ok {
			break
		}
		logged = append(logged, l[key]...)
	}
	return m.feed(userID, logged)
}

// mirrored returns a user's feed from the DB's copy, or false when there
// is no copy to use: none kept, or one shorter than atLeast.
func (s *TaskFeedStore) mirrored(ctx context.Context, userID string, atLeast int64) (*backend.TaskFeed, bool, error) {
	if s.db.feeds == nil {
		return nil, false, nil
	}
	c, err := s.db.feeds.feeds(ctx, s)
	if err != nil {
		return nil, false, err
	}
	f := c.feed(userID)
	if f.Len < atLeast {
		return nil, false, nil
	}
	return f, true, nil
}
