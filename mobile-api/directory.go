package mobileapi

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/directory"
)

// townResponse is a town as the API shows it.
type townResponse struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Code      string    `json:"code"`
	CreatedAt time.Time `json:"created_at"`
}

// townRequest is the body of POST /api/v1/towns.
type townRequest struct {
	Name string `json:"name"`
	Code string `json:"code"`
}

func (s *Server) handleListTowns(c *fiber.Ctx) error {
	towns, err := s.svc.Directory.ListTowns(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]townResponse, len(towns))
	for i, t := range towns {
		out[i] = townResponse{ID: t.ID, Name: t.Name, Code: t.Code, CreatedAt: t.CreatedAt}
	}
	return c.JSON(fiber.Map{"towns": out})
}

func (s *Server) handleCreateTown(c *fiber.Ctx) error {
	var req townRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	t, err := s.svc.Directory.CreateTown(c.UserContext(), directory.NewTown(req))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(townResponse{ID: t.ID, Name: t.Name, Code: t.Code, CreatedAt: t.CreatedAt})
}

// departmentResponse is a department as the API shows it.
type departmentResponse struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func newDepartmentResponse(d *backend.Department) departmentResponse {
	return departmentResponse{ID: d.ID, Name: d.Name, Kind: d.Kind, Version: d.Version, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

// departmentRequest is the body of POST /api/v1/departments.
type departmentRequest struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// departmentPatchRequest is the body of PATCH /api/v1/departments/{id};
// absent fields stay as they are.
type departmentPatchRequest struct {
	Name    *string `json:"name"`
	Kind    *string `json:"kind"`
	Version *int    `json:"version"` // optional: the version the change was made on
}

func (s *Server) handleListDepartments(c *fiber.Ctx) error {
	list, err := s.svc.Directory.ListDepartments(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]departmentResponse, len(list))
	for i, d := range list {
		out[i] = newDepartmentResponse(d)
	}
	return c.JSON(fiber.Map{"departments": out})
}

func (s *Server) handleCreateDepartment(c *fiber.Ctx) error {
	var req departmentRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	d, err := s.svc.Directory.CreateDepartment(c.UserContext(), directory.NewDepartment(req))
	if err != nil {
		return err
	}
	c.Location("/api/v1/departments/" + d.ID)
	return c.Status(fiber.StatusCreated).JSON(newDepartmentResponse(d))
}

func (s *Server) handleGetDepartment(c *fiber.Ctx) error {
	d, err := s.svc.Directory.GetDepartment(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(newDepartmentResponse(d))
}

func (s *Server) handleUpdateDepartment(c *fiber.Ctx) error {
	var req departmentPatchRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	d, err := s.svc.Directory.UpdateDepartment(c.UserContext(), c.Params("id"), directory.DepartmentPatch(req))
	if err != nil {
		return err
	}
	return c.JSON(newDepartmentResponse(d))
}
