package mobileapi

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
)

// Every versioned record (department, enterprise, inspector, item) shows
// its history the same way: GET …/{id}/versions lists its versions, oldest
// first — who changed what, when, and how.

// versionResponse is one version of a record.
type versionResponse struct {
	Number    int              `json:"number"`
	At        time.Time        `json:"at"`
	ActorID   string           `json:"actor_id"`
	ActorName string           `json:"actor_name"`
	Action    string           `json:"action"`
	Changes   []changeResponse `json:"changes"`
}

// changeResponse is one field's value before and after a change.
type changeResponse struct {
	Field  string `json:"field"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

func newVersionResponses(vs []*backend.Version) []versionResponse {
	out := make([]versionResponse, len(vs))
	for i, v := range vs {
		out[i] = versionResponse{Number: v.Number, At: v.At, ActorID: v.ActorID, ActorName: v.ActorName, Action: v.Action,
			Changes: make([]changeResponse, len(v.Changes))}
		for j, c := range v.Changes {
			out[i].Changes[j] = changeResponse{Field: c.Field, Before: c.Before, After: c.After}
		}
	}
	return out
}

// handleVersions returns the handler of one record type's versions route;
// history is the use case's method, which checks the caller may see the
// record.
func (s *Server) handleVersions(history func(ctx context.Context, id string) ([]*backend.Version, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		vs, err := history(c.UserContext(), c.Params("id"))
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"versions": newVersionResponses(vs)})
	}
}
