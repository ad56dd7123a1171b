package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// qualificationModel is how a qualification is stored. The code is the _id,
// so uniqueness needs no extra index and seeding can upsert by it.
type qualificationModel struct {
	Code      string    `bson:"_id"`
	Name      string    `bson:"name"`
	CreatedAt time.Time `bson:"created_at"`
}

func (m *qualificationModel) domain() *backend.Qualification {
	return &backend.Qualification{Code: m.Code, Name: m.Name, CreatedAt: m.CreatedAt.UTC()}
}

// Qualifications returns the qualification store.
func (db *DB) Qualifications() *QualificationStore { return &QualificationStore{db: db} }

// QualificationStore implements backend.QualificationStore on the
// qualifications collection.
type QualificationStore struct{ db *DB }

var _ backend.QualificationStore = (*QualificationStore)(nil)

func (s *QualificationStore) coll() collection { return s.db.collection("qualifications") }

// CreateQualification implements backend.QualificationStore.
func (s *QualificationStore) CreateQualification(ctx context.Context, q *backend.Qualification) error {
	return insertOne(ctx, s.coll(), qualificationModel{Code: q.Code, Name: q.Name, CreatedAt: q.CreatedAt})
}

// EnsureQualifications implements backend.QualificationStore with one
// upsert per code that only sets fields on insert, so an existing entry
// (perhaps renamed by the bureau) is never overwritten.
func (s *QualificationStore) EnsureQualifications(ctx context.Context, qs []backend.Qualification) error {
	for _, q := range qs {
		created := q.CreatedAt
		if created.IsZero() {
			created = time.Now().UTC()
		}
		_, err := s.coll().UpdateOne(ctx, bson.D{{Key: "_id", Value: q.Code}},
			bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "name", Value: q.Name}, {Key: "created_at", Value: created}}}},
			options.UpdateOne().SetUpsert(true))
		// Two instances seeding at once may race on the insert; the loser
		// gets a duplicate key, which means the entry exists: success. (A
		// default whose name the bureau gave an entry of another code is
		// inserted all the same — names have no unique index — and an
		// import then reads that name as ambiguous, backend.NewNames.)
		if err = translate(err); err != nil && backend.ErrorCode(err) != backend.ECONFLICT {
			return err
		}
	}
	return nil
}

// FindQualifications implements backend.QualificationStore.
func (s *QualificationStore) FindQualifications(ctx context.Context) ([]*backend.Qualification, error) {
	out, err := findAll(ctx, s.coll(), bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}), (*qualificationModel).domain)
	return out, err
}
