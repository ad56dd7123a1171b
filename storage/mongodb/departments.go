package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// departmentModel is how a department is stored.
type departmentModel struct {
	ID        string    `bson:"_id"`
	Name      string    `bson:"name"`
	Kind      string    `bson:"kind"`
	CreatedAt time.Time `bson:"created_at"`
	UpdatedAt time.Time `bson:"updated_at"`
	Version   int       `bson:"version"`
}

func toDepartmentModel(d *backend.Department) departmentModel {
	return departmentModel{ID: d.ID, Name: d.Name, Kind: d.Kind, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, Version: d.Version}
}

func (m *departmentModel) domain() *backend.Department {
	return &backend.Department{ID: m.ID, Name: m.Name, Kind: m.Kind, CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC(), Version: m.Version}
}

// Departments returns the department store.
func (db *DB) Departments() *DepartmentStore { return &DepartmentStore{db: db} }

// DepartmentStore implements backend.DepartmentStore on the departments
// collection.
type DepartmentStore struct{ db *DB }

var _ backend.DepartmentStore = (*DepartmentStore)(nil)

func (s *DepartmentStore) coll() collection { return s.db.collection("departments") }

// CreateDepartment implements backend.DepartmentStore.
func (s *DepartmentStore) CreateDepartment(ctx context.Context, d *backend.Department) error {
	if d.ID == "" {
		d.ID = newID()
	}
	d.Version = 1 // every record starts at version 1; UpdateX bumps it
	return departmentConflict(insertOne(ctx, s.coll(), toDepartmentModel(d)), d.Name)
}

// FindDepartmentByID implements backend.DepartmentStore.
func (s *DepartmentStore) FindDepartmentByID(ctx context.Context, id string) (*backend.Department, error) {
	var m departmentModel
	if err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "department not found")
	}
	return m.domain(), nil
}

// FindDepartments implements backend.DepartmentStore.
func (s *DepartmentStore) FindDepartments(ctx context.Context) ([]*backend.Department, error) {
	out, err := findAll(ctx, s.coll(), bson.D{}, options.Find().SetSort(bson.D{{Key: "name", Value: 1}, {Key: "_id", Value: 1}}), (*departmentModel).domain)
	return out, err
}

// UpdateDepartment implements backend.DepartmentStore.
func (s *DepartmentStore) UpdateDepartment(ctx context.Context, d *backend.Department) error {
	doc := func(next int) any { m := toDepartmentModel(d); m.Version = next; return m }
	return replaceVersioned(ctx, s.coll(), d.ID, &d.Version, doc, "department",
		func(err error) error { return departmentConflict(err, d.Name) })
}

// departmentConflict names the field of a duplicate name.
func departmentConflict(err error, name string) error {
	if backend.ErrorCode(err) == backend.ECONFLICT {
		return &backend.Error{Code: backend.ECONFLICT, Message: "a department named " + name + " already exists",
			Fields: map[string]string{"name": "taken"}, Err: err}
	}
	return err
}
