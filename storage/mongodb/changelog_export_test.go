package mongodb

import "context"

// TestLog is a change log of collection name that keeps kept records
// rather than ChangesKept, so that a test can drop some without a
// thousand writes.
type TestLog struct{ l changeLog }

// NewTestLog returns the change log of collection name in db.
func NewTestLog(db *DB, name string, kept int64) TestLog {
	l := db.changeLog(name)
	l.kept = kept
	return TestLog{l}
}

// Bump raises the head, as a write of ids does.
func (t TestLog) Bump(ctx context.Context, ids ...string) error { return t.l.bump(ctx, ids...) }

// Since reads the log.
func (t TestLog) Since(ctx context.Context, after, upTo int64) ([]string, bool, error) {
	return t.l.since(ctx, after, upTo)
}

// Head reads the head.
func (t TestLog) Head(ctx context.Context) (int64, error) { return t.l.seq(ctx) }
