package backend

import "context"

// The cases of a refused Idempotency-Key, named in the error's
// fields.idempotency_key: the key was used for another request (422), the
// first request with it is still running (409: repeat later), or it was
// carried out but its reply was not kept (422: read the result; it must
// not be repeated under a new key as if it had failed).
const (
	IdempotencyKeyReused     = "reused"
	IdempotencyKeyInProgress = "in_progress"
	IdempotencyReplyNotKept  = "reply_not_kept"
)

// IdempotencyStore remembers the responses to mutating requests by (scope,
// key), so that a phone on a weak network can repeat a request whose answer
// it lost without the request taking effect twice. The scope is the acting
// user (or, for anonymous calls, the client address), so one user's keys can
// never collide with, or reveal, another's.
//
// A claim moves from free to in flight (Claim) and then either to done
// (FinishClaim) or back to free (AbandonClaim). Each claim carries a random
// token, and only the request that holds it renews, finishes or frees it:
// a request whose claim lapsed (its renewals failed) cannot free the claim
// of a retry that took the key since, which would let a third copy run.
type IdempotencyStore interface {
	// Claim claims (scope, key) for a request whose fingerprint is fp. It
	// returns the new claim's token (and no response) when the claim is
	// new: the caller runs the request and then calls FinishClaim or
	// AbandonClaim. It returns the stored response when the same key and
	// fingerprint completed before. It returns EUNPROCESSABLE when the key
	// was used with a different fingerprint (or its request was carried
	// out but its response not kept), ECONFLICT when the first request
	// with this key is still in flight, ERATELIMIT when the scope claimed
	// too many new keys lately, and EUNAVAILABLE when the store cannot be
	// reached.
	Claim(ctx context.Context, scope, key, fp string) (token string, stored *StoredResponse, err error)
	// FinishClaim stores r as the response for (scope, key), to be
	// replayed to requests with the same fingerprint until the key
	// expires. It only replaces the claim token names; when another
	// request holds the key it stores nothing and returns ECONFLICT. It
	// returns EUNAVAILABLE when the store cannot be reached.
	FinishClaim(ctx context.Context, scope, key, fp, token string, r *StoredResponse) error
	// ExtendClaim keeps the claim token names for another claim period:
	// the HTTP layer calls it while the request runs, so that a request
	// that takes longer than one period is not mistaken for one whose
	// server crashed, and a retry cannot run it a second time. (After a
	// real crash the calls stop and the claim expires.) It returns
	// ECONFLICT when the key no longer holds that claim, and EUNAVAILABLE
	// when the store cannot be reached.
	ExtendClaim(ctx context.Context, scope, key, fp, token string) error
	// AbandonClaim frees the claim token names, after a server error or a
	// panic, so that a retry runs the request again. A completed key, or
	// one another request holds, is left as it is. It returns EUNAVAILABLE
	// when the store cannot be reached.
	AbandonClaim(ctx context.Context, scope, key, fp, token string) error
}

// StoredResponse is what a client saw for an idempotent request: enough to
// send the same answer again.
type StoredResponse struct {
	Status      int    // HTTP status code
	ContentType string // Content-Type header, "" if none
	Location    string // Location header, "" if none
	Body        []byte // response body
}
