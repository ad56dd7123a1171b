package mongodb

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
	"suiji/backend/draw/drawv1"
)

// snapshotChunk is how many pool or roster entries one snapshot document
// holds: a 100,000-enterprise pool would not fit in one 16 MB document.
const snapshotChunk = 2000

// drawModel is how a draw is stored. The public record is kept as the exact
// JSON that is published (without its pool and roster, which are chunked
// into draw_snapshots), so what was drawn and what is shown can never drift.
type drawModel struct {
	ID          string    `bson:"_id"`
	PlanID      string    `bson:"plan_id"`
	Seq         int       `bson:"seq"`
	Year        int       `bson:"year"`
	Reason      string    `bson:"reason"`
	CreatedBy   string    `bson:"created_by"`
	CreatedName string    `bson:"created_name"`
	CreatedAt   time.Time `bson:"created_at"`
	Record      string    `bson:"record"` // JSON of drawv1.Record without pool and roster
	PoolParts   int       `bson:"pool_parts"`
	RosterParts int       `bson:"roster_parts"`
}

// snapshotModel is one chunk of a draw's pool or roster.
type snapshotModel struct {
	ID      string `bson:"_id"`
	DrawID  string `bson:"draw_id"`
	Part    string `bson:"part"` // "pool" or "roster"
	N       int    `bson:"n"`
	Entries string `bson:"entries"` // JSON array
}

// Draws returns the draw store.
func (db *DB) Draws() *DrawStore { return &DrawStore{db: db} }

// DrawStore implements backend.DrawStore.
type DrawStore struct{ db *DB }

var _ backend.DrawStore = (*DrawStore)(nil)

func (s *DrawStore) coll() collection { return s.db.collection("draws") }

// InsertDraw implements backend.DrawStore. Snapshot chunks are written
// first and the draw document last: the document's insert (unique on plan
// and seq) is what makes the draw exist. If it loses, the chunks it wrote
// are orphans keyed by its id, never read.
func (s *DrawStore) InsertDraw(ctx context.Context, d *backend.Draw) error {
	if d.ID == "" {
		d.ID = newID()
	}
	header := *d.Record
	header.Pool, header.Roster = nil, nil
	recJSON, err := json.Marshal(&header)
	if err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "encoding the draw record")
	}
	poolParts, err := s.writeChunks(ctx, d.ID, "pool", d.Record.Pool)
	if err != nil {
		return err
	}
	rosterParts, err := s.writeChunks(ctx, d.ID, "roster", d.Record.Roster)
	if err != nil {
		return err
	}
	m := drawModel{
		ID: d.ID, PlanID: d.PlanID, Seq: d.Seq, Year: d.Year, Reason: d.Reason,
		CreatedBy: d.CreatedBy, CreatedName: d.CreatedName, CreatedAt: d.CreatedAt,
		Record: string(recJSON), PoolParts: poolParts, RosterParts: rosterParts,
	}
	if _, err := s.coll().InsertOne(ctx, m); err != nil {
		if err = translate(err); backend.ErrorCode(err) == backend.ECONFLICT {
			return backend.Wrap(err, backend.ECONFLICT, "draw %d of this plan was already stored", d.Seq)
		}
		return err
	}
	return nil
}

func writeChunk[T any](ctx context.Context, s *DrawStore, drawID, part string, n int, entries []T) error {
	raw, err := json.Marshal(entries)
	if err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "encoding the %s snapshot", part)
	}
	_, err = s.db.collection("draw_snapshots").InsertOne(ctx, snapshotModel{
		ID: fmt.Sprintf("%s:%s:%d", drawID, part, n), DrawID: drawID, Part: part, N: n, Entries: string(raw),
	})
	return translate(err)
}

func (s *DrawStore) writeChunks(ctx context.Context, drawID, part string, entries any) (int, error) {
	switch e := entries.(type) {
	case []drawv1.PoolEntry:
		return chunked(ctx, s, drawID, part, e)
	case []drawv1.RosterEntry:
		return chunked(ctx, s, drawID, part, e)
	}
	return 0, backend.Errorf(backend.EINTERNAL, "unknown snapshot part %s", part)
}

func chunked[T any](ctx context.Context, s *DrawStore, drawID, part string, entries []T) (int, error) {
	n := 0
	for start := 0; start < len(entries); start += snapshotChunk {
		end := min(start+snapshotChunk, len(entries))
		if err := writeChunk(ctx, s, drawID, part, n, entries[start:end]); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
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
	cur, err := s.db.collection("draw_snapshots").Find(ctx, bson.D{{Key: "draw_id", Value: id}},
		options.Find().SetSort(bson.D{{Key: "part", Value: 1}, {Key: "n", Value: 1}}))
	if err != nil {
		return nil, translate(err)
	}
	var chunks []snapshotModel
	if err := cur.All(ctx, &chunks); err != nil {
		return nil, translate(err)
	}
	pool, roster := 0, 0
	d.Record.Pool, d.Record.Roster = []drawv1.PoolEntry{}, []drawv1.RosterEntry{}
	for _, c := range chunks {
		switch {
		case c.Part == "pool" && c.N == pool:
			var part []drawv1.PoolEntry
			if err := json.Unmarshal([]byte(c.Entries), &part); err != nil {
				return nil, backend.Wrap(err, backend.EINTERNAL, "draw %s: pool chunk %d is corrupt", id, c.N)
			}
			d.Record.Pool = append(d.Record.Pool, part...)
			pool++
		case c.Part == "roster" && c.N == roster:
			var part []drawv1.RosterEntry
			if err := json.Unmarshal([]byte(c.Entries), &part); err != nil {
				return nil, backend.Wrap(err, backend.EINTERNAL, "draw %s: roster chunk %d is corrupt", id, c.N)
			}
			d.Record.Roster = append(d.Record.Roster, part...)
			roster++
		}
	}
	if pool != m.PoolParts || roster != m.RosterParts {
		return nil, backend.Errorf(backend.EINTERNAL, "draw %s: snapshot incomplete (%d/%d pool, %d/%d roster chunks)", id, pool, m.PoolParts, roster, m.RosterParts)
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
	var rec drawv1.Record
	if err := json.Unmarshal([]byte(m.Record), &rec); err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "draw %s: record is corrupt", m.ID)
	}
	return &backend.Draw{
		ID: m.ID, PlanID: m.PlanID, Seq: m.Seq, Year: m.Year, Reason: m.Reason,
		CreatedBy: m.CreatedBy, CreatedName: m.CreatedName, CreatedAt: m.CreatedAt.UTC(), Record: &rec,
	}, nil
}
