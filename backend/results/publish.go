package results

import (
	"context"
	"slices"

	"suiji/backend"
)

// PublishInput publishes a reviewed result, or corrects a published one.
type PublishInput struct {
	// Reason is required for a correction (a task already published):
	// why the new version replaces the one shown.
	Reason string
	// Result, for a correction, changes the published result (one of
	// backend.InspectionResults); "" keeps it.
	Result  string
	Version int // the task version read; 0 to skip the check
}

// Publish makes a reviewed task's result public (art. 24): the task
// becomes published and /public/v1/results shows it. Its deadline is 20
// working days after the inspection ended; a later publication is recorded
// as late. On a published task it is a correction: a new version with its
// reason, which the public record shows as such (earlier versions stay
// readable). The coordinator or the lead department's staff publish; a
// correction never by someone who is or was in the task's group, whom
// Review refuses too. A result is published at most MaxPublications times.
// A plan whose tasks are then all published or cancelled is closed.
// ENOTFOUND; EFORBIDDEN (a member correcting); EINVALID naming each bad
// field (a correction without a reason, or one that changes nothing);
// ECONFLICT when the task is not reviewed or published, the version is
// stale, or the result was published MaxPublications times already.
func (s *Service) Publish(ctx context.Context, id string, in PublishInput) (*backend.Task, *backend.TaskResult, error) {
	t, r, err := s.loadManaged(ctx, id, in.Version)
	if err != nil {
		return nil, nil, err
	}
	correcting := t.State == backend.TaskPublished
	if !correcting && t.State != backend.TaskReviewed {
		return nil, nil, backend.Errorf(backend.ECONFLICT, "only a reviewed task is published; this task is %s", t.State)
	}
	if correcting {
		// The first publication shows what the review confirmed; a
		// correction replaces it, which the group may not do to its own
		// work any more than approve it.
		if err := memberRefused(t, backend.ActorFromContext(ctx), "correct its published result"); err != nil {
			return nil, nil, err
		}
		if len(r.Publications) >= MaxPublications {
			return nil, nil, backend.Errorf(backend.ECONFLICT, "a result is published at most %d times (the first publication and its corrections); this one has %d versions",
				MaxPublications, len(r.Publications))
		}
	}
	fields := map[string]string{}
	reason := text(fields, "reason", in.Reason, correcting, maxComment)
	switch {
	case !correcting && reason != "":
		fields["reason"] = "only a correction of a published result has a reason"
	case !correcting && in.Result != "":
		fields["result"] = "the first publication shows the result the review confirmed"
	case in.Result != "" && !slices.Contains(backend.InspectionResults, in.Result):
		fields["result"] = "one of " + joinOr(backend.InspectionResults)
	case correcting && (in.Result == "" || in.Result == r.Result) && !s.publicChanged(ctx, t, r):
		fields["result"] = "the published record would not change; a correction changes the result or follows a new disposition"
	}
	if len(fields) > 0 {
		return nil, nil, backend.InvalidFields("invalid publication", fields)
	}

	if r.PublicPending { // the version shown must be complete before the next
		if err := s.project(ctx, t, r); err != nil {
			return nil, nil, err
		}
	}
	before := digest(t, r)
	if in.Result != "" {
		r.Result = in.Result
	}
	s.addPublication(t, r, backend.ActorFromContext(ctx).UserID, reason)
	if err := s.write(ctx, "task.publish", t, r, before); err != nil {
		return nil, nil, err
	}
	if err := s.project(ctx, t, r); err != nil {
		return nil, nil, err
	}
	return t, r, s.Workflow.ClosePlanIfDone(ctx, t.PlanID)
}

// addPublication adds the next published version to r and marks it for
// the public record; the first one also publishes the task.
func (s *Service) addPublication(t *backend.Task, r *backend.TaskResult, by, reason string) {
	now := s.Now().UTC()
	p := backend.Publication{Version: len(r.Publications) + 1, At: now, By: by, Reason: reason, Due: t.Deadlines.Publication}
	if p.Version == 1 {
		t.State, t.PublishedAt = backend.TaskPublished, &now
		p.Late = t.Deadlines.Publication != "" && string(backend.DateOf(now)) > t.Deadlines.Publication
	}
	r.Publications = append(r.Publications, p)
	r.PublicPending = true
	t.UpdatedAt = now
}

// publicChanged reports whether the public record built now would differ
// from the one shown (a disposition recorded since, say).
func (s *Service) publicChanged(ctx context.Context, t *backend.Task, r *backend.TaskResult) bool {
	shown, err := s.Public.FindPublicResult(ctx, t.ID)
	if err != nil {
		return true
	}
	fresh, err := s.publicRecord(ctx, t, r)
	if err != nil {
		return true
	}
	return !samePublic(shown, fresh)
}

// samePublic compares what two versions show, ignoring their version
// bookkeeping.
func samePublic(a, b *backend.PublicResult) bool {
	return a.Result == b.Result && a.EnterpriseName == b.EnterpriseName && a.USCC == b.USCC &&
		a.PlanTitle == b.PlanTitle && a.DepartmentName == b.DepartmentName && a.Date == b.Date &&
		slices.Equal(a.Items, b.Items) && slices.Equal(a.Dispositions, b.Dispositions)
}

// project writes the public record of t's newest publication and clears
// its pending mark. Repeating it is harmless.
func (s *Service) project(ctx context.Context, t *backend.Task, r *backend.TaskResult) error {
	p := r.Published()
	if p == nil {
		return nil
	}
	rec, err := s.publicRecord(ctx, t, r)
	if err != nil {
		return err
	}
	err = s.Public.PutPublicResult(ctx, rec)
	s.publicWritten() // even after an error: the write may have happened
	if err != nil {
		return err
	}
	r.PublicPending = false
	return s.Results.ClearPublicPending(ctx, t.ID, p.Version)
}

// RepairPublic completes publications whose public record was not written
// (the process stopped between the two writes) and returns how many it
// completed. It is safe to run from several instances at once.
func (s *Service) RepairPublic(ctx context.Context) (int, error) {
	n := 0
	for {
		ids, err := s.Results.PendingPublic(ctx, 100)
		if err != nil || len(ids) == 0 {
			return n, err
		}
		for _, id := range ids {
			t, r, err := s.Results.FindTaskResult(ctx, id)
			if err != nil {
				return n, err
			}
			if err := s.project(ctx, t, r); err != nil {
				return n, err
			}
			n++
		}
	}
}

// publicRecord builds the public record of t's newest publication, with
// the earlier versions it corrects.
func (s *Service) publicRecord(ctx context.Context, t *backend.Task, r *backend.TaskResult) (*backend.PublicResult, error) {
	p := r.Published()
	rec := &backend.PublicResult{
		ID: t.ID, Version: p.Version, Year: t.Year, Town: t.Enterprise.Town, PlanID: t.PlanID,
		DepartmentID: t.LeadDepartmentID, EnterpriseName: t.Enterprise.Name, USCC: t.Enterprise.USCC,
		Result: r.Result, FirstPublished: r.Publications[0].At, PublishedAt: p.At,
	}
	if t.InspectionEndedAt != nil {
		rec.Date = string(backend.DateOf(*t.InspectionEndedAt))
	}
	if t.PlanID != "" {
		plan, err := s.Plans.FindPlanByID(ctx, t.PlanID)
		if err != nil {
			return nil, err
		}
		rec.PlanTitle = plan.Title
	}
	dept, err := s.Departments.FindDepartmentByID(ctx, t.LeadDepartmentID)
	if err != nil && backend.ErrorCode(err) != backend.ENOTFOUND {
		return nil, err
	} else if err == nil {
		rec.DepartmentName = dept.Name
	}
	for _, it := range t.Items {
		if it.AppliesTo(t.Enterprise.Categories) {
			rec.Items = append(rec.Items, backend.PublicItem{Code: it.Code, Name: it.Name})
		}
	}
	for _, d := range r.Dispositions {
		rec.Dispositions = append(rec.Dispositions, backend.PublicDisposition{Kind: d.Kind, Date: d.Date, CaseNo: d.CaseNo, Agency: d.Agency})
	}
	for _, v := range r.Publications[1:] {
		rec.Corrections = append(rec.Corrections, backend.Correction{Version: v.Version, At: v.At, Reason: v.Reason})
	}
	if p.Version > 1 {
		shown, err := s.Public.FindPublicResult(ctx, t.ID)
		switch {
		case err == nil && shown.Version < p.Version:
			prev := *shown
			prev.History, prev.Corrections = nil, nil
			rec.History = append(shown.History, prev)
		case err == nil:
			rec.History = shown.History // a repeat of this version's projection
		case backend.ErrorCode(err) != backend.ENOTFOUND:
			return nil, err
		}
	}
	return rec, nil
}

// PublicResults searches the published results (no sign-in needed), from
// the index in memory (public_index.go), or from the store when there are
// more than PublicIndexMax. EINVALID for a bad cursor or offset.
func (s *Service) PublicResults(ctx context.Context, f backend.PublicResultFilter) ([]*backend.PublicResult, int, error) {
	if f.Limit <= 0 {
		f.Limit = backend.PublicResultDefaultLimit
	}
	f.Limit = min(f.Limit, backend.PublicResultMaxLimit)
	snap, err := s.publicSnapshot(ctx)
	if err != nil {
		return nil, 0, err
	}
	if snap.TooMany {
		return s.Public.FindPublicResults(ctx, f)
	}
	return searchPublic(snap.Rows, f)
}

// PublicResult returns one published result with its earlier versions.
// ENOTFOUND for anything not published.
func (s *Service) PublicResult(ctx context.Context, id string) (*backend.PublicResult, error) {
	return s.Public.FindPublicResult(ctx, id)
}
