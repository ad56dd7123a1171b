package mobileapi

import (
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/results"
)

// archiveJSON is a task's archive (art. 22): its records — the task with
// its on-site record, the result side, the findings, the non-cooperation
// — its documents and its evidence, each with the SHA-256 recorded when
// it was stored. suiji archive export writes the same JSON (without
// links) into a bundle.
type archiveJSON struct {
	TaskID         string               `json:"task_id"`
	Task           taskJSON             `json:"task"`
	Result         resultJSON           `json:"result"`
	Findings       []findingJSON        `json:"findings"`
	NonCooperation []nonCooperationJSON `json:"non_cooperation"`
	Documents      []archiveDocJSON     `json:"documents"`
	Evidence       []archiveEvidence    `json:"evidence"`
	// DocumentsPending is set while an approved result's documents are
	// still to be archived (they follow within a scheduler interval).
	DocumentsPending bool `json:"documents_pending"`
}

type archiveDocJSON struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Number      string    `json:"number"`
	ObjectKey   string    `json:"object_key"`
	VersionID   string    `json:"version_id"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	GeneratedAt time.Time `json:"generated_at"`
	// A short-lived link to the archived version (none in a bundle).
	URL          string     `json:"url,omitempty"`
	URLExpiresAt *time.Time `json:"url_expires_at,omitempty"`
}

// archiveEvidence is evidence with where its archived version is.
type archiveEvidence struct {
	evidenceJSON
	ObjectKey string `json:"object_key"`
	VersionID string `json:"version_id"`
}

func newArchiveJSON(a *results.Archive, viewer string, links map[string]results.DocumentLink) archiveJSON {
	out := archiveJSON{
		TaskID: a.Task.ID, Task: newTaskJSON(a.Task, viewer), Result: newResultJSON(a.Task, a.Result),
		Findings: []findingJSON{}, NonCooperation: []nonCooperationJSON{}, Documents: []archiveDocJSON{}, Evidence: []archiveEvidence{},
		DocumentsPending: a.Result.DocumentsPending,
	}
	for _, f := range a.Findings {
		out.Findings = append(out.Findings, newFindingJSON(f))
	}
	for _, n := range a.NonCooperation {
		out.NonCooperation = append(out.NonCooperation, newNonCooperationJSON(n))
	}
	for _, d := range a.Documents {
		j := archiveDocJSON{ID: d.ID, Kind: d.Kind, Number: d.Number, ObjectKey: d.ObjectKey, VersionID: d.VersionID,
			ContentType: d.ContentType, Size: d.Size, SHA256: d.SHA256, GeneratedAt: d.GeneratedAt}
		if l, ok := links[d.ID]; ok {
			j.URL, j.URLExpiresAt = l.URL, &l.ExpiresAt
		}
		out.Documents = append(out.Documents, j)
	}
	for _, e := range a.Evidence {
		out.Evidence = append(out.Evidence, archiveEvidence{newEvidenceJSON(e, nil), e.ObjectKey, e.VersionID})
	}
	return out
}

// ArchiveJSON is the archive of a task as the API lists it, without
// download links: what suiji archive export writes into a bundle.
func ArchiveJSON(a *results.Archive) ([]byte, error) {
	return json.MarshalIndent(newArchiveJSON(a, "", nil), "", "  ")
}

func (s *Server) handleArchive(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, err := s.svc.Results.GetArchive(ctx, c.Params("id"))
	if err != nil {
		return err
	}
	links, err := s.svc.Results.DocumentLinks(ctx, a)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store") // the links are short-lived
	return c.JSON(newArchiveJSON(a, backend.ActorFromContext(ctx).UserID, links))
}
