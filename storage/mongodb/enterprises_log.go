package mongodb

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// The enterprises' head and change log (see changeLog): every write of
// the enterprises collection through this store — CreateEnterprise,
// CreateEnterprises, UpdateEnterprise, UpdateEnterprises — raises the
// head after the write, naming the enterprises it wrote, so that
// directory.Service's index of the directory in each instance follows
// every other instance's writes. A new writer of the collection must do
// the same (removing an audit outbox entry changes no field the index
// holds and does not).

// log is the head and change log of the enterprises: enterprises_head and
// enterprises_changes.
func (s *EnterpriseStore) log() changeLog { return s.db.changeLog("enterprises") }

// bumpBatch raises the head after a bulk write of es: naming those
// stored, or every one when the batch as a whole failed (some may have
// been written before it did). It returns errs and err, or the bump's
// error when the batch had none.
func (s *EnterpriseStore) bumpBatch(ctx context.Context, es []*backend.Enterprise, errs []error, err error) ([]error, error) {
	var ids []string
	for i, e := range es {
		if err != nil || errs[i] == nil {
			ids = append(ids, e.ID)
		}
	}
	if len(ids) == 0 {
		return errs, err
	}
	if berr := s.log().bump(ctx, ids...); err == nil && berr != nil {
		return nil, berr
	}
	return errs, err
}

// EnterprisesHead implements backend.EnterpriseStore: 0 before the first
// write; one read by _id.
func (s *EnterpriseStore) EnterprisesHead(ctx context.Context) (int64, error) {
	return s.log().seq(ctx)
}

// EnterpriseChanges implements backend.EnterpriseStore: one read by _id
// per write.
func (s *EnterpriseStore) EnterpriseChanges(ctx context.Context, after, upTo int64) ([]string, bool, error) {
	return s.log().since(ctx, after, upTo)
}

// EachEnterprise implements backend.EnterpriseStore: one streamed read of
// the whole collection, in no particular order, without the audit outbox.
func (s *EnterpriseStore) EachEnterprise(ctx context.Context, fn func(*backend.Enterprise) error) error {
	cur, err := s.coll().Find(ctx, bson.D{}, options.Find().
		SetProjection(bson.D{{Key: outboxField, Value: 0}}).SetBatchSize(1000))
	if err != nil {
		return translate(err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var m enterpriseModel
		if err := cur.Decode(&m); err != nil {
			return translate(err)
		}
		if err := fn(m.domain()); err != nil {
			return err
		}
	}
	return translate(cur.Err())
}
