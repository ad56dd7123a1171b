package tasks

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"suiji/backend"
	"suiji/backend/draw"
	"suiji/backend/seal"
)

// Replacement after dispatch (回避, illness, a conflict found late): the
// member going out is replaced at random from those still eligible, never
// by hand, in two steps like every random choice in suiji. The commit
// (CommitReplacement) freezes the roster of the plan's departments, fixes
// the source of any public entropy, checks that someone is eligible (no
// seed is involved yet: refusing reveals nothing) and publishes the SHA-256
// of a fresh sealed seed — the draw's revealed seed is known to everyone,
// so it must not decide a later choice. The draw (DrawReplacement) mixes
// in the entropy's value, picks the member (draw.NewReplacement) and
// publishes the record, which `suiji verify-draw` re-computes; the task's
// group changes and everyone concerned is told. The record, the
// replacement marked drawn and the task's new group are one audited change
// (task.replace), whose event each of the three writes carries.
//
// Between the two a leader decides (DecideReplacement), as for a plan's
// redraw: one who did not commit it approves it — only then is it drawn,
// by someone other than that leader — or rejects it with a comment, after
// which it is never drawn and another may be committed. So two people
// take part in every replacement, and nobody alone can replace a member,
// then the one coming in, and so on until the group suits them. The
// leaders are told when a commitment waits for them, and whoever
// committed it when a leader decides it (the leaders' entries asking for
// a decision are then marked read).

// Limits of a replacement's texts.
const (
	MaxReplacementReason = 1000
	MaxEntropySource     = 200
	MaxEntropyValue      = 500
	MaxDecisionComment   = 1000
)

// A leader's decisions on a committed replacement (DecideReplacement).
const (
	DecisionApprove = "approve"
	DecisionReject  = "reject"
)

// replacementLockTTL bounds a replacement draw's hold on its draw's lease.
const replacementLockTTL = 30 * time.Second

// CommitReplacement commits the replacement of the member with badge out
// of a dispatched random task, with the reason and, optionally, the source
// of the public entropy its draw will mix in. ENOTFOUND; EFORBIDDEN unless
// the coordinator or the lead department's staff; EINVALID (no reason, not
// a member, not a drawn task); ECONFLICT when the task is completed or
// cancelled, a replacement of it is committed and neither drawn nor
// rejected yet, or nobody is eligible. The leaders (enabled users holding
// the leader role, but the committer) are told that it waits for their
// approval; a refused repeat tells them again.
func (s *Service) CommitReplacement(ctx context.Context, taskID, out, reason, entropySource string) (*backend.TaskReplacement, error) {
	reason, entropySource = strings.TrimSpace(reason), strings.TrimSpace(entropySource)
	fields := map[string]string{}
	if n := utf8.RuneCountInString(reason); n == 0 || n > MaxReplacementReason {
		fields["reason"] = fmt.Sprintf("required (回避, illness …), at most %d characters", MaxReplacementReason)
	}
	if utf8.RuneCountInString(entropySource) > MaxEntropySource {
		fields["entropy_source"] = fmt.Sprintf("at most %d characters", MaxEntropySource)
	}
	if len(fields) > 0 {
		return nil, backend.InvalidFields("invalid replacement", fields)
	}
	t, err := s.manageable(ctx, taskID)
	if err != nil {
		return nil, err
	}
	// One commitment at a time per draw, under the lease its draws take:
	// two racing would both find none pending, and the second could never
	// be drawn once the first took its member out — nor could any after it.
	lease, err := s.Locks.Acquire(ctx, "replace:"+t.DrawID, replacementLockTTL)
	if err != nil {
		return nil, err
	}
	defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
	if t, err = s.manageable(ctx, taskID); err != nil { // as it is now, under the lease
		return nil, err
	}
	out = backend.NormalizeBadgeNo(out)
	if !slices.ContainsFunc(t.Members, func(m backend.TaskMember) bool { return m.Active() && m.BadgeNo == out }) {
		return nil, backend.InvalidFields("not a member", map[string]string{"badge_no": "not a member of the task's group"})
	}
	previous, err := s.Replacements.FindReplacementsByTask(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(previous, (*backend.TaskReplacement).Pending); i >= 0 {
		pending := previous[i]
		if !pending.Approved() {
			// A repeat after a crash between the commitment and telling
			// the leaders tells them (the entries have fixed ids, so only
			// what is missing is written).
			if err := s.tellLeaders(ctx, t, pending); err != nil {
				return nil, err
			}
			return nil, backend.Errorf(backend.ECONFLICT, "a replacement of this task is committed and not drawn yet; a leader approves or rejects it first")
		}
		return nil, backend.Errorf(backend.ECONFLICT, "a replacement of this task is committed and not drawn yet; draw it first")
	}
	d, err := s.Draws.FindDrawByID(ctx, t.DrawID)
	if err != nil {
		return nil, err
	}
	roster, accounts, err := s.currentRoster(ctx, t, d)
	if err != nil {
		return nil, err
	}
	in, err := s.replacementInput(ctx, t, d, out, roster)
	if err != nil {
		return nil, err
	}
	eligible, err := in.Eligible()
	if err != nil {
		return nil, backend.Wrap(err, backend.EINVALID, "the group cannot be replaced: %v", err)
	}
	if len(eligible) == 0 {
		return nil, backend.Errorf(backend.ECONFLICT, "nobody of the department is eligible to replace %s (certified through %s, without a conflict, keeping the group's qualifications); nothing was recorded", out, in.ValidThrough)
	}

	id, err := randomID(s.Rand)
	if err != nil {
		return nil, err
	}
	seed, err := draw.NewSealedSeed(s.Rand)
	if err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "no randomness for the seed")
	}
	box, err := seal.New(s.SeedKey)
	if err != nil {
		return nil, err
	}
	sealed, err := box.Seal(s.Rand, "replacement:"+id, 0, seed)
	if err != nil {
		return nil, err
	}
	r := &backend.TaskReplacement{
		ID: id, TaskID: t.ID, DrawID: t.DrawID, PlanID: t.PlanID, USCC: t.Enterprise.USCC, Out: out, Reason: reason,
		EntropySource: entropySource, SeedCommitment: seed.Commitment(), SealedSeed: sealed, Roster: in.Roster, Accounts: accounts,
		RosterSHA256: draw.RosterHash(in.Roster), Eligible: len(eligible), EligibleBadges: eligible, State: backend.ReplacementCommitted,
		CommittedAt: s.Now().UTC().Truncate(time.Second), CommittedBy: backend.ActorFromContext(ctx).UserID,
	}
	// The commitment and its event in one write (the replacement's
	// document carries the event; backend.Auditor.Change). A retry after a
	// crash finds the commitment and is refused above, so it records no
	// second one.
	err = s.Audit.Change(ctx, backend.AuditChange{Action: "task.replacement_commit", ObjectType: "task", ObjectID: t.ID, After: map[string]any{
		"replacement_id": r.ID, "out": out, "reason": reason, "seed_commitment": r.SeedCommitment,
		"entropy_source": entropySource, "roster_sha256": r.RosterSHA256, "eligible": r.Eligible,
	}}, func(ctx context.Context) error { return s.Replacements.CreateReplacement(ctx, r) })
	if err != nil {
		return nil, err
	}
	if err := s.tellLeaders(ctx, t, r); err != nil {
		return nil, err
	}
	return r, nil
}

// tellLeaders tells every enabled user holding the leader role — not an
// admin by that alone, nor whoever committed r, who may not decide it —
// that the replacement r of t waits for their approval.
func (s *Service) tellLeaders(ctx context.Context, t *backend.Task, r *backend.TaskReplacement) error {
	users, _, err := s.Users.FindUsers(ctx, backend.UserFilter{Role: backend.RoleLeader})
	if err != nil {
		return err
	}
	var leaders []string
	for _, u := range users {
		if !u.Disabled && slices.Contains(u.Roles, backend.RoleLeader) && u.ID != r.CommittedBy {
			leaders = append(leaders, u.ID)
		}
	}
	if len(leaders) == 0 {
		return nil
	}
	notes := memberNotes(t, leaders, backend.NoteReplacementPending, pendingRound(r), "检查组成员替换待审批",
		fmt.Sprintf("%s · 拟替换 %s，原因：%s", t.Enterprise.Name, r.Out, r.Reason))
	for _, n := range notes {
		n.Data = map[string]string{"replacement_id": r.ID}
	}
	return s.Notifier.Notify(ctx, notes)
}

// pendingRound tells the leaders' replacement.pending entries of r apart
// from those of the task's other replacements (backend.NoteID): the
// entries tellLeaders writes and tellDecision marks read.
func pendingRound(r *backend.TaskReplacement) string {
	return "replace:" + r.ID
}

// tellDecision tells whoever committed the replacement r of t — when
// that user exists and is enabled — that a leader decided it (decision is
// DecisionApprove or DecisionReject; the comment is r's as stored), and
// marks every leader's replacement.pending entry of r read: it is
// decided, and another decision would be refused. A rejection also marks
// read the committer's entry of an approval it withdraws. The entries
// have fixed ids, one per decision (a rejection may withdraw an approval,
// and the committer hears of both), so a repeat writes only what is
// missing and marks read only what is unread. Marking read tells no live
// stream: an inbox's unread count is read again with the inbox.
func (s *Service) tellDecision(ctx context.Context, t *backend.Task, r *backend.TaskReplacement, decision string) error {
	if r.CommittedBy != "" {
		u, err := s.Users.FindUserByID(ctx, r.CommittedBy)
		switch {
		case backend.ErrorCode(err) == backend.ENOTFOUND:
		case err != nil:
			return err
		case !u.Disabled:
			title, body := "检查组成员替换已驳回", fmt.Sprintf("%s · 替换 %s：%s", t.Enterprise.Name, r.Out, r.DecisionComment)
			if decision == DecisionApprove {
				title, body = "检查组成员替换已批准", fmt.Sprintf("%s · 替换 %s：请抽取替换人员", t.Enterprise.Name, r.Out)
				if r.DecisionComment != "" {
					body = fmt.Sprintf("%s · 替换 %s：%s；请抽取替换人员", t.Enterprise.Name, r.Out, r.DecisionComment)
				}
			}
			notes := memberNotes(t, []string{u.ID}, backend.NoteReplacementDecided, pendingRound(r)+":"+decision, title, body)
			for _, n := range notes {
				n.Data = map[string]string{"replacement_id": r.ID, "decision": decision}
			}
			if err := s.Notifier.Notify(ctx, notes); err != nil {
				return err
			}
			// A rejection withdrawing an approval: the approval's entry
			// no longer asks for a draw (one would be refused).
			if decision == DecisionReject {
				id := backend.NoteID(backend.NoteReplacementDecided, t.ID, u.ID, pendingRound(r)+":"+DecisionApprove)
				if _, err := s.Inbox.MarkRead(ctx, u.ID, id, s.Now().UTC()); err != nil && backend.ErrorCode(err) != backend.ENOTFOUND {
					return err
				}
			}
		}
	}
	// Whoever holds the leader role now, enabled or not: tellLeaders told
	// those of them who held it, enabled, at the commitment (the others
	// have no entry: ENOTFOUND). One no longer a leader had theirs marked
	// read when the role went (accounts.Service.UpdateUser).
	users, _, err := s.Users.FindUsers(ctx, backend.UserFilter{Role: backend.RoleLeader})
	if err != nil {
		return err
	}
	now := s.Now().UTC()
	for _, u := range users {
		if !slices.Contains(u.Roles, backend.RoleLeader) || u.ID == r.CommittedBy {
			continue
		}
		id := backend.NoteID(backend.NoteReplacementPending, t.ID, u.ID, pendingRound(r))
		if _, err := s.Inbox.MarkRead(ctx, u.ID, id, now); err != nil && backend.ErrorCode(err) != backend.ENOTFOUND {
			return err
		}
	}
	return nil
}

// DecideReplacement records a leader's decision (DecisionApprove or
// DecisionReject, a rejection with its comment) on a committed
// replacement of a task the leader may see, under the lease its commit
// and draw take; the decision and its audit event
// (task.replacement_approve or task.replacement_reject) are one write.
// An approval lets the replacement be drawn, by anyone of the office but
// the approver; a rejection ends it, and may come after an approval until
// the draw (it withdraws it). Whoever committed it is told of the
// decision (backend.NoteReplacementDecided) and every leader's entry
// asking for it is marked read (tellDecision). A repeat of the decision
// recorded, by the leader who made it, returns the replacement as it is,
// and tells what a crash left untold. ENOTFOUND
// (the task, or the replacement of it); EINVALID (the decision, the
// comment); EFORBIDDEN unless a leader other than the one who committed
// it; ECONFLICT when it is drawn or rejected already, approved already (to
// approve), or (to approve) the task is no longer open.
func (s *Service) DecideReplacement(ctx context.Context, taskID, replacementID, decision, comment string) (*backend.TaskReplacement, error) {
	comment = strings.TrimSpace(comment)
	fields := map[string]string{}
	if decision != DecisionApprove && decision != DecisionReject {
		fields["decision"] = fmt.Sprintf("%q or %q", DecisionApprove, DecisionReject)
	}
	switch n := utf8.RuneCountInString(comment); {
	case n > MaxDecisionComment:
		fields["comment"] = fmt.Sprintf("at most %d characters", MaxDecisionComment)
	case n == 0 && decision == DecisionReject:
		fields["comment"] = fmt.Sprintf("a rejection says why (at most %d characters)", MaxDecisionComment)
	}
	if len(fields) > 0 {
		return nil, backend.InvalidFields("invalid decision", fields)
	}
	actor := backend.ActorFromContext(ctx)
	if !actor.HasRole(backend.RoleLeader) {
		return nil, backend.Errorf(backend.EFORBIDDEN, "only a leader approves or rejects a replacement")
	}
	t, err := s.GetTask(ctx, taskID)
	if err != nil {
		return nil, err
	}
	r, lease, err := s.leasedReplacement(ctx, t, replacementID)
	if err != nil {
		return nil, err
	}
	defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
	approve := decision == DecisionApprove
	// A draw cut short after its record was stored (before the
	// replacement was marked drawn) is drawn: its repeat finishes it.
	if _, err := s.Replacements.FindReplacementRecord(ctx, r.ID); err == nil {
		return nil, backend.Errorf(backend.ECONFLICT, "the replacement is drawn already")
	} else if backend.ErrorCode(err) != backend.ENOTFOUND {
		return nil, err
	}
	switch {
	case r.CommittedBy == actor.UserID:
		return nil, backend.Errorf(backend.EFORBIDDEN, "whoever committed a replacement does not decide it; another leader does")
	case r.State == backend.ReplacementDrawn || r.Record != nil:
		return nil, backend.Errorf(backend.ECONFLICT, "the replacement is drawn already")
	case r.State == backend.ReplacementRejected:
		if !approve && r.RejectedBy == actor.UserID {
			// A repeat after a crash between the decision and telling
			// of it tells (only what is missing: fixed ids).
			if err := s.told(ctx, t, r, decision); err != nil {
				return nil, err
			}
			return r, nil
		}
		return nil, backend.Errorf(backend.ECONFLICT, "the replacement was rejected; commit another if a member must still go out")
	case r.Approved() && approve:
		if r.ApprovedBy == actor.UserID {
			if err := s.told(ctx, t, r, decision); err != nil {
				return nil, err
			}
			return r, nil
		}
		return nil, backend.Errorf(backend.ECONFLICT, "the replacement is approved already")
	// A rejection of an approved replacement withdraws the approval: one
	// that can no longer be drawn (nobody eligible any more, an entropy
	// never published) would otherwise block the task's replacements.
	case r.State != backend.ReplacementCommitted:
		return nil, backend.Errorf(backend.ECONFLICT, "a %s replacement is not decided", r.State)
	case approve:
		// Refreshed: an approval is of a replacement that can still be drawn.
		if t, err = s.GetTask(ctx, taskID); err != nil {
			return nil, err
		}
		if !backend.TaskOpen(t.State) {
			return nil, backend.Errorf(backend.ECONFLICT, "the group of a %s task does not change", t.State)
		}
	}
	d := backend.ReplacementDecision{Approve: approve, By: actor.UserID, At: s.Now().UTC().Truncate(time.Second), Comment: comment}
	action := "task.replacement_reject"
	if approve {
		action = "task.replacement_approve"
	}
	err = s.Audit.Change(ctx, backend.AuditChange{Action: action, ObjectType: "task", ObjectID: t.ID,
		Before: map[string]any{"replacement_id": r.ID, "state": r.State},
		After:  map[string]any{"replacement_id": r.ID, "out": r.Out, "decision": decision, "comment": comment},
	}, func(ctx context.Context) error { return s.Replacements.DecideReplacement(ctx, r.ID, d) })
	if err != nil {
		return nil, err
	}
	if approve {
		r.ApprovedAt, r.ApprovedBy = &d.At, d.By
	} else {
		r.State, r.RejectedAt, r.RejectedBy = backend.ReplacementRejected, &d.At, d.By
	}
	r.DecisionComment = comment
	// The decision is stored, owed to be told (Untold, in the same
	// write): a failure to tell of it is answered as a failure, and what
	// is missing is told by the leader's repeat of the same decision —
	// answered as recorded above, never as another decision — or else by
	// the scheduler's next pass (TellUntoldDecisions).
	if err := s.told(ctx, t, r, decision); err != nil {
		return nil, err
	}
	return r, nil
}

// told tells of r's decision (tellDecision) and then records it told. A
// failure to record it only means a later pass tells again, which writes
// nothing twice: it is not the caller's failure.
func (s *Service) told(ctx context.Context, t *backend.Task, r *backend.TaskReplacement, decision string) error {
	if err := s.tellDecision(ctx, t, r, decision); err != nil {
		return err
	}
	_ = s.Replacements.MarkReplacementTold(ctx, r.ID, decision == DecisionApprove)
	return nil
}

// TellUntoldDecisions tells of the replacement decisions stored but
// perhaps not told — the process died, or the inbox failed, between the
// decision and telling of it, and the leader did not repeat it — and
// returns how many it told. One that cannot be told now does not hold up
// the others: the pass goes on, and returns every failure. The scheduler
// runs it at every pass.
func (s *Service) TellUntoldDecisions(ctx context.Context) (int, error) {
	ids, err := s.Replacements.FindUntoldReplacements(ctx, untoldPerPass)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, id := range ids {
		told, err := s.tellUntold(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("replacement %s: %w", id, err))
		} else if told {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// tellUntold tells of replacement id's decision if it is still owed.
func (s *Service) tellUntold(ctx context.Context, id string) (bool, error) {
	r, err := s.Replacements.FindReplacement(ctx, id)
	if err != nil || !r.Untold {
		return false, err
	}
	t, err := s.Tasks.FindTaskByID(ctx, r.TaskID)
	if err != nil {
		return false, err
	}
	decision := DecisionApprove
	if r.State == backend.ReplacementRejected {
		decision = DecisionReject
	}
	return true, s.told(ctx, t, r, decision)
}

// untoldPerPass bounds the decisions one scheduler pass tells.
const untoldPerPass = 200

// leasedReplacement takes the lease of the replacement id of task t's draw
// (the one its commit, decision and draw take) and returns it as it is
// under the lease, with the lease to release. ENOTFOUND; ECONFLICT while
// another holds the lease.
func (s *Service) leasedReplacement(ctx context.Context, t *backend.Task, id string) (*backend.TaskReplacement, backend.Lease, error) {
	r, err := s.taskReplacement(ctx, t, id)
	if err != nil {
		return nil, nil, err
	}
	lease, err := s.Locks.Acquire(ctx, "replace:"+r.DrawID, replacementLockTTL)
	if err != nil {
		return nil, nil, err
	}
	if r, err = s.taskReplacement(ctx, t, id); err != nil { // as it is now, under the lease
		_ = lease.Release(context.WithoutCancel(ctx))
		return nil, nil, err
	}
	return r, lease, nil
}

// taskReplacement is the replacement id of task t. ENOTFOUND.
func (s *Service) taskReplacement(ctx context.Context, t *backend.Task, id string) (*backend.TaskReplacement, error) {
	r, err := s.Replacements.FindReplacement(ctx, id)
	if err != nil {
		return nil, backend.NotFoundAs(err, "replacement not found")
	}
	if r.TaskID != t.ID {
		return nil, backend.Errorf(backend.ENOTFOUND, "replacement not found")
	}
	return r, nil
}

// DrawReplacement draws a committed replacement a leader approved — with
// the public entropy's value exactly when its commitment named a source —
// publishes its record, changes the task's group and tells the member
// going out, the one coming in and the rest of the group. A repeat returns
// the record drawn first (and finishes what a crash left undone).
//
// Nothing but a stored, public outcome may come of a computed draw, or
// whoever draws could retry until the member they want comes in. So the
// first call fixes the entropy's value on the replacement (fixEntropy)
// and every later one draws with it, and the frozen roster's eligible are
// checked against the directory (unchangedEligible) before anything
// random is computed — a refusal there is the same on every call, so a
// retry selects nothing.
//
// ENOTFOUND; EFORBIDDEN (not of the office, or the leader who approved
// it); EINVALID when the entropy does not match the commitment; ECONFLICT
// when it awaits a leader's approval, was rejected or failed, another
// replacement of the draw runs, the entropy was fixed as another value,
// the roster's eligible changed since the commitment, or (recorded as a
// failure) the member drawn cannot be brought in.
func (s *Service) DrawReplacement(ctx context.Context, taskID, replacementID, entropy string) (*draw.Replacement, error) {
	entropy = strings.TrimSpace(entropy)
	if utf8.RuneCountInString(entropy) > MaxEntropyValue {
		return nil, backend.InvalidFields("too long", map[string]string{"public_entropy": fmt.Sprintf("at most %d characters", MaxEntropyValue)})
	}
	t, err := s.manageable(ctx, taskID)
	if err != nil {
		return nil, err
	}
	r, lease, err := s.leasedReplacement(ctx, t, replacementID)
	if err != nil {
		return nil, err
	}
	defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()

	rec, err := s.Replacements.FindReplacementRecord(ctx, r.ID)
	var in *backend.Inspector              // the member coming in, when drawn now
	var insert func(context.Context) error // stores the record when it is new
	switch {
	case err == nil: // drawn before: finish the bookkeeping a crash may have cut short
		if rec.PublicEntropy != "" && entropy != "" && entropy != rec.PublicEntropy {
			return nil, entropyFixed(rec.PublicEntropy)
		}
	case backend.ErrorCode(err) != backend.ENOTFOUND:
		return nil, err
	case r.State == backend.ReplacementRejected:
		return nil, backend.Errorf(backend.ECONFLICT, "a leader rejected this replacement; it is not drawn (commit another if a member must still go out)")
	case r.State == backend.ReplacementFailed:
		return nil, backend.Errorf(backend.ECONFLICT, "this replacement's draw failed (%s); it is never drawn (commit another if a member must still go out)", r.Failure)
	case !r.Approved():
		return nil, backend.Errorf(backend.ECONFLICT, "the replacement is awaiting a leader's approval; it is drawn once approved")
	case r.ApprovedBy == backend.ActorFromContext(ctx).UserID:
		return nil, backend.Errorf(backend.EFORBIDDEN, "the leader who approved a replacement does not draw it; another person of the office does")
	default:
		if rec, in, err = s.drawNew(ctx, t, r, lease, entropy); err != nil {
			return nil, err
		}
		insert = func(wctx context.Context) error {
			if err := lease.Extend(ctx); err != nil {
				return err
			}
			return s.Replacements.InsertReplacementRecord(wctx, r.ID, rec)
		}
	}
	if err := s.applyReplacement(ctx, t.ID, r, rec, in, insert); err != nil {
		return rec, err
	}
	// Drawn: the committer's entry asking for the draw has been answered.
	if r.CommittedBy != "" {
		id := backend.NoteID(backend.NoteReplacementDecided, t.ID, r.CommittedBy, pendingRound(r)+":"+DecisionApprove)
		if _, err := s.Inbox.MarkRead(ctx, r.CommittedBy, id, s.Now().UTC()); err != nil && backend.ErrorCode(err) != backend.ENOTFOUND {
			return rec, err
		}
	}
	return rec, nil
}

// entropyFixed refuses a public entropy other than the value fixed for
// the replacement. The refusal names that value: it is no secret — it is
// what the source named at commit published (anyone may read it there),
// the record publishes it with the seed, and the caller's office sent it
// — and naming it tells the office what a repeat must send, or that a
// wrong value was fixed and a new commitment is needed.
func entropyFixed(fixed string) error {
	return &backend.Error{Code: backend.ECONFLICT,
		Message: fmt.Sprintf("the public entropy of this replacement was fixed as %q by its first draw and does not change: "+
			"repeat with that value or none (a wrong value needs a new commitment: a leader rejects this one and another is committed)", fixed),
		Fields: map[string]string{"public_entropy": fmt.Sprintf("fixed as %q", fixed)}}
}

// fixEntropy returns the public entropy the draw of r mixes in: the value
// the first draw call fixed on r, whatever a later call sends (one
// sending another value is refused: entropyFixed), or, on that first
// call, entropy — fixed on r (a compare-and-set under the lease, audited
// as task.replacement_entropy) before anything is computed. The value is
// compared as sent (trimmed, as a plan's draw takes it): plans have no
// canonical form of an entropy value, and none is needed here, since
// however it is spelled only the first spelling is ever drawn with.
func (s *Service) fixEntropy(ctx context.Context, t *backend.Task, r *backend.TaskReplacement, lease backend.Lease, entropy string) (string, error) {
	switch {
	case r.PublicEntropy != "" && entropy != "" && entropy != r.PublicEntropy:
		return "", entropyFixed(r.PublicEntropy)
	case r.PublicEntropy != "":
		return r.PublicEntropy, nil
	case (r.EntropySource == "") != (entropy == ""):
		return "", backend.InvalidFields("public entropy is given exactly when its source was fixed at commit",
			map[string]string{"public_entropy": "the commitment names the source " + fmt.Sprintf("%q", r.EntropySource)})
	case entropy == "":
		return "", nil // no source: there is no value to fix
	}
	if err := lease.Extend(ctx); err != nil {
		return "", err
	}
	err := s.Audit.Change(ctx, backend.AuditChange{Action: "task.replacement_entropy", ObjectType: "task", ObjectID: t.ID, After: map[string]any{
		"replacement_id": r.ID, "entropy_source": r.EntropySource, "public_entropy": entropy,
	}}, func(ctx context.Context) error { return s.Replacements.FixReplacementEntropy(ctx, r.ID, entropy) })
	if err != nil {
		return "", err
	}
	r.PublicEntropy = entropy
	return entropy, nil
}

// drawNew runs a committed replacement, numbered after the draw's drawn
// replacements, and returns its record and the inspector coming in as
// the directory has them — after fixing the entropy and checking the
// roster, both before the seed is opened. The inspector is taken from the
// directory as the check read it, not looked up again: no edit between
// the two can make a computed draw fail.
func (s *Service) drawNew(ctx context.Context, t *backend.Task, r *backend.TaskReplacement, lease backend.Lease, entropy string) (*draw.Replacement, *backend.Inspector, error) {
	entropy, err := s.fixEntropy(ctx, t, r, lease, entropy)
	if err != nil {
		return nil, nil, err
	}
	d, err := s.Draws.FindDrawByID(ctx, r.DrawID)
	if err != nil {
		return nil, nil, err
	}
	in, err := s.replacementInput(ctx, t, d, r.Out, r.Roster)
	if err != nil {
		return nil, nil, err
	}
	now, err := s.unchangedEligible(ctx, r, in)
	if err != nil {
		return nil, nil, err
	}
	// Only now is anything random used.
	box, err := seal.New(s.SeedKey)
	if err != nil {
		return nil, nil, err
	}
	seed, err := box.Open("replacement:"+r.ID, 0, r.SealedSeed)
	if err != nil {
		return nil, nil, err
	}
	last, err := s.Replacements.LastReplacementSeq(ctx, r.DrawID)
	if err != nil {
		return nil, nil, err
	}
	a := draw.Attempt{
		ID: r.ID, Seq: last + 1, CommittedAt: r.CommittedAt.Format(time.RFC3339),
		DrawnAt: s.Now().UTC().Format(time.RFC3339), SeedCommitment: r.SeedCommitment,
		EntropySource: r.EntropySource, PublicEntropy: entropy, Seed: seed,
	}
	rec, err := draw.NewReplacement(a, r.DrawID, r.Reason, in)
	if errors.Is(err, draw.ErrNoReplacement) {
		return nil, nil, backend.Errorf(backend.ECONFLICT, "nobody is eligible any more to replace %s", r.Out)
	} else if err != nil {
		return nil, nil, backend.Wrap(err, backend.EINTERNAL, "drawing the replacement")
	}
	chosen := now[rec.In]
	if chosen == nil {
		// The member drawn is one of the eligible just checked, so this
		// takes frozen inputs that disagree with themselves. Whatever the
		// cause, a computed draw leaves a trace, never nothing: a retry
		// must not be a second chance.
		return nil, nil, s.failReplacement(ctx, t, r, "the inspector drawn is not in the directory as the commitment froze them")
	}
	return rec, chosen, nil
}

// unchangedEligible checks, before any randomness is used, that the
// eligible of the roster frozen at r's commitment (in) are still who it
// froze: each in the directory under the same badge, in the same
// department and — when the commitment kept it — the same inspector with
// the same account. Only the eligible matter: one of them comes in, by
// badge; a change to anyone else cannot change who does. It returns them
// as the directory has them now, by badge. ECONFLICT, naming the badges,
// when any changed: the commitment no longer says who would come in, and
// a new one is needed. The check depends on nothing random, so it refuses
// the same way on every call.
func (s *Service) unchangedEligible(ctx context.Context, r *backend.TaskReplacement, in *draw.ReplacementInput) (map[string]*backend.Inspector, error) {
	eligible, err := in.Eligible()
	if err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "the frozen roster of replacement %s: %v", r.ID, err)
	}
	if len(eligible) == 0 {
		return nil, backend.Errorf(backend.ECONFLICT, "nobody is eligible any more to replace %s", r.Out)
	}
	department := make(map[string]string, len(in.Roster))
	for _, o := range in.Roster {
		department[o.BadgeNo] = o.Department
	}
	account := make(map[string]backend.RosterAccount, len(r.Accounts))
	for _, a := range r.Accounts {
		account[a.BadgeNo] = a
	}
	all, _, err := s.Inspectors.FindInspectors(ctx, backend.InspectorFilter{})
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*backend.Inspector, len(all))
	byBadge := make(map[string]*backend.Inspector, len(all))
	for _, i := range all {
		byID[i.ID], byBadge[i.BadgeNo] = i, i
	}
	now := make(map[string]*backend.Inspector, len(eligible))
	var changed []string
	for _, b := range eligible {
		cur := byBadge[b]
		if a, ok := account[b]; ok {
			if cur = byID[a.InspectorID]; cur != nil && cur.UserID != a.UserID {
				cur = nil
			}
		} else if cur != nil && s.Versions != nil {
			// Committed before accounts were kept: whoever holds the badge
			// must have held it, with their account, then — as a dispatch
			// asks of a draw's members (sameSinceDraw).
			moved, err := s.movedSince(ctx, "inspector", cur.ID, cur.Version, cur.CreatedAt, cur.UpdatedAt, r.CommittedAt,
				map[string]string{"badge_no": cur.BadgeNo, "user_id": cur.UserID, "department_id": cur.DepartmentID})
			if err != nil {
				return nil, err
			}
			if moved {
				cur = nil
			}
		}
		if cur == nil || cur.BadgeNo != b || cur.DepartmentID != department[b] {
			changed = append(changed, b)
			continue
		}
		now[b] = cur
	}
	if len(changed) > 0 {
		return nil, backend.Errorf(backend.ECONFLICT, "the roster changed since the commitment of %s: eligible inspector(s) %s are no longer in the directory as it froze them (badge, department or account); "+
			"nothing was drawn, and a new commitment is needed (a leader rejects this one and another is committed)",
			r.CommittedAt.Format("2006-01-02 15:04"), strings.Join(changed, ", "))
	}
	return now, nil
}

// failReplacement records that r's draw failed after its randomness was
// used — why, in terms that name nobody — and returns the refusal to
// answer. Like a plan's failed attempt (SPEC.md §10) r is then never
// drawn and its seed never revealed, and another may be committed (a new
// seed, a leader's approval): a retry of r would give the same member, so
// it could only be a way to learn who that is. The failure and its audit
// event (task.replacement_failed) are one write; the state is public with
// the commitment.
func (s *Service) failReplacement(ctx context.Context, t *backend.Task, r *backend.TaskReplacement, why string) error {
	at := s.Now().UTC().Truncate(time.Second)
	err := s.Audit.Change(ctx, backend.AuditChange{Action: "task.replacement_failed", ObjectType: "task", ObjectID: t.ID,
		Before: map[string]any{"replacement_id": r.ID, "state": r.State},
		After:  map[string]any{"replacement_id": r.ID, "state": backend.ReplacementFailed, "failure": why},
	}, func(ctx context.Context) error { return s.Replacements.MarkReplacementFailed(ctx, r.ID, at, why) })
	if err != nil {
		return err
	}
	r.State, r.FailedAt, r.Failure = backend.ReplacementFailed, &at, why
	return backend.Errorf(backend.ECONFLICT, "the replacement's draw failed: %s; it is recorded as failed and never drawn (commit another if a member must still go out)", why)
}

// applyReplacement stores the record of a drawn replacement with insert
// (nil when it is stored already), marks the replacement drawn, puts the
// member drawn (in; looked up by badge when nil) in place of the one going
// out — each unless done already — and tells everyone concerned.
//
// The replacement's one audit event (task.replace) travels with all three
// writes: it is written ahead, and the record, the replacement and the
// task bear its mark (a bulk change; backend.Auditor.Change), so a crash
// between them cannot leave a drawn record unaudited. Its ID comes from
// the replacement (Key), so the repeat that finishes what a crash left
// undone stages the same event and the chain holds it once.
func (s *Service) applyReplacement(ctx context.Context, taskID string, r *backend.TaskReplacement, rec *draw.Replacement, in *backend.Inspector, insert func(context.Context) error) error {
	if in == nil { // a repeat: the member who came in, as the directory has them
		var err error
		if in, err = s.Inspectors.FindInspectorByBadgeNo(ctx, rec.In); err != nil {
			return err
		}
	}
	t, err := s.Tasks.FindTaskByID(ctx, taskID)
	if err != nil {
		return err
	}
	before := taskDigest(t)
	outUser, applied := s.replaceMember(ctx, t, in, r, rec)
	if applied && insert == nil && r.State == backend.ReplacementDrawn {
		// Done before: tell everyone again, in case the request that did
		// it died before it did (the entries have fixed ids, so only what
		// is missing is written; the feeds get the task again).
		return s.Notifier.Notify(ctx, replacementNotes(t, r, rec, in, removedUser(t, rec.Out)))
	}
	if err := stillOpen(t, applied); err != nil {
		return err
	}
	changed := false
	err = s.Audit.Change(ctx, backend.AuditChange{Action: "task.replace", ObjectType: "task", ObjectID: t.ID, Before: before, After: taskDigest(t),
		Bulk: true, Key: "task.replace\x00" + r.ID,
	}, func(wctx context.Context) error {
		if insert != nil {
			if err := insert(wctx); err != nil {
				return err
			}
		}
		if r.State != backend.ReplacementDrawn {
			if err := s.Replacements.MarkReplacementDrawn(wctx, r.ID, rec); err != nil {
				return err
			}
		}
		for range 5 {
			if applied {
				return nil
			}
			err := s.Tasks.UpdateTask(wctx, t)
			if backend.ErrorCode(err) != backend.ECONFLICT {
				changed = err == nil
				return err
			}
			if t, err = s.Tasks.FindTaskByID(ctx, taskID); err != nil {
				return err
			}
			outUser, applied = s.replaceMember(ctx, t, in, r, rec)
			if err := stillOpen(t, applied); err != nil {
				return err
			}
		}
		return backend.Errorf(backend.ECONFLICT, "the task kept changing while its group was replaced; repeat the request")
	})
	if err != nil {
		return err
	}
	if !changed { // applied before (a repeat) or by another writer: tell everyone all the same
		outUser = removedUser(t, rec.Out)
	}
	return s.Notifier.Notify(ctx, replacementNotes(t, r, rec, in, outUser))
}

// replaceMember puts in in place of the member going out of t, unless
// that is done already (applied). It returns the user going out.
func (s *Service) replaceMember(ctx context.Context, t *backend.Task, in *backend.Inspector, r *backend.TaskReplacement, rec *draw.Replacement) (outUser string, applied bool) {
	if t.HasMember(in.UserID) && !slices.ContainsFunc(t.Members, func(m backend.TaskMember) bool { return m.Active() && m.BadgeNo == rec.Out }) {
		return "", true
	}
	now := s.Now().UTC()
	lead := false
	for i := range t.Members {
		m := &t.Members[i]
		if m.Active() && m.BadgeNo == rec.Out {
			m.RemovedAt, m.RemovedBy, m.RemoveReason, outUser, lead = &now, backend.ActorFromContext(ctx).UserID, r.Reason, m.UserID, m.Lead
			m.Lead = false
		}
	}
	added := member(in, now, r.Reason)
	added.Lead = lead
	t.Members = append(t.Members, added)
	t.UpdatedAt = now
	return outUser, false
}

// replacementNotes tells the member going out (outUser), the one coming
// in and the rest of the group of a replacement applied to t.
func replacementNotes(t *backend.Task, r *backend.TaskReplacement, rec *draw.Replacement, in *backend.Inspector, outUser string) []*backend.Notification {
	round := "replace:" + r.ID
	var notes []*backend.Notification
	if outUser != "" {
		notes = append(notes, memberNotes(t, []string{outUser}, backend.NoteTaskRemoved, round, "您已被替换出检查任务",
			t.Enterprise.Name+" · 原因："+r.Reason)...)
	}
	if in.UserID != "" {
		notes = append(notes, memberNotes(t, []string{in.UserID}, backend.NoteTaskAssigned, round, "新检查任务（替换）",
			fmt.Sprintf("%s（%s）· 请于 %s 前完成检查", t.Enterprise.Name, t.Enterprise.Town, t.Deadlines.Window))...)
	}
	var rest []string
	for _, u := range t.MemberUserIDs() {
		if u != in.UserID {
			rest = append(rest, u)
		}
	}
	return append(notes, memberNotes(t, rest, backend.NoteTaskReplaced, round, "检查组成员变更",
		fmt.Sprintf("%s · %s 由 %s 替换（随机抽取）", t.Enterprise.Name, rec.Out, in.Name))...)
}

// removedUser is the account of the member with badge taken out of t's
// group last ("" for none).
func removedUser(t *backend.Task, badge string) string {
	for i := len(t.Members) - 1; i >= 0; i-- {
		if m := t.Members[i]; m.BadgeNo == badge && !m.Active() {
			return m.UserID
		}
	}
	return ""
}

// ListReplacements lists a visible task's replacements, oldest first.
func (s *Service) ListReplacements(ctx context.Context, taskID string) ([]*backend.TaskReplacement, error) {
	t, err := s.GetTask(ctx, taskID)
	if err != nil {
		return nil, err
	}
	return s.Replacements.FindReplacementsByTask(ctx, t.ID)
}

// PublicReplacements lists a page of a draw's drawn replacement records,
// those numbered above afterSeq, by number, for anyone: with the draw's
// record they are what `suiji verify-draw` re-computes. limit is at most
// backend.ReplacementRecordsMaxLimit (EINVALID above it).
func (s *Service) PublicReplacements(ctx context.Context, drawID string, afterSeq, limit int) ([]*draw.Replacement, error) {
	if afterSeq < 0 || limit < 1 || limit > backend.ReplacementRecordsMaxLimit {
		return nil, backend.Errorf(backend.EINVALID, "a page of replacement records starts at a number ≥ 0 and holds 1 to %d", backend.ReplacementRecordsMaxLimit)
	}
	if _, err := s.Draws.FindDrawByID(ctx, drawID); err != nil {
		return nil, err
	}
	return s.Replacements.FindReplacementRecords(ctx, drawID, afterSeq, limit)
}

// PublicReplacement is a replacement as anyone may see it: its commitment
// while it waits to be drawn, then its record as well.
func (s *Service) PublicReplacement(ctx context.Context, id string) (*backend.TaskReplacement, error) {
	r, err := s.Replacements.FindReplacement(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Record == nil {
		if rec, err := s.Replacements.FindReplacementRecord(ctx, r.ID); err == nil {
			r.Record = rec
		} else if backend.ErrorCode(err) != backend.ENOTFOUND {
			return nil, err
		}
	}
	return r, nil
}

// manageable is a task the actor may change the staffing of: a random
// task not completed yet. ENOTFOUND, EFORBIDDEN, EINVALID, ECONFLICT.
func (s *Service) manageable(ctx context.Context, taskID string) (*backend.Task, error) {
	t, err := s.GetTask(ctx, taskID)
	if err != nil {
		return nil, err
	}
	if !mayManage(backend.ActorFromContext(ctx), t) {
		return nil, backend.Errorf(backend.EFORBIDDEN, "only the coordinator or the lead department's staff replace a member")
	}
	if t.DrawID == "" { // random, or external (art. 28): drawn either way
		return nil, backend.Errorf(backend.EINVALID, "only a drawn group is replaced at random; a targeted task names its group")
	}
	if !backend.TaskOpen(t.State) {
		return nil, backend.Errorf(backend.ECONFLICT, "the group of a %s task does not change", t.State)
	}
	return t, nil
}

// stillOpen refuses to apply a replacement not applied yet to a task
// that was submitted, reviewed or cancelled since the replacement began
// (manageable checked it then): a group changes only while the
// inspection is open.
func stillOpen(t *backend.Task, applied bool) error {
	if applied || backend.TaskOpen(t.State) {
		return nil
	}
	return backend.Errorf(backend.ECONFLICT, "the task became %s while its member was being replaced; its group no longer changes", t.State)
}

// replacementInput is what the replacement of out is a function of: the
// group in force (the draw d's, after the task's drawn replacements), the
// draw's group rules, and the roster — frozen at commit, or at the commit
// the plan's departments' inspectors then (currentRoster).
func (s *Service) replacementInput(ctx context.Context, t *backend.Task, d *backend.Draw, out string, roster []draw.Officer) (*draw.ReplacementInput, error) {
	var group []string
	for _, sel := range d.Record.Selections {
		if sel.USCC == t.Enterprise.USCC {
			group = sel.Group
		}
	}
	previous, err := s.Replacements.FindReplacementsByTask(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	for _, p := range previous {
		if p.Record != nil {
			group = p.Record.GroupAfter
		}
	}
	g := d.Record.Groups
	return &draw.ReplacementInput{
		USCC: t.Enterprise.USCC, Out: out, GroupBefore: group, Required: g.Required,
		ValidThrough: g.ValidThrough, KeepLastInspectors: g.KeepLastInspectors, Roster: roster,
	}, nil
}

// currentRoster is every inspector of the task's departments as the draw
// sees one, as far as this enterprise is concerned, and who each of them
// is (their inspector and user account), read together.
func (s *Service) currentRoster(ctx context.Context, t *backend.Task, d *backend.Draw) ([]draw.Officer, []backend.RosterAccount, error) {
	lastInspected := map[string]bool{}
	err := s.Draws.ScanSnapshot(ctx, backend.SnapshotRoster, d.Record.RosterSHA256, func(chunk []byte) error {
		var part []draw.Officer
		if err := json.Unmarshal(chunk, &part); err != nil {
			return backend.Wrap(err, backend.EINTERNAL, "the draw's roster snapshot is corrupt")
		}
		for _, o := range part {
			if slices.Contains(o.LastInspected, t.Enterprise.USCC) {
				lastInspected[o.BadgeNo] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	all, _, err := s.Inspectors.FindInspectors(ctx, backend.InspectorFilter{})
	if err != nil {
		return nil, nil, err
	}
	var out []draw.Officer
	var accounts []backend.RosterAccount
	for _, in := range all {
		if !t.HasDepartment(in.DepartmentID) {
			continue
		}
		o := draw.Officer{
			BadgeNo: in.BadgeNo, Department: in.DepartmentID, Qualifications: slices.Clone(in.Qualifications),
			Active: in.Active, CertificateExpires: string(in.CertificateExpires), Conflicts: []string{}, LastInspected: []string{},
		}
		if o.Qualifications == nil {
			o.Qualifications = []string{}
		}
		if slices.ContainsFunc(in.Conflicts, func(c backend.Conflict) bool { return c.EnterpriseID == t.Enterprise.ID }) {
			o.Conflicts = []string{t.Enterprise.USCC}
		}
		if lastInspected[in.BadgeNo] {
			o.LastInspected = []string{t.Enterprise.USCC}
		}
		out = append(out, o)
		accounts = append(accounts, backend.RosterAccount{BadgeNo: in.BadgeNo, InspectorID: in.ID, UserID: in.UserID})
	}
	return out, accounts, nil
}

// randomID is 24 random hex digits.
func randomID(r io.Reader) (string, error) {
	var b [12]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", backend.Wrap(err, backend.EINTERNAL, "no randomness for an id")
	}
	return hex.EncodeToString(b[:]), nil
}
