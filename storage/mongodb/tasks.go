package mongodb

import (
	"context"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// taskModel is how a task is stored: the task as one document, so that
// every change to it (a member replaced, a state moved) is one atomic,
// versioned replace. Its items are a reference to a stored list that
// never changes (ItemsRef; itemlists.go), written before the task.
// MemberUserIDs repeats the active members' accounts so that "my tasks"
// is an index lookup. Empty fields are left out: a dispatch writes a
// thousand tasks at once.
type taskModel struct {
	ID                string              `bson:"_id"`
	Kind              string              `bson:"kind"`
	Source            string              `bson:"source,omitempty"`
	Reason            string              `bson:"reason,omitempty"`
	PlanID            string              `bson:"plan_id,omitempty"`
	DrawID            string              `bson:"draw_id,omitempty"`
	ExternalPlanRef   string              `bson:"external_plan_ref,omitempty"`
	Year              int                 `bson:"year"`
	LeadDepartmentID  string              `bson:"lead_department_id"`
	DepartmentIDs     []string            `bson:"department_ids"`
	Enterprise        taskEnterpriseModel `bson:"enterprise"`
	Items             []taskItemModel     `bson:"items,omitempty"`
	ItemsRef          string              `bson:"items_ref,omitempty"` // the stored list in place of Items (itemlists.go)
	Members           []taskMemberModel   `bson:"members"`
	MemberUserIDs     []string            `bson:"member_user_ids"`
	WindowStart       string              `bson:"window_start"`
	WindowEnd         string              `bson:"window_end"`
	DueWindow         string              `bson:"due_window"`
	DueFeedback       string              `bson:"due_feedback,omitempty"`
	DuePublication    string              `bson:"due_publication,omitempty"`
	InspectionEndedAt *time.Time          `bson:"inspection_ended_at,omitempty"`
	Progress          []progressModel     `bson:"progress,omitempty"`
	Checklist         []outcomeModel      `bson:"checklist,omitempty"`
	SubmittedResult   string              `bson:"submitted_result,omitempty"`
	Amendments        []amendmentModel    `bson:"amendments,omitempty"`
	FeedbackAt        *time.Time          `bson:"feedback_at,omitempty"`
	PublishedAt       *time.Time          `bson:"published_at,omitempty"`
	Overdue           []string            `bson:"overdue,omitempty"`
	Reminded          []string            `bson:"reminded,omitempty"`
	NoticesPending    []string            `bson:"notices_pending,omitempty"`
	State             string              `bson:"state"`
	CancelledAt       *time.Time          `bson:"cancelled_at,omitempty"`
	CancelledBy       string              `bson:"cancelled_by,omitempty"`
	CancelledReason   string              `bson:"cancelled_reason,omitempty"`
	CreatedBy         string              `bson:"created_by"`
	CreatedAt         time.Time           `bson:"created_at"`
	UpdatedAt         time.Time           `bson:"updated_at"`
	Version           int                 `bson:"version"`
}

type progressModel struct {
	UserID     string           `bson:"user_id"`
	CheckIn    *checkInModel    `bson:"check_in,omitempty"`
	Submission *submissionModel `bson:"submission,omitempty"`
}

type checkInModel struct {
	Lat       float64   `bson:"lat"`
	Lng       float64   `bson:"lng"`
	AccuracyM float64   `bson:"accuracy_m"`
	At        time.Time `bson:"at"`
	DistanceM *float64  `bson:"distance_m,omitempty"`
	Flagged   bool      `bson:"flagged,omitempty"`
}

type submissionModel struct {
	Result              string    `bson:"result"`
	Summary             string    `bson:"summary"`
	SignatureEvidenceID string    `bson:"signature_evidence_id"`
	At                  time.Time `bson:"at"`
}

type outcomeModel struct {
	ItemID  string    `bson:"item_id"`
	Outcome string    `bson:"outcome"`
	Note    string    `bson:"note,omitempty"`
	By      string    `bson:"by"`
	At      time.Time `bson:"at"`
	Version int       `bson:"version,omitempty"`
}

type amendmentModel struct {
	At     time.Time `bson:"at"`
	By     string    `bson:"by"`
	Reason string    `bson:"reason"`
	What   string    `bson:"what"`
}

type taskEnterpriseModel struct {
	ID         string   `bson:"id"`
	USCC       string   `bson:"uscc"`
	Name       string   `bson:"name"`
	Town       string   `bson:"town"`
	Address    string   `bson:"address,omitempty"`
	Lat        *float64 `bson:"lat,omitempty"`
	Lng        *float64 `bson:"lng,omitempty"`
	Categories []string `bson:"categories,omitempty"`
}

type taskItemModel struct {
	ID            string   `bson:"id"`
	Code          string   `bson:"code"`
	Name          string   `bson:"name"`
	Law           string   `bson:"law,omitempty"`
	Article       string   `bson:"article,omitempty"`
	DepartmentID  string   `bson:"department_id,omitempty"`
	Content       string   `bson:"content,omitempty"`
	Method        string   `bson:"method,omitempty"`
	Qualification string   `bson:"qualification,omitempty"`
	Categories    []string `bson:"categories,omitempty"`
}

type taskMemberModel struct {
	BadgeNo      string     `bson:"badge_no"`
	InspectorID  string     `bson:"inspector_id"`
	UserID       string     `bson:"user_id,omitempty"`
	Name         string     `bson:"name"`
	DepartmentID string     `bson:"department_id,omitempty"`
	Lead         bool       `bson:"lead"`
	AddedAt      time.Time  `bson:"added_at"`
	AddedReason  string     `bson:"added_reason,omitempty"`
	RemovedAt    *time.Time `bson:"removed_at,omitempty"`
	RemovedBy    string     `bson:"removed_by,omitempty"`
	RemoveReason string     `bson:"remove_reason,omitempty"`
}

func toTaskModel(t *backend.Task) *taskModel {
	e := t.Enterprise
	m := &taskModel{
		ID: t.ID, Kind: t.Kind, Source: t.Source, Reason: t.Reason, PlanID: t.PlanID, DrawID: t.DrawID,
		ExternalPlanRef: t.ExternalPlanRef, Year: t.Year, LeadDepartmentID: t.LeadDepartmentID,
		DepartmentIDs: nonNil(t.DepartmentIDs), MemberUserIDs: nonNil(t.MemberUserIDs()),
		Enterprise: taskEnterpriseModel{ID: e.ID, USCC: e.USCC, Name: e.Name, Town: e.Town, Address: e.Address,
			Categories: nonNil(e.Categories)},
		WindowStart: t.WindowStart, WindowEnd: t.WindowEnd, DueWindow: t.Deadlines.Window,
		DueFeedback: t.Deadlines.Feedback, DuePublication: t.Deadlines.Publication,
		InspectionEndedAt: t.InspectionEndedAt, FeedbackAt: t.FeedbackAt, PublishedAt: t.PublishedAt, Overdue: t.Overdue, Reminded: t.Reminded, NoticesPending: t.NoticesPending,
		State: t.State, CancelledAt: t.CancelledAt, CancelledBy: t.CancelledBy, CancelledReason: t.CancelledReason,
		CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, Version: t.Version,
	}
	if e.Location != nil {
		m.Enterprise.Lat, m.Enterprise.Lng = &e.Location.Lat, &e.Location.Lng
	}
	m.SubmittedResult = t.SubmittedResult
	for _, p := range t.Progress {
		pm := progressModel{UserID: p.UserID}
		if c := p.CheckIn; c != nil {
			pm.CheckIn = &checkInModel{Lat: c.Lat, Lng: c.Lng, AccuracyM: c.AccuracyM, At: c.At, DistanceM: c.DistanceM, Flagged: c.Flagged}
		}
		if sb := p.Submission; sb != nil {
			pm.Submission = &submissionModel{Result: sb.Result, Summary: sb.Summary, SignatureEvidenceID: sb.SignatureEvidenceID, At: sb.At}
		}
		m.Progress = append(m.Progress, pm)
	}
	for _, o := range t.Checklist {
		m.Checklist = append(m.Checklist, outcomeModel{ItemID: o.ItemID, Outcome: o.Outcome, Note: o.Note, By: o.By, At: o.At, Version: o.Version})
	}
	for _, a := range t.Amendments {
		m.Amendments = append(m.Amendments, amendmentModel{At: a.At, By: a.By, Reason: a.Reason, What: a.What})
	}
	for _, it := range t.Items {
		m.Items = append(m.Items, taskItemModel{
			ID: it.ID, Code: it.Code, Name: it.Name, Law: it.LegalBasis.Law, Article: it.LegalBasis.Article,
			DepartmentID: it.DepartmentID, Content: it.Content, Method: it.Method, Qualification: it.Qualification,
			Categories: nonNil(it.Categories),
		})
	}
	for _, mb := range t.Members {
		m.Members = append(m.Members, taskMemberModel{
			BadgeNo: mb.BadgeNo, InspectorID: mb.InspectorID, UserID: mb.UserID, Name: mb.Name,
			DepartmentID: mb.DepartmentID, Lead: mb.Lead, AddedAt: mb.AddedAt, AddedReason: mb.AddedReason,
			RemovedAt: mb.RemovedAt, RemovedBy: mb.RemovedBy, RemoveReason: mb.RemoveReason,
		})
	}
	return m
}

func (m *taskModel) domain() *backend.Task {
	t := &backend.Task{
		ID: m.ID, Kind: m.Kind, Source: m.Source, Reason: m.Reason, PlanID: m.PlanID, DrawID: m.DrawID,
		ExternalPlanRef: m.ExternalPlanRef, Year: m.Year, LeadDepartmentID: m.LeadDepartmentID,
		DepartmentIDs: m.DepartmentIDs,
		Enterprise: backend.TaskEnterprise{ID: m.Enterprise.ID, USCC: m.Enterprise.USCC, Name: m.Enterprise.Name,
			Town: m.Enterprise.Town, Address: m.Enterprise.Address, Categories: m.Enterprise.Categories},
		WindowStart: m.WindowStart, WindowEnd: m.WindowEnd,
		Deadlines:         backend.TaskDeadlines{Window: m.DueWindow, Feedback: m.DueFeedback, Publication: m.DuePublication},
		InspectionEndedAt: utcPtr(m.InspectionEndedAt), FeedbackAt: utcPtr(m.FeedbackAt), PublishedAt: utcPtr(m.PublishedAt), Overdue: m.Overdue, Reminded: m.Reminded, NoticesPending: m.NoticesPending,
		State: m.State, CancelledAt: utcPtr(m.CancelledAt), CancelledBy: m.CancelledBy, CancelledReason: m.CancelledReason,
		CreatedBy: m.CreatedBy, CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC(), Version: m.Version,
	}
	if m.Enterprise.Lat != nil && m.Enterprise.Lng != nil {
		t.Enterprise.Location = &backend.GeoPoint{Lat: *m.Enterprise.Lat, Lng: *m.Enterprise.Lng}
	}
	t.SubmittedResult = m.SubmittedResult
	for _, p := range m.Progress {
		dp := backend.MemberProgress{UserID: p.UserID}
		if c := p.CheckIn; c != nil {
			dp.CheckIn = &backend.CheckIn{Lat: c.Lat, Lng: c.Lng, AccuracyM: c.AccuracyM, At: c.At.UTC(), DistanceM: c.DistanceM, Flagged: c.Flagged}
		}
		if sb := p.Submission; sb != nil {
			dp.Submission = &backend.Submission{Result: sb.Result, Summary: sb.Summary, SignatureEvidenceID: sb.SignatureEvidenceID, At: sb.At.UTC()}
		}
		t.Progress = append(t.Progress, dp)
	}
	for _, o := range m.Checklist {
		t.Checklist = append(t.Checklist, backend.ItemOutcome{ItemID: o.ItemID, Outcome: o.Outcome, Note: o.Note, By: o.By, At: o.At.UTC(), Version: o.Version})
	}
	for _, a := range m.Amendments {
		t.Amendments = append(t.Amendments, backend.Amendment{At: a.At.UTC(), By: a.By, Reason: a.Reason, What: a.What})
	}
	for _, it := range m.Items {
		t.Items = append(t.Items, backend.TaskItem{
			ID: it.ID, Code: it.Code, Name: it.Name, LegalBasis: backend.LegalBasis{Law: it.Law, Article: it.Article},
			DepartmentID: it.DepartmentID, Content: it.Content, Method: it.Method, Qualification: it.Qualification,
			Categories: slices.Clone(it.Categories), // a stored list is shared (itemlists.go)
		})
	}
	for _, mb := range m.Members {
		t.Members = append(t.Members, backend.TaskMember{
			BadgeNo: mb.BadgeNo, InspectorID: mb.InspectorID, UserID: mb.UserID, Name: mb.Name,
			DepartmentID: mb.DepartmentID, Lead: mb.Lead, AddedAt: mb.AddedAt.UTC(), AddedReason: mb.AddedReason,
			RemovedAt: utcPtr(mb.RemovedAt), RemovedBy: mb.RemovedBy, RemoveReason: mb.RemoveReason,
		})
	}
	return t
}

// Tasks returns the task store.
func (db *DB) Tasks() *TaskStore { return &TaskStore{db: db} }

// TaskStore implements backend.TaskStore.
type TaskStore struct{ db *DB }

var _ backend.TaskStore = (*TaskStore)(nil)

func (s *TaskStore) coll() collection { return s.db.collection("tasks") }

// InsertTasks implements backend.TaskStore.
func (s *TaskStore) InsertTasks(ctx context.Context, ts []*backend.Task) ([]string, error) {
	docs := make([]any, len(ts))
	models := make([]*taskModel, len(ts))
	ids := make([]string, len(ts))
	for i, t := range ts {
		if t.ID == "" {
			t.ID = newID()
		}
		t.Version = 1
		models[i] = toTaskModel(t)
		docs[i], ids[i] = models[i], t.ID
	}
	if err := s.db.shareItems(ctx, models...); err != nil {
		return nil, err
	}
	// An audited creation carries its event in the task's document (a
	// targeted task), or, for a bulk change (a dispatch), every task bears
	// its mark; see insertMany.
	return insertNew(ctx, s.coll(), ids, docs)
}

// StoredCopy implements tasks.StoredCopier: t as a read of what
// UpdateTask or InsertTasks stored of it returns — through the same
// model and BSON encoding, so times come back to the millisecond, in UTC,
// exactly as from the store — with nothing read.
func (s *TaskStore) StoredCopy(t *backend.Task) (*backend.Task, error) {
	raw, err := bson.Marshal(toTaskModel(t))
	if err != nil {
		return nil, err
	}
	var m taskModel
	if err := bson.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m.domain(), nil
}

// FindTaskByID implements backend.TaskStore.
func (s *TaskStore) FindTaskByID(ctx context.Context, id string) (*backend.Task, error) {
	var m taskModel
	if err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "task not found")
	}
	if err := s.db.resolveItems(ctx, &m); err != nil {
		return nil, err
	}
	return m.domain(), nil
}

// FindTasksByIDs implements backend.TaskStore: each id is looked up on
// its own, pointLookups at a time. On MongoDB each is an _id index lookup.
// FerretDB v1 decodes every task for $in, but hands a filter of _id alone
// to SQLite, which compares the stored JSON's _id without decoding —
// though still row by row: FerretDB's query spells the path '$._id' and
// its own _id index "_id", so SQLite does not match them (EXPLAIN QUERY
// PLAN: SCAN). A lookup there costs about 1/100 of a decoding read of
// the collection (some 50 ms among 5,000 tasks on the shared machine).
func (s *TaskStore) FindTasksByIDs(ctx context.Context, ids []string) ([]*backend.Task, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	found := make([]*backend.Task, len(ids))
	errs := make([]error, len(ids))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(pointLookups, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t, err := s.FindTaskByID(ctx, ids[i])
				if backend.ErrorCode(err) == backend.ENOTFOUND {
					err = nil
				}
				found[i], errs[i] = t, err
			}
		}()
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	out := make([]*backend.Task, 0, len(ids))
	for _, t := range found {
		if t != nil {
			out = append(out, t)
		}
	}
	return out, nil
}

// pointLookups is how many lookups FindTasksByIDs has in flight at once.
const pointLookups = 8

// FindTasks implements backend.TaskStore.
func (s *TaskStore) FindTasks(ctx context.Context, f backend.TaskFilter) ([]*backend.Task, int, error) {
	filter := bson.D{}
	if f.Year != 0 {
		filter = append(filter, bson.E{Key: "year", Value: f.Year})
	}
	if f.PlanID != "" {
		filter = append(filter, bson.E{Key: "plan_id", Value: f.PlanID})
	}
	if f.Kind != "" {
		filter = append(filter, bson.E{Key: "kind", Value: f.Kind})
	}
	if len(f.States) > 0 {
		filter = append(filter, bson.E{Key: "state", Value: bson.D{{Key: "$in", Value: f.States}}})
	}
	if f.Open {
		filter = append(filter, bson.E{Key: "state", Value: bson.D{{Key: "$nin", Value: bson.A{backend.TaskPublished, backend.TaskCancelled}}}})
	}
	if f.DeadlinesRunning {
		published := bson.D{{Key: "state", Value: backend.TaskPublished}, {Key: "feedback_at", Value: bson.D{{Key: "$exists", Value: false}}},
			{Key: "submitted_result", Value: bson.D{{Key: "$ne", Value: backend.ResultEnterpriseNotFound}}}}
		if f.Overdue { // of a published task only the feedback is left to act on
			published = append(published, bson.E{Key: "overdue", Value: backend.DeadlineFeedback})
		}
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "state", Value: bson.D{{Key: "$nin", Value: bson.A{backend.TaskPublished, backend.TaskCancelled}}}}},
			published,
		}})
	}
	if len(f.DepartmentIDs) > 0 {
		filter = append(filter, bson.E{Key: "department_ids", Value: bson.D{{Key: "$in", Value: f.DepartmentIDs}}})
	}
	if f.MemberUserID != "" {
		filter = append(filter, bson.E{Key: "member_user_ids", Value: f.MemberUserID})
	}
	if f.Overdue {
		filter = append(filter, bson.E{Key: "overdue.0", Value: bson.D{{Key: "$exists", Value: true}}})
	}
	after, err := cursorValues(f.After, 2)
	if err != nil {
		return nil, 0, err
	}
	if after != nil {
		at, err := time.Parse(time.RFC3339Nano, f.After[0])
		if err != nil {
			return nil, 0, backend.ForeignCursor()
		}
		after[0] = at
	}
	models, total, err := pagedFind(ctx, s.coll(), listing{filter: filter, sort: []string{"created_at", "_id"},
		after: after, offset: f.Offset, limit: f.Limit, noTotal: f.NoTotal}, func(m *taskModel) *taskModel { return m })
	if err != nil {
		return nil, 0, err
	}
	if err := s.db.resolveItems(ctx, models...); err != nil {
		return nil, 0, err
	}
	out := make([]*backend.Task, len(models))
	for i, m := range models {
		out[i] = m.domain()
	}
	return out, total, nil
}

// UpdateTask implements backend.TaskStore: a compare-and-set on version.
func (s *TaskStore) UpdateTask(ctx context.Context, t *backend.Task) error {
	m, err := s.db.sharedTaskModel(ctx, t)
	if err != nil {
		return err
	}
	doc := func(next int) any { c := *m; c.Version = next; return &c }
	return replaceVersioned(ctx, s.coll(), t.ID, &t.Version, doc, "task", nil)
}

// CountTasks implements backend.TaskStore.
func (s *TaskStore) CountTasks(ctx context.Context, year int, kind string) (map[string]int, error) {
	filter := bson.D{{Key: "year", Value: year}, {Key: "kind", Value: kind}, {Key: "state", Value: bson.D{{Key: "$ne", Value: backend.TaskCancelled}}}}
	cur, err := s.coll().Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: "lead_department_id", Value: 1}}))
	if err != nil {
		return nil, translate(err)
	}
	var rows []struct {
		Dept string `bson:"lead_department_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, translate(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Dept]++
	}
	return out, nil
}

// insertNew inserts the documents whose ids are not stored yet and returns
// the ids it inserted: a repeat of a deterministic batch is a no-op, and a
// concurrent writer inserting the same id first is not an error (the
// unique _id decides). docs[i] must have the id ids[i]. It does not look
// first: the insert itself tells which ids were taken.
func insertNew(ctx context.Context, c collection, ids []string, docs []any) ([]string, error) {
	errs, err := insertMany(ctx, c, docs, nil)
	if err != nil {
		return nil, err
	}
	var inserted []string
	for i, id := range ids {
		switch code := backend.ErrorCode(errs[i]); code {
		case "":
			inserted = append(inserted, id)
		case backend.ECONFLICT: // stored before, or by another writer just now
		default:
			return nil, errs[i]
		}
	}
	return inserted, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
