package documents_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"testing"

	"suiji/backend/documents/pngtest"
)

// TestImagesThePDFCannotTakeAreNotes: photos and a signature the PDF
// library refuses — a 16-bit PNG, an interlaced one, one whose header is
// damaged — leave both documents made all the same, each with a note in
// the image's place naming its original, and every other image embedded.
func TestImagesThePDFCannotTakeAreNotes(t *testing.T) {
	g := generator(t)
	deep := image.NewNRGBA64(image.Rect(0, 0, 64, 48))
	for i := range deep.Pix {
		deep.Pix[i] = byte(i * 7)
	}
	var png16 bytes.Buffer
	if err := png.Encode(&png16, deep); err != nil {
		t.Fatal(err)
	}
	in := fixture()
	in.Photos[1].Data, in.Photos[1].Ref = png16.Bytes(), "ev-photo-16bit"
	in.Photos[2].Data, in.Photos[2].Ref = pngtest.Interlaced(64, 48), "ev-photo-interlaced"
	in.Photos[3].Data, in.Photos[3].Ref = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR damaged"), "ev-photo-damaged"
	in.Inspectors[1].Signature, in.Inspectors[1].SignatureRef = pngtest.Interlaced(300, 100), "ev-signature-2"
	in.Representative.Signature = signatureWith(color.NRGBA64{0, 0, 0x3000, 0xffff})

	notes := []string{
		"（照片ev-photo-16bit无法嵌入，原件见证据存档）",
		"（照片ev-photo-interlaced无法嵌入，原件见证据存档）",
		"（照片ev-photo-damaged无法嵌入，原件见证据存档）",
		"（签名图像ev-signature-2无法嵌入，原件见证据存档）",
		"（签名图像无法嵌入，原件见证据存档）", // the representative's, without a name
	}
	for _, order := range []bool{false, true} {
		pdf := render(t, g, order, in)
		text := body(pagesOf(t, pdf))
		want, images := notes[3:], 1+1 // the signature notes; the QR code and the first inspector's signature
		if !order {
			want = notes
			images += 10 - 3 // the photos that embed
			for i, ph := range in.Photos {
				mustContain(t, "record photo caption", text, "图"+strconv.Itoa(i+1)+ph.Caption)
			}
		}
		mustContain(t, "notes", text, want...)
		if n := countImages(t, savePDF(t, pdf)); n != images {
			t.Errorf("order=%v: %d images embedded, want %d", order, n, images)
		}
	}
}

// signatureWith is a 16-bit PNG signature of one colour.
func signatureWith(c color.NRGBA64) []byte {
	img := image.NewNRGBA64(image.Rect(0, 0, 300, 100))
	for y := 40; y < 60; y++ {
		for x := 10; x < 290; x++ {
			img.SetNRGBA64(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}
