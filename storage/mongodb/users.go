package mongodb

import (
	"context"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
)

// userModel is how a user is stored.
type userModel struct {
	ID           string    `bson:"_id"`
	Username     string    `bson:"username"`
	DisplayName  string    `bson:"display_name"`
	Roles        []string  `bson:"roles"`
	DepartmentID string    `bson:"department_id"`
	Disabled     bool      `bson:"disabled"`
	PasswordHash string    `bson:"password_hash"`
	Version      int       `bson:"version"`
	CreatedAt    time.Time `bson:"created_at"`
	UpdatedAt    time.Time `bson:"updated_at"`
}

func toUserModel(u *backend.User) *userModel {
	roles := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		roles[i] = string(r)
	}
	return &userModel{
		ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Roles: roles,
		DepartmentID: u.DepartmentID, Disabled: u.Disabled, PasswordHash: u.PasswordHash,
		Version: u.Version, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

func (m *userModel) domain() *backend.User {
	roles := make([]backend.Role, len(m.Roles))
	for i, r := range m.Roles {
		roles[i] = backend.Role(r)
	}
	return &backend.User{
		ID: m.ID, Username: m.Username, DisplayName: m.DisplayName, Roles: roles,
		DepartmentID: m.DepartmentID, Disabled: m.Disabled, PasswordHash: m.PasswordHash,
		Version: m.Version, CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC(),
	}
}

// Users returns the user store.
func (db *DB) Users() *UserStore { return &UserStore{db: db} }

// UserStore implements backend.UserStore on the users collection.
type UserStore struct{ db *DB }

var _ backend.UserStore = (*UserStore)(nil)

func (s *UserStore) coll() collection { return s.db.collection("users") }

// CreateUser implements backend.UserStore.
func (s *UserStore) CreateUser(ctx context.Context, u *backend.User) error {
	if u.ID == "" {
		u.ID = newID()
	}
	u.Version = 1 // every record starts at version 1; UpdateX bumps it
	return insertOne(ctx, s.coll(), toUserModel(u))
}

// FindUserByID implements backend.UserStore.
func (s *UserStore) FindUserByID(ctx context.Context, id string) (*backend.User, error) {
	return s.findOne(ctx, bson.D{{Key: "_id", Value: id}})
}

// FindUserByUsername implements backend.UserStore.
func (s *UserStore) FindUserByUsername(ctx context.Context, username string) (*backend.User, error) {
	return s.findOne(ctx, bson.D{{Key: "username", Value: username}})
}

func (s *UserStore) findOne(ctx context.Context, filter bson.D) (*backend.User, error) {
	var m userModel
	if err := s.coll().FindOne(ctx, filter).Decode(&m); err != nil {
		return nil, notFound(translate(err), "user not found")
	}
	return m.domain(), nil
}

// FindUsers implements backend.UserStore.
func (s *UserStore) FindUsers(ctx context.Context, f backend.UserFilter) ([]*backend.User, int, error) {
	filter := bson.D{}
	if f.Role != "" {
		filter = append(filter, bson.E{Key: "roles", Value: string(f.Role)})
	}
	if f.DepartmentID != "" {
		filter = append(filter, bson.E{Key: "department_id", Value: f.DepartmentID})
	}
	if f.Query != "" {
		prefix := bson.Regex{Pattern: "^" + regexp.QuoteMeta(f.Query), Options: "i"}
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "username", Value: prefix}},
			bson.D{{Key: "display_name", Value: prefix}},
		}})
	}
	after, err := cursorValues(f.After, 1)
	if err != nil {
		return nil, 0, err
	}
	return pagedFind(ctx, s.coll(), listing{filter: filter, sort: []string{"username"},
		after: after, offset: f.Offset, limit: f.Limit}, (*userModel).domain)
}

// UpdateUser implements backend.UserStore with the versioned
// compare-and-set every record uses (replaceVersioned).
func (s *UserStore) UpdateUser(ctx context.Context, u *backend.User) error {
	doc := func(next int) any { m := toUserModel(u); m.Version = next; return m }
	return replaceVersioned(ctx, s.coll(), u.ID, &u.Version, doc, "user", nil)
}

// backfillUserVersions gives users stored before users had versions
// version 1, so that compare-and-set can match them.
func (db *DB) backfillUserVersions(ctx context.Context) error {
	_, err := db.collection("users").UpdateMany(ctx,
		bson.D{{Key: "version", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "version", Value: 1}}}})
	return translate(err)
}

// CountUsersWithRole implements backend.UserStore.
func (s *UserStore) CountUsersWithRole(ctx context.Context, r backend.Role) (int, error) {
	n, err := s.coll().CountDocuments(ctx, bson.D{{Key: "roles", Value: string(r)}, {Key: "disabled", Value: false}})
	return int(n), translate(err)
}
