package backend

import (
	"context"
	"slices"
	"time"
)

// Department kinds (art. 4, 26–28).
const (
	DepartmentInternal = "internal" // an office of the bureau (股室)
	DepartmentBrigade  = "brigade"  // the comprehensive enforcement brigade (综合执法大队)
	DepartmentExternal = "external" // another agency in a joint inspection (协同部门)
)

// Department is an office, the brigade, or a partner agency.
type Department struct {
	ID        string
	Name      string
	Kind      string
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int // optimistic concurrency: 1 when created, +1 on every change
}

// DepartmentStore keeps departments.
type DepartmentStore interface {
	// CreateDepartment stores d (Version 1), setting its ID. ECONFLICT
	// when the name is taken.
	CreateDepartment(ctx context.Context, d *Department) error
	// FindDepartmentByID returns a department. ENOTFOUND.
	FindDepartmentByID(ctx context.Context, id string) (*Department, error)
	// FindDepartments lists all departments by name.
	FindDepartments(ctx context.Context) ([]*Department, error)
	// UpdateDepartment replaces the stored department with d if its stored
	// version is still d.Version, and then increments d.Version.
	// ENOTFOUND; ECONFLICT when the version moved on or the name is taken.
	UpdateDepartment(ctx context.Context, d *Department) error
}

// Town is one of the county's towns and townships (乡镇), the regions an
// undirected draw balances across (art. 8).
type Town struct {
	ID        string
	Name      string
	Code      string // administrative division code, when known
	CreatedAt time.Time
}

// TownStore keeps the managed list of towns.
type TownStore interface {
	// CreateTown stores t, setting its ID. ECONFLICT when the name is taken.
	CreateTown(ctx context.Context, t *Town) error
	// FindTowns lists the towns by name.
	FindTowns(ctx context.Context) ([]*Town, error)
	// FindTownByName returns a town. ENOTFOUND.
	FindTownByName(ctx context.Context, name string) (*Town, error)
}

// Enterprise categories (art. 7 (1)–(3)). The first four are key
// supervision: every one must be inspected each year (art. 16).
const (
	CategoryCoalMine                = "coal_mine"
	CategoryNonCoalMine             = "non_coal_mine"
	CategoryHazardousChemicals      = "hazardous_chemicals"
	CategoryMetallurgyIndustryTrade = "metallurgy_industry_trade"
	CategoryDustExplosion           = "dust_explosion"
	CategoryConfinedSpace           = "confined_space"
	CategoryAmmoniaRefrigeration    = "ammonia_refrigeration"
	CategoryMajorHazardSource       = "major_hazard_source"
)

// Categories lists every enterprise category.
var Categories = []string{
	CategoryCoalMine, CategoryNonCoalMine, CategoryHazardousChemicals, CategoryMetallurgyIndustryTrade,
	CategoryDustExplosion, CategoryConfinedSpace, CategoryAmmoniaRefrigeration, CategoryMajorHazardSource,
}

// KeySupervisionCategories must be fully covered each year (art. 16).
var KeySupervisionCategories = []string{
	CategoryCoalMine, CategoryNonCoalMine, CategoryHazardousChemicals, CategoryMetallurgyIndustryTrade,
}

// Enterprise flags (art. 7 (4)–(5), art. 16).
const (
	FlagBlacklist          = "blacklist"           // safety-production blacklist: 100% per year
	FlagSeriouslyDishonest = "seriously_dishonest" // 严重失信
	FlagHighCreditRisk     = "high_credit_risk"    // no frequency limit
	FlagFrequentComplaints = "frequent_complaints" // no frequency limit
	FlagAbnormalOperation  = "abnormal_operation"  // no frequency limit
	FlagSeriousViolation   = "serious_violation"   // no frequency limit
)

// Flags lists every enterprise flag.
var Flags = []string{
	FlagBlacklist, FlagSeriouslyDishonest, FlagHighCreditRisk,
	FlagFrequentComplaints, FlagAbnormalOperation, FlagSeriousViolation,
}

// Enterprise statuses: only active (存续) enterprises can be drawn (art. 13).
const (
	EnterpriseActive = "active"
	EnterpriseClosed = "closed"
)

// GeoPoint is a WGS-84 position.
type GeoPoint struct {
	Lat float64
	Lng float64
}

// Enterprise is a supervised business, keyed by its USCC.
type Enterprise struct {
	ID                  string
	USCC                string // 统一社会信用代码, 18 characters, GB 32100-2015
	Name                string
	Town                string // a name from the managed town list
	Industry            string
	Address             string
	Location            *GeoPoint
	Categories          []string
	Flags               []string
	Status              string
	LegalRepresentative string
	SafetyManager       string
	Phone               string
	ReviewedAt          *time.Time // the last yearly review (art. 7)
	Version             int        // 1 on creation, +1 on every change
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// EnterpriseStore keeps the directory. Writers that change an enterprise
// pass the version they read; the store refuses a stale one.
type EnterpriseStore interface {
	// FindEnterpriseByID returns an enterprise. ENOTFOUND.
	FindEnterpriseByID(ctx context.Context, id string) (*Enterprise, error)
	// FindEnterpriseByUSCC returns an enterprise. ENOTFOUND.
	FindEnterpriseByUSCC(ctx context.Context, uscc string) (*Enterprise, error)
	// CreateEnterprise stores e (Version 1), setting its ID. ECONFLICT when
	// the USCC is taken.
	CreateEnterprise(ctx context.Context, e *Enterprise) error
	// UpdateEnterprise replaces the stored enterprise with e if, and only
	// if, its stored version is still e.Version (the version the caller
	// read), and then increments e.Version. ENOTFOUND when it does not
	// exist; ECONFLICT when the version moved on (another writer won) or
	// the new USCC is taken.
	UpdateEnterprise(ctx context.Context, e *Enterprise) error
	// FindEnterprisesByUSCC returns the stored enterprises among usccs,
	// looked up in bulk (any number of codes; unknown ones are left out).
	FindEnterprisesByUSCC(ctx context.Context, usccs []string) ([]*Enterprise, error)
	// FindEnterprisesByIDs returns the stored enterprises among ids, looked
	// up in bulk (unknown ones are left out), so that a list of references
	// costs one query, not one each.
	FindEnterprisesByIDs(ctx context.Context, ids []string) ([]*Enterprise, error)
	// CreateEnterprises stores es as CreateEnterprise does, in bulk. It
	// returns one error per enterprise (nil when stored; ECONFLICT when its
	// USCC is taken), or an error when the batch as a whole failed.
	CreateEnterprises(ctx context.Context, es []*Enterprise) ([]error, error)
	// UpdateEnterprises updates es as UpdateEnterprise does (each a
	// compare-and-set on its own Version), in bulk, with one error per
	// enterprise or an error for the whole batch.
	UpdateEnterprises(ctx context.Context, es []*Enterprise) ([]error, error)
	// FindEnterprises lists enterprises matching f ordered by USCC, then
	// ID, and the total number matching (before Offset and Limit).
	FindEnterprises(ctx context.Context, f EnterpriseFilter) ([]*Enterprise, int, error)
	// EnterprisesHead is a number every write of an enterprise changes
	// (after the write), read cheaply: unchanged since a read of the head
	// that came before a read of the enterprises, the enterprises read
	// are still current.
	EnterprisesHead(ctx context.Context) (int64, error)
	// EnterpriseChanges returns the ids of the enterprises the writes that
	// moved the head from after to upTo changed (repeats possible), or
	// false when the store cannot tell (too many writes ago, or one not
	// recorded yet): then read everything. Cheap for a few writes.
	EnterpriseChanges(ctx context.Context, after, upTo int64) ([]string, bool, error)
	// EachEnterprise calls fn with every enterprise, in no particular
	// order, in one streamed read; an error of fn stops it and is
	// returned.
	EachEnterprise(ctx context.Context, fn func(*Enterprise) error) error
}

// EnterpriseFilter selects enterprises in a listing. Empty fields match
// everything.
type EnterpriseFilter struct {
	Town     string
	Category string // holds this category
	Flag     string // holds this flag
	Industry string
	Status   string
	// Query matches a name containing it (case-insensitive) or a USCC
	// starting with it.
	Query string
	// NotReviewedSince, when set, keeps only enterprises never reviewed or
	// last reviewed before it: the staleness report (art. 7).
	NotReviewedSince *time.Time
	After            Cursor // keyset position (see Cursor); the listing is ordered by USCC
	Offset           int    // at most MaxOffset; use After beyond
	Limit            int    // 0 for no limit
}

// CursorOf is the cursor that continues a listing after e.
func (EnterpriseFilter) CursorOf(e *Enterprise) Cursor { return Cursor{e.USCC} }

// Page sizes of directory listings.
const (
	DirectoryDefaultLimit = 50
	DirectoryMaxLimit     = 500
)

// ReviewMonths is how often, in calendar months, every enterprise record
// must be reviewed: art. 7 asks for the directory to be updated at least
// once a year. A record is stale when its last review is older than this.
const ReviewMonths = 12

// Names is a reference list (departments, qualifications) as spreadsheets
// use it: files people make name entries, English exports use codes (ids),
// so imports read either back to the code and Chinese exports write names.
type Names struct {
	codes     map[string]string   // code or name → code
	names     map[string]string   // code → name
	ambiguous map[string][]string // a name several entries have → their codes, sorted
}

// NewNames builds Names from code → name pairs. A name that several
// entries share (stored before names were kept unique) names none of
// them: which one a cell meant cannot be told, and choosing one would
// store a different code from one run to the next.
func NewNames(pairs map[string]string) Names {
	n := Names{codes: map[string]string{}, names: pairs}
	for code, name := range pairs {
		if other, taken := n.codes[name]; taken || n.ambiguous[name] != nil {
			if n.ambiguous == nil {
				n.ambiguous = map[string][]string{}
			}
			if taken {
				n.ambiguous[name] = []string{other}
				delete(n.codes, name)
			}
			n.ambiguous[name] = append(n.ambiguous[name], code)
			continue
		}
		n.codes[name] = code
	}
	for _, codes := range n.ambiguous {
		slices.Sort(codes)
	}
	for code := range pairs {
		n.codes[code] = code // a code wins over another entry's identical name
	}
	return n
}

// Code returns the code a spreadsheet cell (a code or a name) stands for;
// false for a cell that names no entry, or a name several entries share
// (Ambiguous).
func (n Names) Code(cell string) (string, bool) {
	c, ok := n.codes[cell]
	return c, ok
}

// Ambiguous returns the codes of the entries that share the name cell when
// there are several (and cell is not itself a code), so that a message can
// say to write the code instead; nil otherwise.
func (n Names) Ambiguous(cell string) []string {
	if _, ok := n.codes[cell]; ok {
		return nil
	}
	return n.ambiguous[cell]
}

// Cell is Code for a cell that may be left blank: a blank cell is the
// blank code, and ok is false only for text that names no entry.
func (n Names) Cell(cell string) (code string, ok bool) {
	if cell == "" {
		return "", true
	}
	return n.Code(cell)
}

// Codes returns the codes of a list cell's entries, and the entries that
// name nothing.
func (n Names) Codes(cells []string) (codes, unknown []string) {
	for _, c := range cells {
		if code, ok := n.Code(c); ok {
			codes = append(codes, code)
		} else {
			unknown = append(unknown, c)
		}
	}
	return codes, unknown
}

// Name returns the name of code, or code itself when it has none.
func (n Names) Name(code string) string {
	if name, ok := n.names[code]; ok {
		return name
	}
	return code
}

// DepartmentNames loads every department as Names (id → name).
func DepartmentNames(ctx context.Context, store interface {
	FindDepartments(ctx context.Context) ([]*Department, error)
}) (Names, error) {
	ds, err := store.FindDepartments(ctx)
	if err != nil {
		return Names{}, err
	}
	pairs := make(map[string]string, len(ds))
	for _, d := range ds {
		pairs[d.ID] = d.Name
	}
	return NewNames(pairs), nil
}

// Stamp sets the bookkeeping times of a change made at now: UpdatedAt, and
// CreatedAt too when the enterprise is new.
func (e *Enterprise) Stamp(created bool, now time.Time) {
	e.UpdatedAt = now
	if created {
		e.CreatedAt = now
	}
}
