package mobileapi

import (
	"github.com/gofiber/fiber/v2"

	"suiji/backend/audit"
)

// handleAuditVerify is GET /api/v1/audit/verify: it walks the whole audit
// chain (audit.Verify, what `suiji audit verify` runs) and reports whether
// it holds, and if not, its first break.
func (s *Server) handleAuditVerify(c *fiber.Ctx) error {
	rep, err := audit.Verify(c.UserContext(), s.svc.Audit)
	if err != nil {
		return err
	}
	out := fiber.Map{"intact": rep.Break == nil, "events": rep.Events, "head": rep.Head, "break": nil}
	if b := rep.Break; b != nil {
		out["break"] = fiber.Map{"seq": b.Seq, "found": b.Found, "kind": string(b.Kind), "message": b.Message}
	}
	return c.JSON(out)
}
