package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/app"
	"suiji/backend/cmd/wire"
	"suiji/backend/plans"
	"suiji/backend/tasks"
	"suiji/storage/mongodb"
	"suiji/storage/storagetest"
)

// syncWorld is a county with a dispatched plan: the services as the
// server wires them, on the real stack.
type syncWorld struct {
	svc   app.Services
	db    *mongodb.DB
	w     *storagetest.World
	staff context.Context
	tasks []*backend.Task // as dispatched
}

func newSyncWorld(t *testing.T) *syncWorld {
	t.Helper()
	db := storagetest.Mongo(t)
	svc := wire.Services(&wire.Stores{Mongo: db, Cache: storagetest.Redis(t)}, storagetest.Config(t), func() time.Time { return time.Now().UTC() })
	w := storagetest.NewWorld(t, db, 12)
	sw := &syncWorld{svc: svc, db: db, w: w,
		staff: backend.WithActor(t.Context(), &backend.Actor{UserID: "u-staff", Username: "staff", Roles: []backend.Role{backend.RoleStaff}, DepartmentID: w.Brigade.ID})}
	return sw
}

// dispatch drafts, approves, commits, draws and dispatches a plan of n
// enterprises in groups of two.
func (sw *syncWorld) dispatch(t *testing.T, n int) *tasks.Dispatched {
	t.Helper()
	out, err := sw.svc.Tasks.Dispatch(sw.staff, sw.drawn(t, n).ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range out.TaskIDs {
		sw.tasks = append(sw.tasks, sw.task(t, id))
	}
	return out
}

// drawn drafts, approves, commits and draws a plan of n enterprises in
// groups of two.
func (sw *syncWorld) drawn(t *testing.T, n int) *backend.Draw {
	t.Helper()
	leader := backend.WithActor(t.Context(), &backend.Actor{UserID: "u-leader", Username: "leader", Roles: []backend.Role{backend.RoleLeader}})
	p, err := sw.svc.Plans.CreatePlan(sw.staff, plans.Input{
		Year: 2026, Title: "抽查", Kind: backend.PlanUndirected, ItemIDs: sw.w.Items, LeadDepartmentID: sw.w.Brigade.ID,
		Sample: backend.PlanSample{Count: n}, GroupSize: 2, WindowStart: "2026-01-01", WindowEnd: "2026-12-31",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sw.svc.Plans.ApprovePlan(leader, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := sw.svc.Plans.CommitSeed(sw.staff, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	d, err := sw.svc.Plans.Draw(sw.staff, p.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// approve has a leader approve the committed replacement r, as every
// replacement is between its commit and its draw.
func (sw *syncWorld) approve(t *testing.T, r *backend.TaskReplacement) {
	t.Helper()
	leader := backend.WithActor(t.Context(), &backend.Actor{UserID: "u-leader", Username: "leader", Roles: []backend.Role{backend.RoleLeader}})
	if _, err := sw.svc.Tasks.DecideReplacement(leader, r.TaskID, r.ID, tasks.DecisionApprove, ""); err != nil {
		t.Fatal(err)
	}
}

func (sw *syncWorld) task(t *testing.T, id string) *backend.Task {
	t.Helper()
	task, err := sw.db.Tasks().FindTaskByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// inspector is the context of an inspector's phone.
func inspector(t *testing.T, user string) context.Context {
	return backend.WithActor(t.Context(), &backend.Actor{UserID: user, Username: user, Roles: []backend.Role{backend.RoleInspector}})
}

// sync syncs user's phone from since and returns the page.
func (sw *syncWorld) sync(t *testing.T, user, since string) *tasks.SyncPage {
	t.Helper()
	page, err := sw.svc.Tasks.Sync(inspector(t, user), since)
	if err != nil {
		t.Fatalf("sync of %s from %q: %v", user, since, err)
	}
	return page
}

// mine is the ids of the tasks user is in the group of now, sorted: what
// a phone must hold.
func (sw *syncWorld) mine(t *testing.T, user string) []string {
	t.Helper()
	list, _, err := sw.db.Tasks().FindTasks(t.Context(), backend.TaskFilter{MemberUserID: user, Limit: backend.TaskMaxLimit, NoTotal: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, task := range list {
		ids = append(ids, task.ID)
	}
	slices.Sort(ids)
	return ids
}

func ids(list []*backend.Task) []string {
	var out []string
	for _, task := range list {
		out = append(out, task.ID)
	}
	slices.Sort(out)
	return out
}

// phone is a phone's copy of its tasks, kept by syncing.
type phone struct {
	user   string
	cursor string
	tasks  map[string]*backend.Task
}

// catchUp syncs the phone until nothing more comes and returns how many
// pages it took.
func (sw *syncWorld) catchUp(t *testing.T, p *phone) int {
	t.Helper()
	for pages := 1; ; pages++ {
		page := sw.sync(t, p.user, p.cursor)
		for _, task := range page.Tasks {
			p.tasks[task.ID] = task
		}
		for _, id := range page.Removed {
			delete(p.tasks, id)
		}
		if before, ok := feedPos(p.cursor); ok {
			if next, ok := feedPos(page.Cursor); !ok || next < before {
				t.Fatalf("%s: the cursor went back from %s to %s", p.user, p.cursor, page.Cursor)
			}
		}
		p.cursor = page.Cursor
		if !page.More {
			return pages
		}
	}
}

// feedPos is the position a feed cursor stands for (tests know the
// format; phones do not).
func feedPos(cursor string) (int64, bool) {
	var n int64
	k, err := fmt.Sscanf(cursor, "f%d", &n)
	return n, k == 1 && err == nil
}

func (p *phone) held() []string {
	var out []string
	for id := range p.tasks {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// TestSyncFromTheFeed: a first sync lists the caller's tasks with a feed
// cursor; a delta after a dispatch brings the new tasks, after a
// cancellation the cancelled task, after a replacement the task as a
// tombstone to the member going out (once) and as a task to the one
// coming in; a delta with nothing new brings nothing and keeps the
// cursor; a cursor of the inbox path (a number) is answered from the
// start of the feed, tombstones included; a cursor that is not one is
// EINVALID.
func TestSyncFromTheFeed(t *testing.T) {
	sw := newSyncWorld(t)
	users := make([]string, len(sw.w.Inspectors))
	phones := map[string]*phone{}
	for i, in := range sw.w.Inspectors {
		users[i] = in.UserID
		p := &phone{user: in.UserID, tasks: map[string]*backend.Task{}}
		if sw.catchUp(t, p); p.cursor != "f0" || len(p.tasks) != 0 {
			t.Fatalf("first sync before any task: cursor %q, %d tasks", p.cursor, len(p.tasks))
		}
		phones[in.UserID] = p
	}

	sw.dispatch(t, 6)
	for _, u := range users {
		p := phones[u]
		before := p.cursor
		sw.catchUp(t, p)
		if got, want := p.held(), sw.mine(t, u); !slices.Equal(got, want) {
			t.Fatalf("%s after the dispatch holds %v, want %v", u, got, want)
		}
		if len(p.tasks) > 0 && p.cursor == before {
			t.Fatalf("%s: the cursor did not move", u)
		}
		// A first sync now gives the same tasks, and the same cursor.
		first := sw.sync(t, u, "")
		if got := ids(first.Tasks); !slices.Equal(got, p.held()) || first.Cursor != p.cursor || first.More || len(first.Removed) != 0 {
			t.Fatalf("%s: first sync %v cursor %s, delta %v cursor %s", u, got, first.Cursor, p.held(), p.cursor)
		}
		// Nothing new: nothing, and the same cursor.
		if page := sw.sync(t, u, p.cursor); len(page.Tasks)+len(page.Removed) != 0 || page.Cursor != p.cursor || page.More {
			t.Fatalf("%s: an idle delta %+v", u, page)
		}
	}

	// Cancelled: the members get it, cancelled.
	cancelled := sw.tasks[0]
	if _, err := sw.svc.Tasks.Cancel(sw.staff, cancelled.ID, 0, "企业已注销"); err != nil {
		t.Fatal(err)
	}
	for _, u := range cancelled.MemberUserIDs() {
		page := sw.sync(t, u, phones[u].cursor)
		if len(page.Tasks) != 1 || page.Tasks[0].ID != cancelled.ID || page.Tasks[0].State != backend.TaskCancelled || len(page.Removed) != 0 {
			t.Fatalf("%s after the cancellation: %+v", u, page)
		}
		sw.catchUp(t, phones[u])
	}

	// Replaced: the member going out gets a tombstone once, the one coming
	// in the task.
	task := sw.tasks[1]
	out := task.Members[0]
	r, err := sw.svc.Tasks.CommitReplacement(sw.staff, task.ID, out.BadgeNo, "回避", "")
	if err != nil {
		t.Fatal(err)
	}
	sw.approve(t, r)
	rec, err := sw.svc.Tasks.DrawReplacement(sw.staff, task.ID, r.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	var came string
	for _, in := range sw.w.Inspectors {
		if in.BadgeNo == rec.In {
			came = in.UserID
		}
	}
	page := sw.sync(t, out.UserID, phones[out.UserID].cursor)
	if len(page.Tasks) != 0 || !slices.Equal(page.Removed, []string{task.ID}) {
		t.Fatalf("the member going out: %+v", page)
	}
	if again := sw.sync(t, out.UserID, page.Cursor); len(again.Tasks)+len(again.Removed) != 0 {
		t.Fatalf("the tombstone came twice: %+v", again)
	}
	page = sw.sync(t, came, phones[came].cursor)
	if !slices.ContainsFunc(page.Tasks, func(x *backend.Task) bool { return x.ID == task.ID && x.HasMember(came) }) {
		t.Fatalf("the member coming in: %+v", page)
	}
	for _, u := range users {
		sw.catchUp(t, phones[u])
		if got, want := phones[u].held(), sw.mine(t, u); !slices.Equal(got, want) {
			t.Fatalf("%s holds %v, want %v", u, got, want)
		}
	}

	// A cursor of the inbox path: everything the feed names, tombstones
	// included, then feed cursors.
	legacy := &phone{user: out.UserID, cursor: "3", tasks: map[string]*backend.Task{task.ID: task}}
	page = sw.sync(t, out.UserID, "3")
	if !strings.HasPrefix(page.Cursor, "f") || !slices.Contains(page.Removed, task.ID) {
		t.Fatalf("an inbox cursor: %+v", page)
	}
	sw.catchUp(t, legacy)
	if got, want := legacy.held(), sw.mine(t, out.UserID); !slices.Equal(got, want) {
		t.Fatalf("a phone with an inbox cursor holds %v, want %v", got, want)
	}
	// A cursor beyond the feed (a restored database): everything again.
	if page := sw.sync(t, out.UserID, "f999999"); !slices.Contains(page.Removed, task.ID) {
		t.Fatalf("a cursor beyond the feed: %+v", page)
	}
	for _, bad := range []string{"x", "f", "f-1", "-1", "f+2", "ff2", "f2x"} {
		if _, err := sw.svc.Tasks.Sync(inspector(t, out.UserID), bad); backend.ErrorCode(err) != backend.EINVALID {
			t.Fatalf("cursor %q: %v", bad, err)
		}
	}
}

// TestSyncPagesAndCompaction: a feed longer than a page is read in pages
// that together miss nothing; syncs compact a feed that holds many
// entries for few tasks, and every cursor handed out before still reads
// every task changed after it.
func TestSyncPagesAndCompaction(t *testing.T) {
	sw := newSyncWorld(t)
	sw.dispatch(t, 4)
	user := sw.tasks[0].Members[0].UserID
	mine := sw.mine(t, user)
	p := &phone{user: user, tasks: map[string]*backend.Task{}}
	sw.catchUp(t, p)
	feeds := sw.db.TaskFeeds()
	// Many changes to the user's tasks (as notify appends them), and the
	// cursors a sync would have handed out along the way.
	var cursors []int64
	const changes = tasks.SyncPageSize + 100
	for i := range changes {
		if err := feeds.AppendTaskFeeds(t.Context(), map[string][]backend.TaskFeedEntry{user: {{TaskID: mine[i%len(mine)]}}}); err != nil {
			t.Fatal(err)
		}
		if i%97 == 0 {
			f, err := feeds.TaskFeed(t.Context(), user, 0)
			if err != nil {
				t.Fatal(err)
			}
			cursors = append(cursors, f.Len)
		}
	}
	// The phone pages through; the first page's sync compacts the feed.
	if pages := sw.catchUp(t, p); pages != 2 {
		t.Fatalf("%d pages for %d entries", pages, changes)
	}
	if got := p.held(); !slices.Equal(got, mine) {
		t.Fatalf("held %v, want %v", got, mine)
	}
	f, err := feeds.TaskFeed(t.Context(), user, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Entries) != len(mine) || f.Len < changes {
		t.Fatalf("after syncs the feed holds %d entries (len %d) for %d tasks", len(f.Entries), f.Len, len(mine))
	}
	// Every task changed in the last len(mine) appends, after every
	// cursor handed out: each still reads them all.
	for _, c := range cursors {
		q := &phone{user: user, cursor: feedCursor(c), tasks: map[string]*backend.Task{}}
		sw.catchUp(t, q)
		if got := q.held(); !slices.Equal(got, mine) {
			t.Fatalf("from position %d after compaction: %v, want %v", c, got, mine)
		}
	}
}

func feedCursor(pos int64) string { return fmt.Sprintf("f%d", pos) }

// crashingNotifier fails the next fail calls before they reach notify, as
// a process that dies after storing a task change and before telling
// anyone would.
type crashingNotifier struct {
	next tasks.Notifier
	fail atomic.Int32
}

var errCrash = errors.New("the process died here")

func (c *crashingNotifier) Notify(ctx context.Context, ns []*backend.Notification) error {
	if c.fail.Add(-1) >= 0 {
		return errCrash
	}
	return c.next.Notify(ctx, ns)
}

// TestSyncAfterACrashBeforeTheFeed: a change stored by a request that
// died before appending to the feeds is not in the members' deltas; the
// request repeated (as the client retries) appends it, and the next delta
// brings it — for a dispatch, a cancellation and a replacement.
func TestSyncAfterACrashBeforeTheFeed(t *testing.T) {
	sw := newSyncWorld(t)
	crash := &crashingNotifier{next: sw.svc.Tasks.Notifier}
	sw.svc.Tasks.Notifier = crash
	cursors := map[string]string{}
	for _, in := range sw.w.Inspectors {
		cursors[in.UserID] = sw.sync(t, in.UserID, "").Cursor
	}

	// Dispatch: the tasks are stored, nobody is told.
	crash.fail.Store(1)
	d := sw.drawn(t, 8)
	if _, err := sw.svc.Tasks.Dispatch(sw.staff, d.ID); !errors.Is(err, errCrash) {
		t.Fatalf("dispatch: %v", err)
	}
	// A member of the draw's groups (the draw is random).
	var user string
	for _, in := range sw.w.Inspectors {
		if len(sw.mine(t, in.UserID)) > 0 {
			user = in.UserID
			break
		}
	}
	if user == "" {
		t.Fatal("the dispatch stored no task of any inspector's")
	}
	if page := sw.sync(t, user, cursors[user]); len(page.Tasks) != 0 {
		t.Fatalf("a change nobody was told of is in the delta: %v", ids(page.Tasks))
	}
	out, err := sw.svc.Tasks.Dispatch(sw.staff, d.ID) // the retry
	if err != nil || out.Created != 0 {
		t.Fatalf("retried dispatch: %+v %v", out, err)
	}
	for _, in := range sw.w.Inspectors {
		page := sw.sync(t, in.UserID, cursors[in.UserID])
		if got, want := ids(page.Tasks), sw.mine(t, in.UserID); !slices.Equal(got, want) {
			t.Fatalf("%s after the retried dispatch: %v, want %v", in.UserID, got, want)
		}
		cursors[in.UserID] = page.Cursor
	}
	for _, id := range out.TaskIDs {
		sw.tasks = append(sw.tasks, sw.task(t, id))
	}

	// Cancel: stored, then the process dies; the repeat answers 409 and
	// tells the group.
	task := sw.tasks[0]
	crash.fail.Store(1)
	if _, err := sw.svc.Tasks.Cancel(sw.staff, task.ID, 0, "企业已注销"); !errors.Is(err, errCrash) {
		t.Fatalf("cancel: %v", err)
	}
	member := task.Members[0].UserID
	if page := sw.sync(t, member, cursors[member]); len(page.Tasks) != 0 {
		t.Fatalf("a cancellation nobody was told of is in the delta: %v", ids(page.Tasks))
	}
	if _, err := sw.svc.Tasks.Cancel(sw.staff, task.ID, 0, "企业已注销"); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("repeated cancel: %v", err)
	}
	for _, m := range task.MemberUserIDs() {
		page := sw.sync(t, m, cursors[m])
		if len(page.Tasks) != 1 || page.Tasks[0].State != backend.TaskCancelled {
			t.Fatalf("%s after the repeated cancel: %+v", m, page)
		}
		cursors[m] = page.Cursor
	}

	// Replacement: the group changed, then the process died; the repeated
	// draw changes nothing more and tells everyone.
	task = sw.tasks[1]
	going := task.Members[0]
	r, err := sw.svc.Tasks.CommitReplacement(sw.staff, task.ID, going.BadgeNo, "回避", "")
	if err != nil {
		t.Fatal(err)
	}
	sw.approve(t, r)
	crash.fail.Store(1)
	if _, err := sw.svc.Tasks.DrawReplacement(sw.staff, task.ID, r.ID, ""); !errors.Is(err, errCrash) {
		t.Fatalf("replacement draw: %v", err)
	}
	if sw.task(t, task.ID).HasMember(going.UserID) {
		t.Fatal("the replacement was not stored")
	}
	if page := sw.sync(t, going.UserID, cursors[going.UserID]); len(page.Removed) != 0 {
		t.Fatalf("a replacement nobody was told of is in the delta: %+v", page)
	}
	if _, err := sw.svc.Tasks.DrawReplacement(sw.staff, task.ID, r.ID, ""); err != nil {
		t.Fatalf("repeated replacement draw: %v", err)
	}
	if page := sw.sync(t, going.UserID, cursors[going.UserID]); !slices.Equal(page.Removed, []string{task.ID}) {
		t.Fatalf("the member going out after the repeat: %+v", page)
	}
}

// TestSyncBeforeTheFeedsAreBuilt: a database whose tasks and inbox were
// written before feeds existed. While the feeds cannot be built, syncs
// answer from the inbox with its numeric cursors; once built, a phone's
// inbox cursor is answered from the start of the feed — its tasks and a
// tombstone for the task it was taken off — and it moves on to feed
// cursors; a first sync lists the tasks from the feed.
func TestSyncBeforeTheFeedsAreBuilt(t *testing.T) {
	sw := newSyncWorld(t)
	// The tasks and inbox as the previous version left them: no feeds.
	notifier := sw.svc.Notify
	feeds := notifier.Feeds
	notifier.Feeds = noFeeds{feeds}
	sw.dispatch(t, 6)
	task := sw.tasks[0]
	going := task.Members[0]
	r, err := sw.svc.Tasks.CommitReplacement(sw.staff, task.ID, going.BadgeNo, "回避", "")
	if err != nil {
		t.Fatal(err)
	}
	sw.approve(t, r)
	if _, err := sw.svc.Tasks.DrawReplacement(sw.staff, task.ID, r.ID, ""); err != nil {
		t.Fatal(err)
	}
	notifier.Feeds = feeds
	if f, err := feeds.TaskFeed(t.Context(), going.UserID, 0); err != nil || f.Len != 0 {
		t.Fatalf("a feed before the build: %+v %v", f, err)
	}

	// The build fails: the inbox answers.
	old := &tasks.Service{Tasks: sw.db.Tasks(), Feeds: failingBuild{feeds}, Inbox: sw.db.Notifications()}
	ctx := inspector(t, going.UserID)
	first, err := old.Sync(ctx, "")
	if err != nil || strings.HasPrefix(first.Cursor, "f") || slices.ContainsFunc(first.Tasks, func(x *backend.Task) bool { return x.ID == task.ID }) {
		t.Fatalf("first sync from the inbox: %+v %v", first, err)
	}
	inboxCursor := "1" // a phone that synced before the replacement
	page, err := old.Sync(ctx, inboxCursor)
	if err != nil || !slices.Contains(page.Removed, task.ID) || strings.HasPrefix(page.Cursor, "f") {
		t.Fatalf("delta from the inbox: %+v %v", page, err)
	}

	// Built (by the first sync of a fresh service): feed cursors.
	fresh := &tasks.Service{Tasks: sw.db.Tasks(), Feeds: feeds, Inbox: sw.db.Notifications()}
	p := &phone{user: going.UserID, cursor: inboxCursor, tasks: map[string]*backend.Task{task.ID: task}}
	page, err = fresh.Sync(ctx, p.cursor)
	if err != nil || !strings.HasPrefix(page.Cursor, "f") || !slices.Contains(page.Removed, task.ID) {
		t.Fatalf("an inbox cursor once the feeds are built: %+v %v", page, err)
	}
	sw.catchUpWith(t, fresh, p)
	if got, want := p.held(), sw.mine(t, going.UserID); !slices.Equal(got, want) {
		t.Fatalf("the phone holds %v, want %v", got, want)
	}
	for _, in := range sw.w.Inspectors {
		first, err := fresh.Sync(inspector(t, in.UserID), "")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(first.Tasks), sw.mine(t, in.UserID); !slices.Equal(got, want) {
			t.Fatalf("%s's first sync from the built feed: %v, want %v", in.UserID, got, want)
		}
	}
	if ready, err := feeds.TaskFeedsReady(t.Context()); err != nil || !ready {
		t.Fatalf("ready: %v %v", ready, err)
	}
}

func (sw *syncWorld) catchUpWith(t *testing.T, s *tasks.Service, p *phone) {
	t.Helper()
	for more := true; more; {
		page, err := s.Sync(inspector(t, p.user), p.cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range page.Tasks {
			p.tasks[task.ID] = task
		}
		for _, id := range page.Removed {
			delete(p.tasks, id)
		}
		p.cursor, more = page.Cursor, page.More
	}
}

// noFeeds is the feed store of a version that had none: appends go
// nowhere.
type noFeeds struct{ backend.TaskFeedStore }

func (noFeeds) AppendTaskFeeds(context.Context, map[string][]backend.TaskFeedEntry) error { return nil }

// failingBuild is a feed store whose build fails (a timeout, say).
type failingBuild struct{ backend.TaskFeedStore }

func (failingBuild) BuildTaskFeeds(context.Context) (int, error) {
	return 0, backend.Errorf(backend.EUNAVAILABLE, "MongoDB is unavailable")
}

// countingTasks is the task store counting the tasks syncs read from it.
type countingTasks struct {
	*mongodb.TaskStore
	read atomic.Int64
}

func (c *countingTasks) FindTasksByIDs(ctx context.Context, ids []string) ([]*backend.Task, error) {
	c.read.Add(int64(len(ids)))
	return c.TaskStore.FindTasksByIDs(ctx, ids)
}

// TestSyncFromHeldTasks: the instance that dispatched answers the group's
// syncs from the tasks it wrote, reading none; another instance reads each
// task once and then holds it; when a task changes elsewhere (a cancel
// on the first instance), the other instance's next sync reads that task
// again — the feed names the newer version — and only that one, and every
// answer is what the store holds, field for field. An instance that
// warmed its cache at start reads only the task no longer open. A feed entry that
// names no version (written before versions) is always read from the
// store.
func TestSyncFromHeldTasks(t *testing.T) {
	sw := newSyncWorld(t)
	here := &countingTasks{TaskStore: sw.db.Tasks()}
	sw.svc.Tasks.Tasks = here
	if _, err := sw.svc.Tasks.BuildFeeds(t.Context()); err != nil { // as the server does at start
		t.Fatal(err)
	}
	sw.dispatch(t, 6)
	// The member in most groups: the draw is random, and the end of the
	// test needs two of the user's tasks (12 places among the world's
	// eight inspectors: someone holds two).
	var user string
	var mine []string
	for _, task := range sw.tasks {
		for _, m := range task.Members {
			if l := sw.mine(t, m.UserID); len(l) > len(mine) {
				user, mine = m.UserID, l
			}
		}
	}
	if len(mine) < 2 {
		t.Fatalf("no member holds two tasks: %v", mine)
	}
	exact := func(page *tasks.SyncPage) {
		t.Helper()
		for _, got := range page.Tasks {
			if want := sw.task(t, got.ID); !reflect.DeepEqual(got, want) {
				t.Fatalf("sync answered task %s as\n%+v\nthe store holds\n%+v", got.ID, got, want)
			}
		}
	}
	first := sw.sync(t, user, "")
	if got := ids(first.Tasks); !slices.Equal(got, mine) {
		t.Fatalf("first sync: %v, want %v", got, mine)
	}
	exact(first)
	if n := here.read.Load(); n != 0 {
		t.Fatalf("the dispatching instance read %d tasks for a sync of tasks it wrote", n)
	}

	there := &countingTasks{TaskStore: sw.db.Tasks()}
	other := &tasks.Service{Tasks: there, Feeds: sw.db.TaskFeeds(), Inbox: sw.db.Notifications()}
	ctx := inspector(t, user)
	syncThere := func(since string) *tasks.SyncPage {
		t.Helper()
		page, err := other.Sync(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		exact(page)
		return page
	}
	p := syncThere("")
	if n := there.read.Load(); n != int64(len(mine)) {
		t.Fatalf("another instance's first sync read %d tasks, want %d", n, len(mine))
	}
	syncThere("")
	if n := there.read.Load(); n != int64(len(mine)) {
		t.Fatalf("a second first sync read %d more tasks, want none", n-int64(len(mine)))
	}

	cancelled, err := sw.svc.Tasks.Cancel(sw.staff, mine[0], 0, "企业已停产")
	if err != nil {
		t.Fatal(err)
	}
	delta := syncThere(p.Cursor)
	if len(delta.Tasks) != 1 || delta.Tasks[0].ID != cancelled.ID || delta.Tasks[0].State != backend.TaskCancelled {
		t.Fatalf("delta after a cancel elsewhere: %+v", delta.Tasks)
	}
	if n := there.read.Load(); n != int64(len(mine))+1 {
		t.Fatalf("the delta read %d tasks, want 1 (the one changed)", n-int64(len(mine)))
	}
	again := syncThere("")
	if i := slices.IndexFunc(again.Tasks, func(x *backend.Task) bool { return x.ID == cancelled.ID }); i < 0 || again.Tasks[i].State != backend.TaskCancelled {
		t.Fatalf("a first sync after the cancel: %+v", again.Tasks)
	}
	if n := there.read.Load(); n != int64(len(mine))+1 {
		t.Fatalf("a first sync after the delta read %d tasks again", n-int64(len(mine))-1)
	}

	// An instance started now warms its cache with the open tasks, as
	// the server does: its first sync reads only the cancelled one.
	warmed := &countingTasks{TaskStore: sw.db.Tasks()}
	started := &tasks.Service{Tasks: warmed, Feeds: sw.db.TaskFeeds(), Inbox: sw.db.Notifications()}
	if err := started.WarmCache(t.Context()); err != nil {
		t.Fatal(err)
	}
	if page, err := started.Sync(ctx, ""); err != nil || !slices.Equal(ids(page.Tasks), mine) {
		t.Fatalf("a warmed instance's first sync: %v %v, want %v", ids(page.Tasks), err, mine)
	} else if n := warmed.read.Load(); n != 1 {
		t.Fatalf("a warmed instance's first sync read %d tasks, want 1 (the cancelled one)", n)
	}

	// An entry of a version from before versions: read every time.
	if err := sw.db.TaskFeeds().AppendTaskFeeds(t.Context(), map[string][]backend.TaskFeedEntry{user: {{TaskID: mine[1]}}}); err != nil {
		t.Fatal(err)
	}
	before := there.read.Load()
	syncThere("")
	syncThere("")
	if n := there.read.Load() - before; n != 2 {
		t.Fatalf("two syncs with a versionless last entry read the task %d times, want 2", n)
	}
}
