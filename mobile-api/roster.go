package mobileapi

import (
	"bytes"
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/roster"
)

// qualificationResponse is one entry of the managed qualification list.
type qualificationResponse struct {
	Code      string    `json:"code"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// qualificationRequest is the body of POST /api/v1/qualifications.
type qualificationRequest struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

func (s *Server) handleListQualifications(c *fiber.Ctx) error {
	qs, err := s.svc.Roster.ListQualifications(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]qualificationResponse, len(qs))
	for i, q := range qs {
		out[i] = qualificationResponse{Code: q.Code, Name: q.Name, CreatedAt: q.CreatedAt}
	}
	return c.JSON(fiber.Map{"qualifications": out})
}

func (s *Server) handleCreateQualification(c *fiber.Ctx) error {
	var req qualificationRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	q, err := s.svc.Roster.CreateQualification(c.UserContext(), req.Code, req.Name)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(qualificationResponse{Code: q.Code, Name: q.Name, CreatedAt: q.CreatedAt})
}

// conflictJSON is a declared conflict of interest in requests and responses.
type conflictJSON struct {
	EnterpriseID string `json:"enterprise_id"`
	Reason       string `json:"reason"`
}

// inspectorResponse is an inspector as the API shows it. Drawable and
// CertificateExpired are judged on today's date in China.
type inspectorResponse struct {
	ID                 string         `json:"id"`
	UserID             string         `json:"user_id"`
	Name               string         `json:"name"`
	BadgeNo            string         `json:"badge_no"`
	CertificateExpires string         `json:"certificate_expires"`
	CertificateExpired bool           `json:"certificate_expired"`
	DepartmentID       string         `json:"department_id"`
	Qualifications     []string       `json:"qualifications"`
	Conflicts          []conflictJSON `json:"conflicts"`
	Active             bool           `json:"active"`
	Drawable           bool           `json:"drawable"`
	Phone              string         `json:"phone"`
	Version            int            `json:"version"`
	CreatedAt          time.Time      `json:"created_at"`
	UpdatedAt          time.Time      `json:"updated_at"`
}

func newInspectorResponse(in *backend.Inspector, today backend.Date) inspectorResponse {
	r := inspectorResponse{
		ID: in.ID, UserID: in.UserID, Name: in.Name, BadgeNo: in.BadgeNo,
		CertificateExpires: string(in.CertificateExpires),
		CertificateExpired: backend.CertificateExpired(in.CertificateExpires, today),
		DepartmentID:       in.DepartmentID, Qualifications: append([]string{}, in.Qualifications...),
		Conflicts: []conflictJSON{}, Active: in.Active, Drawable: backend.Drawable(in, today),
		Phone: in.Phone, Version: in.Version, CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt,
	}
	for _, cf := range in.Conflicts {
		r.Conflicts = append(r.Conflicts, conflictJSON{EnterpriseID: cf.EnterpriseID, Reason: cf.Reason})
	}
	return r
}

// expiringInspectorResponse adds the days left on the certificate
// (negative when it has expired).
type expiringInspectorResponse struct {
	inspectorResponse
	DaysLeft int `json:"days_left"`
}

// createInspectorRequest is the body of POST /api/v1/inspectors.
type createInspectorRequest struct {
	UserID             string         `json:"user_id"`
	Name               string         `json:"name"`
	BadgeNo            string         `json:"badge_no"`
	CertificateExpires string         `json:"certificate_expires"`
	DepartmentID       string         `json:"department_id"`
	Qualifications     []string       `json:"qualifications"`
	Conflicts          []conflictJSON `json:"conflicts"`
	Active             *bool          `json:"active"`
	Phone              string         `json:"phone"`
}

// updateInspectorRequest is the body of PATCH /api/v1/inspectors/{id};
// absent fields stay as they are.
type updateInspectorRequest struct {
	UserID             *string         `json:"user_id"`
	Name               *string         `json:"name"`
	BadgeNo            *string         `json:"badge_no"`
	CertificateExpires *string         `json:"certificate_expires"`
	DepartmentID       *string         `json:"department_id"`
	Qualifications     *[]string       `json:"qualifications"`
	Conflicts          *[]conflictJSON `json:"conflicts"`
	Active             *bool           `json:"active"`
	Phone              *string         `json:"phone"`
	Version            *int            `json:"version"`
}

func toConflicts(in []conflictJSON) []backend.Conflict {
	out := make([]backend.Conflict, len(in))
	for i, cf := range in {
		out[i] = backend.Conflict{EnterpriseID: cf.EnterpriseID, Reason: cf.Reason}
	}
	return out
}

// rosterQueryBool reads an optional true/false query parameter.
func rosterQueryBool(c *fiber.Ctx, name string) (*bool, error) {
	switch c.Query(name) {
	case "":
		return nil, nil
	case "true":
		v := true
		return &v, nil
	case "false":
		v := false
		return &v, nil
	}
	return nil, backend.InvalidFields("invalid query parameter", map[string]string{name: "must be true or false"})
}

func (s *Server) handleListInspectors(c *fiber.Ctx) error {
	p, err := readPage(c, roster.DefaultLimit, roster.MaxLimit)
	if err != nil {
		return err
	}
	active, err := rosterQueryBool(c, "active")
	if err != nil {
		return err
	}
	drawable, err := rosterQueryBool(c, "drawable")
	if err != nil {
		return err
	}
	f := backend.InspectorFilter{
		DepartmentID: c.Query("department_id"), Qualification: c.Query("qualification"),
		Active: active, Drawable: drawable, Query: c.Query("q"), After: p.After, Offset: p.Offset, Limit: p.Limit,
	}
	list, total, err := s.svc.Roster.ListInspectors(c.UserContext(), f)
	if err != nil {
		return err
	}
	today := s.svc.Roster.Today()
	out := make([]inspectorResponse, len(list))
	for i, in := range list {
		out[i] = newInspectorResponse(in, today)
	}
	return c.JSON(pageMap(fiber.Map{"inspectors": out, "today": today}, p, total, nextPage(list, p.Limit, f.CursorOf)))
}

func (s *Server) handleExpiringInspectors(c *fiber.Ctx) error {
	days, err := queryInt(c, "days", 30, 0, 3660)
	if err != nil {
		return err
	}
	list, today, err := s.svc.Roster.ExpiringInspectors(c.UserContext(), days)
	if err != nil {
		return err
	}
	out := make([]expiringInspectorResponse, len(list))
	for i, in := range list {
		out[i] = expiringInspectorResponse{newInspectorResponse(in, today), today.DaysUntil(in.CertificateExpires)}
	}
	return c.JSON(fiber.Map{"inspectors": out, "today": today, "days": days, "until": today.AddDays(days)})
}

func (s *Server) handleCreateInspector(c *fiber.Ctx) error {
	var req createInspectorRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	in, err := s.svc.Roster.CreateInspector(c.UserContext(), roster.NewInspector{
		UserID: req.UserID, Name: req.Name, BadgeNo: req.BadgeNo, CertificateExpires: req.CertificateExpires,
		DepartmentID: req.DepartmentID, Qualifications: req.Qualifications, Conflicts: toConflicts(req.Conflicts),
		Active: req.Active, Phone: req.Phone,
	})
	if err != nil {
		return err
	}
	c.Location("/api/v1/inspectors/" + in.ID)
	return c.Status(fiber.StatusCreated).JSON(newInspectorResponse(in, s.svc.Roster.Today()))
}

func (s *Server) handleGetInspector(c *fiber.Ctx) error {
	in, err := s.svc.Roster.GetInspector(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(newInspectorResponse(in, s.svc.Roster.Today()))
}

func (s *Server) handleUpdateInspector(c *fiber.Ctx) error {
	var req updateInspectorRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	p := roster.InspectorPatch{
		UserID: req.UserID, Name: req.Name, BadgeNo: req.BadgeNo, CertificateExpires: req.CertificateExpires,
		DepartmentID: req.DepartmentID, Qualifications: req.Qualifications, Active: req.Active,
		Phone: req.Phone, Version: req.Version,
	}
	if req.Conflicts != nil {
		cs := toConflicts(*req.Conflicts)
		p.Conflicts = &cs
	}
	in, err := s.svc.Roster.UpdateInspector(c.UserContext(), c.Params("id"), p)
	if err != nil {
		return err
	}
	return c.JSON(newInspectorResponse(in, s.svc.Roster.Today()))
}

func (s *Server) handleExportInspectors(c *fiber.Ctx) error {
	format, lang, err := sheetExportParams(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := s.svc.Roster.ExportInspectors(c.UserContext(), &buf, format, lang); err != nil {
		return err
	}
	return sendSheet(c, &buf, format, "inspectors")
}
