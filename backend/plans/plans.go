// Package plans is the heart of suiji: inspection plans (art. 4–5, 14, 19,
// 26–28) and their verifiable double-random draws (art. 8, 12, 13, 15, 16).
//
// A plan is drafted, approved by a leader other than its drafter (which
// publishes it), and then drawn in attempts. Each attempt needs its own
// commitment, made before it (CommitSeed): a fresh sealed seed, stored
// encrypted with SUIJI_SEED_KEY, whose SHA-256 is published with the source
// of the public entropy and the hashes of the pool and roster frozen then.
// The attempt (Draw) takes the entropy's value, refuses to run if the
// directory or roster changed the frozen inputs, and runs package draw's
// procedure (SPEC.md) on them; a successful attempt reveals its seed, a
// failed one (no valid inspector groups) is recorded with its reason in
// aggregate terms and reveals nothing. Every attempt after the first needs a
// leader's approval with its reason (ApproveRedraw). The stored record lets
// anyone re-compute the attempt.
//
// Exactly once: a Redis lease lets one instance at a time commit or draw a
// plan and is kept alive while the work runs (backend.KeepAlive): when an
// extension fails the work stops and stores nothing. A second lease, per
// year, makes the commits and draws of a year's plans run one at a time,
// so that a commitment counts exactly the year's draws stored before it
// (yearLease). The unique (plan,
// sequence) index and the plan's version compare-and-set in MongoDB are the
// final word. A commit (the seed, then the plan) and an attempt (the draw,
// then the plan) are each one audited change whose event every write
// carries (a bulk change of backend.Auditor.Change, named by a Key), so a
// crash between the writes leaves neither unaudited, and the repeat that
// finishes the change records it no second time.
//
// It depends on backend interfaces and the pure draw package only.
package plans

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"suiji/backend"
	"suiji/backend/draw"
)

// DefaultLockTTL is how long a draw's lease lives without extension; it is
// extended every third of that while the work runs.
const DefaultLockTTL = 30 * time.Second

// Service is the plans use case.
type Service struct {
	Plans       backend.PlanStore
	Draws       backend.DrawStore
	Pools       backend.PoolSource // the directory as the draw reads it
	Enterprises backend.EnterpriseStore
	Inspectors  backend.InspectorStore
	Items       backend.ItemStore
	Departments backend.DepartmentStore
	Towns       backend.TownStore
	Locks       backend.Locker
	Tasks       backend.TaskStore // targeted and received tasks, for the random share
	// Results are the tasks' approved results: whether a recorded
	// non-cooperation was upheld (NonCooperating).
	Results backend.TaskResultStore
	// NonCooperation is recorded non-cooperation (art. 23): the pools'
	// NonCooperation input.
	NonCooperation backend.NonCooperationStore
	Audit          backend.Auditor
	Now            func() time.Time
	Rand           io.Reader // crypto/rand.Reader in production
	LockTTL        time.Duration
	// SeedKey encrypts the sealed seeds at rest (SUIJI_SEED_KEY), so that a
	// database reader cannot learn a seed before its attempt.
	SeedKey string
}

// Input is what a plan is created from.
type Input struct {
	Year               int
	Title              string
	Kind               string
	ItemIDs            []string
	LeadDepartmentID   string
	JointDepartmentIDs []string
	Filter             backend.PlanFilter
	Sample             backend.PlanSample
	GroupSize          int
	JointMembers       int
	WindowStart        string
	WindowEnd          string
	// External makes the plan the bureau's share of another agency's
	// joint draw (art. 28): directed, with a sample of one — the
	// enterprise that agency dispatched — and no filter or partners.
	External *backend.PlanExternal
}

// Bounds of an external plan's texts.
const (
	MaxExternalAgency    = 100
	MaxExternalReference = 200
)

// normalize fills what a plan's kind fixes, before validation.
func normalize(in *Input) {
	if in.External != nil {
		x := *in.External
		x.Agency, x.Reference, x.EnterpriseID = strings.TrimSpace(x.Agency), strings.TrimSpace(x.Reference), strings.TrimSpace(x.EnterpriseID)
		in.External, in.Kind, in.Sample = &x, backend.PlanDirected, backend.PlanSample{Count: 1}
	}
	if in.Kind == backend.PlanCoverage {
		in.Sample = backend.PlanSample{}
	}
	if len(in.JointDepartmentIDs) > 0 && in.JointMembers == 0 {
		in.JointMembers = 1 // each partner draws its own inspectors (art. 27)
	}
}

// CreatePlan validates and stores a draft plan. Staff may only plan for
// their own department. EINVALID naming every bad field, EFORBIDDEN.
func (s *Service) CreatePlan(ctx context.Context, in Input) (*backend.Plan, error) {
	actor := backend.ActorFromContext(ctx)
	if !actor.HasAnyRole(backend.RoleCoordinator) && in.LeadDepartmentID != "" && in.LeadDepartmentID != actor.DepartmentID {
		return nil, backend.Errorf(backend.EFORBIDDEN, "staff plan only for their own department")
	}
	normalize(&in)
	fields := map[string]string{}
	if err := s.validate(ctx, &in, fields); err != nil {
		return nil, err
	}
	if len(fields) > 0 {
		return nil, backend.InvalidFields("invalid plan", fields)
	}
	now := s.Now().UTC()
	p := &backend.Plan{
		ID: backend.NewID(), Year: in.Year, Title: strings.TrimSpace(in.Title), Kind: in.Kind, ItemIDs: in.ItemIDs,
		LeadDepartmentID: in.LeadDepartmentID, JointDepartmentIDs: in.JointDepartmentIDs,
		Filter: in.Filter, Sample: in.Sample, GroupSize: in.GroupSize, JointMembers: in.JointMembers,
		WindowStart: in.WindowStart, WindowEnd: in.WindowEnd, External: in.External, Status: backend.PlanDraft,
		CreatedBy: actor.UserID, CreatedAt: now, UpdatedAt: now,
	}
	err := s.Audit.Change(ctx, backend.AuditChange{Action: "plan.create", ObjectType: "plan", ObjectID: p.ID, After: planDigest(p)},
		func(ctx context.Context) error { return s.Plans.CreatePlan(ctx, p) })
	if err != nil {
		return nil, err
	}
	return p, nil
}

// update stores a changed plan (compare-and-set on its version) with its
// audit event.
func (s *Service) update(ctx context.Context, action string, p *backend.Plan, before map[string]any) error {
	return s.Audit.Change(ctx, backend.AuditChange{Action: action, ObjectType: "plan", ObjectID: p.ID, Before: before, After: planDigest(p)},
		func(ctx context.Context) error { return s.Plans.UpdatePlan(ctx, p) })
}

func (s *Service) validate(ctx context.Context, in *Input, fields map[string]string) error {
	if in.Year < 2000 || in.Year > 2100 {
		fields["year"] = "a year from 2000 to 2100"
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(in.Title)); n == 0 || n > 200 {
		fields["title"] = "1–200 characters"
	}
	switch in.Kind {
	case backend.PlanUndirected, backend.PlanDirected:
		switch sm := in.Sample; {
		case sm.Ratio != "" && sm.Count != 0:
			fields["sample"] = "give ratio or count, not both"
		case sm.Ratio != "":
			if _, _, err := draw.ParseRatio(sm.Ratio); err != nil {
				fields["sample"] = fmt.Sprintf("ratio must be a decimal above 0 and at most 1 with at most %d decimal places, such as 0.07", draw.MaxRatioDigits)
			}
		case sm.Count < 1:
			fields["sample"] = "a ratio (0–1] or a count ≥ 1 is required"
		}
	case backend.PlanCoverage:
	default:
		fields["kind"] = "undirected, directed or coverage"
	}
	if in.GroupSize < 2 {
		fields["group_size"] = "at least 2 inspectors per group (national law)"
	}
	if in.JointMembers < 0 || in.JointMembers > 10 || in.GroupSize > 10 {
		fields["joint_members"] = "0–10 per partner department; group_size at most 10"
	}
	start, errS := backend.ParseDate(in.WindowStart)
	end, errE := backend.ParseDate(in.WindowEnd)
	switch {
	case errS != nil:
		fields["window.start"] = "a date YYYY-MM-DD"
	case errE != nil:
		fields["window.end"] = "a date YYYY-MM-DD"
	case end < start:
		fields["window.end"] = "on or after window.start"
	}
	for _, c := range in.Filter.Categories {
		if !slices.Contains(backend.Categories, c) {
			fields["filter.categories"] = "unknown category " + c
		}
	}
	for _, f := range in.Filter.Flags {
		if !slices.Contains(backend.Flags, f) {
			fields["filter.flags"] = "unknown flag " + f
		}
	}
	if err := s.checkTowns(ctx, in.Filter.Towns, fields); err != nil {
		return err
	}
	if err := s.checkExternal(ctx, in, fields); err != nil {
		return err
	}
	if err := s.checkDepartments(ctx, in, fields); err != nil {
		return err
	}
	return s.checkItems(ctx, in, fields)
}

// checkExternal checks what an external plan (art. 28) names: the
// agency, its reference and an active enterprise of the directory; such
// a plan has no filter and no partner departments of its own.
func (s *Service) checkExternal(ctx context.Context, in *Input, fields map[string]string) error {
	x := in.External
	if x == nil {
		return nil
	}
	// The agency is one the bureau registered as a partner (a department
	// of kind external, 协同部门), named as registered: not free text, so
	// that a received task names a known agency and can be traced to it.
	if n := utf8.RuneCountInString(x.Agency); n == 0 || n > MaxExternalAgency {
		fields["external.agency"] = fmt.Sprintf("the agency whose joint draw dispatched the task, 1–%d characters", MaxExternalAgency)
	} else if known, err := s.partnerAgency(ctx, x.Agency); err != nil {
		return err
	} else if !known {
		fields["external.agency"] = "the name of a partner agency (a department of kind external); register the agency first"
	}
	if n := utf8.RuneCountInString(x.Reference); n == 0 || n > MaxExternalReference {
		fields["external.reference"] = fmt.Sprintf("that agency's plan or task reference, 1–%d characters", MaxExternalReference)
	}
	if len(in.Filter.Towns)+len(in.Filter.Industries)+len(in.Filter.Categories)+len(in.Filter.Flags) > 0 {
		fields["filter"] = "none: the other agency named the enterprise"
	}
	if len(in.JointDepartmentIDs) > 0 {
		fields["joint_department_ids"] = "none: the bureau draws its own inspectors for its share"
	}
	e, err := s.Enterprises.FindEnterpriseByID(ctx, x.EnterpriseID)
	switch {
	case backend.ErrorCode(err) == backend.ENOTFOUND:
		fields["external.enterprise_id"] = "an enterprise of the directory"
	case err != nil:
		return err
	case e.Status != backend.EnterpriseActive:
		fields["external.enterprise_id"] = "an active enterprise (this one is " + e.Status + ")"
	}
	return nil
}

// partnerAgency reports whether name is a department of kind external.
func (s *Service) partnerAgency(ctx context.Context, name string) (bool, error) {
	deps, err := s.Departments.FindDepartments(ctx)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(deps, func(d *backend.Department) bool { return d.Name == name && d.Kind == backend.DepartmentExternal }), nil
}

func (s *Service) checkTowns(ctx context.Context, towns []string, fields map[string]string) error {
	for _, t := range towns {
		if _, err := s.Towns.FindTownByName(ctx, t); backend.ErrorCode(err) == backend.ENOTFOUND {
			fields["filter.towns"] = "unknown town " + t
		} else if err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) checkDepartments(ctx context.Context, in *Input, fields map[string]string) error {
	if _, err := s.Departments.FindDepartmentByID(ctx, in.LeadDepartmentID); backend.ErrorCode(err) == backend.ENOTFOUND {
		fields["lead_department_id"] = "unknown department"
	} else if err != nil {
		return err
	}
	seen := map[string]bool{in.LeadDepartmentID: true}
	for _, id := range in.JointDepartmentIDs {
		if seen[id] {
			fields["joint_department_ids"] = "each department once, and not the lead"
			continue
		}
		seen[id] = true
		if _, err := s.Departments.FindDepartmentByID(ctx, id); backend.ErrorCode(err) == backend.ENOTFOUND {
			fields["joint_department_ids"] = "unknown department " + id
		} else if err != nil {
			return err
		}
	}
	return nil
}

// checkItems enforces art. 9: a plan uses only items of its year's
// published list.
func (s *Service) checkItems(ctx context.Context, in *Input, fields map[string]string) error {
	if len(in.ItemIDs) == 0 {
		fields["item_ids"] = "at least one item of the year's published list"
		return nil
	}
	if _, err := s.Items.FindItemPublication(ctx, in.Year); backend.ErrorCode(err) == backend.ENOTFOUND {
		fields["item_ids"] = fmt.Sprintf("the item list of %d is not published yet", in.Year)
		return nil
	} else if err != nil {
		return err
	}
	for _, id := range in.ItemIDs {
		it, err := s.Items.FindItemByID(ctx, id)
		if backend.ErrorCode(err) == backend.ENOTFOUND || (err == nil && it.Year != in.Year) {
			fields["item_ids"] = "item " + id + " is not on the published list of " + fmt.Sprint(in.Year)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// GetPlan returns a plan the actor may see: coordinators, leaders and
// admins see all; staff only plans their department leads or joins.
// ENOTFOUND for a plan they may not see.
func (s *Service) GetPlan(ctx context.Context, id string) (*backend.Plan, error) {
	p, err := s.Plans.FindPlanByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !mayView(backend.ActorFromContext(ctx), p) {
		return nil, backend.Errorf(backend.ENOTFOUND, "plan not found")
	}
	return p, nil
}

// ListPlans lists the plans the actor may see.
func (s *Service) ListPlans(ctx context.Context, q backend.PlanQuery) ([]*backend.Plan, error) {
	a := backend.ActorFromContext(ctx)
	if !a.HasAnyRole(backend.RoleCoordinator, backend.RoleLeader) {
		q.DepartmentIDs = []string{a.DepartmentID}
	}
	return s.Plans.FindPlans(ctx, q)
}

func mayView(a *backend.Actor, p *backend.Plan) bool {
	return a.HasAnyRole(backend.RoleCoordinator, backend.RoleLeader) ||
		(a.DepartmentID != "" && (p.LeadDepartmentID == a.DepartmentID || slices.Contains(p.JointDepartmentIDs, a.DepartmentID)))
}

// mayRun reports whether the actor may commit and draw a plan: the
// coordinator, or staff of its lead department.
func mayRun(a *backend.Actor, p *backend.Plan) bool {
	return a.HasRole(backend.RoleCoordinator) || (a.HasRole(backend.RoleStaff) && a.DepartmentID == p.LeadDepartmentID)
}

// ApprovePlan approves a draft (a leader's act, art. 5), which publishes it
// (art. 19). Separation of duties: whoever drafted a plan cannot approve
// it. ECONFLICT when it is not a draft, EFORBIDDEN for its drafter.
func (s *Service) ApprovePlan(ctx context.Context, id string) (*backend.Plan, error) {
	p, err := s.GetPlan(ctx, id)
	if err != nil {
		return nil, err
	}
	actor := backend.ActorFromContext(ctx)
	if actor.UserID == p.CreatedBy {
		return nil, backend.Errorf(backend.EFORBIDDEN, "whoever drafted a plan cannot approve it; another leader must")
	}
	if p.Status != backend.PlanDraft {
		return nil, backend.Errorf(backend.ECONFLICT, "only a draft can be approved; this plan is %s", p.Status)
	}
	before := planDigest(p)
	now := s.Now().UTC()
	p.Status, p.ApprovedBy, p.ApprovedAt, p.UpdatedAt = backend.PlanApproved, actor.UserID, &now, now
	if err := s.update(ctx, "plan.approve", p, before); err != nil {
		return nil, err
	}
	return p, nil
}

// NewRandReader returns the production randomness source.
func NewRandReader() io.Reader { return rand.Reader }

// planDigest is what the audit trail keeps of a plan.
func planDigest(p *backend.Plan) map[string]any {
	d := map[string]any{
		"id": p.ID, "year": p.Year, "title": p.Title, "kind": p.Kind, "status": p.Status,
		"item_ids": p.ItemIDs, "lead_department_id": p.LeadDepartmentID, "joint_department_ids": p.JointDepartmentIDs,
		"filter": p.Filter, "sample": p.Sample, "group_size": p.GroupSize, "joint_members": p.JointMembers,
		"window":          []string{p.WindowStart, p.WindowEnd},
		"seed_commitment": p.SeedCommitment, "current_draw_id": p.CurrentDrawID, "draw_count": p.DrawCount,
	}
	if c := p.Commitment; c != nil {
		d["commitment"] = map[string]any{"seq": c.Seq, "seed_commitment": c.SeedCommitment, "entropy_source": c.EntropySource,
			"pool_sha256": c.PoolSHA256, "roster_sha256": c.RosterSHA256, "pool_size": c.PoolSize, "sample_size": c.SampleSize}
	}
	if a := p.RedrawApproval; a != nil {
		d["redraw_approval"] = map[string]any{"seq": a.Seq, "reason": a.Reason, "approved_by": a.ApprovedBy}
	}
	if x := p.External; x != nil {
		d["external"] = map[string]any{"agency": x.Agency, "reference": x.Reference, "enterprise_id": x.EnterpriseID}
	}
	return d
}

// UpdateDraft replaces the fields of a draft plan with in, validated as on
// creation. Once approved a plan is published and no longer changes (a
// different plan is a new plan). ECONFLICT when it is not a draft or when
// version (if given) is not the stored one; EINVALID; EFORBIDDEN.
func (s *Service) UpdateDraft(ctx context.Context, id string, version int, in Input) (*backend.Plan, error) {
	p, err := s.GetPlan(ctx, id)
	if err != nil {
		return nil, err
	}
	actor := backend.ActorFromContext(ctx)
	if !mayRun(actor, p) || (!actor.HasRole(backend.RoleCoordinator) && in.LeadDepartmentID != "" && in.LeadDepartmentID != actor.DepartmentID) {
		return nil, backend.Errorf(backend.EFORBIDDEN, "only the coordinator or the lead department's staff edit a draft")
	}
	if p.Status != backend.PlanDraft {
		return nil, backend.Errorf(backend.ECONFLICT, "only a draft can be edited; this plan is %s", p.Status)
	}
	if version != 0 && version != p.Version {
		return nil, backend.Errorf(backend.ECONFLICT, "the plan was changed meanwhile (version %d, you edited %d); reload it", p.Version, version)
	}
	normalize(&in)
	fields := map[string]string{}
	if err := s.validate(ctx, &in, fields); err != nil {
		return nil, err
	}
	if len(fields) > 0 {
		return nil, backend.InvalidFields("invalid plan", fields)
	}
	before := planDigest(p)
	p.Year, p.Title, p.Kind, p.ItemIDs = in.Year, strings.TrimSpace(in.Title), in.Kind, in.ItemIDs
	p.LeadDepartmentID, p.JointDepartmentIDs = in.LeadDepartmentID, in.JointDepartmentIDs
	p.Filter, p.Sample, p.GroupSize, p.JointMembers = in.Filter, in.Sample, in.GroupSize, in.JointMembers
	p.WindowStart, p.WindowEnd, p.External, p.UpdatedAt = in.WindowStart, in.WindowEnd, in.External, s.Now().UTC()
	if err := s.update(ctx, "plan.update", p, before); err != nil {
		return nil, err
	}
	return p, nil
}
