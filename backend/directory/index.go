package directory

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"suiji/backend"
	"suiji/backend/memindex"
)

// The directory's listings — a page of the directory with its total, the
// staleness report, the export — answer from an index in memory, one per
// Service (per instance): every enterprise, sorted by USCC as the store's
// listing is. FerretDB v1 answers every filter but _id equality by
// reading and decoding the whole collection, for the page and again for
// the total: about 0.6 s of its CPU for a page of a 2,000-enterprise
// directory on a 2-core machine, so ten clerks browsing kept it busy and
// every other request queued behind them. A search by part of a name is
// bounded by no index even on MongoDB. Draws do not read the index: they
// read their pool from the store (backend.PoolSource), whose snapshot
// they hash.
//
// # Freshness
//
// backend/memindex keeps it, as it keeps the search of published results:
// every write of an enterprise raises the store's head after the write
// (backend.EnterpriseStore.EnterprisesHead). A listing reads the head at
// most once every IndexInterval (1 s unless set) and, when it moved,
// reads by _id the enterprises the writes since changed
// (EnterpriseChanges, FindEnterpriseByID) — or every enterprise again, in
// one streamed read (EachEnterprise), when the store cannot tell which,
// or the index is more than maxIndexPatchWrites writes or
// maxIndexPatchIDs enterprises behind (an import of more than a batch) —
// before answering. Listings arriving meanwhile wait for that one
// refresh. A write through this Service (a create, an update, a review,
// an import) marks the index stale, so that the instance that wrote shows
// it at once; another instance, or the command line, shows it within
// IndexInterval.
//
// # Memory
//
// An enterprise costs its record (about 0.3 KB of fixed fields plus its
// strings: id, USCC, name, address, contacts) and the case-folded name
// when it differs from the name (names of Chinese characters only fold to
// themselves and are not copied); towns, industries, statuses and the
// lists of categories and of flags are shared within the index.
// BenchmarkDirectoryIndex measures the bytes per enterprise. A reload
// holds the old and the new index at once. Above IndexMax enterprises
// (200,000 unless set) the index is not built and the listings read the
// store (FindEnterprises), as they also do with IndexMax < 0; since
// enterprises are never removed, they stay there until the instance
// restarts.

// Defaults of the directory's index.
const (
	DefaultIndexInterval = time.Second
	DefaultIndexMax      = 200_000
)

// maxIndexPatchWrites is how many writes behind an index may be to be
// patched (reading the enterprises changed by id) rather than read again;
// maxIndexPatchIDs is how many enterprises such a patch reads at most:
// one import batch (sheet.DefaultBatchSize). Reading a thousand by _id
// costs about what reading a few thousand in one stream does, so beyond
// it a small directory is read whole again, and a city's one patched.
const (
	maxIndexPatchWrites = 200
	maxIndexPatchIDs    = 1000
)

// indexedEnterprise is one row of the index.
type indexedEnterprise struct {
	e    *backend.Enterprise
	fold string // e.Name case-folded (foldCase), for the text query
}

func compareIndexed(a, b indexedEnterprise) int {
	if c := strings.Compare(a.e.USCC, b.e.USCC); c != 0 {
		return c
	}
	return strings.Compare(a.e.ID, b.e.ID)
}

// enterprisesWritten marks the index stale: the next listing reads the
// head.
func (s *Service) enterprisesWritten() { s.index.Written() }

// WarmIndex reads the directory into the index now, so that the first
// listing after an instance starts does not wait for the full read —
// which, at city scale on FerretDB, takes longer than a request may. The
// serve command calls it once at start, apart from the requests.
func (s *Service) WarmIndex(ctx context.Context) error {
	_, err := s.enterpriseSnapshot(ctx)
	return err
}

// findEnterprises is the store's FindEnterprises answered from the index,
// or from the store above IndexMax.
func (s *Service) findEnterprises(ctx context.Context, f backend.EnterpriseFilter) ([]*backend.Enterprise, int, error) {
	snap, err := s.enterpriseSnapshot(ctx)
	if err != nil {
		return nil, 0, err
	}
	if snap.TooMany {
		return s.Enterprises.FindEnterprises(ctx, f)
	}
	return searchEnterprises(snap.Rows, f)
}

// EnterprisesByUSCC returns the enterprises with the given USCCs that the
// directory holds (those it does not are left out, in no particular
// order), from the index — current within IndexInterval, as a listing
// is — or from the store above IndexMax. A dispatch copies them into its
// tasks: on FerretDB v1 the store answers by reading and decoding every
// enterprise. It returns copies, which the caller may change.
func (s *Service) EnterprisesByUSCC(ctx context.Context, usccs []string) ([]*backend.Enterprise, error) {
	snap, err := s.enterpriseSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	if snap.TooMany {
		return s.Enterprises.FindEnterprisesByUSCC(ctx, usccs)
	}
	rows := snap.Rows
	out := make([]*backend.Enterprise, 0, len(usccs))
	for _, u := range usccs {
		i, _ := slices.BinarySearchFunc(rows, u, func(row indexedEnterprise, u string) int { return strings.Compare(row.e.USCC, u) })
		for ; i < len(rows) && rows[i].e.USCC == u; i++ {
			e := *rows[i].e
			e.Categories, e.Flags = slices.Clone(e.Categories), slices.Clone(e.Flags)
			if e.Location != nil {
				loc := *e.Location
				e.Location = &loc
			}
			out = append(out, &e)
		}
	}
	return out, nil
}

// enterpriseSnapshot returns the index, current within IndexInterval and
// with every write through s before the call.
func (s *Service) enterpriseSnapshot(ctx context.Context) (*memindex.Snapshot[indexedEnterprise], error) {
	o := memindex.Options{Interval: s.IndexInterval, Max: s.IndexMax,
		MaxPatchWrites: maxIndexPatchWrites, MaxPatchIDs: maxIndexPatchIDs}.Or(DefaultIndexInterval, DefaultIndexMax)
	return s.index.Snapshot(ctx, memindex.Source[indexedEnterprise]{
		Head:    s.Enterprises.EnterprisesHead,
		Changes: s.Enterprises.EnterpriseChanges,
		Each:    s.eachIndexed,
		Find: func(ctx context.Context, id string) (indexedEnterprise, error) {
			e, err := s.Enterprises.FindEnterpriseByID(ctx, id)
			if err != nil {
				return indexedEnterprise{}, err
			}
			return indexedEnterprise{e: e, fold: foldCase(e.Name)}, nil
		},
		ID:      func(row indexedEnterprise) string { return row.e.ID },
		Compare: compareIndexed,
	}, o)
}

// eachIndexed reads every enterprise as a row, sharing within the read
// the strings and lists that repeat.
func (s *Service) eachIndexed(ctx context.Context, fn func(indexedEnterprise) error) error {
	var in memindex.Interner
	return s.Enterprises.EachEnterprise(ctx, func(e *backend.Enterprise) error {
		in.String(&e.Town)
		in.String(&e.Industry)
		in.String(&e.Status)
		in.List(&e.Categories)
		in.List(&e.Flags)
		return fn(indexedEnterprise{e: e, fold: foldCase(e.Name)})
	})
}

// searchEnterprises answers f from the index's rows as the store's
// FindEnterprises does: the same filters and text rules, ordered by USCC,
// the total of all that match, the same cursor and offset rules, and
// Limit 0 for all. It returns copies, which the caller may change.
func searchEnterprises(rows []indexedEnterprise, f backend.EnterpriseFilter) ([]*backend.Enterprise, int, error) {
	if len(f.After) > 0 && len(f.After) != 1 {
		return nil, 0, backend.ForeignCursor()
	}
	if err := backend.CheckOffset(f.Offset); err != nil {
		return nil, 0, err
	}
	start := 0
	if len(f.After) == 1 {
		start, _ = slices.BinarySearchFunc(rows, f.After[0], func(row indexedEnterprise, after string) int {
			if row.e.USCC <= after {
				return -1
			}
			return 1
		})
	}
	// The store's text rules: a name containing the query in any case (a
	// regular expression of the quoted query with the i option, which
	// FerretDB runs as Go's (?i): runes match within their case-folding
	// orbit, as foldCase compares them), or a USCC beginning with it in
	// capitals.
	q := strings.TrimSpace(f.Query)
	folded, prefix := foldCase(q), strings.ToUpper(q)
	// The store compares times at its precision: milliseconds.
	var cutoff time.Time
	if f.NotReviewedSince != nil {
		cutoff = time.UnixMilli(f.NotReviewedSince.UnixMilli())
	}
	var page []*backend.Enterprise
	total, skip := 0, f.Offset
	for i := range rows {
		e := rows[i].e
		if (f.Town != "" && e.Town != f.Town) || (f.Industry != "" && e.Industry != f.Industry) ||
			(f.Status != "" && e.Status != f.Status) ||
			(f.Category != "" && !slices.Contains(e.Categories, f.Category)) ||
			(f.Flag != "" && !slices.Contains(e.Flags, f.Flag)) ||
			(q != "" && !strings.Contains(rows[i].fold, folded) && !strings.HasPrefix(e.USCC, prefix)) ||
			(f.NotReviewedSince != nil && e.ReviewedAt != nil && !e.ReviewedAt.Before(cutoff)) {
			continue
		}
		total++
		switch {
		case i < start:
		case skip > 0:
			skip--
		case f.Limit == 0 || len(page) < f.Limit:
			page = append(page, cloneEnterprise(e))
		}
	}
	return page, total, nil
}

// cloneEnterprise copies e and what it points to, so that a caller's
// change never reaches the index.
func cloneEnterprise(e *backend.Enterprise) *backend.Enterprise {
	c := *e
	c.Categories, c.Flags = slices.Clone(e.Categories), slices.Clone(e.Flags)
	if e.Location != nil {
		loc := *e.Location
		c.Location = &loc
	}
	if e.ReviewedAt != nil {
		at := *e.ReviewedAt
		c.ReviewedAt = &at
	}
	return &c
}

// foldCase maps every rune of s to the least rune of its case-folding
// orbit (unicode.SimpleFold): two runes match case-insensitively, as Go's
// regular expressions match them, exactly when they map to the same rune.
// Since the mapping is rune by rune, s contains t case-insensitively
// exactly when foldCase(s) contains foldCase(t). A string with nothing to
// fold (Chinese characters, digits, capitals) comes back as it is, not
// copied.
func foldCase(s string) string {
	for i, r := range s {
		if foldRune(r) != r {
			var b strings.Builder
			b.Grow(len(s))
			b.WriteString(s[:i])
			for _, r := range s[i:] {
				b.WriteRune(foldRune(r))
			}
			return b.String()
		}
	}
	return s
}

func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A' // the orbits of k and s hold runes above these
		}
		return r
	}
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return least
}
