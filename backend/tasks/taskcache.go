package tasks

import (
	"context"
	"sync"

	"suiji/backend"
)

// TaskCacheMax is how many tasks an instance holds for syncs by default
// (Service.CacheMax): a county's year is a few thousand; each costs a few
// kilobytes.
const TaskCacheMax = 20000

// StoredCopier is a task store that can say what a task reads back as
// once stored (times to the millisecond, empty lists as the store keeps
// them), without reading it: what the instance that wrote a task keeps
// for syncs (mongodb.TaskStore).
type StoredCopier interface {
	StoredCopy(t *backend.Task) (*backend.Task, error)
}

// taskCache holds tasks as stored, by id, for syncs: a task feed names
// the version each change made (backend.TaskFeedEntry.Version), so a sync
// answers from a task held here when it is at least that version — as
// exact as reading the store, across instances — and reads the store for
// the rest (and keeps what it read). Nobody may change a task it holds
// or hands out. Above max, a task chosen at random makes room.
type taskCache struct {
	mu sync.Mutex
	m  map[string]*backend.Task
}

// get returns the task held for id if it is at least version min (a
// min of 0 — not known — never matches).
func (c *taskCache) get(id string, min int64) *backend.Task {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.m[id]; t != nil && min > 0 && int64(t.Version) >= min {
		return t
	}
	return nil
}

// put keeps ts, each unless a newer version is held.
func (c *taskCache) put(maxTasks int, ts ...*backend.Task) {
	if maxTasks <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*backend.Task{}
	}
	for _, t := range ts {
		if old := c.m[t.ID]; old != nil {
			if old.Version < t.Version {
				c.m[t.ID] = t
			}
			continue
		}
		for id := range c.m { // map order is random enough to choose what goes
			if len(c.m) < maxTasks {
				break
			}
			delete(c.m, id)
		}
		c.m[t.ID] = t
	}
}

func (s *Service) cacheMax() int {
	if s.CacheMax == 0 {
		return TaskCacheMax
	}
	return s.CacheMax
}

// remember keeps what the instance just stored of ts for later syncs, as
// the store reads it back, when the store can tell that without a read.
func (s *Service) remember(ts ...*backend.Task) {
	sc, ok := s.Tasks.(StoredCopier)
	if !ok || s.cacheMax() < 0 {
		return
	}
	copies := make([]*backend.Task, 0, len(ts))
	for _, t := range ts {
		if c, err := sc.StoredCopy(t); err == nil {
			copies = append(copies, c)
		}
	}
	s.cache.put(s.cacheMax(), copies...)
}

// tasksAtLeast returns the stored tasks among ids, in no particular
// order, each at least the version min names for it: from the cache when
// it holds one, else from the store (and then kept).
func (s *Service) tasksAtLeast(ctx context.Context, ids []string, min map[string]int64) ([]*backend.Task, error) {
	out := make([]*backend.Task, 0, len(ids))
	var missing []string
	for _, id := range ids {
		if t := s.cache.get(id, min[id]); t != nil {
			out = append(out, t)
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	read, err := s.Tasks.FindTasksByIDs(ctx, missing)
	if err != nil {
		return nil, err
	}
	s.cache.put(s.cacheMax(), read...)
	return append(out, read...), nil
}

// WarmCache reads the open tasks (not yet published or cancelled: those
// phones sync) into the instance's cache, up to its bound, so that the
// syncs after a start answer from memory too. The server runs it once at
// start; a task read here and changed before a sync is read again then
// (the feed names the newer version).
func (s *Service) WarmCache(ctx context.Context) error {
	limit := s.cacheMax()
	f := backend.TaskFilter{Open: true, Limit: min(backend.TaskMaxLimit, max(limit, 0)), NoTotal: true}
	for held := 0; held < limit; {
		list, _, err := s.Tasks.FindTasks(ctx, f)
		if err != nil {
			return err
		}
		s.cache.put(limit, list...)
		held += len(list)
		if len(list) < f.Limit {
			return nil
		}
		f.After = f.CursorOf(list[len(list)-1])
	}
	return nil
}
