package backend

import (
	"errors"
	"fmt"
)

// Error codes. Every error that crosses a package boundary carries one of
// these; mobile-api maps each code to exactly one HTTP status, so handlers
// never choose statuses themselves.
const (
	// ECONFLICT: the request conflicts with stored state (duplicate key,
	// stale version, a duplicate request still in flight).
	ECONFLICT = "ECONFLICT"
	// EINTERNAL: something went wrong that the caller cannot fix. The
	// message shown to clients is generic; details go to the log.
	EINTERNAL = "EINTERNAL"
	// EINVALID: the input is malformed or breaks a rule.
	EINVALID = "EINVALID"
	// ENOTFOUND: the object does not exist (or the caller may not know it does).
	ENOTFOUND = "ENOTFOUND"
	// EUNAUTHORIZED: the caller is not signed in or the credentials are bad.
	EUNAUTHORIZED = "EUNAUTHORIZED"
	// EFORBIDDEN: the caller is signed in but may not do this.
	EFORBIDDEN = "EFORBIDDEN"
	// ETOOLARGE: the request body or an uploaded file exceeds a limit.
	ETOOLARGE = "ETOOLARGE"
	// EUNPROCESSABLE: well-formed input that cannot be processed, e.g. an
	// idempotency key reused with a different body.
	EUNPROCESSABLE = "EUNPROCESSABLE"
	// ERATELIMIT: too many attempts; the caller must wait.
	ERATELIMIT = "ERATELIMIT"
	// EUNAVAILABLE: a backing service is down; retrying later may work.
	EUNAVAILABLE = "EUNAVAILABLE"
	// ENOTIMPLEMENTED: the feature is not available in this deployment.
	ENOTIMPLEMENTED = "ENOTIMPLEMENTED"
)

// Codes lists every error code, for tests and documentation that must cover
// them all.
var Codes = []string{
	ECONFLICT, EINTERNAL, EINVALID, ENOTFOUND, EUNAUTHORIZED, EFORBIDDEN,
	ETOOLARGE, EUNPROCESSABLE, ERATELIMIT, EUNAVAILABLE, ENOTIMPLEMENTED,
}

// Error is the application error. Code is machine readable, Message is safe
// to show to the caller, Fields names offending input fields (field → reason),
// and Err keeps the underlying cause for logs and errors.Is/As; it is never
// shown to clients.
type Error struct {
	Code    string
	Message string
	Fields  map[string]string
	Err     error
}

// Error implements the error interface. It includes the cause so that logs
// carry it; clients only ever see Message.
func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: %s", e.Code, e.Message)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the given code and message that keeps err as
// its cause. It returns nil when err is nil.
func Wrap(err error, code, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// NotFoundAs answers a lookup of a parent object (the task of a piece of
// evidence, the plan of a draw) in the child's name: its ENOTFOUND —
// missing, or not the caller's to see — becomes ENOTFOUND with the
// formatted message, so the answer never tells which. Any other error
// (the store unreachable, a deadline) passes unchanged: a passing fault
// must not tell a phone that its evidence is gone. nil stays nil.
func NotFoundAs(err error, format string, args ...any) error {
	if ErrorCode(err) == ENOTFOUND {
		return Wrap(err, ENOTFOUND, format, args...)
	}
	return err
}

// InvalidFields returns an EINVALID error naming each offending field.
func InvalidFields(message string, fields map[string]string) *Error {
	return &Error{Code: EINVALID, Message: message, Fields: fields}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of the first *Error in err's
// chain, and a generic message for any other error so that internal details
// never leak.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "internal error"
}

// ErrorFields returns the per-field reasons of the first *Error in err's chain.
func ErrorFields(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}
