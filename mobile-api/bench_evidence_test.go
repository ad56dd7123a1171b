package mobileapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"suiji/backend"
	"suiji/storage/storagetest"
)

const (
	// benchVideoSize is the video: 200 MB.
	benchVideoSize = 200 << 20
	// partSenders is how many parts go at once: minio-go's default for
	// PutObject of a file, so that both sides send alike.
	partSenders = 4
)

// writeBenchVideo writes a size-byte file into dir that sniffs as MP4
// (an ftyp box, then random bytes) and returns its path and SHA-256.
func writeBenchVideo(tb testing.TB, dir string, size int) (string, string) {
	tb.Helper()
	path := filepath.Join(dir, "video.mp4")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	w := io.MultiWriter(f, h)
	rng := rand.NewChaCha8([32]byte{2, 0, 0, 3})
	buf := make([]byte, 1<<20)
	for written := 0; written < size; written += len(buf) {
		_, _ = rng.Read(buf)
		if written == 0 {
			copy(buf, "\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom")
		}
		if _, err := w.Write(buf[:min(len(buf), size-written)]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path, hex.EncodeToString(h.Sum(nil))
}

// putParts sends the parts of file to their presigned URLs with a plain
// net/http client, partSenders at a time.
func putParts(b *testing.B, client *http.Client, file *os.File, size, partSize int64, parts []partJSON) {
	b.Helper()
	work := make(chan partJSON)
	errs := make(chan error, len(parts))
	var wg sync.WaitGroup
	for range partSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				off := int64(p.Number-1) * partSize
				n := min(partSize, size-off)
				req, err := http.NewRequest("PUT", p.URL, io.NewSectionReader(file, off, n))
				if err != nil {
					errs <- err
					continue
				}
				req.ContentLength = n
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("PUT part %d: %d %s", p.Number, resp.StatusCode, msg)
				}
			}
		}()
	}
	for _, p := range parts {
		work <- p
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// BenchmarkVideoEvidence sends a 200 MB video as a phone does — declared
// through the API (POST /api/v1/tasks/{id}/evidence), its parts PUT to
// the presigned URLs with a plain net/http client — and completes it
// (POST /api/v1/evidence/{id}/complete: MinIO assembles the parts, then
// the object is streamed to check its size and SHA-256 and sniff its
// type). Baselines, in the same round on the same file: minio-go's
// PutObject of the file into the same bucket, and the sha256sum binary
// over the file. Reported: the upload as a share of PutObject's speed
// (goal ≥ 90%), complete as × sha256sum (goal ≤ 1.5×), and the times.
// Each round removes what it stored (the bucket has no retention here).
func BenchmarkVideoEvidence(b *testing.B) {
	env := newSerialAPIEnv(b, Config{})
	store := storagetest.Objects(b)
	env.withObjects(store)
	w := storagetest.NewWorld(b, env.db, 0)
	users := benchInspectors(b, env.db, w.Brigade.ID, 2, env.users["inspector"].PasswordHash)
	task := benchTasks(b, env.db, w.Brigade.ID, users, 1)[0]
	token := env.loginAs(b, users[0])
	path, sum := writeBenchVideo(b, b.TempDir(), benchVideoSize)
	file, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer file.Close()
	if _, err := exec.LookPath("sha256sum"); err != nil {
		b.Fatalf("the baseline needs the sha256sum binary: %v", err)
	}
	ctx, mc, bucket := b.Context(), store.Client(), store.EvidenceBucket()
	client := loadClient(partSenders)

	var putTime, uploadTime, completeTime, shaTime time.Duration
	round := 0
	for b.Loop() {
		round++
		// Baseline: minio-go's PutObject of the same file.
		start := time.Now()
		info, err := mc.PutObject(ctx, bucket, fmt.Sprintf("baseline/%d.mp4", round), io.NewSectionReader(file, 0, benchVideoSize),
			benchVideoSize, minio.PutObjectOptions{ContentType: "video/mp4"})
		if err != nil {
			b.Fatal(err)
		}
		putTime += time.Since(start)
		// Baseline: sha256sum of the file.
		start = time.Now()
		out, err := exec.CommandContext(ctx, "sha256sum", path).Output()
		if err != nil || !strings.HasPrefix(string(out), sum) {
			b.Fatalf("sha256sum: %q, %v", out, err)
		}
		shaTime += time.Since(start)

		// The phone's way: declare, PUT the parts, complete.
		start = time.Now()
		resp, body := env.call(b, token, "POST", "/api/v1/tasks/"+task.ID+"/evidence",
			fmt.Sprintf(`{"kind":"video","content_type":"video/mp4","size":%d,"sha256":%q}`, benchVideoSize, sum), nil)
		if resp.StatusCode != 201 {
			b.Fatalf("declaring the video: %d %s", resp.StatusCode, body)
		}
		v := decode[evidenceJSON](b, body)
		putParts(b, client, file, benchVideoSize, v.Multipart.PartSize, v.Multipart.Parts)
		uploadTime += time.Since(start)
		start = time.Now()
		resp, body = env.call(b, token, "POST", "/api/v1/evidence/"+v.ID+"/complete", "", nil)
		completeTime += time.Since(start)
		if resp.StatusCode != 200 {
			b.Fatalf("complete: %d %s", resp.StatusCode, body)
		}
		if v = decode[evidenceJSON](b, body); v.State != backend.EvidenceVerified || v.SniffedType != "video/mp4" {
			b.Fatalf("the video is %s (%s), sniffed %q", v.State, v.RejectReason, v.SniffedType)
		}

		// Make room for the next round.
		stored, err := env.db.Evidence().FindEvidence(ctx, v.ID)
		if err != nil {
			b.Fatal(err)
		}
		for key, version := range map[string]string{info.Key: info.VersionID, stored.ObjectKey: stored.VersionID} {
			if err := mc.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: version}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(putTime)/float64(uploadTime), "upload-share")
	b.ReportMetric(float64(completeTime)/float64(shaTime), "complete×sha256sum")
	n := float64(round)
	b.ReportMetric(putTime.Seconds()/n, "s-putobject")
	b.ReportMetric(uploadTime.Seconds()/n, "s-upload")
	b.ReportMetric(shaTime.Seconds()/n, "s-sha256sum")
	b.ReportMetric(completeTime.Seconds()/n, "s-complete")
}
