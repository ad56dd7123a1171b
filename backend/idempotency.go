package backend

import "context"

// IdempotencyStore remembers the responses to mutating requests by (scope,
// key), so that a phone on a weak network can repeat a request whose answer
// it lost without the request taking effect twice. The scope is the acting
// user (or, for anonymous calls, the client address), so one user's keys can
// never collide with, or reveal, another's.
//
// A claim moves from free to in flight (Begin) and then either to done
// (Finish) or back to free (Abandon).
type IdempotencyStore interface {
	// Begin claims (scope, key) for a request whose fingerprint is fp. It
	// returns (nil, nil) when the claim is new: the caller runs the request
	// and then calls Finish or Abandon. It returns the stored response when
	// the same key and fingerprint completed before. It returns
	// EUNPROCESSABLE when the key was used with a different fingerprint,
	// ECONFLICT when the first request with this key is still in flight, and
	// EUNAVAILABLE when the store cannot be reached.
	Begin(ctx context.Context, scope, key, fp string) (*StoredResponse, error)
	// Finish stores r as the response for (scope, key), to be replayed to
	// requests with the same fingerprint until the key expires. It only
	// replaces the caller's own in-flight claim (same fingerprint); when
	// another request holds the key it stores nothing and returns ECONFLICT.
	// It returns EUNAVAILABLE when the store cannot be reached.
	Finish(ctx context.Context, scope, key, fp string, r *StoredResponse) error
	// Extend keeps the caller's in-flight claim for another claim period:
	// the HTTP layer calls it while the request runs, so that a request
	// that takes longer than one period is not mistaken for one whose
	// server crashed, and a retry cannot run it a second time. (After a
	// real crash the calls stop and the claim expires.) It returns
	// ECONFLICT when the key no longer holds the caller's claim, and
	// EUNAVAILABLE when the store cannot be reached.
	Extend(ctx context.Context, scope, key, fp string) error
	// Abandon frees an in-flight claim, after a server error or a panic, so
	// that a retry runs the request again. A completed key is left as it is.
	// It returns EUNAVAILABLE when the store cannot be reached.
	Abandon(ctx context.Context, scope, key string) error
}

// StoredResponse is what a client saw for an idempotent request: enough to
// send the same answer again.
type StoredResponse struct {
	Status      int    // HTTP status code
	ContentType string // Content-Type header, "" if none
	Location    string // Location header, "" if none
	Body        []byte // response body
}
