package results

import (
	"context"
	"slices"
	"strings"
	"time"

	"suiji/backend"
	"suiji/backend/memindex"
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
// within PublicIndexInterval (plus a reload). backend/memindex does all
// this, for the directory's listings too; this file says what a row is,
// how rows are read and ordered, and how a search reads them.
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

// maxPublicPatch is how many writes behind an index may be to be patched
// (reading the results changed by id) rather than read again.
const maxPublicPatch = 200

// publicIndexed is one row of the index.
type publicIndexed struct {
	key string // backend.PublicOrderKey(FirstPublished)
	r   *backend.PublicResult
}

// comparePublic orders rows as the store's listing: by order key, then id.
func comparePublic(a, b publicIndexed) int {
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	return strings.Compare(a.r.ID, b.r.ID)
}

// publicWritten marks the index stale: the next search reads the head.
func (s *Service) publicWritten() { s.pubIndex.Written() }

// WarmPublicIndex reads the published results into the search index
// now, so that the first citizen's search after an instance starts does
// not wait for the full read. The serve command calls it once at start.
func (s *Service) WarmPublicIndex(ctx context.Context) error {
	_, err := s.publicSnapshot(ctx)
	return err
}

// publicSnapshot returns the index, current within PublicIndexInterval
// and with every publication through s before the call.
func (s *Service) publicSnapshot(ctx context.Context) (*memindex.Snapshot[publicIndexed], error) {
	o := memindex.Options{Interval: s.PublicIndexInterval, Max: s.PublicIndexMax, MaxPatchWrites: maxPublicPatch}.
		Or(DefaultPublicIndexInterval, DefaultPublicIndexMax)
	return s.pubIndex.Snapshot(ctx, memindex.Source[publicIndexed]{
		Head:    s.Public.PublicResultsHead,
		Changes: s.Public.PublicResultChanges,
		Each:    s.eachPublic,
		Find: func(ctx context.Context, id string) (publicIndexed, error) {
			r, err := s.Public.FindPublicResult(ctx, id)
			if err != nil {
				return publicIndexed{}, err
			}
			r.History = nil
			return publicIndexed{key: backend.PublicOrderKey(r.FirstPublished), r: r}, nil
		},
		ID:      func(row publicIndexed) string { return row.r.ID },
		Compare: comparePublic,
	}, o)
}

// eachPublic reads every published result as a row, without its earlier
// versions, sharing the strings that repeat (towns, plans, departments,
// items, results, dates) within the read.
func (s *Service) eachPublic(ctx context.Context, fn func(publicIndexed) error) error {
	var in memindex.Interner
	return s.Public.EachPublicResult(ctx, func(r *backend.PublicResult) error {
		r.History = nil
		for _, v := range []*string{&r.Town, &r.PlanID, &r.PlanTitle, &r.DepartmentID, &r.DepartmentName, &r.Result, &r.Date} {
			in.String(v)
		}
		for i := range r.Items {
			in.String(&r.Items[i].Code)
			in.String(&r.Items[i].Name)
		}
		return fn(publicIndexed{key: backend.PublicOrderKey(r.FirstPublished), r: r})
	})
}

// searchPublic answers f (its Limit set) from the index's rows as
// FindPublicResults would from the store: the same filters, text rules,
// order, total, cursor and offset limits.
func searchPublic(rows []publicIndexed, f backend.PublicResultFilter) ([]*backend.PublicResult, int, error) {
	if err := backend.CheckOffset(f.Offset); err != nil {
		return nil, 0, err
	}
	start := 0
	if len(f.After) > 0 {
		if len(f.After) != 2 {
			return nil, 0, backend.ForeignCursor()
		}
		after := publicIndexed{key: f.After[0], r: &backend.PublicResult{ID: f.After[1]}}
		start, _ = slices.BinarySearchFunc(rows, after, func(row, after publicIndexed) int {
			if comparePublic(row, after) <= 0 {
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
	for i := range rows {
		r := rows[i].r
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
