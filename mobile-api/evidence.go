package mobileapi

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/tasks"
)

// evidenceJSON is a piece of evidence as the API shows it.
type evidenceJSON struct {
	ID           string     `json:"id"`
	TaskID       string     `json:"task_id"`
	Kind         string     `json:"kind"`
	ContentType  string     `json:"content_type"`
	Size         int64      `json:"size"`
	SHA256       string     `json:"sha256"`
	TakenAt      *time.Time `json:"taken_at"`
	Lat          *float64   `json:"lat"`
	Lng          *float64   `json:"lng"`
	Source       string     `json:"source,omitempty"`
	Description  string     `json:"description,omitempty"`
	State        string     `json:"state"`
	RejectReason string     `json:"reject_reason,omitempty"`
	SniffedType  string     `json:"sniffed_type,omitempty"`
	EXIFTime     *time.Time `json:"exif_time,omitempty"`
	EXIFLat      *float64   `json:"exif_lat,omitempty"`
	EXIFLng      *float64   `json:"exif_lng,omitempty"`
	CreatedBy    string     `json:"created_by"`
	CreatedAt    time.Time  `json:"created_at"`
	CompletedAt  *time.Time `json:"completed_at"`

	Upload    *postUploadJSON      `json:"upload,omitempty"`    // a small file: one POST
	Multipart *multipartUploadJSON `json:"multipart,omitempty"` // a large one: parts
}

type postUploadJSON struct {
	Method    string            `json:"method"` // POST
	URL       string            `json:"url"`
	Fields    map[string]string `json:"fields"` // form fields before the file (field "file", last)
	ExpiresAt time.Time         `json:"expires_at"`
}

type partJSON struct {
	Number int    `json:"number"`
	URL    string `json:"url,omitempty"`
	Size   int64  `json:"size,omitempty"`
	ETag   string `json:"etag,omitempty"`
}

type multipartUploadJSON struct {
	UploadID  string     `json:"upload_id"`
	PartSize  int64      `json:"part_size"`
	Parts     []partJSON `json:"parts"`  // PUT each (the body is the part's bytes)
	Stored    []partJSON `json:"stored"` // already stored (resume)
	ExpiresAt time.Time  `json:"expires_at"`
}

func newEvidenceJSON(e *backend.Evidence, plan *tasks.UploadPlan) evidenceJSON {
	out := evidenceJSON{
		ID: e.ID, TaskID: e.TaskID, Kind: e.Kind, ContentType: e.ContentType, Size: e.Size, SHA256: e.SHA256,
		TakenAt: e.TakenAt, Lat: e.Lat, Lng: e.Lng, Source: e.Source, Description: e.Description, State: e.State,
		RejectReason: e.RejectReason, SniffedType: e.SniffedType, EXIFTime: e.EXIFTime, EXIFLat: e.EXIFLat, EXIFLng: e.EXIFLng,
		CreatedBy: e.CreatedBy, CreatedAt: e.CreatedAt, CompletedAt: e.CompletedAt,
	}
	switch {
	case plan == nil:
	case plan.Post != nil:
		out.Upload = &postUploadJSON{Method: "POST", URL: plan.Post.URL, Fields: plan.Post.Fields, ExpiresAt: plan.ExpiresAt}
	default:
		m := &multipartUploadJSON{UploadID: plan.UploadID, PartSize: plan.PartSize, Parts: []partJSON{}, Stored: []partJSON{}, ExpiresAt: plan.ExpiresAt}
		for _, p := range plan.Parts {
			m.Parts = append(m.Parts, partJSON{Number: p.Number, URL: p.URL})
		}
		for _, p := range plan.Stored {
			m.Stored = append(m.Stored, partJSON{Number: p.Number, Size: p.Size, ETag: p.ETag})
		}
		out.Multipart = m
	}
	return out
}

// evidenceRequest is the body of POST /api/v1/tasks/{id}/evidence.
type evidenceRequest struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"`
	ContentType string     `json:"content_type"`
	Size        int64      `json:"size"`
	SHA256      string     `json:"sha256"`
	TakenAt     *time.Time `json:"taken_at"`
	Lat         *float64   `json:"lat"`
	Lng         *float64   `json:"lng"`
	Source      string     `json:"source"`
	Description string     `json:"description"`
}

func (s *Server) handleCreateEvidence(c *fiber.Ctx) error {
	var req evidenceRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	e, plan, created, err := s.svc.Tasks.CreateEvidence(c.UserContext(), c.Params("id"), tasks.EvidenceInput{
		ID: req.ID, Kind: req.Kind, ContentType: req.ContentType, Size: req.Size, SHA256: req.SHA256, TakenAt: req.TakenAt,
		Lat: req.Lat, Lng: req.Lng, Source: req.Source, Description: req.Description,
	})
	if err != nil {
		return err
	}
	c.Location("/api/v1/evidence/" + e.ID)
	return c.Status(createdOr200(created)).JSON(newEvidenceJSON(e, plan))
}

func (s *Server) handleListEvidence(c *fiber.Ctx) error {
	list, err := s.svc.Tasks.ListEvidence(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	out := make([]evidenceJSON, len(list))
	for i, e := range list {
		out[i] = newEvidenceJSON(e, nil)
	}
	return c.JSON(fiber.Map{"evidence": out})
}

// handleEvidenceParts is the resume point of a multipart upload.
func (s *Server) handleEvidenceParts(c *fiber.Ctx) error {
	e, plan, err := s.svc.Tasks.EvidenceParts(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(newEvidenceJSON(e, plan))
}

func (s *Server) handleCompleteEvidence(c *fiber.Ctx) error {
	e, err := s.svc.Tasks.CompleteEvidence(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(newEvidenceJSON(e, nil))
}

func (s *Server) handleDownloadEvidence(c *fiber.Ctx) error {
	u, expires, err := s.svc.Tasks.DownloadEvidence(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"url": u, "expires_at": expires})
}
