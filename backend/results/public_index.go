package results

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"suiji/backend"
)

// The search of published results (PublicResults) answers from an index
// in memory, one per Service (per instance): every published result's
// public record, without its earlier versions, sorted newest first as the
// store sorts them. A search by part of a name cannot use an ordinary
// index of any store, and FerretDB v1 answers every filter but _id
// equality by reading and decoding the whole collection — twice, for the
// page and the total. The records are public data, so holding them is no
// exposure.
//
// # Freshness
//
// Every write of a published result raises the store's head
// (backend.PublicResultStore.PublicResultsHead) after the write. A search
// reads the head at most once every PublicIndexInterval (1 s unless set)
// and, when it moved, reads by id the results the writes since changed
// (PublicResultChanges, FindPublicResult) — or, when the store cannot
// tell which or there were more than maxPublicPatch writes, every
// published result again (one streamed read, EachPublicResult) — before
// answering; the head is read before the results, so a write the read
// missed has moved the head again. Reading
// the head and reloading run once at a time per Service: searches arriving
// meanwhile wait for the same answer rather than reading again. A
// publication through this Service marks the index stale, so that the
// instance that published shows it at once; another instance shows it
// within PublicIndexInterval (plus a reload).
//
// # Memory
//
// A result costs its record: about 0.3 KB of fixed fields plus its own
// strings (id, name, USCC; about 0.1 KB), 32 bytes an item checked and
// its dispositions; repeated strings (towns, plans, departments, items,
// results, dates) are shared within the index. BenchmarkPublicResultSearch
// measures about 420–490 bytes a result with two items each; a dozen
// items make it about 0.8 KB. A reload holds the old and the new index at once.
// Above PublicIndexMax results (200,000 unless set, so at most a few
// hundred MB) the index is not built and searches go to the store
// (FindPublicResults), as they also do with PublicIndexMax < 0; since
// published results are never removed, they stay there (a moved head is
// not followed by another read) until the instance restarts.

// Defaults of the search index.
const (
	DefaultPublicIndexInterval = time.Second
	DefaultPublicIndexMax      = 200_000
)

// errTooManyPublic stops a reload that passed PublicIndexMax.
var errTooManyPublic = errors.New("too many published results for the index")

// publicIndex is a Service's search index and the state of its refresh.
type publicIndex struct {
	mu      sync.Mutex
	snap    *publicSnapshot // nil before the first load
	checked time.Time       // when the head of snap was last read
	writes  int             // publications through this Service
	flight  *publicRefresh  // the refresh under way, if any
}

// publicRefresh is one read of the head (and reload when it changed),
// shared by every search that waits for it.
type publicRefresh struct {
	writes int // the publications it covers
	done   chan struct{}
	snap   *publicSnapshot
	err    error
}

// publicSnapshot is the index as of one head.
type publicSnapshot struct {
	head    int64
	written int             // the publications through the Service it shows
	tooMany bool            // more than PublicIndexMax: search the store
	rows    []publicIndexed // newest first: by order key, then id
}

type publicIndexed struct {
	key string // backend.PublicOrderKey(FirstPublished)
	r   *backend.PublicResult
}

// less orders two rows as the store's listing does.
func (a *publicIndexed) less(key, id string) bool {
	return a.key < key || (a.key == key && a.r.ID < id)
}

// publicWritten marks the index stale: the next search reads the head.
func (s *Service) publicWritten() {
	s.pubIndex.mu.Lock()
	s.pubIndex.writes++
	s.pubIndex.mu.Unlock()
}

// publicSnapshot returns the index, current within PublicIndexInterval
// and with every publication through s before the call.
func (s *Service) publicSnapshot(ctx context.Context) (*publicSnapshot, error) {
	ix := &s.pubIndex
	interval := s.PublicIndexInterval
	if interval == 0 {
		interval = DefaultPublicIndexInterval
	}
	for {
		ix.mu.Lock()
		writes := ix.writes
		if ix.snap != nil && ix.flight == nil && ix.snap.written >= writes && time.Since(ix.checked) < interval {
			snap := ix.snap
			ix.mu.Unlock()
			return snap, nil
		}
		f := ix.flight
		if f == nil {
			f = &publicRefresh{writes: writes, done: make(chan struct{})}
			ix.flight = f
			go s.refreshPublic(f, ix.snap)
		}
		ix.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, backend.Wrap(ctx.Err(), backend.EUNAVAILABLE, "the search was cancelled")
		case <-f.done:
		}
		if f.writes >= writes { // else it began before a publication this search must show
			return f.snap, f.err
		}
	}
}

// refreshPublic reads the head and, when it moved past old's, reloads.
// It runs apart from the search that started it, so that a search given
// up does not fail the others waiting.
func (s *Service) refreshPublic(f *publicRefresh, old *publicSnapshot) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	started := time.Now()
	snap, err := s.loadPublic(ctx, old)
	if snap != nil {
		snap.written = f.writes
	}
	ix := &s.pubIndex
	ix.mu.Lock()
	if err == nil {
		ix.snap, ix.checked = snap, started
	}
	ix.flight = nil
	f.snap, f.err = snap, err
	ix.mu.Unlock()
	close(f.done)
}

// loadPublic returns old when the head has not moved, else the index read
// anew.
func (s *Service) loadPublic(ctx context.Context, old *publicSnapshot) (*publicSnapshot, error) {
	head, err := s.Public.PublicResultsHead(ctx)
	if err != nil {
		return nil, err
	}
	if old != nil && old.head == head {
		again := *old
		return &again, nil
	}
	limit := s.PublicIndexMax
	if limit == 0 {
		limit = DefaultPublicIndexMax
	}
	if old != nil && old.tooMany && head >= old.head {
		// Published results are never removed: still too many.
		return &publicSnapshot{head: head, tooMany: true}, nil
	}
	if old != nil && !old.tooMany && head > old.head && head-old.head <= maxPublicPatch {
		snap, ok, err := s.patchPublic(ctx, old, head, limit)
		if err != nil || ok {
			return snap, err
		}
	}
	snap := &publicSnapshot{head: head}
	if limit < 0 {
		snap.tooMany = true
		return snap, nil
	}
	shared := map[string]string{}
	intern := func(v *string) {
		if got, ok := shared[*v]; ok {
			*v = got
		} else {
			shared[*v] = *v
		}
	}
	err = s.Public.EachPublicResult(ctx, func(r *backend.PublicResult) error {
		if len(snap.rows) == limit {
			return errTooManyPublic
		}
		r.History = nil
		for _, v := range []*string{&r.Town, &r.PlanID, &r.PlanTitle, &r.DepartmentID, &r.DepartmentName, &r.Result, &r.Date} {
			intern(v)
		}
		for i := range r.Items {
			intern(&r.Items[i].Code)
			intern(&r.Items[i].Name)
		}
		snap.rows = append(snap.rows, publicIndexed{key: backend.PublicOrderKey(r.FirstPublished), r: r})
		return nil
	})
	switch {
	case errors.Is(err, errTooManyPublic):
		return &publicSnapshot{head: head, tooMany: true}, nil
	case err != nil:
		return nil, err
	}
	sortPublic(snap.rows)
	return snap, nil
}

// maxPublicPatch is how many writes behind an index may be to be patched
// (patchPublic) rather than read again.
const maxPublicPatch = 200

// patchPublic brings old up to head by reading only the results the
// writes since changed, by id; false when the store cannot tell which
// (read everything then).
func (s *Service) patchPublic(ctx context.Context, old *publicSnapshot, head int64, limit int) (*publicSnapshot, bool, error) {
	ids, ok, err := s.Public.PublicResultChanges(ctx, old.head, head)
	if err != nil || !ok {
		return nil, false, err
	}
	changed := map[string]*backend.PublicResult{}
	for _, id := range ids {
		if changed[id] != nil {
			continue
		}
		r, err := s.Public.FindPublicResult(ctx, id)
		if backend.ErrorCode(err) == backend.ENOTFOUND {
			return nil, false, nil
		} else if err != nil {
			return nil, false, err
		}
		r.History = nil
		changed[id] = r
	}
	snap := &publicSnapshot{head: head, rows: make([]publicIndexed, 0, len(old.rows)+len(changed))}
	for _, row := range old.rows {
		if changed[row.r.ID] == nil {
			snap.rows = append(snap.rows, row)
		}
	}
	if len(snap.rows)+len(changed) > limit {
		return nil, false, nil
	}
	for _, r := range changed {
		snap.rows = append(snap.rows, publicIndexed{key: backend.PublicOrderKey(r.FirstPublished), r: r})
	}
	sortPublic(snap.rows)
	return snap, true, nil
}

// sortPublic sorts rows as the store's listing: by order key, then id.
func sortPublic(rows []publicIndexed) {
	slices.SortFunc(rows, func(a, b publicIndexed) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.r.ID, b.r.ID)
	})
}

// search answers f (its Limit set) from the index as FindPublicResults
// would from the store: the same filters, text rules, order, total,
// cursor and offset limits.
func (p *publicSnapshot) search(f backend.PublicResultFilter) ([]*backend.PublicResult, int, error) {
	if err := backend.CheckOffset(f.Offset); err != nil {
		return nil, 0, err
	}
	start := 0
	if len(f.After) > 0 {
		if len(f.After) != 2 {
			return nil, 0, backend.ForeignCursor()
		}
		key, id := f.After[0], f.After[1]
		start, _ = slices.BinarySearchFunc(p.rows, 0, func(row publicIndexed, _ int) int {
			if row.less(key, id) || (row.key == key && row.r.ID == id) {
				return -1
			}
			return 1
		})
	}
	// The store's text rules: part of the name as written (a regular
	// expression of the quoted text, which matches case and all), or the
	// beginning of the USCC in capitals.
	text := strings.TrimSpace(f.Text)
	uscc := strings.ToUpper(text)
	var page []*backend.PublicResult
	total, skip := 0, f.Offset
	for i := range p.rows {
		r := p.rows[i].r
		if (f.Year != 0 && r.Year != f.Year) || (f.Town != "" && r.Town != f.Town) ||
			(f.PlanID != "" && r.PlanID != f.PlanID) || (f.DepartmentID != "" && r.DepartmentID != f.DepartmentID) ||
			(f.Result != "" && r.Result != f.Result) ||
			(text != "" && !strings.Contains(r.EnterpriseName, text) && !strings.HasPrefix(r.USCC, uscc)) {
			continue
		}
		total++
		switch {
		case i < start:
		case skip > 0:
			skip--
		case len(page) < f.Limit:
			c := *r
			page = append(page, &c)
		}
	}
	return page, total, nil
}
