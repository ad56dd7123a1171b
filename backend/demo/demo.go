// Package demo makes the demonstration data that `suiji seed --demo` loads
// into an empty installation: departments, users to sign in with, about 300
// enterprises across Zezhou's towns and sectors, about 30 inspectors and an
// item list with real legal bases. It is pure and deterministic — the same
// seed and date give the same data — so demonstrations and tests can rely
// on it. The names are made up; the legal bases are real.
package demo

import (
	"fmt"
	"math/rand/v2"
	"time"

	"suiji/backend"
	"suiji/backend/uscc"
)

// Password is every demo user's password, printed by `suiji seed --demo`.
const Password = "suiji-demo-2026"

// Department is a demo department; Key links users, inspectors and items to it.
type Department struct {
	Key  string
	Name string
	Kind string
}

// User is a demo account.
type User struct {
	Username    string
	DisplayName string
	Roles       []backend.Role
	Department  string // Department.Key, "" for none
}

// Inspector is a demo roster entry, linked to the User of the same Username.
type Inspector struct {
	Username           string
	Name               string
	BadgeNo            string
	CertificateExpires time.Time
	Department         string
	Qualifications     []string
	Active             bool
}

// Item is a demo inspection item.
type Item struct {
	Code          string
	Name          string
	Law           string
	Article       string
	Department    string
	Content       string
	Method        string
	Qualification string
	Categories    []string
}

// Dataset is everything the demo seed loads.
type Dataset struct {
	Departments []Department
	Users       []User
	Enterprises []backend.Enterprise
	Inspectors  []Inspector
	Items       []Item
}

// Build makes the dataset for the given towns (the managed town list) from
// seed; today decides which certificates are about to expire.
func Build(seed uint64, today time.Time, towns []string) *Dataset {
	rng := rand.New(rand.NewPCG(seed, seed^0x5a17))
	d := &Dataset{Departments: departments, Items: items}
	d.Users = append(d.Users, staffUsers...)
	d.Enterprises = enterprises(rng, towns, 300)
	d.Inspectors, d.Users = inspectors(rng, today, d.Users)
	return d
}

var departments = []Department{
	{"policy", "政策法规股", backend.DepartmentInternal},
	{"hazchem", "危险化学品安全监督管理股", backend.DepartmentInternal},
	{"mines", "非煤矿山安全监督管理股", backend.DepartmentInternal},
	{"trade", "工贸行业安全监督管理股", backend.DepartmentInternal},
	{"brigade", "应急管理综合行政执法大队", backend.DepartmentBrigade},
	{"market", "泽州县市场监督管理局", backend.DepartmentExternal},
	{"fire", "泽州县消防救援大队", backend.DepartmentExternal},
}

// inspectorDepartments are the four departments whose staff inspect.
var inspectorDepartments = []string{"hazchem", "mines", "trade", "brigade"}

var staffUsers = []User{
	{"coordinator", "政策法规股 协调员", []backend.Role{backend.RoleCoordinator}, "policy"},
	{"leader", "分管副局长", []backend.Role{backend.RoleLeader}, "policy"},
	{"hazchem.staff", "危化股 科员", []backend.Role{backend.RoleStaff}, "hazchem"},
	{"mines.staff", "非煤股 科员", []backend.Role{backend.RoleStaff}, "mines"},
	{"trade.staff", "工贸股 科员", []backend.Role{backend.RoleStaff}, "trade"},
	{"brigade.staff", "执法大队 内勤", []backend.Role{backend.RoleStaff}, "brigade"},
}

// sector describes one kind of demo enterprise.
type sector struct {
	industry   string
	suffixes   []string
	categories []string
	weight     int
}

var sectors = []sector{
	{"煤炭开采和洗选业", []string{"煤业有限公司", "煤矿"}, []string{backend.CategoryCoalMine}, 6},
	{"非金属矿采选业", []string{"石料厂", "石灰岩矿", "建筑石料有限公司"}, []string{backend.CategoryNonCoalMine}, 5},
	{"黑色金属矿采选业", []string{"铁矿", "矿业有限公司"}, []string{backend.CategoryNonCoalMine}, 2},
	{"危险化学品经营（加油站）", []string{"加油站", "加油加气站"}, []string{backend.CategoryHazardousChemicals}, 6},
	{"化学原料和化学制品制造业", []string{"化工有限公司", "精细化工有限公司"}, []string{backend.CategoryHazardousChemicals, backend.CategoryMajorHazardSource}, 3},
	{"燃气生产和供应业", []string{"液化气站", "燃气有限公司"}, []string{backend.CategoryHazardousChemicals}, 2},
	{"黑色金属冶炼和压延加工业", []string{"钢铁有限公司", "铸造有限公司"}, []string{backend.CategoryMetallurgyIndustryTrade}, 4},
	{"非金属矿物制品业", []string{"水泥有限公司", "耐火材料有限公司", "陶瓷有限公司"}, []string{backend.CategoryMetallurgyIndustryTrade}, 4},
	{"木材加工和木制品业", []string{"木业有限公司", "家具厂"}, []string{backend.CategoryDustExplosion}, 3},
	{"金属制品业", []string{"机械制造有限公司", "铸件厂", "五金制品有限公司"}, []string{backend.CategoryMetallurgyIndustryTrade, backend.CategoryDustExplosion}, 4},
	{"农副食品加工业", []string{"食品有限公司", "肉制品加工厂", "冷库"}, []string{backend.CategoryAmmoniaRefrigeration, backend.CategoryConfinedSpace}, 3},
	{"酒、饮料制造业", []string{"酒业有限公司", "饮品有限公司"}, []string{backend.CategoryConfinedSpace}, 2},
	{"造纸和纸制品业", []string{"纸业有限公司", "包装有限公司"}, []string{backend.CategoryConfinedSpace}, 2},
	{"批发和零售业", []string{"商贸有限公司", "物流有限公司"}, nil, 4},
}

var namePrefixes = []string{
	"晋城", "泽州", "太行", "丹河", "珏山", "晋韵", "兴盛", "宏达", "华阳", "鑫源", "恒泰", "金鼎",
	"瑞丰", "永安", "长兴", "中泰", "同创", "福运", "天宇", "汇丰", "凤鸣", "嘉禾", "润泽", "铭晟",
}

func enterprises(rng *rand.Rand, towns []string, n int) []backend.Enterprise {
	total := 0
	for _, s := range sectors {
		total += s.weight
	}
	seen := map[string]bool{}
	out := make([]backend.Enterprise, 0, n)
	for len(out) < n {
		s := pickSector(rng, total)
		town := towns[rng.IntN(len(towns))]
		name := fmt.Sprintf("泽州县%s%s%s", trimTown(town), namePrefixes[rng.IntN(len(namePrefixes))], s.suffixes[rng.IntN(len(s.suffixes))])
		code := uscc.Generate(rng)
		if seen[name] || seen[code] {
			continue
		}
		seen[name], seen[code] = true, true
		e := backend.Enterprise{
			USCC: code, Name: name, Town: town, Industry: s.industry,
			Address:             fmt.Sprintf("山西省晋城市泽州县%s%s村", town, villages[rng.IntN(len(villages))]),
			Location:            &backend.GeoPoint{Lat: 35.40 + rng.Float64()*0.35, Lng: 112.65 + rng.Float64()*0.45},
			Categories:          append([]string(nil), s.categories...),
			Status:              backend.EnterpriseActive,
			LegalRepresentative: personName(rng),
			SafetyManager:       personName(rng),
			Phone:               fmt.Sprintf("13%d%08d", 4+rng.IntN(6), rng.IntN(100000000)),
		}
		e.Flags = flagsFor(rng)
		if rng.IntN(40) == 0 {
			e.Status = backend.EnterpriseClosed
		}
		out = append(out, e)
	}
	return out
}

func pickSector(rng *rand.Rand, total int) sector {
	r := rng.IntN(total)
	for _, s := range sectors {
		if r < s.weight {
			return s
		}
		r -= s.weight
	}
	return sectors[len(sectors)-1]
}

// flagsFor gives a few enterprises the art. 7/16 flags: most none, a few
// high-risk, a handful blacklisted.
func flagsFor(rng *rand.Rand) []string {
	switch r := rng.IntN(100); {
	case r < 2:
		return []string{backend.FlagBlacklist, backend.FlagSeriouslyDishonest}
	case r < 4:
		return []string{backend.FlagHighCreditRisk}
	case r < 6:
		return []string{backend.FlagFrequentComplaints}
	case r < 7:
		return []string{backend.FlagAbnormalOperation}
	case r < 8:
		return []string{backend.FlagSeriousViolation}
	}
	return nil
}

// trimTown drops the 镇/乡 suffix so names read naturally.
func trimTown(town string) string {
	r := []rune(town)
	if n := len(r); n > 2 && (r[n-1] == '镇' || r[n-1] == '乡') {
		return string(r[:n-1])
	}
	return town
}

var villages = []string{"东", "西", "南", "北", "前", "后", "上", "下", "中", "新"}

var surnames = []rune("王李张刘陈杨赵黄周吴徐孙马胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
var givenChars = []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰志红建国海峰晓东文斌宇浩凯鹏辉亮鑫波俊")

func personName(rng *rand.Rand) string {
	name := []rune{surnames[rng.IntN(len(surnames))], givenChars[rng.IntN(len(givenChars))]}
	if rng.IntN(3) > 0 {
		name = append(name, givenChars[rng.IntN(len(givenChars))])
	}
	return string(name)
}

// inspectors makes 32 inspectors (8 per inspecting department) with user
// accounts, qualifications matching their department, and a few
// certificates expiring within 30 days or already expired.
func inspectors(rng *rand.Rand, today time.Time, users []User) ([]Inspector, []User) {
	qualsByDept := map[string][]string{
		"hazchem": {"hazardous_chemicals"},
		"mines":   {"non_coal_mine", "coal_mine"},
		"trade":   {"metallurgy_industry_trade"},
		"brigade": {"hazardous_chemicals", "non_coal_mine", "metallurgy_industry_trade", "coal_mine"},
	}
	var out []Inspector
	n := 0
	for _, dept := range inspectorDepartments {
		for i := range 8 {
			n++
			username := fmt.Sprintf("inspector%02d", n)
			name := personName(rng)
			quals := []string{"general"}
			specialties := qualsByDept[dept]
			quals = append(quals, specialties[i%len(specialties)])
			if dept == "brigade" && i%2 == 0 {
				quals = append(quals, specialties[(i+1)%len(specialties)])
			}
			expires := today.AddDate(1+rng.IntN(4), rng.IntN(12), 0)
			switch n {
			case 3, 12, 21:
				expires = today.AddDate(0, 0, 5+n) // expiring within 30 days
			case 30:
				expires = today.AddDate(0, 0, -10) // expired: not drawable
			}
			out = append(out, Inspector{
				Username: username, Name: name, BadgeNo: fmt.Sprintf("14052500%04d", 1000+n*7),
				CertificateExpires: expires, Department: dept, Qualifications: quals, Active: n != 31,
			})
			users = append(users, User{Username: username, DisplayName: name, Roles: []backend.Role{backend.RoleInspector}, Department: dept})
		}
	}
	return out, users
}
