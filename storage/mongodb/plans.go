package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// planModel is how a plan is stored. The sealed seed is not here: it lives
// in plan_seeds, which nothing but the draw reads.
type planModel struct {
	ID                 string     `bson:"_id"`
	Year               int        `bson:"year"`
	Title              string     `bson:"title"`
	Kind               string     `bson:"kind"`
	ItemIDs            []string   `bson:"item_ids"`
	LeadDepartmentID   string     `bson:"lead_department_id"`
	JointDepartmentIDs []string   `bson:"joint_department_ids"`
	Towns              []string   `bson:"towns"`
	Industries         []string   `bson:"industries"`
	Categories         []string   `bson:"categories"`
	Flags              []string   `bson:"flags"`
	Ratio              float64    `bson:"ratio"`
	Count              int        `bson:"count"`
	GroupSize          int        `bson:"group_size"`
	JointMembers       int        `bson:"joint_members"`
	WindowStart        string     `bson:"window_start"`
	WindowEnd          string     `bson:"window_end"`
	Status             string     `bson:"status"`
	SeedCommitment     string     `bson:"seed_commitment"`
	CurrentDrawID      string     `bson:"current_draw_id"`
	DrawCount          int        `bson:"draw_count"`
	CreatedBy          string     `bson:"created_by"`
	CreatedAt          time.Time  `bson:"created_at"`
	ApprovedBy         string     `bson:"approved_by"`
	ApprovedAt         *time.Time `bson:"approved_at"`
	UpdatedAt          time.Time  `bson:"updated_at"`
	Version            int        `bson:"version"`
}

func toPlanModel(p *backend.Plan) *planModel {
	return &planModel{
		ID: p.ID, Year: p.Year, Title: p.Title, Kind: p.Kind, ItemIDs: p.ItemIDs,
		LeadDepartmentID: p.LeadDepartmentID, JointDepartmentIDs: p.JointDepartmentIDs,
		Towns: p.Filter.Towns, Industries: p.Filter.Industries, Categories: p.Filter.Categories, Flags: p.Filter.Flags,
		Ratio: p.Sample.Ratio, Count: p.Sample.Count, GroupSize: p.GroupSize, JointMembers: p.JointMembers,
		WindowStart: p.WindowStart, WindowEnd: p.WindowEnd, Status: p.Status, SeedCommitment: p.SeedCommitment,
		CurrentDrawID: p.CurrentDrawID, DrawCount: p.DrawCount, CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt,
		ApprovedBy: p.ApprovedBy, ApprovedAt: p.ApprovedAt, UpdatedAt: p.UpdatedAt, Version: p.Version,
	}
}

func (m *planModel) domain() *backend.Plan {
	p := &backend.Plan{
		ID: m.ID, Year: m.Year, Title: m.Title, Kind: m.Kind, ItemIDs: m.ItemIDs,
		LeadDepartmentID: m.LeadDepartmentID, JointDepartmentIDs: m.JointDepartmentIDs,
		Filter:    backend.PlanFilter{Towns: m.Towns, Industries: m.Industries, Categories: m.Categories, Flags: m.Flags},
		Sample:    backend.PlanSample{Ratio: m.Ratio, Count: m.Count},
		GroupSize: m.GroupSize, JointMembers: m.JointMembers, WindowStart: m.WindowStart, WindowEnd: m.WindowEnd,
		Status: m.Status, SeedCommitment: m.SeedCommitment, CurrentDrawID: m.CurrentDrawID, DrawCount: m.DrawCount,
		CreatedBy: m.CreatedBy, CreatedAt: m.CreatedAt.UTC(), ApprovedBy: m.ApprovedBy,
		UpdatedAt: m.UpdatedAt.UTC(), Version: m.Version,
	}
	if m.ApprovedAt != nil {
		t := m.ApprovedAt.UTC()
		p.ApprovedAt = &t
	}
	return p
}

// Plans returns the plan store.
func (db *DB) Plans() *PlanStore { return &PlanStore{db: db} }

// PlanStore implements backend.PlanStore.
type PlanStore struct{ db *DB }

var _ backend.PlanStore = (*PlanStore)(nil)

func (s *PlanStore) coll() collection { return s.db.collection("plans") }

// CreatePlan implements backend.PlanStore.
func (s *PlanStore) CreatePlan(ctx context.Context, p *backend.Plan) error {
	if p.ID == "" {
		p.ID = newID()
	}
	p.Version = 1
	_, err := s.coll().InsertOne(ctx, toPlanModel(p))
	return translate(err)
}

// FindPlanByID implements backend.PlanStore.
func (s *PlanStore) FindPlanByID(ctx context.Context, id string) (*backend.Plan, error) {
	var m planModel
	if err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "plan not found")
	}
	return m.domain(), nil
}

// FindPlans implements backend.PlanStore.
func (s *PlanStore) FindPlans(ctx context.Context, q backend.PlanQuery) ([]*backend.Plan, error) {
	filter := bson.D{}
	if q.Year != 0 {
		filter = append(filter, bson.E{Key: "year", Value: q.Year})
	}
	if q.Status != "" {
		filter = append(filter, bson.E{Key: "status", Value: q.Status})
	}
	if q.Published {
		filter = append(filter, bson.E{Key: "status", Value: bson.D{{Key: "$ne", Value: backend.PlanDraft}}})
	}
	if len(q.DepartmentIDs) > 0 {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "lead_department_id", Value: bson.D{{Key: "$in", Value: q.DepartmentIDs}}}},
			bson.D{{Key: "joint_department_ids", Value: bson.D{{Key: "$in", Value: q.DepartmentIDs}}}},
		}})
	}
	out, err := findAll(ctx, s.coll(), filter, options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: 1}}), (*planModel).domain)
	return out, err
}

// UpdatePlan implements backend.PlanStore: a compare-and-set on version.
func (s *PlanStore) UpdatePlan(ctx context.Context, p *backend.Plan) error {
	doc := func(next int) any { m := toPlanModel(p); m.Version = next; return m }
	return replaceVersioned(ctx, s.coll(), p.ID, &p.Version, doc, "plan", nil)
}

// seedModel keeps a plan's seed sealed until its draw reveals it.
type seedModel struct {
	PlanID    string    `bson:"_id"`
	Seed      string    `bson:"seed"`
	CreatedAt time.Time `bson:"created_at"`
}

// StoreSeed implements backend.PlanStore. The plan id is the document id,
// so a plan can never get a second seed.
func (s *PlanStore) StoreSeed(ctx context.Context, planID, seed string) error {
	_, err := s.db.collection("plan_seeds").InsertOne(ctx, seedModel{PlanID: planID, Seed: seed, CreatedAt: time.Now().UTC()})
	if err = translate(err); backend.ErrorCode(err) == backend.ECONFLICT {
		return backend.Wrap(err, backend.ECONFLICT, "the plan's seed is already committed")
	}
	return err
}

// LoadSeed implements backend.PlanStore.
func (s *PlanStore) LoadSeed(ctx context.Context, planID string) (string, error) {
	var m seedModel
	if err := s.db.collection("plan_seeds").FindOne(ctx, bson.D{{Key: "_id", Value: planID}}).Decode(&m); err != nil {
		return "", notFound(translate(err), "the plan has no committed seed")
	}
	return m.Seed, nil
}
