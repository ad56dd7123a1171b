package mobileapi

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/results"
)

// resultJSON is a task's result side as the bureau sees it: the state and
// deadlines it moves, the reviews, the feedback, the dispositions and the
// publications.
type resultJSON struct {
	TaskID       string            `json:"task_id"`
	State        string            `json:"state"`
	Version      int               `json:"version"`
	Deadlines    taskDeadlinesJSON `json:"deadlines"`
	Overdue      []string          `json:"overdue"`
	Result       string            `json:"result,omitempty"`
	Reviews      []reviewJSON      `json:"reviews"`
	Feedback     *feedbackJSON     `json:"feedback"`
	Dispositions []dispositionJSON `json:"dispositions"`
	Publications []publicationJSON `json:"publications"`
}

type reviewJSON struct {
	Decision   string    `json:"decision"`
	Comment    string    `json:"comment,omitempty"`
	Result     string    `json:"result,omitempty"`
	ReviewerID string    `json:"reviewer_id"`
	Reviewer   string    `json:"reviewer"`
	At         time.Time `json:"at"`
}

type feedbackJSON struct {
	Method       string    `json:"method"`
	DeliveredAt  time.Time `json:"delivered_at"`
	Receiver     string    `json:"receiver"`
	TrackingNo   string    `json:"tracking_no,omitempty"`
	Due          string    `json:"due"`
	Late         bool      `json:"late"`
	WorkdaysLate int       `json:"workdays_late"`
	RecordedBy   string    `json:"recorded_by"`
	RecordedAt   time.Time `json:"recorded_at"`
}

type dispositionJSON struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	CaseNo     string    `json:"case_no,omitempty"`
	Agency     string    `json:"agency,omitempty"`
	Date       string    `json:"date"`
	DocumentNo string    `json:"document_no"`
	DocumentID string    `json:"document_id,omitempty"`
	RecordedBy string    `json:"recorded_by"`
	RecordedAt time.Time `json:"recorded_at"`
}

type publicationJSON struct {
	Version int       `json:"version"`
	At      time.Time `json:"at"`
	By      string    `json:"by"`
	Reason  string    `json:"reason,omitempty"`
	Due     string    `json:"due,omitempty"`
	Late    bool      `json:"late"`
}

func newResultJSON(t *backend.Task, r *backend.TaskResult) resultJSON {
	out := resultJSON{
		TaskID: t.ID, State: t.State, Version: t.Version, Result: r.Result, Overdue: orEmpty(t.Overdue),
		Deadlines: taskDeadlinesJSON{t.Deadlines.Window, t.Deadlines.Feedback, t.Deadlines.Publication},
		Reviews:   []reviewJSON{}, Dispositions: []dispositionJSON{}, Publications: []publicationJSON{},
	}
	for _, v := range r.Reviews {
		out.Reviews = append(out.Reviews, reviewJSON(v))
	}
	if r.Feedback != nil {
		fb := feedbackJSON(*r.Feedback)
		out.Feedback = &fb
	}
	for _, d := range r.Dispositions {
		out.Dispositions = append(out.Dispositions, dispositionJSON(d))
	}
	for _, p := range r.Publications {
		out.Publications = append(out.Publications, publicationJSON(p))
	}
	return out
}

func (s *Server) handleGetResult(c *fiber.Ctx) error {
	t, r, err := s.svc.Results.GetResult(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(newResultJSON(t, r))
}

// reviewRequest is the body of POST /api/v1/tasks/{id}/review.
type reviewRequest struct {
	Decision string `json:"decision"`
	Comment  string `json:"comment"`
	Result   string `json:"result"`
	Version  int    `json:"version"`
}

func (s *Server) handleReview(c *fiber.Ctx) error {
	var req reviewRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	t, r, err := s.svc.Results.Review(c.UserContext(), c.Params("id"), results.ReviewInput(req))
	if err != nil {
		return err
	}
	return c.JSON(newResultJSON(t, r))
}

// feedbackRequest is the body of POST /api/v1/tasks/{id}/feedback.
type feedbackRequest struct {
	Method      string `json:"method"`
	DeliveredAt string `json:"delivered_at"`
	Receiver    string `json:"receiver"`
	TrackingNo  string `json:"tracking_no"`
	Version     int    `json:"version"`
}

func (s *Server) handleFeedback(c *fiber.Ctx) error {
	var req feedbackRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	t, r, err := s.svc.Results.RecordFeedback(c.UserContext(), c.Params("id"), results.FeedbackInput(req))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(newResultJSON(t, r))
}

// publishRequest is the body of POST /api/v1/tasks/{id}/publish (it may
// be empty for a first publication).
type publishRequest struct {
	Reason  string `json:"reason"`
	Result  string `json:"result"`
	Version int    `json:"version"`
}

func (s *Server) handlePublish(c *fiber.Ctx) error {
	var req publishRequest
	if len(c.Body()) > 0 {
		if err := bindJSON(c, &req); err != nil {
			return err
		}
	}
	t, r, err := s.svc.Results.Publish(c.UserContext(), c.Params("id"), results.PublishInput(req))
	if err != nil {
		return err
	}
	return c.JSON(newResultJSON(t, r))
}

// dispositionRequest is the body of POST /api/v1/tasks/{id}/dispositions.
type dispositionRequest struct {
	Kind       string `json:"kind"`
	CaseNo     string `json:"case_no"`
	Agency     string `json:"agency"`
	Date       string `json:"date"`
	DocumentNo string `json:"document_no"`
	DocumentID string `json:"document_id"`
	Version    int    `json:"version"`
}

func (s *Server) handleDisposition(c *fiber.Ctx) error {
	var req dispositionRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	t, r, err := s.svc.Results.AddDisposition(c.UserContext(), c.Params("id"), results.DispositionInput(req))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(newResultJSON(t, r))
}

// publicResultJSON is a published result as everyone may read it: exactly
// the fields art. 24 publishes (see backend.PublicResult), nothing more.
type publicResultJSON struct {
	ID           string                  `json:"id"`
	Version      int                     `json:"version"`
	Enterprise   publicEnterpriseJSON    `json:"enterprise"`
	Plan         *publicPlanRefJSON      `json:"plan"`
	Department   publicDepartmentJSON    `json:"department"`
	Date         string                  `json:"date"`
	Items        []publicItemRefJSON     `json:"items"`
	Result       string                  `json:"result"`
	Dispositions []publicDispositionJSON `json:"dispositions"`
	PublishedAt  time.Time               `json:"published_at"`
	UpdatedAt    time.Time               `json:"updated_at"`
	Corrections  []correctionJSON        `json:"corrections"`
}

type publicEnterpriseJSON struct {
	Name string `json:"name"`
	USCC string `json:"uscc"`
}

type publicPlanRefJSON struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

type publicDepartmentJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type publicItemRefJSON struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

type publicDispositionJSON struct {
	Kind   string `json:"kind"`
	Date   string `json:"date"`
	CaseNo string `json:"case_no,omitempty"`
	Agency string `json:"agency,omitempty"`
}

type correctionJSON struct {
	Version int       `json:"version"`
	At      time.Time `json:"corrected_at"`
	Reason  string    `json:"reason"`
}

func newPublicResultJSON(r *backend.PublicResult) publicResultJSON {
	out := publicResultJSON{
		ID: r.ID, Version: r.Version, Enterprise: publicEnterpriseJSON{r.EnterpriseName, r.USCC},
		Department: publicDepartmentJSON{r.DepartmentID, r.DepartmentName}, Date: r.Date, Result: r.Result,
		Items: []publicItemRefJSON{}, Dispositions: []publicDispositionJSON{}, Corrections: []correctionJSON{},
		PublishedAt: r.FirstPublished, UpdatedAt: r.PublishedAt,
	}
	if r.PlanID != "" {
		out.Plan = &publicPlanRefJSON{r.PlanID, r.PlanTitle}
	}
	for _, it := range r.Items {
		out.Items = append(out.Items, publicItemRefJSON(it))
	}
	for _, d := range r.Dispositions {
		out.Dispositions = append(out.Dispositions, publicDispositionJSON(d))
	}
	for _, c := range r.Corrections {
		out.Corrections = append(out.Corrections, correctionJSON(c))
	}
	return out
}

// publicResultFilter reads the public search's query: year (the current
// one when absent, 0 for every year), town, plan_id, department_id,
// result, text, and the page.
func publicResultFilter(c *fiber.Ctx) (backend.PublicResultFilter, pageQuery, error) {
	p, err := readPage(c, backend.PublicResultDefaultLimit, backend.PublicResultMaxLimit)
	if err != nil {
		return backend.PublicResultFilter{}, p, err
	}
	f := backend.PublicResultFilter{After: p.After, Offset: p.Offset, Limit: p.Limit,
		Town: strings.Clone(strings.TrimSpace(c.Query("town"))), PlanID: strings.Clone(c.Query("plan_id")),
		DepartmentID: strings.Clone(c.Query("department_id")), Result: strings.Clone(c.Query("result")),
		Text: strings.Clone(strings.TrimSpace(c.Query("text")))}
	if f.Year, err = queryInt(c, "year", time.Now().In(backend.ChinaTime).Year(), 0, 2100); err != nil {
		return f, p, err
	}
	fields := map[string]string{}
	if f.Year != 0 && f.Year < 2000 {
		fields["year"] = "a year from 2000, or 0 for every year"
	}
	if utf8.RuneCountInString(f.Town) > 50 {
		fields["town"] = "at most 50 characters"
	}
	if utf8.RuneCountInString(f.Text) > 100 {
		fields["text"] = "at most 100 characters"
	}
	for name, id := range map[string]string{"plan_id": f.PlanID, "department_id": f.DepartmentID} {
		if id != "" && !validID(id) {
			fields[name] = "not an id"
		}
	}
	if f.Result != "" && !slices.Contains(backend.InspectionResults, f.Result) {
		fields["result"] = "one of the inspection results"
	}
	if len(fields) > 0 {
		return f, p, backend.InvalidFields("invalid query parameter", fields)
	}
	return f, p, nil
}

func (s *Server) handlePublicResults(c *fiber.Ctx) error {
	f, p, err := publicResultFilter(c)
	if err != nil {
		return err
	}
	list, total, err := s.svc.Results.PublicResults(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]publicResultJSON, len(list))
	for i, r := range list {
		out[i] = newPublicResultJSON(r)
	}
	return c.JSON(pageMap(fiber.Map{"year": f.Year, "results": out}, p, total, nextPage(list, p.Limit, f.CursorOf)))
}

// publicResultVersionsJSON is one published result with the versions it
// corrected, oldest first.
type publicResultVersionsJSON struct {
	publicResultJSON
	Versions []publicResultJSON `json:"versions"`
}

func (s *Server) handlePublicResult(c *fiber.Ctx) error {
	id := c.Params("id")
	if !validID(id) {
		return backend.Errorf(backend.ENOTFOUND, "no published result")
	}
	r, err := s.svc.Results.PublicResult(c.UserContext(), id)
	if err != nil {
		return err
	}
	out := publicResultVersionsJSON{publicResultJSON: newPublicResultJSON(r), Versions: []publicResultJSON{}}
	for i := range r.History {
		v := newPublicResultJSON(&r.History[i])
		v.PublishedAt = r.FirstPublished
		out.Versions = append(out.Versions, v)
	}
	return c.JSON(out)
}
