package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"suiji/backend"
)

// The result side of a task (backend.TaskResult) is stored in its task's
// document, in the field "result", so that a review, a feedback or a
// publication and the task's state change in one atomic, versioned write
// (FerretDB has no transactions). The task store's own model does not know
// the field, and its replacements set and unset only the fields it knows,
// so the two never overwrite each other's parts.

// resultModel is how a task's result side is stored.
type resultModel struct {
	Result        string             `bson:"result,omitempty"`
	Reviews       []reviewModel      `bson:"reviews,omitempty"`
	Feedback      *feedbackModel     `bson:"feedback,omitempty"`
	Dispositions  []dispositionModel `bson:"dispositions,omitempty"`
	Publications  []publicationModel `bson:"publications,omitempty"`
	PublicPending bool               `bson:"public_pending,omitempty"`
	// PublicVersion repeats the newest publication's version, which
	// ClearPublicPending's filter names.
	PublicVersion int `bson:"public_version,omitempty"`
	// DocumentsPending marks an approval whose documents are not archived yet.
	DocumentsPending bool `bson:"documents_pending,omitempty"`
}

type reviewModel struct {
	Decision   string    `bson:"decision"`
	Comment    string    `bson:"comment,omitempty"`
	Result     string    `bson:"result,omitempty"`
	ReviewerID string    `bson:"reviewer_id"`
	Reviewer   string    `bson:"reviewer"`
	At         time.Time `bson:"at"`
}

type feedbackModel struct {
	Method       string    `bson:"method"`
	DeliveredAt  time.Time `bson:"delivered_at"`
	Receiver     string    `bson:"receiver"`
	TrackingNo   string    `bson:"tracking_no,omitempty"`
	Due          string    `bson:"due"`
	Late         bool      `bson:"late"`
	WorkdaysLate int       `bson:"workdays_late"`
	RecordedBy   string    `bson:"recorded_by"`
	RecordedAt   time.Time `bson:"recorded_at"`
}

type dispositionModel struct {
	ID         string    `bson:"id"`
	Kind       string    `bson:"kind"`
	CaseNo     string    `bson:"case_no,omitempty"`
	Agency     string    `bson:"agency,omitempty"`
	Date       string    `bson:"date"`
	DocumentNo string    `bson:"document_no"`
	DocumentID string    `bson:"document_id,omitempty"`
	RecordedBy string    `bson:"recorded_by"`
	RecordedAt time.Time `bson:"recorded_at"`
}

type publicationModel struct {
	Version int       `bson:"version"`
	At      time.Time `bson:"at"`
	By      string    `bson:"by"`
	Reason  string    `bson:"reason,omitempty"`
	Due     string    `bson:"due,omitempty"`
	Late    bool      `bson:"late"`
}

// taskResultModel is a task document read or written with its result side.
type taskResultModel struct {
	Task   taskModel    `bson:",inline"`
	Result *resultModel `bson:"result,omitempty"`
}

func toResultModel(r *backend.TaskResult) *resultModel {
	m := &resultModel{Result: r.Result, PublicPending: r.PublicPending, DocumentsPending: r.DocumentsPending}
	for _, v := range r.Reviews {
		m.Reviews = append(m.Reviews, reviewModel(v))
	}
	if f := r.Feedback; f != nil {
		fm := feedbackModel(*f)
		m.Feedback = &fm
	}
	for _, d := range r.Dispositions {
		m.Dispositions = append(m.Dispositions, dispositionModel(d))
	}
	for _, p := range r.Publications {
		m.Publications = append(m.Publications, publicationModel(p))
	}
	if p := r.Published(); p != nil {
		m.PublicVersion = p.Version
	}
	return m
}

func (m *resultModel) domain() *backend.TaskResult {
	r := &backend.TaskResult{}
	if m == nil {
		return r
	}
	r.Result, r.PublicPending, r.DocumentsPending = m.Result, m.PublicPending, m.DocumentsPending
	for _, v := range m.Reviews {
		v.At = v.At.UTC()
		r.Reviews = append(r.Reviews, backend.Review(v))
	}
	if f := m.Feedback; f != nil {
		fb := backend.Feedback(*f)
		fb.DeliveredAt, fb.RecordedAt = fb.DeliveredAt.UTC(), fb.RecordedAt.UTC()
		r.Feedback = &fb
	}
	for _, d := range m.Dispositions {
		d.RecordedAt = d.RecordedAt.UTC()
		r.Dispositions = append(r.Dispositions, backend.Disposition(d))
	}
	for _, p := range m.Publications {
		p.At = p.At.UTC()
		r.Publications = append(r.Publications, backend.Publication(p))
	}
	return r
}

// TaskResults returns the store of tasks' result sides.
func (db *DB) TaskResults() *TaskResultStore { return &TaskResultStore{db: db} }

// TaskResultStore implements backend.TaskResultStore on the tasks
// collection.
type TaskResultStore struct{ db *DB }

var _ backend.TaskResultStore = (*TaskResultStore)(nil)

func (s *TaskResultStore) coll() collection { return s.db.collection("tasks") }

// FindTaskResult implements backend.TaskResultStore.
func (s *TaskResultStore) FindTaskResult(ctx context.Context, taskID string) (*backend.Task, *backend.TaskResult, error) {
	var m taskResultModel
	if err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: taskID}}).Decode(&m); err != nil {
		return nil, nil, notFound(translate(err), "task not found")
	}
	if err := s.db.resolveItems(ctx, &m.Task); err != nil {
		return nil, nil, err
	}
	return m.Task.domain(), m.Result.domain(), nil
}

// UpdateTaskResult implements backend.TaskResultStore: the task store's
// compare-and-set, writing the result side with the task.
func (s *TaskResultStore) UpdateTaskResult(ctx context.Context, t *backend.Task, r *backend.TaskResult) error {
	task, err := s.db.sharedTaskModel(ctx, t)
	if err != nil {
		return err
	}
	doc := func(next int) any {
		m := &taskResultModel{Task: *task, Result: toResultModel(r)}
		m.Task.Version = next
		return m
	}
	return replaceVersioned(ctx, s.coll(), t.ID, &t.Version, doc, "task", nil)
}

// PendingPublic implements backend.TaskResultStore.
func (s *TaskResultStore) PendingPublic(ctx context.Context, limit int) ([]string, error) {
	return s.pending(ctx, "result.public_pending", limit)
}

// PendingDocuments implements backend.TaskResultStore.
func (s *TaskResultStore) PendingDocuments(ctx context.Context, limit int) ([]string, error) {
	return s.pending(ctx, "result.documents_pending", limit)
}

// ClearDocumentsPending implements backend.TaskResultStore.
func (s *TaskResultStore) ClearDocumentsPending(ctx context.Context, taskID string) error {
	c := s.coll()
	defer lockDocument(c, taskID)()
	_, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: taskID}, {Key: "result.documents_pending", Value: true}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "result.documents_pending", Value: ""}}}})
	return translate(err)
}

// pending returns up to limit ids of tasks whose flag field is set.
func (s *TaskResultStore) pending(ctx context.Context, field string, limit int) ([]string, error) {
	return findIDs(ctx, s.coll(), bson.D{{Key: field, Value: true}}, limit)
}

// ClearPublicPending implements backend.TaskResultStore.
func (s *TaskResultStore) ClearPublicPending(ctx context.Context, taskID string, version int) error {
	c := s.coll()
	defer lockDocument(c, taskID)()
	_, err := c.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: taskID}, {Key: "result.public_pending", Value: true}, {Key: "result.public_version", Value: version}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "result.public_pending", Value: ""}}}})
	return translate(err)
}
