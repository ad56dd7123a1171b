package backend

import "context"

// TaskFeed is a user's task feed: the ids of the tasks that changed in a
// way that concerns the user (assigned, changed, cancelled, the user
// replaced out), one entry per change, in the order they were appended.
// Entry positions count every entry ever appended, 1, 2, 3 … without
// gaps, so a position is a sync cursor: "what changed after position c"
// is the entries after c. Compaction drops an entry only when a later
// entry names the same task, so reading from any cursor still names every
// task changed after it — the entries' positions stay as they were.
type TaskFeed struct {
	UserID string
	// Len is the position of the last entry ever appended (0 for none):
	// the cursor that covers the whole feed.
	Len int64
	// Entries are the entries kept, by position.
	Entries []TaskFeedEntry
}

// TaskFeedEntry is one entry of a task feed: the change of TaskID that
// made the task's stored Version that (0: not known — entries from before
// feeds named versions, and those built from the inbox).
type TaskFeedEntry struct {
	Pos     int64
	TaskID  string
	Version int64
}

// MinVersions returns, for each task f names, the version a reader must
// show at least so as to show every change f names: the highest version its
// entries name, or 0 (any version may be stale: read the store) when its
// last entry names none. Versions name changes in order, but entries may
// be appended out of order by racing writers, hence the highest.
func MinVersions(entries []TaskFeedEntry) map[string]int64 {
	out := make(map[string]int64, len(entries))
	unknown := map[string]bool{}
	for _, e := range entries { // by position: the last entry decides "unknown"
		unknown[e.TaskID] = e.Version == 0
		out[e.TaskID] = max(out[e.TaskID], e.Version)
	}
	for id, u := range unknown {
		if u {
			out[id] = 0
		}
	}
	return out
}

// After returns the entries of f after position c, at most limit (0: all).
func (f *TaskFeed) After(c int64, limit int) []TaskFeedEntry {
	lo, hi := 0, len(f.Entries)
	for lo < hi { // the first entry after c
		mid := (lo + hi) / 2
		if f.Entries[mid].Pos <= c {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	out := f.Entries[lo:]
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Distinct returns how many different tasks f names.
func (f *TaskFeed) Distinct() int {
	seen := make(map[string]struct{}, len(f.Entries))
	for _, e := range f.Entries {
		seen[e.TaskID] = struct{}{}
	}
	return len(seen)
}

// TaskFeedStore keeps every user's task feed, each read and written by
// the _id of the document that holds it: an index lookup on MongoDB, and
// on FerretDB v1 the one filter it does not decode every document for.
type TaskFeedStore interface {
	// AppendTaskFeeds appends, for each user of feeds, its entries (task
	// and version; Pos is the store's to assign) in order as the next
	// entries of the user's feed (creating it), each user's in one atomic
	// write: concurrent appends to one feed take consecutive positions,
	// none lost, none shared. A repeat appends again (a task named twice
	// is only sent twice).
	AppendTaskFeeds(ctx context.Context, feeds map[string][]TaskFeedEntry) error
	// TaskFeed returns a user's feed (Len 0 and no entries when there is
	// none). It may answer from the instance's copy of the feeds, up to a
	// second stale for writes through other instances (a sync's cursor
	// then stands earlier: the next sync brings the rest), unless that
	// copy holds fewer than atLeast entries (a cursor another instance
	// handed out): then from the store.
	TaskFeed(ctx context.Context, userID string, atLeast int64) (*TaskFeed, error)
	// CompactTaskFeed drops the entries of f (the feed as read) that a
	// later entry of the same task makes redundant (the one kept names
	// the task's MinVersions), unless the feed was
	// appended to since f was read; it reports whether it did.
	CompactTaskFeed(ctx context.Context, f *TaskFeed) (bool, error)
	// TaskFeedsReady reports whether every user's feed is complete: built
	// from the inbox entries written before feeds existed
	// (BuildTaskFeeds), or started on a database that had none.
	TaskFeedsReady(ctx context.Context) (bool, error)
	// BuildTaskFeeds makes feeds ready, once: it appends the task of every
	// inbox entry written so far, in order, to its user's feed, then marks
	// the feeds ready. It returns how many entries it appended (0 when the
	// feeds were ready). Appends made meanwhile by writers are kept; a
	// build repeated after a crash appends again, which only repeats
	// entries.
	BuildTaskFeeds(ctx context.Context) (int, error)
}
