package itemlist

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"suiji/backend"
	"suiji/backend/sheet"
)

// ItemSchema is the item-list spreadsheet: what exports write and imports
// read, with Chinese or English headers.
var ItemSchema = sheet.Schema{Name: "随机抽查事项清单", Columns: []sheet.Column{
	{Key: "year", Headers: []string{"年度", "year"}, Required: true},
	{Key: "code", Headers: []string{"事项编码", "code", "编码", "事项编号"}, Required: true},
	{Key: "name", Headers: []string{"事项名称", "name", "抽查事项"}},
	{Key: "law", Headers: []string{"法律依据", "law", "legal_basis_law", "依据"}},
	{Key: "article", Headers: []string{"条款", "article", "legal_basis_article", "依据条款"}},
	{Key: "department", Headers: []string{"实施主体", "department", "department_id", "责任部门"}},
	{Key: "content", Headers: []string{"检查内容", "content", "抽查内容"}},
	{Key: "method", Headers: []string{"检查方式", "method", "抽查方式"}},
	{Key: "qualification", Headers: []string{"所需资格", "qualification", "执法资格"}},
	{Key: "categories", Headers: []string{"适用企业类别", "categories", "企业类别"}, Multi: true},
	{Key: "reason", Headers: []string{"修订理由", "reason", "调整理由"}},
}}

// methodNames are the Chinese names of item methods, written by Chinese
// exports and accepted by imports.
var methodNames = map[string]string{
	backend.MethodOnSite:           "现场检查",
	backend.MethodDocumentReview:   "书面检查",
	backend.MethodRemoteMonitoring: "远程监测",
}

// methods and categories are methodNames and categoryNames both ways.
var (
	methods    = backend.NewNames(methodNames)
	categories = backend.NewNames(categoryNames)
)

// categoryNames are the Chinese names of enterprise categories (art. 7).
var categoryNames = map[string]string{
	backend.CategoryCoalMine:                "煤矿",
	backend.CategoryNonCoalMine:             "非煤矿山",
	backend.CategoryHazardousChemicals:      "危险化学品",
	backend.CategoryMetallurgyIndustryTrade: "冶金工贸",
	backend.CategoryDustExplosion:           "粉尘涉爆",
	backend.CategoryConfinedSpace:           "有限空间",
	backend.CategoryAmmoniaRefrigeration:    "涉氨制冷",
	backend.CategoryMajorHazardSource:       "重大危险源",
}

// ImportItems reads a CSV or XLSX item list and upserts its rows by year
// and code through the one import pipeline (sheet.Import); columns absent
// from the file, and blank cells of columns that are never blank, leave an
// existing item's fields alone. Rows of a published year are amendments
// and need a reason (修订理由) like any other change after publication
// (art. 10), also when the year is published while the file is being
// stored (see itemRows.Store). Without opts.Partial any rejected row means nothing is stored
// and the error is EINVALID naming rows and columns; with it, the good rows
// are stored. Staff may import only their own department's items.
func (s *Service) ImportItems(ctx context.Context, r io.Reader, opts sheet.ImportOptions) (*sheet.Report, error) {
	if !backend.ActorFromContext(ctx).HasAnyRole(backend.RoleCoordinator, backend.RoleStaff) {
		return nil, backend.Errorf(backend.EFORBIDDEN, "only coordinators and department staff may import items")
	}
	return sheet.Import(ctx, r, opts, ItemSchema, &itemRows{s: s, pubs: map[int]*backend.ItemPublication{},
		reasons: map[int]string{}, amended: map[string]bool{}},
		sheet.Book{Kind: ObjectType, Versions: s.Versions, Audit: s.Audit, Now: s.Now})
}

// itemRows is the item list's side of an import (sheet.Records).
type itemRows struct {
	s                                 *Service
	depts, quals, methods, categories backend.Names
	pubs                              map[int]*backend.ItemPublication // by year, as Load read them; nil for a draft year
	reasons                           map[int]string                   // by line: a draft year's row's reason, for Store (see there)
	amended                           map[string]bool                  // ids of the changes Store made amendments (year published since Load)
}

// Key is "year/code".
func (ir *itemRows) Key(row sheet.Row) (string, string, string) {
	year, err := strconv.Atoi(row.Values["year"])
	if err != nil || year < MinYear || year > MaxYear {
		return "", "year", fmt.Sprintf("must be a year from %d to %d", MinYear, MaxYear)
	}
	code := normalizeCode(row.Values["code"])
	if code == "" {
		return "", "code", "required"
	}
	return fmt.Sprintf("%d/%s", year, code), "code", ""
}

// Load reads the reference lists, and the items and publication of every
// year the file names (a year's list is tens of items).
func (ir *itemRows) Load(ctx context.Context, keys []string) ([]*backend.Item, error) {
	var err error
	if ir.depts, ir.quals, err = ir.s.names(ctx); err != nil {
		return nil, err
	}
	ir.methods, ir.categories = methods, categories
	var out []*backend.Item
	for _, k := range keys {
		year, _ := strconv.Atoi(k[:strings.IndexByte(k, '/')])
		if _, loaded := ir.pubs[year]; loaded {
			continue
		}
		if ir.pubs[year], err = ir.s.publication(ctx, year); err != nil {
			return nil, err
		}
		items, _, err := ir.s.Items.FindItems(ctx, backend.ItemFilter{Year: year})
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}

func (ir *itemRows) Check(ctx context.Context, row sheet.Row, old *backend.Item) (*backend.Item, map[string]string, error) {
	v := row.Values
	has := func(key string) bool { _, ok := v[key]; return ok }
	problems := map[string]string{}
	year, _ := strconv.Atoi(v["year"])
	it := &backend.Item{ID: backend.NewID(), Year: year, Code: normalizeCode(v["code"]), Categories: []string{}} // the batch's audit event names it
	if old != nil {
		cp := *old
		it = &cp
	}
	// A blank cell in a column that can never be blank leaves an existing
	// item's value alone, so a sheet that fills only the cells it changes
	// does what it says.
	given := func(key string) bool { return has(key) && (old == nil || v[key] != "") }
	for key, dst := range map[string]*string{"name": &it.Name, "law": &it.LegalBasis.Law, "article": &it.LegalBasis.Article, "content": &it.Content} {
		if given(key) {
			*dst = v[key]
		}
	}
	if given("department") {
		if id, ok := ir.depts.Cell(v["department"]); ok {
			it.DepartmentID = id
		} else {
			problems["department"] = "no such department"
		}
	}
	if given("method") {
		if m, ok := ir.methods.Code(v["method"]); ok {
			it.Method = m
		} else {
			problems["method"] = "one of 现场检查/on_site, 书面检查/document_review, 远程监测/remote_monitoring"
		}
	}
	if given("qualification") {
		if q, ok := ir.quals.Cell(v["qualification"]); ok {
			it.Qualification = q
		} else {
			problems["qualification"] = sheet.UnknownNames(ir.quals, "qualification", []string{v["qualification"]})
		}
	}
	if has("categories") {
		codes, unknown := ir.categories.Codes(row.Lists["categories"])
		if len(unknown) > 0 {
			problems["categories"] = "unknown: " + sheet.QuoteAll(unknown)
		}
		it.Categories = normalizeList(codes)
	}
	oldDept := ""
	if old != nil {
		oldDept = old.DepartmentID
	}
	if err := authorizeWrite(ctx, oldDept, it.DepartmentID); err != nil {
		problems["department"] = backend.ErrorMessage(err)
	}
	if len(problems) > 0 {
		return it, problems, nil
	}
	changed := old == nil || len(backend.Diff(itemRecord(old), itemRecord(it))) > 0
	pub := ir.pubs[year]
	if pub == nil && v["reason"] != "" {
		ir.reasons[row.Line] = v["reason"] // for Store, should the year be published meanwhile
	}
	if pub != nil && changed {
		// A change after publication is an amendment with its reason (art. 10).
		if v["reason"] == "" {
			problems["reason"] = fmt.Sprintf("the item list of %d is published; say why it changes (e.g. the law changed)", year)
		}
		it.AmendmentReason = v["reason"]
		if it.PublishedAt == nil {
			t := pub.PublishedAt
			it.PublishedAt, it.PublishedBy = &t, pub.PublishedBy
		}
	}
	if err := ir.s.validate(ctx, it, old, problems); err != nil {
		ef := backend.ErrorFields(err)
		if len(ef) == 0 {
			return nil, nil, err
		}
		for f, msg := range ef {
			f = strings.TrimPrefix(f, "legal_basis.")
			if f == "department_id" {
				f = "department"
			}
			problems[f] = msg
		}
	}
	return it, problems, nil
}

func (ir *itemRows) Fields(it *backend.Item) map[string]any { return itemRecord(it) }

// Store writes the batch one item at a time, through the same
// compare-and-set as the API: a year's list is tens of items.
//
// A year Load found a draft may be published before a batch is stored (a
// long file, a coordinator publishing meanwhile). Store then does what
// CreateItem does about the same race, whose rule is that the year's
// status when a change is checked, just before it is written, decides:
// a change to a published list is an amendment and needs its reason, and
// only a change checked against the draft that reaches the store after
// the publication is stamped into it afterwards, as the publication would
// have stamped it a moment earlier. The batch is this import's moment of
// writing, so the publication of every draft year is read again for it: a
// change of a year published since Load becomes an amendment, with the
// reason its row gives (修订理由), or, without one, is rejected with the
// reason CreateItem gives — stamping it instead would let a file add to a
// published list, long after the publication, without saying why. After
// the batch, a year still a draft at that reading but published by now
// has the items just created stamped, as CreateItem stamps its item (the
// publication's own stamping, which read the list before, missed them;
// an update it did not miss, and it retries on the version this moved).
func (ir *itemRows) Store(ctx context.Context, batch []sheet.Change[*backend.Item], now time.Time) ([]error, error) {
	errs := make([]error, len(batch))
	pubs := map[int]*backend.ItemPublication{} // drafts at Load, as they are now
	var write []sheet.Change[*backend.Item]
	var at []int // positions of write in batch
	for i, c := range batch {
		year := c.New.Year
		if ir.pubs[year] == nil {
			pub, read := pubs[year]
			if !read {
				var err error
				if pub, err = ir.s.publication(ctx, year); err != nil {
					return nil, err
				}
				pubs[year] = pub
			}
			if pub != nil {
				reason := ir.reasons[c.Line]
				if reason == "" {
					errs[i] = backend.InvalidFields(fmt.Sprintf("the item list of %d was published while this file was imported; this change now amends it and needs a reason (修订理由)", year),
						map[string]string{"reason": fmt.Sprintf("the item list of %d is published; say why it changes (e.g. the law changed)", year)})
					continue
				}
				c.New.AmendmentReason = reason
				if c.New.PublishedAt == nil {
					t := pub.PublishedAt
					c.New.PublishedAt, c.New.PublishedBy = &t, pub.PublishedBy
				}
				ir.amended[c.New.ID] = true
			}
		}
		write, at = append(write, c), append(at, i)
	}
	werrs, err := sheet.StoreEach(ctx, write, now, ir.s.Items.CreateItem, ir.s.Items.UpdateItem)
	if err != nil {
		return nil, err
	}
	for j, e := range werrs {
		errs[at[j]] = e
	}
	for year, pub := range pubs {
		if pub != nil {
			continue
		}
		if pub, err = ir.s.publication(ctx, year); err != nil {
			return nil, err
		} else if pub == nil {
			continue
		}
		for i, c := range batch {
			if c.New.Year != year || !c.Created() || errs[i] != nil {
				continue
			}
			stored := *c.New // the import's version of it is the pipeline's to write
			if _, err := ir.s.stamp(ctx, &stored, pub); err != nil {
				return nil, err
			}
		}
	}
	return errs, nil
}

// VersionAction says "amend" for a change to a published year's list
// (art. 10), like an edit through the API: the year was published when
// Load read it, or by the time Store wrote the change.
func (ir *itemRows) VersionAction(c sheet.Change[*backend.Item]) string {
	if ir.pubs[c.New.Year] != nil || ir.amended[c.New.ID] {
		return "amend"
	}
	return "import"
}

func (ir *itemRows) Ref(it *backend.Item) sheet.Ref {
	return sheet.Ref{ID: it.ID, Key: fmt.Sprintf("%d/%s", it.Year, it.Code), Version: it.Version}
}

// ExportItems writes the items of year (every year when 0), by year and
// code, as "xlsx" or "csv" with Chinese ("zh") or English ("en") headers
// and values, in the form ImportItems reads back. EINVALID for an unknown
// format.
func (s *Service) ExportItems(ctx context.Context, w io.Writer, year int, format, lang string) error {
	if format != "xlsx" && format != "csv" {
		return backend.InvalidFields("invalid format", map[string]string{"format": "xlsx or csv"})
	}
	items, _, err := s.Items.FindItems(ctx, backend.ItemFilter{Year: year})
	if err != nil {
		return err
	}
	english := lang == sheet.English
	depts, quals, err := s.names(ctx)
	if err != nil {
		return err
	}
	name := func(n backend.Names, code string) string {
		if english {
			return code
		}
		return n.Name(code)
	}
	rows := make([]map[string]string, 0, len(items))
	for _, it := range items {
		cats := make([]string, len(it.Categories))
		for i, c := range it.Categories {
			cats[i] = name(categories, c)
		}
		rows = append(rows, map[string]string{
			"year": strconv.Itoa(it.Year), "code": it.Code, "name": it.Name, "law": it.LegalBasis.Law,
			"article": it.LegalBasis.Article, "department": name(depts, it.DepartmentID), "content": it.Content,
			"method": name(methods, it.Method), "qualification": name(quals, it.Qualification), "categories": sheet.JoinList(cats),
			// Left blank: a reason belongs to one change, and an exported
			// reason re-imported with an edit would claim to explain it.
			"reason": "",
		})
	}
	return sheet.Export(w, ItemSchema, format, lang, rows)
}

// names loads the department and qualification lists as spreadsheets use
// them (storing the default qualifications first, if need be).
func (s *Service) names(ctx context.Context) (depts, quals backend.Names, err error) {
	if depts, err = backend.DepartmentNames(ctx, s.Departments); err != nil {
		return
	}
	if _, err = s.knownQualifications(ctx); err != nil {
		return
	}
	qs, err := s.Qualifications.FindQualifications(ctx)
	return depts, backend.QualificationNames(qs), err
}
