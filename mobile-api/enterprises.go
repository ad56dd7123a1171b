package mobileapi

import (
	"bytes"
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/directory"
)

// enterpriseResponse is an enterprise as the API shows it.
type enterpriseResponse struct {
	ID                  string              `json:"id"`
	USCC                string              `json:"uscc"`
	Name                string              `json:"name"`
	Town                string              `json:"town"`
	Industry            string              `json:"industry"`
	Address             string              `json:"address"`
	Location            *enterpriseLocation `json:"location"`
	Categories          []string            `json:"categories"`
	Flags               []string            `json:"flags"`
	Status              string              `json:"status"`
	LegalRepresentative string              `json:"legal_representative"`
	SafetyManager       string              `json:"safety_manager"`
	Phone               string              `json:"phone"`
	ReviewedAt          *time.Time          `json:"reviewed_at"`
	Version             int                 `json:"version"`
	CreatedAt           time.Time           `json:"created_at"`
	UpdatedAt           time.Time           `json:"updated_at"`
}

// enterpriseLocation is a WGS-84 position on the wire.
type enterpriseLocation struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

func newEnterpriseResponse(e *backend.Enterprise) enterpriseResponse {
	r := enterpriseResponse{
		ID: e.ID, USCC: e.USCC, Name: e.Name, Town: e.Town, Industry: e.Industry, Address: e.Address,
		Categories: enterpriseStrings(e.Categories), Flags: enterpriseStrings(e.Flags), Status: e.Status,
		LegalRepresentative: e.LegalRepresentative, SafetyManager: e.SafetyManager, Phone: e.Phone,
		ReviewedAt: e.ReviewedAt, Version: e.Version, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
	}
	if e.Location != nil {
		r.Location = &enterpriseLocation{Lat: e.Location.Lat, Lng: e.Location.Lng}
	}
	return r
}

func enterpriseStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// enterpriseLocationRequest is a position in a request; both coordinates are needed.
type enterpriseLocationRequest struct {
	Lat *float64 `json:"lat"`
	Lng *float64 `json:"lng"`
}

// point turns the request's location into the domain's, naming a missing
// coordinate.
func (l *enterpriseLocationRequest) point() (*backend.GeoPoint, error) {
	if l == nil {
		return nil, nil
	}
	fields := map[string]string{}
	if l.Lat == nil {
		fields["location.lat"] = "required with location"
	}
	if l.Lng == nil {
		fields["location.lng"] = "required with location"
	}
	if len(fields) > 0 {
		return nil, backend.InvalidFields("invalid enterprise", fields)
	}
	return &backend.GeoPoint{Lat: *l.Lat, Lng: *l.Lng}, nil
}

// enterpriseRequest is the body of POST /api/v1/enterprises.
type enterpriseRequest struct {
	USCC                string                     `json:"uscc"`
	Name                string                     `json:"name"`
	Town                string                     `json:"town"`
	Industry            string                     `json:"industry"`
	Address             string                     `json:"address"`
	Location            *enterpriseLocationRequest `json:"location"`
	Categories          []string                   `json:"categories"`
	Flags               []string                   `json:"flags"`
	Status              string                     `json:"status"`
	LegalRepresentative string                     `json:"legal_representative"`
	SafetyManager       string                     `json:"safety_manager"`
	Phone               string                     `json:"phone"`
}

// enterprisePatchRequest is the body of PATCH /api/v1/enterprises/{id}:
// absent fields stay as they are; version, when sent, must be the current
// one.
type enterprisePatchRequest struct {
	USCC                *string                    `json:"uscc"`
	Name                *string                    `json:"name"`
	Town                *string                    `json:"town"`
	Industry            *string                    `json:"industry"`
	Address             *string                    `json:"address"`
	Location            *enterpriseLocationRequest `json:"location"`
	Categories          *[]string                  `json:"categories"`
	Flags               *[]string                  `json:"flags"`
	Status              *string                    `json:"status"`
	LegalRepresentative *string                    `json:"legal_representative"`
	SafetyManager       *string                    `json:"safety_manager"`
	Phone               *string                    `json:"phone"`
	Version             *int                       `json:"version"`
}

// enterpriseReviewRequest is the optional body of POST /api/v1/enterprises/{id}/review.
type enterpriseReviewRequest struct {
	Version *int `json:"version"`
}

// enterpriseFilterFromQuery reads the listing's query parameters.
func enterpriseFilterFromQuery(c *fiber.Ctx) (backend.EnterpriseFilter, error) {
	p, err := readPage(c, backend.DirectoryDefaultLimit, backend.DirectoryMaxLimit)
	if err != nil {
		return backend.EnterpriseFilter{}, err
	}
	// Query strings are copied: Fiber reuses the request's memory.
	return backend.EnterpriseFilter{
		Town: cloneQuery(c.Query("town")), Category: cloneQuery(c.Query("category")), Flag: cloneQuery(c.Query("flag")),
		Industry: cloneQuery(c.Query("industry")), Status: cloneQuery(c.Query("status")), Query: cloneQuery(c.Query("q")),
		After: p.After, Offset: p.Offset, Limit: p.Limit,
	}, nil
}

func cloneQuery(s string) string { return string([]byte(s)) }

func (s *Server) handleListEnterprises(c *fiber.Ctx) error {
	f, err := enterpriseFilterFromQuery(c)
	if err != nil {
		return err
	}
	switch c.Query("stale") {
	case "", "false":
	case "true":
		return s.staleReport(c, f)
	default:
		return backend.InvalidFields("invalid query parameter", map[string]string{"stale": "true or false"})
	}
	list, total, err := s.svc.Directory.ListEnterprises(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]enterpriseResponse, len(list))
	for i, e := range list {
		out[i] = newEnterpriseResponse(e)
	}
	next := nextPage(list, f.Limit, f.CursorOf)
	return c.JSON(pageMap(fiber.Map{"enterprises": out}, pageQuery{Offset: f.Offset, Limit: f.Limit}, total, next))
}

// staleEnterpriseResponse is a line of the staleness report: the enterprise
// and how long it has gone without its yearly review.
type staleEnterpriseResponse struct {
	enterpriseResponse
	NeverReviewed   bool `json:"never_reviewed"`
	DaysSinceReview *int `json:"days_since_review"`
	DaysOnRecord    int  `json:"days_on_record"`
}

func (s *Server) handleStaleEnterprises(c *fiber.Ctx) error {
	f, err := enterpriseFilterFromQuery(c)
	if err != nil {
		return err
	}
	return s.staleReport(c, f)
}

func (s *Server) staleReport(c *fiber.Ctx, f backend.EnterpriseFilter) error {
	list, total, err := s.svc.Directory.StaleEnterprises(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]staleEnterpriseResponse, len(list))
	for i, st := range list {
		out[i] = staleEnterpriseResponse{
			enterpriseResponse: newEnterpriseResponse(st.Enterprise),
			NeverReviewed:      st.DaysSinceReview == nil,
			DaysSinceReview:    st.DaysSinceReview,
			DaysOnRecord:       st.DaysOnRecord,
		}
	}
	next := nextPage(list, f.Limit, func(st directory.StaleEnterprise) backend.Cursor { return f.CursorOf(st.Enterprise) })
	return c.JSON(pageMap(fiber.Map{"enterprises": out, "review_months": backend.ReviewMonths},
		pageQuery{Offset: f.Offset, Limit: f.Limit}, total, next))
}

func (s *Server) handleCreateEnterprise(c *fiber.Ctx) error {
	var req enterpriseRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	loc, err := req.Location.point()
	if err != nil {
		return err
	}
	e, err := s.svc.Directory.CreateEnterprise(c.UserContext(), directory.NewEnterprise{
		USCC: req.USCC, Name: req.Name, Town: req.Town, Industry: req.Industry, Address: req.Address,
		Location: loc, Categories: req.Categories, Flags: req.Flags, Status: req.Status,
		LegalRepresentative: req.LegalRepresentative, SafetyManager: req.SafetyManager, Phone: req.Phone,
	})
	if err != nil {
		return err
	}
	c.Location("/api/v1/enterprises/" + e.ID)
	return c.Status(fiber.StatusCreated).JSON(newEnterpriseResponse(e))
}

func (s *Server) handleGetEnterprise(c *fiber.Ctx) error {
	e, err := s.svc.Directory.GetEnterprise(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(newEnterpriseResponse(e))
}

func (s *Server) handleUpdateEnterprise(c *fiber.Ctx) error {
	var req enterprisePatchRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	loc, err := req.Location.point()
	if err != nil {
		return err
	}
	e, err := s.svc.Directory.UpdateEnterprise(c.UserContext(), c.Params("id"), directory.EnterprisePatch{
		USCC: req.USCC, Name: req.Name, Town: req.Town, Industry: req.Industry, Address: req.Address,
		Location: loc, Categories: req.Categories, Flags: req.Flags, Status: req.Status,
		LegalRepresentative: req.LegalRepresentative, SafetyManager: req.SafetyManager, Phone: req.Phone,
		Version: req.Version,
	})
	if err != nil {
		return err
	}
	return c.JSON(newEnterpriseResponse(e))
}

func (s *Server) handleReviewEnterprise(c *fiber.Ctx) error {
	var req enterpriseReviewRequest
	if len(c.Body()) > 0 { // the body is optional
		if err := bindJSON(c, &req); err != nil {
			return err
		}
	}
	e, err := s.svc.Directory.ReviewEnterprise(c.UserContext(), c.Params("id"), req.Version)
	if err != nil {
		return err
	}
	return c.JSON(newEnterpriseResponse(e))
}

// Content types of the export formats.
const (
	contentTypeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	contentTypeCSV  = "text/csv; charset=utf-8"
)

// handleImportEnterprises takes a spreadsheet as the multipart field
// "file". The whole request is already bounded by the body limit (413
// beyond it); a rejected file answers 400 with the usual error body plus
// the report naming every rejected row.

func (s *Server) handleExportEnterprises(c *fiber.Ctx) error {
	f, err := enterpriseFilterFromQuery(c)
	if err != nil {
		return err
	}
	format := cloneQuery(c.Query("format", directory.FormatXLSX))
	var buf bytes.Buffer
	if err := s.svc.Directory.ExportEnterprises(c.UserContext(), &buf, format, cloneQuery(c.Query("lang")), f); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, contentTypeXLSX)
	if format == directory.FormatCSV {
		c.Set(fiber.HeaderContentType, contentTypeCSV)
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="enterprises.`+format+`"`)
	return c.Send(buf.Bytes())
}
