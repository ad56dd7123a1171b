package mobileapi

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// OpenAPI is the API contract, served at /openapi.json. A test checks that
// every route the server registers is documented here.
//
//go:embed openapi.json
var OpenAPI []byte

func (s *Server) handleOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(OpenAPI)
}
