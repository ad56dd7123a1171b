package mobileapi

import (
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
)

// access says who may call a route.
type access int

const (
	public   access = iota // anyone, signed in or not
	signedIn               // any signed-in user; roles narrows it further
)

// route is one row of the API table. The table is the single place that
// says who may call what; the authorisation matrix test walks it, so a
// route cannot be added without deciding (and testing) its access.
type route struct {
	method  string
	path    string
	access  access
	roles   []backend.Role // with signedIn: at least one of these (admins always pass); nil for any role
	handler fiber.Handler
}

// apiRoutes is the /api/v1 table. Object-level checks (may this caller see
// that object?) happen in the use cases, which know the objects.
func (s *Server) apiRoutes() []route {
	var rs []route
	admin := []backend.Role{backend.RoleAdmin}
	coordinator := []backend.Role{backend.RoleCoordinator}
	if s.svc.Auth != nil {
		rs = append(rs,
			route{"POST", "/api/v1/auth/login", public, nil, s.handleLogin},
			route{"POST", "/api/v1/auth/refresh", public, nil, s.handleRefresh},
			route{"POST", "/api/v1/auth/logout", signedIn, nil, s.handleLogout},
		)
	}
	if s.svc.Accounts != nil {
		rs = append(rs,
			route{"GET", "/api/v1/me", signedIn, nil, s.handleMe},
			route{"PATCH", "/api/v1/me", signedIn, nil, s.handleUpdateMe},
			route{"GET", "/api/v1/me/devices", signedIn, nil, s.handleListDevices},
			route{"POST", "/api/v1/me/devices", signedIn, nil, s.handleRegisterDevice},
			route{"DELETE", "/api/v1/me/devices/:id", signedIn, nil, s.handleDeleteDevice},
			route{"GET", "/api/v1/users", signedIn, admin, s.handleListUsers},
			route{"POST", "/api/v1/users", signedIn, admin, s.handleCreateUser},
			route{"GET", "/api/v1/users/:id", signedIn, admin, s.handleGetUser},
			route{"PATCH", "/api/v1/users/:id", signedIn, admin, s.handleUpdateUser},
		)
	}
	if s.svc.Audit != nil {
		rs = append(rs, route{"GET", "/api/v1/audit", signedIn, coordinator, s.handleAuditList})
	}
	for _, group := range routeGroups {
		rs = append(rs, group(s)...)
	}
	return rs
}

// routeGroups are the route tables of the API's areas (directory, roster,
// items, plans …), each registered by an init function in the area's own
// file, so that areas are added without editing this one. A group returns
// no routes when the service it needs is not set.
var routeGroups []func(*Server) []route

// mountAPI installs the table. Signed-in routes authenticate first, then
// check roles, then (for mutations) apply Idempotency-Key handling, which is
// scoped per user and so must follow authentication.
func (s *Server) mountAPI() {
	for _, r := range s.apiRoutes() {
		if r.access == signedIn && s.svc.Auth == nil {
			continue // nothing can authenticate the caller
		}
		var chain []fiber.Handler
		if r.access == signedIn {
			chain = append(chain, s.authenticate, requireRoles(r.roles))
			if s.svc.Idempotency != nil && mutating(r.method) {
				chain = append(chain, s.idempotent(s.svc.Idempotency))
			}
		}
		chain = append(chain, r.handler)
		s.app.Add(r.method, r.path, chain...)
	}
}

func mutating(method string) bool {
	return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE"
}

// authenticate turns the bearer token into the acting user in the context.
func (s *Server) authenticate(c *fiber.Ctx) error {
	header := c.Get(fiber.HeaderAuthorization)
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || token == "" {
		return backend.Errorf(backend.EUNAUTHORIZED, "sign in first (Authorization: Bearer <access token>)")
	}
	actor, err := s.svc.Auth.Authenticate(c.UserContext(), token, s.clientIP(c))
	if err != nil {
		return err
	}
	c.SetUserContext(backend.WithActor(c.UserContext(), actor))
	return c.Next()
}

// requireRoles lets the request through when the actor holds one of roles
// (admins hold all); nil roles admits any signed-in user.
func requireRoles(roles []backend.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		actor := backend.ActorFromContext(c.UserContext())
		if roles != nil && !slices.ContainsFunc(roles, actor.HasRole) {
			return backend.Errorf(backend.EFORBIDDEN, "this needs one of the roles %v", roles)
		}
		return c.Next()
	}
}
