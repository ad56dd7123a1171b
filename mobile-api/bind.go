package mobileapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
)

// bindJSON decodes the request body into v. Malformed JSON, a wrong type for
// a field, or trailing data is EINVALID naming the problem in the terms of
// JSON (a field "must be an object", never a Go type); unknown fields are
// allowed so that newer phones can talk to older servers.
func bindJSON(c *fiber.Ctx, v any) error {
	body := c.Body()
	if len(body) == 0 {
		return backend.Errorf(backend.EINVALID, "request body must be a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return backend.Wrap(err, backend.EINVALID, "request body must be %s", jsonShape(te.Type))
			}
			return backend.InvalidFields("malformed JSON body", map[string]string{te.Field: "must be " + jsonShape(te.Type)})
		}
		return backend.Wrap(err, backend.EINVALID, "malformed JSON body")
	}
	return nil
}

// jsonShape says in JSON's terms what a value of Go type t looks like: "an
// object", "an array of strings", "an integer".
func jsonShape(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[time.Time]() {
		return "a string (an RFC 3339 time)"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return "a string (base64)"
		}
		return "an array of " + plural(jsonShape(t.Elem()))
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a JSON value"
}

// plural turns "a JSON object" into "JSON objects", "an integer" into
// "integers", for "an array of …".
func plural(shape string) string {
	shape = strings.TrimPrefix(strings.TrimPrefix(shape, "an "), "a ")
	switch {
	case shape == "true or false":
		return "true or false values"
	case strings.HasPrefix(shape, "array of "):
		return "arrays of " + strings.TrimPrefix(shape, "array of ")
	case strings.Contains(shape, " ("):
		head, rest, _ := strings.Cut(shape, " (")
		return head + "s (" + rest
	}
	return shape + "s"
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
