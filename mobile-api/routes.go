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

// Who may call what, by role (admins pass every role check).
var (
	admin       = []backend.Role{backend.RoleAdmin}
	coordinator = []backend.Role{backend.RoleCoordinator}
	leader      = []backend.Role{backend.RoleLeader}
	// keepers keep the reference lists (towns, departments).
	keepers = []backend.Role{backend.RoleAdmin, backend.RoleCoordinator}
	// clerks keep the enterprise directory day to day.
	clerks = []backend.Role{backend.RoleAdmin, backend.RoleCoordinator, backend.RoleStaff}
	// office is the bureau's own staff who plan and manage: coordinators
	// and the departments' staff.
	office = []backend.Role{backend.RoleCoordinator, backend.RoleStaff}
	// officeAndLeaders also read what the office manages.
	officeAndLeaders = []backend.Role{backend.RoleCoordinator, backend.RoleStaff, backend.RoleLeader}
	// fieldOnly is the group on site; fieldAndOffice adds the office (for
	// reports of other agencies).
	fieldOnly      = []backend.Role{backend.RoleInspector}
	fieldAndOffice = []backend.Role{backend.RoleInspector, backend.RoleCoordinator, backend.RoleStaff}
	// overseers read the bureau-wide reports.
	overseers = []backend.Role{backend.RoleCoordinator, backend.RoleLeader}
)

// apiRoutes is the whole API table: every route the server answers,
// with who may call it and its handler. Object-level checks (may this
// caller see that object?) happen in the use cases, which know the
// objects. Fixed paths come before /:id patterns, which would otherwise
// swallow them.
func (s *Server) apiRoutes() []route {
	return []route{
		// Operations: liveness, readiness, metrics, the API contract.
		{"GET", "/healthz", public, nil, s.handleHealthz},
		{"GET", "/readyz", public, nil, s.handleReadyz},
		{"GET", "/metrics", public, nil, s.metrics.handler()},
		{"GET", "/openapi.json", public, nil, s.handleOpenAPI},

		// Identity (art. 3): sign-in, sessions, the caller's own account.
		{"POST", "/api/v1/auth/login", public, nil, s.handleLogin},
		{"POST", "/api/v1/auth/refresh", public, nil, s.handleRefresh},
		{"POST", "/api/v1/auth/logout", signedIn, nil, s.handleLogout},
		{"GET", "/api/v1/me", signedIn, nil, s.handleMe},
		{"PATCH", "/api/v1/me", signedIn, nil, s.handleUpdateMe},
		{"GET", "/api/v1/me/devices", signedIn, nil, s.handleListDevices},
		// The caller's inbox and live event stream (art. 18): inbox first,
		// push as the wake-up, server-sent events for connected clients.
		{"GET", "/api/v1/me/notifications", signedIn, nil, s.handleListNotifications},
		{"POST", "/api/v1/me/notifications/read-all", signedIn, nil, s.handleReadAllNotifications},
		{"POST", "/api/v1/me/notifications/:id/read", signedIn, nil, s.handleReadNotification},
		{"GET", "/api/v1/me/events", signedIn, nil, s.handleEvents},
		{"GET", "/api/v1/me/tasks", signedIn, nil, s.handleMyTasks},
		{"POST", "/api/v1/me/devices", signedIn, nil, s.handleRegisterDevice},
		{"DELETE", "/api/v1/me/devices/:id", signedIn, nil, s.handleDeleteDevice},
		{"GET", "/api/v1/users", signedIn, admin, s.handleListUsers},
		{"POST", "/api/v1/users", signedIn, admin, s.handleCreateUser},
		{"GET", "/api/v1/users/:id", signedIn, admin, s.handleGetUser},
		{"PATCH", "/api/v1/users/:id", signedIn, admin, s.handleUpdateUser},

		// The audit trail (art. 3, 29).
		{"GET", "/api/v1/audit", signedIn, coordinator, s.handleAuditList},
		{"GET", "/api/v1/audit/verify", signedIn, coordinator, s.handleAuditVerify},

		// The directory (art. 6, 7, 13, 16). Every signed-in role may read
		// it: inspectors need an enterprise's facts on site, and any role
		// may need town and department names to show other records.
		// Exporting the whole directory is a bulk copy of contact data, so
		// it is for the clerks who keep it.
		{"GET", "/api/v1/towns", signedIn, nil, s.handleListTowns},
		{"POST", "/api/v1/towns", signedIn, admin, s.handleCreateTown},
		{"GET", "/api/v1/departments", signedIn, nil, s.handleListDepartments},
		{"POST", "/api/v1/departments", signedIn, keepers, s.handleCreateDepartment},
		{"GET", "/api/v1/departments/:id", signedIn, nil, s.handleGetDepartment},
		{"PATCH", "/api/v1/departments/:id", signedIn, keepers, s.handleUpdateDepartment},
		{"GET", "/api/v1/departments/:id/versions", signedIn, nil, s.handleVersions(s.svc.Directory.DepartmentVersions)},
		{"GET", "/api/v1/enterprises", signedIn, nil, s.handleListEnterprises},
		{"POST", "/api/v1/enterprises", signedIn, clerks, s.handleCreateEnterprise},
		{"GET", "/api/v1/enterprises/stale", signedIn, nil, s.handleStaleEnterprises},
		{"POST", "/api/v1/enterprises/import", signedIn, clerks, s.handleImport(s.svc.Directory.ImportEnterprises)},
		{"GET", "/api/v1/enterprises/export", signedIn, clerks, s.handleExportEnterprises},
		{"GET", "/api/v1/enterprises/:id", signedIn, nil, s.handleGetEnterprise},
		{"PATCH", "/api/v1/enterprises/:id", signedIn, clerks, s.handleUpdateEnterprise},
		{"GET", "/api/v1/enterprises/:id/versions", signedIn, nil, s.handleVersions(s.svc.Directory.EnterpriseVersions)},
		{"POST", "/api/v1/enterprises/:id/review", signedIn, clerks, s.handleReviewEnterprise},

		// The roster (art. 12, 15). Who may do what on one inspector
		// (staff: own department; inspectors: own record) is decided in
		// roster.Service.
		{"GET", "/api/v1/qualifications", signedIn, nil, s.handleListQualifications},
		{"POST", "/api/v1/qualifications", signedIn, coordinator, s.handleCreateQualification},
		{"GET", "/api/v1/inspectors", signedIn, officeAndLeaders, s.handleListInspectors},
		{"POST", "/api/v1/inspectors", signedIn, office, s.handleCreateInspector},
		{"GET", "/api/v1/inspectors/expiring", signedIn, officeAndLeaders, s.handleExpiringInspectors},
		{"GET", "/api/v1/inspectors/export", signedIn, officeAndLeaders, s.handleExportInspectors},
		{"POST", "/api/v1/inspectors/import", signedIn, office, s.handleImport(s.svc.Roster.ImportInspectors)},
		{"GET", "/api/v1/inspectors/:id", signedIn, nil, s.handleGetInspector},
		{"PATCH", "/api/v1/inspectors/:id", signedIn, office, s.handleUpdateInspector},
		{"GET", "/api/v1/inspectors/:id/versions", signedIn, officeAndLeaders, s.handleVersions(s.svc.Roster.InspectorVersions)},

		// The item lists (art. 9, 10). Every signed-in user may read items
		// (inspectors check them on site); staff edit only their own
		// department's (checked in itemlist.Service); coordinators publish.
		{"GET", "/api/v1/items", signedIn, nil, s.handleListItems},
		{"POST", "/api/v1/items", signedIn, office, s.handleCreateItem},
		{"POST", "/api/v1/items/publish", signedIn, coordinator, s.handlePublishItems},
		{"POST", "/api/v1/items/import", signedIn, office, s.handleImport(s.svc.Items.ImportItems)},
		{"GET", "/api/v1/items/export", signedIn, nil, s.handleExportItems},
		{"GET", "/api/v1/items/:id", signedIn, nil, s.handleGetItem},
		{"PATCH", "/api/v1/items/:id", signedIn, office, s.handleUpdateItem},
		{"GET", "/api/v1/items/:id/versions", signedIn, nil, s.handleVersions(s.svc.Items.ItemVersions)},

		// Plans and draws (art. 4–5, 8, 14–16, 19): drafted by the office,
		// approved by a leader, committed and drawn by the coordinator or
		// the lead department's staff (checked per plan in plans.Service).
		{"GET", "/api/v1/plans", signedIn, officeAndLeaders, s.handleListPlans},
		{"POST", "/api/v1/plans", signedIn, office, s.handleCreatePlan},
		{"GET", "/api/v1/plans/:id", signedIn, officeAndLeaders, s.handleGetPlan},
		{"PATCH", "/api/v1/plans/:id", signedIn, office, s.handleUpdatePlan},
		{"POST", "/api/v1/plans/:id/approve", signedIn, leader, s.handleApprovePlan},
		{"POST", "/api/v1/plans/:id/redraw-approvals", signedIn, leader, s.handleApproveRedraw},
		{"POST", "/api/v1/plans/:id/commit", signedIn, office, s.handleCommitPlan},
		{"POST", "/api/v1/plans/:id/draws", signedIn, office, s.handleDraw},
		{"GET", "/api/v1/plans/:id/draws", signedIn, officeAndLeaders, s.handleListDraws},
		{"GET", "/api/v1/draws/:id", signedIn, officeAndLeaders, s.handleGetDraw},
		{"GET", "/api/v1/reports/coverage", signedIn, overseers, s.handleCoverage},

		// Tasks (art. 2, 18, 21, 24, 27): dispatched from a draw by the
		// coordinator or the lead department's staff (checked per plan in
		// tasks.Service), or recorded as targeted checks. Everyone signed in
		// may read the tasks they may see: staff their department's,
		// inspectors their own groups' (404 for any other).
		{"POST", "/api/v1/draws/:id/dispatch", signedIn, office, s.handleDispatch},
		{"GET", "/api/v1/tasks", signedIn, nil, s.handleListTasks},
		{"POST", "/api/v1/tasks", signedIn, office, s.handleCreateTask},
		{"GET", "/api/v1/tasks/overdue", signedIn, officeAndLeaders, s.handleOverdueTasks},
		{"GET", "/api/v1/tasks/:id", signedIn, nil, s.handleGetTask},
		{"POST", "/api/v1/tasks/:id/cancel", signedIn, office, s.handleCancelTask},
		// Replacing a member after dispatch: committed by the office,
		// approved (or rejected) by a leader who did not commit it, then
		// drawn at random (never picked by hand) by someone other than
		// that leader (checked in tasks.Service); the records are public.
		// Who asked, approved or rejected a replacement is the office's and
		// the leaders' to know; the group sees the public records.
		{"GET", "/api/v1/tasks/:id/replacements", signedIn, officeAndLeaders, s.handleListReplacements},
		{"POST", "/api/v1/tasks/:id/replacements", signedIn, office, s.handleCommitReplacement},
		{"POST", "/api/v1/tasks/:id/replacements/:replacement_id/approval", signedIn, leader, s.handleDecideReplacement},
		{"POST", "/api/v1/tasks/:id/replacements/:replacement_id/draw", signedIn, office, s.handleDrawReplacement},
		// Results (art. 21, 24, 25): reviewed by the coordinator or the
		// lead department's staff — never a member of the group — fed back,
		// published, followed by dispositions (checked per task in
		// results.Service). Whoever may see a task may read its result.
		{"GET", "/api/v1/tasks/:id/result", signedIn, nil, s.handleGetResult},
		{"POST", "/api/v1/tasks/:id/review", signedIn, office, s.handleReview},
		{"POST", "/api/v1/tasks/:id/feedback", signedIn, office, s.handleFeedback},
		{"POST", "/api/v1/tasks/:id/publish", signedIn, office, s.handlePublish},
		{"POST", "/api/v1/tasks/:id/dispositions", signedIn, office, s.handleDisposition},
		// The archive (art. 22): the task's records, its statutory
		// documents (generated at approval, in the WORM bucket) and its
		// evidence with their SHA-256, and short-lived links to the
		// documents — for whoever may see the task. Nothing in the API
		// deletes an archived object.
		{"GET", "/api/v1/tasks/:id/archive", signedIn, nil, s.handleArchive},
		// On site (art. 15, 20, 23): the group checks in, fills the
		// checklist, records findings, non-cooperation and evidence, and
		// signs off; only its members (checked in tasks.Service) — others
		// who may see the task read what was recorded.
		{"POST", "/api/v1/tasks/:id/check-in", signedIn, fieldOnly, s.handleCheckIn},
		{"PUT", "/api/v1/tasks/:id/items/:item_id", signedIn, fieldOnly, s.handleItemOutcome},
		{"GET", "/api/v1/tasks/:id/findings", signedIn, nil, s.handleListFindings},
		{"POST", "/api/v1/tasks/:id/findings", signedIn, fieldOnly, s.handleCreateFinding},
		{"GET", "/api/v1/tasks/:id/non-cooperation", signedIn, nil, s.handleListNonCooperation},
		{"POST", "/api/v1/tasks/:id/non-cooperation", signedIn, fieldOnly, s.handleNonCooperation},
		{"GET", "/api/v1/tasks/:id/evidence", signedIn, nil, s.handleListEvidence},
		{"POST", "/api/v1/tasks/:id/evidence", signedIn, fieldAndOffice, s.handleCreateEvidence},
		{"POST", "/api/v1/tasks/:id/submit", signedIn, fieldOnly, s.handleSubmit},
		// Evidence uploads go straight to MinIO; these resume, check and
		// hand out short-lived download links (to those who see the task).
		{"GET", "/api/v1/evidence/:id/parts", signedIn, fieldAndOffice, s.handleEvidenceParts},
		{"POST", "/api/v1/evidence/:id/complete", signedIn, fieldAndOffice, s.handleCompleteEvidence},
		{"GET", "/api/v1/evidence/:id/download", signedIn, nil, s.handleDownloadEvidence},
		// The working-day calendar behind the deadlines: everyone may read
		// it; the coordinator adds the bureau's overrides.
		{"GET", "/api/v1/calendar", signedIn, nil, s.handleGetCalendar},
		{"POST", "/api/v1/calendar", signedIn, coordinator, s.handlePutCalendar},
		{"GET", "/api/v1/reports/random-share", signedIn, overseers, s.handleRandomShare},
		{"GET", "/api/v1/reports/pool", signedIn, officeAndLeaders, s.handlePoolPreview},
		// The bureau's compliance in figures (art. 16, 21, 24, 29): staff
		// see their department's, coordinators and leaders any (checked in
		// results.Service).
		{"GET", "/api/v1/stats", signedIn, officeAndLeaders, s.handleStats},

		// What everyone may read without signing in (art. 10, 19).
		{"GET", "/public/v1/items", public, nil, s.handlePublicItems},
		{"GET", "/public/v1/plans", public, nil, s.handlePublicPlans},
		{"GET", "/public/v1/plans/:id", public, nil, s.handlePublicPlan},
		{"GET", "/public/v1/plans/:id/draws", public, nil, s.handlePublicDraws},
		{"GET", "/public/v1/draws/:id", public, nil, s.handlePublicDraw},
		{"GET", "/public/v1/draws/:id/replacements", public, nil, s.handlePublicReplacements},
		{"GET", "/public/v1/replacements/:id", public, nil, s.handlePublicReplacement},
		{"GET", "/public/v1/draw-spec", public, nil, s.handleDrawSpec},
		{"GET", "/public/v1/audit/head", public, nil, s.handleAuditHead},
		// Published results (art. 24): the public fields only.
		{"GET", "/public/v1/results", public, nil, s.handlePublicResults},
		{"GET", "/public/v1/results/:id", public, nil, s.handlePublicResult},
	}
}

// webRoutes are the pages and files suiji serves to browsers: the public
// portal's server-rendered pages, and the embedded front-ends (the console,
// the inspectors' app, the portal's scripts, shared code and the vendored
// libraries) below their roots. They answer HTML or files, not the API's
// JSON, so the OpenAPI document leaves them out.
func (s *Server) webRoutes() []route {
	w := s.web
	rs := []route{
		{"GET", "/", public, nil, w.page(w.home)},
		{"GET", "/items", public, nil, w.page(w.items)},
		{"GET", "/verify", public, nil, w.page(w.verify)},
		{"GET", "/results", public, nil, w.page(w.results)},
		{"GET", "/results/:id", public, nil, w.page(byID(w.result))},
		{"GET", "/plans/:id", public, nil, w.page(byID(w.plan))},
		{"GET", "/draws/:id", public, nil, w.page(byID(w.draw))},
		{"GET", "/replacements/:id", public, nil, w.page(byID(w.replacement))},
	}
	for _, root := range []string{"/console", "/app", "/portal", "/shared", "/vendor"} {
		rs = append(rs,
			route{"GET", root, public, nil, w.static}, // redirects to root + "/"
			route{"GET", root + "/*", public, nil, w.static},
		)
	}
	return rs
}

// mountAPI installs the table. Every route first gets its deadline (see
// limits.go). Signed-in routes authenticate next, then check roles, then
// (imports) wait for the instance's import slot, then (for mutations) apply
// Idempotency-Key handling, which is scoped per user and so must follow
// authentication.
func (s *Server) mountAPI() {
	for _, r := range append(s.apiRoutes(), s.webRoutes()...) {
		var chain []fiber.Handler
		switch kindOf(r.method, r.path) {
		case ordinary:
			chain = append(chain, deadline(s.cfg.RequestTimeout))
		case upload, long:
			chain = append(chain, deadline(s.cfg.UploadTimeout))
		}
		if r.access == signedIn {
			chain = append(chain, s.authenticate, requireRoles(r.roles))
			if kindOf(r.method, r.path) == upload {
				chain = append(chain, s.oneImport)
			}
			if mutating(r.method) {
				chain = append(chain, s.idempotent(s.svc.Idempotency))
			}
		}
		chain = append(chain, r.handler)
		if r.method == "GET" {
			s.app.Get(r.path, chain...) // and HEAD
		} else {
			s.app.Add(r.method, r.path, chain...)
		}
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
