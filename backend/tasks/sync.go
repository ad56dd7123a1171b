package tasks

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"suiji/backend"
)

// SyncPageSize is how many feed entries (or, on the inbox path, stream
// entries) one delta page covers.
const SyncPageSize = 500

// feedsRetryAfter is how long syncs stay on the inbox path after a build
// of the feeds failed.
const feedsRetryAfter = time.Minute

// FeedCompactMin is the fewest entries a task feed holds before a sync
// compacts it; it compacts once it also holds twice as many entries as
// tasks (each later change of a task makes its earlier entries redundant).
const FeedCompactMin = 128

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
// ("" for all of them). EINVALID for a cursor that is not one.
//
// It reads the caller's task feed (backend.TaskFeedStore), one document
// by _id, and then the tasks it names: those the instance holds at least
// at the version the feed names (taskcache.go) from memory, the others
// each by _id — the work is the caller's own tasks (on MongoDB whatever
// the size of the collections; FerretDB v1 still compares every stored
// _id, but decodes no document it does not return — see
// mongodb.TaskStore.FindTasksByIDs). Every change
// to a task appends its id to the feed of each user it concerns — the
// members, and a member taken away — after the task is stored (notify
// appends feeds with the entries about the change), so a page covers
// what happened between two cursors, and nothing is missed between
// pages: the cursor is the position of the last entry read ("f<n>"),
// and entries take consecutive positions.
//
// Cursors from before feeds existed (the inbox's Seq, a number) are
// answered from position 0: every task the feed names, tombstones
// included, paged — a full resync a phone needs nothing new for, since a
// phone that drops nothing but tombstones still ends with exactly its
// tasks. So is a cursor beyond the end of the feed (a database restored
// from a backup).
func (s *Service) Sync(ctx context.Context, since string) (*SyncPage, error) {
	user := backend.ActorFromContext(ctx).UserID
	after, err := parseSyncCursor(since)
	if err != nil {
		return nil, err
	}
	if !s.feedsReady(ctx) {
		if after >= 0 && strings.HasPrefix(since, "f") {
			since = "0" // only a restored database gets here: everything again
		}
		return s.syncInbox(ctx, user, since)
	}
	// The feed is read first and once: whatever changes after it is
	// appended after f.Len and comes in the next delta, even if the task
	// fetched below already shows it.
	f, err := s.Feeds.TaskFeed(ctx, user, after)
	if err != nil {
		return nil, err
	}
	if after > f.Len {
		after = 0
	}
	var page *SyncPage
	if after < 0 {
		page, err = s.syncAll(ctx, user, f)
	} else {
		page, err = s.syncAfter(ctx, user, f, after)
	}
	if err != nil {
		return nil, err
	}
	if len(f.Entries) >= FeedCompactMin && len(f.Entries) >= 2*f.Distinct() {
		// Best effort: a compaction that loses to an append, or fails, is
		// tried again by the next sync; the feed reads the same either way.
		_, _ = s.Feeds.CompactTaskFeed(ctx, f)
	}
	return page, nil
}

// parseSyncCursor returns the feed position of a cursor: -1 for "" (a
// first sync), 0 for an inbox Seq (a cursor of the inbox path, numeric).
func parseSyncCursor(since string) (int64, error) {
	if since == "" {
		return -1, nil
	}
	digits := strings.TrimPrefix(since, "f")
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || strings.Trim(digits, "0123456789") != "" {
		return 0, backend.InvalidFields("invalid cursor", map[string]string{"since": "the cursor of the previous sync"})
	}
	if digits == since {
		return 0, nil
	}
	return n, nil
}

func feedCursor(pos int64) string { return "f" + strconv.FormatInt(pos, 10) }

// syncAll is a first sync: every task the feed names whose group the
// user is in, by creation like the task listings.
func (s *Service) syncAll(ctx context.Context, user string, f *backend.TaskFeed) (*SyncPage, error) {
	ids := distinctTasks(f.Entries)
	list, err := s.tasksAtLeast(ctx, ids, backend.MinVersions(f.Entries))
	if err != nil {
		return nil, err
	}
	page := &SyncPage{Cursor: feedCursor(f.Len)}
	for _, t := range list {
		if t.HasMember(user) {
			page.Tasks = append(page.Tasks, t)
		}
	}
	slices.SortFunc(page.Tasks, func(a, b *backend.Task) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return page, nil
}

// syncAfter is a delta: the tasks named by the next SyncPageSize entries
// after position after.
func (s *Service) syncAfter(ctx context.Context, user string, f *backend.TaskFeed, after int64) (*SyncPage, error) {
	entries := f.After(after, SyncPageSize)
	if len(entries) == 0 {
		return &SyncPage{Cursor: feedCursor(max(after, f.Len))}, nil
	}
	last := entries[len(entries)-1].Pos
	page := &SyncPage{Cursor: feedCursor(last), More: last < f.Len}
	return page, s.fill(ctx, page, user, distinctTasks(entries), backend.MinVersions(f.Entries))
}

// distinctTasks lists the tasks entries name, each once, in the order of
// its first entry.
func distinctTasks(entries []backend.TaskFeedEntry) []string {
	seen := make(map[string]bool, len(entries))
	var ids []string
	for _, e := range entries {
		if !seen[e.TaskID] {
			seen[e.TaskID] = true
			ids = append(ids, e.TaskID)
		}
	}
	return ids
}

// fill puts each of ids in page: the task as it is now (at least the
// version min names: see tasksAtLeast) if the user is in its group, its
// id as removed otherwise.
func (s *Service) fill(ctx context.Context, page *SyncPage, user string, ids []string, min map[string]int64) error {
	tasks, err := s.tasksAtLeast(ctx, ids, min)
	if err != nil {
		return err
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
	return nil
}

// feedsReady reports whether syncs may read the task feeds: once they are
// built (BuildFeeds). A build that fails leaves syncs on the inbox path,
// which is slower but as exact, for feedsRetryAfter.
func (s *Service) feedsReady(ctx context.Context) bool {
	if s.feedsBuilt.Load() {
		return true
	}
	if time.Now().UnixNano() < s.feedsRetry.Load() {
		return false
	}
	_, err := s.BuildFeeds(ctx)
	return err == nil
}

// BuildFeeds makes the task feeds ready (backend.TaskFeedStore.BuildTaskFeeds)
// and returns how many entries it appended: 0, and one lookup by _id,
// once they are. The server runs it at start, before it takes requests
// (and in maintenance, until it succeeds); a sync runs it when they are
// not ready yet (a database created since the server started).
func (s *Service) BuildFeeds(ctx context.Context) (int, error) {
	if s.feedsBuilt.Load() {
		return 0, nil
	}
	s.feedsBuild.Lock()
	defer s.feedsBuild.Unlock()
	if s.feedsBuilt.Load() {
		return 0, nil
	}
	n, err := s.Feeds.BuildTaskFeeds(ctx)
	if err != nil {
		// Syncs leave it to maintenance for a while: a build that fails
		// (a slow store, a timeout) would fail again at every sync.
		s.feedsRetry.Store(time.Now().Add(feedsRetryAfter).UnixNano())
		return 0, err
	}
	s.feedsBuilt.Store(true)
	return n, nil
}

// syncInbox is the sync from before task feeds, on the inbox: the cursor
// is the Seq of the caller's stream (every change to a task writes an
// entry for each member, and one for a member taken away). It answers
// while the feeds are not built.
func (s *Service) syncInbox(ctx context.Context, user, since string) (*SyncPage, error) {
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
	after, _ := strconv.ParseInt(since, 10, 64) // parsed by Sync
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
	return page, s.fill(ctx, page, user, ids, nil) // no versions: every task from the store
}
