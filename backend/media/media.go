// Package media inspects an uploaded file as a stream — never the whole
// file in memory — to check it against what the phone declared: its size
// and SHA-256, the content type its bytes show (sniffed, not taken from a
// header), and for photos the capture time and position the camera wrote
// in EXIF.
//
// It is pure: it reads a stream and imports no driver.
package media

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	exif "github.com/dsoprea/go-exif/v3"
	exifcommon "github.com/dsoprea/go-exif/v3/common"
)

// headBytes is how much of the start of a file is kept for sniffing and
// for EXIF (a JPEG's EXIF block is in its first 64 KiB).
const headBytes = 256 << 10

// Report is what the bytes of a file show.
type Report struct {
	Size        int64
	SHA256      string // lowercase hex
	ContentType string // sniffed (WHATWG MIME sniffing), without parameters
	EXIFTime    *time.Time
	EXIFLat     *float64
	EXIFLng     *float64
}

// Inspect reads r to the end and reports on it. EXIF capture times carry
// no zone; they are read as Beijing time, where phones at Zezhou's mines
// are set.
func Inspect(r io.Reader) (*Report, error) {
	h := sha256.New()
	head := &capped{max: headBytes}
	n, err := io.Copy(io.MultiWriter(h, head), r)
	if err != nil {
		return nil, err
	}
	rep := &Report{Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), ContentType: Base(http.DetectContentType(head.buf))}
	if rep.ContentType == "image/jpeg" {
		rep.EXIFTime, rep.EXIFLat, rep.EXIFLng = readEXIF(head.buf)
	}
	return rep, nil
}

// Base is a content type without its parameters, in lower case.
func Base(contentType string) string {
	t, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(contentType))
	}
	return t
}

// Mismatch says why sniffed bytes do not fit the declared content type,
// or "" when they do. A sniffer that cannot tell (it says
// application/octet-stream or text/plain, as it does for HEIC photos and
// QuickTime videos) accepts the declaration within the declared family;
// bytes it recognises must be the declared type.
func Mismatch(declared, sniffed string) string {
	declared, sniffed = Base(declared), Base(sniffed)
	if declared == sniffed {
		return ""
	}
	if sniffed == "application/octet-stream" || sniffed == "text/plain" {
		return ""
	}
	// Equivalent spellings the sniffer and phones use.
	same := map[string]string{"audio/wave": "audio/wav", "audio/x-wav": "audio/wav", "image/jpg": "image/jpeg", "audio/mp3": "audio/mpeg"}
	if alias, ok := same[declared]; ok {
		declared = alias
	}
	if alias, ok := same[sniffed]; ok {
		sniffed = alias
	}
	if declared == sniffed {
		return ""
	}
	return "the file is " + sniffed + ", declared " + declared
}

// capped keeps the first max bytes written to it.
type capped struct {
	buf []byte
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// readEXIF returns the capture time and GPS position a JPEG's EXIF holds,
// each nil when absent or unreadable: EXIF is a hint, never a reason to
// refuse a photo.
func readEXIF(head []byte) (at *time.Time, lat, lng *float64) {
	defer func() { _ = recover() }() // the library panics on some malformed data
	raw, err := exif.SearchAndExtractExif(head)
	if err != nil {
		return nil, nil, nil
	}
	im, err := exifcommon.NewIfdMappingWithStandard()
	if err != nil {
		return nil, nil, nil
	}
	_, index, err := exif.Collect(im, exif.NewTagIndex(), raw)
	if err != nil || index.RootIfd == nil {
		return nil, nil, nil
	}
	if sub, err := exif.FindIfdFromRootIfd(index.RootIfd, "IFD/Exif"); err == nil {
		at = captureTime(sub)
	}
	if gps, err := exif.FindIfdFromRootIfd(index.RootIfd, "IFD/GPSInfo"); err == nil {
		if gi, err := gps.GpsInfo(); err == nil {
			la, lo := gi.Latitude.Decimal(), gi.Longitude.Decimal()
			if la >= -90 && la <= 90 && lo >= -180 && lo <= 180 {
				lat, lng = &la, &lo
			}
		}
	}
	return at, lat, lng
}

// beijing is the zone EXIF times are read in.
var beijing = time.FixedZone("CST", 8*60*60)

func captureTime(ifd *exif.Ifd) *time.Time {
	for _, name := range []string{"DateTimeOriginal", "DateTimeDigitized"} {
		entries, err := ifd.FindTagWithName(name)
		if err != nil || len(entries) == 0 {
			continue
		}
		v, err := entries[0].Value()
		if err != nil {
			continue
		}
		s, ok := v.(string)
		if !ok {
			continue
		}
		t, err := time.ParseInLocation("2006:01:02 15:04:05", strings.TrimRight(s, "\x00 "), beijing)
		if err == nil {
			u := t.UTC()
			return &u
		}
	}
	return nil
}

// Extension is the usual file name extension of a content type (with
// its dot), for download and bundle file names; "" when none is known.
func Extension(contentType string) string {
	switch contentType {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "application/pdf":
		return ".pdf"
	case "video/mp4":
		return ".mp4"
	case "video/quicktime":
		return ".mov"
	}
	return ""
}
