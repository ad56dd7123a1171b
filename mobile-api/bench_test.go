package mobileapi

import (
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// BenchmarkMiddleware measures what the server's middleware (request id,
// access log, metrics, recovery, error handling) costs per request: "bare"
// is a Fiber app answering the same JSON with no middleware, the baseline
// that "full" is read against (report full/bare as the ratio).
func BenchmarkMiddleware(b *testing.B) {
	bare := fiber.New(fiber.Config{DisableStartupMessage: true})
	bare.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(HealthResponse{Status: "ok"}) })
	full := newTestServer(b, Config{}).App()

	for name, app := range map[string]*fiber.App{"bare": bare, "full": full} {
		b.Run(name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/healthz", nil)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := app.Test(req, -1)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("status %v, %v", resp, err)
				}
				resp.Body.Close()
			}
		})
	}
}
