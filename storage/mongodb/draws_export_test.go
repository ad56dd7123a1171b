package mongodb

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"suiji/backend/draw/drawv1"
)

// InsertLegacyDraw stores a suiji-draw/1 record the way the store kept
// them before suiji-draw/2 (the record without pool and roster, those
// chunked under the draw's id), so tests can check such draws still read
// and publish as they were.
func (s *DrawStore) InsertLegacyDraw(ctx context.Context, id, planID string, year int, rec *drawv1.Record) error {
	header := *rec
	header.Pool, header.Roster = nil, nil
	raw, err := json.Marshal(&header)
	if err != nil {
		return err
	}
	parts := map[string]int{}
	for _, part := range []struct {
		name    string
		entries any
		n       int
	}{{"pool", rec.Pool, len(rec.Pool)}, {"roster", rec.Roster, len(rec.Roster)}} {
		for start := 0; start < part.n; start += 2000 {
			var chunk any
			switch e := part.entries.(type) {
			case []drawv1.PoolEntry:
				chunk = e[start:min(start+2000, len(e))]
			case []drawv1.RosterEntry:
				chunk = e[start:min(start+2000, len(e))]
			}
			entries, err := json.Marshal(chunk)
			if err != nil {
				return err
			}
			n := parts[part.name]
			if _, err := s.db.collection("draw_snapshots").InsertOne(ctx, snapshotModel{ID: fmt.Sprintf("%s:%s:%d", id, part.name, n),
				DrawID: id, Part: part.name, N: n, Entries: string(entries)}); err != nil {
				return err
			}
			parts[part.name]++
		}
	}
	_, err = s.coll().InsertOne(ctx, drawModel{ID: id, PlanID: planID, Seq: rec.Seq, Year: year, Record: string(raw), CreatedAt: time.Now().UTC(),
		PoolParts: parts["pool"], RosterParts: parts["roster"]})
	return err
}
