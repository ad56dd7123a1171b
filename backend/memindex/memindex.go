// Package memindex keeps a copy of a collection in memory, one per
// instance, sorted as its listings are, and fresh across instances — for
// reads a store answers only by reading the whole collection (FerretDB v1
// answers nothing but _id equality from an index) or that no index bounds
// (part of a name). results.Service's search of published results and
// directory.Service's listings of the directory use it.
//
// # Freshness
//
// The store keeps a head: a number every write of the collection raises
// after the write, and a log of which records each write changed
// (Source.Head, Source.Changes; storage/mongodb's changeLog). A read
// (Index.Snapshot) reads the head at most once every Options.Interval
// and, when it moved, reads by id the records the writes since changed
// (Source.Find) — or, when the store cannot tell which, or the index is
// more than Options.MaxPatchWrites writes or Options.MaxPatchIDs records
// behind, every record again (one streamed read, Source.Each) — before
// answering. The head is read before the records, so a write the read
// missed has moved the head again. Reading the head and reloading run once
// at a time per Index: reads arriving meanwhile wait for the same answer
// rather than reading again. A write through the instance calls
// Index.Written, so that the instance that wrote shows it at once; another
// instance shows it within Options.Interval (plus the read of what
// changed).
//
// # Size
//
// Above Options.Max records (or with Options.Max < 0) the index holds
// nothing and its snapshot says TooMany: the caller answers from the
// store. The collections indexed never lose records, so a snapshot too
// large stays so (a moved head is not followed by another read) until the
// instance restarts. A reload holds the old and the new rows at once.
package memindex

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"suiji/backend"
)

// Source is how an index reads its store: rows R, each one record.
type Source[R any] struct {
	// Head reads the store's head (0 before the first write).
	Head func(ctx context.Context) (int64, error)
	// Changes returns the ids of the records the writes that moved the
	// head from after to upTo changed (repeats possible), or false when
	// the store cannot tell.
	Changes func(ctx context.Context, after, upTo int64) ([]string, bool, error)
	// Each calls fn with every record as a row, in any order, in one
	// streamed read, and stops at fn's first error, returning it.
	Each func(ctx context.Context, fn func(R) error) error
	// Find reads one record by id as a row; ENOTFOUND (which no write
	// the log names should cause) makes the index read everything again.
	Find func(ctx context.Context, id string) (R, error)
	// ID is a row's record id, as Changes names it.
	ID func(R) string
	// Compare orders the rows as the listings do: a total order.
	Compare func(a, b R) int
}

// Options bound an index. Callers resolve their own defaults: the zero
// Options read the head at every call and hold no record.
type Options struct {
	// Interval is how long a read of the head stands: within it, reads
	// answer from the rows held without asking the store (but see
	// Index.Written). At or below 0, every read reads the head.
	Interval time.Duration
	// Max is how many records the index holds at most; above it, or
	// below 0, the snapshot is TooMany.
	Max int
	// MaxPatchWrites is how many writes behind the rows may be and still
	// be brought up to date by reading the records changed, by id.
	MaxPatchWrites int64
	// MaxPatchIDs is how many distinct records such a patch reads at
	// most (0: no bound); with more, everything is read again, in one
	// streamed read rather than one read each.
	MaxPatchIDs int
}

// Or returns o with a zero Interval or Max replaced by interval or max:
// the callers' defaults.
func (o Options) Or(interval time.Duration, max int) Options {
	if o.Interval == 0 {
		o.Interval = interval
	}
	if o.Max == 0 {
		o.Max = max
	}
	return o
}

// Interner makes the equal strings and string lists of the records one
// load reads share one copy (towns, plans, categories …), so that an
// index of many records holds each value once. The zero Interner is
// ready; use one per load.
type Interner struct {
	strs  map[string]string
	lists map[string][]string
}

// String points *v at the copy of its value seen first.
func (in *Interner) String(v *string) {
	if in.strs == nil {
		in.strs = map[string]string{}
	}
	if got, ok := in.strs[*v]; ok {
		*v = got
	} else {
		in.strs[*v] = *v
	}
}

// List points *v at the copy of its elements seen first. Holders of a
// shared list must not change it.
func (in *Interner) List(v *[]string) {
	if in.lists == nil {
		in.lists = map[string][]string{}
	}
	key := strings.Join(*v, "\x00")
	if got, ok := in.lists[key]; ok && len(got) == len(*v) {
		*v = got
	} else {
		in.lists[key] = *v
	}
}

// Snapshot is the index as of one head. It is shared by every read that
// gets it: nobody may change it or its rows.
type Snapshot[R any] struct {
	Head    int64
	TooMany bool // more than Options.Max: read the store instead
	Rows    []R  // sorted by Source.Compare; none when TooMany
}

// Index holds one snapshot and the state of its refresh. The zero Index
// is empty, and ready for use; it must not be copied after first use.
type Index[R any] struct {
	mu      sync.Mutex
	snap    *Snapshot[R] // nil before the first load
	written int          // the writes through Written snap shows
	checked time.Time    // when the head of snap was last read
	writes  int          // calls of Written
	flight  *refresh[R]  // the refresh under way, if any
}

// refresh is one read of the head (and of what changed, when it moved),
// shared by every read that waits for it.
type refresh[R any] struct {
	writes int // the calls of Written it covers
	done   chan struct{}
	snap   *Snapshot[R]
	err    error
}

// refreshTimeout bounds one refresh, which runs apart from the reads
// waiting for it.
const refreshTimeout = 5 * time.Minute

// Written marks the index stale: the next Snapshot reads the head. Call
// it after every write of the collection through this instance, even one
// that failed (the write may have happened).
func (ix *Index[R]) Written() {
	ix.mu.Lock()
	ix.writes++
	ix.mu.Unlock()
}

// Snapshot returns the index, current within o.Interval and showing
// every write made before the call that called Written. EUNAVAILABLE when
// ctx ends first; the store's error when the refresh failed (the rows held
// stay for the next read).
func (ix *Index[R]) Snapshot(ctx context.Context, src Source[R], o Options) (*Snapshot[R], error) {
	for {
		ix.mu.Lock()
		writes := ix.writes
		if ix.snap != nil && ix.flight == nil && ix.written >= writes && time.Since(ix.checked) < o.Interval {
			snap := ix.snap
			ix.mu.Unlock()
			return snap, nil
		}
		f := ix.flight
		if f == nil {
			f = &refresh[R]{writes: writes, done: make(chan struct{})}
			ix.flight = f
			go ix.refresh(f, ix.snap, src, o)
		}
		ix.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, backend.Wrap(ctx.Err(), backend.EUNAVAILABLE, "the search was cancelled")
		case <-f.done:
		}
		if f.writes >= writes { // else it began before a write this read must show
			return f.snap, f.err
		}
	}
}

// refresh reads the head and, when it moved past old's, what changed. It
// runs apart from the read that started it, so that a read given up does
// not fail the others waiting.
func (ix *Index[R]) refresh(f *refresh[R], old *Snapshot[R], src Source[R], o Options) {
	ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
	defer cancel()
	started := time.Now()
	snap, err := load(ctx, src, o, old)
	ix.mu.Lock()
	if err == nil {
		ix.snap, ix.written, ix.checked = snap, f.writes, started
	}
	ix.flight = nil
	f.snap, f.err = snap, err
	ix.mu.Unlock()
	close(f.done)
}

// errTooMany stops a reload that passed Options.Max.
var errTooMany = errors.New("too many records for the index")

// load returns old when the head has not moved, else the index read anew.
func load[R any](ctx context.Context, src Source[R], o Options, old *Snapshot[R]) (*Snapshot[R], error) {
	head, err := src.Head(ctx)
	switch {
	case err != nil:
		return nil, err
	case old != nil && old.Head == head:
		return old, nil
	case old != nil && old.TooMany && head >= old.Head: // records are never removed: still too many
		return &Snapshot[R]{Head: head, TooMany: true}, nil
	case o.Max < 0:
		return &Snapshot[R]{Head: head, TooMany: true}, nil
	}
	if old != nil && !old.TooMany && head > old.Head && head-old.Head <= o.MaxPatchWrites {
		snap, ok, err := patch(ctx, src, o, old, head)
		if err != nil || ok {
			return snap, err
		}
	}
	snap := &Snapshot[R]{Head: head}
	err = src.Each(ctx, func(r R) error {
		if len(snap.Rows) == o.Max {
			return errTooMany
		}
		snap.Rows = append(snap.Rows, r)
		return nil
	})
	switch {
	case errors.Is(err, errTooMany):
		return &Snapshot[R]{Head: head, TooMany: true}, nil
	case err != nil:
		return nil, err
	}
	slices.SortFunc(snap.Rows, src.Compare)
	return snap, nil
}

// patch brings old up to head by reading only the records the writes
// since changed, by id; false when the store cannot tell which, or there
// are more than o.MaxPatchIDs, or they would pass o.Max (read everything
// then).
func patch[R any](ctx context.Context, src Source[R], o Options, old *Snapshot[R], head int64) (*Snapshot[R], bool, error) {
	ids, ok, err := src.Changes(ctx, old.Head, head)
	if err != nil || !ok {
		return nil, false, err
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if o.MaxPatchIDs > 0 && len(ids) > o.MaxPatchIDs {
		return nil, false, nil
	}
	changed := make(map[string]bool, len(ids))
	fresh := make([]R, 0, len(ids))
	for _, id := range ids {
		r, err := src.Find(ctx, id)
		if backend.ErrorCode(err) == backend.ENOTFOUND {
			return nil, false, nil
		} else if err != nil {
			return nil, false, err
		}
		changed[id] = true
		fresh = append(fresh, r)
	}
	kept := 0
	for _, r := range old.Rows {
		if !changed[src.ID(r)] {
			kept++
		}
	}
	if kept+len(fresh) > o.Max {
		return nil, false, nil
	}
	// The rows kept are in order already: merge the few read into them
	// rather than sort them all again.
	slices.SortFunc(fresh, src.Compare)
	snap := &Snapshot[R]{Head: head, Rows: make([]R, 0, kept+len(fresh))}
	for _, r := range old.Rows {
		if changed[src.ID(r)] {
			continue
		}
		for len(fresh) > 0 && src.Compare(fresh[0], r) < 0 {
			snap.Rows, fresh = append(snap.Rows, fresh[0]), fresh[1:]
		}
		snap.Rows = append(snap.Rows, r)
	}
	snap.Rows = append(snap.Rows, fresh...)
	return snap, true, nil
}
