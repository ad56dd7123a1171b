package results

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"suiji/backend"
)

// Archive is what the archive holds of one task: its records (the task
// with its on-site record, the result side, the findings and the
// non-cooperation), its documents and its evidence, each with its hash.
type Archive struct {
	Task           *backend.Task
	Result         *backend.TaskResult
	Findings       []*backend.Finding
	NonCooperation []*backend.NonCooperation
	Evidence       []*backend.Evidence
	Documents      []*backend.ArchivedDocument
}

// DocumentLink is a short-lived download link to one document.
type DocumentLink struct {
	URL       string
	ExpiresAt time.Time
}

// GetArchive returns the archive of a task the actor may see (its
// departments' staff, the coordinator and leaders, its group); ENOTFOUND
// for anyone else.
func (s *Service) GetArchive(ctx context.Context, id string) (*Archive, error) {
	t, r, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	a := &Archive{Task: t, Result: r}
	if a.Findings, err = s.Findings.FindFindingsByTask(ctx, t.ID); err != nil {
		return nil, err
	}
	if a.NonCooperation, err = s.NonCooperation.FindNonCooperationByTask(ctx, t.ID); err != nil {
		return nil, err
	}
	if a.Evidence, err = s.Evidence.FindEvidenceByTask(ctx, t.ID); err != nil {
		return nil, err
	}
	if a.Documents, err = s.Archive.FindArchivedDocuments(ctx, t.ID); err != nil {
		return nil, err
	}
	return a, nil
}

// DocumentLinks presigns a download link per document of a, by record
// id, each naming the archived version; whoever may see the task may
// download its documents, as its evidence. None without an object store.
func (s *Service) DocumentLinks(ctx context.Context, a *Archive) (map[string]DocumentLink, error) {
	out := map[string]DocumentLink{}
	if s.Objects == nil {
		return out, nil
	}
	expires := s.Now().UTC().Add(DocumentLinkTTL)
	for _, d := range a.Documents {
		u, err := s.Objects.PresignDocument(ctx, d.ObjectKey, d.VersionID, d.Kind+".pdf", DocumentLinkTTL)
		if err != nil {
			return nil, err
		}
		out[d.ID] = DocumentLink{URL: u, ExpiresAt: expires}
	}
	return out, nil
}

// ArchiveDifference is one archived object that is not as its record
// says.
type ArchiveDifference struct {
	Object    string // "document" or "evidence"
	ID        string // the record's id
	TaskID    string
	ObjectKey string
	VersionID string
	Problem   string // e.g. "missing", "SHA-256 … differs from the recorded …"
}

func (d ArchiveDifference) String() string {
	return fmt.Sprintf("%s %s (task %s, %s version %q): %s", d.Object, d.ID, d.TaskID, d.ObjectKey, d.VersionID, d.Problem)
}

// ArchiveReport counts what VerifyArchive checked.
type ArchiveReport struct {
	Documents, Evidence int
	Bytes               int64
	Differences         int
}

// VerifyArchive re-hashes every archived object — each document and each
// verified piece of evidence, in the version its record names — against
// its record, streaming (never a whole file in memory), and calls found
// for every difference: missing, or its size or SHA-256 not the recorded
// one. An error means the check could not be completed (a store
// unreachable), not that something differs.
func (s *Service) VerifyArchive(ctx context.Context, found func(ArchiveDifference)) (*ArchiveReport, error) {
	rep := &ArchiveReport{}
	check := func(d ArchiveDifference, size int64, sum string, open func() (io.ReadCloser, int64, error)) error {
		problem, n, err := rehash(open, size, sum)
		rep.Bytes += n
		if err != nil {
			return fmt.Errorf("%s %s: %w", d.Object, d.ID, err)
		}
		if problem != "" {
			d.Problem = problem
			rep.Differences++
			found(d)
		}
		return nil
	}
	err := s.Archive.WalkArchivedDocuments(ctx, func(doc *backend.ArchivedDocument) error {
		rep.Documents++
		return check(ArchiveDifference{Object: "document", ID: doc.ID, TaskID: doc.TaskID, ObjectKey: doc.ObjectKey, VersionID: doc.VersionID},
			doc.Size, doc.SHA256, func() (io.ReadCloser, int64, error) { return s.Objects.OpenDocument(ctx, doc.ObjectKey, doc.VersionID) })
	})
	if err != nil {
		return rep, err
	}
	err = s.Evidence.WalkVerifiedEvidence(ctx, func(e *backend.Evidence) error {
		rep.Evidence++
		return check(ArchiveDifference{Object: "evidence", ID: e.ID, TaskID: e.TaskID, ObjectKey: e.ObjectKey, VersionID: e.VersionID},
			e.Size, e.SHA256, func() (io.ReadCloser, int64, error) {
				return s.Objects.OpenEvidenceVersion(ctx, e.ObjectKey, e.VersionID)
			})
	})
	return rep, err
}

// rehash streams an object and says how it differs from size and sum ("" when
// it does not), with the bytes read.
func rehash(open func() (io.ReadCloser, int64, error), size int64, sum string) (string, int64, error) {
	body, stored, err := open()
	if backend.ErrorCode(err) == backend.ENOTFOUND {
		return "missing from storage", 0, nil
	} else if err != nil {
		return "", 0, err
	}
	defer body.Close()
	h := sha256.New()
	n, err := io.Copy(h, body)
	if err != nil {
		return "", n, backend.Wrap(err, backend.EUNAVAILABLE, "reading the stored object")
	}
	got := hex.EncodeToString(h.Sum(nil))
	switch {
	case n != size || stored != size:
		return fmt.Sprintf("size %d bytes differs from the recorded %d (SHA-256 %s, recorded %s)", n, size, got, sum), n, nil
	case got != sum:
		return fmt.Sprintf("SHA-256 %s differs from the recorded %s", got, sum), n, nil
	}
	return "", n, nil
}
