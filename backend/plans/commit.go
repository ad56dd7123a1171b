package plans

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"suiji/backend"
	"suiji/backend/draw"
	"suiji/backend/seal"
)

// Bounds of the texts an attempt carries.
const (
	MaxEntropySource = 200  // characters of the entropy source named at commit
	MaxEntropyValue  = 500  // characters of its value given at the attempt
	MaxReason        = 1000 // characters of a redraw's reason
)

// snapshotChunk is how many candidates or inspectors one stored chunk of a
// frozen list holds: a 100,000-enterprise pool would not fit one document.
const snapshotChunk = 2000

// CommitSeed commits the plan's next attempt (SPEC.md §3, §6.4): it freezes
// the pool (the plan's filter, the pool rules, this year's history) and the
// roster, checks without any seed that groups can be formed for them
// (draw.Check), stores them once under their hashes, and makes a fresh
// 256-bit sealed seed, stored encrypted. It publishes the seed's SHA-256
// with the entropy source (e.g. "福彩3D 2026-03-05 开奖号码", whose value
// nobody knows yet; "" for none) and the hashes — before the attempt, so
// that nobody can choose the seed, the entropy or the pool after seeing
// what they draw. An attempt after the first needs a leader's approval
// first (ApproveRedraw). A pending commitment is replaced only when the
// directory or roster changed what it froze. A commit a crash cut short
// after storing its seed is finished by the repeat, which publishes that
// seed (publish).
//
// EFORBIDDEN unless the coordinator or the lead department's staff;
// ECONFLICT when the plan is not approved or drawn, an approval is
// missing, a commitment is pending, or another commit or draw of the plan
// runs (or, for longer than yearLeaseWait, of another plan of its year:
// try again shortly); EINVALID when the pool cannot be drawn or grouped (the message and
// fields say why; enterprises no group can inspect are named — no seed is
// involved yet); EUNAVAILABLE when Redis is down.
func (s *Service) CommitSeed(ctx context.Context, id, entropySource string) (*backend.Plan, error) {
	source, err := cleanText("entropy_source", entropySource, MaxEntropySource)
	if err != nil {
		return nil, err
	}
	p, err := s.runnable(ctx, id, "commit a plan's seed")
	if err != nil {
		return nil, err
	}
	work, stop, err := s.hold(ctx, p.ID, p.Year)
	if err != nil {
		return nil, err
	}
	defer stop()
	p, err = s.committable(work, p.ID)
	if err != nil {
		return nil, s.leaseErr(work, err)
	}
	in, mark, err := s.freeze(work, p)
	if err != nil {
		return nil, s.leaseErr(work, err)
	}
	if err := drawable(in); err != nil {
		return nil, err
	}
	if err := s.keep(work, in); err != nil {
		return nil, s.leaseErr(work, err)
	}
	p, err = s.publish(work, p, in, mark, source)
	return p, s.leaseErr(work, err)
}

// committable reloads the plan under the lease and checks it may get a
// commitment for its next attempt.
func (s *Service) committable(ctx context.Context, id string) (*backend.Plan, error) {
	p, err := s.Plans.FindPlanByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := notItsApprover(ctx, p, "commit a plan's seed"); err != nil {
		return nil, err
	}
	seq := p.DrawCount + 1
	switch {
	case p.Status != backend.PlanApproved && p.Status != backend.PlanDrawn:
		return nil, backend.Errorf(backend.ECONFLICT, "a plan is committed and drawn after approval and before dispatch; this plan is %s", p.Status)
	case seq > 1 && (p.RedrawApproval == nil || p.RedrawApproval.Seq != seq):
		return nil, backend.Errorf(backend.ECONFLICT, "attempt %d needs a leader's approval with its reason first (POST /api/v1/plans/%s/redraw-approvals)", seq, p.ID)
	case p.Commitment != nil && p.Commitment.Seq == seq:
		_, err := s.thaw(ctx, p)
		if backend.ErrorCode(err) != backend.ECONFLICT {
			if err == nil {
				err = backend.Errorf(backend.ECONFLICT, "attempt %d is committed already (%s); draw it — a commitment is replaced only when the directory or roster changed what it froze", seq, p.Commitment.SeedCommitment)
			}
			return nil, err
		}
	}
	return p, nil
}

// drawable refuses, before any seed exists, inputs that cannot be drawn
// or grouped.
func drawable(in *draw.Inputs) error {
	k, err := in.SampleSize()
	if err != nil {
		return backend.InvalidFields(fmt.Sprintf("the plan cannot be drawn from its pool of %d: %v", in.Pool.Size(), err), map[string]string{"sample": err.Error()})
	}
	if k == 0 {
		return backend.InvalidFields("the plan's pool is empty: nothing to draw", map[string]string{"filter": "no enterprise meets the filter and the pool rules"})
	}
	var fe *draw.FeasibilityError
	if err := draw.Check(in); errors.As(err, &fe) {
		fields := map[string]string{"groups": fe.Group.Reason()}
		if len(fe.Ungroupable) > 0 {
			fields["enterprises"] = strings.Join(fe.Ungroupable, ",")
		}
		return backend.InvalidFields("no inspector groups can be formed for this pool: "+fe.Error(), fields)
	} else if err != nil {
		return backend.Wrap(err, backend.EINVALID, "the plan cannot be drawn: %v", err)
	}
	return nil
}

// keep stores the frozen pool and roster under their hashes (once: a
// commitment of an unchanged pool reuses them).
func (s *Service) keep(ctx context.Context, in *draw.Inputs) error {
	for _, part := range []struct {
		kind, sha string
		list      draw.Lists
	}{
		{backend.SnapshotPool, in.Pool.SHA256, draw.ChunkList(in.Pool.Candidates, snapshotChunk)},
		{backend.SnapshotRoster, draw.RosterHash(in.Roster), draw.ChunkList(in.Roster, snapshotChunk)},
	} {
		var chunks [][]byte
		if err := part.list(func(c []byte) error { chunks = append(chunks, c); return nil }); err != nil {
			return backend.Wrap(err, backend.EINTERNAL, "encoding the %s snapshot", part.kind)
		}
		if err := s.Draws.PutSnapshot(ctx, part.kind, part.sha, chunks); err != nil {
			return err
		}
	}
	return nil
}

// publish makes the attempt's sealed seed, stores it encrypted and records
// the commitment on the plan.
//
// The commitment's one audit event (plan.commit) travels with both
// writes: it is written ahead, and the seed and the plan bear its mark (a
// bulk change; backend.Auditor.Change), so a crash between them cannot
// leave a stored seed unaudited. A repeat of a commit a crash cut short
// finds that seed stored and not published (sealedSeed) and publishes
// it, so it makes the same change, named by the same Key, and the chain
// holds its event once; a repeat that freezes something else (the
// directory changed meanwhile, another entropy source) is a change, and
// an event, of its own.
func (s *Service) publish(ctx context.Context, p *backend.Plan, in *draw.Inputs, mark time.Time, source string) (*backend.Plan, error) {
	seq := p.DrawCount + 1
	seed, sealed, err := s.sealedSeed(ctx, p, seq)
	if err != nil {
		return nil, err
	}
	// The history freeze read is the year's until committed_at only while
	// the year's lease is still ours (yearLease).
	if err := fence(ctx); err != nil {
		return nil, err
	}
	now := s.Now().UTC()
	k, _ := in.SampleSize()
	before := planDigest(p)
	p.Commitment = &backend.PlanCommitment{
		Seq: seq, SeedCommitment: seed.Commitment(), EntropySource: source, PoolSHA256: in.Pool.SHA256,
		RosterSHA256: draw.RosterHash(in.Roster), Required: in.Groups.Required, Considered: len(in.Pool.Candidates), DirectoryMark: mark,
		PoolSize: in.Pool.Size(), SampleSize: k, CommittedAt: now, CommittedBy: backend.ActorFromContext(ctx).UserID,
	}
	p.SeedCommitment, p.UpdatedAt = p.Commitment.SeedCommitment, now
	after := planDigest(p)
	key, err := json.Marshal(after) // the commitment as published: plan, attempt, seed, entropy source, pool and roster
	if err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "naming the commitment")
	}
	err = s.Audit.Change(ctx, backend.AuditChange{Action: "plan.commit", ObjectType: "plan", ObjectID: p.ID, Before: before, After: after,
		Bulk: true, Key: "plan.commit\x00" + string(key),
	}, func(wctx context.Context) error {
		if err := s.Plans.StoreSeed(wctx, p.ID, seq, sealed, now); err != nil {
			return err
		}
		return s.Plans.UpdatePlan(wctx, p)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// sealedSeed is the seed of attempt seq, sealed: the one a commit cut
// short by a crash stored without publishing it (the plan's commitment
// does not name it), or else a fresh one — a commitment replaced because
// the directory or roster changed gets a new seed.
func (s *Service) sealedSeed(ctx context.Context, p *backend.Plan, seq int) (draw.SealedSeed, []byte, error) {
	box, err := seal.New(s.SeedKey)
	if err != nil {
		return "", nil, err
	}
	stored, err := s.Plans.LoadSeed(ctx, p.ID, seq)
	switch {
	case err == nil:
		seed, err := box.Open(p.ID, seq, stored)
		published := p.Commitment != nil && p.Commitment.Seq == seq && p.Commitment.SeedCommitment == seed.Commitment()
		if err == nil && !published {
			return seed, stored, nil
		}
	case backend.ErrorCode(err) != backend.ENOTFOUND:
		return "", nil, err
	}
	seed, err := draw.NewSealedSeed(s.Rand)
	if err != nil {
		return "", nil, backend.Wrap(err, backend.EINTERNAL, "no randomness for the seed")
	}
	sealed, err := box.Seal(s.Rand, p.ID, seq, seed)
	if err != nil {
		return "", nil, err
	}
	return seed, sealed, nil
}

// thaw rebuilds the inputs a commitment froze from their snapshots, after
// checking that the directory and the roster still give them: ECONFLICT
// when an enterprise the plan considers was added or changed since the
// commitment, or the roster of its departments changed.
func (s *Service) thaw(ctx context.Context, p *backend.Plan) (*draw.Inputs, error) {
	c := p.Commitment
	changed, err := s.poolChanged(ctx, p, c.DirectoryMark, c.Considered)
	if err != nil {
		return nil, err
	}
	if changed {
		return nil, backend.Errorf(backend.ECONFLICT, "the directory changed the plan's pool since the commitment of %s; commit again", c.CommittedAt.Format("2006-01-02 15:04"))
	}
	candidates, err := loadSnapshot[draw.Candidate](ctx, s.Draws, backend.SnapshotPool, c.PoolSHA256)
	if err != nil {
		return nil, err
	}
	frozen, err := loadSnapshot[draw.Officer](ctx, s.Draws, backend.SnapshotRoster, c.RosterSHA256)
	if err != nil {
		return nil, err
	}
	spec := draw.GroupSpec{Shares: []draw.Share{{Department: p.LeadDepartmentID, Members: p.GroupSize}}, Required: c.Required, ValidThrough: p.WindowEnd}
	for _, j := range p.JointDepartmentIDs {
		spec.Shares = append(spec.Shares, draw.Share{Department: j, Members: p.JointMembers})
	}
	in, err := draw.NewInputs(p.Kind, drawSize(p), drawFilter(p.Filter), spec, candidates, frozen)
	if err != nil || in.Pool.SHA256 != c.PoolSHA256 || draw.RosterHash(in.Roster) != c.RosterSHA256 {
		return nil, backend.Errorf(backend.EINTERNAL, "the snapshots of the commitment do not match its hashes (%v)", err)
	}
	// The roster now, with the last inspections as frozen (history is
	// counted at the commitment), must be the roster frozen.
	considered := make(map[string]bool, len(candidates))
	for _, e := range candidates {
		considered[e.USCC] = true
	}
	lastInspected := map[string][]string{}
	for _, o := range frozen {
		lastInspected[o.BadgeNo] = o.LastInspected
	}
	now, err := s.officers(ctx, p, s.usccsOf, considered, lastInspected)
	if err != nil {
		return nil, err
	}
	if draw.RosterHash(draw.NormaliseRoster(now, spec)) != c.RosterSHA256 {
		return nil, backend.Errorf(backend.ECONFLICT, "the roster of the plan's departments changed since the commitment of %s; commit again", c.CommittedAt.Format("2006-01-02 15:04"))
	}
	return in, nil
}

// usccsOf names enterprises by id in one query; ids no longer in the
// directory are left out.
func (s *Service) usccsOf(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	es, err := s.Enterprises.FindEnterprisesByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		out[e.ID] = e.USCC
	}
	return out, nil
}

// loadSnapshot reads a frozen list back.
func loadSnapshot[T any](ctx context.Context, store backend.DrawStore, kind, sha string) ([]T, error) {
	var out []T
	err := store.ScanSnapshot(ctx, kind, sha, func(chunk []byte) error {
		var part []T
		if err := json.Unmarshal(chunk, &part); err != nil {
			return backend.Wrap(err, backend.EINTERNAL, "%s snapshot %s is corrupt", kind, sha)
		}
		out = append(out, part...)
		return nil
	})
	return out, err
}

// ApproveRedraw is a leader's approval, with its reason, of the plan's next
// attempt when it is not the first (art. 5; SPEC.md §10): after a draw that
// must be redone, or an attempt that failed. The reason is published with
// the attempt's record. EINVALID without a reason; ECONFLICT when the
// plan has no attempt yet, is dispatched or closed, or the next attempt is
// approved already; EFORBIDDEN for whoever drew the plan's last attempt or
// its draw in force (notItsDrawer).
func (s *Service) ApproveRedraw(ctx context.Context, id, reason string) (*backend.Plan, error) {
	reason, err := cleanText("reason", reason, MaxReason)
	if err != nil {
		return nil, err
	}
	if reason == "" {
		return nil, backend.InvalidFields("a redraw needs a reason", map[string]string{"reason": "required"})
	}
	p, err := s.GetPlan(ctx, id)
	if err != nil {
		return nil, err
	}
	seq := p.DrawCount + 1
	switch {
	case p.Status != backend.PlanApproved && p.Status != backend.PlanDrawn:
		return nil, backend.Errorf(backend.ECONFLICT, "only a plan not yet dispatched is redrawn; this plan is %s", p.Status)
	case p.DrawCount == 0:
		return nil, backend.Errorf(backend.ECONFLICT, "the plan has no attempt yet: its approval covers the first")
	case p.RedrawApproval != nil && p.RedrawApproval.Seq == seq:
		return nil, backend.Errorf(backend.ECONFLICT, "attempt %d is approved already", seq)
	}
	if err := s.notItsDrawer(ctx, p); err != nil {
		return nil, err
	}
	before := planDigest(p)
	now := s.Now().UTC()
	p.RedrawApproval = &backend.RedrawApproval{Seq: seq, Reason: reason, ApprovedBy: backend.ActorFromContext(ctx).UserID, ApprovedAt: now}
	p.UpdatedAt = now
	if err := s.update(ctx, "plan.approve_redraw", p, before); err != nil {
		return nil, err
	}
	return p, nil
}

// notItsDrawer refuses the approval of a redraw to whoever committed or
// drew what it would replace — the plan's last attempt, or its draw in
// force: a leader who also holds an office role could otherwise commit
// or draw, dislike the outcome, approve the redraw and have a colleague
// run it, and the two-person rule (notItsApprover) would be nominal. As
// DecideReplacement bars a replacement's committer from deciding it. An
// attempt stored before it kept its committer (backend.Draw.CommittedBy
// "") is judged by its drawer alone.
func (s *Service) notItsDrawer(ctx context.Context, p *backend.Plan) error {
	me := backend.ActorFromContext(ctx).UserID
	attempts, err := s.Draws.FindDrawsByPlan(ctx, p.ID)
	if err != nil {
		return err
	}
	for _, d := range attempts {
		if d.Seq != p.DrawCount && d.ID != p.CurrentDrawID {
			continue
		}
		if d.CreatedBy == me || d.CommittedBy == me {
			return backend.Errorf(backend.EFORBIDDEN, "whoever committed or drew attempt %d does not approve a redraw of the plan; another leader does", d.Seq)
		}
	}
	return nil
}

// cleanText trims a one-line text and bounds it. EINVALID naming field.
func cleanText(field, text string, most int) (string, error) {
	text = strings.TrimSpace(text)
	if n := utf8.RuneCountInString(text); n > most {
		return "", backend.InvalidFields("too long", map[string]string{field: fmt.Sprintf("at most %d characters", most)})
	}
	if strings.ContainsFunc(text, unicode.IsControl) {
		return "", backend.InvalidFields("control characters", map[string]string{field: "one line of text"})
	}
	return text, nil
}
