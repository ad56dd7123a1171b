package mobileapi

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/draw"
	"suiji/backend/plans"
	"suiji/mobile-api/web"
)

// planFilterJSON, planSampleJSON and planWindowJSON are parts of planJSON.
type planFilterJSON struct {
	Towns      []string `json:"towns" maxItems:"100"`
	Industries []string `json:"industries" maxItems:"100"`
	Categories []string `json:"categories" maxItems:"20"`
	Flags      []string `json:"flags" maxItems:"20"`
}

// planSampleJSON is the sample size: a ratio, a JSON number read as the
// decimal it is written as (0.07 stays exactly 0.07; SPEC.md §5), or a
// count.
type planSampleJSON struct {
	Ratio json.Number `json:"ratio,omitempty"`
	Count int         `json:"count,omitempty"`
}

// decimalRatio is the decimal a JSON ratio means. A number computed in
// binary floating point by a client (7.1/100 gives 0.07099999999999999) is
// taken as the decimal of at most six places it is within 10⁻¹² of;
// anything else is kept as written, for validation to refuse.
func decimalRatio(n json.Number) string {
	text := string(n)
	if text == "" {
		return ""
	}
	if _, _, err := draw.ParseRatio(text); err == nil {
		return text
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return text
	}
	rounded := math.Round(f*1e6) / 1e6
	if math.Abs(f-rounded) > 1e-12 {
		return text
	}
	return strconv.FormatFloat(rounded, 'f', -1, 64)
}

type planWindowJSON struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// planRequest is the body of POST /api/v1/plans.
type planRequest struct {
	Year               int               `json:"year"`
	Title              string            `json:"title"`
	Kind               string            `json:"kind"`
	ItemIDs            []string          `json:"item_ids" maxItems:"200"` // each is looked up
	LeadDepartmentID   string            `json:"lead_department_id"`
	JointDepartmentIDs []string          `json:"joint_department_ids" maxItems:"20"`
	Filter             planFilterJSON    `json:"filter"`
	Sample             planSampleJSON    `json:"sample"`
	GroupSize          int               `json:"group_size"`
	JointMembers       int               `json:"joint_members"`
	Window             planWindowJSON    `json:"window"`
	External           *planExternalJSON `json:"external"` // art. 28: the bureau's share of another agency's joint draw
	Version            int               `json:"version"`  // PATCH only: the version edited (optional)
}

// planExternalJSON is what a plan received from another agency names.
type planExternalJSON struct {
	Agency       string `json:"agency"`
	Reference    string `json:"reference"`
	EnterpriseID string `json:"enterprise_id"`
}

func newPlanExternalJSON(x *backend.PlanExternal) *planExternalJSON {
	if x == nil {
		return nil
	}
	return &planExternalJSON{x.Agency, x.Reference, x.EnterpriseID}
}

// planJSON is a plan as the API shows it.
type planJSON struct {
	ID                 string            `json:"id"`
	Year               int               `json:"year"`
	Title              string            `json:"title"`
	Kind               string            `json:"kind"`
	ItemIDs            []string          `json:"item_ids"`
	LeadDepartmentID   string            `json:"lead_department_id"`
	JointDepartmentIDs []string          `json:"joint_department_ids"`
	Filter             planFilterJSON    `json:"filter"`
	Sample             planSampleJSON    `json:"sample"`
	GroupSize          int               `json:"group_size"`
	JointMembers       int               `json:"joint_members"`
	Window             planWindowJSON    `json:"window"`
	External           *planExternalJSON `json:"external"`
	Status             string            `json:"status"`
	SeedCommitment     string            `json:"seed_commitment"` // the pending commitment's; "" when none is pending
	Commitment         *commitJSON       `json:"commitment"`
	RedrawApproval     *approvalJSON     `json:"redraw_approval"`
	CurrentDrawID      string            `json:"current_draw_id"`
	DrawCount          int               `json:"draw_count"`
	CreatedAt          time.Time         `json:"created_at"`
	ApprovedAt         *time.Time        `json:"approved_at"`
	UpdatedAt          time.Time         `json:"updated_at"`
	Version            int               `json:"version"`
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
		Sample: planSampleJSON{json.Number(p.Sample.Ratio), p.Sample.Count}, GroupSize: p.GroupSize, JointMembers: p.JointMembers,
		Window: planWindowJSON{p.WindowStart, p.WindowEnd}, External: newPlanExternalJSON(p.External), Status: p.Status, SeedCommitment: p.SeedCommitment,
		Commitment: newCommitJSON(p), RedrawApproval: newApprovalJSON(p.RedrawApproval),
		CurrentDrawID: p.CurrentDrawID, DrawCount: p.DrawCount, CreatedAt: p.CreatedAt, ApprovedAt: p.ApprovedAt,
		UpdatedAt: p.UpdatedAt, Version: p.Version,
	}
}

// commitJSON is a plan's pending commitment, published before its attempt.
type commitJSON struct {
	PlanID         string    `json:"plan_id"`
	Seq            int       `json:"seq"`
	SeedCommitment string    `json:"seed_commitment"`
	EntropySource  string    `json:"entropy_source"`
	PoolSHA256     string    `json:"pool_sha256"`
	RosterSHA256   string    `json:"roster_sha256"`
	PoolSize       int       `json:"pool_size"`
	SampleSize     int       `json:"sample_size"`
	Required       []string  `json:"required"`
	CommittedAt    time.Time `json:"committed_at"`
}

func newCommitJSON(p *backend.Plan) *commitJSON {
	c := p.Commitment
	if c == nil {
		return nil
	}
	return &commitJSON{
		PlanID: p.ID, Seq: c.Seq, SeedCommitment: c.SeedCommitment, EntropySource: c.EntropySource,
		PoolSHA256: c.PoolSHA256, RosterSHA256: c.RosterSHA256, PoolSize: c.PoolSize, SampleSize: c.SampleSize,
		Required: orEmpty(c.Required), CommittedAt: c.CommittedAt,
	}
}

// approvalJSON is a leader's approval of the next attempt. ApprovedBy
// (the office's API only; publicPlanJSON leaves it out, as the public
// draws leave out who made them) lets the console offer the commitment
// and the draw to someone else: the approver is refused both.
type approvalJSON struct {
	Seq        int       `json:"seq"`
	Reason     string    `json:"reason"`
	ApprovedBy string    `json:"approved_by,omitempty"`
	ApprovedAt time.Time `json:"approved_at"`
}

func newApprovalJSON(a *backend.RedrawApproval) *approvalJSON {
	if a == nil {
		return nil
	}
	return &approvalJSON{a.Seq, a.Reason, a.ApprovedBy, a.ApprovedAt}
}

func (req *planRequest) input() plans.Input {
	in := plans.Input{
		Year: req.Year, Title: req.Title, Kind: req.Kind, ItemIDs: req.ItemIDs,
		LeadDepartmentID: req.LeadDepartmentID, JointDepartmentIDs: req.JointDepartmentIDs,
		Filter: backend.PlanFilter{Towns: req.Filter.Towns, Industries: req.Filter.Industries, Categories: req.Filter.Categories, Flags: req.Filter.Flags},
		Sample: backend.PlanSample{Ratio: decimalRatio(req.Sample.Ratio), Count: req.Sample.Count}, GroupSize: req.GroupSize,
		JointMembers: req.JointMembers, WindowStart: req.Window.Start, WindowEnd: req.Window.End,
	}
	if x := req.External; x != nil {
		in.External = &backend.PlanExternal{Agency: x.Agency, Reference: x.Reference, EnterpriseID: x.EnterpriseID}
	}
	return in
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

// commitRequest is the body of POST /api/v1/plans/{id}/commit.
type commitRequest struct {
	EntropySource string `json:"entropy_source"`
}

func (s *Server) handleCommitPlan(c *fiber.Ctx) error {
	var req commitRequest
	if len(c.Body()) > 0 {
		if err := bindJSON(c, &req); err != nil {
			return err
		}
	}
	p, err := s.svc.Plans.CommitSeed(c.UserContext(), c.Params("id"), req.EntropySource)
	if err != nil {
		return err
	}
	return c.JSON(newCommitJSON(p))
}

// approvalRequest is the body of POST /api/v1/plans/{id}/redraw-approvals.
type approvalRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) handleApproveRedraw(c *fiber.Ctx) error {
	var req approvalRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	p, err := s.svc.Plans.ApproveRedraw(c.UserContext(), c.Params("id"), req.Reason)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(newPlanJSON(p))
}

// drawRequest is the body of POST /api/v1/plans/{id}/draws. A redraw's
// reason is the leader's approval's; a "reason" sent here is not read.
type drawRequest struct {
	PublicEntropy string `json:"public_entropy"`
}

// drawJSON is an attempt without its candidates and roster (those are in
// the public verification record).
type drawJSON struct {
	ID             string            `json:"id"`
	PlanID         string            `json:"plan_id"`
	Seq            int               `json:"seq"`
	Outcome        string            `json:"outcome"`
	Failure        string            `json:"failure"`
	Reason         string            `json:"reason"`
	Superseded     bool              `json:"superseded"`
	CreatedBy      string            `json:"created_by,omitempty"`
	CreatedName    string            `json:"created_name,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	AlgorithmVer   string            `json:"algorithm_version"`
	CommittedAt    string            `json:"committed_at"`
	SeedCommitment string            `json:"seed_commitment"`
	EntropySource  string            `json:"entropy_source"`
	PublicEntropy  string            `json:"public_entropy"`
	Seed           string            `json:"seed"`
	PoolSHA256     string            `json:"pool_sha256"`
	RosterSHA256   string            `json:"roster_sha256"`
	PoolSize       int               `json:"pool_size"`
	SampleSize     int               `json:"sample_size"`
	Allocation     []draw.Allocation `json:"allocation"`
	Selections     []draw.Selection  `json:"selections"`
	VerifyURL      string            `json:"verify_url"`
}

// newDrawJSON shows an attempt; public leaves out who made it and the
// lists (the public history is a summary; the record has everything).
func newDrawJSON(d *backend.Draw, superseded, public bool) drawJSON {
	r := d.Record
	out := drawJSON{
		ID: d.ID, PlanID: d.PlanID, Seq: d.Seq, Outcome: r.Outcome, Failure: r.Failure, Reason: d.Reason,
		Superseded: superseded, CreatedBy: d.CreatedBy, CreatedName: d.CreatedName, CreatedAt: d.CreatedAt,
		AlgorithmVer: r.AlgorithmVersion, CommittedAt: r.CommittedAt, SeedCommitment: r.SeedCommitment,
		EntropySource: r.EntropySource, PublicEntropy: r.PublicEntropy, Seed: string(r.Seed),
		PoolSHA256: r.PoolSHA256, RosterSHA256: r.RosterSHA256, PoolSize: r.PoolSize, SampleSize: r.SampleSize,
		Allocation: orEmptyList(r.Allocation), Selections: orEmptyList(r.Selections), VerifyURL: "/public/v1/draws/" + d.ID,
	}
	if public {
		out.CreatedBy, out.CreatedName, out.Allocation, out.Selections = "", "", nil, nil
	}
	return out
}

func orEmptyList[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) handleDraw(c *fiber.Ctx) error {
	var req drawRequest
	if len(c.Body()) > 0 {
		if err := bindJSON(c, &req); err != nil {
			return err
		}
	}
	d, err := s.svc.Plans.Draw(c.UserContext(), c.Params("id"), req.PublicEntropy)
	if err != nil {
		return err
	}
	c.Location("/api/v1/draws/" + d.ID)
	return c.Status(fiber.StatusCreated).JSON(newDrawJSON(d, false, false))
}

func (s *Server) handleListDraws(c *fiber.Ctx) error {
	list, err := s.svc.Plans.ListDraws(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"draws": s.attemptsJSON(c, list, false)})
}

// attemptsJSON shows a plan's attempts, each drawn one but the plan's
// current draw marked superseded.
func (s *Server) attemptsJSON(c *fiber.Ctx, list []*backend.Draw, public bool) []drawJSON {
	current := ""
	if len(list) > 0 {
		if p, err := s.svc.Plans.PublicPlan(c.UserContext(), list[0].PlanID); err == nil {
			current = p.CurrentDrawID
		}
	}
	out := make([]drawJSON, len(list))
	for i, d := range list {
		out[i] = newDrawJSON(d, d.Drawn() && d.ID != current, public)
	}
	return out
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
	return c.JSON(newDrawJSON(d, superseded, false))
}

func (s *Server) superseded(c *fiber.Ctx, d *backend.Draw) (bool, error) {
	p, err := s.svc.Plans.PublicPlan(c.UserContext(), d.PlanID)
	if err != nil {
		return false, err
	}
	return d.Drawn() && p.CurrentDrawID != d.ID, nil
}

// handlePublicDraws is a published plan's public history: every attempt,
// failed ones with their reason, each linking to its record.
func (s *Server) handlePublicDraws(c *fiber.Ctx) error {
	list, err := s.svc.Plans.PublicDraws(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"draws": s.attemptsJSON(c, list, true)})
}

// recordBrotliWindow bounds what one brotli stream of a record holds in
// memory (2^18 bytes), so that many clients fetching a large record at
// once cost little.
const recordBrotliWindow = 18

// handlePublicDraw serves an attempt's verification record (SPEC.md §2):
// streamed from storage as it is written, never built whole in memory,
// compressed as the client accepts (brotli, gzip), with a strong ETag per
// encoding and Cache-Control immutable — a stored record never changes.
func (s *Server) handlePublicDraw(c *fiber.Ctx) error {
	d, err := s.svc.Plans.PublicDraw(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	etag, err := recordETag(d)
	if err != nil {
		return err
	}
	encoding := ""
	switch accept := c.Get(fiber.HeaderAcceptEncoding); {
	case web.Accepts(accept, "br"):
		encoding = "br"
	case web.Accepts(accept, "gzip"):
		encoding = "gzip"
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	c.Set(fiber.HeaderETag, withEncoding(etag, encoding))
	if web.NotModified(c.Get(fiber.HeaderIfNoneMatch), etag, withEncoding(etag, "br"), withEncoding(etag, "gzip")) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	if encoding != "" {
		c.Set(fiber.HeaderContentEncoding, encoding)
	}
	if c.Method() == fiber.MethodHead {
		return nil
	}
	// The writer runs after this handler returns: it must not touch c.
	ctx, logger, requestID := context.WithoutCancel(c.UserContext()), s.logger, requestID(c)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		var out io.Writer = w
		var closer io.Closer
		switch encoding {
		case "br":
			bw := brotli.NewWriterOptions(w, brotli.WriterOptions{Quality: 4, LGWin: recordBrotliWindow})
			out, closer = bw, bw
		case "gzip":
			gw, _ := gzip.NewWriterLevel(w, gzip.DefaultCompression)
			out, closer = gw, gw
		}
		err := s.svc.Plans.WritePublicRecord(ctx, d, out)
		if closer != nil && err == nil {
			err = closer.Close()
		}
		if err != nil {
			// The status is sent: the client sees a cut-off body, which no
			// JSON reader takes for a record.
			logger.ErrorContext(ctx, "streaming a draw record failed", slog.String("request_id", requestID),
				slog.String("draw_id", d.ID), slog.Any("error", err))
		}
	})
	return nil
}

// recordETag names a stored record's content: its head (which holds the
// hashes of its candidates and roster), allocation and selections.
func recordETag(d *backend.Draw) (string, error) {
	h := sha256.New()
	for _, part := range []any{d.Record.RecordHead, d.Record.Allocation, d.Record.Selections} {
		raw, err := json.Marshal(part)
		if err != nil {
			return "", backend.Wrap(err, backend.EINTERNAL, "hashing the record")
		}
		h.Write(raw)
	}
	return `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18]) + `"`, nil
}

func withEncoding(etag, encoding string) string {
	if encoding == "" {
		return etag
	}
	return etag[:len(etag)-1] + "-" + encoding + `"`
}

// handleDrawSpec serves the specification of the draw (SPEC.md), which
// every record links to.
func (s *Server) handleDrawSpec(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/markdown; charset=utf-8")
	return c.Send(draw.Spec)
}

// publicPlanJSON is a plan as anyone sees it: without who approved its
// redraw.
func publicPlanJSON(p *backend.Plan) planJSON {
	out := newPlanJSON(p)
	if out.RedrawApproval != nil {
		out.RedrawApproval.ApprovedBy = ""
	}
	return out
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
	out := make([]planJSON, len(list))
	for i, p := range list {
		out[i] = publicPlanJSON(p)
	}
	return c.JSON(fiber.Map{"plans": out})
}

func (s *Server) handlePublicPlan(c *fiber.Ctx) error {
	p, err := s.svc.Plans.PublicPlan(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(publicPlanJSON(p))
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
