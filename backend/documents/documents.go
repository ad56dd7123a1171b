// Package documents renders the statutory documents of an inspection as
// PDFs in Chinese (art. 22): the on-site inspection record (现场检查记录)
// and, where problems were found, the rectification order (责令限期整改指令书).
//
// The package is pure: an Inspection (a plain view the caller fills from
// its task) and signature and photo bytes go in, PDF bytes come out on an
// io.Writer. It reads no store and writes no object; archiving the bytes
// and recording their hash is the caller's job.
//
// # Output is deterministic
//
// The same Inspection always gives the same bytes: the PDF's creation date
// is Inspection.IssuedAt (no clock is read), the QR code and layout depend
// only on the input, and the PDF library writes objects in a fixed order. A
// SHA-256 of a document can therefore be recorded in the archive and the
// document re-generated and compared later.
//
// # Fonts
//
// The text is set in TrueType fonts read from files (SUIJI_PDF_FONTS, see
// backend/config): each character is drawn with the first font that has it,
// and only the glyphs used are embedded (subsetting). The defaults are Droid
// Sans Fallback (Debian's fonts-droid-fallback: the Chinese characters and
// punctuation) followed by DejaVu Sans (fonts-dejavu-core: Latin letters and
// digits, which Droid Sans Fallback lacks); `make run` and `make test`
// install both. OpenType/CFF fonts and TTC collections are refused with a
// clear error, since the PDF library embeds only TrueType outlines. A
// character no font has is printed as □ (the usual mark for a missing
// character), never silently dropped.
//
// # Layout
//
// A4 portrait, 20 mm margins. Long text wraps by character as Chinese text
// does (closing punctuation never starts a line, opening punctuation never
// ends one; Latin words and numbers are kept whole where they fit), tables
// continue across pages with their header repeated, and every page carries
// the document's name, number and "第 i 页 共 n 页". A photo or signature
// the PDF library cannot embed (it refuses interlaced and 16-bit PNGs) is
// left out with a note in its place naming its original in the archive
// (Image.Ref, Inspector.SignatureRef): the document is made all the same.
package documents

import (
	"errors"
	"fmt"
	_ "image/jpeg" // photos are usually JPEG
	_ "image/png"  // signatures and screenshots are PNG
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/signintech/gopdf/fontmaker/core"

	"suiji/backend"
	"suiji/backend/uscc"
)

// Outcome is the result of one inspection item.
type Outcome string

// The outcomes of an item, as the API names them.
const (
	Pass          Outcome = "pass"           // 合格
	Fail          Outcome = "fail"           // 不合格
	NotApplicable Outcome = "not_applicable" // 不适用
)

// Severity grades a finding.
type Severity string

// The severities of a finding, as the API names them.
const (
	General Severity = "general" // 一般隐患
	Major   Severity = "major"   // 重大隐患
)

// Limits on the input, so that one document stays a document.
const (
	MaxInspectors = 20
	MaxItems      = 300
	MaxFindings   = 300
	MaxPhotos     = 50
	MaxImageBytes = 20 << 20 // one photo or signature
	MaxTextLength = 5000     // characters of one text field
	MaxURLLength  = 500      // characters of the public URL (the QR code must stay readable)
)

// Inspection is everything the two documents show. The caller maps its task
// onto it; times are printed in Beijing time.
type Inspection struct {
	Bureau   string    // issuing authority, e.g. 泽州县应急管理局
	RecordNo string    // number of the on-site record (文书编号)
	OrderNo  string    // number of the rectification order; needed only for the order
	IssuedAt time.Time // date the documents carry, and the PDFs' creation date

	Plan       string // the plan, or the source and reason of a targeted task
	Enterprise Enterprise
	Place      string    // where the inspection took place (检查场所)
	Start, End time.Time // when it began and ended

	Inspectors     []Inspector // the group, at least two (art. 15)
	Representative Signatory   // the enterprise's person on site (现场负责人)

	Items    []Item
	Findings []Finding
	Summary  string  // the inspectors' account of the inspection (检查情况)
	Photos   []Image // on-site photos, shown after the findings

	PublicURL string // where the published result will be; encoded as a QR code

	// The rectification order tells the enterprise where to appeal.
	Reconsideration string // body that hears an administrative reconsideration, e.g. 泽州县人民政府
	Court           string // court that hears an administrative suit, e.g. 泽州县人民法院
}

// Enterprise is the inspected enterprise as the documents name it.
type Enterprise struct {
	Name    string
	USCC    string // unified social credit code
	Address string
}

// Inspector is one member of the group.
type Inspector struct {
	Name      string
	BadgeNo   string // law-enforcement certificate number (执法证号)
	Signature []byte // PNG or JPEG; empty leaves a line to sign on paper
	// SignatureRef names the signature's original in the archive (its
	// evidence id): the note printed in place of one the PDF library
	// cannot embed says where to find it.
	SignatureRef string
}

// Signatory is a person who signs for the enterprise.
type Signatory struct {
	Name         string
	Title        string // e.g. 安全负责人
	Signature    []byte // PNG or JPEG; empty leaves a line to sign on paper
	SignatureRef string // as Inspector.SignatureRef
}

// Item is one inspection item and its outcome.
type Item struct {
	Code       string
	Name       string
	LegalBasis string
	Outcome    Outcome
	Note       string
}

// Finding is one problem found, with what must be done and by when.
type Finding struct {
	Item          string // the item it belongs to (code or name), optional
	Description   string
	Severity      Severity
	Rectification string    // what the enterprise must do
	RectifyBy     time.Time // the rectification deadline (a day)
}

// Image is a photo with its caption.
type Image struct {
	Caption string
	Data    []byte // PNG or JPEG
	// Ref names the photo's original in the archive (its evidence id):
	// the note printed in place of one the PDF library cannot embed says
	// where to find it.
	Ref string
}

// Generator renders documents with a fixed set of fonts. It is safe for
// concurrent use: each document is built independently.
type Generator struct {
	fonts []*font
}

// fontPackages names the Debian package of each default font, for the error
// a missing one gives.
var fontPackages = map[string]string{
	"DroidSansFallbackFull.ttf": "fonts-droid-fallback",
	"DroidSansFallback.ttf":     "fonts-droid-fallback",
	"DejaVuSans.ttf":            "fonts-dejavu-core",
}

// New reads and checks the TrueType fonts at paths (SUIJI_PDF_FONTS), in the
// order characters look for a glyph. A missing or unusable font is an error
// that names the file, its Debian package where known, and the variable.
func New(paths []string) (*Generator, error) {
	if len(paths) == 0 {
		return nil, errors.New("documents: no PDF font configured (SUIJI_PDF_FONTS is empty)")
	}
	g := &Generator{}
	for i, path := range paths {
		f, err := loadFont(fmt.Sprintf("f%d", i), path)
		if err != nil {
			return nil, err
		}
		g.fonts = append(g.fonts, f)
	}
	return g, nil
}

// font is one TrueType font: its bytes for the PDF library, and the glyph
// map and advance widths for choosing fonts and breaking lines.
type font struct {
	family     string
	data       []byte
	glyphs     map[int]uint // rune → glyph index
	widths     []uint       // glyph index → advance width in font units
	unitsPerEm float64
}

func loadFont(family, path string) (*font, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		hint := "install the package that provides it"
		if pkg := fontPackages[filepath.Base(path)]; pkg != "" {
			hint = "install Debian's " + pkg + " (make run and make test do)"
		}
		return nil, fmt.Errorf("documents: PDF font %s cannot be read (%v): %s, or set SUIJI_PDF_FONTS to TrueType fonts that exist", path, err, hint)
	}
	var p core.TTFParser
	if err := p.ParseFontData(data); err != nil {
		return nil, fmt.Errorf("documents: PDF font %s (SUIJI_PDF_FONTS) is not a usable TrueType font: %v", path, err)
	}
	if _, ok := p.GetTables()["glyf"]; !ok || p.UnitsPerEm() == 0 {
		return nil, fmt.Errorf("documents: PDF font %s (SUIJI_PDF_FONTS) has no TrueType outlines; OpenType/CFF fonts and TTC collections cannot be embedded", path)
	}
	return &font{family: family, data: data, glyphs: p.Chars(), widths: p.Widths(), unitsPerEm: float64(p.UnitsPerEm())}, nil
}

// has reports whether the font draws r.
func (f *font) has(r rune) bool {
	g, ok := f.glyphs[int(r)]
	return ok && g != 0
}

// advance is r's width at size points.
func (f *font) advance(r rune, size float64) float64 {
	g := f.glyphs[int(r)]
	if int(g) >= len(f.widths) {
		if len(f.widths) == 0 {
			return 0
		}
		g = uint(len(f.widths) - 1) // glyphs past the metrics share the last width
	}
	return float64(f.widths[g]) * size / f.unitsPerEm
}

// Labels of the enumerations, as the documents print them.
var (
	outcomeLabels  = map[Outcome]string{Pass: "合格", Fail: "不合格", NotApplicable: "不适用"}
	severityLabels = map[Severity]string{General: "一般隐患", Major: "重大隐患"}
)

// validate checks the input both documents need; order adds what only the
// rectification order needs. Problems come back as one EINVALID error with
// a reason per field.
func (in *Inspection) validate(order bool) error {
	v := validator{fields: map[string]string{}}
	v.text("bureau", in.Bureau, true)
	v.text("record_no", in.RecordNo, true)
	v.time("issued_at", in.IssuedAt)
	v.text("plan", in.Plan, false)
	v.text("enterprise.name", in.Enterprise.Name, true)
	if v.text("enterprise.uscc", in.Enterprise.USCC, true) && !uscc.Valid(in.Enterprise.USCC) {
		v.fail("enterprise.uscc", "not a valid unified social credit code")
	}
	v.text("enterprise.address", in.Enterprise.Address, true)
	v.text("place", in.Place, true)
	if v.time("start", in.Start) && v.time("end", in.End) && in.End.Before(in.Start) {
		v.fail("end", "before the start")
	}
	if len(in.Inspectors) < 2 || len(in.Inspectors) > MaxInspectors {
		v.fail("inspectors", fmt.Sprintf("between 2 and %d inspectors", MaxInspectors))
	}
	for i, p := range in.Inspectors {
		v.text(fmt.Sprintf("inspectors[%d].name", i), p.Name, true)
		v.text(fmt.Sprintf("inspectors[%d].badge_no", i), p.BadgeNo, true)
		v.image(fmt.Sprintf("inspectors[%d].signature", i), p.Signature, false)
	}
	v.text("representative.name", in.Representative.Name, false)
	v.text("representative.title", in.Representative.Title, false)
	v.image("representative.signature", in.Representative.Signature, false)
	if len(in.Items) == 0 || len(in.Items) > MaxItems {
		v.fail("items", fmt.Sprintf("between 1 and %d items", MaxItems))
	}
	for i, it := range in.Items {
		v.text(fmt.Sprintf("items[%d].code", i), it.Code, false)
		v.text(fmt.Sprintf("items[%d].name", i), it.Name, true)
		v.text(fmt.Sprintf("items[%d].legal_basis", i), it.LegalBasis, false)
		v.text(fmt.Sprintf("items[%d].note", i), it.Note, false)
		if _, ok := outcomeLabels[it.Outcome]; !ok {
			v.fail(fmt.Sprintf("items[%d].outcome", i), "pass, fail or not_applicable")
		}
	}
	if len(in.Findings) > MaxFindings {
		v.fail("findings", fmt.Sprintf("at most %d findings", MaxFindings))
	}
	if order && len(in.Findings) == 0 {
		v.fail("findings", "a rectification order needs at least one finding")
	}
	for i, f := range in.Findings {
		v.text(fmt.Sprintf("findings[%d].item", i), f.Item, false)
		v.text(fmt.Sprintf("findings[%d].description", i), f.Description, true)
		v.text(fmt.Sprintf("findings[%d].rectification", i), f.Rectification, true)
		v.time(fmt.Sprintf("findings[%d].rectify_by", i), f.RectifyBy)
		if _, ok := severityLabels[f.Severity]; !ok {
			v.fail(fmt.Sprintf("findings[%d].severity", i), "general or major")
		}
	}
	v.text("summary", in.Summary, false)
	if len(in.Photos) > MaxPhotos {
		v.fail("photos", fmt.Sprintf("at most %d photos", MaxPhotos))
	}
	for i, p := range in.Photos {
		v.text(fmt.Sprintf("photos[%d].caption", i), p.Caption, false)
		v.image(fmt.Sprintf("photos[%d].data", i), p.Data, true)
	}
	if v.text("public_url", in.PublicURL, true) {
		if u, err := url.Parse(in.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.fail("public_url", "an absolute http(s) URL")
		} else if len(in.PublicURL) > MaxURLLength {
			v.fail("public_url", fmt.Sprintf("at most %d characters", MaxURLLength))
		}
	}
	if order {
		v.text("order_no", in.OrderNo, true)
		v.text("reconsideration", in.Reconsideration, true)
		v.text("court", in.Court, true)
	}
	if len(v.fields) > 0 {
		return backend.InvalidFields("the inspection cannot be printed", v.fields)
	}
	return nil
}

type validator struct{ fields map[string]string }

func (v *validator) fail(field, reason string) {
	if _, dup := v.fields[field]; !dup {
		v.fields[field] = reason
	}
}

// text checks a text field and reports whether it is present and valid.
func (v *validator) text(field, s string, required bool) bool {
	switch {
	case !utf8.ValidString(s):
		v.fail(field, "not valid UTF-8")
	case utf8.RuneCountInString(s) > MaxTextLength:
		v.fail(field, fmt.Sprintf("at most %d characters", MaxTextLength))
	case strings.TrimSpace(s) == "":
		if required {
			v.fail(field, "required")
		}
		return false
	default:
		return true
	}
	return false
}

func (v *validator) time(field string, t time.Time) bool {
	if t.IsZero() {
		v.fail(field, "required")
		return false
	}
	return true
}

// image checks that data is a PNG or JPEG by what its bytes show, as
// the evidence's own check sniffs them (backend/media). Whether the PDF
// library can embed it is not asked here: one it cannot take (an
// interlaced or 16-bit PNG, a damaged file) is left out with a note in
// its place when the document is drawn, so that one photo or signature
// never stops a statutory document.
func (v *validator) image(field string, data []byte, required bool) {
	switch {
	case len(data) == 0:
		if required {
			v.fail(field, "required")
		}
	case len(data) > MaxImageBytes:
		v.fail(field, fmt.Sprintf("at most %d bytes", MaxImageBytes))
	default:
		if t := http.DetectContentType(data); t != "image/png" && t != "image/jpeg" {
			v.fail(field, "not a PNG or JPEG image")
		}
	}
}

// write renders one document with g's fonts, then writes it to w.
func (g *Generator) write(w io.Writer, title, number string, in *Inspection, body func(*page) error) error {
	p, err := newPage(g.fonts, title, number, in)
	if err != nil {
		return err
	}
	if err := body(p); err != nil {
		return err
	}
	return p.finish(w)
}
