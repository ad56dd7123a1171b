package directory

import (
	"context"
	"io"
	"strconv"
	"strings"
	"time"

	"suiji/backend"
	"suiji/backend/sheet"
)

// EnterpriseSchema is the enterprise directory as a spreadsheet: the columns
// imports accept (Chinese or English headers, and the spellings clerks are
// known to use) and exports write, in this order.
var EnterpriseSchema = sheet.Schema{
	Name: "企业名录",
	Columns: []sheet.Column{
		{Key: "uscc", Headers: []string{"统一社会信用代码", "uscc", "社会信用代码", "信用代码"}, Required: true},
		{Key: "name", Headers: []string{"企业名称", "name", "单位名称", "企业(单位)名称"}, Required: true},
		{Key: "town", Headers: []string{"所属乡镇", "town", "乡镇", "所在乡镇"}},
		{Key: "industry", Headers: []string{"行业", "industry", "所属行业", "行业类别"}},
		{Key: "address", Headers: []string{"地址", "address", "经营地址", "生产经营地址"}},
		{Key: "lat", Headers: []string{"纬度", "lat", "latitude"}},
		{Key: "lng", Headers: []string{"经度", "lng", "longitude", "lon"}},
		{Key: "categories", Headers: []string{"重点监管类别", "categories", "监管类别", "类别"}, Multi: true},
		{Key: "flags", Headers: []string{"信用风险标记", "flags", "标记"}, Multi: true},
		{Key: "status", Headers: []string{"经营状态", "status", "状态"}},
		{Key: "legal_representative", Headers: []string{"法定代表人", "legal_representative", "法人代表", "法人"}},
		{Key: "safety_manager", Headers: []string{"安全负责人", "safety_manager", "安全管理人员"}},
		{Key: "phone", Headers: []string{"联系电话", "phone", "电话"}},
		// The review is recorded by POST …/review, not by a file.
		{Key: "reviewed_at", Headers: []string{"最近核查时间", "reviewed_at"}, ExportOnly: true},
	},
}

// Chinese labels of the enumerations, as clerks write them in spreadsheets.
// Imports accept a label or the code; Chinese exports write labels.
var (
	CategoryLabels = map[string]string{
		backend.CategoryCoalMine: "煤矿", backend.CategoryNonCoalMine: "非煤矿山",
		backend.CategoryHazardousChemicals: "危险化学品", backend.CategoryMetallurgyIndustryTrade: "冶金工贸",
		backend.CategoryDustExplosion: "粉尘涉爆", backend.CategoryConfinedSpace: "有限空间",
		backend.CategoryAmmoniaRefrigeration: "涉氨制冷", backend.CategoryMajorHazardSource: "重大危险源",
	}
	FlagLabels = map[string]string{
		backend.FlagBlacklist: "安全生产黑名单", backend.FlagSeriouslyDishonest: "严重失信",
		backend.FlagHighCreditRisk: "信用风险高", backend.FlagFrequentComplaints: "投诉举报多",
		backend.FlagAbnormalOperation: "经营异常", backend.FlagSeriousViolation: "严重违法违规",
	}
	StatusLabels = map[string]string{backend.EnterpriseActive: "存续", backend.EnterpriseClosed: "注销"}
)

// statusSynonyms are other words registries use for the two statuses.
var statusSynonyms = map[string]string{
	"在业": backend.EnterpriseActive, "开业": backend.EnterpriseActive, "在营": backend.EnterpriseActive,
	"关闭": backend.EnterpriseClosed, "吊销": backend.EnterpriseClosed, "停业": backend.EnterpriseClosed,
}

// fromLabel maps a cell value to its code: the code itself (any case) or
// its Chinese label; unknown values come back unchanged for the validator to
// name.
func fromLabel(v string, labels map[string]string) string {
	for code, label := range labels {
		if strings.EqualFold(v, code) || v == label {
			return code
		}
	}
	return v
}

// ImportEnterprises reads a CSV or XLSX file (r; opts.Filename only for
// messages) and upserts its rows by USCC through the one import pipeline
// (sheet.Import), with the same validation as the API. A column absent
// from the file leaves that field of existing enterprises alone.
//
// It returns the report, and an error: ETOOLARGE or EINVALID when the file
// cannot be read as a spreadsheet (no report then); with any rejected row
// and !opts.Partial, EINVALID from Report.Error together with the report,
// and nothing stored. Stored rows get a version with action "import" each,
// and each batch one audit event (action enterprise.import), written with
// the batch, listing its rows.
func (s *Service) ImportEnterprises(ctx context.Context, r io.Reader, opts sheet.ImportOptions) (*sheet.Report, error) {
	defer s.enterprisesWritten()
	return sheet.Import(ctx, r, opts, EnterpriseSchema, &enterpriseRows{s: s},
		sheet.Book{Kind: "enterprise", Versions: s.Versions, Audit: s.Audit, Now: s.Now})
}

// enterpriseRows is the directory's side of an import (sheet.Records).
type enterpriseRows struct {
	s     *Service
	towns map[string]string // accepted spellings → town name
}

func (er *enterpriseRows) Key(row sheet.Row) (string, string, string) {
	code, err := validateUSCC(row.Values["uscc"])
	if err != nil {
		return "", "uscc", backend.ErrorMessage(err)
	}
	return code, "uscc", ""
}

// Load reads the enterprises the file names (one bulk query per thousand
// codes, not the whole directory) and the town list.
func (er *enterpriseRows) Load(ctx context.Context, keys []string) ([]*backend.Enterprise, error) {
	var err error
	if er.towns, err = er.s.townNames(ctx); err != nil {
		return nil, err
	}
	return er.s.Enterprises.FindEnterprisesByUSCC(ctx, keys)
}

func (er *enterpriseRows) Check(_ context.Context, row sheet.Row, old *backend.Enterprise) (*backend.Enterprise, map[string]string, error) {
	e, problems := importRow(row, old, er.towns)
	fields := make(map[string]string, len(problems))
	for k, v := range problems {
		fields[sheetField(k)] = v
	}
	return e, fields, nil
}

func (er *enterpriseRows) Fields(e *backend.Enterprise) map[string]any { return EnterpriseFields(e) }

// Store writes a batch in two bulk writes: new enterprises, then
// compare-and-set updates.
func (er *enterpriseRows) Store(ctx context.Context, batch []sheet.Change[*backend.Enterprise], now time.Time) ([]error, error) {
	var created, updated []*backend.Enterprise
	var createdAt, updatedAt []int // positions in batch
	for i, c := range batch {
		c.New.Stamp(c.Created(), now)
		if c.Created() {
			created, createdAt = append(created, c.New), append(createdAt, i)
		} else {
			updated, updatedAt = append(updated, c.New), append(updatedAt, i)
		}
	}
	errs := make([]error, len(batch))
	cerrs, err := er.s.Enterprises.CreateEnterprises(ctx, created)
	if err != nil {
		return nil, err
	}
	for j, e := range cerrs {
		errs[createdAt[j]] = e
	}
	uerrs, err := er.s.Enterprises.UpdateEnterprises(ctx, updated)
	if err != nil {
		return nil, err
	}
	for j, e := range uerrs {
		errs[updatedAt[j]] = e
	}
	return errs, nil
}

func (er *enterpriseRows) Ref(e *backend.Enterprise) sheet.Ref {
	return sheet.Ref{ID: e.ID, Key: e.USCC, Version: e.Version}
}

// importRow turns a row into the enterprise it would store (a copy of old
// with the file's columns applied, or a new one when old is nil) and the
// row's problems by field.
func importRow(row sheet.Row, old *backend.Enterprise, towns map[string]string) (*backend.Enterprise, map[string]string) {
	has := func(k string) bool { _, ok := row.Values[k]; return ok }
	problems := map[string]string{}
	code := row.Values["uscc"]
	e := &backend.Enterprise{ID: backend.NewID(), Status: backend.EnterpriseActive} // the batch's audit event names it
	if old != nil {
		cp := *old
		e = &cp
	}
	e.USCC = code
	for key, dst := range map[string]*string{
		"name": &e.Name, "town": &e.Town, "industry": &e.Industry, "address": &e.Address,
		"legal_representative": &e.LegalRepresentative, "safety_manager": &e.SafetyManager, "phone": &e.Phone,
	} {
		if has(key) {
			*dst = row.Values[key]
		}
	}
	if has("status") {
		v := row.Values["status"]
		if syn, ok := statusSynonyms[v]; ok {
			v = syn
		}
		if v != "" { // a blank cell keeps the status (active for a new row)
			e.Status = fromLabel(v, StatusLabels)
		}
	}
	if has("categories") {
		e.Categories = mapLabels(row.Lists["categories"], CategoryLabels)
	}
	if has("flags") {
		e.Flags = mapLabels(row.Lists["flags"], FlagLabels)
	}
	if has("lat") || has("lng") {
		lat, lng := row.Values["lat"], row.Values["lng"]
		switch {
		case lat == "" && lng == "":
			e.Location = nil
		case lat == "" || lng == "":
			problems["location"] = "give both latitude and longitude, or neither"
		default:
			la, errLa := strconv.ParseFloat(lat, 64)
			ln, errLn := strconv.ParseFloat(lng, 64)
			if errLa != nil {
				problems["location.lat"] = "not a number: " + sheet.Quote(lat)
			}
			if errLn != nil {
				problems["location.lng"] = "not a number: " + sheet.Quote(lng)
			}
			if errLa == nil && errLn == nil {
				e.Location = &backend.GeoPoint{Lat: la, Lng: ln}
			}
		}
	}
	for k, v := range enterpriseProblems(e) {
		problems[k] = v
	}
	if _, bad := problems["town"]; !bad {
		switch {
		case e.Town == "":
			problems["town"] = "required"
		case towns[e.Town] == "":
			problems["town"] = "unknown town '" + sheet.Clip(e.Town) + "'"
		default:
			e.Town = towns[e.Town]
		}
	}
	return e, problems
}

func validateUSCC(code string) (string, error) {
	e := &backend.Enterprise{USCC: code}
	p := enterpriseProblems(e)
	if reason, bad := p["uscc"]; bad {
		return e.USCC, backend.Errorf(backend.EINVALID, "%s", reason)
	}
	return e.USCC, nil
}

func mapLabels(values []string, labels map[string]string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = fromLabel(v, labels)
	}
	return out
}

// sheetField maps a validation field to the spreadsheet column it came from.
func sheetField(field string) string {
	switch field {
	case "location.lat":
		return "lat"
	case "location.lng":
		return "lng"
	case "location":
		return "lat"
	}
	return field
}

// Export formats.
const (
	FormatXLSX = sheet.FormatXLSX
	FormatCSV  = sheet.FormatCSV
)

// ExportEnterprises writes the enterprises matching f (all pages: Offset and
// Limit are ignored) as XLSX or CSV, with Chinese headers and labels, or
// English ones with lang "en", in the columns ImportEnterprises reads, so a
// file exported, edited and imported again round-trips. EINVALID for an
// unknown format or filter.
func (s *Service) ExportEnterprises(ctx context.Context, w io.Writer, format, lang string, f backend.EnterpriseFilter) error {
	if format != FormatXLSX && format != FormatCSV {
		return backend.InvalidFields("invalid export", map[string]string{"format": "xlsx or csv"})
	}
	if lang != "" && lang != sheet.Chinese && lang != sheet.English {
		return backend.InvalidFields("invalid export", map[string]string{"lang": "zh or en"})
	}
	f.After, f.Offset, f.Limit = nil, 0, 0
	list, _, err := s.listEnterprises(ctx, f)
	if err != nil {
		return err
	}
	label := func(code string, labels map[string]string) string {
		if lang == sheet.English {
			return code
		}
		return labels[code]
	}
	rows := make([]map[string]string, len(list))
	for i, e := range list {
		cats := make([]string, len(e.Categories))
		for j, c := range e.Categories {
			cats[j] = label(c, CategoryLabels)
		}
		flags := make([]string, len(e.Flags))
		for j, c := range e.Flags {
			flags[j] = label(c, FlagLabels)
		}
		row := map[string]string{
			"uscc": e.USCC, "name": e.Name, "town": e.Town, "industry": e.Industry, "address": e.Address,
			"categories": sheet.JoinList(cats), "flags": sheet.JoinList(flags), "status": label(e.Status, StatusLabels),
			"legal_representative": e.LegalRepresentative, "safety_manager": e.SafetyManager, "phone": e.Phone,
		}
		if e.Location != nil {
			row["lat"] = strconv.FormatFloat(e.Location.Lat, 'f', -1, 64)
			row["lng"] = strconv.FormatFloat(e.Location.Lng, 'f', -1, 64)
		}
		if e.ReviewedAt != nil {
			row["reviewed_at"] = e.ReviewedAt.UTC().Format(time.RFC3339)
		}
		rows[i] = row
	}
	return sheet.Export(w, EnterpriseSchema, format, lang, rows)
}
