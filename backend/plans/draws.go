package plans

import (
	"context"
	"errors"
	"fmt"
	"time"

	"suiji/backend"
	"suiji/backend/draw"
	"suiji/backend/seal"
)

// Draw runs the plan's committed attempt (SPEC.md): the public entropy's
// value (exactly when the commitment named a source) is mixed into the
// sealed seed, and enterprises and a group of inspectors for each are drawn
// from the inputs frozen at commit. A successful attempt supersedes the
// plan's previous one (which stays visible) and reveals its seed; an
// attempt whose draw cannot form groups is stored as failed, with its
// reason in aggregate terms, and reveals nothing. Either way it uses up its
// sequence number and its commitment.
//
// ECONFLICT when no commitment is pending, the directory or roster changed
// what it froze (commit again), another commit or draw of the plan runs
// (or, for longer than yearLeaseWait, of another plan of its year: try
// again shortly), or the lease was lost; EUNAVAILABLE when Redis is down
// — in these cases nothing is stored; EINVALID when the entropy does not match the
// commitment; EFORBIDDEN unless the coordinator or the lead department's
// staff.
func (s *Service) Draw(ctx context.Context, planID, entropy string) (*backend.Draw, error) {
	entropy, err := cleanText("public_entropy", entropy, MaxEntropyValue)
	if err != nil {
		return nil, err
	}
	p, err := s.runnable(ctx, planID, "draw a plan")
	if err != nil {
		return nil, err
	}
	work, stop, err := s.hold(ctx, p.ID, p.Year)
	if err != nil {
		return nil, err
	}
	defer stop()
	d, err := s.attempt(work, p.ID, entropy)
	return d, s.leaseErr(work, err)
}

// attempt is the draw's work under the lease, step by step.
func (s *Service) attempt(ctx context.Context, planID, entropy string) (*backend.Draw, error) {
	p, stored, err := s.pending(ctx, planID, entropy)
	if err != nil || stored != nil {
		return stored, err
	}
	in, err := s.thaw(ctx, p)
	if err != nil {
		return nil, err
	}
	seed, err := s.unseal(ctx, p)
	if err != nil {
		return nil, err
	}
	d, err := s.run(ctx, p, in, seed, entropy)
	if err != nil {
		return nil, err
	}
	if err := s.store(ctx, p, d); err != nil {
		return nil, err
	}
	return d, nil
}

// runnable is the plan if the actor may commit and draw it.
func (s *Service) runnable(ctx context.Context, id, what string) (*backend.Plan, error) {
	p, err := s.GetPlan(ctx, id)
	if err != nil {
		return nil, err
	}
	if !mayRun(backend.ActorFromContext(ctx), p) {
		return nil, backend.Errorf(backend.EFORBIDDEN, "only the coordinator or the lead department's staff %s", what)
	}
	if err := notItsApprover(ctx, p, what); err != nil {
		return nil, err
	}
	return p, nil
}

// notItsApprover refuses the one who approved the plan's next attempt (a
// leader who may also hold an office role) to commit or draw it: a
// redraw takes two people, so nobody alone can redraw until an outcome
// suits them. It is asked before the lease and again under it, where an
// approval given meanwhile is seen.
func notItsApprover(ctx context.Context, p *backend.Plan, what string) error {
	if a := p.RedrawApproval; a != nil && a.Seq == p.DrawCount+1 && a.ApprovedBy == backend.ActorFromContext(ctx).UserID {
		return backend.Errorf(backend.EFORBIDDEN, "the leader who approved attempt %d does not %s: another person of the office does", a.Seq, what)
	}
	return nil
}

// hold takes the plan's lease, then its year's (yearLease), and keeps
// both alive while the work runs: the returned context ends as soon as an
// extension of either fails. stop releases them. The order is fixed —
// plan, then year — so that two holders never wait on each other.
func (s *Service) hold(ctx context.Context, planID string, year int) (context.Context, func(), error) {
	plan, err := s.Locks.Acquire(ctx, "draw:"+planID, s.lockTTL())
	if err != nil {
		return nil, nil, err
	}
	work, keepPlan := backend.KeepAlive(ctx, plan, s.lockTTL()/3)
	release := func() {
		_ = keepPlan()
		_ = plan.Release(context.WithoutCancel(ctx))
	}
	// The plan's lease is kept alive while we wait for the year's.
	yearly, err := s.yearLease(work, year)
	if err != nil {
		err = s.leaseErr(work, err)
		release()
		return nil, nil, err
	}
	work, keepYear := backend.KeepAlive(work, yearly, s.lockTTL()/3)
	return withLeases(work, plan, yearly), func() {
		_ = keepYear()
		_ = yearly.Release(context.WithoutCancel(ctx))
		release()
	}, nil
}

// yearLeaseWait is how long a commit or draw waits for another plan of
// its year to finish before it is refused (ECONFLICT, try again shortly):
// most of a request's 30 s, since a commit of a city's pool takes seconds
// and the console does not repeat a refused one by itself.
var yearLeaseWait = 20 * time.Second

// yearLease takes the lease of a year's draw history, waiting up to
// yearLeaseWait for its holder.
//
// Why: a commitment's pool counts the draws of the year's other plans in
// force at its committed_at (SPEC.md §6.3), and verifiers recompute
// exactly that set from the published records. freeze reads the history
// when the commit starts and committed_at is set when it ends; a draw sets
// drawn_at before it stores the attempt. A plan's own lease does not keep
// another plan of the year from drawing in between — its attempt would be
// drawn before the commitment yet missing from its pool, and the honest
// record would fail verification (or a twice-drawn enterprise escape the
// cap of art. 16). So every commit and draw of a year holds this lease
// across those steps: the draws stored before a committed_at are then
// exactly those the commit read. A lease rather than another fence,
// because the history is a set of documents that no single-document write
// can guard; it serialises only the commits and draws of one year, which
// are few and short. The pool preview reads the history without it: it
// stores nothing.
func (s *Service) yearLease(ctx context.Context, year int) (backend.Lease, error) {
	lease, err := backend.AcquireWaiting(ctx, s.Locks, fmt.Sprintf("draw-year:%d", year), s.lockTTL(), yearLeaseWait)
	if errors.Is(err, backend.ErrLeaseHeld) {
		return nil, backend.Wrap(backend.ErrLeaseHeld, backend.ECONFLICT,
			"another plan of %d is being committed or drawn: the plans of a year are committed and drawn one at a time, as each commitment counts the year's draws before it; try again shortly", year)
	}
	return lease, err
}

type leaseKey struct{}

func withLeases(ctx context.Context, l ...backend.Lease) context.Context {
	return context.WithValue(ctx, leaseKey{}, l)
}

// fence is checked just before a commit's or a draw's writes: they are
// made only while the leases are still ours — if Redis went away or a
// lease expired, another instance may be committing or drawing this plan,
// or another plan of the year.
func fence(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	leases, _ := ctx.Value(leaseKey{}).([]backend.Lease)
	for _, l := range leases {
		if err := l.Extend(ctx); err != nil {
			return err
		}
	}
	return nil
}

// leaseErr prefers the lease's failure to the error it caused (a store
// call cut short by the cancelled context).
func (s *Service) leaseErr(work context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cause := context.Cause(work); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		return cause
	}
	return err
}

func (s *Service) lockTTL() time.Duration {
	if s.LockTTL > 0 {
		return s.LockTTL
	}
	return DefaultLockTTL
}

// pending reloads the plan under the lease and checks its commitment
// awaits this attempt, with the entropy it fixed. An instance that died
// after storing the attempt and before recording it on the plan (kill -9,
// a lost connection) leaves the attempt stored: the retry — the same
// request — finishes the bookkeeping and returns that attempt.
func (s *Service) pending(ctx context.Context, id, entropy string) (*backend.Plan, *backend.Draw, error) {
	p, err := s.Plans.FindPlanByID(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	c := p.Commitment
	switch {
	case p.Status != backend.PlanApproved && p.Status != backend.PlanDrawn:
		return nil, nil, backend.Errorf(backend.ECONFLICT, "a plan is drawn after approval and before dispatch; this plan is %s", p.Status)
	case c == nil || c.Seq != p.DrawCount+1:
		return nil, nil, backend.Errorf(backend.ECONFLICT, "commit first (POST /api/v1/plans/%s/commit): every attempt needs its own commitment, published before it", p.ID)
	}
	if err := notItsApprover(ctx, p, "draw it"); err != nil {
		return nil, nil, err
	}
	if d, err := s.Draws.FindDrawByID(ctx, drawID(p.ID, c.Seq)); err == nil {
		return nil, d, s.markAttempt(ctx, p, d, nil)
	} else if backend.ErrorCode(err) != backend.ENOTFOUND {
		return nil, nil, err
	}
	switch {
	case c.EntropySource != "" && entropy == "":
		return nil, nil, backend.InvalidFields("the commitment fixed a source of public entropy", map[string]string{"public_entropy": "the value of " + c.EntropySource})
	case c.EntropySource == "" && entropy != "":
		return nil, nil, backend.InvalidFields("the commitment fixed no source of public entropy", map[string]string{"public_entropy": "none: it can only be named at commit"})
	}
	return p, nil, nil
}

func drawID(planID string, seq int) string { return fmt.Sprintf("%s-%d", planID, seq) }

// unseal opens the attempt's sealed seed.
func (s *Service) unseal(ctx context.Context, p *backend.Plan) (draw.SealedSeed, error) {
	box, err := seal.New(s.SeedKey)
	if err != nil {
		return "", err
	}
	sealed, err := s.Plans.LoadSeed(ctx, p.ID, p.Commitment.Seq)
	if err != nil {
		return "", err
	}
	seed, err := box.Open(p.ID, p.Commitment.Seq, sealed)
	if err != nil {
		return "", err
	}
	if seed.Commitment() != p.Commitment.SeedCommitment {
		return "", backend.Errorf(backend.EINTERNAL, "the stored seed of attempt %d does not match its commitment", p.Commitment.Seq)
	}
	return seed, nil
}

// run draws (package draw) and makes the attempt's record.
func (s *Service) run(ctx context.Context, p *backend.Plan, in *draw.Inputs, seed draw.SealedSeed, entropy string) (*backend.Draw, error) {
	c, actor, now := p.Commitment, backend.ActorFromContext(ctx), s.Now().UTC()
	a := draw.Attempt{
		ID: drawID(p.ID, c.Seq), PlanID: p.ID, Seq: c.Seq, Year: p.Year,
		CommittedAt: c.CommittedAt.UTC().Format(time.RFC3339Nano), DrawnAt: now.Format(time.RFC3339Nano),
		SeedCommitment: c.SeedCommitment, EntropySource: c.EntropySource, PublicEntropy: entropy, Seed: seed,
	}
	if r := p.RedrawApproval; r != nil && r.Seq == c.Seq {
		a.Reason = r.Reason
	}
	rec, err := draw.NewRecord(a, in)
	if err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "the plan cannot be drawn: %v", err)
	}
	rec.Candidates, rec.Roster = nil, nil // kept as the commitment's snapshots
	return &backend.Draw{
		ID: a.ID, PlanID: p.ID, Seq: c.Seq, Year: p.Year, Reason: a.Reason,
		CreatedBy: actor.UserID, CreatedName: actor.Username, CreatedAt: now, CommittedBy: c.CommittedBy, Record: rec,
	}, nil
}

// store writes the attempt — only while the leases are still ours (fence)
// — and records it on the plan. The unique (plan, seq) index is the last
// word.
func (s *Service) store(ctx context.Context, p *backend.Plan, d *backend.Draw) error {
	if err := fence(ctx); err != nil {
		return err
	}
	return s.markAttempt(ctx, p, d, func(ctx context.Context) error { return s.Draws.InsertDraw(ctx, d) })
}

// markAttempt records an attempt on its plan — its sequence number and
// commitment used up, and, when it drew, the plan drawn with it in force —
// after storing it with insert (nil when it is stored already).
//
// The attempt's one audit event (plan.draw, or plan.draw_failed) travels
// with both writes: it is written ahead, and the draw and the plan bear
// its mark (a bulk change; backend.Auditor.Change), so a crash between
// them cannot leave a stored attempt unaudited. Its ID comes from the
// draw (Key), so the retry that finishes the bookkeeping (pending) stages
// the same event and the chain holds it once. The attempt is stored
// before the plan (the unique index made it so), so a version conflict on
// the plan is only bookkeeping: reload and set it again.
func (s *Service) markAttempt(ctx context.Context, p *backend.Plan, d *backend.Draw, insert func(context.Context) error) error {
	if p.DrawCount >= d.Seq {
		return nil
	}
	before := planDigest(p)
	after := *p
	s.used(&after, d)
	action := "plan.draw"
	if !d.Drawn() {
		action = "plan.draw_failed"
	}
	return s.Audit.Change(ctx, backend.AuditChange{Action: action, ObjectType: "plan", ObjectID: p.ID, Before: before, After: planDigest(&after),
		Bulk: true, Key: "plan.draw\x00" + d.ID,
	}, func(wctx context.Context) error {
		if insert != nil {
			if err := insert(wctx); err != nil {
				return err
			}
		}
		for range 5 {
			s.used(p, d)
			err := s.Plans.UpdatePlan(wctx, p)
			if backend.ErrorCode(err) != backend.ECONFLICT {
				return err
			}
			if p, err = s.Plans.FindPlanByID(ctx, p.ID); err != nil {
				return err
			}
			if p.DrawCount >= d.Seq {
				return nil
			}
			// What changed it may have moved the plan on: a dispatch of
			// the draw in force (this attempt's lease was lost meanwhile)
			// must not be undone by putting this one in force.
			if p.Status != backend.PlanApproved && p.Status != backend.PlanDrawn {
				return backend.Errorf(backend.ECONFLICT, "the plan became %s while attempt %d was being recorded; the attempt is stored, and the plan keeps the draw it was dispatched with", p.Status, d.Seq)
			}
		}
		return backend.Errorf(backend.ECONFLICT, "the plan kept changing while recording its attempt")
	})
}

// used records attempt d on plan p.
func (s *Service) used(p *backend.Plan, d *backend.Draw) {
	p.DrawCount, p.UpdatedAt = d.Seq, s.Now().UTC()
	if p.Commitment != nil && p.Commitment.Seq <= d.Seq {
		p.Commitment, p.SeedCommitment = nil, ""
	}
	if p.RedrawApproval != nil && p.RedrawApproval.Seq <= d.Seq {
		p.RedrawApproval = nil
	}
	if d.Drawn() {
		p.Status, p.CurrentDrawID = backend.PlanDrawn, d.ID
	}
}
