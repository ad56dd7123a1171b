package objects

import (
	"context"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/minio/minio-go/v7"

	"suiji/backend"
)

var _ backend.EvidenceObjects = (*Store)(nil)

// PresignPost implements backend.EvidenceObjects: the policy pins the
// key, the content type and the exact length.
func (s *Store) PresignPost(ctx context.Context, key, contentType string, size int64, ttl time.Duration) (*backend.PresignedPost, error) {
	p := minio.NewPostPolicy()
	for _, err := range []error{
		p.SetBucket(s.evidence), p.SetKey(key), p.SetExpires(time.Now().UTC().Add(ttl)),
		p.SetContentType(contentType), p.SetContentLengthRange(size, size),
	} {
		if err != nil {
			return nil, backend.Wrap(err, backend.EINVALID, "the upload cannot be presigned")
		}
	}
	u, fields, err := s.presigner.PresignedPostPolicy(ctx, p)
	if err != nil {
		return nil, wrap(err, "presigning an upload")
	}
	return &backend.PresignedPost{URL: u.String(), Fields: fields}, nil
}

// StartMultipart implements backend.EvidenceObjects.
func (s *Store) StartMultipart(ctx context.Context, key, contentType string) (string, error) {
	id, err := s.core().NewMultipartUpload(ctx, s.evidence, key, minio.PutObjectOptions{ContentType: contentType})
	return id, wrap(err, "starting a multipart upload")
}

// PresignPart implements backend.EvidenceObjects: the URL signs the
// part's exact length (X-Amz-SignedHeaders names content-length), and
// MinIO checks the signature against the request's own Content-Length,
// so it refuses a body of any other length with 403
// SignatureDoesNotMatch, and stores no more than the declared length of
// a body that runs on (seen with the pinned MinIO; TestPartURLPinsLength).
// A PUT without a Content-Length (chunked) it refuses anyway (411).
// Without the signed length a part URL took up to 5 GiB whatever the
// evidence declared. Every HTTP client sends the length of a body it
// knows (a Blob, a byte slice, a file) by itself.
func (s *Store) PresignPart(ctx context.Context, key, uploadID string, n int, size int64, ttl time.Duration) (string, error) {
	if n < 1 || size < 1 {
		return "", backend.Errorf(backend.EINVALID, "part %d of %d bytes cannot be presigned", n, size)
	}
	q := url.Values{"partNumber": {strconv.Itoa(n)}, "uploadId": {uploadID}}
	h := http.Header{"Content-Length": {strconv.FormatInt(size, 10)}}
	u, err := s.presigner.PresignHeader(ctx, http.MethodPut, s.evidence, key, ttl, q, h)
	if err != nil {
		return "", wrap(err, "presigning part %d", n)
	}
	return u.String(), nil
}

// ListParts implements backend.EvidenceObjects.
func (s *Store) ListParts(ctx context.Context, key, uploadID string) ([]backend.UploadPart, error) {
	var out []backend.UploadPart
	marker := 0
	for {
		res, err := s.core().ListObjectParts(ctx, s.evidence, key, uploadID, marker, 1000)
		if code := minio.ToErrorResponse(err).Code; code == "NoSuchUpload" {
			return nil, backend.Wrap(err, backend.ENOTFOUND, "the upload is not in progress")
		} else if err != nil {
			return nil, wrap(err, "listing the parts of an upload")
		}
		for _, p := range res.ObjectParts {
			out = append(out, backend.UploadPart{Number: p.PartNumber, Size: p.Size, ETag: p.ETag})
		}
		if !res.IsTruncated {
			return out, nil
		}
		marker = res.NextPartNumberMarker
	}
}

// CompleteMultipart implements backend.EvidenceObjects.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []backend.UploadPart) error {
	complete := make([]minio.CompletePart, len(parts))
	for i, p := range parts {
		complete[i] = minio.CompletePart{PartNumber: p.Number, ETag: p.ETag}
	}
	_, err := s.core().CompleteMultipartUpload(ctx, s.evidence, key, uploadID, complete, minio.PutObjectOptions{})
	if code := minio.ToErrorResponse(err).Code; code == "NoSuchUpload" {
		return backend.Wrap(err, backend.ENOTFOUND, "the upload is not in progress")
	} else if code == "InvalidPart" || code == "EntityTooSmall" || code == "InvalidPartOrder" {
		return backend.Wrap(err, backend.EINVALID, "the uploaded parts cannot be assembled: %s", code)
	}
	return wrap(err, "completing a multipart upload")
}

// AbortMultipart implements backend.EvidenceObjects.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	err := s.core().AbortMultipartUpload(ctx, s.evidence, key, uploadID)
	if minio.ToErrorResponse(err).Code == "NoSuchUpload" {
		return nil
	}
	return wrap(err, "aborting a multipart upload")
}

// Discard implements backend.EvidenceObjects: it removes the one version
// a rejected upload stored ("" or "null": the only one of an unversioned
// bucket). A version under retention stays, ECONFLICT: MinIO gives an
// assembled multipart upload the bucket's default retention, and WORM
// means what it says. A version gone already is no error.
func (s *Store) Discard(ctx context.Context, key, versionID string) error {
	err := s.client.RemoveObject(ctx, s.evidence, key, minio.RemoveObjectOptions{VersionID: versionID})
	if err == nil {
		return nil
	}
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchKey", "NoSuchVersion":
		return nil
	}
	if until, held := s.retained(ctx, key, versionID); held {
		return backend.Wrap(err, backend.ECONFLICT, "%s is retained until %s", key, until.Format(time.RFC3339))
	}
	return wrap(err, "removing %s", key)
}

// retained reports whether retention or a legal hold keeps a version,
// and until when (zero for a legal hold).
func (s *Store) retained(ctx context.Context, key, versionID string) (time.Time, bool) {
	if mode, until, err := s.client.GetObjectRetention(ctx, s.evidence, key, versionID); err == nil && mode != nil && until != nil && until.After(time.Now()) {
		return *until, true
	}
	hold, err := s.client.GetObjectLegalHold(ctx, s.evidence, key, minio.GetObjectLegalHoldOptions{VersionID: versionID})
	return time.Time{}, err == nil && hold != nil && *hold == minio.LegalHoldEnabled
}

// Open implements backend.EvidenceObjects.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, int64, string, error) {
	obj, err := s.client.GetObject(ctx, s.evidence, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, "", wrap(err, "reading %s", key)
	}
	info, err := obj.Stat()
	if err != nil {
		_ = obj.Close()
		return nil, 0, "", wrap(err, "reading %s", key)
	}
	return obj, info.Size, info.VersionID, nil
}

// Retain implements backend.EvidenceObjects: COMPLIANCE retention on the
// version from now for the configured period, unless it is retained at
// least that long already (retention never shortens). It is needed
// because MinIO applies the bucket's default retention to PUT and
// multipart uploads but not to POST-policy uploads (nor to object-lock
// fields in the policy): seen with the pinned MinIO, tested.
func (s *Store) Retain(ctx context.Context, key, versionID string) error {
	until, ok := s.retainUntil()
	if !ok {
		return nil
	}
	mode, have, err := s.client.GetObjectRetention(ctx, s.evidence, key, versionID)
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchObjectLockConfiguration" {
		return wrap(err, "reading the retention of %s", key)
	}
	if mode != nil && *mode == minio.Compliance && have != nil && !have.Before(until.Add(-24*time.Hour)) {
		return nil
	}
	compliance := minio.Compliance
	return wrap(s.client.PutObjectRetention(ctx, s.evidence, key, minio.PutObjectRetentionOptions{
		Mode: &compliance, RetainUntilDate: &until, VersionID: versionID,
	}), "retaining %s", key)
}

// retainUntil is when evidence stored now may first be deleted.
func (s *Store) retainUntil() (time.Time, bool) {
	now := time.Now().UTC()
	switch {
	case s.retention.RetentionYears > 0:
		return now.AddDate(s.retention.RetentionYears, 0, 0), true
	case s.retention.RetentionDays > 0:
		return now.AddDate(0, 0, s.retention.RetentionDays), true
	}
	return time.Time{}, false
}

// PresignGet implements backend.EvidenceObjects: the link names the
// version, so it serves the verified bytes even if a newer version were
// ever stored under the key.
func (s *Store) PresignGet(ctx context.Context, key, versionID, filename string, ttl time.Duration) (string, error) {
	return s.presignVersion(ctx, s.evidence, key, versionID, filename, ttl)
}

// presignVersion is a download link to one version of an object ("" or
// "null": the only one an unversioned bucket has, or the newest), as an
// attachment named filename unless that is "".
func (s *Store) presignVersion(ctx context.Context, bucket, key, versionID, filename string, ttl time.Duration) (string, error) {
	q := url.Values{}
	if versionID != "" && versionID != "null" {
		q.Set("versionId", versionID)
	}
	if filename != "" {
		q.Set("response-content-disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	}
	u, err := s.presigner.PresignedGetObject(ctx, bucket, key, ttl, q)
	if err != nil {
		return "", wrap(err, "presigning a download")
	}
	return u.String(), nil
}

func (s *Store) core() minio.Core { return minio.Core{Client: s.client} }
