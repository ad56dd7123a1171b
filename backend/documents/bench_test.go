package documents_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	"suiji/storage/storagetest"
)

// BenchmarkDocuments generates both documents of the fixture (20 findings,
// 10 photos, 3 signatures) and reports the time against two baselines
// measured in the same loop, so all see the same machine load: copying the
// same number of bytes into a bytes.Buffer, and writing the same two
// documents to MinIO as the archive does (storage/objects PutDocument, into
// a documents bucket of the benchmark's own). ×minio-put is the issue's
// figure: what generating costs beside archiving (no goal yet).
func BenchmarkDocuments(b *testing.B) {
	store := storagetest.Objects(b)
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
	put := func(b *testing.B, key string, doc []byte) {
		if _, err := store.PutDocument(b.Context(), key, "application/pdf", "", bytes.NewReader(doc), int64(len(doc))); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("generate", func(b *testing.B) {
		b.SetBytes(int64(size))
		var genTime, copyTime, putTime time.Duration
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
			start = time.Now()
			put(b, "bench/inspection_record.pdf", record.Bytes())
			put(b, "bench/rectification_order.pdf", order.Bytes())
			putTime += time.Since(start)
		}
		b.ReportMetric(float64(genTime)/float64(copyTime), "×buffer-copy")
		b.ReportMetric(float64(genTime)/float64(putTime), "×minio-put")
		b.ReportMetric(float64(size), "pdf_bytes")
	})
}
