package mongodb_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"suiji/backend"
	"suiji/storage/storagetest"
)

// TestInspectorDrawableQueryAgreesWithDrawable checks that the store's
// drawable filter selects exactly the inspectors backend.Drawable accepts:
// the draw uses one and the roster listing the other.
func TestInspectorDrawableQueryAgreesWithDrawable(t *testing.T) {
	db := storagetest.Mongo(t)
	ctx := context.Background()
	store := db.Inspectors()
	today := backend.Date("2026-05-10")
	var all []*backend.Inspector
	i := 0
	for _, active := range []bool{true, false} {
		for _, offset := range []int{-365, -1, 0, 1, 365} {
			in := &backend.Inspector{
				UserID: fmt.Sprintf("u%d", i), Name: fmt.Sprintf("n%d", i), BadgeNo: fmt.Sprintf("B-%02d", i),
				CertificateExpires: today.AddDays(offset), DepartmentID: "d", Qualifications: []string{"general"},
				Active: active, Version: 1, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC(),
			}
			if err := store.CreateInspector(ctx, in); err != nil {
				t.Fatal(err)
			}
			all = append(all, in)
			i++
		}
	}
	for _, want := range []bool{true, false} {
		got, total, err := store.FindInspectors(ctx, backend.InspectorFilter{Drawable: &want, Today: today})
		if err != nil {
			t.Fatal(err)
		}
		var gotBadges, wantBadges []string
		for _, in := range got {
			gotBadges = append(gotBadges, in.BadgeNo)
		}
		for _, in := range all {
			if backend.Drawable(in, today) == want {
				wantBadges = append(wantBadges, in.BadgeNo)
			}
		}
		if !slices.Equal(gotBadges, wantBadges) || total != len(wantBadges) {
			t.Errorf("drawable=%v: store %v (total %d), Drawable %v", want, gotBadges, total, wantBadges)
		}
	}
	got, _, err := store.FindInspectors(ctx, backend.InspectorFilter{ExpiresBy: today})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 || got[0].CertificateExpires != today.AddDays(-365) || got[5].CertificateExpires != today {
		t.Errorf("ExpiresBy: %d inspectors, first %v", len(got), got)
	}
}

func TestInspectorStoreConflicts(t *testing.T) {
	db := storagetest.Mongo(t)
	ctx := context.Background()
	store := db.Inspectors()
	mk := func(user, badge string) *backend.Inspector {
		return &backend.Inspector{UserID: user, Name: "x", BadgeNo: badge, CertificateExpires: "2030-01-01", DepartmentID: "d", Active: true, Version: 1}
	}
	a := mk("u1", "A-1")
	if err := store.CreateInspector(ctx, a); err != nil {
		t.Fatal(err)
	}
	err := store.CreateInspector(ctx, mk("u2", "A-1"))
	if backend.ErrorCode(err) != backend.ECONFLICT || backend.ErrorFields(err)["badge_no"] == "" {
		t.Errorf("duplicate badge: %v %v", err, backend.ErrorFields(err))
	}
	err = store.CreateInspector(ctx, mk("u1", "A-2"))
	if backend.ErrorCode(err) != backend.ECONFLICT || backend.ErrorFields(err)["user_id"] == "" {
		t.Errorf("duplicate user: %v %v", err, backend.ErrorFields(err))
	}
	// Compare-and-set on the version.
	// The caller passes the version it read; the store bumps it.
	next := *a
	next.Name = "y"
	if err := store.UpdateInspector(ctx, &next); err != nil || next.Version != 2 {
		t.Fatalf("update: %v, version %d, want 2", err, next.Version)
	}
	stale := *a // still at version 1
	stale.Name = "z"
	if err := store.UpdateInspector(ctx, &stale); backend.ErrorCode(err) != backend.ECONFLICT || stale.Version != 1 {
		t.Errorf("stale update: %v, version %d (must stay 1)", err, stale.Version)
	}
	gone := *a
	gone.ID = "nope"
	if err := store.UpdateInspector(ctx, &gone); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Errorf("update of a missing inspector: %v", err)
	}
	got, err := store.FindInspectorByUserID(ctx, "u1")
	if err != nil || got.Name != "y" || got.Version != 2 {
		t.Errorf("after update: %+v %v", got, err)
	}
}

func TestItemPublicationIsOncePerYear(t *testing.T) {
	db := storagetest.Mongo(t)
	ctx := context.Background()
	store := db.Items()
	if _, err := store.FindItemPublication(ctx, 2026); backend.ErrorCode(err) != backend.ENOTFOUND {
		t.Fatalf("unpublished year: %v", err)
	}
	p := &backend.ItemPublication{Year: 2026, PublishedAt: time.Now().UTC().Truncate(time.Millisecond), PublishedBy: "u", ItemCount: 3}
	if err := store.CreateItemPublication(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := store.CreateItemPublication(ctx, p); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Errorf("second publication: %v", err)
	}
	got, err := store.FindItemPublication(ctx, 2026)
	if err != nil || *got != *p {
		t.Errorf("publication %+v, %v; want %+v", got, err, p)
	}
	it := &backend.Item{Year: 2026, Code: "A", Name: "n", Method: "on_site", Version: 1}
	if err := store.CreateItem(ctx, it); err != nil {
		t.Fatal(err)
	}
	dup := &backend.Item{Year: 2026, Code: "A", Name: "m", Method: "on_site", Version: 1}
	if err := store.CreateItem(ctx, dup); backend.ErrorCode(err) != backend.ECONFLICT || backend.ErrorFields(err)["code"] == "" {
		t.Errorf("duplicate code: %v", err)
	}
	other := &backend.Item{Year: 2027, Code: "A", Name: "m", Method: "on_site", Version: 1}
	if err := store.CreateItem(ctx, other); err != nil {
		t.Errorf("same code another year: %v", err)
	}
}
