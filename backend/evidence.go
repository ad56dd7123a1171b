package backend

import (
	"context"
	"io"
	"time"
)

// Evidence kinds (art. 20): what was captured on site, a report by another
// agency or an expert (with its source), or a member's signature.
const (
	EvidencePhoto          = "photo"
	EvidenceVideo          = "video"
	EvidenceAudio          = "audio"
	EvidenceDocument       = "document"
	EvidenceExternalReport = "external_report"
	EvidenceSignature      = "signature"
)

// EvidenceKinds lists every kind.
var EvidenceKinds = []string{EvidencePhoto, EvidenceVideo, EvidenceAudio, EvidenceDocument, EvidenceExternalReport, EvidenceSignature}

// Evidence states: pending until the upload is completed and checked,
// then verified, or rejected with the reason.
const (
	EvidencePending  = "pending"
	EvidenceVerified = "verified"
	EvidenceRejected = "rejected"
)

// Evidence is one file of a task's evidence (证据材料). Its bytes go from the
// phone straight to the object store with presigned instructions, never
// through the API; the declared size, SHA-256 and content type are checked
// against what was stored before it counts.
type Evidence struct {
	ID          string // client-generated (a UUID), so phones create evidence offline
	TaskID      string
	Kind        string
	ContentType string // declared
	Size        int64  // declared, bytes
	SHA256      string // declared, lowercase hex
	TakenAt     *time.Time
	Lat, Lng    *float64
	Source      string // external_report: the agency or expert it comes from
	Description string

	ObjectKey string
	Multipart bool
	UploadID  string // multipart upload in progress
	PartSize  int64

	State        string
	RejectReason string
	VersionID    string // the stored object version (retained under WORM)
	SniffedType  string // the content type the bytes show
	EXIFTime     *time.Time
	EXIFLat      *float64
	EXIFLng      *float64

	CreatedBy   string
	CreatedAt   time.Time
	CompletedAt *time.Time
}

// EvidenceStore keeps evidence records.
type EvidenceStore interface {
	// CreateEvidence stores e. ECONFLICT when its id is taken.
	CreateEvidence(ctx context.Context, e *Evidence) error
	// FindEvidence returns one. ENOTFOUND.
	FindEvidence(ctx context.Context, id string) (*Evidence, error)
	// FindEvidenceByTask lists a task's evidence by creation.
	FindEvidenceByTask(ctx context.Context, taskID string) ([]*Evidence, error)
	// SettleEvidence stores e's outcome if it is still pending: ECONFLICT
	// when another request settled it first.
	SettleEvidence(ctx context.Context, e *Evidence) error
	// FindStaleUploads lists pending evidence created before t.
	FindStaleUploads(ctx context.Context, before time.Time) ([]*Evidence, error)
	// WalkVerifiedEvidence calls fn for every verified piece of evidence
	// until fn returns an error, which it returns (archive verify).
	WalkVerifiedEvidence(ctx context.Context, fn func(*Evidence) error) error
}

// UploadPart is one stored part of a multipart upload.
type UploadPart struct {
	Number int
	Size   int64
	ETag   string
}

// PresignedPost is a presigned POST policy: the form fields to send, the
// file last, to the URL. The policy fixes the key, the content type and
// the exact length, so the store itself refuses anything else.
type PresignedPost struct {
	URL    string
	Fields map[string]string
}

// EvidenceObjects is the evidence bucket of the object store (MinIO): it
// presigns uploads for phones (at the address phones reach) and reads
// back what they stored. Objects are under default WORM retention.
type EvidenceObjects interface {
	// PresignPost returns a POST policy for exactly one object of the given
	// key, content type and size, valid for ttl.
	PresignPost(ctx context.Context, key, contentType string, size int64, ttl time.Duration) (*PresignedPost, error)
	// StartMultipart begins a multipart upload and returns its id.
	StartMultipart(ctx context.Context, key, contentType string) (string, error)
	// PresignPart returns a PUT URL for part n (1-based) of an upload
	// that takes a body of exactly size bytes: the length is signed into
	// the URL, so the store refuses any other (and a body without a
	// length). EINVALID for a part number or size below 1.
	PresignPart(ctx context.Context, key, uploadID string, n int, size int64, ttl time.Duration) (string, error)
	// ListParts lists the parts of an upload stored so far. ENOTFOUND when
	// the upload is not in progress (completed or aborted).
	ListParts(ctx context.Context, key, uploadID string) ([]UploadPart, error)
	// CompleteMultipart assembles the parts into the object.
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []UploadPart) error
	// AbortMultipart drops an upload and its parts (nil when it is not
	// in progress any more).
	AbortMultipart(ctx context.Context, key, uploadID string) error
	// Discard removes one stored version of key, of an upload that was
	// rejected; nil when it is gone already. ECONFLICT when retention
	// keeps it (an assembled multipart upload has the bucket's default
	// retention from the moment it is assembled).
	Discard(ctx context.Context, key, versionID string) error
	// Open streams a stored object and returns its size and version.
	// ENOTFOUND when nothing is stored under key.
	Open(ctx context.Context, key string) (io.ReadCloser, int64, string, error)
	// Retain puts the stored version under COMPLIANCE retention for the
	// configured period (it never shortens one). Only verified evidence
	// is retained so: a version under COMPLIANCE retention can never be
	// removed.
	Retain(ctx context.Context, key, versionID string) error
	// PresignGet returns a short-lived download link to one version of
	// key (the one recorded when the evidence was verified; "" for the
	// newest), so that it serves the verified bytes whatever is stored
	// under the key later.
	PresignGet(ctx context.Context, key, versionID, filename string, ttl time.Duration) (string, error)
}
