package objects

import (
	"bytes"
	"context"
	"io"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"suiji/backend"
)

var _ backend.ArchiveObjects = (*Store)(nil)

// shaMeta is the user metadata a document's SHA-256 is stored under
// (x-amz-meta-sha256), so a retry can tell its own earlier write.
const shaMeta = "Sha256"

// PutDocument implements backend.ArchiveObjects: the document goes to the
// documents bucket with COMPLIANCE retention for the configured period set
// on the version itself (besides the bucket's default), so nobody — not
// even MinIO's admin — can delete or overwrite it before then.
func (s *Store) PutDocument(ctx context.Context, key, contentType, sha256 string, body io.Reader, size int64) (string, error) {
	opts := minio.PutObjectOptions{ContentType: contentType, UserMetadata: map[string]string{shaMeta: sha256}, SendContentMd5: true}
	if until, ok := s.retainUntil(); ok && !s.unlocked {
		opts.Mode, opts.RetainUntilDate = minio.Compliance, until
	}
	info, err := s.client.PutObject(ctx, s.documents, key, body, size, opts)
	if err != nil {
		return "", wrap(err, "storing document %s", key)
	}
	return info.VersionID, nil
}

// StatDocument implements backend.ArchiveObjects.
func (s *Store) StatDocument(ctx context.Context, key string) (*backend.StoredObject, error) {
	info, err := s.client.StatObject(ctx, s.documents, key, minio.StatObjectOptions{})
	if err != nil {
		return nil, wrap(err, "reading document %s", key)
	}
	out := &backend.StoredObject{Size: info.Size, VersionID: info.VersionID}
	for k, v := range info.UserMetadata {
		if strings.EqualFold(k, shaMeta) {
			out.SHA256 = v
		}
	}
	return out, nil
}

// OpenDocument implements backend.ArchiveObjects.
func (s *Store) OpenDocument(ctx context.Context, key, versionID string) (io.ReadCloser, int64, error) {
	return s.openVersion(ctx, s.documents, key, versionID)
}

// OpenEvidenceVersion implements backend.ArchiveObjects.
func (s *Store) OpenEvidenceVersion(ctx context.Context, key, versionID string) (io.ReadCloser, int64, error) {
	return s.openVersion(ctx, s.evidence, key, versionID)
}

// openVersion streams one version of an object ("" or "null": the only
// one an unversioned bucket has, or the newest).
func (s *Store) openVersion(ctx context.Context, bucket, key, versionID string) (io.ReadCloser, int64, error) {
	opts := minio.GetObjectOptions{}
	if versionID != "" && versionID != "null" {
		opts.VersionID = versionID
	}
	obj, err := s.client.GetObject(ctx, bucket, key, opts)
	if err != nil {
		return nil, 0, wrap(err, "reading %s", key)
	}
	info, err := obj.Stat()
	if err != nil {
		_ = obj.Close()
		return nil, 0, wrap(err, "reading %s", key)
	}
	return obj, info.Size, nil
}

// PresignDocument implements backend.ArchiveObjects: the link names the
// version, so it serves the archived bytes even if a newer version were
// ever stored under the key.
func (s *Store) PresignDocument(ctx context.Context, key, versionID, filename string, ttl time.Duration) (string, error) {
	return s.presignVersion(ctx, s.documents, key, versionID, filename, ttl)
}

// PutRaw overwrites an object in place — possible only in a bucket
// without object lock (Options.Unlocked) — so that tests of archive
// verify can alter what is stored. Nothing but tests calls it.
func (s *Store) PutRaw(ctx context.Context, bucket, key string, data []byte) error {
	if !s.unlocked {
		return backend.Errorf(backend.EFORBIDDEN, "objects are only altered in an unlocked test store")
	}
	_, err := s.client.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	return wrap(err, "overwriting %s", key)
}
