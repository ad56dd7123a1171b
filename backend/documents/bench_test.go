package documents_test

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// BenchmarkDocuments generates both documents of the fixture (20 findings,
// 10 photos, 3 signatures) and reports the time against its baseline,
// copying the same number of bytes into a bytes.Buffer, measured in the same
// loop so both see the same machine load. The results issue will put writing
// those bytes to MinIO beside it.
func BenchmarkDocuments(b *testing.B) {
	g := generator(b)
	in := fixture()
	var record, order bytes.Buffer
	if err := g.InspectionRecord(&record, in); err != nil {
		b.Fatal(err)
	}
	if err := g.RectificationOrder(&order, in); err != nil {
		b.Fatal(err)
	}
	size := record.Len() + order.Len()
	payload := append(bytes.Clone(record.Bytes()), order.Bytes()...)

	b.Run("buffer-copy", func(b *testing.B) {
		b.SetBytes(int64(size))
		var dst bytes.Buffer
		for b.Loop() {
			dst.Reset()
			_, _ = io.Copy(&dst, bytes.NewReader(payload))
		}
	})
	b.Run("generate", func(b *testing.B) {
		b.SetBytes(int64(size))
		var genTime, copyTime time.Duration
		var out, dst bytes.Buffer
		for b.Loop() {
			start := time.Now()
			out.Reset()
			if err := g.InspectionRecord(&out, in); err != nil {
				b.Fatal(err)
			}
			if err := g.RectificationOrder(&out, in); err != nil {
				b.Fatal(err)
			}
			genTime += time.Since(start)
			start = time.Now()
			dst.Reset()
			_, _ = io.Copy(&dst, bytes.NewReader(payload))
			copyTime += time.Since(start)
		}
		b.ReportMetric(float64(genTime)/float64(copyTime), "×buffer-copy")
		b.ReportMetric(float64(size), "pdf_bytes")
	})
}
