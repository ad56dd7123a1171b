package mongodb

import (
	"context"
	"regexp"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
)

// enterpriseModel is how an enterprise is stored.
type enterpriseModel struct {
	ID                  string         `bson:"_id"`
	USCC                string         `bson:"uscc"`
	Name                string         `bson:"name"`
	Town                string         `bson:"town"`
	Industry            string         `bson:"industry"`
	Address             string         `bson:"address"`
	Location            *geoPointModel `bson:"location"`
	Categories          []string       `bson:"categories"`
	Flags               []string       `bson:"flags"`
	Status              string         `bson:"status"`
	LegalRepresentative string         `bson:"legal_representative"`
	SafetyManager       string         `bson:"safety_manager"`
	Phone               string         `bson:"phone"`
	ReviewedAt          *time.Time     `bson:"reviewed_at"` // null when never reviewed
	Version             int            `bson:"version"`
	CreatedAt           time.Time      `bson:"created_at"`
	UpdatedAt           time.Time      `bson:"updated_at"`
}

// geoPointModel is a WGS-84 position. Not GeoJSON: FerretDB v1 has no
// 2dsphere index, so distances are computed in Go.
type geoPointModel struct {
	Lat float64 `bson:"lat"`
	Lng float64 `bson:"lng"`
}

func toEnterpriseModel(e *backend.Enterprise) *enterpriseModel {
	m := &enterpriseModel{
		ID: e.ID, USCC: e.USCC, Name: e.Name, Town: e.Town, Industry: e.Industry, Address: e.Address,
		Categories: nonNil(e.Categories), Flags: nonNil(e.Flags), Status: e.Status,
		LegalRepresentative: e.LegalRepresentative, SafetyManager: e.SafetyManager, Phone: e.Phone,
		ReviewedAt: e.ReviewedAt, Version: e.Version, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
	}
	if e.Location != nil {
		m.Location = &geoPointModel{Lat: e.Location.Lat, Lng: e.Location.Lng}
	}
	return m
}

func (m *enterpriseModel) domain() *backend.Enterprise {
	e := &backend.Enterprise{
		ID: m.ID, USCC: m.USCC, Name: m.Name, Town: m.Town, Industry: m.Industry, Address: m.Address,
		Categories: nonNil(m.Categories), Flags: nonNil(m.Flags), Status: m.Status,
		LegalRepresentative: m.LegalRepresentative, SafetyManager: m.SafetyManager, Phone: m.Phone,
		Version: m.Version, CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC(),
	}
	if m.Location != nil {
		e.Location = &backend.GeoPoint{Lat: m.Location.Lat, Lng: m.Location.Lng}
	}
	if m.ReviewedAt != nil {
		t := m.ReviewedAt.UTC()
		e.ReviewedAt = &t
	}
	return e
}

// nonNil stores and returns empty lists as [] rather than null, so that a
// filter on an array field never meets a null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Enterprises returns the enterprise store.
func (db *DB) Enterprises() *EnterpriseStore { return &EnterpriseStore{db: db} }

// EnterpriseStore implements backend.EnterpriseStore on the enterprises
// collection.
type EnterpriseStore struct{ db *DB }

var _ backend.EnterpriseStore = (*EnterpriseStore)(nil)

func (s *EnterpriseStore) coll() collection { return s.db.collection("enterprises") }

// CreateEnterprise implements backend.EnterpriseStore.
func (s *EnterpriseStore) CreateEnterprise(ctx context.Context, e *backend.Enterprise) error {
	if e.ID == "" {
		e.ID = newID()
	}
	e.Version = 1 // every record starts at version 1; UpdateX bumps it
	err := usccConflict(insertOne(ctx, s.coll(), toEnterpriseModel(e)), e.USCC)
	return s.log().bumpAfter(ctx, err, e.ID)
}

// FindEnterprisesByUSCC implements backend.EnterpriseStore.
func (s *EnterpriseStore) FindEnterprisesByUSCC(ctx context.Context, usccs []string) ([]*backend.Enterprise, error) {
	return findIn(ctx, s.coll(), "uscc", anySlice(usccs), nil, (*enterpriseModel).domain)
}

// FindEnterprisesByIDs implements backend.EnterpriseStore.
func (s *EnterpriseStore) FindEnterprisesByIDs(ctx context.Context, ids []string) ([]*backend.Enterprise, error) {
	return findIn(ctx, s.coll(), "_id", anySlice(ids), nil, (*enterpriseModel).domain)
}

// CreateEnterprises implements backend.EnterpriseStore.
func (s *EnterpriseStore) CreateEnterprises(ctx context.Context, es []*backend.Enterprise) ([]error, error) {
	docs := make([]any, len(es))
	for i, e := range es {
		if e.ID == "" {
			e.ID = newID()
		}
		e.Version = 1
		docs[i] = toEnterpriseModel(e)
	}
	errs, err := insertMany(ctx, s.coll(), docs, func(i int, err error) error { return usccConflict(err, es[i].USCC) })
	return s.bumpBatch(ctx, es, errs, err)
}

// UpdateEnterprises implements backend.EnterpriseStore.
func (s *EnterpriseStore) UpdateEnterprises(ctx context.Context, es []*backend.Enterprise) ([]error, error) {
	batch := make([]versioned, len(es))
	for i, e := range es {
		batch[i] = versioned{ID: e.ID, Version: &e.Version, UpdatedAt: e.UpdatedAt,
			Doc: func(next int) any { m := toEnterpriseModel(e); m.Version = next; return m }}
	}
	errs, err := replaceManyVersioned(ctx, s.coll(), "enterprise", batch, func(i int, err error) error { return usccConflict(err, es[i].USCC) })
	return s.bumpBatch(ctx, es, errs, err)
}

// UpdateEnterprise implements backend.EnterpriseStore. The filter on both
// _id and version makes the replace a compare-and-set: of two writers that
// read the same version, exactly one matches.
func (s *EnterpriseStore) UpdateEnterprise(ctx context.Context, e *backend.Enterprise) error {
	doc := func(next int) any { m := toEnterpriseModel(e); m.Version = next; return m }
	err := replaceVersioned(ctx, s.coll(), e.ID, &e.Version, doc, "enterprise",
		func(err error) error { return usccConflict(err, e.USCC) })
	return s.log().bumpAfter(ctx, err, e.ID)
}

// FindEnterpriseByID implements backend.EnterpriseStore.
func (s *EnterpriseStore) FindEnterpriseByID(ctx context.Context, id string) (*backend.Enterprise, error) {
	return s.findOne(ctx, bson.D{{Key: "_id", Value: id}})
}

// FindEnterpriseByUSCC implements backend.EnterpriseStore.
func (s *EnterpriseStore) FindEnterpriseByUSCC(ctx context.Context, uscc string) (*backend.Enterprise, error) {
	return s.findOne(ctx, bson.D{{Key: "uscc", Value: uscc}})
}

func (s *EnterpriseStore) findOne(ctx context.Context, filter bson.D) (*backend.Enterprise, error) {
	var m enterpriseModel
	if err := s.coll().FindOne(ctx, filter).Decode(&m); err != nil {
		return nil, notFound(translate(err), "enterprise not found")
	}
	return m.domain(), nil
}

// FindEnterprises implements backend.EnterpriseStore.
func (s *EnterpriseStore) FindEnterprises(ctx context.Context, f backend.EnterpriseFilter) ([]*backend.Enterprise, int, error) {
	after, err := cursorValues(f.After, 1)
	if err != nil {
		return nil, 0, err
	}
	return pagedFind(ctx, s.coll(), listing{filter: enterpriseFilter(f), sort: []string{"uscc"},
		after: after, offset: f.Offset, limit: f.Limit}, (*enterpriseModel).domain)
}

// enterpriseFilter builds the query. Conditions that need $or are wrapped
// in $and so that the free-text and staleness conditions do not overwrite
// each other. User text only ever enters a regex through QuoteMeta.
func enterpriseFilter(f backend.EnterpriseFilter) bson.D {
	filter := bson.D{}
	for _, c := range []struct{ key, value string }{
		{"town", f.Town}, {"categories", f.Category}, {"flags", f.Flag},
		{"industry", f.Industry}, {"status", f.Status},
	} {
		if c.value != "" {
			filter = append(filter, bson.E{Key: c.key, Value: c.value})
		}
	}
	var and bson.A
	if q := strings.TrimSpace(f.Query); q != "" {
		and = append(and, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "name", Value: bson.Regex{Pattern: regexp.QuoteMeta(q), Options: "i"}}},
			bson.D{{Key: "uscc", Value: bson.Regex{Pattern: "^" + regexp.QuoteMeta(strings.ToUpper(q))}}},
		}}})
	}
	if f.NotReviewedSince != nil {
		and = append(and, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "reviewed_at", Value: nil}},
			bson.D{{Key: "reviewed_at", Value: bson.D{{Key: "$lt", Value: *f.NotReviewedSince}}}},
		}}})
	}
	if len(and) > 0 {
		filter = append(filter, bson.E{Key: "$and", Value: and})
	}
	return filter
}

// usccConflict names the field of a duplicate USCC.
func usccConflict(err error, uscc string) error {
	if backend.ErrorCode(err) == backend.ECONFLICT {
		return &backend.Error{Code: backend.ECONFLICT, Message: "an enterprise with USCC " + uscc + " already exists",
			Fields: map[string]string{"uscc": "already registered"}, Err: err}
	}
	return err
}
