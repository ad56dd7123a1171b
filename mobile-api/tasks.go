package mobileapi

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/draw"
	"suiji/backend/tasks"
)

// taskJSON is a task as the API shows it: small enough for a phone on one
// bar of signal, complete enough to work without another request.
type taskJSON struct {
	ID                string               `json:"id"`
	Kind              string               `json:"kind"`
	Source            string               `json:"source,omitempty"`
	Reason            string               `json:"reason,omitempty"`
	PlanID            string               `json:"plan_id,omitempty"`
	DrawID            string               `json:"draw_id,omitempty"`
	ExternalPlanRef   string               `json:"external_plan_ref,omitempty"`
	Year              int                  `json:"year"`
	LeadDepartmentID  string               `json:"lead_department_id"`
	DepartmentIDs     []string             `json:"department_ids"`
	Enterprise        taskEnterpriseJSON   `json:"enterprise"`
	Items             []taskItemJSON       `json:"items"`
	Members           []taskMemberJSON     `json:"members"`
	Replacements      []taskMemberJSON     `json:"replaced_members"`
	Window            planWindowJSON       `json:"window"`
	Deadlines         taskDeadlinesJSON    `json:"deadlines"`
	InspectionEndedAt *time.Time           `json:"inspection_ended_at"`
	Overdue           []string             `json:"overdue"`
	State             string               `json:"state"`
	SubmittedResult   string               `json:"submitted_result,omitempty"`
	Checklist         []itemOutcomeJSON    `json:"checklist"`
	Progress          []memberProgressJSON `json:"progress"`    // the group's, in short
	MyProgress        *myProgressJSON      `json:"my_progress"` // the caller's own, in full (null for non-members)
	Amendments        []amendmentJSON      `json:"amendments"`
	Cancellation      *taskCancellationRef `json:"cancellation,omitempty"`
	CreatedAt         time.Time            `json:"created_at"`
	UpdatedAt         time.Time            `json:"updated_at"`
	Version           int                  `json:"version"`
}

type taskEnterpriseJSON struct {
	ID         string              `json:"id"`
	USCC       string              `json:"uscc"`
	Name       string              `json:"name"`
	Town       string              `json:"town"`
	Address    string              `json:"address"`
	Location   *enterpriseLocation `json:"location"`
	Categories []string            `json:"categories"`
}

type taskItemJSON struct {
	ID            string         `json:"id"`
	Code          string         `json:"code"`
	Name          string         `json:"name"`
	LegalBasis    legalBasisJSON `json:"legal_basis"`
	DepartmentID  string         `json:"department_id"`
	Content       string         `json:"content"`
	Method        string         `json:"method"`
	Qualification string         `json:"qualification"`
	Applicable    bool           `json:"applicable"` // false: the item's categories do not fit the enterprise; not asked
}

type taskMemberJSON struct {
	BadgeNo      string     `json:"badge_no"`
	InspectorID  string     `json:"inspector_id"`
	UserID       string     `json:"user_id,omitempty"`
	Name         string     `json:"name"`
	DepartmentID string     `json:"department_id"`
	Lead         bool       `json:"lead"`
	AddedAt      time.Time  `json:"added_at"`
	AddedReason  string     `json:"added_reason,omitempty"`
	RemovedAt    *time.Time `json:"removed_at,omitempty"`
	RemoveReason string     `json:"remove_reason,omitempty"`
}

type taskDeadlinesJSON struct {
	Window      string `json:"window"`
	Feedback    string `json:"feedback,omitempty"`
	Publication string `json:"publication,omitempty"`
}

type itemOutcomeJSON struct {
	ItemID  string    `json:"item_id"`
	Outcome string    `json:"outcome"`
	Note    string    `json:"note"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

type memberProgressJSON struct {
	UserID    string `json:"user_id"`
	BadgeNo   string `json:"badge_no"`
	CheckedIn bool   `json:"checked_in"`
	Flagged   bool   `json:"check_in_flagged"`
	Submitted bool   `json:"submitted"`
}

type checkInJSON struct {
	Lat       float64   `json:"lat"`
	Lng       float64   `json:"lng"`
	AccuracyM float64   `json:"accuracy_m"`
	At        time.Time `json:"at"`
	DistanceM *float64  `json:"distance_m"`
	Flagged   bool      `json:"flagged"`
}

type submissionJSON struct {
	Result              string    `json:"result"`
	Summary             string    `json:"summary"`
	SignatureEvidenceID string    `json:"signature_evidence_id"`
	At                  time.Time `json:"at"`
}

type myProgressJSON struct {
	CheckIn    *checkInJSON    `json:"check_in"`
	Submission *submissionJSON `json:"submission"`
}

type amendmentJSON struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	What   string    `json:"what"`
}

type taskCancellationRef struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Reason string    `json:"reason"`
}

// newTaskJSON shows t to viewer (a user id): their own progress in full.
func newTaskJSON(t *backend.Task, viewer string) taskJSON {
	e := t.Enterprise
	out := taskJSON{
		ID: t.ID, Kind: t.Kind, Source: t.Source, Reason: t.Reason, PlanID: t.PlanID, DrawID: t.DrawID,
		ExternalPlanRef: t.ExternalPlanRef, Year: t.Year, LeadDepartmentID: t.LeadDepartmentID,
		DepartmentIDs: orEmpty(t.DepartmentIDs),
		Enterprise: taskEnterpriseJSON{ID: e.ID, USCC: e.USCC, Name: e.Name, Town: e.Town, Address: e.Address,
			Categories: orEmpty(e.Categories)},
		Items: []taskItemJSON{}, Members: []taskMemberJSON{}, Replacements: []taskMemberJSON{},
		Window:            planWindowJSON{t.WindowStart, t.WindowEnd},
		Deadlines:         taskDeadlinesJSON{t.Deadlines.Window, t.Deadlines.Feedback, t.Deadlines.Publication},
		InspectionEndedAt: t.InspectionEndedAt, Overdue: orEmpty(t.Overdue), State: t.State,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, Version: t.Version,
	}
	if e.Location != nil {
		out.Enterprise.Location = &enterpriseLocation{e.Location.Lat, e.Location.Lng}
	}
	for _, it := range t.Items {
		out.Items = append(out.Items, taskItemJSON{
			ID: it.ID, Code: it.Code, Name: it.Name, LegalBasis: legalBasisJSON{it.LegalBasis.Law, it.LegalBasis.Article},
			DepartmentID: it.DepartmentID, Content: it.Content, Method: it.Method, Qualification: it.Qualification,
			Applicable: it.AppliesTo(e.Categories),
		})
	}
	for _, m := range t.Members {
		mj := taskMemberJSON{
			BadgeNo: m.BadgeNo, InspectorID: m.InspectorID, UserID: m.UserID, Name: m.Name, DepartmentID: m.DepartmentID,
			Lead: m.Lead, AddedAt: m.AddedAt, AddedReason: m.AddedReason, RemovedAt: m.RemovedAt, RemoveReason: m.RemoveReason,
		}
		if m.Active() {
			out.Members = append(out.Members, mj)
		} else {
			out.Replacements = append(out.Replacements, mj)
		}
	}
	if t.CancelledAt != nil {
		out.Cancellation = &taskCancellationRef{At: *t.CancelledAt, By: t.CancelledBy, Reason: t.CancelledReason}
	}
	out.SubmittedResult = t.SubmittedResult
	out.Checklist, out.Progress, out.Amendments = []itemOutcomeJSON{}, []memberProgressJSON{}, []amendmentJSON{}
	for _, o := range t.Checklist {
		out.Checklist = append(out.Checklist, itemOutcomeJSON{o.ItemID, o.Outcome, o.Note, o.By, o.At})
	}
	for _, a := range t.Amendments {
		out.Amendments = append(out.Amendments, amendmentJSON{a.At, a.By, a.Reason, a.What})
	}
	for _, m := range t.ActiveMembers() {
		mp := memberProgressJSON{UserID: m.UserID, BadgeNo: m.BadgeNo}
		for _, p := range t.Progress {
			if p.UserID == m.UserID && m.UserID != "" {
				mp.CheckedIn, mp.Submitted = p.CheckIn != nil, p.Submission != nil
				mp.Flagged = p.CheckIn != nil && p.CheckIn.Flagged
			}
		}
		out.Progress = append(out.Progress, mp)
	}
	for _, p := range t.Progress {
		if p.UserID != viewer || viewer == "" {
			continue
		}
		out.MyProgress = &myProgressJSON{}
		if c := p.CheckIn; c != nil {
			out.MyProgress.CheckIn = &checkInJSON{c.Lat, c.Lng, c.AccuracyM, c.At, c.DistanceM, c.Flagged}
		}
		if sb := p.Submission; sb != nil {
			out.MyProgress.Submission = &submissionJSON{sb.Result, sb.Summary, sb.SignatureEvidenceID, sb.At}
		}
	}
	return out
}

func tasksJSON(list []*backend.Task, viewer string) []taskJSON {
	out := make([]taskJSON, len(list))
	for i, t := range list {
		out[i] = newTaskJSON(t, viewer)
	}
	return out
}

// viewer is the signed-in user's id.
func viewer(c *fiber.Ctx) string { return backend.ActorFromContext(c.UserContext()).UserID }

// handleDispatch turns a draw into tasks: 201 when it created any, 200
// for a repeat that found them all.
func (s *Server) handleDispatch(c *fiber.Ctx) error {
	res, err := s.svc.Tasks.Dispatch(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if res.Created > 0 {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(fiber.Map{
		"plan_id": res.Plan.ID, "plan_status": res.Plan.Status, "draw_id": res.DrawID,
		"task_ids": orEmpty(res.TaskIDs), "tasks": len(res.TaskIDs), "created": res.Created,
	})
}

// taskFilter reads the listing's query parameters and its page.
func taskFilter(c *fiber.Ctx) (backend.TaskFilter, pageQuery, error) {
	p, err := readPage(c, backend.TaskDefaultLimit, backend.TaskMaxLimit)
	if err != nil {
		return backend.TaskFilter{}, p, err
	}
	f := backend.TaskFilter{After: p.After, Offset: p.Offset, Limit: p.Limit, PlanID: c.Query("plan_id"), Kind: c.Query("kind")}
	if f.Year, err = queryInt(c, "year", 0, 0, 2100); err != nil {
		return f, p, err
	}
	if st := c.Query("state"); st != "" {
		f.States = strings.Split(st, ",")
	}
	return f, p, nil
}

func (s *Server) handleListTasks(c *fiber.Ctx) error {
	f, p, err := taskFilter(c)
	if err != nil {
		return err
	}
	list, total, err := s.svc.Tasks.ListTasks(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(pageMap(fiber.Map{"tasks": tasksJSON(list, viewer(c))}, p, total, nextPage(list, p.Limit, f.CursorOf)))
}

func (s *Server) handleOverdueTasks(c *fiber.Ctx) error {
	f, p, err := taskFilter(c)
	if err != nil {
		return err
	}
	f.Overdue, f.DeadlinesRunning = true, true // those still to act on: open, or published before their feedback
	list, total, err := s.svc.Tasks.ListTasks(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(pageMap(fiber.Map{"tasks": tasksJSON(list, viewer(c))}, p, total, nextPage(list, p.Limit, f.CursorOf)))
}

func (s *Server) handleGetTask(c *fiber.Ctx) error {
	t, err := s.svc.Tasks.GetTask(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	// The version changes with every change to the task, the caller's own
	// progress included: it names the representation.
	etag := `"` + t.ID + ":" + strconv.Itoa(t.Version) + `"`
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	if match := c.Get(fiber.HeaderIfNoneMatch); match != "" && (match == etag || match == "W/"+etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	return c.JSON(newTaskJSON(t, viewer(c)))
}

// targetedTaskRequest is the body of POST /api/v1/tasks.
type targetedTaskRequest struct {
	ID           string         `json:"id"`
	Source       string         `json:"source"`
	Reason       string         `json:"reason"`
	EnterpriseID string         `json:"enterprise_id"`
	ItemIDs      []string       `json:"item_ids"`
	DepartmentID string         `json:"department_id"`
	BadgeNos     []string       `json:"badge_nos"`
	Window       planWindowJSON `json:"window"`
}

func (s *Server) handleCreateTask(c *fiber.Ctx) error {
	var req targetedTaskRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	t, created, err := s.svc.Tasks.CreateTargeted(c.UserContext(), tasks.TargetedInput{
		ID: req.ID, Source: req.Source, Reason: req.Reason, EnterpriseID: req.EnterpriseID, ItemIDs: req.ItemIDs,
		DepartmentID: req.DepartmentID, BadgeNos: req.BadgeNos, WindowStart: req.Window.Start, WindowEnd: req.Window.End,
	})
	if err != nil {
		return err
	}
	c.Location("/api/v1/tasks/" + t.ID)
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(newTaskJSON(t, viewer(c)))
}

// cancelRequest is the body of POST /api/v1/tasks/{id}/cancel.
type cancelRequest struct {
	Reason  string `json:"reason"`
	Version int    `json:"version"`
}

func (s *Server) handleCancelTask(c *fiber.Ctx) error {
	var req cancelRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	t, err := s.svc.Tasks.Cancel(c.UserContext(), c.Params("id"), req.Version, req.Reason)
	if err != nil {
		return s.conflictWithCurrent(c, err)
	}
	return c.JSON(newTaskJSON(t, viewer(c)))
}

// calendarEntryJSON is one day of the working-day calendar that differs
// from the plain week.
type calendarEntryJSON struct {
	Date   string `json:"date"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Source string `json:"source"`
}

func (s *Server) handleGetCalendar(c *fiber.Ctx) error {
	year, err := s.yearParam(c)
	if err != nil {
		return err
	}
	cal, err := s.svc.Tasks.WorkCalendar(c.UserContext())
	if err != nil {
		return err
	}
	out := []calendarEntryJSON{}
	for _, e := range cal.Entries(year) {
		out = append(out, calendarEntryJSON{e.Date, string(e.Kind), e.Name, string(e.Source)})
	}
	return c.JSON(fiber.Map{"year": year, "covered": cal.Covers(year), "statutory": cal.Statutory(year), "entries": out})
}

// overrideRequest is the body of POST /api/v1/calendar.
type overrideRequest struct {
	Date string `json:"date"`
	Kind string `json:"kind"`
	Name string `json:"name"`
}

func (s *Server) handlePutCalendar(c *fiber.Ctx) error {
	var req overrideRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	o, err := s.svc.Tasks.PutOverride(c.UserContext(), backend.CalendarOverride{Date: req.Date, Kind: req.Kind, Name: req.Name})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(calendarEntryJSON{Date: o.Date, Kind: o.Kind, Name: o.Name, Source: "override"})
}

// replacementJSON is a replacement as the API shows it: its commitment,
// a leader's decision on it, and its public record once drawn. The sealed
// seed never leaves the backend; the public view (withTask false) names
// no user: it shows when the replacement was approved, and when and why
// it was rejected.
type replacementJSON struct {
	ID              string     `json:"id"`
	TaskID          string     `json:"task_id,omitempty"`
	DrawID          string     `json:"draw_id"`
	USCC            string     `json:"uscc"`
	Out             string     `json:"out"`
	Reason          string     `json:"reason"`
	State           string     `json:"state"`
	SeedCommitment  string     `json:"seed_commitment"`
	EntropySource   string     `json:"entropy_source"`
	RosterSHA256    string     `json:"roster_sha256"`
	Eligible        int        `json:"eligible"`
	EligibleBadges  []string   `json:"eligible_badges,omitempty"` // not in the public view
	CommittedAt     time.Time  `json:"committed_at"`
	CommittedBy     string     `json:"committed_by,omitempty"` // not in the public view
	ApprovedAt      *time.Time `json:"approved_at,omitempty"`
	ApprovedBy      string     `json:"approved_by,omitempty"` // not in the public view
	RejectedAt      *time.Time `json:"rejected_at,omitempty"`
	RejectedBy      string     `json:"rejected_by,omitempty"`      // not in the public view
	DecisionComment string     `json:"decision_comment,omitempty"` // a rejection's reason (public too), an approval's remark
	// The entropy value the first draw call fixed (public at its source,
	// and in the record once drawn), and a failed draw's time and reason.
	PublicEntropy string            `json:"public_entropy,omitempty"`
	FailedAt      *time.Time        `json:"failed_at,omitempty"`
	Failure       string            `json:"failure,omitempty"`
	Record        *draw.Replacement `json:"record,omitempty"`
	VerifyURL     string            `json:"verify_url"`
}

// newReplacementJSON shows r: to the office and the leaders (withTask), or
// to the public, without the task's id and without user ids.
func newReplacementJSON(r *backend.TaskReplacement, withTask bool) replacementJSON {
	out := replacementJSON{
		ID: r.ID, DrawID: r.DrawID, USCC: r.USCC, Out: r.Out, Reason: r.Reason, State: r.State,
		SeedCommitment: r.SeedCommitment, EntropySource: r.EntropySource, RosterSHA256: r.RosterSHA256,
		Eligible: r.Eligible, CommittedAt: r.CommittedAt, ApprovedAt: r.ApprovedAt, RejectedAt: r.RejectedAt,
		PublicEntropy: r.PublicEntropy, FailedAt: r.FailedAt, Failure: r.Failure,
		Record: r.Record, VerifyURL: "/public/v1/replacements/" + r.ID,
	}
	if out.Record != nil {
		out.State = backend.ReplacementDrawn
	}
	if r.RejectedAt != nil || withTask {
		out.DecisionComment = r.DecisionComment
	}
	if withTask {
		out.TaskID, out.CommittedBy, out.ApprovedBy, out.RejectedBy = r.TaskID, r.CommittedBy, r.ApprovedBy, r.RejectedBy
		out.EligibleBadges = r.EligibleBadges
	}
	return out
}

// replacementRequest is the body of POST /api/v1/tasks/{id}/replacements.
type replacementRequest struct {
	BadgeNo       string `json:"badge_no"`
	Reason        string `json:"reason"`
	EntropySource string `json:"entropy_source"`
}

func (s *Server) handleCommitReplacement(c *fiber.Ctx) error {
	var req replacementRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	r, err := s.svc.Tasks.CommitReplacement(c.UserContext(), c.Params("id"), req.BadgeNo, req.Reason, req.EntropySource)
	if err != nil {
		return err
	}
	c.Location("/public/v1/replacements/" + r.ID)
	return c.Status(fiber.StatusCreated).JSON(newReplacementJSON(r, true))
}

// replacementDrawRequest is the body of POST …/replacements/{id}/draw.
type replacementDrawRequest struct {
	PublicEntropy string `json:"public_entropy"`
}

func (s *Server) handleDrawReplacement(c *fiber.Ctx) error {
	var req replacementDrawRequest
	if len(c.Body()) > 0 {
		if err := bindJSON(c, &req); err != nil {
			return err
		}
	}
	rec, err := s.svc.Tasks.DrawReplacement(c.UserContext(), c.Params("id"), c.Params("replacement_id"), req.PublicEntropy)
	if err != nil {
		return err
	}
	return c.JSON(rec)
}

// replacementDecisionRequest is the body of POST
// …/replacements/{id}/approval.
type replacementDecisionRequest struct {
	Decision string `json:"decision"` // approve or reject
	Comment  string `json:"comment"`  // required to reject
}

func (s *Server) handleDecideReplacement(c *fiber.Ctx) error {
	var req replacementDecisionRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	r, err := s.svc.Tasks.DecideReplacement(c.UserContext(), c.Params("id"), c.Params("replacement_id"), req.Decision, req.Comment)
	if err != nil {
		return err
	}
	return c.JSON(newReplacementJSON(r, true))
}

func (s *Server) handleListReplacements(c *fiber.Ctx) error {
	list, err := s.svc.Tasks.ListReplacements(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	out := make([]replacementJSON, len(list))
	for i, r := range list {
		out[i] = newReplacementJSON(r, true)
	}
	return c.JSON(fiber.Map{"replacements": out})
}

// handlePublicReplacements lists a page of a draw's drawn replacement
// records, by number: after_seq (default 0) and limit (1…50, default 20);
// next_after_seq is the next page's after_seq when this one is full, 0
// otherwise. A record carries its roster, so pages are small.
func (s *Server) handlePublicReplacements(c *fiber.Ctx) error {
	after, err := queryInt(c, "after_seq", 0, 0, math.MaxInt32)
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", backend.ReplacementRecordsDefaultLimit, 1, backend.ReplacementRecordsMaxLimit)
	if err != nil {
		return err
	}
	list, err := s.svc.Tasks.PublicReplacements(c.UserContext(), c.Params("id"), after, limit)
	if err != nil {
		return err
	}
	if list == nil {
		list = []*draw.Replacement{}
	}
	next := 0 // after_seq of the next page when this one is full
	if len(list) == limit {
		next = list[len(list)-1].Seq
	}
	return c.JSON(fiber.Map{"draw_id": c.Params("id"), "replacements": list, "next_after_seq": next})
}

// handlePublicReplacement is one replacement for anyone: its public record
// once drawn (what `suiji verify-draw URL` re-computes), its commitment
// until then.
func (s *Server) handlePublicReplacement(c *fiber.Ctx) error {
	r, err := s.svc.Tasks.PublicReplacement(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	if r.Record != nil {
		return c.JSON(r.Record)
	}
	return c.JSON(newReplacementJSON(r, false))
}
