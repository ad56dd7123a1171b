package backend

import (
	"context"
	"strconv"
	"time"
)

// Item methods: how an item is checked (art. 10).
const (
	MethodOnSite           = "on_site"           // 现场检查
	MethodDocumentReview   = "document_review"   // 书面检查
	MethodRemoteMonitoring = "remote_monitoring" // 网络（远程）监测
)

// ItemMethods lists every item method.
var ItemMethods = []string{MethodOnSite, MethodDocumentReview, MethodRemoteMonitoring}

// LegalBasis is the law and article an item rests on: the bureau inspects
// only what law provides (art. 9).
type LegalBasis struct {
	Law     string // e.g. 《中华人民共和国安全生产法》
	Article string // e.g. 第二十一条
}

// Item is one inspection matter (随机抽查事项) of a year's item list.
//
// Before its year is published an item is a draft; publishing stamps
// PublishedAt/PublishedBy on every item of the year, and from then on each
// change carries the reason the law changed (art. 10) in AmendmentReason.
type Item struct {
	ID              string
	Year            int
	Code            string // unique within the year
	Name            string
	LegalBasis      LegalBasis
	DepartmentID    string // the subject department (实施主体)
	Content         string
	Method          string   // one of ItemMethods
	Qualification   string   // a code from the managed qualification list
	Categories      []string // enterprise categories it applies to; empty for any
	PublishedAt     *time.Time
	PublishedBy     string // user id of who published the year
	AmendmentReason string // why the item last changed after publication
	Version         int    // 1 on creation, +1 on every change
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// ItemPublication records that a year's item list was published (art. 10).
// There is at most one per year: publication is a one-way door.
type ItemPublication struct {
	Year        int
	PublishedAt time.Time
	PublishedBy string // user id
	ItemCount   int    // items in the list when it was published
}

// ItemFilter selects items in a listing. Zero fields select all.
type ItemFilter struct {
	Year          int
	DepartmentID  string
	Qualification string
	Method        string
	Category      string
	Query         string // code prefix or name substring
	After         Cursor // keyset position (see Cursor); ordered by year, then code
	Offset        int    // at most MaxOffset; use After beyond
	Limit         int    // 0 for no limit
}

// CursorOf is the cursor that continues a listing after it.
func (ItemFilter) CursorOf(it *Item) Cursor { return Cursor{strconv.Itoa(it.Year), it.Code} }

// ItemStore keeps the yearly item lists and their publications. Writers
// pass the version they read; the store refuses a stale one.
type ItemStore interface {
	// CreateItem stores it with its ID set. ECONFLICT when its year already
	// has an item with that code.
	CreateItem(ctx context.Context, it *Item) error
	// FindItemByID returns an item. ENOTFOUND.
	FindItemByID(ctx context.Context, id string) (*Item, error)
	// FindItemByCode returns the item of a year with that code. ENOTFOUND.
	FindItemByCode(ctx context.Context, year int, code string) (*Item, error)
	// FindItems lists items matching f ordered by year then code, and the
	// total count.
	FindItems(ctx context.Context, f ItemFilter) ([]*Item, int, error)
	// UpdateItem replaces the stored item with it if its stored version is
	// still it.Version, and then increments it.Version. ENOTFOUND;
	// ECONFLICT when its version moved on or the code is taken.
	UpdateItem(ctx context.Context, it *Item) error
	// CreateItemPublication records a year's publication. ECONFLICT when
	// the year is already published.
	CreateItemPublication(ctx context.Context, p *ItemPublication) error
	// FindItemPublication returns a year's publication. ENOTFOUND when the
	// year is not published.
	FindItemPublication(ctx context.Context, year int) (*ItemPublication, error)
}

// Stamp sets the bookkeeping times of a change made at now: UpdatedAt, and
// CreatedAt too when the item is new.
func (it *Item) Stamp(created bool, now time.Time) {
	it.UpdatedAt = now
	if created {
		it.CreatedAt = now
	}
}
