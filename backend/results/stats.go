package results

import (
	"context"
	"slices"
	"sort"
	"time"

	"suiji/backend"
	"suiji/backend/draw"
	"suiji/backend/plans"
)

// Shares counts each lead department's random and targeted checks of a
// year (plans.Service.RandomShare).
type Shares interface {
	RandomShare(ctx context.Context, year int) ([]plans.Share, error)
}

// Targets of art. 16.
const (
	TargetCoverage    = 1.0 // key-supervision and blacklisted units: all of them every year
	TargetRandomShare = 0.7 // random checks: at least 70% of all enforcement checks
)

// Stats are the bureau's compliance figures of a year (art. 16, 21, 24,
// 29), for the whole bureau or one department.
type Stats struct {
	Year         int
	DepartmentID string // "" for the whole bureau
	// Coverage of the county's active key-supervision and blacklisted
	// enterprises by the year's draws in force (as the coverage report
	// and the pool rules count it); county-wide, whatever the department.
	KeySupervision Coverage
	Blacklist      Coverage
	// OverCap lists the ordinary enterprises (neither key-supervision,
	// blacklisted nor exempt from the cap) the year's draws in force
	// selected more than twice; art. 16 allows two. County-wide.
	OverCap []OverCap
	// Random and Targeted count the enforcement checks of the
	// department's plans and tasks (all departments' when none is given).
	Random, Targeted int
	// Feedback and Publication measure the tasks whose inspection ended
	// against their deadlines (art. 21, 24); Feedback only those owing it
	// (backend.Task.FeedbackOwed: none where no unit was found).
	Feedback, Publication Timeliness
	// Inspectors counts the tasks (not cancelled) each inspector was in
	// the group of: the department's inspectors, or everyone's.
	Inspectors []InspectorLoad
}

// RandomShare is Random over all checks; 0 when there were none.
func (s *Stats) RandomShare() float64 {
	if n := s.Random + s.Targeted; n > 0 {
		return float64(s.Random) / float64(n)
	}
	return 0
}

// Coverage is how many of a set of enterprises were covered.
type Coverage struct {
	Total, Covered int
	Uncovered      []*backend.Enterprise
}

// Share is Covered over Total; 1 when there is nothing to cover.
func (c Coverage) Share() float64 {
	if c.Total == 0 {
		return 1
	}
	return float64(c.Covered) / float64(c.Total)
}

// OverCap is an ordinary enterprise drawn more than twice in a year.
type OverCap struct {
	Enterprise *backend.Enterprise
	Draws      int
}

// Timeliness sorts the tasks whose inspection ended by how one deadline
// went: met, met late, missed and still open, or still running.
type Timeliness struct {
	Due, OnTime, Late, Overdue, Pending int
	// Missed are the tasks done late or overdue, by deadline.
	Missed []MissedDeadline
}

// MissedDeadline is one task that missed a deadline.
type MissedDeadline struct {
	TaskID     string
	Enterprise string
	Due        string
	Done       string // the day it was done; "" while overdue
}

// InspectorLoad is one inspector's tasks in a year.
type InspectorLoad struct {
	BadgeNo      string
	Name         string
	DepartmentID string
	Tasks        int
}

// Statistics computes the figures of year for departmentID ("" for the
// whole bureau). Coordinators and leaders see any department; staff their
// own (the default for them). EFORBIDDEN for another department's staff;
// EINVALID for an unknown department.
func (s *Service) Statistics(ctx context.Context, year int, departmentID string) (*Stats, error) {
	a := backend.ActorFromContext(ctx)
	if !a.HasAnyRole(backend.RoleCoordinator, backend.RoleLeader) {
		if departmentID == "" {
			departmentID = a.DepartmentID
		}
		if departmentID != a.DepartmentID || departmentID == "" {
			return nil, backend.Errorf(backend.EFORBIDDEN, "staff see the statistics of their own department")
		}
	}
	if departmentID != "" {
		if _, err := s.Departments.FindDepartmentByID(ctx, departmentID); backend.ErrorCode(err) == backend.ENOTFOUND {
			return nil, backend.InvalidFields("unknown department", map[string]string{"department_id": "no such department"})
		} else if err != nil {
			return nil, err
		}
	}
	st := &Stats{Year: year, DepartmentID: departmentID}
	if err := s.coverage(ctx, st); err != nil {
		return nil, err
	}
	shares, err := s.Shares.RandomShare(ctx, year)
	if err != nil {
		return nil, err
	}
	for _, sh := range shares {
		if departmentID == "" || sh.DepartmentID == departmentID {
			st.Random += sh.Random
			st.Targeted += sh.Targeted
		}
	}
	f := backend.TaskFilter{Year: year, NoTotal: true}
	if departmentID != "" {
		f.DepartmentIDs = []string{departmentID}
	}
	ts, _, err := s.Tasks.FindTasks(ctx, f)
	if err != nil {
		return nil, err
	}
	s.timeliness(st, ts)
	st.Inspectors = inspectorLoads(ts, departmentID)
	return st, nil
}

// coverage counts art. 16's coverage and the enterprises drawn over the
// cap from the year's draws in force, less the selections whose tasks
// were cancelled.
func (s *Service) coverage(ctx context.Context, st *Stats) error {
	draws, err := s.Draws.FindDrawsInForce(ctx, st.Year)
	if err != nil {
		return err
	}
	cancelled, err := backend.CancelledSelections(ctx, s.Tasks, st.Year)
	if err != nil {
		return err
	}
	drawn := map[string]int{}
	for _, d := range draws {
		for _, sel := range d.Record.Selections {
			if !cancelled[backend.SelectionKey(d.ID, sel.USCC)] {
				drawn[sel.USCC]++
			}
		}
	}
	count := func(list []*backend.Enterprise, into *Coverage) {
		for _, e := range list {
			into.Total++
			if drawn[e.USCC] > 0 {
				into.Covered++
			} else {
				into.Uncovered = append(into.Uncovered, e)
			}
		}
	}
	key, err := s.activeWith(ctx, backend.KeySupervisionCategories, "")
	if err != nil {
		return err
	}
	count(key, &st.KeySupervision)
	black, err := s.activeWith(ctx, nil, backend.FlagBlacklist)
	if err != nil {
		return err
	}
	count(black, &st.Blacklist)

	var many []string
	for uscc, n := range drawn {
		if n > 2 {
			many = append(many, uscc)
		}
	}
	if len(many) == 0 {
		return nil
	}
	ents, err := s.Enterprises.FindEnterprisesByUSCC(ctx, many)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if ordinary(e) {
			st.OverCap = append(st.OverCap, OverCap{Enterprise: e, Draws: drawn[e.USCC]})
		}
	}
	sort.Slice(st.OverCap, func(i, j int) bool { return st.OverCap[i].Enterprise.USCC < st.OverCap[j].Enterprise.USCC })
	return nil
}

// activeWith lists the active enterprises holding any of categories, or
// flag, each once, by USCC.
func (s *Service) activeWith(ctx context.Context, categories []string, flag string) ([]*backend.Enterprise, error) {
	seen := map[string]*backend.Enterprise{}
	filters := []backend.EnterpriseFilter{}
	for _, c := range categories {
		filters = append(filters, backend.EnterpriseFilter{Status: backend.EnterpriseActive, Category: c})
	}
	if flag != "" {
		filters = append(filters, backend.EnterpriseFilter{Status: backend.EnterpriseActive, Flag: flag})
	}
	for _, f := range filters {
		list, _, err := s.Enterprises.FindEnterprises(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, e := range list {
			seen[e.USCC] = e
		}
	}
	out := make([]*backend.Enterprise, 0, len(seen))
	for _, e := range seen {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].USCC < out[j].USCC })
	return out, nil
}

// ordinary reports whether art. 16's cap of two draws a year applies to e
// (no flag of draw.CapExemptFlags, the pool rules' exemptions) and it is
// not a unit that must be covered every year.
func ordinary(e *backend.Enterprise) bool {
	special := func(have []string, want []string) bool {
		return slices.ContainsFunc(have, func(h string) bool { return slices.Contains(want, h) })
	}
	return !special(e.Categories, backend.KeySupervisionCategories) &&
		!special(e.Flags, append([]string{backend.FlagBlacklist}, draw.CapExemptFlags...))
}

// timeliness sorts the tasks whose inspection ended by how their feedback
// (where owed: backend.Task.FeedbackOwed) and publication deadlines went, today
// being the clock's Beijing day.
func (s *Service) timeliness(st *Stats, ts []*backend.Task) {
	today := string(backend.DateOf(s.Now()))
	for _, t := range ts {
		if t.State == backend.TaskCancelled || t.InspectionEndedAt == nil {
			continue
		}
		if t.FeedbackOwed() { // as the scheduler: no unit found, no feedback owed
			measure(&st.Feedback, t, t.Deadlines.Feedback, t.FeedbackAt, today)
		}
		measure(&st.Publication, t, t.Deadlines.Publication, t.PublishedAt, today)
	}
	for _, tl := range []*Timeliness{&st.Feedback, &st.Publication} {
		sort.Slice(tl.Missed, func(i, j int) bool {
			a, b := tl.Missed[i], tl.Missed[j]
			return a.Due < b.Due || (a.Due == b.Due && a.TaskID < b.TaskID)
		})
	}
}

func measure(tl *Timeliness, t *backend.Task, due string, done *time.Time, today string) {
	if due == "" {
		return
	}
	tl.Due++
	switch {
	case done != nil && string(backend.DateOf(*done)) <= due:
		tl.OnTime++
	case done != nil:
		tl.Late++
		tl.Missed = append(tl.Missed, MissedDeadline{TaskID: t.ID, Enterprise: t.Enterprise.Name, Due: due, Done: string(backend.DateOf(*done))})
	case today > due:
		tl.Overdue++
		tl.Missed = append(tl.Missed, MissedDeadline{TaskID: t.ID, Enterprise: t.Enterprise.Name, Due: due})
	default:
		tl.Pending++
	}
}

// inspectorLoads counts each inspector's tasks (active membership, tasks
// not cancelled), only departmentID's inspectors when it is given.
func inspectorLoads(ts []*backend.Task, departmentID string) []InspectorLoad {
	byBadge := map[string]*InspectorLoad{}
	for _, t := range ts {
		if t.State == backend.TaskCancelled {
			continue
		}
		for _, m := range t.ActiveMembers() {
			if departmentID != "" && m.DepartmentID != departmentID {
				continue
			}
			l, ok := byBadge[m.BadgeNo]
			if !ok {
				l = &InspectorLoad{BadgeNo: m.BadgeNo, Name: m.Name, DepartmentID: m.DepartmentID}
				byBadge[m.BadgeNo] = l
			}
			l.Tasks++
		}
	}
	out := make([]InspectorLoad, 0, len(byBadge))
	for _, l := range byBadge {
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].BadgeNo < out[j].BadgeNo })
	return out
}
