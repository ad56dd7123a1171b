package plans

import (
	"context"
	"io"
	"slices"

	"suiji/backend"
	"suiji/backend/draw"
)

// GetDraw returns a draw of a plan the actor may see. ENOTFOUND.
func (s *Service) GetDraw(ctx context.Context, id string) (*backend.Draw, error) {
	d, err := s.Draws.FindDrawByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := s.GetPlan(ctx, d.PlanID); err != nil {
		return nil, backend.NotFoundAs(err, "draw not found")
	}
	return d, nil
}

// ListDraws lists a visible plan's attempts, oldest first, failed ones
// included; every drawn one but the plan's current draw is superseded.
func (s *Service) ListDraws(ctx context.Context, planID string) ([]*backend.Draw, error) {
	if _, err := s.GetPlan(ctx, planID); err != nil {
		return nil, err
	}
	return s.Draws.FindDrawsByPlan(ctx, planID)
}

// PublicPlans lists published plans (approved or later) for anyone (art. 19).
func (s *Service) PublicPlans(ctx context.Context, year int) ([]*backend.Plan, error) {
	return s.Plans.FindPlans(ctx, backend.PlanQuery{Year: year, Published: true})
}

// PublicPlan returns a published plan. ENOTFOUND for drafts.
func (s *Service) PublicPlan(ctx context.Context, id string) (*backend.Plan, error) {
	p, err := s.Plans.FindPlanByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Status == backend.PlanDraft {
		return nil, backend.Errorf(backend.ENOTFOUND, "plan not found")
	}
	return p, nil
}

// PublicDraw returns an attempt for anyone — every attempt belongs to an
// approved plan — with its record's head, allocation and selections (the
// candidates and roster are streamed by WritePublicRecord). ENOTFOUND.
func (s *Service) PublicDraw(ctx context.Context, id string) (*backend.Draw, error) {
	return s.Draws.FindDrawByID(ctx, id)
}

// PublicDraws lists a published plan's attempts, failed ones with their
// reason, for anyone: the plan's public history. ENOTFOUND for a draft.
func (s *Service) PublicDraws(ctx context.Context, planID string) ([]*backend.Draw, error) {
	if _, err := s.PublicPlan(ctx, planID); err != nil {
		return nil, err
	}
	return s.Draws.FindDrawsByPlan(ctx, planID)
}

// WritePublicRecord writes an attempt's whole public record (SPEC.md §2) to
// w as JSON, streaming its candidates and roster from their snapshots
// rather than building the record in memory. d is the attempt as
// PublicDraw returned it. A suiji-draw/1 record is written as it was
// published.
func (s *Service) WritePublicRecord(ctx context.Context, d *backend.Draw, w io.Writer) error {
	r := d.Record
	if r.AlgorithmVersion != draw.AlgorithmVersion {
		return s.Draws.WriteLegacyRecord(ctx, d.ID, w)
	}
	scan := func(kind, sha string) draw.Lists {
		return func(emit func([]byte) error) error { return s.Draws.ScanSnapshot(ctx, kind, sha, emit) }
	}
	return draw.WriteRecord(w, &r.RecordHead, scan(backend.SnapshotPool, r.PoolSHA256), scan(backend.SnapshotRoster, r.RosterSHA256),
		r.Allocation, r.Selections)
}

// Coverage is the art. 16 coverage report of a year: key-supervision and
// blacklisted enterprises, each marked covered when a draw in force of the
// year selected it and its task was not cancelled.
type Coverage struct {
	Year      int
	Total     int
	Covered   int
	Uncovered []*backend.Enterprise
}

// CoverageReport lists the key-supervision and blacklisted active
// enterprises not yet covered in year.
func (s *Service) CoverageReport(ctx context.Context, year int) (*Coverage, error) {
	ents, _, err := s.Enterprises.FindEnterprises(ctx, backend.EnterpriseFilter{Status: backend.EnterpriseActive})
	if err != nil {
		return nil, err
	}
	draws, err := s.Draws.FindDrawsInForce(ctx, year)
	if err != nil {
		return nil, err
	}
	cancelled, err := backend.CancelledSelections(ctx, s.Tasks, year)
	if err != nil {
		return nil, err
	}
	covered := map[string]bool{}
	for _, d := range draws {
		for _, sel := range d.Record.Selections {
			if !cancelled[backend.SelectionKey(d.ID, sel.USCC)] {
				covered[sel.USCC] = true
			}
		}
	}
	c := &Coverage{Year: year}
	for _, e := range ents {
		if !mustCover(e) {
			continue
		}
		c.Total++
		if covered[e.USCC] {
			c.Covered++
		} else {
			c.Uncovered = append(c.Uncovered, e)
		}
	}
	return c, nil
}

func mustCover(e *backend.Enterprise) bool {
	return slices.Contains(e.Flags, backend.FlagBlacklist) ||
		slices.ContainsFunc(e.Categories, func(c string) bool { return slices.Contains(backend.KeySupervisionCategories, c) })
}

// Share is one department's enforcement checks in a year.
type Share struct {
	DepartmentID string
	Random       int // enterprises drawn in the draws in force of its plans (less those whose tasks were cancelled), and tasks received from joint draws (art. 28)
	Targeted     int // targeted (non-random) tasks: complaints, assigned, transferred (art. 2)
}

// RandomShare counts each lead department's enforcement checks of a year:
// random ones (the enterprises selected by its plans' draws in force, and
// tasks received from another agency's joint draw) and targeted ones
// (tasks recorded for a complaint, an assignment or a referral, not
// cancelled). Art. 16 asks that random checks be at least 70% of all.
func (s *Service) RandomShare(ctx context.Context, year int) ([]Share, error) {
	draws, err := s.Draws.FindDrawsInForce(ctx, year)
	if err != nil {
		return nil, err
	}
	byDept := map[string]*Share{}
	var order []string
	share := func(dept string) *Share {
		sh, ok := byDept[dept]
		if !ok {
			sh = &Share{DepartmentID: dept}
			byDept[dept] = sh
			order = append(order, dept)
		}
		return sh
	}
	cancelled, err := backend.CancelledSelections(ctx, s.Tasks, year)
	if err != nil {
		return nil, err
	}
	for _, d := range draws {
		p, err := s.Plans.FindPlanByID(ctx, d.PlanID)
		if err != nil {
			return nil, err
		}
		if p.External != nil {
			continue // its task counts, below, as received (art. 28)
		}
		sh := share(p.LeadDepartmentID) // shown even when every check was cancelled
		for _, sel := range d.Record.Selections {
			if !cancelled[backend.SelectionKey(d.ID, sel.USCC)] {
				sh.Random++
			}
		}
	}
	if s.Tasks != nil {
		targeted, err := s.Tasks.CountTasks(ctx, year, backend.TaskTargeted)
		if err != nil {
			return nil, err
		}
		for dept, n := range targeted {
			share(dept).Targeted += n
		}
		received, err := s.Tasks.CountTasks(ctx, year, backend.TaskExternal)
		if err != nil {
			return nil, err
		}
		for dept, n := range received {
			share(dept).Random += n
		}
	}
	slices.Sort(order)
	out := make([]Share, len(order))
	for i, id := range order {
		out[i] = *byDept[id]
	}
	return out, nil
}
