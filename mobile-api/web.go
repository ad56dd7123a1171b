package mobileapi

import (
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/tasks"
	"suiji/mobile-api/web"
)

// webFront serves the web front-ends (package web): the embedded static
// files, the portal's server-rendered pages, and the caching and per-address
// limit that every public response gets. Signed-in data never passes
// through here: the console is static files that call the API, whose route
// table decides who may do what.
type webFront struct {
	s      *Server
	site   *web.Site
	portal *web.Portal
	policy web.Policy // the content security policy, with the upload origins
}

// newWebFront loads the web front-ends. Their routes are rows of the one
// table (webRoutes in routes.go); /public/… is wrapped by public.
func newWebFront(s *Server) *webFront {
	site, err := web.Load()
	if err != nil {
		panic(err) // the files are compiled in: only a broken build gets here
	}
	portal, err := web.LoadPortal()
	if err != nil {
		panic(err)
	}
	return &webFront{s: s, site: site, portal: portal, policy: web.NewPolicy(s.cfg.UploadOrigins...)}
}

// public wraps every /public/… answer: the per-address rate limit before,
// the public caching headers (ETag, Cache-Control, compression) after.
func (w *webFront) public(c *fiber.Ctx) error {
	// The server routes case-sensitively (server.go); comparing without
	// case as well keeps the limit in front of these routes should that
	// ever change.
	if len(c.Path()) < len("/public/") || !strings.EqualFold(c.Path()[:len("/public/")], "/public/") {
		return c.Next()
	}
	if err := w.limit(c); err != nil {
		return err
	}
	if err := c.Next(); err != nil {
		return err
	}
	web.Finish(c, web.CachePublic)
	return nil
}

// static serves the embedded files below one of the static roots, with a
// redirect from a directory's bare path to its slash, and the portal's
// not-found page for anything else.
func (w *webFront) static(c *fiber.Ctx) error {
	a, redirect := w.site.Resolve(c.Path())
	switch {
	case redirect != "":
		if q := string(c.Request().URI().QueryString()); q != "" {
			redirect += "?" + q
		}
		return c.Redirect(redirect, fiber.StatusMovedPermanently)
	case a == nil:
		return w.message(c, fiber.StatusNotFound, nil)
	}
	// Which release of the phone app's shell this server serves: the
	// service worker keeps a release only if every file says it is the
	// worker's own (app/sw.js).
	c.Set(web.ShellHeader, w.site.ShellVersion)
	return web.Serve(c, a, w.policy)
}

// page serves one of the portal's server-rendered pages, rate-limited per
// address like every public answer.
func (w *webFront) page(render func(*fiber.Ctx) (string, web.Page, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := w.limit(c); err != nil {
			return w.message(c, fiber.StatusTooManyRequests, err)
		}
		name, data, err := render(c)
		if err != nil {
			return w.message(c, StatusForCode(backend.ErrorCode(err)), err)
		}
		return w.render(c, fiber.StatusOK, name, data)
	}
}

// byID adapts a page of one object (a plan, a draw) to page: the id comes
// from the path and must look like an id the stores make.
func byID(render func(*fiber.Ctx, string) (string, web.Page, error)) func(*fiber.Ctx) (string, web.Page, error) {
	return func(c *fiber.Ctx) (string, web.Page, error) {
		id := c.Params("id")
		if !validID(id) {
			return "", web.Page{}, backend.Errorf(backend.ENOTFOUND, "no such page")
		}
		return render(c, strings.Clone(id))
	}
}

// validID accepts the ids the stores make (hex, letters, digits, - and _),
// so that a portal path can never smuggle anything else into a lookup.
func validID(id string) bool {
	return id != "" && len(id) <= 64 && !strings.ContainsFunc(id, func(r rune) bool {
		return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
}

// limit applies the per-address limit of public responses, an IPv6 /64
// counting as one address (backend.AddressBucket). A limiter that cannot be
// reached lets the request through (and says so in the log): public reads
// matter more than the limit.
func (w *webFront) limit(c *fiber.Ctx) error {
	if w.s.svc.PublicLimit == nil {
		return nil
	}
	err := w.s.svc.PublicLimit.Allow(c.UserContext(), backend.AddressBucket(w.s.clientIP(c)))
	if err != nil && backend.ErrorCode(err) != backend.ERATELIMIT {
		w.s.logger.WarnContext(c.UserContext(), "public rate limit unavailable; request let through",
			slog.String("request_id", requestID(c)), slog.Any("error", err))
		return nil
	}
	return err
}

// render writes a portal page with the public caching headers.
func (w *webFront) render(c *fiber.Ctx, status int, name string, data web.Page) error {
	body, err := w.portal.Render(name, data)
	if err != nil {
		return err
	}
	web.SecurityHeaders(c, w.policy)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Status(status).Response().SetBody(body)
	web.Finish(c, web.CachePublic)
	return nil
}

// message renders the portal's page for an error status: not found,
// too many requests, or (logged) an internal error.
func (w *webFront) message(c *fiber.Ctx, status int, err error) error {
	heading, body := w.portal.T("notfound.title"), w.portal.T("notfound.body")
	switch {
	case status == fiber.StatusTooManyRequests:
		heading, body = w.portal.T("error.title"), w.portal.T("ratelimit.body")
		if delay, ok := backend.RetryAfter(err); ok {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(delay.Seconds()+0.999)))
		}
	case status >= 500:
		heading, body = w.portal.T("error.title"), w.portal.T("error.body")
		w.s.logger.ErrorContext(c.UserContext(), "portal page failed",
			slog.String("request_id", requestID(c)), slog.String("path", c.Path()), slog.Any("error", err))
	case status != fiber.StatusNotFound:
		status = fiber.StatusNotFound // a bad id or year reads as a page that does not exist
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return w.renderStatus(c, status, web.Page{Title: heading, Data: struct{ Heading, Body string }{heading, body}})
}

func (w *webFront) renderStatus(c *fiber.Ctx, status int, data web.Page) error {
	body, err := w.portal.Render("message", data)
	if err != nil {
		return err
	}
	web.SecurityHeaders(c, w.policy)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(body)
}

// portalYear reads ?year=, defaulting to the current year in China.
func portalYear(c *fiber.Ctx) (int, error) {
	return queryInt(c, "year", time.Now().In(backend.ChinaTime).Year(), 2000, 2100)
}

func (w *webFront) home(c *fiber.Ctx) (string, web.Page, error) {
	year, err := portalYear(c)
	if err != nil {
		return "", web.Page{}, err
	}
	list, err := w.s.svc.Plans.PublicPlans(c.UserContext(), year)
	if err != nil {
		return "", web.Page{}, err
	}
	return "home", web.Page{Title: w.portal.T("home.title"), Active: "home", Data: struct {
		Year  int
		Plans []*backend.Plan
	}{year, list}}, nil
}

// publicItem is an item as the portal shows it, with its department's name.
type publicItem struct {
	*backend.Item
	Department string
}

func (w *webFront) items(c *fiber.Ctx) (string, web.Page, error) {
	year, err := portalYear(c)
	if err != nil {
		return "", web.Page{}, err
	}
	data := struct {
		Year        int
		Published   bool
		PublishedAt time.Time
		Items       []publicItem
	}{Year: year}
	if items, pubAt, err := w.publishedItems(c, year); err == nil {
		data.Published, data.PublishedAt, data.Items = true, pubAt, items
	} else if backend.ErrorCode(err) != backend.ENOTFOUND {
		return "", web.Page{}, err
	}
	return "items", web.Page{Title: w.portal.Tf("items.title", "year", year), Active: "items", Data: data}, nil
}

// publishedItems returns a year's published list with department names;
// ENOTFOUND when the year is not published.
func (w *webFront) publishedItems(c *fiber.Ctx, year int) ([]publicItem, time.Time, error) {
	pub, err := w.s.svc.Items.Publication(c.UserContext(), year)
	if err != nil {
		return nil, time.Time{}, err
	}
	items, err := w.s.svc.Items.PublishedItems(c.UserContext(), year)
	if err != nil {
		return nil, time.Time{}, err
	}
	deps, err := w.s.svc.Directory.ListDepartments(c.UserContext())
	if err != nil {
		return nil, time.Time{}, err
	}
	names := map[string]string{}
	for _, d := range deps {
		names[d.ID] = d.Name
	}
	out := make([]publicItem, len(items))
	for i, it := range items {
		out[i] = publicItem{Item: it, Department: names[it.DepartmentID]}
	}
	return out, pub.PublishedAt, nil
}

func (w *webFront) verify(*fiber.Ctx) (string, web.Page, error) {
	return "verify", web.Page{Title: w.portal.T("nav.verify"), Active: "verify", Scripts: []string{"/portal/verify-page.js"}}, nil
}

func (w *webFront) plan(c *fiber.Ctx, id string) (string, web.Page, error) {
	p, err := w.s.svc.Plans.PublicPlan(c.UserContext(), id)
	if err != nil {
		return "", web.Page{}, err
	}
	var items []publicItem
	if all, _, err := w.publishedItems(c, p.Year); err == nil {
		for _, it := range all {
			if slices.Contains(p.ItemIDs, it.ID) {
				items = append(items, it)
			}
		}
	} else if backend.ErrorCode(err) != backend.ENOTFOUND {
		return "", web.Page{}, err
	}
	// Each attempt has its own commitment: the pending one, or else that of
	// the draw in force.
	commitment := p.SeedCommitment
	if commitment == "" && p.CurrentDrawID != "" {
		d, err := w.s.svc.Plans.PublicDraw(c.UserContext(), p.CurrentDrawID)
		if err != nil {
			return "", web.Page{}, err
		}
		commitment = d.Record.SeedCommitment
	}
	return "plan", web.Page{Title: p.Title, Data: struct {
		Plan       *backend.Plan
		Items      []publicItem
		FilterText string
		Commitment string
	}{p, items, w.filterText(p.Filter), commitment}}, nil
}

// filterText says in words which enterprises a plan draws from.
func (w *webFront) filterText(f backend.PlanFilter) string {
	var parts []string
	add := func(label string, values []string, prefix string) {
		if len(values) == 0 {
			return
		}
		shown := make([]string, len(values))
		for i, v := range values {
			shown[i] = v
			if prefix != "" {
				shown[i] = w.portal.T(prefix + v)
			}
		}
		parts = append(parts, w.portal.T(label)+"："+strings.Join(shown, "、"))
	}
	add("filter.towns", f.Towns, "")
	add("filter.industries", f.Industries, "")
	add("filter.categories", f.Categories, "category.")
	add("filter.flags", f.Flags, "flag.")
	if len(parts) == 0 {
		return w.portal.T("plan.filter.all")
	}
	return strings.Join(parts, "；")
}

func (w *webFront) draw(c *fiber.Ctx, id string) (string, web.Page, error) {
	d, err := w.s.svc.Plans.PublicDraw(c.UserContext(), id)
	if err != nil {
		return "", web.Page{}, err
	}
	p, err := w.s.svc.Plans.PublicPlan(c.UserContext(), d.PlanID)
	if err != nil {
		return "", web.Page{}, err
	}
	// One more than shown tells whether there are more.
	replacements, err := w.s.svc.Tasks.DrawReplacements(c.UserContext(), d, backend.MaxDrawReplacements+1)
	if err != nil {
		return "", web.Page{}, err
	}
	more := len(replacements) > backend.MaxDrawReplacements
	if more {
		replacements = replacements[:backend.MaxDrawReplacements]
	}
	var cancelled []tasks.CancelledSelection
	if d.Drawn() {
		if cancelled, err = w.s.svc.Tasks.DrawCancellations(c.UserContext(), d); err != nil {
			return "", web.Page{}, err
		}
	}
	return "draw", web.Page{Title: w.portal.T("draw.title"), Scripts: []string{"/portal/verify-page.js"}, Data: struct {
		*backend.Draw
		PlanTitle        string
		Superseded       bool
		PoolSize         int
		Replacements     []*backend.ReplacementSummary
		MoreReplacements bool
		Cancelled        []tasks.CancelledSelection
	}{d, p.Title, d.Drawn() && p.CurrentDrawID != d.ID, d.Record.PoolSize, replacements, more, cancelled}}, nil
}

// replacementPageState is where r stands as the portal says it: a failed
// draw as failed (it is never drawn), else as ReplacementPublicState.
func replacementPageState(r *backend.TaskReplacement, taskClosed bool) string {
	if r.Record == nil && r.State == backend.ReplacementFailed {
		return backend.ReplacementFailed
	}
	return backend.ReplacementPublicState(r.Record != nil, r.RejectedAt != nil, taskClosed, r.ApprovedAt != nil)
}

// replacement is the page of one replacement of a drawn group member: its
// commitment from the moment it is made, the leader's rejection if any,
// and once drawn the record, which the page re-computes in the browser.
func (w *webFront) replacement(c *fiber.Ctx, id string) (string, web.Page, error) {
	r, err := w.s.svc.Tasks.PublicReplacement(c.UserContext(), id)
	if err != nil {
		return "", web.Page{}, err
	}
	closed, err := w.s.svc.Tasks.TaskClosedUnder(c.UserContext(), r)
	if err != nil {
		return "", web.Page{}, err
	}
	page := web.Page{Title: w.portal.T("replacement.title"), Data: struct {
		replacementJSON
		PublicState string
		TaskClosed  bool
	}{newReplacementJSON(r, false), replacementPageState(r, closed), closed}}
	if r.Record != nil {
		page.Scripts = []string{"/portal/verify-page.js"}
	}
	return "replacement", page, nil
}

// result is one published result (art. 24), linkable: its public record
// as it stands, and, when it was corrected, each correction's reason and
// every version shown before — never a person's name or contact.
func (w *webFront) result(c *fiber.Ctx, id string) (string, web.Page, error) {
	r, err := w.s.svc.Results.PublicResult(c.UserContext(), id)
	if err != nil {
		return "", web.Page{}, err
	}
	return "result", web.Page{Title: r.EnterpriseName + " · " + w.portal.T("results.title"), Active: "results", Data: r}, nil
}

// results is the public search of published results (art. 24): by part
// of an enterprise's name or the beginning of its USCC, within a year (0:
// every year). It shows only the public record — never a person's name or
// contact.
func (w *webFront) results(c *fiber.Ctx) (string, web.Page, error) {
	year, err := queryInt(c, "year", time.Now().In(backend.ChinaTime).Year(), 0, 2100)
	if err != nil {
		return "", web.Page{}, err
	}
	offset, err := queryInt(c, "offset", 0, 0, backend.MaxOffset)
	if err != nil {
		return "", web.Page{}, err
	}
	q := strings.Clone(strings.TrimSpace(c.Query("q")))
	if utf8.RuneCountInString(q) > 100 || year != 0 && year < 2000 {
		return "", web.Page{}, backend.Errorf(backend.EINVALID, "no such search")
	}
	list, total, err := w.s.svc.Results.PublicResults(c.UserContext(), backend.PublicResultFilter{
		Year: year, Text: q, Offset: offset, Limit: backend.PublicResultDefaultLimit})
	if err != nil {
		return "", web.Page{}, err
	}
	next := 0
	if offset+len(list) < total {
		next = offset + len(list)
	}
	return "results", web.Page{Title: w.portal.T("results.title"), Active: "results", Data: struct {
		Query   string
		Year    int
		Total   int
		Next    int
		Results []*backend.PublicResult
	}{q, year, total, next, list}}, nil
}
