package objects

import (
	"context"
	"errors"
	"net"
	"syscall"

	"github.com/minio/minio-go/v7"

	"suiji/backend"
)

// translate turns a MinIO client error into a *backend.Error: a missing
// object, version or bucket is ENOTFOUND; a store that cannot be reached,
// times out or says it is busy or starting is EUNAVAILABLE; anything else
// (refused credentials included) is EINTERNAL. A *backend.Error passes
// through unchanged and nil stays nil.
func translate(err error) error {
	var be *backend.Error
	if err == nil {
		return nil
	} else if errors.As(err, &be) {
		return err
	}
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchKey", "NoSuchVersion", "NoSuchBucket":
		return backend.Wrap(err, backend.ENOTFOUND, "not found")
	case "SlowDown", "SlowDownRead", "SlowDownWrite", "ServiceUnavailable",
		"XMinioServerNotInitialized", "RequestTimeout", "InternalError":
		return backend.Wrap(err, backend.EUNAVAILABLE, "MinIO is unavailable")
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return backend.Wrap(err, backend.EUNAVAILABLE, "MinIO is unavailable")
	}
	return backend.Wrap(err, backend.EINTERNAL, "MinIO request failed")
}
