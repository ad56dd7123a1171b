package mobileapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
)

// maxBodyArray bounds every array in a JSON request body, whatever the
// route: work the server does per entry (a lookup, a check) stays bounded
// however a client fills a body it may send. A field of a request type may
// set a lower bound with the struct tag maxItems:"N".
const maxBodyArray = 1000

// bindJSON decodes the request body into v. Malformed JSON, a wrong type for
// a field, trailing data, or an array longer than its bound (maxBodyArray
// or the field's maxItems tag) is EINVALID naming the problem in the terms
// of JSON (a field "must be an object", never a Go type); unknown fields are
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
	if path, limit := longArray(reflect.ValueOf(v), "", maxBodyArray); path != "" {
		return backend.InvalidFields("a list in the body is too long", map[string]string{path: "at most " + strconv.Itoa(limit) + " entries"})
	}
	return nil
}

// longArray returns the JSON path of the first array in v longer than its
// bound (limit, or the maxItems tag of the field holding it) and that
// bound, or "" when every array fits.
func longArray(v reflect.Value, path string, limit int) (string, int) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "", 0
		}
		return longArray(v.Elem(), path, limit)
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "", 0 // a string (base64) or raw JSON, not a list
		}
		if v.Len() > limit {
			return path, limit
		}
		for i := range v.Len() {
			if p, l := longArray(v.Index(i), path+"["+strconv.Itoa(i)+"]", maxBodyArray); p != "" {
				return p, l
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			if p, l := longArray(iter.Value(), joinPath(path, fmt.Sprint(iter.Key().Interface())), maxBodyArray); p != "" {
				return p, l
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fieldLimit := maxBodyArray
			if n, err := strconv.Atoi(f.Tag.Get("maxItems")); err == nil && n > 0 {
				fieldLimit = n
			}
			sub := joinPath(path, name)
			if f.Anonymous && f.Tag.Get("json") == "" {
				sub = path // embedded: its fields are the parent's
			}
			if p, l := longArray(v.Field(i), sub, fieldLimit); p != "" {
				return p, l
			}
		}
	}
	return "", 0
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
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
