package mobileapi

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/accounts"
)

// userResponse is a user as the API shows it: never the password hash.
type userResponse struct {
	ID           string         `json:"id"`
	Username     string         `json:"username"`
	DisplayName  string         `json:"display_name"`
	Roles        []backend.Role `json:"roles"`
	DepartmentID string         `json:"department_id"`
	Disabled     bool           `json:"disabled"`
	CreatedAt    time.Time      `json:"created_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
}

func newUserResponse(u *backend.User) userResponse {
	roles := u.Roles
	if roles == nil {
		roles = []backend.Role{}
	}
	return userResponse{
		ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Roles: roles,
		DepartmentID: u.DepartmentID, Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

// createUserRequest is the body of POST /api/v1/users.
type createUserRequest struct {
	Username     string         `json:"username"`
	Password     string         `json:"password"`
	DisplayName  string         `json:"display_name"`
	Roles        []backend.Role `json:"roles"`
	DepartmentID string         `json:"department_id"`
}

// updateUserRequest is the body of PATCH /api/v1/users/{id}; absent fields
// stay as they are.
type updateUserRequest struct {
	DisplayName  *string         `json:"display_name"`
	Password     *string         `json:"password"`
	Roles        *[]backend.Role `json:"roles"`
	DepartmentID *string         `json:"department_id"`
	Disabled     *bool           `json:"disabled"`
}

// updateMeRequest is the body of PATCH /api/v1/me.
type updateMeRequest struct {
	DisplayName     *string `json:"display_name"`
	CurrentPassword *string `json:"current_password"`
	NewPassword     *string `json:"new_password"`
	// Roles and DepartmentID are decoded only to refuse them: nobody
	// changes their own.
	Roles        *[]backend.Role `json:"roles"`
	DepartmentID *string         `json:"department_id"`
}

func (s *Server) handleListUsers(c *fiber.Ctx) error {
	p, err := readPage(c, 50, 200)
	if err != nil {
		return err
	}
	role := backend.Role(c.Query("role"))
	if role != "" && !role.Valid() {
		return backend.InvalidFields("invalid query parameter", map[string]string{"role": "unknown role"})
	}
	f := backend.UserFilter{
		Role: role, DepartmentID: c.Query("department_id"), Query: c.Query("q"), After: p.After, Offset: p.Offset, Limit: p.Limit,
	}
	users, total, err := s.svc.Accounts.ListUsers(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]userResponse, len(users))
	for i, u := range users {
		out[i] = newUserResponse(u)
	}
	return c.JSON(pageMap(fiber.Map{"users": out}, p, total, nextPage(users, p.Limit, f.CursorOf)))
}

func (s *Server) handleCreateUser(c *fiber.Ctx) error {
	var req createUserRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	u, err := s.svc.Accounts.CreateUser(c.UserContext(), accounts.NewUser(req))
	if err != nil {
		return err
	}
	c.Location("/api/v1/users/" + u.ID)
	return c.Status(fiber.StatusCreated).JSON(newUserResponse(u))
}

func (s *Server) handleGetUser(c *fiber.Ctx) error {
	u, err := s.svc.Accounts.GetUser(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(newUserResponse(u))
}

func (s *Server) handleUpdateUser(c *fiber.Ctx) error {
	var req updateUserRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	u, err := s.svc.Accounts.UpdateUser(c.UserContext(), c.Params("id"), accounts.UserPatch(req))
	if err != nil {
		return err
	}
	return c.JSON(newUserResponse(u))
}

func (s *Server) handleMe(c *fiber.Ctx) error {
	u, err := s.svc.Accounts.GetUser(c.UserContext(), backend.ActorFromContext(c.UserContext()).UserID)
	if err != nil {
		return err
	}
	return c.JSON(newUserResponse(u))
}

func (s *Server) handleUpdateMe(c *fiber.Ctx) error {
	var req updateMeRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.Roles != nil || req.DepartmentID != nil {
		return backend.Errorf(backend.EFORBIDDEN, "you cannot change your own roles or department")
	}
	u, err := s.svc.Accounts.UpdateMe(c.UserContext(), req.DisplayName, req.CurrentPassword, req.NewPassword)
	if err != nil {
		return err
	}
	return c.JSON(newUserResponse(u))
}

// deviceRequest is the body of POST /api/v1/me/devices.
type deviceRequest struct {
	Token    string `json:"token"`
	Platform string `json:"platform"`
}

// deviceResponse is a registered device; the push token is not echoed back
// in listings beyond a short tail the user can recognise.
type deviceResponse struct {
	ID         string    `json:"id"`
	Platform   string    `json:"platform"`
	TokenTail  string    `json:"token_tail"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
}

func newDeviceResponse(d *backend.Device) deviceResponse {
	tail := d.Token
	if len(tail) > 6 {
		tail = tail[len(tail)-6:]
	}
	return deviceResponse{ID: d.ID, Platform: d.Platform, TokenTail: tail, CreatedAt: d.CreatedAt, LastSeenAt: d.LastSeenAt}
}

func (s *Server) handleListDevices(c *fiber.Ctx) error {
	devices, err := s.svc.Accounts.ListDevices(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]deviceResponse, len(devices))
	for i, d := range devices {
		out[i] = newDeviceResponse(d)
	}
	return c.JSON(fiber.Map{"devices": out})
}

func (s *Server) handleRegisterDevice(c *fiber.Ctx) error {
	var req deviceRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	d, err := s.svc.Accounts.RegisterDevice(c.UserContext(), req.Token, req.Platform)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(newDeviceResponse(d))
}

func (s *Server) handleDeleteDevice(c *fiber.Ctx) error {
	if err := s.svc.Accounts.DeleteDevice(c.UserContext(), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
