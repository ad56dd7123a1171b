package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// poolBatch is how many enterprises one round trip of a pool read brings.
const poolBatch = 10_000

// Pool returns the reader of plans' pools.
func (db *DB) Pool() *PoolReader { return &PoolReader{db: db} }

// PoolReader implements backend.PoolSource over the enterprises collection:
// the plan's filter is the query, and only the fields a draw uses are read.
type PoolReader struct{ db *DB }

var _ backend.PoolSource = (*PoolReader)(nil)

// poolEnterpriseModel is the projection of an enterprise a draw reads.
type poolEnterpriseModel struct {
	ID         string    `bson:"_id"`
	USCC       string    `bson:"uscc"`
	Town       string    `bson:"town"`
	Industry   string    `bson:"industry"`
	Status     string    `bson:"status"`
	Categories []string  `bson:"categories"`
	Flags      []string  `bson:"flags"`
	UpdatedAt  time.Time `bson:"updated_at"`
}

var poolProjection = bson.D{
	{Key: "_id", Value: 1}, {Key: "uscc", Value: 1}, {Key: "town", Value: 1}, {Key: "industry", Value: 1},
	{Key: "status", Value: 1}, {Key: "categories", Value: 1}, {Key: "flags", Value: 1}, {Key: "updated_at", Value: 1},
}

func poolFilter(q backend.PoolQuery) bson.D {
	var and bson.A
	in := func(field string, values []string) {
		if len(values) > 0 {
			and = append(and, bson.D{{Key: field, Value: bson.D{{Key: "$in", Value: values}}}})
		}
	}
	in("town", q.Towns)
	in("industry", q.Industries)
	in("categories", q.Categories) // any of the enterprise's categories
	in("flags", q.Flags)
	if q.CoverageTargets {
		and = append(and, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "categories", Value: bson.D{{Key: "$in", Value: backend.KeySupervisionCategories}}}},
			bson.D{{Key: "flags", Value: backend.FlagBlacklist}},
		}}})
	}
	if len(and) == 0 {
		return bson.D{}
	}
	return bson.D{{Key: "$and", Value: and}}
}

// ScanPool implements backend.PoolSource.
func (r *PoolReader) ScanPool(ctx context.Context, q backend.PoolQuery, fn func(*backend.PoolEnterprise) error) error {
	cur, err := r.db.collection("enterprises").Find(ctx, poolFilter(q),
		options.Find().SetProjection(poolProjection).SetBatchSize(poolBatch))
	if err != nil {
		return translate(err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var m poolEnterpriseModel
		if err := cur.Decode(&m); err != nil {
			return translate(err)
		}
		e := backend.PoolEnterprise{ID: m.ID, USCC: m.USCC, Town: m.Town, Industry: m.Industry, Status: m.Status,
			Categories: m.Categories, Flags: m.Flags, UpdatedAt: m.UpdatedAt.UTC()}
		if err := fn(&e); err != nil {
			return err
		}
	}
	return translate(cur.Err())
}

// PoolChanged implements backend.PoolSource with two queries the database
// answers without sending enterprises: how many match now, and whether one
// of them was created or changed after mark. (MongoDB answers both from
// indexes; FerretDB v1 scans, and has no $max to make them one pass.)
func (r *PoolReader) PoolChanged(ctx context.Context, q backend.PoolQuery, mark time.Time, n int) (bool, error) {
	c := r.db.collection("enterprises")
	filter := poolFilter(q)
	count, err := c.CountDocuments(ctx, filter)
	if err != nil {
		return false, translate(err)
	}
	if int(count) != n {
		return true, nil
	}
	recent := append(bson.D{}, filter...)
	recent = append(recent, bson.E{Key: "updated_at", Value: bson.D{{Key: "$gt", Value: mark}}})
	changed, err := c.CountDocuments(ctx, recent, options.Count().SetLimit(1))
	return changed > 0, translate(err)
}
