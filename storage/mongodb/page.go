package mongodb

import (
	"context"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// listing is one paged listing query: what matches, in which order (all
// fields ascending; the last one unique, so the order is total), and which
// page.
type listing struct {
	filter bson.D
	sort   []string // sort fields, ascending
	after  []any    // keyset position: values of sort for the last record seen
	offset int
	limit  int    // 0 for all
	fields bson.D // a projection; nil reads whole records
	// noTotal skips the count (the total is 0) for callers that ignore it.
	noTotal bool
}

// pagedFind runs a listing: the total matching the filter (before paging)
// and one page of it. With a keyset position the page starts after it —
// (f1 > v1) or (f1 = v1 and f2 > v2) … — which an index on the sort fields
// answers without reading the records before it; an offset skips records
// and is refused beyond backend.MaxOffset.
func pagedFind[M any, D any](ctx context.Context, c collection, l listing, domain func(*M) D) ([]D, int, error) {
	if err := backend.CheckOffset(l.offset); err != nil {
		return nil, 0, err
	}
	// The count and the page are independent reads: run them side by side
	// (a server without an index for the filter, such as FerretDB, scans
	// for each).
	var total int64
	counted := make(chan error, 1)
	go func() {
		var err error
		if !l.noTotal {
			total, err = c.CountDocuments(ctx, l.filter)
		}
		counted <- translate(err)
	}()
	sort := bson.D{}
	for _, f := range l.sort {
		sort = append(sort, bson.E{Key: f, Value: 1})
	}
	filter := l.filter
	switch {
	case len(l.after) > 0 && len(l.filter) == 0:
		filter = keysetAfter(l.sort, l.after)
	case len(l.after) > 0:
		filter = bson.D{{Key: "$and", Value: bson.A{l.filter, keysetAfter(l.sort, l.after)}}}
	}
	opts := options.Find().SetSort(sort).SetSkip(int64(l.offset))
	if l.fields != nil {
		opts.SetProjection(l.fields)
	}
	if l.limit > 0 {
		opts.SetLimit(int64(l.limit))
	}
	out, err := findAll(ctx, c, filter, opts, domain)
	if cerr := <-counted; err == nil {
		err = cerr
	}
	if err != nil {
		return nil, 0, err
	}
	return out, int(total), nil
}

// keysetAfter matches the records after values in the ascending order of
// fields. values may be shorter than fields (a prefix position).
func keysetAfter(fields []string, values []any) bson.D {
	var or bson.A
	for i := range values {
		cond := bson.D{}
		for j := range i {
			cond = append(cond, bson.E{Key: fields[j], Value: values[j]})
		}
		cond = append(cond, bson.E{Key: fields[i], Value: bson.D{{Key: "$gt", Value: values[i]}}})
		or = append(or, cond)
	}
	return bson.D{{Key: "$or", Value: or}}
}

// cursorValues converts a cursor to the sort fields' values: strings, or
// integers where toInt marks the position. A cursor of the wrong shape
// (made for another listing) is EINVALID.
func cursorValues(c backend.Cursor, n int, toInt ...int) ([]any, error) {
	if len(c) == 0 {
		return nil, nil
	}
	bad := backend.ForeignCursor()
	if len(c) != n {
		return nil, bad
	}
	out := make([]any, n)
	for i, v := range c {
		out[i] = v
	}
	for _, i := range toInt {
		n, err := strconv.Atoi(c[i])
		if err != nil {
			return nil, bad
		}
		out[i] = n
	}
	return out, nil
}
