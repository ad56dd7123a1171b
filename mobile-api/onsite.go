package mobileapi

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/tasks"
)

// conflictWithCurrent answers a change refused because the task moved on
// (ECONFLICT, fields.version "stale") with 409 and the task as it stands
// now under "current", so that a phone can show the conflict and merge;
// other errors go to the error handler as they are.
func (s *Server) conflictWithCurrent(c *fiber.Ctx, err error) error {
	if backend.ErrorCode(err) != backend.ECONFLICT || backend.ErrorFields(err)["version"] != "stale" {
		return err
	}
	t, gerr := s.svc.Tasks.GetTask(c.UserContext(), c.Params("id"))
	if gerr != nil {
		return err
	}
	_, body := errorBodyFor(err)
	return c.Status(fiber.StatusConflict).JSON(fiber.Map{"error": body.Error, "current": newTaskJSON(t, viewer(c))})
}

// syncJSON is a delta page of the caller's tasks: tombstones ({id,
// deleted: true}) for tasks taken away.
type syncJSON struct {
	Tasks  []any  `json:"tasks"`
	Cursor string `json:"cursor"`
	More   bool   `json:"more"`
}

type tombstoneJSON struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

// handleMyTasks is the phone's delta sync: GET /api/v1/me/tasks?since=.
func (s *Server) handleMyTasks(c *fiber.Ctx) error {
	page, err := s.svc.Tasks.Sync(c.UserContext(), c.Query("since"))
	if err != nil {
		return err
	}
	out := syncJSON{Tasks: make([]any, 0, len(page.Tasks)+len(page.Removed)), Cursor: page.Cursor, More: page.More}
	for _, t := range page.Tasks {
		out.Tasks = append(out.Tasks, newTaskJSON(t, viewer(c)))
	}
	for _, id := range page.Removed {
		out.Tasks = append(out.Tasks, tombstoneJSON{ID: id, Deleted: true})
	}
	return c.JSON(out)
}

// checkInRequest is the body of POST /api/v1/tasks/{id}/check-in.
type checkInRequest struct {
	Lat       *float64   `json:"lat"`
	Lng       *float64   `json:"lng"`
	AccuracyM float64    `json:"accuracy_m"`
	At        *time.Time `json:"at"`
}

func (s *Server) handleCheckIn(c *fiber.Ctx) error {
	var req checkInRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.Lat == nil || req.Lng == nil {
		return backend.InvalidFields("a check-in needs a position", map[string]string{"lat": "required", "lng": "required"})
	}
	in := tasks.CheckInInput{Lat: *req.Lat, Lng: *req.Lng, AccuracyM: req.AccuracyM}
	if req.At != nil {
		in.At = *req.At
	}
	t, err := s.svc.Tasks.CheckIn(c.UserContext(), c.Params("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(newTaskJSON(t, viewer(c)))
}

// itemOutcomeRequest is the body of PUT /api/v1/tasks/{id}/items/{item_id}.
type itemOutcomeRequest struct {
	Outcome         string `json:"outcome"`
	Note            string `json:"note"`
	Version         int    `json:"version"`
	AmendmentReason string `json:"amendment_reason"`
}

func (s *Server) handleItemOutcome(c *fiber.Ctx) error {
	var req itemOutcomeRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	t, err := s.svc.Tasks.SetItemOutcome(c.UserContext(), c.Params("id"), c.Params("item_id"), req.Outcome, req.Note, req.Version, req.AmendmentReason)
	if err != nil {
		return s.conflictWithCurrent(c, err)
	}
	return c.JSON(newTaskJSON(t, viewer(c)))
}

// findingJSON is a finding as the API shows (and takes) it.
type findingJSON struct {
	ID              string    `json:"id"`
	TaskID          string    `json:"task_id"`
	ItemID          string    `json:"item_id"`
	Description     string    `json:"description"`
	Severity        string    `json:"severity"`
	Rectification   string    `json:"rectification"`
	RectifyBy       string    `json:"rectify_by"`
	EvidenceIDs     []string  `json:"evidence_ids"`
	CreatedBy       string    `json:"created_by"`
	CreatedAt       time.Time `json:"created_at"`
	Version         int       `json:"version"`
	AmendmentReason string    `json:"amendment_reason,omitempty"` // request only: after completion
}

func newFindingJSON(f *backend.Finding) findingJSON {
	return findingJSON{ID: f.ID, TaskID: f.TaskID, ItemID: f.ItemID, Description: f.Description, Severity: f.Severity,
		Rectification: f.Rectification, RectifyBy: f.RectifyBy, EvidenceIDs: orEmpty(f.EvidenceIDs), CreatedBy: f.CreatedBy,
		CreatedAt: f.CreatedAt, Version: f.Version}
}

func (s *Server) handleCreateFinding(c *fiber.Ctx) error {
	var req findingJSON
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	f, created, err := s.svc.Tasks.CreateFinding(c.UserContext(), c.Params("id"), tasks.FindingInput{
		ID: req.ID, ItemID: req.ItemID, Description: req.Description, Severity: req.Severity,
		Rectification: req.Rectification, RectifyBy: req.RectifyBy, EvidenceIDs: req.EvidenceIDs,
	}, req.AmendmentReason)
	if err != nil {
		return err
	}
	return c.Status(createdOr200(created)).JSON(newFindingJSON(f))
}

func createdOr200(created bool) int {
	if created {
		return fiber.StatusCreated
	}
	return fiber.StatusOK
}

func (s *Server) handleListFindings(c *fiber.Ctx) error {
	list, err := s.svc.Tasks.ListFindings(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	out := make([]findingJSON, len(list))
	for i, f := range list {
		out[i] = newFindingJSON(f)
	}
	return c.JSON(fiber.Map{"findings": out})
}

// nonCooperationJSON is a recorded non-cooperation.
type nonCooperationJSON struct {
	ID              string    `json:"id"`
	TaskID          string    `json:"task_id"`
	USCC            string    `json:"uscc"`
	Type            string    `json:"type"`
	Description     string    `json:"description"`
	EvidenceIDs     []string  `json:"evidence_ids"`
	RecordedBy      string    `json:"recorded_by"`
	RecordedAt      time.Time `json:"recorded_at"`
	AmendmentReason string    `json:"amendment_reason,omitempty"` // request only: after completion, as for findings
}

func newNonCooperationJSON(n *backend.NonCooperation) nonCooperationJSON {
	return nonCooperationJSON{ID: n.ID, TaskID: n.TaskID, USCC: n.USCC, Type: n.Type, Description: n.Description,
		EvidenceIDs: orEmpty(n.EvidenceIDs), RecordedBy: n.RecordedBy, RecordedAt: n.RecordedAt}
}

func (s *Server) handleNonCooperation(c *fiber.Ctx) error {
	var req nonCooperationJSON
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	n, created, err := s.svc.Tasks.RecordNonCooperation(c.UserContext(), c.Params("id"), tasks.NonCooperationInput{
		ID: req.ID, Type: req.Type, Description: req.Description, EvidenceIDs: req.EvidenceIDs,
	}, req.AmendmentReason)
	if err != nil {
		return err
	}
	return c.Status(createdOr200(created)).JSON(newNonCooperationJSON(n))
}

func (s *Server) handleListNonCooperation(c *fiber.Ctx) error {
	list, err := s.svc.Tasks.ListNonCooperation(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	out := make([]nonCooperationJSON, len(list))
	for i, n := range list {
		out[i] = newNonCooperationJSON(n)
	}
	return c.JSON(fiber.Map{"non_cooperation": out})
}

// submitRequest is the body of POST /api/v1/tasks/{id}/submit.
type submitRequest struct {
	Result              string `json:"result"`
	Summary             string `json:"summary"`
	SignatureEvidenceID string `json:"signature_evidence_id"`
	Version             int    `json:"version"`
}

func (s *Server) handleSubmit(c *fiber.Ctx) error {
	var req submitRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	t, err := s.svc.Tasks.Submit(c.UserContext(), c.Params("id"), tasks.SubmitInput{
		Result: req.Result, Summary: req.Summary, SignatureEvidenceID: req.SignatureEvidenceID, Version: req.Version,
	})
	if err != nil {
		return s.conflictWithCurrent(c, err)
	}
	return c.JSON(newTaskJSON(t, viewer(c)))
}
