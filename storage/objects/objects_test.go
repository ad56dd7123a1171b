package objects_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"suiji/backend"
	"suiji/storage/objects"
	"suiji/storage/storagetest"
)

func TestEnsureBucketsIsIdempotentAndLocksBoth(t *testing.T) {
	s := storagetest.Objects(t) // creates both buckets once
	ctx := t.Context()
	if err := s.EnsureBuckets(ctx); err != nil {
		t.Fatalf("second EnsureBuckets: %v", err)
	}
	for _, b := range []string{s.EvidenceBucket(), s.DocumentsBucket()} {
		ok, err := s.Client().BucketExists(ctx, b)
		if err != nil || !ok {
			t.Errorf("bucket %s exists = %t, %v", b, ok, err)
		}
	}
	for _, b := range []string{s.EvidenceBucket(), s.DocumentsBucket()} {
		status, _, _, _, err := s.Client().GetObjectLockConfig(ctx, b)
		if err != nil || status != "Enabled" {
			t.Errorf("bucket %s object lock = %q, %v; want Enabled", b, status, err)
		}
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// TestBucketsWithoutLock: a bucket made by hand without object lock is
// refused as the evidence bucket, and as the documents bucket once it holds
// anything; an empty one (as earlier versions made the documents bucket)
// is made again with object lock.
func TestBucketsWithoutLock(t *testing.T) {
	s := storagetest.Objects(t)
	ctx := t.Context()
	base := strings.TrimSuffix(s.DocumentsBucket(), "documents")
	plain, empty := base+"plain", base+"empty"
	for _, b := range []string{plain, empty} {
		if err := s.Client().MakeBucket(ctx, b, minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Client().PutObject(ctx, plain, "x", strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // t.Context() is already cancelled here
		for _, b := range []string{plain, empty} {
			_ = s.Client().RemoveObject(context.Background(), b, "x", minio.RemoveObjectOptions{})
			if err := s.Client().RemoveBucket(context.Background(), b); err != nil {
				t.Errorf("removing bucket %s: %v", b, err)
			}
		}
	})
	cfg := storagetest.Config(t)
	open := func(evidence, documents string) *objects.Store {
		s2, err := objects.Open(ctx, objects.Options{
			Endpoint: cfg.MinIOEndpoint, AccessKey: cfg.MinIOAccessKey, SecretKey: cfg.MinIOSecretKey,
			Region: cfg.MinIORegion, Secure: cfg.MinIOSecure, EvidenceBucket: evidence, DocumentsBucket: documents,
		})
		if err != nil {
			t.Fatal(err)
		}
		return s2
	}
	for _, c := range [][2]string{{plain, s.DocumentsBucket()}, {s.EvidenceBucket(), plain}} {
		err := open(c[0], c[1]).EnsureBuckets(ctx)
		if code := backend.ErrorCode(err); code != backend.EINTERNAL {
			t.Fatalf("EnsureBuckets over the unlocked bucket %s: code %q (%v), want EINTERNAL", plain, code, err)
		}
		if msg := err.Error(); !strings.Contains(msg, plain) || !strings.Contains(msg, "without object lock") {
			t.Errorf("error %q does not name the bucket and say it lacks object lock", msg)
		}
	}
	if err := open(s.EvidenceBucket(), empty).EnsureBuckets(ctx); err != nil {
		t.Fatalf("EnsureBuckets over an empty unlocked documents bucket: %v", err)
	}
	if status, _, _, _, err := s.Client().GetObjectLockConfig(ctx, empty); err != nil || status != "Enabled" {
		t.Errorf("the empty documents bucket was not made again with object lock: %q, %v", status, err)
	}
}

func TestStatMissingIsNotFound(t *testing.T) {
	s := storagetest.Objects(t)
	ctx := t.Context()
	_, err := s.Client().StatObject(ctx, s.EvidenceBucket(), "no/such/object", minio.StatObjectOptions{})
	if code := backend.ErrorCode(objects.Translate(err)); code != backend.ENOTFOUND {
		t.Errorf("stat of a missing object: code %q (%v), want ENOTFOUND", code, err)
	}
	_, err = s.Client().StatObject(ctx, "suiji-no-such-bucket-"+strings.ToLower(t.Name()), "x", minio.StatObjectOptions{})
	if code := backend.ErrorCode(objects.Translate(err)); code != backend.ENOTFOUND {
		t.Errorf("stat in a missing bucket: code %q (%v), want ENOTFOUND", code, err)
	}
}

func TestRetentionBlocksDelete(t *testing.T) {
	// The evidence bucket's object lock is real: a version under retention
	// cannot be deleted. Governance mode, so that storagetest can remove it
	// with the bypass afterwards.
	s := storagetest.Objects(t)
	ctx := t.Context()
	until := time.Now().Add(time.Hour)
	mode := minio.Governance
	_, err := s.Client().PutObject(ctx, s.EvidenceBucket(), "photo.jpg", strings.NewReader("jpeg"), 4,
		minio.PutObjectOptions{ContentType: "image/jpeg", Mode: mode, RetainUntilDate: until})
	if err != nil {
		t.Fatalf("put under governance retention: %v", err)
	}
	info, err := s.Client().StatObject(ctx, s.EvidenceBucket(), "photo.jpg", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Client().RemoveObject(ctx, s.EvidenceBucket(), "photo.jpg", minio.RemoveObjectOptions{VersionID: info.VersionID})
	if err == nil {
		t.Fatal("a version under retention was deleted without the bypass; object lock does not work")
	}
}

func TestOpenUnreachable(t *testing.T) {
	start := time.Now()
	// Port 1 on loopback: nothing listens there, connections are refused.
	_, err := objects.Open(t.Context(), objects.Options{
		Endpoint: "127.0.0.1:1", AccessKey: "a", SecretKey: "secret-key",
		EvidenceBucket: "suiji-evidence", DocumentsBucket: "suiji-documents",
	})
	if code := backend.ErrorCode(err); code != backend.EUNAVAILABLE {
		t.Fatalf("Open of a closed port: code %q (%v), want EUNAVAILABLE", code, err)
	}
	if msg := backend.ErrorMessage(err); msg != "MinIO unreachable at http://127.0.0.1:1" {
		t.Errorf("message %q, want it to name MinIO and the address", msg)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Open took %v to give up", d)
	}
}

func TestOpenInvalid(t *testing.T) {
	for name, o := range map[string]objects.Options{
		"no endpoint":  {EvidenceBucket: "ev-bucket", DocumentsBucket: "doc-bucket"},
		"bad bucket":   {Endpoint: "127.0.0.1:1", EvidenceBucket: "Evidence_Bucket", DocumentsBucket: "doc-bucket"},
		"same buckets": {Endpoint: "127.0.0.1:1", EvidenceBucket: "one-bucket", DocumentsBucket: "one-bucket"},
	} {
		_, err := objects.Open(t.Context(), o)
		if code := backend.ErrorCode(err); code != backend.EINVALID {
			t.Errorf("%s: code %q (%v), want EINVALID", name, code, err)
		}
	}
}

func TestWrongCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs MinIO; skipped in short mode (testing.Short)")
	}
	cfg := storagetest.Config(t)
	_, err := objects.Open(t.Context(), objects.Options{
		Endpoint: cfg.MinIOEndpoint, AccessKey: "nobody", SecretKey: "wrong-secret", Region: cfg.MinIORegion,
		Secure: cfg.MinIOSecure, EvidenceBucket: "suiji-evidence", DocumentsBucket: "suiji-documents",
	})
	if code := backend.ErrorCode(err); code != backend.EUNAVAILABLE {
		t.Fatalf("Open with wrong credentials: code %q (%v), want EUNAVAILABLE", code, err)
	}
	if msg := backend.ErrorMessage(err); !strings.Contains(msg, "MinIO") {
		t.Errorf("message %q does not name MinIO", msg)
	}
}
