package mobileapi

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/auth"
)

// loginRequest is the body of POST /api/v1/auth/login.
type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// refreshRequest is the body of POST /api/v1/auth/refresh.
type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// sessionResponse answers sign-in and refresh.
type sessionResponse struct {
	AccessToken  string       `json:"access_token"`
	RefreshToken string       `json:"refresh_token"`
	TokenType    string       `json:"token_type"`
	ExpiresIn    int          `json:"expires_in"` // seconds until the access token expires
	User         userResponse `json:"user"`
}

func newSessionResponse(s *auth.Session) sessionResponse {
	return sessionResponse{
		AccessToken: s.AccessToken, RefreshToken: s.RefreshToken, TokenType: "Bearer",
		ExpiresIn: int(s.ExpiresIn / time.Second), User: newUserResponse(s.User),
	}
}

func (s *Server) handleLogin(c *fiber.Ctx) error {
	var req loginRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	fields := map[string]string{}
	if strings.TrimSpace(req.Username) == "" {
		fields["username"] = "required"
	}
	if req.Password == "" {
		fields["password"] = "required"
	}
	if len(fields) > 0 {
		return backend.InvalidFields("username and password are required", fields)
	}
	ip := s.clientIP(c)
	ctx := backend.WithActor(c.UserContext(), &backend.Actor{ClientIP: ip})
	sess, err := s.svc.Auth.Login(ctx, req.Username, req.Password, ip)
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(newSessionResponse(sess))
}

func (s *Server) handleRefresh(c *fiber.Ctx) error {
	var req refreshRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.RefreshToken == "" {
		return backend.InvalidFields("refresh_token is required", map[string]string{"refresh_token": "required"})
	}
	ctx := backend.WithActor(c.UserContext(), &backend.Actor{ClientIP: s.clientIP(c)})
	sess, err := s.svc.Auth.Refresh(ctx, req.RefreshToken)
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(newSessionResponse(sess))
}

func (s *Server) handleLogout(c *fiber.Ctx) error {
	if err := s.svc.Auth.Logout(c.UserContext()); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// noStore keeps tokens out of every cache between the server and the phone.
func noStore(c *fiber.Ctx) {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderPragma, "no-cache")
}
