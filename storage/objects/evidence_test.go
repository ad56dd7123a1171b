package objects_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"suiji/backend"
	"suiji/storage/objects"
	"suiji/storage/storagetest"
)

// put sends body to a presigned URL with the given length (-1: chunked,
// no Content-Length) and returns MinIO's status and answer.
func put(t *testing.T, u string, body []byte, length int64) (int, string) {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if length < 0 {
		r = io.MultiReader(r) // no known length: sent chunked
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, u, r)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

// TestPartURLPinsLength: a part URL signs its part's exact length, and
// MinIO itself refuses a PUT of one byte more or one byte less (403
// SignatureDoesNotMatch; a PUT of no declared length, chunked, it
// refuses with 411 signed or not); a client that declares the signed
// length and sends more has only the declared bytes stored. The exact
// length is stored and the parts assemble. Without the signed length a
// part URL took any length (checked: 15 MiB through a URL for 5 MiB).
func TestPartURLPinsLength(t *testing.T) {
	s := storagetest.Objects(t)
	ctx := t.Context()
	const key = "tasks/t-1/video-1"
	id, err := s.StartMultipart(ctx, key, "video/mp4")
	if err != nil {
		t.Fatal(err)
	}
	const first, last = 5 << 20, 1000 // S3's smallest part, then the rest
	data := bytes.Repeat([]byte("0123456789abcdef"), (first+last)/16+1)[:first+last]
	u1, err := s.PresignPart(ctx, key, id, 1, first, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if q, _ := url.Parse(u1); !strings.Contains(q.Query().Get("X-Amz-SignedHeaders"), "content-length") {
		t.Errorf("the part URL does not sign the length: %s", u1)
	}
	stored := func() map[int]int64 {
		parts, err := s.ListParts(ctx, key, id)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int]int64{}
		for _, p := range parts {
			out[p.Number] = p.Size
		}
		return out
	}

	for name, body := range map[string][]byte{"one byte more": data[:first+1], "one byte less": data[:first-1], "much more": bytes.Repeat([]byte{7}, 3*first)} {
		if status, msg := put(t, u1, body, int64(len(body))); status != http.StatusForbidden || !strings.Contains(msg, "SignatureDoesNotMatch") {
			t.Errorf("%s (%d bytes) to a part URL for %d: %d %s; want 403 SignatureDoesNotMatch", name, len(body), first, status, msg)
		}
	}
	if status, msg := put(t, u1, data[:first], -1); status != http.StatusLengthRequired {
		t.Errorf("a chunked PUT (no Content-Length) to a part URL was accepted: %d %s", status, msg)
	}
	if got := stored(); len(got) != 0 {
		t.Fatalf("refused PUTs stored parts: %v", got)
	}

	// A client that declares the signed length and keeps sending: MinIO
	// reads the declared bytes only (the rest is not part of the request).
	target, _ := url.Parse(u1)
	conn, err := net.Dial("tcp", target.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	go func() {
		_, _ = fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", target.RequestURI(), target.Host, first)
		_, _ = conn.Write(data[:first])
		_, _ = conn.Write(bytes.Repeat([]byte("x"), 1<<20))
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if got := stored(); resp.StatusCode != http.StatusOK || got[1] != first {
		t.Fatalf("a PUT declaring %d bytes and sending 1 MiB more: %d, parts stored %v; want 200 and part 1 of exactly %d bytes", first, resp.StatusCode, got, first)
	}

	// The exact lengths: stored, and they assemble.
	if status, msg := put(t, u1, data[:first], first); status != http.StatusOK {
		t.Fatalf("the exact length to part 1: %d %s", status, msg)
	}
	u2, err := s.PresignPart(ctx, key, id, 2, last, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if status, msg := put(t, u2, data[first:first+last+1], last+1); status != http.StatusForbidden {
		t.Errorf("one byte more to the last part: %d %s", status, msg)
	}
	if status, msg := put(t, u2, data[first:], last); status != http.StatusOK {
		t.Fatalf("the exact length to part 2: %d %s", status, msg)
	}
	parts, err := s.ListParts(ctx, key, id)
	if err != nil || len(parts) != 2 || parts[0].Size != first || parts[1].Size != last {
		t.Fatalf("parts %+v, %v", parts, err)
	}
	if err := s.CompleteMultipart(ctx, key, id, parts); err != nil {
		t.Fatal(err)
	}
	body, size, _, err := s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	got, _ := io.ReadAll(body)
	if size != first+last || !bytes.Equal(got, data) {
		t.Fatalf("assembled %d bytes, want the %d sent", size, len(data))
	}

	for _, bad := range [][2]int64{{0, 10}, {1, 0}} {
		if _, err := s.PresignPart(ctx, key, id, int(bad[0]), bad[1], time.Minute); backend.ErrorCode(err) != backend.EINVALID {
			t.Errorf("part %d of %d bytes: %v, want EINVALID", bad[0], bad[1], err)
		}
	}
}

// TestDiscard: a one-POST upload has no retention until Retain (MinIO
// leaves POST uploads out of the bucket's default), so a rejected one
// can be removed; one retained, or an assembled multipart upload (which
// the bucket's default retention locks at assembly), cannot:
// ECONFLICT, and the version stays.
func TestDiscard(t *testing.T) {
	s := storagetest.ObjectsWith(t, func(o *objects.Options) { o.RetentionDays = 1 })
	ctx := t.Context()
	postFile := func(key string, file []byte) string {
		t.Helper()
		p, err := s.PresignPost(ctx, key, "application/pdf", int64(len(file)), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		for k, v := range p.Fields {
			_ = w.WriteField(k, v)
		}
		fw, _ := w.CreateFormFile("file", "f")
		_, _ = fw.Write(file)
		_ = w.Close()
		resp, err := http.Post(p.URL, w.FormDataContentType(), &b)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("POST: %d", resp.StatusCode)
		}
		body, _, version, err := s.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		_ = body.Close()
		return version
	}
	versions := func(key string) int {
		n := 0
		for o := range s.Client().ListObjects(ctx, s.EvidenceBucket(), minio.ListObjectsOptions{Prefix: key, WithVersions: true, Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			n++
		}
		return n
	}

	rejected := postFile("tasks/t-1/rejected", []byte("%PDF-1.7 not the declared bytes"))
	if err := s.Discard(ctx, "tasks/t-1/rejected", rejected); err != nil {
		t.Fatalf("discarding an unretained POST upload: %v", err)
	}
	if n := versions("tasks/t-1/rejected"); n != 0 {
		t.Fatalf("%d versions left after Discard", n)
	}
	if err := s.Discard(ctx, "tasks/t-1/rejected", rejected); err != nil {
		t.Fatalf("discarding again: %v, want nil", err)
	}

	kept := postFile("tasks/t-1/verified", []byte("%PDF-1.7 verified"))
	if err := s.Retain(ctx, "tasks/t-1/verified", kept); err != nil {
		t.Fatal(err)
	}
	if err := s.Discard(ctx, "tasks/t-1/verified", kept); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("discarding a retained version: %v, want ECONFLICT", err)
	}
	if n := versions("tasks/t-1/verified"); n != 1 {
		t.Fatalf("%d versions of the retained upload, want 1", n)
	}

	const key = "tasks/t-1/assembled"
	id, err := s.StartMultipart(ctx, key, "video/mp4")
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.PresignPart(ctx, key, id, 1, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if status, msg := put(t, u, []byte("0123456789"), 10); status != http.StatusOK {
		t.Fatalf("PUT: %d %s", status, msg)
	}
	parts, err := s.ListParts(ctx, key, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteMultipart(ctx, key, id, parts); err != nil {
		t.Fatal(err)
	}
	body, _, version, err := s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	_ = body.Close()
	mode, until, err := s.Client().GetObjectRetention(ctx, s.EvidenceBucket(), key, version)
	if err != nil || mode == nil || *mode != minio.Compliance || until == nil || until.Before(time.Now().Add(23*time.Hour)) {
		t.Fatalf("an assembled multipart upload's retention: %v until %v, %v; want the bucket's default COMPLIANCE", mode, until, err)
	}
	if err := s.Discard(ctx, key, version); backend.ErrorCode(err) != backend.ECONFLICT {
		t.Fatalf("discarding an assembled multipart upload: %v, want ECONFLICT", err)
	}
}
