package mobileapi

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/draw/drawv1"
	"suiji/backend/plans"
)

// planFilterJSON, planSampleJSON and planWindowJSON are parts of planJSON.
type planFilterJSON struct {
	Towns      []string `json:"towns" maxItems:"100"`
	Industries []string `json:"industries" maxItems:"100"`
	Categories []string `json:"categories" maxItems:"20"`
	Flags      []string `json:"flags" maxItems:"20"`
}

type planSampleJSON struct {
	Ratio float64 `json:"ratio,omitempty"`
	Count int     `json:"count,omitempty"`
}

type planWindowJSON struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// planRequest is the body of POST /api/v1/plans.
type planRequest struct {
	Year               int            `json:"year"`
	Title              string         `json:"title"`
	Kind               string         `json:"kind"`
	ItemIDs            []string       `json:"item_ids" maxItems:"200"` // each is looked up
	LeadDepartmentID   string         `json:"lead_department_id"`
	JointDepartmentIDs []string       `json:"joint_department_ids" maxItems:"20"`
	Filter             planFilterJSON `json:"filter"`
	Sample             planSampleJSON `json:"sample"`
	GroupSize          int            `json:"group_size"`
	JointMembers       int            `json:"joint_members"`
	Window             planWindowJSON `json:"window"`
	Version            int            `json:"version"` // PATCH only: the version edited (optional)
}

// planJSON is a plan as the API shows it.
type planJSON struct {
	ID                 string         `json:"id"`
	Year               int            `json:"year"`
	Title              string         `json:"title"`
	Kind               string         `json:"kind"`
	ItemIDs            []string       `json:"item_ids"`
	LeadDepartmentID   string         `json:"lead_department_id"`
	JointDepartmentIDs []string       `json:"joint_department_ids"`
	Filter             planFilterJSON `json:"filter"`
	Sample             planSampleJSON `json:"sample"`
	GroupSize          int            `json:"group_size"`
	JointMembers       int            `json:"joint_members"`
	Window             planWindowJSON `json:"window"`
	Status             string         `json:"status"`
	SeedCommitment     string         `json:"seed_commitment"`
	CurrentDrawID      string         `json:"current_draw_id"`
	DrawCount          int            `json:"draw_count"`
	CreatedAt          time.Time      `json:"created_at"`
	ApprovedAt         *time.Time     `json:"approved_at"`
	UpdatedAt          time.Time      `json:"updated_at"`
	Version            int            `json:"version"`
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func newPlanJSON(p *backend.Plan) planJSON {
	return planJSON{
		ID: p.ID, Year: p.Year, Title: p.Title, Kind: p.Kind, ItemIDs: orEmpty(p.ItemIDs),
		LeadDepartmentID: p.LeadDepartmentID, JointDepartmentIDs: orEmpty(p.JointDepartmentIDs),
		Filter: planFilterJSON{orEmpty(p.Filter.Towns), orEmpty(p.Filter.Industries), orEmpty(p.Filter.Categories), orEmpty(p.Filter.Flags)},
		Sample: planSampleJSON{p.Sample.Ratio, p.Sample.Count}, GroupSize: p.GroupSize, JointMembers: p.JointMembers,
		Window: planWindowJSON{p.WindowStart, p.WindowEnd}, Status: p.Status, SeedCommitment: p.SeedCommitment,
		CurrentDrawID: p.CurrentDrawID, DrawCount: p.DrawCount, CreatedAt: p.CreatedAt, ApprovedAt: p.ApprovedAt,
		UpdatedAt: p.UpdatedAt, Version: p.Version,
	}
}

func (req *planRequest) input() plans.Input {
	return plans.Input{
		Year: req.Year, Title: req.Title, Kind: req.Kind, ItemIDs: req.ItemIDs,
		LeadDepartmentID: req.LeadDepartmentID, JointDepartmentIDs: req.JointDepartmentIDs,
		Filter: backend.PlanFilter{Towns: req.Filter.Towns, Industries: req.Filter.Industries, Categories: req.Filter.Categories, Flags: req.Filter.Flags},
		Sample: backend.PlanSample{Ratio: req.Sample.Ratio, Count: req.Sample.Count}, GroupSize: req.GroupSize,
		JointMembers: req.JointMembers, WindowStart: req.Window.Start, WindowEnd: req.Window.End,
	}
}

func (s *Server) handleCreatePlan(c *fiber.Ctx) error {
	var req planRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	p, err := s.svc.Plans.CreatePlan(c.UserContext(), req.input())
	if err != nil {
		return err
	}
	c.Location("/api/v1/plans/" + p.ID)
	return c.Status(fiber.StatusCreated).JSON(newPlanJSON(p))
}

// handleUpdatePlan replaces a draft's fields (the whole plan body, as on
// creation, plus the optional version edited).
func (s *Server) handleUpdatePlan(c *fiber.Ctx) error {
	var req planRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	p, err := s.svc.Plans.UpdateDraft(c.UserContext(), c.Params("id"), req.Version, req.input())
	if err != nil {
		return err
	}
	return c.JSON(newPlanJSON(p))
}

func (s *Server) handleListPlans(c *fiber.Ctx) error {
	year, err := queryInt(c, "year", 0, 0, 2100)
	if err != nil {
		return err
	}
	list, err := s.svc.Plans.ListPlans(c.UserContext(), backend.PlanQuery{Year: year, Status: c.Query("status")})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"plans": plansJSON(list)})
}

func plansJSON(list []*backend.Plan) []planJSON {
	out := make([]planJSON, len(list))
	for i, p := range list {
		out[i] = newPlanJSON(p)
	}
	return out
}

func (s *Server) handleGetPlan(c *fiber.Ctx) error {
	p, err := s.svc.Plans.GetPlan(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(newPlanJSON(p))
}

func (s *Server) handleApprovePlan(c *fiber.Ctx) error {
	p, err := s.svc.Plans.ApprovePlan(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(newPlanJSON(p))
}

func (s *Server) handleCommitPlan(c *fiber.Ctx) error {
	p, err := s.svc.Plans.CommitSeed(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"plan_id": p.ID, "seed_commitment": p.SeedCommitment})
}

// drawRequest is the body of POST /api/v1/plans/{id}/draws.
type drawRequest struct {
	PublicEntropy string `json:"public_entropy"`
	Reason        string `json:"reason"`
}

// drawJSON is a draw without its pool and roster (those are in the public
// verification record).
type drawJSON struct {
	ID             string              `json:"id"`
	PlanID         string              `json:"plan_id"`
	Seq            int                 `json:"seq"`
	Reason         string              `json:"reason"`
	Superseded     bool                `json:"superseded"`
	CreatedBy      string              `json:"created_by"`
	CreatedName    string              `json:"created_name"`
	CreatedAt      time.Time           `json:"created_at"`
	SeedCommitment string              `json:"seed_commitment"`
	Seed           string              `json:"seed"`
	PublicEntropy  string              `json:"public_entropy"`
	PoolSHA256     string              `json:"pool_sha256"`
	RosterSHA256   string              `json:"roster_sha256"`
	PoolSize       int                 `json:"pool_size"`
	Allocation     []drawv1.Allocation `json:"allocation"`
	Selections     []drawv1.Selection  `json:"selections"`
	VerifyURL      string              `json:"verify_url"`
}

func newDrawJSON(d *backend.Draw, superseded bool) drawJSON {
	r := d.Record
	return drawJSON{
		ID: d.ID, PlanID: d.PlanID, Seq: d.Seq, Reason: d.Reason, Superseded: superseded,
		CreatedBy: d.CreatedBy, CreatedName: d.CreatedName, CreatedAt: d.CreatedAt,
		SeedCommitment: r.SeedCommitment, Seed: r.Seed, PublicEntropy: r.PublicEntropy,
		PoolSHA256: r.PoolSHA256, RosterSHA256: r.RosterSHA256, PoolSize: len(r.Pool),
		Allocation: r.Allocation, Selections: r.Selections, VerifyURL: "/public/v1/draws/" + d.ID,
	}
}

func (s *Server) handleDraw(c *fiber.Ctx) error {
	var req drawRequest
	if len(c.Body()) > 0 {
		if err := bindJSON(c, &req); err != nil {
			return err
		}
	}
	d, err := s.svc.Plans.Draw(c.UserContext(), c.Params("id"), req.PublicEntropy, req.Reason)
	if err != nil {
		return err
	}
	c.Location("/api/v1/draws/" + d.ID)
	return c.Status(fiber.StatusCreated).JSON(newDrawJSON(d, false))
}

func (s *Server) handleListDraws(c *fiber.Ctx) error {
	list, err := s.svc.Plans.ListDraws(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	out := make([]drawJSON, len(list))
	for i, d := range list {
		out[i] = newDrawJSON(d, i < len(list)-1)
	}
	return c.JSON(fiber.Map{"draws": out})
}

func (s *Server) handleGetDraw(c *fiber.Ctx) error {
	d, err := s.svc.Plans.GetDraw(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	superseded, err := s.superseded(c, d)
	if err != nil {
		return err
	}
	return c.JSON(newDrawJSON(d, superseded))
}

func (s *Server) superseded(c *fiber.Ctx, d *backend.Draw) (bool, error) {
	p, err := s.svc.Plans.PublicPlan(c.UserContext(), d.PlanID)
	if err != nil {
		return false, err
	}
	return p.CurrentDrawID != d.ID, nil
}

// publicDrawJSON is the verification record plus when and why it was made
// and whether a redraw superseded it.
type publicDrawJSON struct {
	*drawv1.Record
	Reason     string    `json:"reason"`
	CreatedAt  time.Time `json:"created_at"`
	Superseded bool      `json:"superseded"`
}

func (s *Server) handlePublicDraw(c *fiber.Ctx) error {
	d, err := s.svc.Plans.PublicDraw(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	superseded, err := s.superseded(c, d)
	if err != nil {
		return err
	}
	return c.JSON(publicDrawJSON{Record: d.Record, Reason: d.Reason, CreatedAt: d.CreatedAt, Superseded: superseded})
}

func (s *Server) handlePublicPlans(c *fiber.Ctx) error {
	year, err := queryInt(c, "year", 0, 0, 2100)
	if err != nil {
		return err
	}
	list, err := s.svc.Plans.PublicPlans(c.UserContext(), year)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"plans": plansJSON(list)})
}

func (s *Server) handlePublicPlan(c *fiber.Ctx) error {
	p, err := s.svc.Plans.PublicPlan(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(newPlanJSON(p))
}

func (s *Server) yearParam(c *fiber.Ctx) (int, error) {
	return queryInt(c, "year", time.Now().In(backend.ChinaTime).Year(), 2000, 2100)
}

func (s *Server) handleCoverage(c *fiber.Ctx) error {
	year, err := s.yearParam(c)
	if err != nil {
		return err
	}
	rep, err := s.svc.Plans.CoverageReport(c.UserContext(), year)
	if err != nil {
		return err
	}
	type uncovered struct {
		ID         string   `json:"id"`
		USCC       string   `json:"uscc"`
		Name       string   `json:"name"`
		Town       string   `json:"town"`
		Categories []string `json:"categories"`
		Flags      []string `json:"flags"`
	}
	out := make([]uncovered, len(rep.Uncovered))
	for i, e := range rep.Uncovered {
		out[i] = uncovered{e.ID, e.USCC, e.Name, e.Town, orEmpty(e.Categories), orEmpty(e.Flags)}
	}
	return c.JSON(fiber.Map{"year": rep.Year, "total": rep.Total, "covered": rep.Covered, "uncovered": out})
}

func (s *Server) handleRandomShare(c *fiber.Ctx) error {
	year, err := s.yearParam(c)
	if err != nil {
		return err
	}
	shares, err := s.svc.Plans.RandomShare(c.UserContext(), year)
	if err != nil {
		return err
	}
	type row struct {
		DepartmentID string  `json:"department_id"`
		Random       int     `json:"random"`
		Targeted     int     `json:"targeted"`
		RandomShare  float64 `json:"random_share"`
		MeetsRule    bool    `json:"meets_70_percent"`
	}
	out := make([]row, len(shares))
	for i, sh := range shares {
		share := 0.0
		if total := sh.Random + sh.Targeted; total > 0 {
			share = float64(sh.Random) / float64(total)
		}
		out[i] = row{sh.DepartmentID, sh.Random, sh.Targeted, share, share >= 0.7}
	}
	return c.JSON(fiber.Map{"year": year, "departments": out})
}
