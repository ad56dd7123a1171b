package mobileapi

import (
	"bytes"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/itemlist"
)

// legalBasisJSON is an item's legal basis.
type legalBasisJSON struct {
	Law     string `json:"law"`
	Article string `json:"article"`
}

// itemResponse is an item as the signed-in API shows it.
type itemResponse struct {
	ID              string         `json:"id"`
	Year            int            `json:"year"`
	Code            string         `json:"code"`
	Name            string         `json:"name"`
	LegalBasis      legalBasisJSON `json:"legal_basis"`
	DepartmentID    string         `json:"department_id"`
	Content         string         `json:"content"`
	Method          string         `json:"method"`
	Qualification   string         `json:"qualification"`
	Categories      []string       `json:"categories"`
	Published       bool           `json:"published"`
	PublishedAt     *time.Time     `json:"published_at,omitempty"`
	PublishedBy     string         `json:"published_by,omitempty"`
	AmendmentReason string         `json:"amendment_reason,omitempty"`
	Version         int            `json:"version"`
	CreatedAt       time.Time      `json:"created_at"`
	UpdatedAt       time.Time      `json:"updated_at"`
}

func newItemResponse(it *backend.Item) itemResponse {
	return itemResponse{
		ID: it.ID, Year: it.Year, Code: it.Code, Name: it.Name,
		LegalBasis:   legalBasisJSON{Law: it.LegalBasis.Law, Article: it.LegalBasis.Article},
		DepartmentID: it.DepartmentID, Content: it.Content, Method: it.Method, Qualification: it.Qualification,
		Categories: append([]string{}, it.Categories...), Published: it.PublishedAt != nil,
		PublishedAt: it.PublishedAt, PublishedBy: it.PublishedBy, AmendmentReason: it.AmendmentReason,
		Version: it.Version, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
	}
}

// publicItemResponse is an item as the public sees it: the list's content,
// without who edited it.
type publicItemResponse struct {
	ID            string         `json:"id"`
	Year          int            `json:"year"`
	Code          string         `json:"code"`
	Name          string         `json:"name"`
	LegalBasis    legalBasisJSON `json:"legal_basis"`
	DepartmentID  string         `json:"department_id"`
	Content       string         `json:"content"`
	Method        string         `json:"method"`
	Qualification string         `json:"qualification"`
	Categories    []string       `json:"categories"`
	Version       int            `json:"version"`
	UpdatedAt     time.Time      `json:"updated_at"`
}

// createItemRequest is the body of POST /api/v1/items.
type createItemRequest struct {
	Year          int            `json:"year"`
	Code          string         `json:"code"`
	Name          string         `json:"name"`
	LegalBasis    legalBasisJSON `json:"legal_basis"`
	DepartmentID  string         `json:"department_id"`
	Content       string         `json:"content"`
	Method        string         `json:"method"`
	Qualification string         `json:"qualification"`
	Categories    []string       `json:"categories"`
	Reason        string         `json:"reason"`
}

// updateItemRequest is the body of PATCH /api/v1/items/{id}; absent fields
// stay as they are.
type updateItemRequest struct {
	Year          *int            `json:"year"`
	Code          *string         `json:"code"`
	Name          *string         `json:"name"`
	LegalBasis    *legalBasisJSON `json:"legal_basis"`
	DepartmentID  *string         `json:"department_id"`
	Content       *string         `json:"content"`
	Method        *string         `json:"method"`
	Qualification *string         `json:"qualification"`
	Categories    *[]string       `json:"categories"`
	Reason        *string         `json:"reason"`
	Version       *int            `json:"version"`
}

// publishItemsRequest is the body of POST /api/v1/items/publish.
type publishItemsRequest struct {
	Year int `json:"year"`
}

func (s *Server) handleListItems(c *fiber.Ctx) error {
	p, err := readPage(c, itemlist.DefaultLimit, itemlist.MaxLimit)
	if err != nil {
		return err
	}
	year, err := queryInt(c, "year", 0, itemlist.MinYear, itemlist.MaxYear)
	if err != nil {
		return err
	}
	f := backend.ItemFilter{
		Year: year, DepartmentID: c.Query("department_id"), Qualification: c.Query("qualification"),
		Method: c.Query("method"), Category: c.Query("category"), Query: c.Query("q"), After: p.After, Offset: p.Offset, Limit: p.Limit,
	}
	items, total, err := s.svc.Items.ListItems(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]itemResponse, len(items))
	for i, it := range items {
		out[i] = newItemResponse(it)
	}
	return c.JSON(pageMap(fiber.Map{"items": out}, p, total, nextPage(items, p.Limit, f.CursorOf)))
}

func (s *Server) handleCreateItem(c *fiber.Ctx) error {
	var req createItemRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	it, err := s.svc.Items.CreateItem(c.UserContext(), itemlist.NewItem{
		Year: req.Year, Code: req.Code, Name: req.Name,
		LegalBasis:   backend.LegalBasis{Law: req.LegalBasis.Law, Article: req.LegalBasis.Article},
		DepartmentID: req.DepartmentID, Content: req.Content, Method: req.Method,
		Qualification: req.Qualification, Categories: req.Categories, Reason: req.Reason,
	})
	if err != nil {
		return err
	}
	c.Location("/api/v1/items/" + it.ID)
	return c.Status(fiber.StatusCreated).JSON(newItemResponse(it))
}

func (s *Server) handleGetItem(c *fiber.Ctx) error {
	it, err := s.svc.Items.GetItem(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(newItemResponse(it))
}

func (s *Server) handleUpdateItem(c *fiber.Ctx) error {
	var req updateItemRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	p := itemlist.ItemPatch{
		Year: req.Year, Code: req.Code, Name: req.Name, DepartmentID: req.DepartmentID, Content: req.Content,
		Method: req.Method, Qualification: req.Qualification, Categories: req.Categories,
		Reason: req.Reason, Version: req.Version,
	}
	if req.LegalBasis != nil {
		p.LegalBasis = &backend.LegalBasis{Law: req.LegalBasis.Law, Article: req.LegalBasis.Article}
	}
	it, err := s.svc.Items.UpdateItem(c.UserContext(), c.Params("id"), p)
	if err != nil {
		return err
	}
	return c.JSON(newItemResponse(it))
}

func (s *Server) handlePublishItems(c *fiber.Ctx) error {
	var req publishItemsRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	pub, err := s.svc.Items.Publish(c.UserContext(), req.Year)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{
		"year": pub.Year, "published_at": pub.PublishedAt, "published_by": pub.PublishedBy, "item_count": pub.ItemCount,
	})
}

// handlePublicItems serves a year's published list without login (art.
// 10). A year that is not published is 404, exactly as if it did not exist.
func (s *Server) handlePublicItems(c *fiber.Ctx) error {
	// Without a year: the current one, as the bureau's calendar says.
	thisYear := s.svc.Items.Now().In(backend.ChinaTime).Year()
	year, err := queryInt(c, "year", thisYear, itemlist.MinYear, itemlist.MaxYear)
	if err != nil {
		return err
	}
	pub, err := s.svc.Items.Publication(c.UserContext(), year)
	if err != nil {
		return err
	}
	items, err := s.svc.Items.PublishedItems(c.UserContext(), year)
	if err != nil {
		return err
	}
	out := make([]publicItemResponse, len(items))
	for i, it := range items {
		out[i] = publicItemResponse{
			ID: it.ID, Year: it.Year, Code: it.Code, Name: it.Name,
			LegalBasis:   legalBasisJSON{Law: it.LegalBasis.Law, Article: it.LegalBasis.Article},
			DepartmentID: it.DepartmentID, Content: it.Content, Method: it.Method,
			Qualification: it.Qualification, Categories: append([]string{}, it.Categories...),
			Version: it.Version, UpdatedAt: it.UpdatedAt,
		}
	}
	return c.JSON(fiber.Map{"year": year, "published_at": pub.PublishedAt, "items": out, "total": len(out)})
}

func (s *Server) handleExportItems(c *fiber.Ctx) error {
	year, err := queryInt(c, "year", 0, itemlist.MinYear, itemlist.MaxYear)
	if err != nil {
		return err
	}
	format, lang, err := sheetExportParams(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := s.svc.Items.ExportItems(c.UserContext(), &buf, year, format, lang); err != nil {
		return err
	}
	name := "items"
	if year != 0 {
		name += "-" + strconv.Itoa(year)
	}
	return sendSheet(c, &buf, format, name)
}
