package mongodb

import (
	"context"
	"regexp"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
)

// itemModel is how an item is stored.
type itemModel struct {
	ID              string          `bson:"_id"`
	Year            int             `bson:"year"`
	Code            string          `bson:"code"`
	Name            string          `bson:"name"`
	LegalBasis      legalBasisModel `bson:"legal_basis"`
	DepartmentID    string          `bson:"department_id"`
	Content         string          `bson:"content"`
	Method          string          `bson:"method"`
	Qualification   string          `bson:"qualification"`
	Categories      []string        `bson:"categories"`
	PublishedAt     *time.Time      `bson:"published_at,omitempty"`
	PublishedBy     string          `bson:"published_by,omitempty"`
	AmendmentReason string          `bson:"amendment_reason,omitempty"`
	Version         int             `bson:"version"`
	CreatedAt       time.Time       `bson:"created_at"`
	UpdatedAt       time.Time       `bson:"updated_at"`
}

// legalBasisModel is an item's legal basis.
type legalBasisModel struct {
	Law     string `bson:"law"`
	Article string `bson:"article"`
}

// itemPublicationModel records a year's publication; the year is the _id,
// so a second publication of the same year is a duplicate key.
type itemPublicationModel struct {
	Year        int       `bson:"_id"`
	PublishedAt time.Time `bson:"published_at"`
	PublishedBy string    `bson:"published_by"`
	ItemCount   int       `bson:"item_count"`
}

func toItemModel(it *backend.Item) *itemModel {
	return &itemModel{
		ID: it.ID, Year: it.Year, Code: it.Code, Name: it.Name,
		LegalBasis:   legalBasisModel{Law: it.LegalBasis.Law, Article: it.LegalBasis.Article},
		DepartmentID: it.DepartmentID, Content: it.Content, Method: it.Method, Qualification: it.Qualification,
		Categories: append([]string{}, it.Categories...), PublishedAt: it.PublishedAt, PublishedBy: it.PublishedBy,
		AmendmentReason: it.AmendmentReason, Version: it.Version, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
	}
}

func (m *itemModel) domain() *backend.Item {
	it := &backend.Item{
		ID: m.ID, Year: m.Year, Code: m.Code, Name: m.Name,
		LegalBasis:   backend.LegalBasis{Law: m.LegalBasis.Law, Article: m.LegalBasis.Article},
		DepartmentID: m.DepartmentID, Content: m.Content, Method: m.Method, Qualification: m.Qualification,
		Categories: append([]string{}, m.Categories...), PublishedBy: m.PublishedBy,
		AmendmentReason: m.AmendmentReason, Version: m.Version, CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC(),
	}
	if m.PublishedAt != nil {
		t := m.PublishedAt.UTC()
		it.PublishedAt = &t
	}
	return it
}

// Items returns the item-list store.
func (db *DB) Items() *ItemStore { return &ItemStore{db: db} }

// ItemStore implements backend.ItemStore on the items and
// item_publications collections.
type ItemStore struct{ db *DB }

var _ backend.ItemStore = (*ItemStore)(nil)

func (s *ItemStore) coll() collection         { return s.db.collection("items") }
func (s *ItemStore) publications() collection { return s.db.collection("item_publications") }

// itemCodeConflict names the code field on a duplicate key: year+code is
// the only unique key of items besides the _id.
func itemCodeConflict(err error) error {
	if backend.ErrorCode(err) != backend.ECONFLICT {
		return err
	}
	return &backend.Error{Code: backend.ECONFLICT, Message: "this year already has an item with that code", Fields: map[string]string{"code": "taken in this year"}, Err: err}
}

// CreateItem implements backend.ItemStore.
func (s *ItemStore) CreateItem(ctx context.Context, it *backend.Item) error {
	if it.ID == "" {
		it.ID = newID()
	}
	it.Version = 1 // every record starts at version 1; UpdateX bumps it
	return itemCodeConflict(insertOne(ctx, s.coll(), toItemModel(it)))
}

// FindItemByID implements backend.ItemStore.
func (s *ItemStore) FindItemByID(ctx context.Context, id string) (*backend.Item, error) {
	return s.findOne(ctx, bson.D{{Key: "_id", Value: id}})
}

// FindItemByCode implements backend.ItemStore.
func (s *ItemStore) FindItemByCode(ctx context.Context, year int, code string) (*backend.Item, error) {
	return s.findOne(ctx, bson.D{{Key: "year", Value: year}, {Key: "code", Value: code}})
}

func (s *ItemStore) findOne(ctx context.Context, filter bson.D) (*backend.Item, error) {
	var m itemModel
	if err := s.coll().FindOne(ctx, filter).Decode(&m); err != nil {
		return nil, notFound(translate(err), "item not found")
	}
	return m.domain(), nil
}

// FindItems implements backend.ItemStore.
func (s *ItemStore) FindItems(ctx context.Context, f backend.ItemFilter) ([]*backend.Item, int, error) {
	filter := bson.D{}
	if f.Year != 0 {
		filter = append(filter, bson.E{Key: "year", Value: f.Year})
	}
	if f.DepartmentID != "" {
		filter = append(filter, bson.E{Key: "department_id", Value: f.DepartmentID})
	}
	if f.Qualification != "" {
		filter = append(filter, bson.E{Key: "qualification", Value: f.Qualification})
	}
	if f.Method != "" {
		filter = append(filter, bson.E{Key: "method", Value: f.Method})
	}
	if f.Category != "" {
		filter = append(filter, bson.E{Key: "categories", Value: f.Category})
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "code", Value: bson.Regex{Pattern: "^" + regexp.QuoteMeta(strings.ToUpper(q))}}},
			bson.D{{Key: "name", Value: bson.Regex{Pattern: regexp.QuoteMeta(q), Options: "i"}}},
		}})
	}
	after, err := cursorValues(f.After, 2, 0)
	if err != nil {
		return nil, 0, err
	}
	return pagedFind(ctx, s.coll(), listing{filter: filter, sort: []string{"year", "code"},
		after: after, offset: f.Offset, limit: f.Limit}, (*itemModel).domain)
}

// UpdateItem implements backend.ItemStore; like UpdateInspector it matches
// the version read and tells "gone" from "stale" afterwards.
func (s *ItemStore) UpdateItem(ctx context.Context, it *backend.Item) error {
	doc := func(next int) any { m := toItemModel(it); m.Version = next; return m }
	return replaceVersioned(ctx, s.coll(), it.ID, &it.Version, doc, "item", itemCodeConflict)
}

// CreateItemPublication implements backend.ItemStore.
func (s *ItemStore) CreateItemPublication(ctx context.Context, p *backend.ItemPublication) error {
	err := insertOne(ctx, s.publications(), itemPublicationModel{
		Year: p.Year, PublishedAt: p.PublishedAt, PublishedBy: p.PublishedBy, ItemCount: p.ItemCount,
	})
	if backend.ErrorCode(err) == backend.ECONFLICT {
		return backend.Wrap(err, backend.ECONFLICT, "the item list of %d is already published", p.Year)
	}
	return err
}

// FindItemPublication implements backend.ItemStore.
func (s *ItemStore) FindItemPublication(ctx context.Context, year int) (*backend.ItemPublication, error) {
	var m itemPublicationModel
	if err := s.publications().FindOne(ctx, bson.D{{Key: "_id", Value: year}}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "the item list of that year is not published")
	}
	return &backend.ItemPublication{Year: m.Year, PublishedAt: m.PublishedAt.UTC(), PublishedBy: m.PublishedBy, ItemCount: m.ItemCount}, nil
}
