package mongodb_test

import (
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

// TestAppendNotificationsNumbersInOrder: concurrent writers appending to
// the same users get every entry stored once, all entries numbered 1…n
// without gaps or repeats, and a repeat of a batch (the same ids) stores
// nothing and reports the stored numbers.
func TestAppendNotificationsNumbersInOrder(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.Notifications()
	const writers, perWriter = 4, 8
	users := []string{"u1", "u2", "u3"}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				var batch []*backend.Notification
				for _, u := range users {
					batch = append(batch, &backend.Notification{
						ID: fmt.Sprintf("w%d-%d-%s", w, i, u), UserID: u, Kind: backend.NoteTaskAssigned,
						CreatedAt: time.Now().UTC(),
					})
				}
				if _, err := store.AppendNotifications(t.Context(), batch); err != nil {
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
	total := writers * perWriter * len(users)
	seen := map[int64]bool{}
	for _, u := range users {
		list, err := store.FindNotifications(t.Context(), backend.InboxQuery{UserID: u})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != writers*perWriter {
			t.Fatalf("%s has %d entries, want %d", u, len(list), writers*perWriter)
		}
		for i, n := range list {
			if seen[n.Seq] || n.Seq < 1 || n.Seq > int64(total) || (i > 0 && n.Seq <= list[i-1].Seq) {
				t.Fatalf("%s entry %d has seq %d: a repeat, a gap or out of order", u, i, n.Seq)
			}
			seen[n.Seq] = true
		}
		if last, err := store.LastSeq(t.Context(), u); err != nil || last != list[len(list)-1].Seq {
			t.Fatalf("LastSeq(%s) = %d, %v", u, last, err)
		}
		if head, found, err := store.Head(t.Context(), u); err != nil || !found || head < list[len(list)-1].Seq {
			t.Fatalf("%s's head %d (%v, %v) is below its newest entry %d: a sync would miss it", u, head, found, err, list[len(list)-1].Seq)
		}
	}

	// A repeat stores nothing and tells the stored numbers.
	again := []*backend.Notification{{ID: "w0-0-u2", UserID: "u2", Kind: backend.NoteTaskAssigned}, {ID: "new", UserID: "u2", Kind: backend.NoteTaskAssigned}}
	stored, err := store.AppendNotifications(t.Context(), again)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || stored[0].ID != "new" || stored[0].Seq != int64(total+1) {
		t.Fatalf("repeat stored %+v", stored)
	}
	if again[0].Seq < 1 || again[0].Seq > int64(total) {
		t.Fatalf("the repeated entry got seq %d, want its stored one", again[0].Seq)
	}
}

// TestStreamHeads: a read after a cursor is answered from the user's head
// when nothing came, and reads the entries when something did — also
// when the head runs ahead of them (a writer that raised it and died
// before storing its entries); numbering goes on from the stream's head,
// and from the entries when that head is stale or gone.
func TestStreamHeads(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.Notifications()
	ctx := t.Context()
	heads := db.Database().Collection("inbox_heads")
	setHead := func(user string, seq int64) {
		t.Helper()
		id, field := mongodb.HeadBucket(user), "users."+user
		if user == mongodb.StreamHead {
			id, field = user, "seq"
		}
		if _, err := heads.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: field, Value: seq}}}}); err != nil {
			t.Fatal(err)
		}
	}
	add := func(ids ...string) []*backend.Notification {
		t.Helper()
		var ns []*backend.Notification
		for _, id := range ids {
			ns = append(ns, &backend.Notification{ID: id, UserID: "u1", Kind: backend.NoteTaskAssigned, CreatedAt: time.Now().UTC()})
		}
		stored, err := store.AppendNotifications(ctx, ns)
		if err != nil || len(stored) != len(ids) {
			t.Fatalf("append %v: %d stored, %v", ids, len(stored), err)
		}
		return stored
	}
	after := func(seq int64) []string {
		t.Helper()
		list, err := store.FindNotifications(ctx, backend.InboxQuery{UserID: "u1", AfterSeq: seq})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, n := range list {
			ids = append(ids, n.ID)
		}
		return ids
	}
	first := add("a", "b")
	if got := after(first[1].Seq); len(got) != 0 {
		t.Fatalf("after the newest: %v", got)
	}
	if got := after(first[0].Seq); fmt.Sprint(got) != "[b]" {
		t.Fatalf("after a: %v", got)
	}
	setHead("u1", first[1].Seq+5) // raised by a writer that died before its insert
	if got := after(first[1].Seq); len(got) != 0 {
		t.Fatalf("after the newest with the head ahead: %v", got)
	}
	setHead(mongodb.StreamHead, 0) // stale: numbering loses its races, then reads the entries
	c := add("c")
	if c[0].Seq != first[1].Seq+1 {
		t.Fatalf("c numbered %d after a stale stream head, want %d", c[0].Seq, first[1].Seq+1)
	}
	if got := after(first[1].Seq); fmt.Sprint(got) != "[c]" {
		t.Fatalf("after b: %v", got)
	}
	if _, err := heads.DeleteOne(ctx, bson.D{{Key: "_id", Value: mongodb.StreamHead}}); err != nil {
		t.Fatal(err)
	}
	d := add("d")
	if d[0].Seq != c[0].Seq+1 || after(c[0].Seq)[0] != "d" {
		t.Fatalf("d numbered %d without a stream head, want %d", d[0].Seq, c[0].Seq+1)
	}
	if seq, found, err := store.Head(ctx, "u1"); err != nil || !found || seq < d[0].Seq {
		t.Fatalf("u1's head %d (%v, %v) is below its newest entry %d", seq, found, err, d[0].Seq)
	}
}

// TestInboxRead: unread counting and marking skip silent entries and
// other users' rows.
func TestInboxRead(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.Notifications()
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	mk := func(id, user string, silent bool) *backend.Notification {
		return &backend.Notification{ID: id, UserID: user, Kind: backend.NoteTaskAssigned, Silent: silent, CreatedAt: now}
	}
	if _, err := store.AppendNotifications(ctx, []*backend.Notification{mk("a", "u1", false), mk("b", "u1", false), mk("c", "u1", true), mk("d", "u2", false)}); err != nil {
		t.Fatal(err)
	}
	if n, err := store.CountUnread(ctx, "u1"); err != nil || n != 2 {
		t.Fatalf("unread u1 = %d, %v; want 2 (silent entries are not in the inbox)", n, err)
	}
	if _, err := store.MarkRead(ctx, "u2", "a", now); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Fatalf("marking another user's entry: %v, want ENOTFOUND", err)
	}
	if n, err := store.MarkRead(ctx, "u1", "a", now); err != nil || n.ReadAt == nil {
		t.Fatalf("MarkRead = %+v, %v", n, err)
	}
	if n, err := store.MarkAllRead(ctx, "u1", now); err != nil || n != 1 {
		t.Fatalf("MarkAllRead = %d, %v; want the one still unread", n, err)
	}
	if n, err := store.CountUnread(ctx, "u2"); err != nil || n != 1 {
		t.Fatalf("unread u2 = %d, %v", n, err)
	}
}

// TestPushOutboxClaims: a repeat of a batch adds nothing; a claim takes
// the oldest due batch, a second claimer gets another one (or none),
// settling needs the claim, and a claim that expired is moved to lost
// (never sent again).
func TestPushOutboxClaims(t *testing.T) {
	db := storagetest.Mongo(t)
	out := db.PushOutbox()
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	batch := func(id string, next time.Time) *backend.PushBatch {
		return &backend.PushBatch{ID: id, NotificationIDs: []string{"n-" + id}, State: backend.PushPending, NextAt: next, CreatedAt: now}
	}
	for range 2 {
		if err := out.AddPushBatches(ctx, []*backend.PushBatch{batch("a", now), batch("b", now.Add(time.Second)), batch("later", now.Add(time.Hour))}); err != nil {
			t.Fatal(err)
		}
	}
	// Until their writer marks the inbox written, batches wait for it
	// (or for it to be presumed dead).
	if none, err := out.ClaimPushBatch(ctx, "me", now.Add(time.Second), now.Add(time.Minute), now.Add(-time.Minute)); err != nil || none != nil {
		t.Fatalf("claimed %+v, %v before the inbox was written", none, err)
	}
	if orphan, err := out.ClaimPushBatch(ctx, "me", now.Add(2*time.Minute), now.Add(3*time.Minute), now.Add(time.Millisecond)); err != nil || orphan == nil || orphan.InboxWritten {
		t.Fatalf("an orphaned batch was not claimed: %+v, %v", orphan, err)
	} else if err := out.SettlePushBatch(ctx, orphan.ID, "me", backend.PushPending, now); err != nil {
		t.Fatal(err)
	}
	if err := out.MarkInboxWritten(ctx, []string{"a", "b"}, now); err != nil {
		t.Fatal(err)
	}
	if err := out.MarkInboxWritten(ctx, []string{"later"}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := out.ClaimPushBatch(ctx, "me", now.Add(time.Second), now.Add(time.Minute), now.Add(-time.Minute))
	if err != nil || got == nil || got.ID != "a" || len(got.NotificationIDs) != 1 || got.NotificationIDs[0] != "n-a" {
		t.Fatalf("first claim %+v, %v", got, err)
	}
	other, err := out.ClaimPushBatch(ctx, "other", now.Add(time.Second), now.Add(time.Minute), now.Add(-time.Minute))
	if err != nil || other == nil || other.ID != "b" || !other.InboxWritten {
		t.Fatalf("second claimer got %+v, %v; want b", other, err)
	}
	if none, err := out.ClaimPushBatch(ctx, "third", now.Add(time.Second), now.Add(time.Minute), now.Add(-time.Minute)); err != nil || none != nil {
		t.Fatalf("nothing else is due, got %+v, %v", none, err)
	}
	if err := out.SettlePushBatch(ctx, "a", "other", backend.PushDone, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := out.SettlePushBatch(ctx, "a", "me", backend.PushDone, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// b's claim expires: the next claim marks it lost and does not take it.
	if again, err := out.ClaimPushBatch(ctx, "third", now.Add(2*time.Minute), now.Add(3*time.Minute), now.Add(-time.Minute)); err != nil || again != nil {
		t.Fatalf("after expiry claimed %+v, %v", again, err)
	}
	states := outboxStatesByID(t, db)
	want := map[string]string{"a": backend.PushDone, "b": backend.PushLost, "later": backend.PushPending}
	if !maps.Equal(states, want) {
		t.Fatalf("outbox %v, want %v", states, want)
	}

	// Settled batches go once older than the cut; one waiting stays,
	// however old.
	if n, err := out.DeleteSettledPushBatches(ctx, now); err != nil || n != 0 {
		t.Fatalf("deleted %d (%v) created at the cut, want none", n, err)
	}
	if n, err := out.DeleteSettledPushBatches(ctx, now.Add(time.Millisecond)); err != nil || n != 2 {
		t.Fatalf("deleted %d (%v), want the done and the lost batch", n, err)
	}
	if states := outboxStatesByID(t, db); !maps.Equal(states, map[string]string{"later": backend.PushPending}) {
		t.Fatalf("outbox after deleting the settled batches: %v, want the pending one alone", states)
	}
}

// TestSettleNotifications: the entries stored already get their Seq and
// push batch as stored (not as the caller has them), the others come back
// once each, in order.
func TestSettleNotifications(t *testing.T) {
	store := storagetest.Mongo(t).Notifications()
	entry := func(id, batch string) *backend.Notification {
		return &backend.Notification{ID: id, UserID: "u", Kind: backend.NoteTaskAssigned, PushBatch: batch, CreatedAt: time.Now().UTC()}
	}
	if _, err := store.AppendNotifications(t.Context(), []*backend.Notification{entry("old-1", "first"), entry("old-2", "")}); err != nil {
		t.Fatal(err)
	}
	ns := []*backend.Notification{entry("new-1", "second"), entry("old-1", "second"), entry("new-2", "second"), entry("new-1", "second"), entry("old-2", "second")}
	fresh, err := store.SettleNotifications(t.Context(), ns)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range fresh {
		ids = append(ids, n.ID)
	}
	if !slices.Equal(ids, []string{"new-1", "new-2"}) {
		t.Fatalf("fresh %v, want new-1 and new-2", ids)
	}
	if ns[1].Seq == 0 || ns[1].PushBatch != "first" || ns[4].Seq == 0 || ns[4].PushBatch != "" {
		t.Fatalf("stored entries settled as %+v and %+v, want their stored seq and batch (first, none)", ns[1], ns[4])
	}
}

// outboxStatesByID is the state of each batch of the push outbox.
func outboxStatesByID(t *testing.T, db *mongodb.DB) map[string]string {
	t.Helper()
	cur, err := db.Database().Collection("push_outbox").Find(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		ID    string `bson:"_id"`
		State string `bson:"state"`
	}
	if err := cur.All(t.Context(), &rows); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, r := range rows {
		states[r.ID] = r.State
	}
	return states
}

// TestPushOutboxClaimsItsOwnBatches: a writer claims the batches it wrote
// in one call — those due with their entries in the inbox, not those
// another claimer took first (another instance, or its own earlier call
// under another claim), nor those not ready or not yet due — and
// settling needs the very claim.
func TestPushOutboxClaimsItsOwnBatches(t *testing.T) {
	db := storagetest.Mongo(t)
	out := db.PushOutbox()
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	var batches []*backend.PushBatch
	for _, id := range []string{"a", "b", "c", "unwritten", "later"} {
		batches = append(batches, &backend.PushBatch{ID: id, NotificationIDs: []string{"n-" + id}, State: backend.PushPending, NextAt: now, CreatedAt: now})
	}
	if err := out.AddPushBatches(ctx, batches); err != nil {
		t.Fatal(err)
	}
	if err := out.MarkInboxWritten(ctx, []string{"a", "b", "c"}, now); err != nil {
		t.Fatal(err)
	}
	if err := out.MarkInboxWritten(ctx, []string{"later"}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// All asked for and due: claimed in one write.
	if got, err := out.ClaimPushBatches(ctx, []string{"a"}, "me.1", now, now.Add(time.Minute)); err != nil || !slices.Equal(got, []string{"a"}) {
		t.Fatalf("claimed %v, %v; want a", got, err)
	}
	// Another instance took b first; unwritten's entries are not in the
	// inbox; later is not due; a is claimed already.
	if other, err := out.ClaimPushBatch(ctx, "other", now, now.Add(time.Minute), now.Add(-time.Minute)); err != nil || other == nil || other.ID != "b" {
		t.Fatalf("the other instance claimed %+v, %v; want b", other, err)
	}
	got, err := out.ClaimPushBatches(ctx, []string{"a", "b", "c", "unwritten", "later", "missing"}, "me.2", now.Add(time.Second), now.Add(2*time.Minute))
	if err != nil || !slices.Equal(got, []string{"c"}) {
		t.Fatalf("claimed %v, %v; want only c", got, err)
	}
	if none, err := out.ClaimPushBatches(ctx, []string{"c"}, "third", now.Add(time.Second), now.Add(time.Minute)); err != nil || len(none) != 0 {
		t.Fatalf("a claimed batch was claimed again: %v, %v", none, err)
	}
	// Settling with another claim changes nothing.
	for _, settle := range []struct{ id, claim, state string }{
		{"a", "other", backend.PushFailed}, {"a", "me.2", backend.PushFailed}, {"a", "me.1", backend.PushDone}, {"c", "me.2", backend.PushDone},
	} {
		if err := out.SettlePushBatch(ctx, settle.id, settle.claim, settle.state, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	states := outboxStatesByID(t, db)
	want := map[string]string{"a": backend.PushDone, "b": backend.PushSending, "c": backend.PushDone, "unwritten": backend.PushPending, "later": backend.PushPending}
	if !maps.Equal(states, want) {
		t.Fatalf("outbox %v, want %v", states, want)
	}
}
