package tasks

import (
	"context"

	"suiji/backend"
)

// DrawReplacements lists, for anyone, a draw's replacements in every
// state, oldest commitment first: each commitment is public from the
// moment it is made (before the choice it will decide), a rejection with
// the leader's reason (why that commitment is never drawn), a drawn one
// with its number and the member who came in. The office's notes — who
// asked, who decided, an approval's comment — stay out. ENOTFOUND when
// there is no such draw.
func (s *Service) DrawReplacements(ctx context.Context, drawID string) ([]*backend.ReplacementSummary, error) {
	if _, err := s.Draws.FindDrawByID(ctx, drawID); err != nil {
		return nil, err
	}
	list, err := s.Replacements.FindReplacementSummaries(ctx, drawID)
	if err != nil {
		return nil, err
	}
	for _, r := range list {
		if r.State != backend.ReplacementRejected {
			r.DecisionComment = ""
		}
		if r.In != "" || r.State == backend.ReplacementRejected {
			continue
		}
		// A draw cut short after its record was stored (the replacement
		// not marked drawn yet), or drawn before the store kept who came
		// in apart from the record: the record says.
		rec, err := s.Replacements.FindReplacementRecord(ctx, r.ID)
		if backend.ErrorCode(err) == backend.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		r.State, r.Seq, r.In, r.DrawnAt = backend.ReplacementDrawn, rec.Seq, rec.In, rec.DrawnAt
	}
	return list, nil
}
