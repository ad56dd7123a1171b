package mongodb

import (
	"context"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// changeLog is what lets an instance keep a collection in memory and
// still see every other instance's writes (results.Service's search
// index of published results, directory.Service's of the enterprises;
// both through backend/memindex): a head and a log of what each write
// changed, kept beside the collection.
//
// The head is one small document, _id "head", in a collection of its own
// (NAME_head, so that a read of the collection never meets it), whose seq
// every write of the collection raises after the write. A reader that
// read the head before reading the records and finds it unchanged later
// has seen every write since; a changed head means reading again. The log
// (NAME_changes) holds one record per seq: the ids of the records that
// write changed, _id the seq in decimal digits (changeKey). Both are read by _id alone: an index lookup
// on MongoDB, and on FerretDB v1 the one filter it hands to SQLite, which
// compares the stored _id without decoding a document (row by row still:
// see TaskStore.FindTasksByIDs) — every other filter has FerretDB read
// and decode the whole collection.
type changeLog struct {
	db   *DB
	name string // the collection logged
	kept int64  // how many change records it keeps: changesKept
}

// changeLog returns the head and log of collection name.
func (db *DB) changeLog(name string) changeLog {
	return changeLog{db: db, name: name, kept: changesKept}
}

func (l changeLog) head() collection    { return l.db.collection(l.name + "_head") }
func (l changeLog) changes() collection { return l.db.collection(l.name + "_changes") }

const changeHeadID = "head"

// bumpTimeout bounds a bump, which outlives its caller's context.
const bumpTimeout = 30 * time.Second

type changeHeadModel struct {
	ID  string    `bson:"_id"`
	Seq int64     `bson:"seq"`
	At  time.Time `bson:"at"`
}

// changesKept is how many change records a log keeps, the newest: a
// reader further behind reads everything again.
const changesKept = 1000

type changeModel struct {
	Key string   `bson:"_id"` // changeKey(seq)
	IDs []string `bson:"ids"` // none: unknown, read everything again
}

// changeKey is the _id of the change record of seq: its decimal digits.
// A string, because FerretDB v1 hands only _id equality with a string
// to SQLite; a number there makes it read and decode every record of the
// log (some of a thousand ids each) for every one read.
func changeKey(seq int64) string { return strconv.FormatInt(seq, 10) }

// bump raises the head's seq (creating the head at 1) and records that
// write's ids under the new seq, dropping the record that falls out of
// the newest l.kept kept. It is called after the write; no ids means the
// write cannot say what it changed, which sends readers to read
// everything. On FerretDB, whose updates are not atomic, two instances
// bumping at once may both get the same seq: each bumps after its write,
// so the head still moves for every reader, and the second to record
// finds the seq taken and bumps again with a record of no ids.
//
// It takes a document lock (see lockDocument): call it holding none. It
// runs to its end even when ctx is cancelled after the write, since a
// write whose head stays behind is hidden from other instances until the
// next one; bumpTimeout bounds it instead.
func (l changeLog) bump(ctx context.Context, ids ...string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bumpTimeout)
	defer cancel()
	update := bson.D{{Key: "$inc", Value: bson.D{{Key: "seq", Value: int64(1)}}},
		{Key: "$set", Value: bson.D{{Key: "at", Value: time.Now().UTC()}}}}
	opts := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)
	var m changeHeadModel
	var err error
	unlock := lockDocument(l.head(), changeHeadID)
	for range 2 { // two first bumps at once: one upsert inserts, the other retries as an update
		err = translate(l.head().FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: changeHeadID}}, update, opts).Decode(&m))
		if backend.ErrorCode(err) != backend.ECONFLICT {
			break
		}
	}
	unlock()
	if err != nil {
		return err
	}
	_, err = l.changes().InsertOne(ctx, changeModel{Key: changeKey(m.Seq), IDs: ids})
	if err = translate(err); backend.ErrorCode(err) == backend.ECONFLICT && len(ids) > 0 {
		return l.bump(ctx)
	} else if err != nil && backend.ErrorCode(err) != backend.ECONFLICT {
		return err
	}
	_, _ = l.changes().DeleteOne(ctx, bson.D{{Key: "_id", Value: changeKey(m.Seq - l.kept)}})
	return nil
}

// bumpAfter bumps the head after a write that returned err, and returns
// err, or else the bump's error. Only a refusal (ECONFLICT, ENOTFOUND:
// nothing was written) skips the bump: a write that failed otherwise (a
// lost connection, a deadline) may still have been applied, and a head
// left behind would hide it from every other instance until the next
// write.
func (l changeLog) bumpAfter(ctx context.Context, err error, ids ...string) error {
	switch backend.ErrorCode(err) {
	case backend.ECONFLICT, backend.ENOTFOUND:
		return err
	}
	if berr := l.bump(ctx, ids...); err == nil {
		return berr
	}
	return err
}

// seq reads the head: 0 before the first write.
func (l changeLog) seq(ctx context.Context) (int64, error) {
	var m changeHeadModel
	err := l.head().FindOne(ctx, bson.D{{Key: "_id", Value: changeHeadID}}).Decode(&m)
	if err = translate(err); backend.ErrorCode(err) == backend.ENOTFOUND {
		return 0, nil
	}
	return m.Seq, err
}

// since returns the ids the writes that moved the head from after to upTo
// changed (repeats possible), one read by _id per write, or false when
// the log cannot tell: too many writes ago, a write that recorded no ids,
// or one whose writer has not recorded it yet.
func (l changeLog) since(ctx context.Context, after, upTo int64) ([]string, bool, error) {
	if after < 0 || upTo < after || upTo-after > l.kept {
		return nil, false, nil
	}
	var ids []string
	for seq := after + 1; seq <= upTo; seq++ {
		var m changeModel
		err := translate(l.changes().FindOne(ctx, bson.D{{Key: "_id", Value: changeKey(seq)}}).Decode(&m))
		switch {
		case backend.ErrorCode(err) == backend.ENOTFOUND:
			return nil, false, nil // dropped, or its writer has not recorded it yet
		case err != nil:
			return nil, false, err
		case len(m.IDs) == 0:
			return nil, false, nil
		}
		ids = append(ids, m.IDs...)
	}
	return ids, true, nil
}
