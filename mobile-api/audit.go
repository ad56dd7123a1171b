package mobileapi

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/audit"
)

// auditEventResponse is an audit event as the API shows it: every field the
// hash covers, with Time written exactly as the canonical encoding writes it
// (audit.TimeLayout), so that anyone can re-hash an event from this output.
type auditEventResponse struct {
	Seq          int64  `json:"seq"`
	Time         string `json:"time"`
	ActorID      string `json:"actor_id"`
	ActorName    string `json:"actor_name"`
	Action       string `json:"action"`
	ObjectType   string `json:"object_type"`
	ObjectID     string `json:"object_id"`
	BeforeDigest string `json:"before_digest"`
	AfterDigest  string `json:"after_digest"`
	RequestID    string `json:"request_id"`
	ClientIP     string `json:"client_ip"`
	PrevHash     string `json:"prev_hash"`
	Hash         string `json:"hash"`
}

func newAuditEventResponse(e *backend.AuditEvent) auditEventResponse {
	return auditEventResponse{
		Seq: e.Seq, Time: audit.FormatTime(e.Time),
		ActorID: e.ActorID, ActorName: e.ActorName, Action: e.Action,
		ObjectType: e.ObjectType, ObjectID: e.ObjectID,
		BeforeDigest: e.BeforeDigest, AfterDigest: e.AfterDigest,
		RequestID: e.RequestID, ClientIP: e.ClientIP,
		PrevHash: e.PrevHash, Hash: e.Hash,
	}
}

// auditListResponse is the body of GET /api/v1/audit. NextAfterSeq is the
// after_seq of the next page when this page is full, 0 when it is the last.
type auditListResponse struct {
	Events       []auditEventResponse `json:"events"`
	NextAfterSeq int64                `json:"next_after_seq"`
}

// handleAuditList is GET /api/v1/audit: the audit trail in Seq order,
// filtered by actor_id, action, object_type, object_id, from and to (RFC 3339,
// inclusive), paged by after_seq and limit (1…500, default 100). Every bad
// parameter is named in one EINVALID. The route table restricts it to
// coordinators (and admins).
func (s *Server) handleAuditList(c *fiber.Ctx) error {
	f, err := auditFilterFromQuery(c.Query)
	if err != nil {
		return err
	}
	events, err := s.svc.Audit.FindAuditEvents(c.UserContext(), f)
	if err != nil {
		return err
	}
	resp := auditListResponse{Events: make([]auditEventResponse, 0, len(events))}
	for _, e := range events {
		resp.Events = append(resp.Events, newAuditEventResponse(e))
	}
	if len(events) == f.Limit {
		resp.NextAfterSeq = events[len(events)-1].Seq
	}
	return c.JSON(resp)
}

// auditFilterFromQuery reads the audit listing's query parameters through
// query (c.Query). Strings are copied because Fiber reuses request memory.
func auditFilterFromQuery(query func(key string, def ...string) string) (backend.AuditFilter, error) {
	f := backend.AuditFilter{
		ActorID:    strings.Clone(query("actor_id")),
		Action:     strings.Clone(query("action")),
		ObjectType: strings.Clone(query("object_type")),
		ObjectID:   strings.Clone(query("object_id")),
		Limit:      backend.AuditDefaultLimit,
	}
	bad := map[string]string{}
	parseTime := func(name string) time.Time {
		raw := query(name)
		if raw == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339, raw)
		if err != nil {
			bad[name] = "must be an RFC 3339 time, e.g. 2026-03-01T08:00:00+08:00"
		}
		return t
	}
	f.From, f.To = parseTime("from"), parseTime("to")
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		bad["to"] = "must not be before from"
	}
	if raw := query("after_seq"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			bad["after_seq"] = "must be a non-negative integer"
		}
		f.AfterSeq = n
	}
	if raw := query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > backend.AuditMaxLimit {
			bad["limit"] = "must be an integer from 1 to " + strconv.Itoa(backend.AuditMaxLimit)
		}
		f.Limit = n
	}
	if len(bad) > 0 {
		return backend.AuditFilter{}, backend.InvalidFields("invalid query parameters", bad)
	}
	return f, nil
}

// auditHeadResponse is the body of GET /public/v1/audit/head.
type auditHeadResponse struct {
	Seq  int64  `json:"seq"`            // the newest event's seq; 0 for an empty chain
	Hash string `json:"hash"`           // its hash, which stands for the whole chain
	Time string `json:"time,omitempty"` // its time, as the canonical encoding writes it
}

// handleAuditHead is GET /public/v1/audit/head: the newest event's seq and
// hash, for anyone to write down. The chain alone cannot show that its
// newest events were deleted (or the whole chain rebuilt by someone who can
// recompute hashes); a head recorded outside the database can. It names no
// actor and no object, so it is public.
func (s *Server) handleAuditHead(c *fiber.Ctx) error {
	head, err := audit.Head(c.UserContext(), s.svc.Audit)
	if backend.ErrorCode(err) == backend.ENOTFOUND {
		return c.JSON(auditHeadResponse{})
	} else if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.JSON(auditHeadResponse{Seq: head.Seq, Hash: head.Hash, Time: audit.FormatTime(head.Time)})
}
