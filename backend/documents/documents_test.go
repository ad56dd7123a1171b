package documents_test

import (
	"bytes"
	"crypto/sha256"
	"image"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"suiji/backend"
	"suiji/backend/documents"
)

// poppler runs one of poppler-utils' tools, which the test stack installs.
func poppler(t *testing.T, tool string, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s not found: install Debian's poppler-utils (make test installs it)", tool)
	}
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
	return out
}

// savePDF writes pdf to a temporary file for the poppler tools.
func savePDF(t *testing.T, pdf []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// pagesOf extracts the text of each page in content order (pdftotext -raw).
func pagesOf(t *testing.T, pdf []byte) []string {
	t.Helper()
	text := string(poppler(t, "pdftotext", "-raw", "-enc", "UTF-8", savePDF(t, pdf), "-"))
	pages := strings.Split(text, "\f")
	if last := len(pages) - 1; strings.TrimSpace(pages[last]) == "" {
		pages = pages[:last]
	}
	return pages
}

// body joins the pages without their footers (the document's name and
// number and "第 i 页 共 n 页") and the lines listed in skip, and without
// any white space, so that text wrapped over lines and pages reads as one
// string.
func body(pages []string, skip ...string) string {
	var b strings.Builder
	for _, p := range pages {
		for _, line := range strings.Split(p, "\n") {
			line = flat(line)
			if folio.MatchString(line) || contains(skip, line) {
				continue
			}
			b.WriteString(line)
		}
	}
	return b.String()
}

// folio matches a footer line, flattened.
var folio = regexp.MustCompile(`^(现场检查记录|责令限期整改指令书)?[^第]*第\d+页共\d+页$`)

func contains(list []string, s string) bool {
	for _, x := range list {
		if flat(x) == s {
			return true
		}
	}
	return false
}

func flat(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

func render(t *testing.T, g *documents.Generator, order bool, in *documents.Inspection) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	if order {
		err = g.RectificationOrder(&b, in)
	} else {
		err = g.InspectionRecord(&b, in)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b.Bytes(), []byte("%PDF-")) {
		t.Fatalf("output does not start like a PDF: %q", b.Bytes()[:min(20, b.Len())])
	}
	return b.Bytes()
}

// checkFolios asserts every page carries its footer with the right count.
func checkFolios(t *testing.T, pages []string, footer string) {
	t.Helper()
	for i, p := range pages {
		want := flat(footer) + "第" + strconv.Itoa(i+1) + "页共" + strconv.Itoa(len(pages)) + "页"
		if !strings.Contains(flat(p), want) {
			t.Errorf("page %d lacks its footer %q", i+1, want)
		}
	}
}

func mustContain(t *testing.T, doc, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, flat(w)) {
			t.Errorf("%s: the extracted text lacks %q", doc, w)
		}
	}
}

func TestInspectionRecordText(t *testing.T) {
	in := fixture()
	pages := pagesOf(t, fixturePDF(t, false))
	footer := "现场检查记录  " + in.RecordNo
	checkFolios(t, pages, footer)
	if len(pages) < 5 {
		t.Errorf("%d pages; 21 items, 20 findings and 10 photos need at least 5", len(pages))
	}
	text := body(pages, footer, "序号检查事项检查依据结果情况说明", "序号问题描述隐患等级整改要求整改期限")
	mustContain(t, "record", text,
		"泽州县应急管理局", "现场检查记录", in.RecordNo, "扫码查看公示结果",
		in.Enterprise.Name, in.Enterprise.USCC, in.Enterprise.Address, in.Place, in.Plan,
		"2025年10月9日 09:30 至 11:45",
		"张建国（执法证号 14050012001）、李文静（执法证号 14050012017）",
		"王志刚（安全生产管理部经理）",
		"一、检查事项及结果", "二、发现的问题", "三、检查情况", summary, "附：现场照片",
		"执法人员（签名）：张建国", "被检查单位现场负责人（签名）：王志刚",
		"2025年10月9日",
	)
	for i, it := range in.Items {
		row := strconv.Itoa(i+1) + it.Code + it.Name + it.LegalBasis + map[documents.Outcome]string{
			documents.Pass: "合格", documents.Fail: "不合格", documents.NotApplicable: "不适用"}[it.Outcome]
		// Cells are drawn one after another, so a row reads in order.
		mustContain(t, "record item", text, row+it.Note)
	}
	for i, f := range in.Findings {
		if i == 7 {
			continue // the row longer than a page, checked below
		}
		sev := map[documents.Severity]string{documents.General: "一般隐患", documents.Major: "重大隐患"}[f.Severity]
		mustContain(t, "record finding", text, "【"+f.Item+"】"+f.Description+sev+f.Rectification)
	}
	for _, d := range []string{"2025年10月16日前", "2025年10月23日前", "2025年10月30日前"} {
		mustContain(t, "record deadlines", text, d)
	}
	// The row longer than a page is split: its beginning and end are there,
	// on different pages.
	long := in.Findings[7].Description
	head, tail := flat(long[:60]), flat(long[len(long)-60:])
	mustContain(t, "record long finding", text, head, tail)
	if p1, p2 := pageOf(pages, head), pageOf(pages, tail); p1 < 0 || p2 <= p1 {
		t.Errorf("the long finding starts on page %d and ends on page %d; want it to continue on a later page", p1+1, p2+1)
	}
	for i, ph := range in.Photos {
		mustContain(t, "record photo", text, "图"+strconv.Itoa(i+1)+ph.Caption)
	}
}

// pageOf is the index of the first page whose text contains s.
func pageOf(pages []string, s string) int {
	for i, p := range pages {
		if strings.Contains(flat(p), s) {
			return i
		}
	}
	return -1
}

func TestRectificationOrderText(t *testing.T) {
	g := generator(t)
	in := fixture()
	pages := pagesOf(t, fixturePDF(t, true))
	footer := "责令限期整改指令书  " + in.OrderNo
	checkFolios(t, pages, footer)
	text := body(pages, footer, "序号问题描述隐患等级整改要求整改期限")
	mustContain(t, "order", text,
		"泽州县应急管理局", "责令限期整改指令书", in.OrderNo, in.Enterprise.Name+"：", in.Enterprise.USCC,
		"2025年10月9日，本局执法人员张建国（执法证号 14050012001）、李文静（执法证号 14050012017）对你单位"+in.Place+"进行现场检查（现场检查记录 "+in.RecordNo+"）",
		// Deadlines grouped, earliest first; findings numbered from 1.
		"现责令你单位对上述第1、4、7、10、13、16、19项问题于2025年10月16日前、对第2、5、8、11、14、17、20项问题于2025年10月23日前、对第3、6、9、12、15、18项问题于2025年10月30日前整改完毕",
		"对重大事故隐患", // the fixture has major findings
		"六十日内向泽州县人民政府或者晋城市应急管理局申请行政复议", "六个月内依法向泽州县人民法院提起行政诉讼",
		"被检查单位负责人（签名）：王志刚", "本文书一式两份",
	)
	for i, f := range in.Findings {
		if i != 7 {
			mustContain(t, "order finding", text, strconv.Itoa(i+1)+"【"+f.Item+"】"+f.Description)
		}
	}

	// Without a major finding, no sentence about major hazards.
	for i := range in.Findings {
		in.Findings[i].Severity = documents.General
	}
	text = body(pagesOf(t, render(t, g, true, in)), footer)
	if strings.Contains(text, "对重大事故隐患") {
		t.Error("an order without major findings speaks of major hazards")
	}
}

// The QR code in each document decodes (with an independent decoder) to the
// public result's URL, and every photo and signature is embedded.
func TestQRCodeAndImages(t *testing.T) {
	in := fixture()
	for _, order := range []bool{false, true} {
		dir := t.TempDir()
		path := savePDF(t, fixturePDF(t, order))
		// -all keeps photos as JPEG files; the QR code and the signatures
		// (and their masks) come out as PNG.
		poppler(t, "pdfimages", "-all", path, filepath.Join(dir, "img"))
		files, _ := filepath.Glob(filepath.Join(dir, "img-*.png"))
		var urls []string
		for _, f := range files {
			if u := decodeQR(t, f); u != "" {
				urls = append(urls, u)
			}
		}
		if len(urls) != 1 || urls[0] != in.PublicURL {
			t.Errorf("order=%v: QR codes decode to %q, want exactly %q", order, urls, in.PublicURL)
		}
		// 3 signatures + the QR code; the record also has the 10 photos.
		want := 3 + 1
		if !order {
			want += 10
		}
		if n := countImages(t, path); n != want {
			t.Errorf("order=%v: %d images embedded, want %d", order, n, want)
		}
	}
}

func decodeQR(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		return ""
	}
	return res.GetText()
}

// countImages counts the images (not soft masks) pdfimages -list shows.
func countImages(t *testing.T, pdfPath string) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(string(poppler(t, "pdfimages", "-list", pdfPath)), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[2] == "image" {
			n++
		}
	}
	return n
}

// The same input gives the same bytes (so an archived hash can be checked by
// generating again); another issue date gives other bytes.
func TestOutputIsDeterministic(t *testing.T) {
	g := generator(t)
	for _, order := range []bool{false, true} {
		first := sha256.Sum256(fixturePDF(t, order))
		if again := sha256.Sum256(render(t, g, order, fixture())); again != first {
			t.Fatalf("order=%v: two renderings of the same input differ", order)
		}
		in := fixture()
		in.IssuedAt = in.IssuedAt.AddDate(0, 0, 1)
		if sha256.Sum256(render(t, g, order, in)) == first {
			t.Fatalf("order=%v: another issue date gave the same bytes", order)
		}
	}
	// The creation date is the issue date, in Beijing time.
	if !bytes.Contains(fixturePDF(t, false), []byte("/CreationDate(D:20251009160000+08'00')")) {
		t.Error("the PDF's creation date is not the issue date 2025-10-09 16:00 +08:00")
	}
}

// A character no font has is printed as □, not dropped; Latin text and
// digits (which the Chinese font lacks) come from the second font.
func TestMissingGlyphsAreMarked(t *testing.T) {
	g := generator(t)
	in := fixture()
	in.Summary = "现场发现问题😀已记录 ABC-123 xyz"
	text := body(pagesOf(t, render(t, g, false, in)))
	mustContain(t, "record", text, "现场发现问题□已记录ABC-123xyz")
}

func TestInvalidInputIsRefusedByField(t *testing.T) {
	g := generator(t)
	tests := []struct {
		name   string
		order  bool
		change func(*documents.Inspection)
		field  string
	}{
		{"no bureau", false, func(in *documents.Inspection) { in.Bureau = " " }, "bureau"},
		{"bad uscc", false, func(in *documents.Inspection) { in.Enterprise.USCC = "91140525MA0K12345X" }, "enterprise.uscc"},
		{"one inspector", false, func(in *documents.Inspection) { in.Inspectors = in.Inspectors[:1] }, "inspectors"},
		{"no badge", false, func(in *documents.Inspection) { in.Inspectors[1].BadgeNo = "" }, "inspectors[1].badge_no"},
		{"signature not an image", false, func(in *documents.Inspection) { in.Inspectors[0].Signature = []byte("GIF89a") }, "inspectors[0].signature"},
		{"no items", false, func(in *documents.Inspection) { in.Items = nil }, "items"},
		{"bad outcome", false, func(in *documents.Inspection) { in.Items[3].Outcome = "ok" }, "items[3].outcome"},
		{"bad severity", false, func(in *documents.Inspection) { in.Findings[2].Severity = "serious" }, "findings[2].severity"},
		{"no deadline", false, func(in *documents.Inspection) { in.Findings[0].RectifyBy = time.Time{} }, "findings[0].rectify_by"},
		{"end before start", false, func(in *documents.Inspection) { in.End = in.Start.Add(-1) }, "end"},
		{"relative url", false, func(in *documents.Inspection) { in.PublicURL = "/public/results/1" }, "public_url"},
		{"too long text", false, func(in *documents.Inspection) { in.Summary = strings.Repeat("长", documents.MaxTextLength+1) }, "summary"},
		{"too many photos", false, func(in *documents.Inspection) {
			in.Photos = make([]documents.Image, documents.MaxPhotos+1)
		}, "photos"},
		{"photo not an image", false, func(in *documents.Inspection) { in.Photos[4].Data = []byte("not an image") }, "photos[4].data"},
		{"order without findings", true, func(in *documents.Inspection) { in.Findings = nil }, "findings"},
		{"order without number", true, func(in *documents.Inspection) { in.OrderNo = "" }, "order_no"},
		{"order without court", true, func(in *documents.Inspection) { in.Court = "" }, "court"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := fixture()
			tc.change(in)
			var b bytes.Buffer
			var err error
			if tc.order {
				err = g.RectificationOrder(&b, in)
			} else {
				err = g.InspectionRecord(&b, in)
			}
			if backend.ErrorCode(err) != backend.EINVALID {
				t.Fatalf("error %v, want EINVALID", err)
			}
			if _, ok := backend.ErrorFields(err)[tc.field]; !ok {
				t.Fatalf("fields %v do not name %s", backend.ErrorFields(err), tc.field)
			}
			if b.Len() != 0 {
				t.Fatalf("%d bytes written for invalid input", b.Len())
			}
		})
	}
}

func TestFontErrorsNamePackageAndVariable(t *testing.T) {
	_, err := documents.New([]string{"/nonexistent/fonts/DroidSansFallbackFull.ttf"})
	if err == nil || !strings.Contains(err.Error(), "fonts-droid-fallback") || !strings.Contains(err.Error(), "SUIJI_PDF_FONTS") {
		t.Fatalf("missing font: %v; want the package and the variable named", err)
	}
	notTTF := filepath.Join(t.TempDir(), "font.otf")
	if err := os.WriteFile(notTTF, []byte("OTTO\x00\x09\x00\x80\x00\x03\x00\x10garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := documents.New([]string{notTTF}); err == nil || !strings.Contains(err.Error(), "SUIJI_PDF_FONTS") || !strings.Contains(err.Error(), notTTF) {
		t.Fatalf("unusable font: %v; want the file and the variable named", err)
	}
	if _, err := documents.New(nil); err == nil || !strings.Contains(err.Error(), "SUIJI_PDF_FONTS") {
		t.Fatalf("no fonts: %v", err)
	}
}

// One Generator serves concurrent requests (run with -race): the fonts are
// shared read-only, and both renderings are the single-threaded bytes.
func TestConcurrentRendering(t *testing.T) {
	g := generator(t)
	want := sha256.Sum256(fixturePDF(t, true))
	errs := make(chan error, 2)
	sums := make(chan [32]byte, 2)
	for range 2 {
		go func() {
			var b bytes.Buffer
			errs <- g.RectificationOrder(&b, fixture())
			sums <- sha256.Sum256(b.Bytes())
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		if <-sums != want {
			t.Fatal("a concurrent rendering differs from the single one")
		}
	}
}
