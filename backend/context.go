package backend

import "context"

type contextKey int

const requestIDKey contextKey = iota

// WithRequestID returns a context carrying the request id, so that logs and
// audit events written deep in a use case name the request that caused them.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestIDFromContext returns the request id carried by ctx, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}
