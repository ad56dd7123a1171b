package results

import (
	"io"
	"strconv"

	"suiji/backend/sheet"
)

// statsSchema is the statistics workbook: one row per figure, with the
// section, the indicator in Chinese, a stable key (the JSON path of the
// figure, for programs), the value and the target.
var statsSchema = sheet.Schema{
	Name: "统计",
	Columns: []sheet.Column{
		{Key: "section", Headers: []string{"类别", "Section"}},
		{Key: "indicator", Headers: []string{"指标", "Indicator"}},
		{Key: "key", Headers: []string{"代码", "Key"}},
		{Key: "value", Headers: []string{"数值", "Value"}},
		{Key: "target", Headers: []string{"目标", "Target"}},
	},
}

// WriteStatsXLSX writes st as an XLSX workbook: the summary figures, then
// each inspector's tasks, the enterprises over the cap and the uncovered
// key units, and the tasks that missed a deadline. EINTERNAL when w fails.
func WriteStatsXLSX(w io.Writer, st *Stats) error {
	var rows []map[string]string
	add := func(section, indicator, key, value, target string) {
		rows = append(rows, map[string]string{"section": section, "indicator": indicator, "key": key, "value": value, "target": target})
	}
	n := strconv.Itoa
	ratio := func(f float64) string { return strconv.FormatFloat(f, 'f', 4, 64) }
	scope := "全局"
	if st.DepartmentID != "" {
		scope = st.DepartmentID
	}
	add("范围", "年度", "year", n(st.Year), "")
	add("范围", "部门", "department_id", scope, "")
	for _, c := range []struct {
		key, label string
		cov        Coverage
	}{{"key_supervision", "重点监管对象", st.KeySupervision}, {"blacklist", "安全生产黑名单对象", st.Blacklist}} {
		add("覆盖率（第十六条，全县）", c.label+"总数", "coverage."+c.key+".total", n(c.cov.Total), "")
		add("覆盖率（第十六条，全县）", c.label+"已抽查", "coverage."+c.key+".covered", n(c.cov.Covered), "")
		add("覆盖率（第十六条，全县）", c.label+"覆盖率", "coverage."+c.key+".share", ratio(c.cov.Share()), ratio(TargetCoverage))
	}
	add("抽查频次（第十六条，全县）", "一般对象年内被抽取超过两次", "over_cap.count", n(len(st.OverCap)), "0")
	add("随机抽查占比（第十六条）", "随机抽查", "random_share.random", n(st.Random), "")
	add("随机抽查占比（第十六条）", "非随机检查", "random_share.targeted", n(st.Targeted), "")
	add("随机抽查占比（第十六条）", "随机抽查占比", "random_share.share", ratio(st.RandomShare()), ratio(TargetRandomShare))
	for _, d := range []struct {
		key, label string
		tl         Timeliness
	}{{"feedback", "结果反馈（第二十一条，7个工作日）", st.Feedback}, {"publication", "结果公示（第二十四条，20个工作日）", st.Publication}} {
		add(d.label, "应完成", d.key+".due", n(d.tl.Due), "")
		add(d.label, "按期完成", d.key+".on_time", n(d.tl.OnTime), "")
		add(d.label, "逾期完成", d.key+".late", n(d.tl.Late), "0")
		add(d.label, "逾期未完成", d.key+".overdue", n(d.tl.Overdue), "0")
		add(d.label, "未到期", d.key+".pending", n(d.tl.Pending), "")
		for _, m := range d.tl.Missed {
			done := m.Done
			if done == "" {
				done = "未完成"
			}
			add(d.label, m.Enterprise+"（期限 "+m.Due+"，完成 "+done+"）", d.key+".missed."+m.TaskID, done, m.Due)
		}
	}
	for _, l := range st.Inspectors {
		add("执法人员检查任务数", l.Name+"（"+l.BadgeNo+"）", "tasks_per_inspector."+l.BadgeNo, n(l.Tasks), "")
	}
	for _, o := range st.OverCap {
		add("抽查频次（第十六条，全县）", o.Enterprise.Name+"（"+o.Enterprise.USCC+"）", "over_cap."+o.Enterprise.USCC, n(o.Draws), "2")
	}
	for _, c := range []struct {
		key string
		cov Coverage
	}{{"key_supervision", st.KeySupervision}, {"blacklist", st.Blacklist}} {
		for _, e := range c.cov.Uncovered {
			add("覆盖率（第十六条，全县）", "未抽查："+e.Name+"（"+e.USCC+"）", "coverage."+c.key+".uncovered."+e.USCC, "0", "1")
		}
	}
	return sheet.WriteXLSX(w, statsSchema, rows)
}
