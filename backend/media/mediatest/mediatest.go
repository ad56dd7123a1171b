// Package mediatest makes files for tests of evidence: a JPEG photo whose
// EXIF names when and where it was taken. Only tests import it.
package mediatest

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"time"

	exif "github.com/dsoprea/go-exif/v3"
	exifcommon "github.com/dsoprea/go-exif/v3/common"
)

// JPEG returns a w×h JPEG whose EXIF says it was taken at at (written in
// Beijing time, as a phone there would) at lat, lng. It panics on a bug
// in the fixture itself.
func JPEG(w, h int, at time.Time, lat, lng float64) []byte {
	im, err := exifcommon.NewIfdMappingWithStandard()
	must(err)
	ti := exif.NewTagIndex()
	root := exif.NewIfdBuilder(im, ti, exifcommon.IfdStandardIfdIdentity, exifcommon.EncodeDefaultByteOrder)
	sub, err := exif.GetOrCreateIbFromRootIb(root, "IFD/Exif")
	must(err)
	must(sub.SetStandardWithName("DateTimeOriginal", at.In(time.FixedZone("CST", 8*3600)).Format("2006:01:02 15:04:05")))
	gps, err := exif.GetOrCreateIbFromRootIb(root, "IFD/GPSInfo")
	must(err)
	ref := func(v float64, pos, neg string) string {
		if v < 0 {
			return neg
		}
		return pos
	}
	must(gps.SetStandardWithName("GPSLatitudeRef", ref(lat, "N", "S")))
	must(gps.SetStandardWithName("GPSLatitude", dms(lat)))
	must(gps.SetStandardWithName("GPSLongitudeRef", ref(lng, "E", "W")))
	must(gps.SetStandardWithName("GPSLongitude", dms(lng)))
	raw, err := exif.NewIfdByteEncoder().EncodeToExif(root)
	must(err)

	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var body bytes.Buffer
	must(jpeg.Encode(&body, img, &jpeg.Options{Quality: 90}))
	// SOI, then an APP1 segment with the EXIF, then the rest of the JPEG.
	payload := append([]byte("Exif\x00\x00"), raw...)
	var out bytes.Buffer
	out.Write([]byte{0xFF, 0xD8, 0xFF, 0xE1})
	_ = binary.Write(&out, binary.BigEndian, uint16(len(payload)+2))
	out.Write(payload)
	out.Write(body.Bytes()[2:])
	return out.Bytes()
}

// dms is a coordinate as EXIF's degrees, minutes, seconds.
func dms(v float64) []exifcommon.Rational {
	v = math.Abs(v)
	d := math.Floor(v)
	m := math.Floor((v - d) * 60)
	s := (v - d - m/60) * 3600
	return []exifcommon.Rational{{Numerator: uint32(d), Denominator: 1}, {Numerator: uint32(m), Denominator: 1}, {Numerator: uint32(math.Round(s * 1000)), Denominator: 1000}}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
