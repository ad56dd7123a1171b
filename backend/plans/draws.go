package plans

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"suiji/backend"
	"suiji/backend/draw/drawv1"
)

// Draw draws the plan: enterprises and a group of inspectors for each. The
// first draw needs no reason; a redraw needs one, gets the next sequence
// number and supersedes the previous draw, which stays visible. entropy is
// optional public randomness given at draw time (CombineSeed).
//
// ECONFLICT when another draw of the plan is running, when it was already
// drawn and no reason is given, or when the lease was lost before the
// write; EUNAVAILABLE when Redis is down (nothing is stored); EINVALID (with
// the enterprise named) when no valid inspector group exists for one of the
// drawn enterprises — nothing is stored then either.
func (s *Service) Draw(ctx context.Context, planID, entropy, reason string) (*backend.Draw, error) {
	entropy, reason = strings.TrimSpace(entropy), strings.TrimSpace(reason)
	if utf8.RuneCountInString(entropy) > 500 || utf8.RuneCountInString(reason) > 1000 {
		return nil, backend.InvalidFields("too long", map[string]string{"public_entropy": "at most 500 characters", "reason": "at most 1000 characters"})
	}
	p, err := s.GetPlan(ctx, planID)
	if err != nil {
		return nil, err
	}
	actor := backend.ActorFromContext(ctx)
	if !mayRun(actor, p) {
		return nil, backend.Errorf(backend.EFORBIDDEN, "only the coordinator or the lead department's staff draw a plan")
	}

	lease, err := s.Locks.Acquire(ctx, "draw:"+p.ID, s.lockTTL())
	if err != nil {
		return nil, err
	}
	defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()

	// Read again under the lease: another instance may have drawn meanwhile.
	if p, err = s.Plans.FindPlanByID(ctx, planID); err != nil {
		return nil, err
	}
	previous, err := s.Draws.FindDrawsByPlan(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	// A draw stored by an instance that died before it pointed the plan
	// at it (kill -9, a lost connection): the retry — the same request,
	// without a reason — completes that draw instead of refusing a redraw.
	if last := newestDraw(previous); last != nil && reason == "" && p.DrawCount < last.Seq &&
		(p.Status == backend.PlanApproved || p.Status == backend.PlanDrawn) {
		if err := s.markDrawn(ctx, p, last); err != nil {
			return nil, err
		}
		return last, s.recordDraw(ctx, p, last)
	}
	seq := len(previous) + 1
	switch {
	case p.Status != backend.PlanApproved && p.Status != backend.PlanDrawn:
		return nil, backend.Errorf(backend.ECONFLICT, "a plan is drawn after approval and before dispatch; this plan is %s", p.Status)
	case p.SeedCommitment == "":
		return nil, backend.Errorf(backend.ECONFLICT, "commit the plan's seed first (POST /api/v1/plans/%s/commit), so its commitment is public before the draw", p.ID)
	case seq > 1 && reason == "":
		return nil, backend.InvalidFields("the plan was already drawn; a redraw needs a reason", map[string]string{"reason": "required for a redraw"})
	}
	seed, err := s.Plans.LoadSeed(ctx, p.ID)
	if err != nil {
		return nil, err
	}

	in, err := s.inputs(ctx, p)
	if err != nil {
		return nil, err
	}
	selections, alloc, err := drawv1.Run(drawv1.DrawSeed(seed, entropy, seq), in)
	if err != nil {
		var ge *drawv1.GroupError
		if errors.As(err, &ge) {
			return nil, backend.InvalidFields(ge.Error(), map[string]string{"enterprise": ge.USCC})
		}
		return nil, backend.Wrap(err, backend.EINVALID, "the plan cannot be drawn: %v", err)
	}
	rec := drawv1.NewRecord(seed, entropy, in, selections, alloc)
	d := &backend.Draw{
		ID: fmt.Sprintf("%s-%d", p.ID, seq), PlanID: p.ID, Seq: seq, Year: p.Year, Reason: reason,
		CreatedBy: actor.UserID, CreatedName: actor.Username, CreatedAt: s.Now().UTC(), Record: rec,
	}
	rec.ID, rec.PlanID, rec.Seq = d.ID, p.ID, seq

	if s.BeforeStore != nil {
		s.BeforeStore(ctx)
	}
	// The lease must still be ours right before the write: if Redis went
	// away or the lease expired, another instance may be drawing.
	if err := lease.Extend(ctx); err != nil {
		return nil, err
	}
	if err := s.Draws.InsertDraw(ctx, d); err != nil {
		return nil, err
	}
	if err := s.markDrawn(ctx, p, d); err != nil {
		return nil, err
	}
	return d, s.recordDraw(ctx, p, d)
}

// recordDraw writes a draw's audit event.
func (s *Service) recordDraw(ctx context.Context, p *backend.Plan, d *backend.Draw) error {
	after := map[string]any{"plan_id": p.ID, "seq": d.Seq, "reason": d.Reason}
	if rec := d.Record; rec != nil {
		after["pool_sha256"], after["roster_sha256"] = rec.PoolSHA256, rec.RosterSHA256
		after["selections"], after["seed_commitment"] = len(rec.Selections), rec.SeedCommitment
	}
	return s.Audit.Record(ctx, "draw.create", "draw", d.ID, nil, after)
}

// newestDraw is the draw with the highest sequence number, nil for none.
func newestDraw(ds []*backend.Draw) *backend.Draw {
	var last *backend.Draw
	for _, d := range ds {
		if last == nil || d.Seq > last.Seq {
			last = d
		}
	}
	return last
}

// markDrawn points the plan at its newest draw. The draw is already stored
// (the unique index made it so), so a version conflict here is only
// bookkeeping: reload and set it again.
func (s *Service) markDrawn(ctx context.Context, p *backend.Plan, d *backend.Draw) error {
	for range 5 {
		if p.DrawCount >= d.Seq {
			return nil
		}
		p.Status, p.CurrentDrawID, p.DrawCount, p.UpdatedAt = backend.PlanDrawn, d.ID, d.Seq, s.Now().UTC()
		err := s.Plans.UpdatePlan(ctx, p)
		if backend.ErrorCode(err) != backend.ECONFLICT {
			return err
		}
		if p, err = s.Plans.FindPlanByID(ctx, p.ID); err != nil {
			return err
		}
	}
	return backend.Errorf(backend.ECONFLICT, "the plan kept changing while recording its draw")
}

func (s *Service) lockTTL() time.Duration {
	if s.LockTTL > 0 {
		return s.LockTTL
	}
	return DefaultLockTTL
}

// inputs freezes what the draw is a function of: the pool (enterprises with
// this year's draw history, by the rules of art. 13 and 16), the roster of
// the plan's departments and the group specification from its items.
func (s *Service) inputs(ctx context.Context, p *backend.Plan) (drawv1.Inputs, error) {
	candidates, usccByID, err := s.candidates(ctx, p)
	if err != nil {
		return drawv1.Inputs{}, err
	}

	departments := append([]string{p.LeadDepartmentID}, p.JointDepartmentIDs...)
	roster, _, err := s.Inspectors.FindInspectors(ctx, backend.InspectorFilter{})
	if err != nil {
		return drawv1.Inputs{}, err
	}
	var officers []drawv1.Officer
	for _, in := range roster {
		if !slices.Contains(departments, in.DepartmentID) {
			continue
		}
		var conflicts []string
		for _, c := range in.Conflicts {
			if u, ok := usccByID[c.EnterpriseID]; ok {
				conflicts = append(conflicts, u)
			}
		}
		officers = append(officers, drawv1.Officer{
			BadgeNo: in.BadgeNo, Department: in.DepartmentID, Qualifications: in.Qualifications,
			Active: in.Active, CertificateExpires: string(in.CertificateExpires), Conflicts: conflicts,
		})
	}

	var required []string
	for _, id := range p.ItemIDs {
		it, err := s.Items.FindItemByID(ctx, id)
		if err != nil {
			return drawv1.Inputs{}, err
		}
		if it.Qualification != "" && !slices.Contains(required, it.Qualification) {
			required = append(required, it.Qualification)
		}
	}
	shares := []drawv1.Share{{Department: p.LeadDepartmentID, Members: p.GroupSize}}
	for _, j := range p.JointDepartmentIDs {
		shares = append(shares, drawv1.Share{Department: j, Members: p.JointMembers})
	}
	filter := drawv1.Filter{Towns: p.Filter.Towns, Industries: p.Filter.Industries, Categories: p.Filter.Categories, Flags: p.Filter.Flags}
	return drawv1.Inputs{
		Kind: p.Kind, Size: drawv1.Size{Ratio: p.Sample.Ratio, Count: p.Sample.Count}, Filter: filter,
		Groups: drawv1.GroupSpec{Shares: shares, Required: required, ValidThrough: p.WindowEnd},
		Pool:   drawv1.BuildPool(candidates, filter, p.Kind == backend.PlanCoverage), Roster: officers,
	}, nil
}

// drawHistory is an enterprise's random draws so far this year.
type drawHistory struct {
	count     int
	lastGroup []string
}

// history counts each enterprise's selections in the draws in force of the
// plan's year, other than this plan's own (a redraw replaces them).
func (s *Service) history(ctx context.Context, p *backend.Plan) (map[string]drawHistory, error) {
	draws, err := s.Draws.FindDrawsInForce(ctx, p.Year)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(draws, func(a, b *backend.Draw) int { return a.CreatedAt.Compare(b.CreatedAt) })
	out := map[string]drawHistory{}
	for _, d := range draws {
		if d.PlanID == p.ID {
			continue
		}
		for _, sel := range d.Record.Selections {
			h := out[sel.USCC]
			h.count++
			h.lastGroup = sel.Group
			out[sel.USCC] = h
		}
	}
	return out, nil
}
