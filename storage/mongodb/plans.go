package mongodb

import (
	"context"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// planModel is how a plan is stored. The sealed seeds are not here: they
// live in plan_seeds, encrypted, which nothing but the draw reads.
type planModel struct {
	ID                 string   `bson:"_id"`
	Year               int      `bson:"year"`
	Title              string   `bson:"title"`
	Kind               string   `bson:"kind"`
	ItemIDs            []string `bson:"item_ids"`
	LeadDepartmentID   string   `bson:"lead_department_id"`
	JointDepartmentIDs []string `bson:"joint_department_ids"`
	Towns              []string `bson:"towns"`
	Industries         []string `bson:"industries"`
	Categories         []string `bson:"categories"`
	Flags              []string `bson:"flags"`
	// Ratio is how plans stored the ratio before it became a decimal
	// string (RatioDecimal); it is read, never written.
	Ratio          float64              `bson:"ratio,omitempty"`
	RatioDecimal   string               `bson:"ratio_decimal"`
	Count          int                  `bson:"count"`
	GroupSize      int                  `bson:"group_size"`
	JointMembers   int                  `bson:"joint_members"`
	WindowStart    string               `bson:"window_start"`
	WindowEnd      string               `bson:"window_end"`
	External       *planExternalModel   `bson:"external,omitempty"`
	Status         string               `bson:"status"`
	SeedCommitment string               `bson:"seed_commitment"`
	Commitment     *planCommitmentModel `bson:"commitment"`
	RedrawApproval *redrawApprovalModel `bson:"redraw_approval"`
	CurrentDrawID  string               `bson:"current_draw_id"`
	DrawCount      int                  `bson:"draw_count"`
	CreatedBy      string               `bson:"created_by"`
	CreatedAt      time.Time            `bson:"created_at"`
	ApprovedBy     string               `bson:"approved_by"`
	ApprovedAt     *time.Time           `bson:"approved_at"`
	UpdatedAt      time.Time            `bson:"updated_at"`
	Version        int                  `bson:"version"`
}

type planExternalModel struct {
	Agency       string `bson:"agency"`
	Reference    string `bson:"reference"`
	EnterpriseID string `bson:"enterprise_id"`
}

type planCommitmentModel struct {
	Seq            int       `bson:"seq"`
	SeedCommitment string    `bson:"seed_commitment"`
	EntropySource  string    `bson:"entropy_source"`
	PoolSHA256     string    `bson:"pool_sha256"`
	RosterSHA256   string    `bson:"roster_sha256"`
	Required       []string  `bson:"required"`
	Considered     int       `bson:"considered"`
	DirectoryMark  time.Time `bson:"directory_mark"`
	PoolSize       int       `bson:"pool_size"`
	SampleSize     int       `bson:"sample_size"`
	CommittedAt    time.Time `bson:"committed_at"`
	CommittedBy    string    `bson:"committed_by"`
}

type redrawApprovalModel struct {
	Seq        int       `bson:"seq"`
	Reason     string    `bson:"reason"`
	ApprovedBy string    `bson:"approved_by"`
	ApprovedAt time.Time `bson:"approved_at"`
}

func toPlanModel(p *backend.Plan) *planModel {
	m := &planModel{
		ID: p.ID, Year: p.Year, Title: p.Title, Kind: p.Kind, ItemIDs: p.ItemIDs,
		LeadDepartmentID: p.LeadDepartmentID, JointDepartmentIDs: p.JointDepartmentIDs,
		Towns: p.Filter.Towns, Industries: p.Filter.Industries, Categories: p.Filter.Categories, Flags: p.Filter.Flags,
		RatioDecimal: p.Sample.Ratio, Count: p.Sample.Count, GroupSize: p.GroupSize, JointMembers: p.JointMembers,
		WindowStart: p.WindowStart, WindowEnd: p.WindowEnd, Status: p.Status, SeedCommitment: p.SeedCommitment,
		CurrentDrawID: p.CurrentDrawID, DrawCount: p.DrawCount, CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt,
		ApprovedBy: p.ApprovedBy, ApprovedAt: p.ApprovedAt, UpdatedAt: p.UpdatedAt, Version: p.Version,
	}
	if c := p.Commitment; c != nil {
		m.Commitment = &planCommitmentModel{
			Seq: c.Seq, SeedCommitment: c.SeedCommitment, EntropySource: c.EntropySource, PoolSHA256: c.PoolSHA256,
			RosterSHA256: c.RosterSHA256, Required: c.Required, Considered: c.Considered, DirectoryMark: c.DirectoryMark,
			PoolSize: c.PoolSize, SampleSize: c.SampleSize, CommittedAt: c.CommittedAt, CommittedBy: c.CommittedBy,
		}
	}
	if a := p.RedrawApproval; a != nil {
		m.RedrawApproval = &redrawApprovalModel{Seq: a.Seq, Reason: a.Reason, ApprovedBy: a.ApprovedBy, ApprovedAt: a.ApprovedAt}
	}
	if x := p.External; x != nil {
		m.External = &planExternalModel{Agency: x.Agency, Reference: x.Reference, EnterpriseID: x.EnterpriseID}
	}
	return m
}

func (m *planModel) domain() *backend.Plan {
	p := &backend.Plan{
		ID: m.ID, Year: m.Year, Title: m.Title, Kind: m.Kind, ItemIDs: m.ItemIDs,
		LeadDepartmentID: m.LeadDepartmentID, JointDepartmentIDs: m.JointDepartmentIDs,
		Filter:    backend.PlanFilter{Towns: m.Towns, Industries: m.Industries, Categories: m.Categories, Flags: m.Flags},
		Sample:    backend.PlanSample{Ratio: m.RatioDecimal, Count: m.Count},
		GroupSize: m.GroupSize, JointMembers: m.JointMembers, WindowStart: m.WindowStart, WindowEnd: m.WindowEnd,
		Status: m.Status, SeedCommitment: m.SeedCommitment, CurrentDrawID: m.CurrentDrawID, DrawCount: m.DrawCount,
		CreatedBy: m.CreatedBy, CreatedAt: m.CreatedAt.UTC(), ApprovedBy: m.ApprovedBy,
		UpdatedAt: m.UpdatedAt.UTC(), Version: m.Version,
	}
	if p.Sample.Ratio == "" && m.Ratio != 0 {
		// A plan stored before ratios were decimals: its float, written
		// as the shortest decimal that reads back as it (0.07 → "0.07").
		p.Sample.Ratio = strconv.FormatFloat(m.Ratio, 'f', -1, 64)
	}
	if m.ApprovedAt != nil {
		t := m.ApprovedAt.UTC()
		p.ApprovedAt = &t
	}
	if x := m.External; x != nil {
		p.External = &backend.PlanExternal{Agency: x.Agency, Reference: x.Reference, EnterpriseID: x.EnterpriseID}
	}
	if c := m.Commitment; c != nil {
		p.Commitment = &backend.PlanCommitment{
			Seq: c.Seq, SeedCommitment: c.SeedCommitment, EntropySource: c.EntropySource, PoolSHA256: c.PoolSHA256,
			RosterSHA256: c.RosterSHA256, Required: c.Required, Considered: c.Considered, DirectoryMark: c.DirectoryMark.UTC(),
			PoolSize: c.PoolSize, SampleSize: c.SampleSize, CommittedAt: c.CommittedAt.UTC(), CommittedBy: c.CommittedBy,
		}
	}
	if a := m.RedrawApproval; a != nil {
		p.RedrawApproval = &backend.RedrawApproval{Seq: a.Seq, Reason: a.Reason, ApprovedBy: a.ApprovedBy, ApprovedAt: a.ApprovedAt.UTC()}
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
	return insertOne(ctx, s.coll(), toPlanModel(p))
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

// seedModel keeps the seed of one attempt sealed (encrypted by the plans
// use case) until the attempt reveals it.
type seedModel struct {
	ID        string    `bson:"_id"` // plan id ":" seq
	PlanID    string    `bson:"plan_id"`
	Seq       int       `bson:"seq"`
	Sealed    []byte    `bson:"sealed"`
	CreatedAt time.Time `bson:"created_at"`
}

func seedID(planID string, seq int) string { return planID + ":" + strconv.Itoa(seq) }

// StoreSeed implements backend.PlanStore. The plan and attempt make the
// document id: an attempt has one seed, replaced only by a new commitment
// of the same attempt.
func (s *PlanStore) StoreSeed(ctx context.Context, planID string, seq int, sealed []byte, at time.Time) error {
	id := seedID(planID, seq)
	return upsertOne(ctx, s.db.collection("plan_seeds"), bson.D{{Key: "_id", Value: id}},
		seedModel{ID: id, PlanID: planID, Seq: seq, Sealed: sealed, CreatedAt: at.UTC()})
}

// LoadSeed implements backend.PlanStore.
func (s *PlanStore) LoadSeed(ctx context.Context, planID string, seq int) ([]byte, error) {
	var m seedModel
	if err := s.db.collection("plan_seeds").FindOne(ctx, bson.D{{Key: "_id", Value: seedID(planID, seq)}}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "the attempt has no committed seed")
	}
	return m.Sealed, nil
}
