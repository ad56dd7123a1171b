package mobileapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"suiji/backend/app"
)

// TestAccessLogNamesTheObjects: the request line carries the ids of the
// draw, task, evidence (and any other object) its route names, and the id
// of an object it created.
func TestAccessLogNamesTheObjects(t *testing.T) {
	var logs bytes.Buffer
	s := New(Config{BodyLimit: 1 << 20}, slog.New(slog.NewJSONHandler(&logs, nil)), nil, app.Services{})
	s.App().Post("/t/draws/:id/dispatch", func(c *fiber.Ctx) error { return c.SendStatus(200) })
	s.App().Put("/t/tasks/:id/items/:item_id", func(c *fiber.Ctx) error { return c.SendStatus(200) })
	s.App().Post("/t/evidence/:id/complete", func(c *fiber.Ctx) error { return c.SendStatus(200) })
	s.App().Post("/t/tasks/:id/evidence", func(c *fiber.Ctx) error {
		c.Location("/t/evidence/ev-9")
		return c.SendStatus(201)
	})
	for path, want := range map[string]map[string]string{
		"POST /t/draws/d-1/dispatch":     {"draw_id": "d-1"},
		"PUT /t/tasks/t-2/items/i-3":     {"task_id": "t-2", "item_id": "i-3"},
		"POST /t/evidence/ev-4/complete": {"evidence_id": "ev-4"},
		"POST /t/tasks/t-5/evidence":     {"task_id": "t-5", "created_id": "ev-9"},
	} {
		logs.Reset()
		method, target, _ := strings.Cut(path, " ")
		if _, err := s.App().Test(httptest.NewRequest(method, target, nil), -1); err != nil {
			t.Fatal(err)
		}
		var line map[string]any
		if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
			t.Fatalf("%s: log %q: %v", path, logs.String(), err)
		}
		for k, v := range want {
			if line[k] != v {
				t.Errorf("%s: log has %s=%v, want %q (line %s)", path, k, line[k], v, logs.String())
			}
		}
	}
}
