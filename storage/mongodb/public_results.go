package mongodb

import (
	"context"
	"regexp"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// publicResultModel is a published result as the public reads it: its own
// small document per task (id = the task's), holding the public fields
// only, so that a search reads nothing else.
type publicResultModel struct {
	ID             string                   `bson:"_id"`
	Version        int                      `bson:"version"`
	OrderKey       string                   `bson:"order_key"` // newest first, ascending (backend.PublicOrderKey)
	Year           int                      `bson:"year"`
	Town           string                   `bson:"town"`
	PlanID         string                   `bson:"plan_id,omitempty"`
	PlanTitle      string                   `bson:"plan_title,omitempty"`
	DepartmentID   string                   `bson:"department_id"`
	DepartmentName string                   `bson:"department_name"`
	EnterpriseName string                   `bson:"enterprise_name"`
	USCC           string                   `bson:"uscc"`
	Date           string                   `bson:"date"`
	Items          []publicItemModel        `bson:"items"`
	Result         string                   `bson:"result"`
	Dispositions   []publicDispositionModel `bson:"dispositions,omitempty"`
	FirstPublished time.Time                `bson:"first_published"`
	PublishedAt    time.Time                `bson:"published_at"`
	Corrections    []correctionModel        `bson:"corrections,omitempty"`
	History        []publicResultModel      `bson:"history,omitempty"`
}

type publicItemModel struct {
	Code string `bson:"code"`
	Name string `bson:"name"`
}

type publicDispositionModel struct {
	Kind   string `bson:"kind"`
	Date   string `bson:"date"`
	CaseNo string `bson:"case_no,omitempty"`
	Agency string `bson:"agency,omitempty"`
}

type correctionModel struct {
	Version int       `bson:"version"`
	At      time.Time `bson:"at"`
	Reason  string    `bson:"reason"`
}

func toPublicResultModel(r *backend.PublicResult) publicResultModel {
	m := publicResultModel{
		ID: r.ID, Version: r.Version, OrderKey: backend.PublicOrderKey(r.FirstPublished), Year: r.Year, Town: r.Town,
		PlanID: r.PlanID, PlanTitle: r.PlanTitle, DepartmentID: r.DepartmentID, DepartmentName: r.DepartmentName,
		EnterpriseName: r.EnterpriseName, USCC: r.USCC, Date: r.Date, Items: []publicItemModel{}, Result: r.Result,
		FirstPublished: r.FirstPublished, PublishedAt: r.PublishedAt,
	}
	for _, it := range r.Items {
		m.Items = append(m.Items, publicItemModel(it))
	}
	for _, d := range r.Dispositions {
		m.Dispositions = append(m.Dispositions, publicDispositionModel(d))
	}
	for _, c := range r.Corrections {
		m.Corrections = append(m.Corrections, correctionModel(c))
	}
	for i := range r.History {
		m.History = append(m.History, toPublicResultModel(&r.History[i]))
	}
	return m
}

func (m *publicResultModel) domain() *backend.PublicResult {
	r := &backend.PublicResult{
		ID: m.ID, Version: m.Version, Year: m.Year, Town: m.Town, PlanID: m.PlanID, PlanTitle: m.PlanTitle,
		DepartmentID: m.DepartmentID, DepartmentName: m.DepartmentName, EnterpriseName: m.EnterpriseName,
		USCC: m.USCC, Date: m.Date, Result: m.Result, FirstPublished: m.FirstPublished.UTC(), PublishedAt: m.PublishedAt.UTC(),
	}
	for _, it := range m.Items {
		r.Items = append(r.Items, backend.PublicItem(it))
	}
	for _, d := range m.Dispositions {
		r.Dispositions = append(r.Dispositions, backend.PublicDisposition(d))
	}
	for _, c := range m.Corrections {
		c.At = c.At.UTC()
		r.Corrections = append(r.Corrections, backend.Correction(c))
	}
	for i := range m.History {
		r.History = append(r.History, *m.History[i].domain())
	}
	return r
}

// PublicResults returns the store of published results.
func (db *DB) PublicResults() *PublicResultStore { return &PublicResultStore{db: db} }

// PublicResultStore implements backend.PublicResultStore.
type PublicResultStore struct{ db *DB }

var _ backend.PublicResultStore = (*PublicResultStore)(nil)

func (s *PublicResultStore) coll() collection { return s.db.collection("public_results") }

// PutPublicResult implements backend.PublicResultStore: a replace of an
// older version, or else an insert; a stored version as new or newer
// stays.
func (s *PublicResultStore) PutPublicResult(ctx context.Context, r *backend.PublicResult) error {
	doc := toPublicResultModel(r)
	for range 2 {
		matched, err := replaceOne(ctx, s.coll(),
			bson.D{{Key: "_id", Value: r.ID}, {Key: "version", Value: bson.D{{Key: "$lt", Value: r.Version}}}}, doc)
		if err != nil {
			return err
		}
		if matched {
			return s.bumpHead(ctx, r.ID)
		}
		err = insertOne(ctx, s.coll(), doc)
		if err == nil {
			return s.bumpHead(ctx, r.ID)
		}
		if backend.ErrorCode(err) != backend.ECONFLICT {
			return err
		}
		// Stored meanwhile, or stored already: replace it if it is older.
	}
	return s.bumpHead(ctx, r.ID) // a repeat changes nothing; the bump is harmless
}

// InsertPublicResults stores published results that are not stored yet
// in one bulk insert (ordered by nothing, so one stored already does not
// stop the rest) and returns the ids it inserted; one stored already is
// left as it is — PutPublicResult is the way to replace it. For loading
// many at once (a migration, a benchmark's 10,000).
func (s *PublicResultStore) InsertPublicResults(ctx context.Context, rs []*backend.PublicResult) ([]string, error) {
	docs, ids := make([]any, len(rs)), make([]string, len(rs))
	for i, r := range rs {
		docs[i], ids[i] = toPublicResultModel(r), r.ID
	}
	inserted, err := insertNew(ctx, s.coll(), ids, docs)
	if len(inserted) > 0 {
		if berr := s.bumpHead(ctx, inserted...); err == nil {
			err = berr
		}
	}
	return inserted, err
}

// log is the head and change log of the published results (see
// changeLog): public_results_head and public_results_changes.
func (s *PublicResultStore) log() changeLog { return s.db.changeLog("public_results") }

// bumpHead raises the head after a write of the results ids.
func (s *PublicResultStore) bumpHead(ctx context.Context, ids ...string) error {
	return s.log().bump(ctx, ids...)
}

// PublicResultChanges implements backend.PublicResultStore: one read by
// _id per write.
func (s *PublicResultStore) PublicResultChanges(ctx context.Context, after, upTo int64) ([]string, bool, error) {
	return s.log().since(ctx, after, upTo)
}

// PublicResultsHead implements backend.PublicResultStore: 0 before the
// first write.
func (s *PublicResultStore) PublicResultsHead(ctx context.Context) (int64, error) {
	return s.log().seq(ctx)
}

// EachPublicResult implements backend.PublicResultStore: one streamed read
// of every published result, in no particular order, without the earlier
// versions.
func (s *PublicResultStore) EachPublicResult(ctx context.Context, fn func(*backend.PublicResult) error) error {
	cur, err := s.coll().Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "history", Value: 0}}).SetBatchSize(1000))
	if err != nil {
		return translate(err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var m publicResultModel
		if err := cur.Decode(&m); err != nil {
			return translate(err)
		}
		if err := fn(m.domain()); err != nil {
			return err
		}
	}
	return translate(cur.Err())
}

// FindPublicResult implements backend.PublicResultStore.
func (s *PublicResultStore) FindPublicResult(ctx context.Context, id string) (*backend.PublicResult, error) {
	var m publicResultModel
	if err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "no published result")
	}
	return m.domain(), nil
}

// FindPublicResults implements backend.PublicResultStore. The listing
// leaves out the earlier versions, which only the single result shows.
// It reads the whole collection twice on FerretDB (the regular expression
// and the count); searches answer from results.Service's index instead
// and come here only above its maximum.
func (s *PublicResultStore) FindPublicResults(ctx context.Context, f backend.PublicResultFilter) ([]*backend.PublicResult, int, error) {
	filter := bson.D{}
	add := func(key string, value any) { filter = append(filter, bson.E{Key: key, Value: value}) }
	if f.Year != 0 {
		add("year", f.Year)
	}
	if f.Town != "" {
		add("town", f.Town)
	}
	if f.PlanID != "" {
		add("plan_id", f.PlanID)
	}
	if f.DepartmentID != "" {
		add("department_id", f.DepartmentID)
	}
	if f.Result != "" {
		add("result", f.Result)
	}
	if t := strings.TrimSpace(f.Text); t != "" {
		add("$or", bson.A{
			bson.D{{Key: "enterprise_name", Value: bson.D{{Key: "$regex", Value: regexp.QuoteMeta(t)}}}},
			bson.D{{Key: "uscc", Value: bson.D{{Key: "$regex", Value: "^" + regexp.QuoteMeta(strings.ToUpper(t))}}}},
		})
	}
	after, err := cursorValues(f.After, 2)
	if err != nil {
		return nil, 0, err
	}
	return pagedFind(ctx, s.coll(), listing{filter: filter, sort: []string{"order_key", "_id"}, after: after,
		offset: f.Offset, limit: f.Limit, fields: bson.D{{Key: "history", Value: 0}}}, (*publicResultModel).domain)
}
