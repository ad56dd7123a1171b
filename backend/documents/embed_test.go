package documents

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"suiji/backend/documents/pngtest"
)

// encodePNG encodes img with Go's encoder, which writes 16 bits a sample
// for the 64-bit colour models.
func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// gradient fills a w×h image of the colour model that set writes.
func gradient(w, h int, set func(x, y int, v uint8)) {
	for y := range h {
		for x := range w {
			set(x, y, uint8((x*7+y*13)%256))
		}
	}
}

// TestEmbeddableAsksThePDFLibrary: what the PDF library takes is
// embeddable, with its size; what it refuses is not — interlaced and
// 16-bit PNGs, which the image package reads all the same (so it cannot
// be the judge), and damaged files, without a panic escaping.
func TestEmbeddableAsksThePDFLibrary(t *testing.T) {
	const w, h = 37, 23
	rgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	gradient(w, h, func(x, y int, v uint8) { rgba.SetNRGBA(x, y, color.NRGBA{v, 255 - v, 60, v}) })
	opaque := image.NewRGBA(image.Rect(0, 0, w, h))
	gradient(w, h, func(x, y int, v uint8) { opaque.SetRGBA(x, y, color.RGBA{v, 90, 255 - v, 255}) })
	gray := image.NewGray(image.Rect(0, 0, w, h))
	gradient(w, h, func(x, y int, v uint8) { gray.SetGray(x, y, color.Gray{v}) })
	paletted := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White, color.NRGBA{200, 0, 0, 255}})
	gradient(w, h, func(x, y int, v uint8) { paletted.SetColorIndex(x, y, v%3) })
	rgba64 := image.NewNRGBA64(image.Rect(0, 0, w, h))
	gradient(w, h, func(x, y int, v uint8) {
		rgba64.SetNRGBA64(x, y, color.NRGBA64{uint16(v) << 8, 0x1234, 0xffff, 0xffff})
	})
	gray16 := image.NewGray16(image.Rect(0, 0, w, h))
	gradient(w, h, func(x, y int, v uint8) { gray16.SetGray16(x, y, color.Gray16{uint16(v)<<8 | 0x7f}) })
	var jpg, gif89 bytes.Buffer
	if err := jpeg.Encode(&jpg, opaque, nil); err != nil {
		t.Fatal(err)
	}
	if err := gif.Encode(&gif89, paletted, nil); err != nil {
		t.Fatal(err)
	}
	signature := encodePNG(t, rgba)
	// A PNG with transparency whose pixel data ends early: its header
	// reads, and the library finds the damage only when it unpacks it.
	damaged := bytes.Clone(signature)
	if i := bytes.Index(damaged, []byte("IDAT")); i < 0 {
		t.Fatal("no IDAT")
	} else {
		for k := i + 8; k < len(damaged)-12; k++ {
			damaged[k] = 0xA5
		}
	}

	tests := []struct {
		name  string
		data  []byte
		ok    bool
		error string // part of the library's refusal, where it has its own words
	}{
		{"JPEG", jpg.Bytes(), true, ""},
		{"PNG with transparency", signature, true, ""},
		{"opaque PNG", encodePNG(t, opaque), true, ""},
		{"grey PNG", encodePNG(t, gray), true, ""},
		{"paletted PNG", encodePNG(t, paletted), true, ""},
		{"16-bit PNG", encodePNG(t, rgba64), false, "16-bit"},
		{"16-bit grey PNG", encodePNG(t, gray16), false, "16-bit"},
		{"interlaced PNG", pngtest.Interlaced(w, h), false, "Interlacing"},
		{"PNG with damaged pixels", damaged, false, ""},
		// Transparent, its pixels cut short: the library slices past
		// their end and panics.
		{"PNG with too few pixels", pngtest.Hand(w, h, 6, 0, make([]byte, 5)), false, "PDF library failed"},
		{"PNG signature only", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), false, ""},
		{"GIF", gif89.Bytes(), false, "gif"},
		{"empty", nil, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gw, gh, err := embeddable(tc.data)
			if tc.ok {
				if err != nil || gw != w || gh != h {
					t.Fatalf("embeddable: %d×%d, %v; want %d×%d, nil", gw, gh, err, w, h)
				}
				return
			}
			if err == nil {
				t.Fatalf("embeddable: %d×%d, nil; want a refusal", gw, gh)
			}
			if !strings.Contains(err.Error(), tc.error) {
				t.Fatalf("refusal %q does not say %q", err, tc.error)
			}
		})
	}

	// The refused PNGs are images all the same: the image package reads
	// them, which is why it was not the judge.
	for name, data := range map[string][]byte{"16-bit": encodePNG(t, rgba64), "interlaced": pngtest.Interlaced(w, h)} {
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil || img.Bounds().Dx() != w || img.Bounds().Dy() != h {
			t.Fatalf("%s PNG: the image package reads %v, %v", name, img, err)
		}
	}
	if img, _ := png.Decode(bytes.NewReader(pngtest.Interlaced(w, h))); img != nil {
		if r, g, b, _ := img.At(w-1, h-1).RGBA(); r>>8 != 255*(w-1)/w || g>>8 != 255*(h-1)/h || b>>8 != 128 {
			t.Fatalf("the hand-built interlaced PNG decodes to %v at its last pixel", img.At(w-1, h-1))
		}
	}
}

// TestOmittedNamesTheOriginal: the note says which image is missing and
// where its original is, and reads without a name too.
func TestOmittedNamesTheOriginal(t *testing.T) {
	if got, want := omitted("照片", "0b5c-evidence"), "（照片 0b5c-evidence 无法嵌入，原件见证据存档）"; got != want {
		t.Errorf("omitted: %q, want %q", got, want)
	}
	if got, want := omitted("签名图像", " "), "（签名图像无法嵌入，原件见证据存档）"; got != want {
		t.Errorf("omitted without a name: %q, want %q", got, want)
	}
}
