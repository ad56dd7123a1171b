package media_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"testing"
	"time"

	"suiji/backend/media"
	"suiji/backend/media/mediatest"
)

func TestInspectReadsHashTypeAndEXIF(t *testing.T) {
	at := time.Date(2026, 3, 5, 2, 22, 1, 0, time.UTC)
	photo := mediatest.JPEG(64, 48, at, 35.4912, 112.8567)
	rep, err := media.Inspect(bytes.NewReader(photo))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(photo)
	if rep.Size != int64(len(photo)) || rep.SHA256 != hex.EncodeToString(sum[:]) || rep.ContentType != "image/jpeg" {
		t.Fatalf("report %+v", rep)
	}
	if rep.EXIFTime == nil || !rep.EXIFTime.Equal(at) {
		t.Fatalf("EXIF time %v, want %v", rep.EXIFTime, at)
	}
	if rep.EXIFLat == nil || math.Abs(*rep.EXIFLat-35.4912) > 1e-4 || rep.EXIFLng == nil || math.Abs(*rep.EXIFLng-112.8567) > 1e-4 {
		t.Fatalf("EXIF position %v, %v", rep.EXIFLat, rep.EXIFLng)
	}

	// A large stream is hashed whole and sniffed from its start.
	big := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte{'x'}, 3<<20)...)
	rep, err = media.Inspect(bytes.NewReader(big))
	if err != nil || rep.Size != int64(len(big)) || rep.ContentType != "application/pdf" || rep.EXIFTime != nil {
		t.Fatalf("pdf report %+v, %v", rep, err)
	}
}

func TestMismatch(t *testing.T) {
	for _, tc := range []struct {
		declared, sniffed string
		ok                bool
	}{
		{"image/jpeg", "image/jpeg", true},
		{"image/jpeg; charset=binary", "image/jpeg", true},
		{"image/heic", "application/octet-stream", true}, // the sniffer cannot tell
		{"video/quicktime", "application/octet-stream", true},
		{"audio/wav", "audio/wave", true},
		{"image/jpeg", "image/png", false},
		{"image/jpeg", "application/pdf", false},
		{"video/mp4", "text/html; charset=utf-8", false},
	} {
		if got := media.Mismatch(tc.declared, tc.sniffed); (got == "") != tc.ok {
			t.Errorf("Mismatch(%q, %q) = %q", tc.declared, tc.sniffed, got)
		}
	}
}
