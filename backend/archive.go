package backend

import (
	"context"
	"io"
	"time"
)

// Kinds of archived documents (art. 22): the statutory documents generated
// from an approved inspection.
const (
	DocumentInspectionRecord   = "inspection_record"   // 现场检查记录
	DocumentRectificationOrder = "rectification_order" // 责令限期整改指令书
)

// DocumentKinds lists the kinds in the order a task's archive shows them.
var DocumentKinds = []string{DocumentInspectionRecord, DocumentRectificationOrder}

// ArchivedDocument is the record of one generated document in the WORM
// documents bucket: where it is (key and version) and what it is (size
// and SHA-256), so that anyone can check the stored bytes against it.
// Records are written once and never changed or deleted.
type ArchivedDocument struct {
	ID          string // deterministic from task and kind: a retry finds the record it made
	TaskID      string
	Kind        string // one of DocumentKinds
	Number      string // the document's number (文书编号)
	ObjectKey   string
	VersionID   string // the stored object version ("" in an unversioned bucket)
	ContentType string
	Size        int64
	SHA256      string // lowercase hex
	GeneratedAt time.Time
}

// ArchiveStore keeps the records of archived documents.
type ArchiveStore interface {
	// InsertArchivedDocument stores d. ECONFLICT when its id (its task
	// and kind) is stored already.
	InsertArchivedDocument(ctx context.Context, d *ArchivedDocument) error
	// FindArchivedDocument returns one record. ENOTFOUND.
	FindArchivedDocument(ctx context.Context, id string) (*ArchivedDocument, error)
	// FindArchivedDocuments lists a task's records by kind.
	FindArchivedDocuments(ctx context.Context, taskID string) ([]*ArchivedDocument, error)
	// WalkArchivedDocuments calls fn for every record, by task, until fn
	// returns an error, which it returns.
	WalkArchivedDocuments(ctx context.Context, fn func(*ArchivedDocument) error) error
}

// StoredObject is what the object store says of one stored object.
type StoredObject struct {
	Size      int64
	VersionID string
	SHA256    string // the SHA-256 recorded with it when it was written ("" if none)
}

// ArchiveObjects is the object store as the archive uses it: documents
// are written to the WORM documents bucket (COMPLIANCE retention, no
// delete), and documents and evidence are read back by the version their
// records name.
type ArchiveObjects interface {
	// PutDocument stores a document of size bytes under key with its
	// SHA-256 and COMPLIANCE retention, and returns the version stored.
	PutDocument(ctx context.Context, key, contentType, sha256 string, body io.Reader, size int64) (string, error)
	// StatDocument describes the newest version under key. ENOTFOUND.
	StatDocument(ctx context.Context, key string) (*StoredObject, error)
	// OpenDocument streams a version of a document ("" for the newest)
	// and returns its size. ENOTFOUND.
	OpenDocument(ctx context.Context, key, versionID string) (io.ReadCloser, int64, error)
	// OpenEvidenceVersion streams a version of an evidence object ("" for
	// the newest) and returns its size. ENOTFOUND.
	OpenEvidenceVersion(ctx context.Context, key, versionID string) (io.ReadCloser, int64, error)
	// PresignDocument returns a short-lived download link to a version of
	// a document.
	PresignDocument(ctx context.Context, key, versionID, filename string, ttl time.Duration) (string, error)
}
