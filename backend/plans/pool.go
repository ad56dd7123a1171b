package plans

import (
	"context"
	"slices"
	"strings"

	"suiji/backend"
	"suiji/backend/draw/drawv1"
)

// PoolPreview is the pool a plan with these settings would draw from if it
// were drawn now: the console shows it live while a plan is drafted, so
// that the filter can be tuned before anyone approves it.
type PoolPreview struct {
	Year   int
	Kind   string
	Size   int            // enterprises in the pool
	Sample int            // how many the sample size would draw (0 when it cannot be drawn)
	Towns  []TownCount    // the pool per town, by town name
	Left   map[string]int // enterprises matching the filter but left out, by reason (closed, drawn_twice_this_year, …)
}

// TownCount is one town's share of a pool.
type TownCount struct {
	Town string
	Size int
}

// PreviewPool applies the rules of art. 13 and 16 (the same ones a draw
// applies: drawv1.BuildPool over this year's draw history) to a plan's year,
// kind, filter and sample. It stores nothing. EINVALID naming each bad
// field.
func (s *Service) PreviewPool(ctx context.Context, year int, kind string, filter backend.PlanFilter, sample backend.PlanSample) (*PoolPreview, error) {
	fields := map[string]string{}
	if year < 2000 || year > 2100 {
		fields["year"] = "a year from 2000 to 2100"
	}
	if !slices.Contains([]string{backend.PlanUndirected, backend.PlanDirected, backend.PlanCoverage}, kind) {
		fields["kind"] = "undirected, directed or coverage"
	}
	for _, c := range filter.Categories {
		if !slices.Contains(backend.Categories, c) {
			fields["categories"] = "unknown category " + c
		}
	}
	for _, f := range filter.Flags {
		if !slices.Contains(backend.Flags, f) {
			fields["flags"] = "unknown flag " + f
		}
	}
	if len(fields) > 0 {
		return nil, backend.InvalidFields("invalid pool preview", fields)
	}
	candidates, _, err := s.candidates(ctx, &backend.Plan{Year: year})
	if err != nil {
		return nil, err
	}
	f := drawv1.Filter{Towns: filter.Towns, Industries: filter.Industries, Categories: filter.Categories, Flags: filter.Flags}
	pool := drawv1.BuildPool(candidates, f, kind == backend.PlanCoverage)
	out := &PoolPreview{Year: year, Kind: kind, Size: len(pool.Members), Left: map[string]int{}}
	byTown := map[string]int{}
	for _, m := range pool.Members {
		byTown[m.Town]++
	}
	for town, n := range byTown {
		out.Towns = append(out.Towns, TownCount{town, n})
	}
	slices.SortFunc(out.Towns, func(a, b TownCount) int { return strings.Compare(a.Town, b.Town) })
	for _, e := range pool.Excluded {
		out.Left[string(e.Reason)]++
	}
	out.Sample = len(pool.Members)
	if kind != backend.PlanCoverage {
		if k, err := (drawv1.Size{Ratio: sample.Ratio, Count: sample.Count}).Of(len(pool.Members)); err == nil {
			out.Sample = k
		} else {
			out.Sample = 0
		}
	}
	return out, nil
}

// candidates are every enterprise with its draw history of the plan's year
// (other than the plan's own draws), as drawv1.BuildPool takes them, and the
// USCC of each enterprise id (for inspectors' declared conflicts).
func (s *Service) candidates(ctx context.Context, p *backend.Plan) ([]drawv1.Candidate, map[string]string, error) {
	ents, _, err := s.Enterprises.FindEnterprises(ctx, backend.EnterpriseFilter{})
	if err != nil {
		return nil, nil, err
	}
	history, err := s.history(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	usccByID := make(map[string]string, len(ents))
	candidates := make([]drawv1.Candidate, 0, len(ents))
	for _, e := range ents {
		usccByID[e.ID] = e.USCC
		h := history[e.USCC]
		candidates = append(candidates, drawv1.Candidate{
			USCC: e.USCC, Town: e.Town, Industry: e.Industry, Categories: e.Categories, Flags: e.Flags,
			Active: e.Status == backend.EnterpriseActive, RandomTasksThisYear: h.count, CoveredThisYear: h.count > 0,
			LastInspectors: h.lastGroup,
			// NonCooperation comes from recorded non-cooperation (art. 23)
			// once on-site records exist; until then nobody has any.
		})
	}
	return candidates, usccByID, nil
}
