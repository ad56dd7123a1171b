package tasks

import (
	"context"

	"suiji/backend"
)

// DrawReplacements lists, for anyone, the replacements of the draw d in
// every state, oldest commitment first, at most limit: each commitment is
// public from the moment it is made (before the choice it will decide), a
// rejection with the leader's reason (why that commitment is never
// drawn), a failed draw with why (it is never drawn either), a drawn one
// with its number and the member who came in. The
// office's notes — who asked, who decided, an approval's comment — stay
// out. A listing reads no roster and no record but that of a replacement
// drawn and not marked so (a draw cut short, or one drawn before the
// store kept who came in apart from the record). One waiting for a task
// that closed meanwhile is marked so (TaskClosed).
func (s *Service) DrawReplacements(ctx context.Context, d *backend.Draw, limit int) ([]*backend.ReplacementSummary, error) {
	list, err := s.Replacements.FindReplacementSummaries(ctx, d.ID, limit)
	if err != nil || len(list) == 0 {
		return list, err
	}
	var drawn map[string]bool // read once, when some replacement is not marked drawn
	var waiting []*backend.ReplacementSummary
	for _, r := range list {
		if r.State != backend.ReplacementRejected {
			r.DecisionComment = ""
		}
		if r.In != "" || r.State == backend.ReplacementRejected || r.State == backend.ReplacementFailed {
			continue // its state is stored: no record to read, no task to ask
		}
		if drawn == nil {
			if drawn, err = s.Replacements.FindDrawnReplacementIDs(ctx, d.ID); err != nil {
				return nil, err
			}
		}
		if !drawn[r.ID] {
			waiting = append(waiting, r)
			continue
		}
		rec, err := s.Replacements.FindReplacementRecord(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		r.State, r.Seq, r.In, r.DrawnAt = backend.ReplacementDrawn, rec.Seq, rec.In, rec.DrawnAt
	}
	return list, s.markClosedTasks(ctx, waiting)
}

// markClosedTasks marks the replacements waiting to be drawn whose task
// is no longer open: none of them will be (DrawReplacement refuses), and
// the portal must not say they wait.
func (s *Service) markClosedTasks(ctx context.Context, waiting []*backend.ReplacementSummary) error {
	if len(waiting) == 0 {
		return nil
	}
	ids := make([]string, 0, len(waiting))
	for _, r := range waiting {
		ids = append(ids, r.TaskID)
	}
	found, err := s.Tasks.FindTasksByIDs(ctx, ids)
	if err != nil {
		return err
	}
	open := make(map[string]bool, len(found))
	for _, t := range found {
		open[t.ID] = backend.TaskOpen(t.State)
	}
	for _, r := range waiting {
		r.TaskClosed = !open[r.TaskID]
	}
	return nil
}

// TaskClosedUnder reports whether the replacement r waits to be drawn
// (committed, not drawn, not rejected) for a task no longer open: it
// never will be.
func (s *Service) TaskClosedUnder(ctx context.Context, r *backend.TaskReplacement) (bool, error) {
	if r.State != backend.ReplacementCommitted || r.Record != nil {
		return false, nil
	}
	t, err := s.Tasks.FindTaskByID(ctx, r.TaskID)
	if backend.ErrorCode(err) == backend.ENOTFOUND {
		return true, nil
	} else if err != nil {
		return false, err
	}
	return !backend.TaskOpen(t.State), nil
}
