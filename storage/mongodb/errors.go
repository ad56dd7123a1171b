package mongodb

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"suiji/backend"
)

// translate turns a driver error into a *backend.Error so that nothing above
// this package sees the driver: no document is ENOTFOUND, a duplicate key on a
// unique index is ECONFLICT, an unreachable, timed-out or disconnected server
// is EUNAVAILABLE, and anything else is EINTERNAL. A *backend.Error passes
// through unchanged and nil stays nil. Repositories may re-wrap the result
// with a message naming what was missing or duplicated.
func translate(err error) error {
	var be *backend.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &be):
		return err
	case errors.Is(err, mongo.ErrNoDocuments):
		return backend.Wrap(err, backend.ENOTFOUND, "not found")
	case mongo.IsDuplicateKeyError(err):
		return backend.Wrap(err, backend.ECONFLICT, "already exists")
	case unavailable(err):
		return backend.Wrap(err, backend.EUNAVAILABLE, "MongoDB is unavailable")
	default:
		return backend.Wrap(err, backend.EINTERNAL, "MongoDB operation failed")
	}
}

// unavailable reports whether err means that the server could not be reached
// or did not answer in time, so that retrying later may work.
func unavailable(err error) bool {
	var sse topology.ServerSelectionError
	var ce topology.ConnectionError
	var wqe topology.WaitQueueTimeoutError
	return mongo.IsNetworkError(err) ||
		mongo.IsTimeout(err) ||
		errors.As(err, &sse) ||
		errors.As(err, &ce) ||
		errors.As(err, &wqe) ||
		errors.Is(err, mongo.ErrClientDisconnected) ||
		errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded)
}
