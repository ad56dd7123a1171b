package mobileapi

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
)

// bindJSON decodes the request body into v. Malformed JSON, a wrong type for
// a field, or trailing data is EINVALID naming the problem; unknown fields
// are allowed so that newer phones can talk to older servers.
func bindJSON(c *fiber.Ctx, v any) error {
	body := c.Body()
	if len(body) == 0 {
		return backend.Errorf(backend.EINVALID, "request body must be a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return backend.InvalidFields("malformed JSON body", map[string]string{te.Field: "must be " + te.Type.String()})
		}
		return backend.Wrap(err, backend.EINVALID, "malformed JSON body")
	}
	return nil
}

// queryInt reads an integer query parameter within [lo, hi], def when absent.
func queryInt(c *fiber.Ctx, name string, def, lo, hi int) (int, error) {
	raw := c.Query(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, backend.InvalidFields("invalid query parameter", map[string]string{name: "must be an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)})
	}
	return n, nil
}
