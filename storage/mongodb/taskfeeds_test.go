package mongodb_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
	"suiji/storage/mongodb"
	"suiji/storage/storagetest"
)

// TestTaskFeedConcurrentAppends: writers appending at once to the same
// feeds (several users per call, like a dispatch chunk) lose nothing:
// each feed holds every task id appended to it, at positions 1…n without
// gaps or repeats, each writer's ids in the order it appended them.
func TestTaskFeedConcurrentAppends(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.TaskFeeds()
	const writers, calls = 6, 10
	users := []string{"u1", "u2", "u3"}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				feeds := map[string][]backend.TaskFeedEntry{}
				for _, u := range users {
					feeds[u] = plainEntries(fmt.Sprintf("w%d-%02d-a", w, i), fmt.Sprintf("w%d-%02d-b", w, i))
				}
				if err := store.AppendTaskFeeds(t.Context(), feeds); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := int64(writers * calls * 2)
	for _, u := range users {
		f, err := store.TaskFeed(t.Context(), u, 0)
		if err != nil {
			t.Fatal(err)
		}
		if f.Len != want || int64(len(f.Entries)) != want {
			t.Fatalf("%s: len %d with %d entries, want %d", u, f.Len, len(f.Entries), want)
		}
		last := map[int]string{}
		for i, e := range f.Entries {
			if e.Pos != int64(i+1) {
				t.Fatalf("%s: entry %d at position %d", u, i, e.Pos)
			}
			var w, call int
			var part string
			if _, err := fmt.Sscanf(e.TaskID, "w%d-%02d-%s", &w, &call, &part); err != nil {
				t.Fatalf("%s: entry %q: %v", u, e.TaskID, err)
			}
			// One call's ids are consecutive, and a writer's calls in order.
			if part == "b" && (i == 0 || f.Entries[i-1].TaskID != fmt.Sprintf("w%d-%02d-a", w, call)) {
				t.Fatalf("%s: %s does not follow its call's first id", u, e.TaskID)
			}
			if prev, ok := last[w]; ok && prev >= e.TaskID {
				t.Fatalf("%s: writer %d's %s after %s", u, w, e.TaskID, prev)
			}
			last[w] = e.TaskID
		}
	}
	// A user with no feed has an empty one.
	if f, err := store.TaskFeed(t.Context(), "nobody", 0); err != nil || f.Len != 0 || len(f.Entries) != 0 {
		t.Fatalf("no feed: %+v %v", f, err)
	}
}

// TestTaskFeedAppendToManyUsers: one append to the feeds of as many users
// as a dispatch chunk names, made twice (the second time every feed
// exists), completes — on FerretDB v1 a single update command of a
// hundred updates of existing documents would wait forever for a SQLite
// connection (see appendChunk) — and each feed holds both entries.
func TestTaskFeedAppendToManyUsers(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.TaskFeeds()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for round := range 2 {
		feeds := map[string][]backend.TaskFeedEntry{}
		for i := range 150 {
			feeds[fmt.Sprintf("u%03d", i)] = plainEntries(fmt.Sprintf("t%d-%d", i, round))
		}
		if err := store.AppendTaskFeeds(ctx, feeds); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	for _, i := range []int{0, 77, 149} {
		u := fmt.Sprintf("u%03d", i)
		f, err := store.TaskFeed(ctx, u, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []backend.TaskFeedEntry{{Pos: 1, TaskID: fmt.Sprintf("t%d-0", i)}, {Pos: 2, TaskID: fmt.Sprintf("t%d-1", i)}}
		if f.Len != 2 || !slices.Equal(f.Entries, want) {
			t.Fatalf("%s: %+v", u, f)
		}
	}
}

// TestTaskFeedCompaction: compaction keeps the last entry of each task
// at its position, so every cursor still reads every task changed after
// it; it loses to an append made since the feed was read; appends go on
// after it at the next positions. The user's id holds characters a field
// name may not ('.', '$'), and another user's feed is left alone.
func TestTaskFeedCompaction(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.TaskFeeds()
	ctx := t.Context()
	const user, other = "u.$1", "u"
	appendIDs := func(ids ...string) {
		t.Helper()
		if err := store.AppendTaskFeeds(ctx, map[string][]backend.TaskFeedEntry{user: plainEntries(ids...), other: plainEntries("z")}); err != nil {
			t.Fatal(err)
		}
	}
	read := func() *backend.TaskFeed {
		t.Helper()
		f, err := store.TaskFeed(ctx, user, 0)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	named := func(f *backend.TaskFeed, after int64) []string {
		var out []string
		for _, e := range f.After(after, 0) {
			if !slices.Contains(out, e.TaskID) {
				out = append(out, e.TaskID)
			}
		}
		slices.Sort(out)
		return out
	}
	appendIDs("a", "b", "a", "c", "b", "a") // positions 1…6
	stale := read()
	appendIDs("d") // 7: the compaction of a feed read before it loses
	if ok, err := store.CompactTaskFeed(ctx, stale); err != nil || ok {
		t.Fatalf("a compaction of a stale read: %v %v", ok, err)
	}
	f := read()
	if ok, err := store.CompactTaskFeed(ctx, f); err != nil || !ok {
		t.Fatalf("compaction: %v %v", ok, err)
	}
	after := read()
	want := []backend.TaskFeedEntry{{Pos: 4, TaskID: "c"}, {Pos: 5, TaskID: "b"}, {Pos: 6, TaskID: "a"}, {Pos: 7, TaskID: "d"}}
	if after.Len != 7 || !slices.Equal(after.Entries, want) {
		t.Fatalf("compacted: len %d %v, want 7 %v", after.Len, after.Entries, want)
	}
	full := []string{"a", "b", "a", "c", "b", "a", "d"} // every entry appended, positions 1…7
	for c := int64(0); c <= 7; c++ {
		var want []string
		for _, id := range full[c:] {
			if !slices.Contains(want, id) {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		if got := named(after, c); !slices.Equal(got, want) {
			t.Fatalf("after cursor %d the compacted feed names %v, want %v", c, got, want)
		}
	}
	// Appends continue at the next positions, after the kept entries.
	appendIDs("e", "c")
	f = read()
	if f.Len != 9 || len(f.Entries) != 6 || f.Entries[4] != (backend.TaskFeedEntry{Pos: 8, TaskID: "e"}) || f.Entries[5] != (backend.TaskFeedEntry{Pos: 9, TaskID: "c"}) {
		t.Fatalf("appended after compaction: len %d %v", f.Len, f.Entries)
	}
	// A second compaction merges the kept entries with the new ones.
	if ok, err := store.CompactTaskFeed(ctx, f); err != nil || !ok {
		t.Fatalf("second compaction: %v %v", ok, err)
	}
	want = []backend.TaskFeedEntry{{Pos: 5, TaskID: "b"}, {Pos: 6, TaskID: "a"}, {Pos: 7, TaskID: "d"}, {Pos: 8, TaskID: "e"}, {Pos: 9, TaskID: "c"}}
	if f = read(); f.Len != 9 || !slices.Equal(f.Entries, want) {
		t.Fatalf("compacted twice: len %d %v, want %v", f.Len, f.Entries, want)
	}
	// Nothing to drop: nothing written.
	if ok, err := store.CompactTaskFeed(ctx, f); err != nil || ok {
		t.Fatalf("compaction of a compact feed: %v %v", ok, err)
	}
	if o, err := store.TaskFeed(ctx, other, 0); err != nil || o.Len != 3 || len(o.Entries) != 3 || o.Entries[2] != (backend.TaskFeedEntry{Pos: 3, TaskID: "z"}) {
		t.Fatalf("the other user's feed: %+v %v", o, err)
	}
}

// TestBuildTaskFeeds: on a database whose inbox predates the feeds, the
// build appends to each user's feed the tasks their entries name, each
// once, keeps what writers appended meanwhile, marks the feeds ready,
// and does nothing the second time.
func TestBuildTaskFeeds(t *testing.T) {
	db := storagetest.Mongo(t)
	ctx := t.Context()
	store := db.TaskFeeds()
	now := time.Now().UTC()
	var notes []*backend.Notification
	for i, x := range []struct{ user, task string }{{"u1", "t1"}, {"u2", "t1"}, {"u1", "t2"}, {"u1", "t1"}, {"u2", ""}, {"u3", "t3"}} {
		notes = append(notes, &backend.Notification{ID: fmt.Sprintf("n%d", i), UserID: x.user, TaskID: x.task, Kind: backend.NoteTaskAssigned, CreatedAt: now})
	}
	if _, err := db.Notifications().AppendNotifications(ctx, notes); err != nil {
		t.Fatal(err)
	}
	if ready, err := store.TaskFeedsReady(ctx); err != nil || ready {
		t.Fatalf("ready before the build: %v %v", ready, err)
	}
	if err := store.AppendTaskFeeds(ctx, map[string][]backend.TaskFeedEntry{"u3": plainEntries("t4")}); err != nil { // a writer, meanwhile
		t.Fatal(err)
	}
	n, err := store.BuildTaskFeeds(ctx)
	if err != nil || n != 4 {
		t.Fatalf("build: %d %v, want 4 entries", n, err)
	}
	ids := func(u string) []string {
		f, err := store.TaskFeed(ctx, u, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range f.Entries {
			out = append(out, e.TaskID)
		}
		return out
	}
	for u, want := range map[string][]string{"u1": {"t2", "t1"}, "u2": {"t1"}, "u3": {"t4", "t3"}} {
		if got := ids(u); !slices.Equal(got, want) {
			t.Fatalf("%s's feed %v, want %v", u, got, want)
		}
	}
	if ready, err := store.TaskFeedsReady(ctx); err != nil || !ready {
		t.Fatalf("not ready after the build: %v %v", ready, err)
	}
	if n, err := store.BuildTaskFeeds(ctx); err != nil || n != 0 {
		t.Fatalf("second build: %d %v", n, err)
	}
	if got := ids("u1"); len(got) != 2 {
		t.Fatalf("the second build appended: %v", got)
	}
}

// plainEntries are feed entries naming no version, as before versions.
func plainEntries(ids ...string) []backend.TaskFeedEntry {
	out := make([]backend.TaskFeedEntry, len(ids))
	for i, id := range ids {
		out[i] = backend.TaskFeedEntry{TaskID: id}
	}
	return out
}

// TestTaskFeedVersions: entries keep the version they name through a
// store round trip (a bare id from before versions reads as 0), and
// compaction keeps for each task what backend.MinVersions asks of all its
// entries — the highest version, even when racing writers appended a
// lower one last, and 0 when the last entry named none.
func TestTaskFeedVersions(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.TaskFeeds()
	ctx := t.Context()
	const user = "u1"
	in := []backend.TaskFeedEntry{
		{TaskID: "a", Version: 1}, {TaskID: "b", Version: 2}, {TaskID: "a", Version: 3}, {TaskID: "a", Version: 2}, // a: 3 then a late 2
		{TaskID: "c", Version: 4}, {TaskID: "c"}, // c: last names none
		{TaskID: "d", Version: 12345678901},
	}
	if err := store.AppendTaskFeeds(ctx, map[string][]backend.TaskFeedEntry{user: in}); err != nil {
		t.Fatal(err)
	}
	f, err := store.TaskFeed(ctx, user, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range f.Entries {
		want := in[i]
		want.Pos = int64(i + 1)
		if e != want {
			t.Fatalf("entry %d read back as %+v, want %+v", i, e, want)
		}
	}
	wantMin := map[string]int64{"a": 3, "b": 2, "c": 0, "d": 12345678901}
	if got := backend.MinVersions(f.Entries); !maps.Equal(got, wantMin) {
		t.Fatalf("MinVersions %v, want %v", got, wantMin)
	}
	if ok, err := store.CompactTaskFeed(ctx, f); err != nil || !ok {
		t.Fatalf("compaction: %v %v", ok, err)
	}
	after, err := store.TaskFeed(ctx, user, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []backend.TaskFeedEntry{{Pos: 2, TaskID: "b", Version: 2}, {Pos: 4, TaskID: "a", Version: 3}, {Pos: 6, TaskID: "c"}, {Pos: 7, TaskID: "d", Version: 12345678901}}
	if !slices.Equal(after.Entries, want) {
		t.Fatalf("compacted %v, want %v", after.Entries, want)
	}
	if got := backend.MinVersions(after.Entries); !maps.Equal(got, wantMin) {
		t.Fatalf("MinVersions after compaction %v, want %v", got, wantMin)
	}
}

// TestTaskFeedMirror: two instances (two DBs on one database). Each
// answers feeds from its copy: the instance that appended shows the
// append at once; the other shows its copy — up to a second stale, never
// beyond — unless asked for at least more entries than it holds (a
// cursor the first handed out), which it then reads from the store; after
// the interval it shows the append, and a compaction, by itself.
func TestTaskFeedMirror(t *testing.T) {
	a := storagetest.Mongo(t)
	ctx := t.Context()
	b, _ := storagetest.SecondInstance(t, a, storagetest.Redis(t))
	here, there := a.TaskFeeds(), b.TaskFeeds()
	const user = "u1"
	add := func(ids ...string) {
		t.Helper()
		if err := here.AppendTaskFeeds(ctx, map[string][]backend.TaskFeedEntry{user: plainEntries(ids...), "u2": plainEntries("z")}); err != nil {
			t.Fatal(err)
		}
	}
	length := func(s *mongodb.TaskFeedStore, atLeast int64) int64 {
		t.Helper()
		f, err := s.TaskFeed(ctx, user, atLeast)
		if err != nil {
			t.Fatal(err)
		}
		return f.Len
	}
	add("a")
	if n := length(here, 0); n != 1 {
		t.Fatalf("the appending instance: len %d, want 1", n)
	}
	read := time.Now()
	if n := length(there, 0); n != 1 {
		t.Fatalf("the other instance's first read: len %d, want 1", n)
	}
	add("b", "a")
	if n := length(here, 0); n != 3 {
		t.Fatalf("the appending instance after its append: len %d, want 3", n)
	}
	n := length(there, 0)
	if time.Since(read) < time.Second && n != 1 {
		t.Fatalf("the other instance within a second of its read: len %d, want its copy's 1", n)
	} else if n != 1 && n != 3 {
		t.Fatalf("the other instance: len %d, want 1 or 3", n)
	}
	if n := length(there, 3); n != 3 {
		t.Fatalf("the other instance asked for at least 3: len %d", n)
	}
	fresh := func(want int64, entries int) {
		t.Helper()
		err := storagetest.Eventually(ctx, 5*time.Second, func(ctx context.Context) error {
			f, err := there.TaskFeed(ctx, user, 0)
			if err == nil && (f.Len != want || len(f.Entries) != entries) {
				err = fmt.Errorf("len %d with %d entries", f.Len, len(f.Entries))
			}
			return err
		})
		if err != nil {
			t.Fatalf("the other instance never showed len %d with %d entries: %v", want, entries, err)
		}
	}
	fresh(3, 3)
	f, err := here.TaskFeed(ctx, user, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := here.CompactTaskFeed(ctx, f); err != nil || !ok {
		t.Fatalf("compaction: %v %v", ok, err)
	}
	if f, err := here.TaskFeed(ctx, user, 0); err != nil || len(f.Entries) != 2 {
		t.Fatalf("the compacting instance: %+v %v, want 2 entries", f, err)
	}
	fresh(3, 2)
	if f, err := there.TaskFeed(ctx, "u2", 0); err != nil || f.Len != 2 {
		t.Fatalf("another user's feed: %+v %v", f, err)
	}
}

// TestTaskFeedFold: appends go to the log, and folds move it into the
// buckets and bury what every bucket holds — behind appends (every
// FoldEvery of them) and when asked — without changing any feed: the
// appending instance, another instance's first read and a read from the
// store (a position beyond any copy) all see each feed whole, at
// positions 1…n, before and after; appends after a fold continue at the
// next positions; a folded number stays taken. One user's id is no field
// name ('.', '$'): the fold finds its bucket from its key.
func TestTaskFeedFold(t *testing.T) {
	db := storagetest.Mongo(t)
	ctx := t.Context()
	store := db.TaskFeeds()
	users := []string{"u.$1", "u2", "u3", "u4"}
	want := map[string][]string{}
	add := func(round int) {
		t.Helper()
		feeds := map[string][]backend.TaskFeedEntry{}
		for i, u := range users[:1+round%len(users)] {
			id := fmt.Sprintf("t%03d-%d", round, i)
			feeds[u] = plainEntries(id)
			want[u] = append(want[u], id)
		}
		if err := store.AppendTaskFeeds(ctx, feeds); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		other, _ := storagetest.SecondInstance(t, db, storagetest.Redis(t))
		for _, u := range users {
			for name, read := range map[string]func() (*backend.TaskFeed, error){
				"this instance":    func() (*backend.TaskFeed, error) { return store.TaskFeed(ctx, u, 0) },
				"another instance": func() (*backend.TaskFeed, error) { return other.TaskFeeds().TaskFeed(ctx, u, 0) },
				"the store":        func() (*backend.TaskFeed, error) { return store.TaskFeed(ctx, u, 1<<40) },
			} {
				f, err := read()
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for i, e := range f.Entries {
					if e.Pos != int64(i+1) {
						t.Fatalf("%s, %s, %s: entry %d at position %d", when, name, u, i, e.Pos)
					}
					got = append(got, e.TaskID)
				}
				if f.Len != int64(len(want[u])) || !slices.Equal(got, want[u]) {
					t.Fatalf("%s, %s, %s: len %d %v, want %v", when, name, u, f.Len, got, want[u])
				}
			}
		}
	}
	// Log documents not yet folded (a folded one stays as a tombstone).
	logDocs := func() int64 {
		t.Helper()
		n, err := db.Database().Collection("task_feeds").CountDocuments(ctx, bson.D{
			{Key: "_id", Value: bson.D{{Key: "$regex", Value: "^log-"}}}, {Key: "folded_at", Value: bson.D{{Key: "$exists", Value: false}}}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for round := range mongodb.FoldEvery - 1 {
		add(round)
	}
	if n := logDocs(); n != mongodb.FoldEvery-1 {
		t.Fatalf("%d log documents before the first fold, want %d", n, mongodb.FoldEvery-1)
	}
	check("before any fold")
	// The FoldEvery-th append folds behind itself.
	add(mongodb.FoldEvery - 1)
	err := storagetest.Eventually(ctx, 10*time.Second, func(context.Context) error {
		if n := logDocs(); n != 0 {
			return fmt.Errorf("%d log documents left", n)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the fold behind the %dth append: %v", mongodb.FoldEvery, err)
	}
	check("after the fold behind an append")
	for round := mongodb.FoldEvery; round < mongodb.FoldEvery+5; round++ {
		add(round)
	}
	check("with the log after a fold")
	if err := store.Fold(ctx); err != nil {
		t.Fatal(err)
	}
	if n := logDocs(); n != 0 {
		t.Fatalf("%d log documents after a fold", n)
	}
	check("after a second fold")
	// A writer that read the head before the folds cannot take a folded
	// number again: its insert loses to the tombstone.
	_, err = db.Database().Collection("task_feeds").InsertOne(ctx, bson.D{{Key: "_id", Value: "log-1"}, {Key: "users", Value: bson.D{{Key: "u2", Value: bson.A{"late"}}}}})
	if code := backend.ErrorCode(mongodb.Translate(err)); code != backend.ECONFLICT {
		t.Fatalf("inserting a folded log number: %v (code %q), want ECONFLICT", err, code)
	}
	check("after a late writer lost")
}

// TestTaskFeedFoldWithConcurrentWriters: appends from two instances,
// compactions and folds (behind appends and asked for) all at once lose
// no entry and repeat none: in the end each feed's length is the number
// of entries appended to it, its positions rise, it names every task
// appended to it, and a compaction happened along the way.
func TestTaskFeedFoldWithConcurrentWriters(t *testing.T) {
	db := storagetest.Mongo(t)
	ctx := t.Context()
	other, _ := storagetest.SecondInstance(t, db, storagetest.Redis(t))
	stores := []*mongodb.TaskFeedStore{db.TaskFeeds(), other.TaskFeeds()}
	users := []string{"u1", "u.$2", "u3"}
	const writers, calls = 4, 3 * mongodb.FoldEvery
	var wg sync.WaitGroup
	errs := make(chan error, writers+2)
	stop := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for i := range calls {
				feeds := map[string][]backend.TaskFeedEntry{}
				for _, u := range users {
					// Tasks repeat, so compaction has entries to drop.
					feeds[u] = plainEntries(fmt.Sprintf("w%d-t%d", w, i%5))
				}
				if err := stores[w%2].AppendTaskFeeds(ctx, feeds); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var compacted sync.Map
	var side sync.WaitGroup
	side.Go(func() { // compactions, from either instance
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			u := users[i%len(users)]
			s := stores[i%2]
			f, err := s.TaskFeed(ctx, u, 0)
			if err == nil {
				var ok bool
				if ok, err = s.CompactTaskFeed(ctx, f); ok {
					compacted.Store(u, true)
				}
			}
			if err != nil {
				errs <- err
				return
			}
		}
	})
	side.Go(func() { // folds asked for, beside those behind the appends
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if err := stores[i%2].Fold(ctx); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(stop)
	side.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := stores[0].Fold(ctx); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		f, err := stores[0].TaskFeed(ctx, u, 1<<40) // from the store
		if err != nil {
			t.Fatal(err)
		}
		if f.Len != writers*calls {
			t.Errorf("%s: len %d, want %d", u, f.Len, writers*calls)
		}
		named := map[string]bool{}
		for i, e := range f.Entries {
			if i > 0 && e.Pos <= f.Entries[i-1].Pos || e.Pos > f.Len {
				t.Fatalf("%s: entry %d at position %d after %d (len %d)", u, i, e.Pos, f.Entries[max(i-1, 0)].Pos, f.Len)
			}
			named[e.TaskID] = true
		}
		for w := range writers {
			for j := range 5 {
				if id := fmt.Sprintf("w%d-t%d", w, j); !named[id] {
					t.Errorf("%s: the feed does not name %s", u, id)
				}
			}
		}
	}
	// Compactions mostly lose to the appends while they run (each is a
	// compare-and-set on the length); once they stop, one wins, and the
	// feed still names every task at the same length.
	for _, u := range users {
		f, err := stores[1].TaskFeed(ctx, u, 1<<40)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := stores[1].CompactTaskFeed(ctx, f); err != nil || !ok {
			t.Fatalf("%s: compaction after the writers: %v %v", u, ok, err)
		}
		after, err := stores[0].TaskFeed(ctx, u, 1<<40)
		if err != nil {
			t.Fatal(err)
		}
		if after.Len != f.Len || after.Distinct() != writers*5 || len(after.Entries) != writers*5 {
			t.Errorf("%s compacted: len %d with %d entries naming %d tasks, want len %d and %d of each", u, after.Len, len(after.Entries), after.Distinct(), f.Len, writers*5)
		}
	}
	n := 0
	compacted.Range(func(any, any) bool { n++; return true })
	t.Logf("compactions that won while the writers ran: %d of %d users", n, len(users))
}
