package tasks

import (
	"context"
	"strconv"

	"suiji/backend"
)

// SyncPageSize is how many stream entries one delta page covers.
const SyncPageSize = 500

// SyncPage is what changed among the caller's tasks since a cursor: the
// tasks of their group as they stand now, the ids of those taken away
// (cancelled tasks stay, with their state; a member replaced out gets the
// id once as removed), the cursor to pass next, and whether more follows.
type SyncPage struct {
	Tasks   []*backend.Task
	Removed []string
	Cursor  string
	More    bool
}

// Sync returns the caller's tasks changed since the opaque cursor since
// ("" for all of them). The cursor is the seq of the caller's stream
// (every change to a task writes an entry for each member, and one for a
// member taken away), so a page covers what happened between two
// cursors, in order, and nothing is missed between pages. EINVALID for a
// cursor that is not one.
func (s *Service) Sync(ctx context.Context, since string) (*SyncPage, error) {
	user := backend.ActorFromContext(ctx).UserID
	if since == "" {
		// The cursor is read first: whatever changes after it comes in the
		// next delta, even if it is already in this listing.
		last, err := s.Inbox.LastSeq(ctx, user)
		if err != nil {
			return nil, err
		}
		page := &SyncPage{Cursor: strconv.FormatInt(last, 10)}
		f := backend.TaskFilter{MemberUserID: user, Limit: backend.TaskMaxLimit, NoTotal: true}
		for {
			list, _, err := s.Tasks.FindTasks(ctx, f)
			if err != nil {
				return nil, err
			}
			page.Tasks = append(page.Tasks, list...)
			if len(list) < f.Limit {
				return page, nil
			}
			f.After = f.CursorOf(list[len(list)-1])
		}
	}
	after, err := strconv.ParseInt(since, 10, 64)
	if err != nil || after < 0 {
		return nil, backend.InvalidFields("invalid cursor", map[string]string{"since": "the cursor of the previous sync"})
	}
	entries, err := s.Inbox.FindNotifications(ctx, backend.InboxQuery{UserID: user, AfterSeq: after, Limit: SyncPageSize})
	if err != nil {
		return nil, err
	}
	page := &SyncPage{Cursor: since, More: len(entries) == SyncPageSize}
	var ids []string
	seen := map[string]bool{}
	for _, n := range entries {
		page.Cursor = strconv.FormatInt(n.Seq, 10)
		if n.TaskID != "" && !seen[n.TaskID] {
			seen[n.TaskID] = true
			ids = append(ids, n.TaskID)
		}
	}
	tasks, err := s.Tasks.FindTasksByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*backend.Task, len(tasks))
	for _, t := range tasks {
		byID[t.ID] = t
	}
	for _, id := range ids {
		if t := byID[id]; t != nil && t.HasMember(user) {
			page.Tasks = append(page.Tasks, t)
		} else {
			page.Removed = append(page.Removed, id)
		}
	}
	return page, nil
}
