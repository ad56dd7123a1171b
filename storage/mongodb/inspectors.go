package mongodb

import (
	"context"
	"regexp"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
)

// inspectorModel is how an inspector is stored. The certificate expiry is
// kept as "YYYY-MM-DD" text, which sorts and range-compares as dates.
type inspectorModel struct {
	ID                 string          `bson:"_id"`
	UserID             string          `bson:"user_id"`
	Name               string          `bson:"name"`
	BadgeNo            string          `bson:"badge_no"`
	CertificateExpires string          `bson:"certificate_expires"`
	DepartmentID       string          `bson:"department_id"`
	Qualifications     []string        `bson:"qualifications"`
	Conflicts          []conflictModel `bson:"conflicts"`
	Active             bool            `bson:"active"`
	Phone              string          `bson:"phone,omitempty"`
	Version            int             `bson:"version"`
	CreatedAt          time.Time       `bson:"created_at"`
	UpdatedAt          time.Time       `bson:"updated_at"`
}

// conflictModel is a declared conflict of interest.
type conflictModel struct {
	EnterpriseID string `bson:"enterprise_id"`
	Reason       string `bson:"reason"`
}

func toInspectorModel(in *backend.Inspector) *inspectorModel {
	m := &inspectorModel{
		ID: in.ID, UserID: in.UserID, Name: in.Name, BadgeNo: in.BadgeNo,
		CertificateExpires: string(in.CertificateExpires), DepartmentID: in.DepartmentID,
		Qualifications: append([]string{}, in.Qualifications...), Conflicts: []conflictModel{},
		Active: in.Active, Phone: in.Phone, Version: in.Version, CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt,
	}
	for _, c := range in.Conflicts {
		m.Conflicts = append(m.Conflicts, conflictModel{EnterpriseID: c.EnterpriseID, Reason: c.Reason})
	}
	return m
}

func (m *inspectorModel) domain() *backend.Inspector {
	in := &backend.Inspector{
		ID: m.ID, UserID: m.UserID, Name: m.Name, BadgeNo: m.BadgeNo,
		CertificateExpires: backend.Date(m.CertificateExpires), DepartmentID: m.DepartmentID,
		Qualifications: append([]string{}, m.Qualifications...), Conflicts: []backend.Conflict{},
		Active: m.Active, Phone: m.Phone, Version: m.Version, CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC(),
	}
	for _, c := range m.Conflicts {
		in.Conflicts = append(in.Conflicts, backend.Conflict{EnterpriseID: c.EnterpriseID, Reason: c.Reason})
	}
	return in
}

// Inspectors returns the roster store.
func (db *DB) Inspectors() *InspectorStore { return &InspectorStore{db: db} }

// InspectorStore implements backend.InspectorStore on the inspectors
// collection.
type InspectorStore struct{ db *DB }

var _ backend.InspectorStore = (*InspectorStore)(nil)

func (s *InspectorStore) coll() collection { return s.db.collection("inspectors") }

// CreateInspector implements backend.InspectorStore.
func (s *InspectorStore) CreateInspector(ctx context.Context, in *backend.Inspector) error {
	if in.ID == "" {
		in.ID = newID()
	}
	in.Version = 1 // every record starts at version 1; UpdateX bumps it
	return s.conflict(ctx, in, insertOne(ctx, s.coll(), toInspectorModel(in)))
}

// conflict names the field a duplicate key was on, so that callers can
// point at it. The server's message does not reliably say which index
// refused the write (FerretDB names only the collection), so the unique
// fields are looked up: whichever belongs to another inspector is taken.
func (s *InspectorStore) conflict(ctx context.Context, in *backend.Inspector, err error) error {
	if backend.ErrorCode(err) != backend.ECONFLICT {
		return err
	}
	if other, ferr := s.FindInspectorByBadgeNo(ctx, in.BadgeNo); ferr == nil && other.ID != in.ID {
		return &backend.Error{Code: backend.ECONFLICT, Message: "badge number is taken", Fields: map[string]string{"badge_no": "taken"}, Err: err}
	}
	if other, ferr := s.FindInspectorByUserID(ctx, in.UserID); ferr == nil && other.ID != in.ID {
		return &backend.Error{Code: backend.ECONFLICT, Message: "this user is already linked to an inspector", Fields: map[string]string{"user_id": "already linked to another inspector"}, Err: err}
	}
	return err
}

// FindInspectorByID implements backend.InspectorStore.
func (s *InspectorStore) FindInspectorByID(ctx context.Context, id string) (*backend.Inspector, error) {
	return s.findOne(ctx, bson.D{{Key: "_id", Value: id}})
}

// FindInspectorByBadgeNo implements backend.InspectorStore.
func (s *InspectorStore) FindInspectorByBadgeNo(ctx context.Context, badgeNo string) (*backend.Inspector, error) {
	return s.findOne(ctx, bson.D{{Key: "badge_no", Value: badgeNo}})
}

// FindInspectorByUserID implements backend.InspectorStore.
func (s *InspectorStore) FindInspectorByUserID(ctx context.Context, userID string) (*backend.Inspector, error) {
	return s.findOne(ctx, bson.D{{Key: "user_id", Value: userID}})
}

func (s *InspectorStore) findOne(ctx context.Context, filter bson.D) (*backend.Inspector, error) {
	var m inspectorModel
	if err := s.coll().FindOne(ctx, filter).Decode(&m); err != nil {
		return nil, notFound(translate(err), "inspector not found")
	}
	return m.domain(), nil
}

// FindInspectors implements backend.InspectorStore.
func (s *InspectorStore) FindInspectors(ctx context.Context, f backend.InspectorFilter) ([]*backend.Inspector, int, error) {
	var and bson.A
	if f.DepartmentID != "" {
		and = append(and, bson.D{{Key: "department_id", Value: f.DepartmentID}})
	}
	if f.Qualification != "" {
		and = append(and, bson.D{{Key: "qualifications", Value: f.Qualification}})
	}
	if f.Active != nil {
		and = append(and, bson.D{{Key: "active", Value: *f.Active}})
	}
	if f.Drawable != nil {
		// The same rule as backend.Drawable, as a query: active and valid
		// through today.
		if *f.Drawable {
			and = append(and, bson.D{{Key: "active", Value: true}, {Key: "certificate_expires", Value: bson.D{{Key: "$gte", Value: string(f.Today)}}}})
		} else {
			and = append(and, bson.D{{Key: "$or", Value: bson.A{
				bson.D{{Key: "active", Value: false}},
				bson.D{{Key: "certificate_expires", Value: bson.D{{Key: "$lt", Value: string(f.Today)}}}},
			}}})
		}
	}
	if f.ExpiresBy != "" {
		and = append(and, bson.D{{Key: "certificate_expires", Value: bson.D{{Key: "$lte", Value: string(f.ExpiresBy)}}}})
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		and = append(and, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "name", Value: bson.Regex{Pattern: regexp.QuoteMeta(q), Options: "i"}}},
			bson.D{{Key: "badge_no", Value: bson.Regex{Pattern: "^" + regexp.QuoteMeta(backend.NormalizeBadgeNo(q))}}},
		}}})
	}
	filter := bson.D{}
	if len(and) > 0 {
		filter = bson.D{{Key: "$and", Value: and}}
	}
	sort := []string{"badge_no"}
	if f.ExpiresBy != "" {
		sort = []string{"certificate_expires", "badge_no"}
	}
	after, err := cursorValues(f.After, len(sort))
	if err != nil {
		return nil, 0, err
	}
	return pagedFind(ctx, s.coll(), listing{filter: filter, sort: sort, after: after, offset: f.Offset, limit: f.Limit,
		noTotal: f.NoTotal}, (*inspectorModel).domain)
}

// UpdateInspector implements backend.InspectorStore. The replace matches
// the version read, so a concurrent change in between makes it match
// nothing; a second lookup tells "gone" from "stale".
func (s *InspectorStore) UpdateInspector(ctx context.Context, in *backend.Inspector) error {
	doc := func(next int) any { m := toInspectorModel(in); m.Version = next; return m }
	return replaceVersioned(ctx, s.coll(), in.ID, &in.Version, doc, "inspector",
		func(err error) error { return s.conflict(ctx, in, err) })
}
