package mobileapi

import (
	"errors"
	"log/slog"
	"math"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
)

// statusByCode is the one mapping from domain error codes to HTTP statuses.
var statusByCode = map[string]int{
	backend.EINVALID:        fiber.StatusBadRequest,
	backend.EUNAUTHORIZED:   fiber.StatusUnauthorized,
	backend.EFORBIDDEN:      fiber.StatusForbidden,
	backend.ENOTFOUND:       fiber.StatusNotFound,
	backend.ECONFLICT:       fiber.StatusConflict,
	backend.ETOOLARGE:       fiber.StatusRequestEntityTooLarge,
	backend.EUNPROCESSABLE:  fiber.StatusUnprocessableEntity,
	backend.ERATELIMIT:      fiber.StatusTooManyRequests,
	backend.EINTERNAL:       fiber.StatusInternalServerError,
	backend.ENOTIMPLEMENTED: fiber.StatusNotImplemented,
	backend.EUNAVAILABLE:    fiber.StatusServiceUnavailable,
}

// StatusForCode returns the HTTP status for a domain error code; unknown
// codes are internal errors.
func StatusForCode(code string) int {
	if status, ok := statusByCode[code]; ok {
		return status
	}
	return fiber.StatusInternalServerError
}

// codeForStatus maps statuses that Fiber itself produces (no route, body too
// large, method not allowed) back onto domain codes so that every error body
// has the same shape.
func codeForStatus(status int) string {
	for code, s := range statusByCode {
		if s == status {
			return code
		}
	}
	if status >= 500 {
		return backend.EINTERNAL
	}
	return backend.EINVALID
}

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// errorBodyFor turns any error into its status and client-safe body. Fiber's
// own errors keep their status; domain errors get theirs from StatusForCode.
func errorBodyFor(err error) (int, ErrorBody) {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return fe.Code, ErrorBody{ErrorDetail{Code: codeForStatus(fe.Code), Message: fe.Message}}
	}
	code := backend.ErrorCode(err)
	return StatusForCode(code), ErrorBody{ErrorDetail{
		Code:    code,
		Message: backend.ErrorMessage(err),
		Fields:  backend.ErrorFields(err),
	}}
}

// errorHandler is the app's single ErrorHandler. Internal errors are logged
// with their cause and request id; the client sees only the generic message.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	status, body := errorBodyFor(err)
	if delay, ok := backend.RetryAfter(err); ok {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(delay.Seconds()))))
	} else if errors.Is(err, backend.ErrLeaseHeld) {
		// Work in progress elsewhere: the same request may go through in
		// a moment. A client tells this 409 from a refusal by the header.
		c.Set(fiber.HeaderRetryAfter, "1")
	}
	if status == fiber.StatusUnauthorized {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="suiji"`)
	}
	if status >= 500 {
		s.logger.ErrorContext(c.UserContext(), "request failed",
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Method()),
			slog.String("path", c.Path()),
			slog.Int("status", status),
			slog.Any("error", err))
	}
	return c.Status(status).JSON(body)
}
