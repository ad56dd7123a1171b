package documents_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"suiji/backend/config"
	"suiji/backend/documents"
	"suiji/backend/uscc"
	"suiji/backend/workday"
)

// generator loads the configured fonts (SUIJI_PDF_FONTS or the defaults).
// A missing font fails the test with the error that names its package.
func generator(tb testing.TB) *documents.Generator {
	tb.Helper()
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		tb.Fatal(err)
	}
	g, err := documents.New(cfg.PDFFonts)
	if err != nil {
		tb.Fatalf("%v\n(make test installs the font packages; by hand: apt-get install fonts-droid-fallback fonts-dejavu-core)", err)
	}
	return g
}

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, workday.Zone)
	if err != nil {
		panic(err)
	}
	return t
}

// The long texts of the fixture: they wrap over many lines, and the
// longest finding is longer than a page.
const (
	longNote = "该企业安全生产责任制已经主要负责人签发，但未明确各岗位的责任人员、责任范围和考核标准；" +
		"抽查三名一线班组长，均不能准确说出本岗位安全职责。"
	summary = "检查组于上午九时三十分到达企业，出示执法证件并说明来意后，在企业安全负责人陪同下依次检查了" +
		"生产车间、危险化学品仓库、配电室和消防控制室，查阅了安全生产责任制、教育培训档案、隐患排查治理台账、" +
		"特种作业人员操作证、应急预案及演练记录等资料。企业总体能够落实安全生产主体责任，但在教育培训、" +
		"危险化学品储存、有限空间作业管理等方面存在问题，具体见发现的问题。检查组已向企业负责人当场反馈，" +
		"企业负责人表示将按期整改并书面报告整改情况。"
)

// fixture is a realistic task: 21 items, 20 findings (one longer than a
// page), 10 photos, three signatures.
func fixture() *documents.Inspection {
	rng := rand.New(rand.NewPCG(7, 11))
	in := &documents.Inspection{
		Bureau:     "泽州县应急管理局",
		RecordNo:   "泽应急检记〔2025〕第0087号",
		OrderNo:    "泽应急责改〔2025〕第0031号",
		IssuedAt:   at("2025-10-09 16:00"),
		Plan:       "2025年度危险化学品企业“双随机、一公开”监管抽查（第三批次）",
		Enterprise: documents.Enterprise{Name: "泽州县金鼎精细化工有限责任公司", USCC: uscc.Generate(rng), Address: "山西省晋城市泽州县巴公镇工业园区化工路18号（巴公镇东四义村北500米）"},
		Place:      "生产车间、危险化学品仓库、配电室及办公楼",
		Start:      at("2025-10-09 09:30"),
		End:        at("2025-10-09 11:45"),
		Inspectors: []documents.Inspector{
			{Name: "张建国", BadgeNo: "14050012001", Signature: signature(1)},
			{Name: "李文静", BadgeNo: "14050012017", Signature: signature(2)},
		},
		Representative:  documents.Signatory{Name: "王志刚", Title: "安全生产管理部经理", Signature: signature(3)},
		Summary:         summary,
		PublicURL:       "https://suiji.zezhou.gov.cn/public/results/6717f3a2c4e1b0d9",
		Reconsideration: "泽州县人民政府或者晋城市应急管理局",
		Court:           "泽州县人民法院",
	}
	outcomes := []documents.Outcome{documents.Pass, documents.Fail, documents.NotApplicable}
	for i := range 21 {
		note := ""
		if i%3 == 1 {
			note = longNote
		}
		in.Items = append(in.Items, documents.Item{
			Code:       fmt.Sprintf("WHP-%02d", i+1),
			Name:       fmt.Sprintf("检查事项第%d项：危险化学品安全管理制度落实情况", i+1),
			LegalBasis: fmt.Sprintf("《危险化学品安全管理条例》第%d条", 20+i),
			Outcome:    outcomes[i%3],
			Note:       note,
		})
	}
	for i := range 20 {
		sev := documents.General
		if i%5 == 0 {
			sev = documents.Major
		}
		in.Findings = append(in.Findings, documents.Finding{
			Item:          fmt.Sprintf("WHP-%02d", i+1),
			Description:   fmt.Sprintf("问题%d：危险化学品仓库内硝酸铵与可燃物混存，未按规定设置隔离间距，仓库温湿度记录缺失（2025-09-01至今）。", i+1),
			Severity:      sev,
			Rectification: "立即将硝酸铵与可燃物分区存放，按GB 15603设置隔离间距并建立温湿度日常记录。",
			RectifyBy:     at("2025-10-16 00:00").AddDate(0, 0, 7*(i%3)),
		})
	}
	// One finding longer than a page: its row must continue on the next.
	in.Findings[7].Description = strings.Repeat("仓库东侧防爆照明灯具损坏，应急照明不能正常工作；", 60) + "以上情况均已拍照取证。"
	for i := range 10 {
		in.Photos = append(in.Photos, documents.Image{
			Caption: fmt.Sprintf("危险化学品仓库现场照片（第%d张，拍摄于2025年10月9日）", i+1),
			Data:    images().photos[i],
		})
	}
	return in
}

// images are the fixture's photos and signatures, made once (documents
// only read them).
var images = sync.OnceValue(func() (out struct{ photos, signatures [][]byte }) {
	for i := range 10 {
		out.photos = append(out.photos, photo(i))
	}
	for i := range 3 {
		out.signatures = append(out.signatures, signature(i+1))
	}
	return out
})

// photo makes a 960×720 JPEG with some texture (about 300 KB, the size of a
// phone photo after the app's compression).
func photo(seed int) []byte {
	const w, h = 960, 720
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(uint64(seed), 3))
	for y := range h {
		for x := range w {
			v := uint8(128 + 60*math.Sin(float64(x+seed*40)/70) + 40*math.Cos(float64(y)/50))
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = v, uint8(rng.IntN(192)), 255-v, 255
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// rendered caches the fixture's two documents: several tests read them, and
// rendering under -race on a shared machine is not free.
var rendered = struct {
	sync.Mutex
	pdf map[bool][]byte
}{pdf: map[bool][]byte{}}

// fixturePDF is the fixture's record (order false) or rectification order.
func fixturePDF(t *testing.T, order bool) []byte {
	t.Helper()
	rendered.Lock()
	defer rendered.Unlock()
	if pdf, ok := rendered.pdf[order]; ok {
		return pdf
	}
	pdf := render(t, generator(t), order, fixture())
	rendered.pdf[order] = pdf
	return pdf
}

// signature makes a transparent PNG with a pen stroke, as the app captures.
func signature(seed int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 600, 200))
	for x := 20; x < 580; x++ {
		y := 100 + int(60*math.Sin(float64(x*seed)/45))
		for d := -2; d <= 2; d++ {
			img.Set(x, y+d, color.NRGBA{10, 10, 60, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}
