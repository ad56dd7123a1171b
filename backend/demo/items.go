package demo

import "suiji/backend"

// Item methods (art. 10) as the item list stores them.
const (
	onSite         = "on_site"
	documentReview = "document_review"
)

const (
	workSafetyLaw = "《中华人民共和国安全生产法》"
	hazchemRules  = "《危险化学品安全管理条例》"
	majorHazard   = "《危险化学品重大危险源监督管理暂行规定》"
	dustRules     = "《工贸企业粉尘防爆安全规定》"
	spaceRules    = "《工贸企业有限空间作业安全规定》"
	planRules     = "《生产安全事故应急预案管理办法》"
	mineRules     = "《金属非金属矿山安全规程》"
)

// items is the demo item list: real laws and articles, summarised contents.
var items = []Item{
	{"AQ-001", "主要负责人安全生产职责履行情况", workSafetyLaw, "第二十一条", "policy", "检查主要负责人建立健全全员安全生产责任制、组织制定规章制度和操作规程、保证安全投入等职责的落实情况", documentReview, "general", nil},
	{"AQ-002", "安全生产管理机构设置和管理人员配备情况", workSafetyLaw, "第二十四条", "policy", "检查按规定设置安全生产管理机构或者配备专职安全生产管理人员的情况", documentReview, "general", nil},
	{"AQ-003", "主要负责人和安全管理人员考核情况", workSafetyLaw, "第二十七条", "policy", "检查危险物品生产经营单位、矿山、金属冶炼单位主要负责人和安全生产管理人员经考核合格的情况", documentReview, "general", nil},
	{"AQ-004", "从业人员安全生产教育和培训情况", workSafetyLaw, "第二十八条", "brigade", "检查从业人员安全生产教育培训计划、培训记录和档案，未经培训合格不得上岗", documentReview, "general", nil},
	{"AQ-005", "特种作业人员持证上岗情况", workSafetyLaw, "第三十条", "brigade", "现场核查特种作业人员是否取得相应资格并持证上岗", onSite, "general", nil},
	{"AQ-006", "安全设备维护、保养和定期检测情况", workSafetyLaw, "第三十六条", "brigade", "检查安全设备的设计、制造、安装、使用、检测、维修、改造和报废是否符合标准，经常性维护保养和定期检测记录", onSite, "general", nil},
	{"AQ-007", "安全风险分级管控和隐患排查治理情况", workSafetyLaw, "第四十一条", "brigade", "检查安全风险分级管控制度和事故隐患排查治理制度的建立和落实，隐患记录和通报情况", onSite, "general", nil},
	{"AQ-008", "生产经营场所和员工宿舍安全情况", workSafetyLaw, "第四十二条", "brigade", "检查生产经营储存场所与员工宿舍的距离、出口和疏散通道是否符合要求", onSite, "general", nil},
	{"AQ-009", "劳动防护用品配备和使用情况", workSafetyLaw, "第四十五条", "brigade", "检查为从业人员提供符合标准的劳动防护用品并监督教育正确佩戴使用的情况", onSite, "general", nil},
	{"AQ-010", "发包、出租安全管理情况", workSafetyLaw, "第四十九条", "policy", "检查生产经营项目、场所、设备发包或者出租给不具备安全生产条件单位的情况及安全生产管理协议", documentReview, "general", nil},
	{"AQ-011", "安全生产责任保险投保情况", workSafetyLaw, "第五十一条", "policy", "检查高危行业、领域生产经营单位投保安全生产责任保险的情况", documentReview, "general", nil},
	{"AQ-012", "生产安全事故应急救援预案制定和演练情况", workSafetyLaw, "第八十一条", "policy", "检查应急救援预案的制定、与县级预案的衔接、定期组织演练的记录", documentReview, "general", nil},
	{"AQ-013", "应急预案评审（论证）和备案情况", planRules, "第二十一条、第二十六条", "policy", "检查应急预案评审或者论证、公布和按规定备案的情况", documentReview, "general", nil},
	{"WH-001", "危险化学品储存场所和储存方式", hazchemRules, "第二十四条", "hazchem", "检查危险化学品是否储存在专用仓库、专用场地或者专用储存室内，储存方式、方法和储存数量是否符合国家标准", onSite, "hazardous_chemicals", []string{backend.CategoryHazardousChemicals}},
	{"WH-002", "危险化学品安全警示标志和安全技术说明书", hazchemRules, "第二十条", "hazchem", "检查安全设施设备的设置、维护、检测，以及作业场所和安全设施设备上的安全警示标志", onSite, "hazardous_chemicals", []string{backend.CategoryHazardousChemicals}},
	{"WH-003", "重大危险源辨识、评估、登记建档和监控", majorHazard, "第七条、第十三条", "hazchem", "检查重大危险源辨识评估、登记建档、监测监控系统和安全监测数据的记录", onSite, "hazardous_chemicals", []string{backend.CategoryMajorHazardSource}},
	{"FM-001", "矿山安全出口和安全设施", mineRules, "第4.5条", "mines", "检查矿山安全出口、边坡、排土场等安全设施是否符合安全规程和设计要求", onSite, "non_coal_mine", []string{backend.CategoryNonCoalMine}},
	{"FM-002", "矿山爆破作业安全管理", mineRules, "第5.2条", "mines", "检查爆破作业设计、警戒、民用爆炸物品领用和清退记录", onSite, "non_coal_mine", []string{backend.CategoryNonCoalMine}},
	{"GM-001", "粉尘防爆安全管理", dustRules, "第十条至第十七条", "trade", "检查粉尘爆炸危险场所的辨识、除尘系统、防火防爆措施和粉尘清扫制度", onSite, "metallurgy_industry_trade", []string{backend.CategoryDustExplosion}},
	{"GM-002", "有限空间作业安全管理", spaceRules, "第六条至第十九条", "trade", "检查有限空间辨识和台账、作业审批、先通风再检测后作业、监护和应急救援措施", onSite, "metallurgy_industry_trade", []string{backend.CategoryConfinedSpace}},
	{"GM-003", "涉氨制冷安全管理", workSafetyLaw, "第三十九条", "trade", "检查液氨使用场所的安全设施、泄漏报警和应急处置装备", onSite, "metallurgy_industry_trade", []string{backend.CategoryAmmoniaRefrigeration}},
}
