package roster

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

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

// ImportInspectors reads a CSV or XLSX roster and upserts its rows by badge
// number through the one import pipeline (sheet.Import); columns absent
// from the file leave those fields alone, and so do blank name, username,
// department, expiry and active cells of inspectors that exist (blank
// qualifications or phone cells clear them). Without opts.Partial, any
// rejected row means nothing is stored and the error is EINVALID naming
// rows and columns (the report lists them all); with it, the good rows are
// stored and the report lists the rejected ones. Staff may import only
// inspectors of their own department (other rows are rejected). A file that
// is not a spreadsheet, is too large or lacks the badge column is rejected
// as a whole (EINVALID, ETOOLARGE) before any row is looked at.
func (s *Service) ImportInspectors(ctx context.Context, r io.Reader, opts sheet.ImportOptions) (*sheet.Report, error) {
	if !backend.ActorFromContext(ctx).HasAnyRole(backend.RoleCoordinator, backend.RoleStaff) {
		return nil, backend.Errorf(backend.EFORBIDDEN, "only roster managers may import the roster")
	}
	return sheet.Import(ctx, r, opts, InspectorSchema, &inspectorRows{s: s, userLine: map[string]int{}},
		sheet.Book{Kind: ObjectType, Versions: s.Versions, Audit: s.Audit, Now: s.Now})
}

// inspectorRows is the roster's side of an import (sheet.Records).
type inspectorRows struct {
	s        *Service
	depts    backend.Names
	quals    backend.Names
	userLine map[string]int // user id → the first row linking it
}

func (ir *inspectorRows) Key(row sheet.Row) (string, string, string) {
	if badge := backend.NormalizeBadgeNo(row.Values["badge_no"]); badge != "" {
		return badge, "badge_no", ""
	}
	return "", "badge_no", "required"
}

// Load reads the reference lists and the whole roster once (a county's
// roster is hundreds of entries).
func (ir *inspectorRows) Load(ctx context.Context, _ []string) ([]*backend.Inspector, error) {
	var err error
	if ir.depts, ir.quals, err = ir.s.names(ctx); err != nil {
		return nil, err
	}
	all, _, err := ir.s.Inspectors.FindInspectors(ctx, backend.InspectorFilter{})
	return all, err
}

func (ir *inspectorRows) Check(ctx context.Context, row sheet.Row, old *backend.Inspector) (*backend.Inspector, map[string]string, error) {
	v := row.Values
	has := func(key string) bool { _, ok := v[key]; return ok }
	problems := map[string]string{}
	in := &backend.Inspector{ID: backend.NewID(), // the batch's audit event names it
		BadgeNo: backend.NormalizeBadgeNo(v["badge_no"]), Active: true, Conflicts: []backend.Conflict{}, Qualifications: []string{}}
	if old != nil {
		cp := *old
		in = &cp
	}
	// A blank cell in a column that can never be blank (or, for active,
	// would flip a flag) leaves an existing inspector's value alone, so a
	// sheet that only fills the cells it changes does what it says.
	given := func(key string) bool { return has(key) && (old == nil || v[key] != "") }
	if given("name") {
		in.Name = v["name"]
	}
	if given("username") {
		u, err := ir.s.Users.FindUserByUsername(ctx, strings.ToLower(strings.TrimSpace(v["username"])))
		switch {
		case v["username"] == "":
			in.UserID = ""
		case backend.ErrorCode(err) == backend.ENOTFOUND:
			problems["username"] = "no such user"
		case err != nil:
			return nil, nil, err
		default:
			in.UserID = u.ID
		}
	}
	if given("department") {
		if id, ok := ir.depts.Cell(v["department"]); ok {
			in.DepartmentID = id
		} else {
			problems["department"] = "no such department"
		}
	}
	if given("certificate_expires") {
		if d, err := backend.ParseDate(v["certificate_expires"]); err != nil {
			problems["certificate_expires"] = "must be a date as YYYY-MM-DD"
		} else {
			in.CertificateExpires = d
		}
	}
	if has("qualifications") {
		codes, unknown := ir.quals.Codes(row.Lists["qualifications"])
		if len(unknown) > 0 {
			problems["qualifications"] = sheet.UnknownNames(ir.quals, "qualification", unknown)
		}
		in.Qualifications = normalizeCodes(codes)
	}
	if given("active") {
		if b, ok := parseYesNo(v["active"]); ok {
			in.Active = b
		} else {
			problems["active"] = "must be 是/否 (yes/no, true/false)"
		}
	}
	if has("phone") {
		in.Phone = v["phone"]
	}
	oldDept := ""
	if old != nil {
		oldDept = old.DepartmentID
	}
	if err := ir.s.authorizeWrite(ctx, oldDept, in.DepartmentID); err != nil {
		problems["department"] = backend.ErrorMessage(err)
	}
	if in.UserID != "" {
		if first, dup := ir.userLine[in.UserID]; dup {
			problems["username"] = fmt.Sprintf("the same user as row %d", first)
		} else {
			ir.userLine[in.UserID] = row.Line
		}
	}
	if len(problems) > 0 {
		return in, problems, nil
	}
	if err := ir.s.validate(ctx, in, old, problems); err != nil {
		ef := backend.ErrorFields(err)
		if len(ef) == 0 {
			return nil, nil, err
		}
		for f, msg := range ef {
			if col, ok := fieldColumn[f]; ok {
				f = col
			}
			problems[f] = msg
		}
	}
	return in, problems, nil
}

func (ir *inspectorRows) Fields(in *backend.Inspector) map[string]any { return inspectorRecord(in) }

// Store writes the batch one inspector at a time, through the same
// compare-and-set as the API: a roster is hundreds of rows.
func (ir *inspectorRows) Store(ctx context.Context, batch []sheet.Change[*backend.Inspector], now time.Time) ([]error, error) {
	return sheet.StoreEach(ctx, batch, now, ir.s.Inspectors.CreateInspector, ir.s.Inspectors.UpdateInspector)
}

func (ir *inspectorRows) Ref(in *backend.Inspector) sheet.Ref {
	return sheet.Ref{ID: in.ID, Key: in.BadgeNo, Version: in.Version}
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
	depts, quals, err := s.names(ctx)
	if err != nil {
		return err
	}
	english := lang == sheet.English
	name := func(n backend.Names, code string) string {
		if english {
			return code
		}
		return n.Name(code)
	}
	rows := make([]map[string]string, 0, len(list))
	for _, in := range list {
		username := ""
		if u, err := s.Users.FindUserByID(ctx, in.UserID); err == nil {
			username = u.Username
		} else if backend.ErrorCode(err) != backend.ENOTFOUND {
			return err
		}
		qs := make([]string, len(in.Qualifications))
		for i, q := range in.Qualifications {
			qs[i] = name(quals, q)
		}
		rows = append(rows, map[string]string{
			"badge_no": in.BadgeNo, "name": in.Name, "username": username, "department": name(depts, in.DepartmentID),
			"certificate_expires": string(in.CertificateExpires), "qualifications": sheet.JoinList(qs),
			"active": yesNo(in.Active, english), "phone": in.Phone,
		})
	}
	return sheet.Export(w, InspectorSchema, format, lang, rows)
}

// names loads the department and qualification lists as spreadsheets use
// them.
func (s *Service) names(ctx context.Context) (depts, quals backend.Names, err error) {
	if depts, err = backend.DepartmentNames(ctx, s.Departments); err != nil {
		return
	}
	qs, err := s.ListQualifications(ctx)
	return depts, backend.QualificationNames(qs), err
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
