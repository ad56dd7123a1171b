package roster

import (
	"context"
	"fmt"
	"io"
	"strings"

	"suiji/backend"
	"suiji/backend/sheet"
)

// InspectorSchema is the roster spreadsheet: what exports write and imports
// read, with Chinese or English headers. Conflicts of interest are not in
// it (they pair enterprise ids with free-text reasons, which do not survive
// a spreadsheet cell well); an import leaves them as they are.
var InspectorSchema = sheet.Schema{Name: "执法人员名录", Columns: []sheet.Column{
	{Key: "badge_no", Headers: []string{"执法证号", "badge_no", "执法证编号", "证件号码"}, Required: true},
	{Key: "name", Headers: []string{"姓名", "name"}},
	{Key: "username", Headers: []string{"登录账号", "username", "账号", "用户名"}},
	{Key: "department", Headers: []string{"所属部门", "department", "部门", "department_id"}},
	{Key: "certificate_expires", Headers: []string{"执法证有效期至", "certificate_expires", "有效期至", "证件有效期"}},
	{Key: "qualifications", Headers: []string{"执法资格", "qualifications", "资格"}, Multi: true},
	{Key: "active", Headers: []string{"在岗", "active", "是否在岗"}},
	{Key: "phone", Headers: []string{"联系电话", "phone", "电话"}},
}}

// fieldColumn maps validation field names to the spreadsheet columns that
// carry them, so a row error points at the column the user sees.
var fieldColumn = map[string]string{"user_id": "username", "department_id": "department"}

// importRow is one valid row, ready to store.
type importRow struct {
	line     int
	old, new *backend.Inspector
}

// ImportInspectors reads a CSV or XLSX roster and upserts its rows by badge
// number; columns absent from the file leave those fields alone, and so do
// blank name, username, department, expiry and active cells of inspectors
// that exist (blank qualifications or phone cells clear them). Every row
// is validated before anything is stored. Without opts.Partial, any
// rejected row means nothing is stored and the error is EINVALID naming
// rows and columns (the report lists them all); with it, the good rows are
// stored and the report lists the rejected ones. Staff may import only
// inspectors of their own department (other rows are rejected). A file that
// is not a spreadsheet, is too large or lacks the badge column is rejected
// as a whole (EINVALID, ETOOLARGE) before any row is looked at.
func (s *Service) ImportInspectors(ctx context.Context, r io.Reader, opts sheet.ImportOptions) (*sheet.Report, error) {
	actor := backend.ActorFromContext(ctx)
	if !actor.HasAnyRole(backend.RoleCoordinator, backend.RoleStaff) {
		return nil, backend.Errorf(backend.EFORBIDDEN, "only roster managers may import the roster")
	}
	t, err := sheet.Read(r, opts.Filename, InspectorSchema, opts.MaxBytes)
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
	has := func(key string) bool { _, ok := t.Headers[key]; return ok }
	badgeLine := map[string]int{}
	userLine := map[string]int{}
	var plan []importRow
	for _, row := range t.Rows {
		v := row.Values
		badge := backend.NormalizeBadgeNo(v["badge_no"])
		if badge == "" {
			report.Reject(row.Line, "badge_no", "required")
			continue
		}
		if first, dup := badgeLine[badge]; dup {
			report.Reject(row.Line, "badge_no", fmt.Sprintf("the same badge number as row %d", first))
			continue
		}
		badgeLine[badge] = row.Line
		old, err := s.Inspectors.FindInspectorByBadgeNo(ctx, badge)
		if err != nil && backend.ErrorCode(err) != backend.ENOTFOUND {
			return nil, err
		}
		now := s.Now().UTC()
		in := &backend.Inspector{BadgeNo: badge, Active: true, Version: 1, CreatedAt: now, UpdatedAt: now, Conflicts: []backend.Conflict{}, Qualifications: []string{}}
		if old != nil {
			cp := *old
			in = &cp
		}
		bad := false
		reject := func(field, msg string) { report.Reject(row.Line, field, msg); bad = true }
		// A blank cell in a column that can never be blank (or, for active,
		// would flip a flag) leaves an existing inspector's value alone, so a
		// sheet that only fills the cells it changes does what it says.
		given := func(key string) bool { return has(key) && (old == nil || v[key] != "") }
		if given("name") {
			in.Name = v["name"]
		}
		if given("username") {
			u, err := s.Users.FindUserByUsername(ctx, strings.ToLower(strings.TrimSpace(v["username"])))
			switch {
			case v["username"] == "":
				in.UserID = ""
			case backend.ErrorCode(err) == backend.ENOTFOUND:
				reject("username", "no such user")
			case err != nil:
				return nil, err
			default:
				in.UserID = u.ID
			}
		}
		if given("department") {
			if id, ok := depts[v["department"]]; ok {
				in.DepartmentID = id
			} else if v["department"] == "" {
				in.DepartmentID = ""
			} else {
				reject("department", "no such department")
			}
		}
		if given("certificate_expires") {
			if d, err := backend.ParseDate(v["certificate_expires"]); err != nil {
				reject("certificate_expires", "must be a date as YYYY-MM-DD")
			} else {
				in.CertificateExpires = d
			}
		}
		if has("qualifications") {
			var codes, unknown []string
			for _, q := range row.Lists["qualifications"] {
				if code, ok := quals[q]; ok {
					codes = append(codes, code)
				} else {
					unknown = append(unknown, q)
				}
			}
			if len(unknown) > 0 {
				reject("qualifications", "not on the qualification list: "+strings.Join(unknown, ", "))
			}
			in.Qualifications = normalizeCodes(codes)
		}
		if given("active") {
			if b, ok := parseYesNo(v["active"]); ok {
				in.Active = b
			} else {
				reject("active", "must be 是/否 (yes/no, true/false)")
			}
		}
		if has("phone") {
			in.Phone = v["phone"]
		}
		if old == nil {
			if err := s.authorizeWrite(ctx, "", in.DepartmentID); err != nil {
				reject("department", backend.ErrorMessage(err))
			}
		} else if err := s.authorizeWrite(ctx, old.DepartmentID, in.DepartmentID); err != nil {
			reject("department", backend.ErrorMessage(err))
		}
		if in.UserID != "" {
			if first, dup := userLine[in.UserID]; dup {
				reject("username", fmt.Sprintf("the same user as row %d", first))
			} else {
				userLine[in.UserID] = row.Line
			}
		}
		if bad {
			continue
		}
		fields := map[string]string{}
		if err := s.validate(ctx, in, old, fields); err != nil {
			ef := backend.ErrorFields(err)
			if len(ef) == 0 {
				return nil, err
			}
			for f, msg := range ef {
				if col, ok := fieldColumn[f]; ok {
					f = col
				}
				report.Reject(row.Line, f, msg)
			}
			continue
		}
		switch {
		case old == nil:
			report.Created++
		case len(backend.Diff(inspectorRecord(old), inspectorRecord(in))) == 0:
			report.Unchanged++
			continue
		default:
			report.Updated++
		}
		plan = append(plan, importRow{line: row.Line, old: old, new: in})
	}
	planned := make([]sheet.Planned, len(plan))
	for i, p := range plan {
		planned[i] = sheet.Planned{Line: p.line, Created: p.old == nil}
	}
	return report, report.Commit(opts, planned, func(i int) error { return s.storeImported(ctx, plan[i]) })
}

// storeImported creates or updates one imported inspector, with its version
// (action "import") and audit event.
func (s *Service) storeImported(ctx context.Context, p importRow) error {
	now := s.Now().UTC()
	p.new.UpdatedAt = now
	if p.old == nil {
		if err := s.Inspectors.CreateInspector(ctx, p.new); err != nil {
			return err
		}
	} else {
		p.new.Version = p.old.Version + 1
		if err := s.Inspectors.UpdateInspector(ctx, p.new, p.old.Version); err != nil {
			return err
		}
	}
	return s.record(ctx, "import", p.old, p.new)
}

// ExportInspectors writes the whole roster, by badge number, as "xlsx" or
// "csv" with Chinese ("zh") or English ("en") headers and values, in the
// form ImportInspectors reads back. EINVALID for an unknown format;
// EFORBIDDEN for callers who may not read the roster.
func (s *Service) ExportInspectors(ctx context.Context, w io.Writer, format, lang string) error {
	if !canReadRoster(backend.ActorFromContext(ctx)) {
		return backend.Errorf(backend.EFORBIDDEN, "only roster managers and leaders may export the roster")
	}
	if format != "xlsx" && format != "csv" {
		return backend.InvalidFields("invalid format", map[string]string{"format": "xlsx or csv"})
	}
	list, _, err := s.Inspectors.FindInspectors(ctx, backend.InspectorFilter{})
	if err != nil {
		return err
	}
	deptNames := map[string]string{}
	if all, err := s.Departments.FindDepartments(ctx); err != nil {
		return err
	} else {
		for _, d := range all {
			deptNames[d.ID] = d.Name
		}
	}
	qualNames := map[string]string{}
	if qs, err := s.ListQualifications(ctx); err != nil {
		return err
	} else {
		for _, q := range qs {
			qualNames[q.Code] = q.Name
		}
	}
	english := lang == sheet.English
	rows := make([]map[string]string, 0, len(list))
	for _, in := range list {
		username := ""
		if u, err := s.Users.FindUserByID(ctx, in.UserID); err == nil {
			username = u.Username
		} else if backend.ErrorCode(err) != backend.ENOTFOUND {
			return err
		}
		dept := in.DepartmentID
		if name, ok := deptNames[dept]; ok && !english {
			dept = name
		}
		quals := make([]string, len(in.Qualifications))
		for i, q := range in.Qualifications {
			quals[i] = q
			if name, ok := qualNames[q]; ok && !english {
				quals[i] = name
			}
		}
		rows = append(rows, map[string]string{
			"badge_no": in.BadgeNo, "name": in.Name, "username": username, "department": dept,
			"certificate_expires": string(in.CertificateExpires), "qualifications": sheet.JoinList(quals),
			"active": yesNo(in.Active, english), "phone": in.Phone,
		})
	}
	return sheet.Export(w, InspectorSchema, format, lang, rows)
}

// departmentLookup maps both the id and the name of every department to
// its id: spreadsheets people make name departments, exports in English
// use ids.
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
	qs, err := s.ListQualifications(ctx)
	if err != nil {
		return nil, err
	}
	return backend.QualificationLookup(qs), nil
}

// parseYesNo reads the spellings of yes and no people put in spreadsheets.
// A blank cell means yes: a new roster row is normally an active inspector.
func parseYesNo(s string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "是", "在岗", "y", "yes", "true", "1", "√":
		return true, true
	case "否", "不在岗", "离岗", "n", "no", "false", "0", "×":
		return false, true
	}
	return false, false
}

// yesNo writes a boolean as exports do: 是/否, or true/false in English.
func yesNo(b, english bool) string {
	switch {
	case english && b:
		return "true"
	case english:
		return "false"
	case b:
		return "是"
	}
	return "否"
}
