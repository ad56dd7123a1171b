package documents

import (
	"bytes"
	"fmt"
	"image"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/signintech/gopdf"
	qrcode "github.com/skip2/go-qrcode"

	"suiji/backend/workday"
)

// A4 portrait in points, with 20 mm margins and a footer line below the
// text area.
const (
	pageWidth    = 595.28
	pageHeight   = 841.89
	margin       = 56.69
	left         = margin
	right        = pageWidth - margin
	top          = margin
	bottom       = pageHeight - margin - 12
	contentWidth = right - left
)

// Type sizes in points.
const (
	sizeBureau  = 16
	sizeTitle   = 22
	sizeHeading = 13
	sizeBody    = 11
	sizeTable   = 9.5
	sizeSmall   = 8
)

// missing is drawn for a character no font has.
const missing = '□'

// page lays out one document on gopdf: a cursor that moves down the page,
// text set in runs of the first font having each character, line breaking,
// tables that continue across pages, images, and the footer on every page.
type page struct {
	pdf    *gopdf.GoPdf
	fonts  []*font
	title  string // document name, printed in every footer
	number string // document number, printed in every footer

	y         float64 // top of the free space on the current page
	pages     int
	onNewPage func() // draws what a continued block repeats (a table header)
	err       error  // the first error of the PDF library while drawing text
}

func newPage(fonts []*font, title, number string, in *Inspection) (*page, error) {
	pdf := &gopdf.GoPdf{}
	pdf.Start(gopdf.Config{PageSize: *gopdf.PageSizeA4, Unit: gopdf.UnitPT})
	pdf.SetInfo(gopdf.PdfInfo{
		Title:        title + " " + number,
		Author:       in.Bureau,
		Subject:      in.Enterprise.Name,
		Creator:      "suiji",
		CreationDate: in.IssuedAt.In(workday.Zone),
	})
	for _, f := range fonts {
		if err := pdf.AddTTFFontData(f.family, f.data); err != nil {
			return nil, fmt.Errorf("documents: embedding font %s: %w", f.family, err)
		}
	}
	p := &page{pdf: pdf, fonts: fonts, title: title, number: number}
	p.newPage()
	return p, nil
}

// newPage starts a page and repeats what the current block needs.
func (p *page) newPage() {
	p.pdf.AddPage()
	p.pages++
	p.y = top
	if p.onNewPage != nil {
		p.onNewPage()
	}
}

// ensure starts a new page unless h points still fit on this one.
func (p *page) ensure(h float64) {
	if p.y+h > bottom {
		p.newPage()
	}
}

// finish writes the footer on every page and the document to w.
func (p *page) finish(w io.Writer) error {
	for i := 1; i <= p.pages; i++ {
		if err := p.pdf.SetPage(i); err != nil {
			return fmt.Errorf("documents: footer of page %d: %w", i, err)
		}
		baseline := pageHeight - margin + 8
		p.text(left, baseline, p.title+"  "+p.number, sizeSmall)
		folio := fmt.Sprintf("第 %d 页 共 %d 页", i, p.pages)
		p.text(right-p.width(folio, sizeSmall), baseline, folio, sizeSmall)
		p.pdf.SetLineWidth(0.4)
		p.pdf.Line(left, baseline-10, right, baseline-10)
	}
	if p.err != nil {
		return p.err
	}
	if _, err := p.pdf.WriteTo(w); err != nil {
		return fmt.Errorf("documents: writing the PDF: %w", err)
	}
	return nil
}

// fontFor picks the first font that has r; a character none has becomes
// the missing mark (or '?' if even that is missing).
func (p *page) fontFor(r rune) (*font, rune) {
	for _, f := range p.fonts {
		if f.has(r) {
			return f, r
		}
	}
	for _, sub := range []rune{missing, '?'} {
		for _, f := range p.fonts {
			if f.has(sub) {
				return f, sub
			}
		}
	}
	return p.fonts[0], r
}

// run is a stretch of text set in one font.
type run struct {
	f     *font
	text  string
	width float64
}

func (p *page) runs(s string, size float64) []run {
	var out []run
	var b strings.Builder
	var cur *font
	var w float64
	for _, r := range s {
		f, r := p.fontFor(r)
		if f != cur && b.Len() > 0 {
			out = append(out, run{cur, b.String(), w})
			b.Reset()
			w = 0
		}
		cur = f
		b.WriteRune(r)
		w += f.advance(r, size)
	}
	if b.Len() > 0 {
		out = append(out, run{cur, b.String(), w})
	}
	return out
}

// width is the width of s at size points.
func (p *page) width(s string, size float64) float64 {
	var w float64
	for _, r := range s {
		f, r := p.fontFor(r)
		w += f.advance(r, size)
	}
	return w
}

// text draws one line with its baseline at y. The first error of the PDF
// library is kept and returned by finish, so that drawing code reads
// straight on.
func (p *page) text(x, baseline float64, s string, size float64) {
	for _, r := range p.runs(s, size) {
		if err := p.pdf.SetFont(r.f.family, "", size); err != nil && p.err == nil {
			p.err = fmt.Errorf("documents: font %s: %w", r.f.family, err)
		}
		p.pdf.SetXY(x, baseline)
		if err := p.pdf.Text(r.text); err != nil && p.err == nil {
			p.err = fmt.Errorf("documents: text %q: %w", r.text, err)
		}
		x += r.width
	}
}

// lineHeight is the distance between the baselines of wrapped lines.
func lineHeight(size float64) float64 { return size * 1.5 }

// baselineIn places the baseline of a line whose box starts at y.
func baselineIn(y, size float64) float64 { return y + lineHeight(size)*0.5 + size*0.36 }

// Line-breaking rules of Chinese text (禁则): these never start a line …
const noStart = "，。、；：？！）》」』”’〉】〕…—％,.;:?!)]}%·"

// … and these never end one.
const noEnd = "（《「『“‘〈【〔([{"

// wrap breaks s into lines no wider than w at size points. Line breaks in s
// are kept; Chinese text breaks between any two characters except before
// closing and after opening punctuation (closing punctuation may hang into
// the margin); Latin words and numbers break only at spaces, unless one is
// longer than a line.
func (p *page) wrap(s string, size, w float64) []string {
	var lines []string
	var line []string
	var lineW float64
	flush := func() {
		lines = append(lines, strings.TrimRight(strings.Join(line, ""), " "))
		line, lineW = nil, 0
	}
	add := func(tok string, tw float64) {
		line = append(line, tok)
		lineW += tw
	}
	for _, tok := range tokens(s) {
		if tok == "\n" {
			flush()
			continue
		}
		if tok == " " && len(line) == 0 {
			continue
		}
		tw := p.width(tok, size)
		if lineW+tw <= w || (len(line) > 0 && strings.Contains(noStart, tok) && lineW+tw <= w+size) {
			add(tok, tw)
			continue
		}
		var carry string
		if n := len(line); n > 1 && strings.Contains(noEnd, line[n-1]) {
			carry = line[n-1]
			line = line[:n-1]
		}
		if len(line) > 0 {
			flush()
		}
		if carry != "" {
			add(carry, p.width(carry, size))
		}
		if tok == " " {
			continue
		}
		if lineW+tw <= w {
			add(tok, tw)
			continue
		}
		for _, r := range tok { // a word longer than a line
			rw := p.width(string(r), size)
			if lineW+rw > w && len(line) > 0 {
				flush()
			}
			add(string(r), rw)
		}
	}
	if len(line) > 0 {
		flush()
	}
	return lines
}

// tokens splits text into the units wrap may not break: a Latin word or
// number, one space, one other character, or a line break "\n". Carriage
// returns become line breaks, tabs spaces; other control characters go.
func tokens(s string) []string {
	s = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\t", " ").Replace(s)
	var out []string
	var word strings.Builder
	end := func() {
		if word.Len() > 0 {
			out = append(out, word.String())
			word.Reset()
		}
	}
	for _, r := range s {
		switch {
		case r == '\n':
			end()
			out = append(out, "\n")
		case unicode.IsControl(r):
		case unicode.IsSpace(r) && r != '\u3000': // the ideographic space is a character
			end()
			out = append(out, " ")
		case r <= 0x024F && !strings.ContainsRune(noStart+noEnd, r): // Latin letters, digits, ASCII signs
			word.WriteRune(r)
		default:
			end()
			out = append(out, string(r))
		}
	}
	end()
	return out
}

// centered draws one line centred on the page.
func (p *page) centered(s string, size float64) {
	lh := lineHeight(size)
	p.ensure(lh)
	p.text((pageWidth-p.width(s, size))/2, baselineIn(p.y, size), s, size)
	p.y += lh
}

// paragraph draws wrapped text from x over width w; indent (in characters)
// indents the first line, as Chinese paragraphs are.
func (p *page) paragraph(x, w float64, s string, size float64, indent int) {
	lh := lineHeight(size)
	for _, line := range p.wrap(strings.Repeat("\u3000", indent)+s, size, w) {
		p.ensure(lh)
		p.text(x, baselineIn(p.y, size), line, size)
		p.y += lh
	}
}

// heading draws a section heading with some space above it, kept together
// with at least two lines of what follows.
func (p *page) heading(s string) {
	p.y += 6
	p.ensure(lineHeight(sizeHeading) + 3*lineHeight(sizeTable))
	p.text(left, baselineIn(p.y, sizeHeading), s, sizeHeading)
	p.y += lineHeight(sizeHeading) + 2
}

// column is one column of a table.
type column struct {
	title  string
	width  float64
	center bool
}

const cellPad = 3

// table draws rows under a header row (unless header is false). A row
// moves to the next page whole when it fits on a page, and is split across
// pages only when it is longer than a page; the header is repeated on every
// page the table continues on.
func (p *page) table(cols []column, rows [][]string, size float64, header bool) {
	lh := lineHeight(size)
	drawRow := func(cells [][]string, from, n int, fill bool) {
		h := float64(n)*lh + 2*cellPad
		x := left
		for c, col := range cols {
			style := "D"
			if fill {
				p.pdf.SetFillColor(232, 232, 232)
				style = "FD"
			}
			p.pdf.SetLineWidth(0.5)
			p.pdf.RectFromUpperLeftWithStyle(x, p.y, col.width, h, style)
			p.pdf.SetFillColor(0, 0, 0) // text is painted with the fill colour
			for j := from; j < from+n && j < len(cells[c]); j++ {
				line := cells[c][j]
				tx := x + cellPad
				if col.center {
					tx = x + (col.width-p.width(line, size))/2
				}
				p.text(tx, baselineIn(p.y+cellPad+float64(j-from)*lh, size), line, size)
			}
			x += col.width
		}
		p.y += h
	}
	wrapRow := func(row []string) ([][]string, int) {
		cells := make([][]string, len(cols))
		n := 1
		for c, col := range cols {
			if c < len(row) {
				cells[c] = p.wrap(row[c], size, col.width-2*cellPad)
			}
			n = max(n, len(cells[c]))
		}
		return cells, n
	}
	var drawHeader func()
	if header {
		titles := make([]string, len(cols))
		for c, col := range cols {
			titles[c] = col.title
		}
		hcells, hn := wrapRow(titles)
		drawHeader = func() { drawRow(hcells, 0, hn, true) }
		p.ensure(float64(hn+1)*lh + 4*cellPad)
		drawHeader()
	}
	p.onNewPage = drawHeader
	defer func() { p.onNewPage = nil }()
	fullPage := int((bottom - top - 2*cellPad) / lh)
	if header {
		fullPage -= 2 // room for the repeated header
	}
	for _, row := range rows {
		cells, n := wrapRow(row)
		for from := 0; from < n; {
			left := n - from
			fits := int((bottom - p.y - 2*cellPad) / lh)
			if fits < 1 || (left > fits && left <= fullPage) {
				p.newPage()
				continue
			}
			k := min(left, fits)
			drawRow(cells, from, k, false)
			from += k
		}
	}
}

// embeddable says why the PDF library cannot take data as an image — nil
// when it can — and gives data's size in pixels. Rather than a list of
// its own of what the library supports (it refuses interlaced and 16-bit
// PNGs, which the image package reads), it asks the library itself: data
// is registered in a throw-away document, as drawing it does. The box
// given spares the library a full decode for the natural size, so what is
// tried is its parse alone: for a JPEG the header, for a PNG its chunks
// (and its pixels only when it has transparency). The library indexes
// into data as its header says, so a damaged file can make it panic: that
// too is a refusal, not a crash.
func embeddable(data []byte) (w, h int, err error) {
	defer func() {
		if r := recover(); r != nil {
			w, h, err = 0, 0, fmt.Errorf("the PDF library failed on it: %v", r)
		}
	}()
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return 0, 0, err
	}
	if format != "png" && format != "jpeg" {
		return 0, 0, fmt.Errorf("a %s image, not PNG or JPEG", format)
	}
	var scratch gopdf.GoPdf
	scratch.Start(gopdf.Config{PageSize: gopdf.Rect{W: 1, H: 1}, Unit: gopdf.UnitPT})
	scratch.AddPage()
	if err := scratch.ImageByHolder(checkHolder{bytes.NewReader(data)}, 0, 0, &gopdf.Rect{W: 1, H: 1}); err != nil {
		return 0, 0, err
	}
	return cfg.Width, cfg.Height, nil
}

// checkHolder hands data to the registration as gopdf.ImageHolderByBytes
// does, without the MD5 of every byte that names an image in a document's
// cache: a throw-away document has nothing to cache (it is a third of the
// check's time for a phone's photo).
type checkHolder struct{ *bytes.Reader }

func (checkHolder) ID() string { return "embeddable" }

// omitted is the note printed in place of an image the PDF library cannot
// embed (embeddable): the document still says that there was one and where
// its original is, under the name the archive knows it by.
func omitted(what, ref string) string {
	if ref = strings.TrimSpace(ref); ref != "" {
		ref = " " + ref + " "
	}
	return "（" + what + ref + "无法嵌入，原件见证据存档）"
}

// imageSize is data's size in pixels.
func imageSize(data []byte) (w, h int, err error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return 0, 0, err
	}
	return cfg.Width, cfg.Height, nil
}

// fit scales a w×h image to fit in maxW×maxH, keeping its proportions.
func fit(w, h int, maxW, maxH float64) (float64, float64) {
	if w <= 0 || h <= 0 {
		return maxW, maxH
	}
	s := min(maxW/float64(w), maxH/float64(h))
	return float64(w) * s, float64(h) * s
}

// image draws data scaled into the box at (x, y), centred horizontally in
// it, and returns the height drawn.
func (p *page) image(data []byte, x, y, boxW, boxH float64) (float64, error) {
	iw, ih, err := imageSize(data)
	if err != nil {
		return 0, fmt.Errorf("documents: image: %w", err)
	}
	w, h := fit(iw, ih, boxW, boxH)
	holder, err := gopdf.ImageHolderByBytes(data)
	if err != nil {
		return 0, fmt.Errorf("documents: image: %w", err)
	}
	if err := p.pdf.ImageByHolder(holder, x+(boxW-w)/2, y, &gopdf.Rect{W: w, H: h}); err != nil {
		return 0, fmt.Errorf("documents: image: %w", err)
	}
	return h, nil
}

// qrSize is the side of the QR code in points (about 28 mm: readable by a
// phone from a printed page).
const qrSize = 80

// masthead draws the top of the first page: the QR code of the public result
// at the right, the bureau, the document's name and its number centred.
func (p *page) masthead(bureau, title, number, url string) error {
	png, err := qrcode.Encode(url, qrcode.Medium, 320)
	if err != nil {
		return fmt.Errorf("documents: QR code: %w", err)
	}
	if _, err := p.image(png, right-qrSize, top-8, qrSize, qrSize); err != nil {
		return err
	}
	caption := "扫码查看公示结果"
	p.text(right-qrSize/2-p.width(caption, sizeSmall)/2, top+qrSize-2, caption, sizeSmall)
	p.y += 10
	p.centered(bureau, sizeBureau)
	p.y += 2
	p.centered(title, sizeTitle)
	p.y += 2
	p.centered(number, sizeBody)
	p.y = max(p.y, top+qrSize+4) + 6
	return nil
}

// signatures draws each signer's label and signature image (or a line to
// sign on), two to a row.
func (p *page) signatures(signers []signer) error {
	const boxH = 40
	colW := contentWidth / 2
	lh := lineHeight(sizeBody)
	for i := 0; i < len(signers); i += 2 {
		rowH := 0.0
		for _, s := range signers[i:min(i+2, len(signers))] {
			rowH = max(rowH, float64(len(p.wrap(s.label, sizeBody, colW-8)))*lh)
		}
		p.ensure(rowH + boxH + 8)
		y := p.y
		for j, s := range signers[i:min(i+2, len(signers))] {
			x := left + float64(j)*colW
			yy := y
			for _, line := range p.wrap(s.label, sizeBody, colW-8) {
				p.text(x, baselineIn(yy, sizeBody), line, sizeBody)
				yy += lh
			}
			if len(s.image) > 0 {
				if _, _, err := embeddable(s.image); err != nil {
					for _, line := range p.wrap(omitted("签名图像", s.ref), sizeSmall, colW-8) {
						p.text(x, baselineIn(yy, sizeSmall), line, sizeSmall)
						yy += lineHeight(sizeSmall)
					}
				} else if _, err := p.image(s.image, x, yy+2, 140, boxH-4); err != nil {
					return err
				}
			} else {
				p.pdf.SetLineWidth(0.5)
				p.pdf.Line(x, yy+boxH-6, x+140, yy+boxH-6)
			}
		}
		p.y = y + rowH + boxH + 8
	}
	return nil
}

// signer is one signature block.
type signer struct {
	label string
	image []byte
	ref   string // the image's name in the archive, for the note that may replace it
}

// photos draws the photos two to a row, each with its caption; a photo
// the PDF library cannot embed is a note in its place, under its caption
// all the same.
func (p *page) photos(photos []Image) error {
	const gap = 12
	const maxH = 190
	colW := (contentWidth - gap) / 2
	lh := lineHeight(sizeTable)
	for i := 0; i < len(photos); i += 2 {
		row := photos[i:min(i+2, len(photos))]
		notes := make([][]string, len(row))
		imgH, capLines := 0.0, 0
		for j, ph := range row {
			iw, ih, err := embeddable(ph.Data)
			if err != nil {
				notes[j] = p.wrap(omitted("照片", ph.Ref), sizeTable, colW)
				imgH = max(imgH, float64(len(notes[j]))*lh)
			} else {
				_, h := fit(iw, ih, colW, maxH)
				imgH = max(imgH, h)
			}
			capLines = max(capLines, len(p.wrap(ph.Caption, sizeTable, colW)))
		}
		p.ensure(imgH + float64(capLines+1)*lh + gap)
		for j, ph := range row {
			x := left + float64(j)*(colW+gap)
			if notes[j] != nil {
				for k, line := range notes[j] {
					p.text(x, baselineIn(p.y+float64(k)*lh, sizeTable), line, sizeTable)
				}
			} else if _, err := p.image(ph.Data, x, p.y, colW, imgH); err != nil {
				return err
			}
			yy := p.y + imgH + 2
			label := fmt.Sprintf("图%d %s", i+j+1, ph.Caption)
			for _, line := range p.wrap(label, sizeTable, colW) {
				p.text(x, baselineIn(yy, sizeTable), line, sizeTable)
				yy += lh
			}
		}
		p.y += imgH + float64(capLines+1)*lh + gap
	}
	return nil
}

// Dates and times as the documents print them, in Beijing time.
func dateCN(t time.Time) string {
	t = t.In(workday.Zone)
	return fmt.Sprintf("%d年%d月%d日", t.Year(), t.Month(), t.Day())
}

func timeCN(t time.Time) string { return t.In(workday.Zone).Format("15:04") }

// spanCN is the period of the inspection: the end's date is left out when
// it is the start's.
func spanCN(start, end time.Time) string {
	if dateCN(start) == dateCN(end) {
		return fmt.Sprintf("%s %s 至 %s", dateCN(start), timeCN(start), timeCN(end))
	}
	return fmt.Sprintf("%s %s 至 %s %s", dateCN(start), timeCN(start), dateCN(end), timeCN(end))
}
