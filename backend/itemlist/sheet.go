package itemlist

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

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

// importRow is one valid row, ready to store.
type importRow struct {
	line     int
	old, new *backend.Item
	pub      *backend.ItemPublication // the year's publication, nil for a draft year
}

// ImportItems reads a CSV or XLSX item list and upserts its rows by year
// and code; columns absent from the file, and blank cells of columns that
// are never blank, leave an existing item's fields alone. Every
// row is validated first. Rows of a published year are amendments and need
// a reason (修订理由) like any other change after publication (art. 10).
// Without opts.Partial any rejected row means nothing is stored and the
// error is EINVALID naming rows and columns; with it, the good rows are
// stored. Staff may import only their own department's items.
func (s *Service) ImportItems(ctx context.Context, r io.Reader, opts sheet.ImportOptions) (*sheet.Report, error) {
	actor := backend.ActorFromContext(ctx)
	if !actor.HasAnyRole(backend.RoleCoordinator, backend.RoleStaff) {
		return nil, backend.Errorf(backend.EFORBIDDEN, "only coordinators and department staff may import items")
	}
	t, err := sheet.Read(r, opts.Filename, ItemSchema, opts.MaxBytes)
	if err != nil {
		return nil, err
	}
	report := sheet.NewReport(t)
	depts, err := s.departmentLookup(ctx)
	if err != nil {
		return nil, err
	}
	quals, err := s.qualificationLookup(ctx)
	if err != nil {
		return nil, err
	}
	methods := lookup(backend.ItemMethods, methodNames)
	categories := lookup(backend.Categories, categoryNames)
	has := func(key string) bool { _, ok := t.Headers[key]; return ok }
	seen := map[string]int{}
	pubs := map[int]*backend.ItemPublication{}
	var plan []importRow
	for _, row := range t.Rows {
		v := row.Values
		year, err := strconv.Atoi(v["year"])
		if err != nil || year < MinYear || year > MaxYear {
			report.Reject(row.Line, "year", fmt.Sprintf("must be a year from %d to %d", MinYear, MaxYear))
			continue
		}
		code := normalizeCode(v["code"])
		if code == "" {
			report.Reject(row.Line, "code", "required")
			continue
		}
		key := fmt.Sprintf("%d/%s", year, code)
		if first, dup := seen[key]; dup {
			report.Reject(row.Line, "code", fmt.Sprintf("the same year and code as row %d", first))
			continue
		}
		seen[key] = row.Line
		pub, ok := pubs[year]
		if !ok {
			if pub, err = s.publication(ctx, year); err != nil {
				return nil, err
			}
			pubs[year] = pub
		}
		old, err := s.Items.FindItemByCode(ctx, year, code)
		if err != nil && backend.ErrorCode(err) != backend.ENOTFOUND {
			return nil, err
		}
		now := s.Now().UTC()
		it := &backend.Item{Year: year, Code: code, Categories: []string{}, Version: 1, CreatedAt: now, UpdatedAt: now}
		if old != nil {
			cp := *old
			it = &cp
		}
		bad := false
		reject := func(field, msg string) { report.Reject(row.Line, field, msg); bad = true }
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
			if id, ok := depts[v["department"]]; ok {
				it.DepartmentID = id
			} else if v["department"] == "" {
				it.DepartmentID = ""
			} else {
				reject("department", "no such department")
			}
		}
		if given("method") {
			if m, ok := methods[v["method"]]; ok {
				it.Method = m
			} else {
				reject("method", "one of 现场检查/on_site, 书面检查/document_review, 远程监测/remote_monitoring")
			}
		}
		if given("qualification") {
			if q, ok := quals[v["qualification"]]; ok {
				it.Qualification = q
			} else if v["qualification"] == "" {
				it.Qualification = ""
			} else {
				reject("qualification", "not on the qualification list")
			}
		}
		if has("categories") {
			var codes, unknown []string
			for _, c := range row.Lists["categories"] {
				if code, ok := categories[c]; ok {
					codes = append(codes, code)
				} else {
					unknown = append(unknown, c)
				}
			}
			if len(unknown) > 0 {
				reject("categories", "unknown: "+strings.Join(unknown, ", "))
			}
			it.Categories = normalizeList(codes)
		}
		oldDept := ""
		if old != nil {
			oldDept = old.DepartmentID
		}
		if err := authorizeWrite(ctx, oldDept, it.DepartmentID); err != nil {
			reject("department", backend.ErrorMessage(err))
		}
		if bad {
			continue
		}
		fields := map[string]string{}
		changed := old == nil || len(backend.Diff(itemRecord(old), itemRecord(it))) > 0
		reason := v["reason"]
		if pub != nil && changed && reason == "" {
			fields["reason"] = fmt.Sprintf("the item list of %d is published; say why it changes (e.g. the law changed)", year)
		}
		if err := s.validate(ctx, it, old, fields); err != nil {
			ef := backend.ErrorFields(err)
			if len(ef) == 0 {
				return nil, err
			}
			for f, msg := range ef {
				f = strings.TrimPrefix(f, "legal_basis.")
				if f == "department_id" {
					f = "department"
				}
				report.Reject(row.Line, f, msg)
			}
			continue
		}
		if !changed {
			report.Unchanged++
			continue
		}
		if pub != nil {
			it.AmendmentReason = reason
			if it.PublishedAt == nil {
				it.PublishedAt, it.PublishedBy = &now, pub.PublishedBy
			}
		}
		if old == nil {
			report.Created++
		} else {
			report.Updated++
		}
		plan = append(plan, importRow{line: row.Line, old: old, new: it, pub: pub})
	}
	planned := make([]sheet.Planned, len(plan))
	for i, p := range plan {
		planned[i] = sheet.Planned{Line: p.line, Created: p.old == nil}
	}
	return report, report.Commit(opts, planned, func(i int) error { return s.storeImported(ctx, plan[i]) })
}

// storeImported creates or updates one imported item with its version
// ("import" for drafts, "amend" in a published year) and audit event.
func (s *Service) storeImported(ctx context.Context, p importRow) error {
	p.new.UpdatedAt = s.Now().UTC()
	if p.old == nil {
		if err := s.Items.CreateItem(ctx, p.new); err != nil {
			return err
		}
	} else {
		p.new.Version = p.old.Version + 1
		if err := s.Items.UpdateItem(ctx, p.new, p.old.Version); err != nil {
			return err
		}
	}
	action := "import"
	if p.pub != nil {
		action = "amend"
	}
	return s.record(ctx, action, p.old, p.new)
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
	deptNames := map[string]string{}
	qualNames := map[string]string{}
	if !english {
		all, err := s.Departments.FindDepartments(ctx)
		if err != nil {
			return err
		}
		for _, d := range all {
			deptNames[d.ID] = d.Name
		}
		qs, err := s.Qualifications.FindQualifications(ctx)
		if err != nil {
			return err
		}
		for _, q := range qs {
			qualNames[q.Code] = q.Name
		}
	}
	name := func(names map[string]string, code string) string {
		if n, ok := names[code]; ok {
			return n
		}
		return code
	}
	rows := make([]map[string]string, 0, len(items))
	for _, it := range items {
		cats := make([]string, len(it.Categories))
		for i, c := range it.Categories {
			cats[i] = c
			if !english {
				cats[i] = name(categoryNames, c)
			}
		}
		method := it.Method
		if !english {
			method = name(methodNames, method)
		}
		rows = append(rows, map[string]string{
			"year": strconv.Itoa(it.Year), "code": it.Code, "name": it.Name, "law": it.LegalBasis.Law,
			"article": it.LegalBasis.Article, "department": name(deptNames, it.DepartmentID), "content": it.Content,
			"method": method, "qualification": name(qualNames, it.Qualification), "categories": sheet.JoinList(cats),
			// Left blank: a reason belongs to one change, and an exported
			// reason re-imported with an edit would claim to explain it.
			"reason": "",
		})
	}
	return sheet.Export(w, ItemSchema, format, lang, rows)
}

// departmentLookup maps the id and the name of every department to its id.
func (s *Service) departmentLookup(ctx context.Context) (map[string]string, error) {
	all, err := s.Departments.FindDepartments(ctx)
	if err != nil {
		return nil, err
	}
	return backend.DepartmentLookup(all), nil
}

// qualificationLookup maps the code and the name of every qualification to
// its code.
func (s *Service) qualificationLookup(ctx context.Context) (map[string]string, error) {
	if _, err := s.knownQualifications(ctx); err != nil { // seeds the defaults
		return nil, err
	}
	qs, err := s.Qualifications.FindQualifications(ctx)
	if err != nil {
		return nil, err
	}
	return backend.QualificationLookup(qs), nil
}

// lookup maps each code and its name to the code.
func lookup(codes []string, names map[string]string) map[string]string {
	out := map[string]string{}
	for _, c := range codes {
		out[c] = c
		if n, ok := names[c]; ok {
			out[n] = c
		}
	}
	return out
}
