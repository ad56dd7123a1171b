package documents

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Document names, as printed in the title and every footer.
const (
	RecordTitle = "现场检查记录"
	OrderTitle  = "责令限期整改指令书"
)

// InspectionRecord writes the on-site inspection record (现场检查记录) of in
// to w as a PDF: the enterprise, time and place, the group with badge
// numbers, every item with its outcome and note, the findings with severity
// and deadline, the inspectors' account, the photos, the signatures and a
// QR code of the public result. Invalid input is an EINVALID
// *backend.Error naming each field; nothing is written then.
func (g *Generator) InspectionRecord(w io.Writer, in *Inspection) error {
	if err := in.validate(false); err != nil {
		return err
	}
	return g.write(w, RecordTitle, in.RecordNo, in, func(p *page) error {
		if err := p.masthead(in.Bureau, RecordTitle, in.RecordNo, in.PublicURL); err != nil {
			return err
		}
		representative := in.Representative.Name
		if in.Representative.Title != "" {
			representative += "（" + in.Representative.Title + "）"
		}
		p.table([]column{{width: 100}, {width: contentWidth - 100}}, [][]string{
			{"被检查单位", in.Enterprise.Name},
			{"统一社会信用代码", in.Enterprise.USCC},
			{"地址", in.Enterprise.Address},
			{"检查场所", in.Place},
			{"检查时间", spanCN(in.Start, in.End)},
			{"检查任务", in.Plan},
			{"检查人员", inspectorList(in.Inspectors)},
			{"现场负责人", representative},
		}, sizeBody, false)
		p.y += 6
		p.paragraph(left, contentWidth, fmt.Sprintf(
			"我们是%s的执法人员%s，已向你单位出示执法证件。现依法对你单位进行现场检查，请予配合。",
			in.Bureau, inspectorList(in.Inspectors)), sizeBody, 2)

		p.heading("一、检查事项及结果")
		rows := make([][]string, len(in.Items))
		for i, it := range in.Items {
			rows[i] = []string{strconv.Itoa(i + 1), strings.TrimSpace(it.Code + " " + it.Name), it.LegalBasis, outcomeLabels[it.Outcome], it.Note}
		}
		p.table([]column{
			{title: "序号", width: 28, center: true},
			{title: "检查事项", width: 130},
			{title: "检查依据", width: 110},
			{title: "结果", width: 40, center: true},
			{title: "情况说明", width: contentWidth - 308},
		}, rows, sizeTable, true)

		p.heading("二、发现的问题")
		if len(in.Findings) == 0 {
			p.paragraph(left, contentWidth, "本次检查未发现问题。", sizeBody, 2)
		} else {
			p.table(findingColumns, findingRows(in.Findings), sizeTable, true)
		}

		if strings.TrimSpace(in.Summary) != "" {
			p.heading("三、检查情况")
			p.paragraph(left, contentWidth, in.Summary, sizeBody, 2)
		}
		if len(in.Photos) > 0 {
			p.heading("附：现场照片")
			if err := p.photos(in.Photos); err != nil {
				return err
			}
		}

		p.y += 8
		signers := inspectorSigners(in.Inspectors)
		label := "被检查单位现场负责人（签名）："
		if in.Representative.Name != "" {
			label += representative
		}
		signers = append(signers, signer{label, in.Representative.Signature, in.Representative.SignatureRef})
		if err := p.signatures(signers); err != nil {
			return err
		}
		p.closing(in.Bureau, dateCN(in.IssuedAt))
		return nil
	})
}

// findingColumns is the findings table of both documents.
var findingColumns = []column{
	{title: "序号", width: 28, center: true},
	{title: "问题描述", width: 160},
	{title: "隐患等级", width: 52, center: true},
	{title: "整改要求", width: contentWidth - 334},
	{title: "整改期限", width: 94, center: true},
}

func findingRows(findings []Finding) [][]string {
	rows := make([][]string, len(findings))
	for i, f := range findings {
		desc := f.Description
		if f.Item != "" {
			desc = "【" + f.Item + "】" + desc
		}
		rows[i] = []string{strconv.Itoa(i + 1), desc, severityLabels[f.Severity], f.Rectification, dateCN(f.RectifyBy) + "前"}
	}
	return rows
}

// inspectorList names the group: 张三（执法证号 …）、李四（执法证号 …）.
func inspectorList(inspectors []Inspector) string {
	parts := make([]string, len(inspectors))
	for i, p := range inspectors {
		parts[i] = fmt.Sprintf("%s（执法证号 %s）", p.Name, p.BadgeNo)
	}
	return strings.Join(parts, "、")
}

func inspectorSigners(inspectors []Inspector) []signer {
	out := make([]signer, len(inspectors))
	for i, p := range inspectors {
		out[i] = signer{fmt.Sprintf("执法人员（签名）：%s  执法证号：%s", p.Name, p.BadgeNo), p.Signature, p.SignatureRef}
	}
	return out
}

// closing prints the issuing bureau and the date at the right, where the
// seal goes.
func (p *page) closing(bureau, date string) {
	lh := lineHeight(sizeBody)
	p.ensure(2*lh + 8)
	p.y += 8
	for _, s := range []string{bureau, date} {
		p.text(right-p.width(s, sizeBody)-20, baselineIn(p.y, sizeBody), s, sizeBody)
		p.y += lh
	}
}
