package mongodb

import (
	"context"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// findingModel is how a finding is stored.
type findingModel struct {
	ID            string    `bson:"_id"`
	TaskID        string    `bson:"task_id"`
	ItemID        string    `bson:"item_id"`
	Description   string    `bson:"description"`
	Severity      string    `bson:"severity"`
	Rectification string    `bson:"rectification"`
	RectifyBy     string    `bson:"rectify_by"`
	EvidenceIDs   []string  `bson:"evidence_ids"`
	CreatedBy     string    `bson:"created_by"`
	CreatedAt     time.Time `bson:"created_at"`
	UpdatedAt     time.Time `bson:"updated_at"`
	Version       int       `bson:"version"`
}

func toFindingModel(f *backend.Finding) *findingModel {
	return &findingModel{ID: f.ID, TaskID: f.TaskID, ItemID: f.ItemID, Description: f.Description, Severity: f.Severity,
		Rectification: f.Rectification, RectifyBy: f.RectifyBy, EvidenceIDs: nonNil(f.EvidenceIDs), CreatedBy: f.CreatedBy,
		CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt, Version: f.Version}
}

func (m *findingModel) domain() *backend.Finding {
	return &backend.Finding{ID: m.ID, TaskID: m.TaskID, ItemID: m.ItemID, Description: m.Description, Severity: m.Severity,
		Rectification: m.Rectification, RectifyBy: m.RectifyBy, EvidenceIDs: m.EvidenceIDs, CreatedBy: m.CreatedBy,
		CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC(), Version: m.Version}
}

// Findings returns the finding store.
func (db *DB) Findings() *FindingStore { return &FindingStore{db: db} }

// FindingStore implements backend.FindingStore.
type FindingStore struct{ db *DB }

var _ backend.FindingStore = (*FindingStore)(nil)

func (s *FindingStore) coll() collection { return s.db.collection("findings") }

// CreateFinding implements backend.FindingStore.
func (s *FindingStore) CreateFinding(ctx context.Context, f *backend.Finding) error {
	f.Version = 1
	return insertOne(ctx, s.coll(), toFindingModel(f))
}

// FindFinding implements backend.FindingStore.
func (s *FindingStore) FindFinding(ctx context.Context, id string) (*backend.Finding, error) {
	var m findingModel
	if err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "finding not found")
	}
	return m.domain(), nil
}

// FindFindingsByTask implements backend.FindingStore.
func (s *FindingStore) FindFindingsByTask(ctx context.Context, taskID string) ([]*backend.Finding, error) {
	return findAll(ctx, s.coll(), bson.D{{Key: "task_id", Value: taskID}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}), (*findingModel).domain)
}

// UpdateFinding implements backend.FindingStore.
func (s *FindingStore) UpdateFinding(ctx context.Context, f *backend.Finding) error {
	doc := func(next int) any { m := toFindingModel(f); m.Version = next; return m }
	return replaceVersioned(ctx, s.coll(), f.ID, &f.Version, doc, "finding", nil)
}

// nonCooperationModel is a recorded non-cooperation.
type nonCooperationModel struct {
	ID           string    `bson:"_id"`
	TaskID       string    `bson:"task_id"`
	EnterpriseID string    `bson:"enterprise_id"`
	USCC         string    `bson:"uscc"`
	Type         string    `bson:"type"`
	Description  string    `bson:"description"`
	EvidenceIDs  []string  `bson:"evidence_ids"`
	RecordedBy   string    `bson:"recorded_by"`
	RecordedAt   time.Time `bson:"recorded_at"`
}

func (m *nonCooperationModel) domain() *backend.NonCooperation {
	return &backend.NonCooperation{ID: m.ID, TaskID: m.TaskID, EnterpriseID: m.EnterpriseID, USCC: m.USCC, Type: m.Type,
		Description: m.Description, EvidenceIDs: m.EvidenceIDs, RecordedBy: m.RecordedBy, RecordedAt: m.RecordedAt.UTC()}
}

// NonCooperation returns the store of recorded non-cooperation.
func (db *DB) NonCooperation() *NonCooperationStore { return &NonCooperationStore{db: db} }

// NonCooperationStore implements backend.NonCooperationStore.
type NonCooperationStore struct{ db *DB }

var _ backend.NonCooperationStore = (*NonCooperationStore)(nil)

func (s *NonCooperationStore) coll() collection { return s.db.collection("non_cooperation") }

// CreateNonCooperation implements backend.NonCooperationStore.
func (s *NonCooperationStore) CreateNonCooperation(ctx context.Context, n *backend.NonCooperation) error {
	return insertOne(ctx, s.coll(), &nonCooperationModel{ID: n.ID, TaskID: n.TaskID, EnterpriseID: n.EnterpriseID, USCC: n.USCC,
		Type: n.Type, Description: n.Description, EvidenceIDs: nonNil(n.EvidenceIDs), RecordedBy: n.RecordedBy, RecordedAt: n.RecordedAt})
}

// FindNonCooperation implements backend.NonCooperationStore.
func (s *NonCooperationStore) FindNonCooperation(ctx context.Context, id string) (*backend.NonCooperation, error) {
	var m nonCooperationModel
	if err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "non-cooperation record not found")
	}
	return m.domain(), nil
}

// FindNonCooperationByTask implements backend.NonCooperationStore.
func (s *NonCooperationStore) FindNonCooperationByTask(ctx context.Context, taskID string) ([]*backend.NonCooperation, error) {
	return findAll(ctx, s.coll(), bson.D{{Key: "task_id", Value: taskID}},
		options.Find().SetSort(bson.D{{Key: "recorded_at", Value: 1}, {Key: "_id", Value: 1}}), (*nonCooperationModel).domain)
}

// NonCooperationTasks implements backend.NonCooperationStore.
func (s *NonCooperationStore) NonCooperationTasks(ctx context.Context) (map[string][]string, error) {
	cur, err := s.coll().Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "uscc", Value: 1}, {Key: "task_id", Value: 1}}))
	if err != nil {
		return nil, translate(err)
	}
	var rows []struct {
		USCC   string `bson:"uscc"`
		TaskID string `bson:"task_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, translate(err)
	}
	out := make(map[string][]string, len(rows))
	for _, r := range rows {
		if !slices.Contains(out[r.USCC], r.TaskID) {
			out[r.USCC] = append(out[r.USCC], r.TaskID)
		}
	}
	return out, nil
}

// evidenceModel is how an evidence record is stored.
type evidenceModel struct {
	ID           string     `bson:"_id"`
	TaskID       string     `bson:"task_id"`
	Kind         string     `bson:"kind"`
	ContentType  string     `bson:"content_type"`
	Size         int64      `bson:"size"`
	SHA256       string     `bson:"sha256"`
	TakenAt      *time.Time `bson:"taken_at,omitempty"`
	Lat          *float64   `bson:"lat,omitempty"`
	Lng          *float64   `bson:"lng,omitempty"`
	Source       string     `bson:"source,omitempty"`
	Description  string     `bson:"description,omitempty"`
	ObjectKey    string     `bson:"object_key"`
	Multipart    bool       `bson:"multipart"`
	UploadID     string     `bson:"upload_id,omitempty"`
	PartSize     int64      `bson:"part_size,omitempty"`
	State        string     `bson:"state"`
	RejectReason string     `bson:"reject_reason,omitempty"`
	VersionID    string     `bson:"version_id,omitempty"`
	SniffedType  string     `bson:"sniffed_type,omitempty"`
	EXIFTime     *time.Time `bson:"exif_time,omitempty"`
	EXIFLat      *float64   `bson:"exif_lat,omitempty"`
	EXIFLng      *float64   `bson:"exif_lng,omitempty"`
	CreatedBy    string     `bson:"created_by"`
	CreatedAt    time.Time  `bson:"created_at"`
	CompletedAt  *time.Time `bson:"completed_at,omitempty"`
}

func toEvidenceModel(e *backend.Evidence) *evidenceModel {
	return &evidenceModel{ID: e.ID, TaskID: e.TaskID, Kind: e.Kind, ContentType: e.ContentType, Size: e.Size, SHA256: e.SHA256,
		TakenAt: e.TakenAt, Lat: e.Lat, Lng: e.Lng, Source: e.Source, Description: e.Description, ObjectKey: e.ObjectKey,
		Multipart: e.Multipart, UploadID: e.UploadID, PartSize: e.PartSize, State: e.State, RejectReason: e.RejectReason,
		VersionID: e.VersionID, SniffedType: e.SniffedType, EXIFTime: e.EXIFTime, EXIFLat: e.EXIFLat, EXIFLng: e.EXIFLng,
		CreatedBy: e.CreatedBy, CreatedAt: e.CreatedAt, CompletedAt: e.CompletedAt}
}

func (m *evidenceModel) domain() *backend.Evidence {
	return &backend.Evidence{ID: m.ID, TaskID: m.TaskID, Kind: m.Kind, ContentType: m.ContentType, Size: m.Size, SHA256: m.SHA256,
		TakenAt: utcPtr(m.TakenAt), Lat: m.Lat, Lng: m.Lng, Source: m.Source, Description: m.Description, ObjectKey: m.ObjectKey,
		Multipart: m.Multipart, UploadID: m.UploadID, PartSize: m.PartSize, State: m.State, RejectReason: m.RejectReason,
		VersionID: m.VersionID, SniffedType: m.SniffedType, EXIFTime: utcPtr(m.EXIFTime), EXIFLat: m.EXIFLat, EXIFLng: m.EXIFLng,
		CreatedBy: m.CreatedBy, CreatedAt: m.CreatedAt.UTC(), CompletedAt: utcPtr(m.CompletedAt)}
}

// Evidence returns the evidence store.
func (db *DB) Evidence() *EvidenceStore { return &EvidenceStore{db: db} }

// EvidenceStore implements backend.EvidenceStore.
type EvidenceStore struct{ db *DB }

var _ backend.EvidenceStore = (*EvidenceStore)(nil)

func (s *EvidenceStore) coll() collection { return s.db.collection("evidence") }

// CreateEvidence implements backend.EvidenceStore.
func (s *EvidenceStore) CreateEvidence(ctx context.Context, e *backend.Evidence) error {
	return insertOne(ctx, s.coll(), toEvidenceModel(e))
}

// FindEvidence implements backend.EvidenceStore.
func (s *EvidenceStore) FindEvidence(ctx context.Context, id string) (*backend.Evidence, error) {
	var m evidenceModel
	if err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "evidence not found")
	}
	return m.domain(), nil
}

// FindEvidenceByTask implements backend.EvidenceStore.
func (s *EvidenceStore) FindEvidenceByTask(ctx context.Context, taskID string) ([]*backend.Evidence, error) {
	return findAll(ctx, s.coll(), bson.D{{Key: "task_id", Value: taskID}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}), (*evidenceModel).domain)
}

// SettleEvidence implements backend.EvidenceStore.
func (s *EvidenceStore) SettleEvidence(ctx context.Context, e *backend.Evidence) error {
	matched, err := replaceOne(ctx, s.coll(), bson.D{{Key: "_id", Value: e.ID}, {Key: "state", Value: backend.EvidencePending}}, toEvidenceModel(e))
	if err != nil {
		return err
	}
	if !matched {
		return backend.Errorf(backend.ECONFLICT, "the evidence was settled meanwhile")
	}
	return nil
}

// FindStaleUploads implements backend.EvidenceStore.
func (s *EvidenceStore) FindStaleUploads(ctx context.Context, before time.Time) ([]*backend.Evidence, error) {
	return findAll(ctx, s.coll(), bson.D{
		{Key: "state", Value: backend.EvidencePending}, {Key: "created_at", Value: bson.D{{Key: "$lt", Value: before}}},
	}, options.Find(), (*evidenceModel).domain)
}
