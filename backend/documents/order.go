package documents

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RectificationOrder writes the rectification order (责令限期整改指令书) of
// in to w as a PDF: the findings with severity, what must be done and by
// when, the order to rectify them by their deadlines, the duty to keep
// production safe meanwhile, the enterprise's right to reconsideration and
// suit, signatures and a QR code of the public result. It needs at least
// one finding, OrderNo, Reconsideration and Court; invalid input is an
// EINVALID *backend.Error naming each field, and nothing is written then.
func (g *Generator) RectificationOrder(w io.Writer, in *Inspection) error {
	if err := in.validate(true); err != nil {
		return err
	}
	return g.write(w, OrderTitle, in.OrderNo, in, func(p *page) error {
		if err := p.masthead(in.Bureau, OrderTitle, in.OrderNo, in.PublicURL); err != nil {
			return err
		}
		p.paragraph(left, contentWidth, in.Enterprise.Name+"：", sizeBody, 0)
		p.paragraph(left, contentWidth, fmt.Sprintf("（统一社会信用代码：%s；地址：%s）", in.Enterprise.USCC, in.Enterprise.Address), sizeTable, 0)
		p.y += 4
		p.paragraph(left, contentWidth, fmt.Sprintf("%s，本局执法人员%s对你单位%s进行现场检查（现场检查记录 %s），发现你单位存在下列问题：",
			dateCN(in.Start), inspectorList(in.Inspectors), in.Place, in.RecordNo), sizeBody, 2)
		p.y += 2
		p.table(findingColumns, findingRows(in.Findings), sizeTable, true)
		p.y += 6
		for _, s := range orderText(in) {
			p.paragraph(left, contentWidth, s, sizeBody, 2)
		}
		p.y += 8
		signers := inspectorSigners(in.Inspectors)
		signers = append(signers, signer{"被检查单位负责人（签名）：" + in.Representative.Name, in.Representative.Signature, in.Representative.SignatureRef})
		if err := p.signatures(signers); err != nil {
			return err
		}
		p.closing(in.Bureau, dateCN(in.IssuedAt))
		p.paragraph(left, contentWidth, "本文书一式两份，一份交被检查单位，一份由本局存档。", sizeSmall, 0)
		return nil
	})
}

// orderText is the operative part: one sentence per deadline naming the
// findings due by it, earliest first, then the duties and remedies.
func orderText(in *Inspection) []string {
	byDay := map[string][]int{}
	first := map[string]time.Time{}
	for i, f := range in.Findings {
		day := dateCN(f.RectifyBy)
		byDay[day] = append(byDay[day], i+1)
		if t, ok := first[day]; !ok || f.RectifyBy.Before(t) {
			first[day] = f.RectifyBy
		}
	}
	days := make([]string, 0, len(byDay))
	for day := range byDay {
		days = append(days, day)
	}
	sort.Slice(days, func(i, j int) bool { return first[days[i]].Before(first[days[j]]) })
	clauses := make([]string, len(days))
	for i, day := range days {
		nums := make([]string, len(byDay[day]))
		for j, n := range byDay[day] {
			nums[j] = strconv.Itoa(n)
		}
		which := "对第"
		if i == 0 {
			which = "对上述第"
		}
		clauses[i] = fmt.Sprintf("%s%s项问题于%s前", which, strings.Join(nums, "、"), day)
	}
	text := []string{
		"现责令你单位" + strings.Join(clauses, "、") + "整改完毕，达到有关法律、法规、规章和标准规定的要求，并将整改情况书面报告本局。",
	}
	for _, f := range in.Findings {
		if f.Severity == Major {
			text = append(text, "对重大事故隐患，你单位主要负责人应当组织制定并实施治理方案，治理前无法保证安全的，应当从危险区域内撤出作业人员，暂时停产停业或者停止使用相关设施、设备。")
			break
		}
	}
	text = append(text,
		"整改期间，你单位应当采取措施，确保安全生产。逾期未整改或者整改不合格的，本局将依法处理；因此造成生产安全事故的，依法追究有关单位和人员的责任。",
		fmt.Sprintf("如不服本指令，可以自收到本指令之日起六十日内向%s申请行政复议，或者在六个月内依法向%s提起行政诉讼。复议或者诉讼期间，本指令不停止执行，法律另有规定的除外。", in.Reconsideration, in.Court),
	)
	return text
}
