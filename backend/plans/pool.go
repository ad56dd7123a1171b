package plans

import (
	"context"
	"slices"
	"strings"
	"time"

	"suiji/backend"
	"suiji/backend/draw"
)

// PoolPreview is the pool a plan with these settings would draw from if it
// were committed now: the console shows it live while a plan is drafted,
// so that the filter can be tuned before anyone approves it.
type PoolPreview struct {
	Year   int
	Kind   string
	Size   int            // enterprises in the pool
	Sample int            // how many the sample size would draw (0 when it cannot be drawn)
	Towns  []TownCount    // the pool per town, by town name
	Left   map[string]int // enterprises considered but left out, by reason (not_active, drawn_twice_this_year, …)
}

// TownCount is one town's share of a pool.
type TownCount struct {
	Town string
	Size int
}

// PreviewPool applies the pool rules of art. 13 and 16 (SPEC.md §6, the
// ones a commitment freezes) to a plan's year, kind, filter and sample. It
// stores nothing. EINVALID naming each bad field.
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
	if sample.Ratio != "" {
		if _, _, err := draw.ParseRatio(sample.Ratio); err != nil {
			fields["ratio"] = err.Error()
		}
	}
	if len(fields) > 0 {
		return nil, backend.InvalidFields("invalid pool preview", fields)
	}
	p := &backend.Plan{Year: year, Kind: kind, Filter: filter, Sample: sample}
	past, err := s.history(ctx, p)
	if err != nil {
		return nil, err
	}
	all, _, _, err := s.candidates(ctx, p, past)
	if err != nil {
		return nil, err
	}
	pool, err := draw.BuildPool(all, drawFilter(filter), kind)
	if err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "building the pool")
	}
	out := &PoolPreview{Year: year, Kind: kind, Size: pool.Size(), Left: map[string]int{}}
	byTown := map[string]int{}
	for _, c := range pool.Candidates {
		if c.Excluded != "" {
			out.Left[c.Excluded]++
		} else {
			byTown[c.Town]++
		}
	}
	for town, n := range byTown {
		out.Towns = append(out.Towns, TownCount{town, n})
	}
	slices.SortFunc(out.Towns, func(a, b TownCount) int { return strings.Compare(a.Town, b.Town) })
	if k, err := drawSize(p).Of(kind, pool.Size()); err == nil {
		out.Sample = k
	}
	return out, nil
}

func drawFilter(f backend.PlanFilter) draw.Filter {
	return draw.Filter{Towns: f.Towns, Industries: f.Industries, Categories: f.Categories, Flags: f.Flags}
}

func drawSize(p *backend.Plan) draw.Size {
	if p.Kind == backend.PlanCoverage {
		return draw.Size{}
	}
	return draw.Size{Ratio: p.Sample.Ratio, Count: p.Sample.Count}
}

// poolQuery is the plan's filter as the store reads the pool with it.
func poolQuery(p *backend.Plan) backend.PoolQuery {
	return backend.PoolQuery{Towns: p.Filter.Towns, Industries: p.Filter.Industries, Categories: p.Filter.Categories,
		Flags: p.Filter.Flags, CoverageTargets: p.Kind == backend.PlanCoverage}
}

// past is the year's history the pool rules use: of every other plan, its
// draw in force now, by the enterprises it selected.
type past struct {
	drawIDs   map[string][]string // USCC → the draws that selected it
	lastGroup map[string][]string // USCC → the group of the latest of them
}

func (s *Service) history(ctx context.Context, p *backend.Plan) (*past, error) {
	draws, err := s.Draws.FindDrawsInForce(ctx, p.Year)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(draws, func(a, b *backend.Draw) int { return a.CreatedAt.Compare(b.CreatedAt) })
	h := &past{drawIDs: map[string][]string{}, lastGroup: map[string][]string{}}
	for _, d := range draws {
		if d.PlanID == p.ID {
			continue // this plan's own draws are what a redraw replaces
		}
		for _, sel := range d.Record.Selections {
			h.drawIDs[sel.USCC] = append(h.drawIDs[sel.USCC], d.ID)
			h.lastGroup[sel.USCC] = sel.Group
		}
	}
	return h, nil
}

// candidates reads every enterprise the plan considers (its filter, pushed
// into the query; for a coverage plan only coverage targets), with the
// facts the pool rules use, the USCC of each by id, and the newest change
// among them (the directory's mark).
func (s *Service) candidates(ctx context.Context, p *backend.Plan, h *past) ([]draw.Candidate, map[string]string, time.Time, error) {
	var out []draw.Candidate
	var mark time.Time
	usccOf := map[string]string{}
	refused, err := s.NonCooperating(ctx)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	err = s.scanPool(ctx, p, func(e *backend.PoolEnterprise) error {
		usccOf[e.ID] = e.USCC
		if e.UpdatedAt.After(mark) {
			mark = e.UpdatedAt
		}
		ids := h.drawIDs[e.USCC]
		out = append(out, draw.Candidate{
			USCC: e.USCC, Town: e.Town, Industry: e.Industry, Status: e.Status, Categories: e.Categories, Flags: e.Flags,
			RandomDraws: len(ids), DrawIDs: ids, CoveredThisYear: len(ids) > 0, NonCooperation: refused[e.USCC],
		})
		return nil
	})
	return out, usccOf, mark, err
}

// NonCooperating returns the USCCs of the enterprises marked for key
// checks for serious non-cooperation (art. 23): recorded in a task whose
// result the office approved as "not cooperating" (reviewed, or published
// since, and not corrected to another result). A member's record alone
// marks nothing, nor does a record the office did not uphold — it
// approved another result — so no single inspector can lift an
// enterprise's two-a-year cap (draw.Candidate's NonCooperation). These
// are the draws' NonCooperation input. Records are rare (and read by id,
// one task at a time): a county has a handful a year.
func (s *Service) NonCooperating(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	if s.NonCooperation == nil {
		return out, nil
	}
	byUSCC, err := s.NonCooperation.NonCooperationTasks(ctx)
	if err != nil {
		return nil, err
	}
	for uscc, tasks := range byUSCC {
		for _, id := range tasks {
			t, r, err := s.Results.FindTaskResult(ctx, id)
			if backend.ErrorCode(err) == backend.ENOTFOUND {
				continue
			} else if err != nil {
				return nil, err
			}
			if (t.State == backend.TaskReviewed || t.State == backend.TaskPublished) && r.Result == backend.ResultNotCooperating {
				out[uscc] = true
				break
			}
		}
	}
	return out, nil
}

// scanPool passes fn every enterprise the plan considers: those its
// query selects, or, for a plan received from another agency (art. 28),
// the one enterprise that agency dispatched.
func (s *Service) scanPool(ctx context.Context, p *backend.Plan, fn func(*backend.PoolEnterprise) error) error {
	if p.External == nil {
		return s.Pools.ScanPool(ctx, poolQuery(p), fn)
	}
	e, err := s.Enterprises.FindEnterpriseByID(ctx, p.External.EnterpriseID)
	if err != nil {
		return err
	}
	return fn(&backend.PoolEnterprise{ID: e.ID, USCC: e.USCC, Town: e.Town, Industry: e.Industry, Status: e.Status,
		Categories: e.Categories, Flags: e.Flags, UpdatedAt: e.UpdatedAt})
}

// poolChanged reports whether what scanPool passes may differ from the n
// enterprises it passed when the newest of them changed at mark.
func (s *Service) poolChanged(ctx context.Context, p *backend.Plan, mark time.Time, n int) (bool, error) {
	if p.External == nil {
		return s.Pools.PoolChanged(ctx, poolQuery(p), mark, n)
	}
	e, err := s.Enterprises.FindEnterpriseByID(ctx, p.External.EnterpriseID)
	if backend.ErrorCode(err) == backend.ENOTFOUND {
		return true, nil
	} else if err != nil {
		return false, err
	}
	return n != 1 || e.UpdatedAt.After(mark), nil
}

// departments are the plan's lead and joint departments, in share order.
func departments(p *backend.Plan) []string {
	return append([]string{p.LeadDepartmentID}, p.JointDepartmentIDs...)
}

// groupSpec says what the plan's groups must be: the lead department's
// group size and each partner's members (art. 27), every item's required
// qualification (art. 15), certificates valid through the window's end.
func (s *Service) groupSpec(ctx context.Context, p *backend.Plan) (draw.GroupSpec, error) {
	spec := draw.GroupSpec{Shares: []draw.Share{{Department: p.LeadDepartmentID, Members: p.GroupSize}}, ValidThrough: p.WindowEnd}
	for _, j := range p.JointDepartmentIDs {
		spec.Shares = append(spec.Shares, draw.Share{Department: j, Members: p.JointMembers})
	}
	for _, id := range p.ItemIDs {
		it, err := s.Items.FindItemByID(ctx, id)
		if err != nil {
			return draw.GroupSpec{}, err
		}
		if it.Qualification != "" && !slices.Contains(spec.Required, it.Qualification) {
			spec.Required = append(spec.Required, it.Qualification)
		}
	}
	slices.Sort(spec.Required)
	return spec, nil
}

// officers is the roster of the plan's departments as the draw sees it:
// every inspector with the facts eligibility uses. Conflicts and last
// inspections are kept for the considered enterprises only; usccOf names
// the enterprises of declared conflicts, lastInspected gives each badge
// the enterprises whose last inspection it was in.
func (s *Service) officers(ctx context.Context, p *backend.Plan, usccOf func(ctx context.Context, ids []string) (map[string]string, error), considered map[string]bool, lastInspected map[string][]string) ([]draw.Officer, error) {
	var roster []*backend.Inspector
	for _, dep := range departments(p) {
		list, _, err := s.Inspectors.FindInspectors(ctx, backend.InspectorFilter{DepartmentID: dep})
		if err != nil {
			return nil, err
		}
		roster = append(roster, list...)
	}
	var ids []string
	for _, in := range roster {
		for _, c := range in.Conflicts {
			ids = append(ids, c.EnterpriseID)
		}
	}
	named, err := usccOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]draw.Officer, 0, len(roster))
	for _, in := range roster {
		var conflicts []string
		for _, c := range in.Conflicts {
			if u := named[c.EnterpriseID]; considered[u] {
				conflicts = append(conflicts, u)
			}
		}
		var last []string
		for _, u := range lastInspected[in.BadgeNo] {
			if considered[u] {
				last = append(last, u)
			}
		}
		out = append(out, draw.Officer{
			BadgeNo: in.BadgeNo, Department: in.DepartmentID, Qualifications: in.Qualifications, Active: in.Active,
			CertificateExpires: string(in.CertificateExpires), Conflicts: conflicts, LastInspected: last,
		})
	}
	return out, nil
}

// freeze reads what the plan's next attempt will be a function of — the
// pool with this year's history, the roster, the group rules — and returns
// it as the draw's inputs, with the directory's mark.
func (s *Service) freeze(ctx context.Context, p *backend.Plan) (*draw.Inputs, time.Time, error) {
	h, err := s.history(ctx, p)
	if err != nil {
		return nil, time.Time{}, err
	}
	all, usccOf, mark, err := s.candidates(ctx, p, h)
	if err != nil {
		return nil, time.Time{}, err
	}
	considered := make(map[string]bool, len(all))
	for _, c := range all {
		considered[c.USCC] = true
	}
	lastInspected := map[string][]string{}
	for u, group := range h.lastGroup {
		for _, b := range group {
			lastInspected[b] = append(lastInspected[b], u)
		}
	}
	known := func(context.Context, []string) (map[string]string, error) { return usccOf, nil }
	roster, err := s.officers(ctx, p, known, considered, lastInspected)
	if err != nil {
		return nil, time.Time{}, err
	}
	spec, err := s.groupSpec(ctx, p)
	if err != nil {
		return nil, time.Time{}, err
	}
	in, err := draw.NewInputs(p.Kind, drawSize(p), drawFilter(p.Filter), spec, all, roster)
	if err != nil {
		return nil, time.Time{}, backend.Wrap(err, backend.EINTERNAL, "freezing the pool")
	}
	return in, mark, nil
}
