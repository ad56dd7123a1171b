package mongodb_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"suiji/backend"
	"suiji/storage/storagetest"
)

// TestAppendNotificationsNumbersEachUserInOrder: concurrent writers
// appending to the same users get every entry stored once, each user's
// entries numbered 1…n without gaps, and a repeat of a batch (the same
// ids) stores nothing and reports the stored numbers.
func TestAppendNotificationsNumbersEachUserInOrder(t *testing.T) {
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
	for _, u := range users {
		list, err := store.FindNotifications(t.Context(), backend.InboxQuery{UserID: u})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != writers*perWriter {
			t.Fatalf("%s has %d entries, want %d", u, len(list), writers*perWriter)
		}
		for i, n := range list {
			if n.Seq != int64(i+1) {
				t.Fatalf("%s entry %d has seq %d: gaps or repeats", u, i, n.Seq)
			}
		}
		if last, err := store.LastSeq(t.Context(), u); err != nil || last != int64(writers*perWriter) {
			t.Fatalf("LastSeq(%s) = %d, %v", u, last, err)
		}
	}

	// A repeat stores nothing and tells the stored numbers.
	again := []*backend.Notification{{ID: "w0-0-u2", UserID: "u2", Kind: backend.NoteTaskAssigned}, {ID: "new", UserID: "u2", Kind: backend.NoteTaskAssigned}}
	stored, err := store.AppendNotifications(t.Context(), again)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || stored[0].ID != "new" || stored[0].Seq != int64(writers*perWriter+1) {
		t.Fatalf("repeat stored %+v", stored)
	}
	if again[0].Seq < 1 || again[0].Seq > int64(writers*perWriter) {
		t.Fatalf("the repeated entry got seq %d, want its stored one", again[0].Seq)
	}
}

// TestInboxReadAndPushClaims: unread counting and marking skip silent
// entries and other users' rows; a claim takes only due pending rows, a
// second claimer gets none of them, settling needs the claim, and a claim
// that expired is moved to lost (never sent again).
func TestInboxReadAndPushClaims(t *testing.T) {
	db := storagetest.Mongo(t)
	store := db.Notifications()
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	mk := func(id, user string, silent bool, state string, next time.Time) *backend.Notification {
		return &backend.Notification{ID: id, UserID: user, Kind: backend.NoteTaskAssigned, Silent: silent, PushState: state, PushNextAt: next, CreatedAt: now}
	}
	if _, err := store.AppendNotifications(ctx, []*backend.Notification{
		mk("a", "u1", false, backend.PushPending, now),
		mk("b", "u1", false, backend.PushPending, now.Add(time.Hour)), // not due yet
		mk("c", "u1", true, backend.PushNone, now),
		mk("d", "u2", false, backend.PushPending, now),
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := store.CountUnread(ctx, "u1"); err != nil || n != 2 {
		t.Fatalf("unread u1 = %d, %v; want 2 (silent entries are not in the inbox)", n, err)
	}
	if _, err := store.MarkRead(ctx, "u2", "a", now); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Fatalf("marking another user's entry: %v, want ENOTFOUND", err)
	}
	if n, err := store.MarkAllRead(ctx, "u1", now); err != nil || n != 2 {
		t.Fatalf("MarkAllRead = %d, %v", n, err)
	}

	got, err := store.ClaimPush(ctx, "me", now, now.Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if ids := idsOf(got); ids != "a,d" {
		t.Fatalf("claimed %s, want a,d", ids)
	}
	if other, err := store.ClaimPush(ctx, "other", now, now.Add(time.Minute), 10); err != nil || len(other) != 0 {
		t.Fatalf("a second claimer got %s, %v", idsOf(other), err)
	}
	if err := store.SettlePush(ctx, []string{"a"}, "other", backend.PushDone); err != nil {
		t.Fatal(err)
	}
	if err := store.SettlePush(ctx, []string{"a"}, "me", backend.PushDone); err != nil {
		t.Fatal(err)
	}
	// d's claim expires: the next claimer marks it lost and does not take it.
	later := now.Add(2 * time.Minute)
	if again, err := store.ClaimPush(ctx, "other", later, later.Add(time.Minute), 10); err != nil || len(again) != 0 {
		t.Fatalf("after expiry claimed %s, %v", idsOf(again), err)
	}
	states := map[string]string{}
	for _, u := range []string{"u1", "u2"} {
		list, err := store.FindNotifications(ctx, backend.InboxQuery{UserID: u})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range list {
			states[n.ID] = n.PushState
		}
	}
	want := map[string]string{"a": backend.PushDone, "b": backend.PushPending, "c": backend.PushNone, "d": backend.PushLost}
	for id, st := range want {
		if states[id] != st {
			t.Errorf("%s is %q, want %q", id, states[id], st)
		}
	}
}

func idsOf(ns []*backend.Notification) string {
	s := ""
	for i, n := range ns {
		if i > 0 {
			s += ","
		}
		s += n.ID
	}
	return s
}
