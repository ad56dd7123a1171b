package mongodb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
	"suiji/backend/draw"
	"suiji/backend/draw/drawv1"
)

// drawModel is how a draw attempt is stored. The published record is kept
// as the exact JSON that is published, so what was drawn and what is shown
// can never drift: for suiji-draw/2 (Format 2) the head, the allocation and
// the selections, with the candidates and roster in snapshots named by
// their hashes (stored once per commitment, shared by the attempts that
// used it); for suiji-draw/1 (Format 0) the record without its pool and
// roster, which are chunked into draw_snapshots under the draw's id.
type drawModel struct {
	ID          string    `bson:"_id"`
	PlanID      string    `bson:"plan_id"`
	Seq         int       `bson:"seq"`
	Year        int       `bson:"year"`
	Reason      string    `bson:"reason"`
	Outcome     string    `bson:"outcome"` // "" for suiji-draw/1: drawn
	CreatedBy   string    `bson:"created_by"`
	CreatedName string    `bson:"created_name"`
	CreatedAt   time.Time `bson:"created_at"`
	CommittedBy string    `bson:"committed_by,omitempty"`
	Format      int       `bson:"format"`
	Record      string    `bson:"record"`       // JSON: the RecordHead (2), or the record without pool and roster (0)
	Allocation  string    `bson:"allocation"`   // JSON (2)
	Selections  string    `bson:"selections"`   // JSON (2)
	PoolParts   int       `bson:"pool_parts"`   // (0)
	RosterParts int       `bson:"roster_parts"` // (0)
}

const formatV2 = 2

// snapshotModel is one chunk of a suiji-draw/1 draw's pool or roster.
type snapshotModel struct {
	ID      string `bson:"_id"`
	DrawID  string `bson:"draw_id"`
	Part    string `bson:"part"` // "pool" or "roster"
	N       int    `bson:"n"`
	Entries string `bson:"entries"` // JSON array
}

// frozenChunkModel is one chunk of a frozen pool or roster (suiji-draw/2),
// named by the list's hash; frozenHeadModel says the list is complete.
type frozenChunkModel struct {
	ID      string `bson:"_id"` // kind ":" sha ":" n
	Kind    string `bson:"kind"`
	SHA     string `bson:"sha"`
	N       int    `bson:"n"`
	Entries string `bson:"entries"` // JSON list
}

type frozenHeadModel struct {
	ID    string `bson:"_id"` // kind ":" sha
	Parts int    `bson:"parts"`
}

// Draws returns the draw store.
func (db *DB) Draws() *DrawStore { return &DrawStore{db: db} }

// DrawStore implements backend.DrawStore.
type DrawStore struct{ db *DB }

var _ backend.DrawStore = (*DrawStore)(nil)

func (s *DrawStore) coll() collection { return s.db.collection("draws") }

// InsertDraw implements backend.DrawStore. The document's insert (unique
// on plan and seq) is what makes the attempt exist; its snapshots were
// stored at commit.
func (s *DrawStore) InsertDraw(ctx context.Context, d *backend.Draw) error {
	if d.ID == "" {
		d.ID = newID()
	}
	head, err := json.Marshal(&d.Record.RecordHead)
	if err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "encoding the draw record")
	}
	alloc, err := json.Marshal(nonNilList(d.Record.Allocation))
	if err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "encoding the allocation")
	}
	sel, err := json.Marshal(nonNilList(d.Record.Selections))
	if err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "encoding the selections")
	}
	m := drawModel{
		ID: d.ID, PlanID: d.PlanID, Seq: d.Seq, Year: d.Year, Reason: d.Reason, Outcome: d.Record.Outcome,
		CreatedBy: d.CreatedBy, CreatedName: d.CreatedName, CreatedAt: d.CreatedAt, CommittedBy: d.CommittedBy, Format: formatV2,
		Record: string(head), Allocation: string(alloc), Selections: string(sel),
	}
	if err := insertOne(ctx, s.coll(), m); err != nil {
		if backend.ErrorCode(err) == backend.ECONFLICT {
			return backend.Wrap(err, backend.ECONFLICT, "attempt %d of this plan was already stored", d.Seq)
		}
		return err
	}
	return nil
}

func nonNilList[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// FindDrawByID implements backend.DrawStore.
func (s *DrawStore) FindDrawByID(ctx context.Context, id string) (*backend.Draw, error) {
	var m drawModel
	if err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "draw not found")
	}
	d, err := m.domain()
	if err != nil {
		return nil, err
	}
	if m.Format != formatV2 {
		// A suiji-draw/1 record states no pool size: count its pool.
		rec, err := s.legacy(ctx, &m)
		if err != nil {
			return nil, err
		}
		d.Record.PoolSize = len(rec.Pool)
	}
	return d, nil
}

// FindDrawsByPlan implements backend.DrawStore.
func (s *DrawStore) FindDrawsByPlan(ctx context.Context, planID string) ([]*backend.Draw, error) {
	return s.find(ctx, bson.D{{Key: "plan_id", Value: planID}})
}

// FindDrawsInForce implements backend.DrawStore.
func (s *DrawStore) FindDrawsInForce(ctx context.Context, year int) ([]*backend.Draw, error) {
	all, err := s.find(ctx, bson.D{{Key: "year", Value: year}})
	if err != nil {
		return nil, err
	}
	latest := map[string]*backend.Draw{}
	var order []string
	for _, d := range all {
		if !d.Drawn() {
			continue
		}
		if _, ok := latest[d.PlanID]; !ok {
			order = append(order, d.PlanID)
		}
		latest[d.PlanID] = d // sorted by seq: the last one wins
	}
	out := make([]*backend.Draw, len(order))
	for i, p := range order {
		out[i] = latest[p]
	}
	return out, nil
}

func (s *DrawStore) find(ctx context.Context, filter bson.D) ([]*backend.Draw, error) {
	cur, err := s.coll().Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "plan_id", Value: 1}, {Key: "seq", Value: 1}}))
	if err != nil {
		return nil, translate(err)
	}
	var models []drawModel
	if err := cur.All(ctx, &models); err != nil {
		return nil, translate(err)
	}
	out := make([]*backend.Draw, 0, len(models))
	for i := range models {
		d, err := models[i].domain()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func (m *drawModel) domain() (*backend.Draw, error) {
	d := &backend.Draw{
		ID: m.ID, PlanID: m.PlanID, Seq: m.Seq, Year: m.Year, Reason: m.Reason,
		CreatedBy: m.CreatedBy, CreatedName: m.CreatedName, CreatedAt: m.CreatedAt.UTC(), CommittedBy: m.CommittedBy, Record: &draw.Record{},
	}
	if m.Format != formatV2 {
		// suiji-draw/1: its head fields have the same names; the lists
		// that matter to readers (allocation, selections) too.
		var v1 drawv1.Record
		if err := json.Unmarshal([]byte(m.Record), &v1); err != nil {
			return nil, backend.Wrap(err, backend.EINTERNAL, "draw %s: record is corrupt", m.ID)
		}
		if err := json.Unmarshal([]byte(m.Record), &d.Record.RecordHead); err != nil {
			return nil, backend.Wrap(err, backend.EINTERNAL, "draw %s: record is corrupt", m.ID)
		}
		d.Record.Outcome = draw.OutcomeDrawn
		d.Record.Year, d.Record.DrawnAt = m.Year, m.CreatedAt.UTC().Format(time.RFC3339Nano)
		d.Record.Sample = draw.Size{Count: v1.Count}
		if v1.Ratio != 0 {
			d.Record.Sample.Ratio, _ = draw.RatioFromFloat(v1.Ratio)
		}
		d.Record.Allocation = make([]draw.Allocation, len(v1.Allocation))
		for i, a := range v1.Allocation {
			d.Record.Allocation[i] = draw.Allocation(a)
		}
		d.Record.Selections = make([]draw.Selection, len(v1.Selections))
		for i, sel := range v1.Selections {
			d.Record.Selections[i] = draw.Selection(sel)
		}
		d.Record.SampleSize = len(v1.Selections)
		return d, nil
	}
	if err := json.Unmarshal([]byte(m.Record), &d.Record.RecordHead); err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "draw %s: record is corrupt", m.ID)
	}
	if err := json.Unmarshal([]byte(m.Allocation), &d.Record.Allocation); err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "draw %s: allocation is corrupt", m.ID)
	}
	if err := json.Unmarshal([]byte(m.Selections), &d.Record.Selections); err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "draw %s: selections are corrupt", m.ID)
	}
	return d, nil
}

// PutSnapshot implements backend.DrawStore. Chunks go in first, the head
// last: a snapshot exists only once complete. Writing one again (another
// commitment of an unchanged pool, or a retry after a crash) keeps what is
// there.
func (s *DrawStore) PutSnapshot(ctx context.Context, kind, sha string, chunks [][]byte) error {
	headID := kind + ":" + sha
	n, err := s.db.collection("snapshot_heads").CountDocuments(ctx, bson.D{{Key: "_id", Value: headID}})
	if err != nil {
		return translate(err)
	}
	if n > 0 {
		return nil
	}
	const batch = 20 // chunks per InsertMany
	for start := 0; start < len(chunks); start += batch {
		docs := make([]any, 0, batch)
		for i := start; i < min(start+batch, len(chunks)); i++ {
			docs = append(docs, frozenChunkModel{ID: fmt.Sprintf("%s:%d", headID, i), Kind: kind, SHA: sha, N: i, Entries: string(chunks[i])})
		}
		if _, err := s.db.collection("snapshots").InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil && !onlyDuplicates(err) {
			return translate(err)
		}
	}
	_, err = s.db.collection("snapshot_heads").InsertOne(ctx, frozenHeadModel{ID: headID, Parts: len(chunks)})
	if err = translate(err); backend.ErrorCode(err) == backend.ECONFLICT {
		return nil
	}
	return err
}

// onlyDuplicates reports whether a bulk write failed only on documents
// that exist already (a chunk written by an earlier try).
func onlyDuplicates(err error) bool {
	var bw mongo.BulkWriteException
	if !errors.As(err, &bw) || len(bw.WriteErrors) == 0 || bw.WriteConcernError != nil {
		return false
	}
	for _, we := range bw.WriteErrors {
		if we.Code != 11000 {
			return false
		}
	}
	return true
}

// ScanSnapshot implements backend.DrawStore.
func (s *DrawStore) ScanSnapshot(ctx context.Context, kind, sha string, emit func(chunk []byte) error) error {
	var head frozenHeadModel
	if err := s.db.collection("snapshot_heads").FindOne(ctx, bson.D{{Key: "_id", Value: kind + ":" + sha}}).Decode(&head); err != nil {
		return notFound(translate(err), fmt.Sprintf("no %s snapshot %s", kind, sha))
	}
	cur, err := s.db.collection("snapshots").Find(ctx, bson.D{{Key: "kind", Value: kind}, {Key: "sha", Value: sha}},
		options.Find().SetSort(bson.D{{Key: "n", Value: 1}}).SetBatchSize(2))
	if err != nil {
		return translate(err)
	}
	defer cur.Close(ctx)
	n := 0
	for cur.Next(ctx) {
		var c frozenChunkModel
		if err := cur.Decode(&c); err != nil {
			return translate(err)
		}
		if c.N != n {
			return backend.Errorf(backend.EINTERNAL, "%s snapshot %s: chunk %d missing", kind, sha, n)
		}
		if err := emit([]byte(c.Entries)); err != nil {
			return err
		}
		n++
	}
	if err := cur.Err(); err != nil {
		return translate(err)
	}
	if n != head.Parts {
		return backend.Errorf(backend.EINTERNAL, "%s snapshot %s: %d of %d chunks", kind, sha, n, head.Parts)
	}
	return nil
}

// WriteLegacyRecord implements backend.DrawStore.
func (s *DrawStore) WriteLegacyRecord(ctx context.Context, id string, w io.Writer) error {
	var m drawModel
	if err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m); err != nil {
		return notFound(translate(err), "draw not found")
	}
	if m.Format == formatV2 {
		return backend.Errorf(backend.EINTERNAL, "draw %s is not a suiji-draw/1 record", id)
	}
	rec, err := s.legacy(ctx, &m)
	if err != nil {
		return err
	}
	// As suiji-draw/1 records were published: with the year, the time and
	// the reason beside the record (what a history check places them by).
	return json.NewEncoder(w).Encode(struct {
		*drawv1.Record
		Year      int       `json:"year"`
		Reason    string    `json:"reason"`
		CreatedAt time.Time `json:"created_at"`
	}{rec, m.Year, m.Reason, m.CreatedAt.UTC()})
}

// legacy reads a suiji-draw/1 record whole, its pool and roster
// reassembled from their chunks.
func (s *DrawStore) legacy(ctx context.Context, m *drawModel) (*drawv1.Record, error) {
	var rec drawv1.Record
	if err := json.Unmarshal([]byte(m.Record), &rec); err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "draw %s: record is corrupt", m.ID)
	}
	cur, err := s.db.collection("draw_snapshots").Find(ctx, bson.D{{Key: "draw_id", Value: m.ID}},
		options.Find().SetSort(bson.D{{Key: "part", Value: 1}, {Key: "n", Value: 1}}))
	if err != nil {
		return nil, translate(err)
	}
	var chunks []snapshotModel
	if err := cur.All(ctx, &chunks); err != nil {
		return nil, translate(err)
	}
	pool, roster := 0, 0
	rec.Pool, rec.Roster = []drawv1.PoolEntry{}, []drawv1.RosterEntry{}
	for _, c := range chunks {
		switch {
		case c.Part == "pool" && c.N == pool:
			var part []drawv1.PoolEntry
			if err := json.Unmarshal([]byte(c.Entries), &part); err != nil {
				return nil, backend.Wrap(err, backend.EINTERNAL, "draw %s: pool chunk %d is corrupt", m.ID, c.N)
			}
			rec.Pool = append(rec.Pool, part...)
			pool++
		case c.Part == "roster" && c.N == roster:
			var part []drawv1.RosterEntry
			if err := json.Unmarshal([]byte(c.Entries), &part); err != nil {
				return nil, backend.Wrap(err, backend.EINTERNAL, "draw %s: roster chunk %d is corrupt", m.ID, c.N)
			}
			rec.Roster = append(rec.Roster, part...)
			roster++
		}
	}
	if pool != m.PoolParts || roster != m.RosterParts {
		return nil, backend.Errorf(backend.EINTERNAL, "draw %s: snapshot incomplete (%d/%d pool, %d/%d roster chunks)", m.ID, pool, m.PoolParts, roster, m.RosterParts)
	}
	return &rec, nil
}
