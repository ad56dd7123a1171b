package itemlist_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/audit"
	"suiji/backend/itemlist"
	"suiji/backend/sheet"
	"suiji/storage/storagetest"
)

// newItems builds the item list on a database of the test's own, with one
// department, and a coordinator's context.
func newItems(t *testing.T) (*itemlist.Service, backend.ItemStore, context.Context) {
	t.Helper()
	db := storagetest.Mongo(t)
	now := func() time.Time { return time.Now().UTC() }
	ctx := backend.WithActor(t.Context(), &backend.Actor{UserID: "u-coord", Username: "coord", Roles: []backend.Role{backend.RoleCoordinator}})
	if err := db.Departments().CreateDepartment(ctx, &backend.Department{ID: "dept-1", Name: "一股", Kind: backend.DepartmentInternal}); err != nil {
		t.Fatal(err)
	}
	return &itemlist.Service{Items: db.Items(), Qualifications: db.Qualifications(), Departments: db.Departments(),
		Versions: db.Versions(), Audit: &audit.Recorder{Store: db.AuditEvents(), Now: now}, Now: now}, db.Items(), ctx
}

// itemFile is two new items of 2031, the second with reason (修订理由).
func itemFile(reason string) string {
	return "年度,事项编码,事项名称,法律依据,条款,实施主体,检查内容,检查方式,所需资格,修订理由\n" +
		"2031,ZZ-01,安全生产责任制,《安全生产法》,第二十二条,一股,检查责任制,现场检查,综合,\n" +
		"2031,ZZ-02,应急预案,《安全生产法》,第八十一条,dept-1,检查预案,书面检查,general," + reason + "\n"
}

// items returns the year's items by code.
func items(t *testing.T, svc *itemlist.Service, ctx context.Context) map[string]*backend.Item {
	t.Helper()
	list, _, err := svc.ListItems(ctx, backend.ItemFilter{Year: 2031})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*backend.Item{}
	for _, it := range list {
		out[it.Code] = it
	}
	return out
}

// TestItemImportAcrossAPublicationNeedsAReason: the year is published
// between two batches of an import (Load saw a draft). The later row is
// then an amendment: without a reason it is rejected with CreateItem's
// reason and not stored; with one it is stored as an amendment, stamped
// with the publication.
func TestItemImportAcrossAPublicationNeedsAReason(t *testing.T) {
	for _, reason := range []string{"", "《生产安全事故应急条例》施行"} {
		t.Run("reason="+reason, func(t *testing.T) {
			svc, _, ctx := newItems(t)
			var pub *backend.ItemPublication
			opts := sheet.ImportOptions{Filename: "清单.csv", BatchSize: 1, Progress: func(done, _ int) {
				if done == 1 {
					var err error
					if pub, err = svc.Publish(ctx, 2031); err != nil {
						t.Error(err)
					}
				}
			}}
			r, err := svc.ImportItems(ctx, strings.NewReader(itemFile(reason)), opts)
			if err != nil || pub == nil {
				t.Fatalf("import: %v (published: %v)", err, pub)
			}
			got := items(t, svc, ctx)
			if reason == "" {
				if r.Rejected != 1 || r.Stored != 1 || r.Errors[0].Line != 3 || !strings.Contains(r.Errors[0].Message, "needs a reason") {
					t.Fatalf("report %+v", r)
				}
				if len(got) != 1 || got["ZZ-02"] != nil || got["ZZ-01"].PublishedAt == nil {
					t.Fatalf("stored %v: a published list took an item without a reason", got)
				}
				return
			}
			it := got["ZZ-02"]
			if r.Rejected != 0 || r.Stored != 2 || it == nil {
				t.Fatalf("report %+v, items %v", r, got)
			}
			if it.AmendmentReason != reason || it.PublishedAt == nil || it.PublishedAt.Sub(pub.PublishedAt).Abs() >= time.Millisecond || it.PublishedBy != "u-coord" {
				t.Errorf("the amendment: %+v", it)
			}
			vs, err := svc.ItemVersions(ctx, it.ID)
			if err != nil || len(vs) != 1 || vs[0].Action != "amend" {
				t.Errorf("versions %+v, %v", vs, err)
			}
		})
	}
}

// publishingItems is the real item store with a publication landing just
// before the insert of one code: after Store read the year as a draft.
type publishingItems struct {
	backend.ItemStore
	code string
}

func (p *publishingItems) CreateItem(ctx context.Context, it *backend.Item) error {
	if it.Code == p.code {
		err := p.ItemStore.CreateItemPublication(ctx, &backend.ItemPublication{Year: it.Year, PublishedAt: time.Now().UTC().Truncate(time.Millisecond), PublishedBy: "u-other", ItemCount: 1})
		if err != nil {
			return err
		}
	}
	return p.ItemStore.CreateItem(ctx, it)
}

// TestItemImportRacingAPublicationIsStamped: a publication that lands
// between Store's reading of the year and its writes misses the items the
// batch creates (it read the list before); Store stamps them afterwards,
// as CreateItem stamps its item.
func TestItemImportRacingAPublicationIsStamped(t *testing.T) {
	svc, store, ctx := newItems(t)
	svc.Items = &publishingItems{ItemStore: store, code: "ZZ-02"}
	r, err := svc.ImportItems(ctx, strings.NewReader(itemFile("")), sheet.ImportOptions{Filename: "清单.csv"})
	if err != nil || r.Stored != 2 {
		t.Fatalf("import: %v %+v", err, r)
	}
	for code, it := range items(t, svc, ctx) {
		if it.PublishedAt == nil || it.PublishedBy != "u-other" {
			t.Errorf("%s is not stamped with the publication: %+v", code, it)
		}
		vs, err := svc.ItemVersions(ctx, it.ID)
		if err != nil || len(vs) != 2 || vs[0].Action != "import" || vs[1].Action != "publish" || it.Version != 2 {
			t.Errorf("%s: version %d, versions %+v, %v", code, it.Version, vs, err)
		}
	}
}
