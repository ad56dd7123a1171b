package backend

import (
	"context"
	"errors"
	"time"
)

// Refresh outcomes reported by RefreshTokenStore.Rotate.
const (
	RotateOK      = "ok"      // the current token was exchanged
	RotateGrace   = "grace"   // the previous token was used once within the grace window
	RotateReplay  = "replay"  // a rotated token came back: the family is now revoked
	RotateInvalid = "invalid" // unknown, expired or revoked
)

// RefreshTokenStore keeps refresh-token families. A family starts at sign-in
// and ends at logout, expiry or replay; each refresh replaces its current
// token. Only SHA-256 hashes of tokens are stored.
type RefreshTokenStore interface {
	// CreateFamily starts a family for userID whose current token hash is
	// tokenHash, living ttl.
	CreateFamily(ctx context.Context, familyID, userID, tokenHash string, ttl time.Duration) error
	// Rotate exchanges presented (a token hash) for next. It returns the
	// outcome and the family's user id. A token rotated away and presented
	// again is a replay — unless it is the immediately previous token,
	// presented within grace of its rotation and for the first time — and
	// a replay revokes the whole family.
	Rotate(ctx context.Context, familyID, presented, next string, grace time.Duration) (outcome, userID string, err error)
	// RevokeFamily ends a family; its tokens stop working at once.
	RevokeFamily(ctx context.Context, familyID string) error
	// RevokeUser ends every family of a user (disabled accounts).
	RevokeUser(ctx context.Context, userID string) error
	// FamilyActive reports whether a family exists and is not revoked.
	FamilyActive(ctx context.Context, familyID string) (bool, error)
}

// UserStamps count the changes of each user beside the sessions, so that
// an instance may keep users in memory and still see every change at once
// (auth.Service.Authenticate): a change makes its user's stamp odd, and
// new, before it is stored (BeginUserChange) and even, and new, after
// (EndUserChange). A copy of a user read after seeing the stamp even at e
// is current for as long as the stamp is still e: a change begun since has
// moved it. 0 is no stamp (nothing may be kept).
type UserStamps interface {
	BeginUserChange(ctx context.Context, userID string) error
	EndUserChange(ctx context.Context, userID string) error
	// SeedUserStamp gives a user who has no stamp an even one (at
	// sign-in); it leaves a stamp that exists alone.
	SeedUserStamp(ctx context.Context, userID string) error
	// FamilyActiveStamp is RefreshTokenStore.FamilyActive and the user's
	// stamp, in one round trip.
	FamilyActiveStamp(ctx context.Context, familyID, userID string) (active bool, stamp int64, err error)
	// UserStampsOf returns the stamps of userIDs (those with none left
	// out), in one round trip.
	UserStampsOf(ctx context.Context, userIDs []string) (map[string]int64, error)
}

// Locker hands out leases so that one instance at a time runs a piece of
// work, e.g. the draw of one plan.
type Locker interface {
	// Acquire takes the named lock for ttl. ECONFLICT with cause
	// ErrLeaseHeld (LeaseHeld) when it is held, EUNAVAILABLE when the lock
	// service is down.
	Acquire(ctx context.Context, name string, ttl time.Duration) (Lease, error)
}

// ErrLeaseHeld is the cause of the ECONFLICT a Locker answers while
// another holder has the lease. The work is in progress elsewhere (or its
// holder died and the lease has yet to lapse), so the same request may
// succeed shortly: it is no final answer, and mobile-api does not store
// it as the answer to an Idempotency-Key.
var ErrLeaseHeld = errors.New("the lease is held by another holder")

// LeaseHeld is the error a Locker returns when the named lease is held.
func LeaseHeld(name string) error {
	return Wrap(ErrLeaseHeld, ECONFLICT, "%s is in progress elsewhere; try again shortly", name)
}

// AcquireWaiting takes the named lock from l, waiting up to wait for a
// holder to let it go (polling, from 10 ms doubling to 250 ms): for work
// that is short and may queue a moment behind another, where refusing at
// once would only have the client repeat it. After wait it returns l's
// ECONFLICT (cause ErrLeaseHeld); a context ended meanwhile is
// EUNAVAILABLE.
func AcquireWaiting(ctx context.Context, l Locker, name string, ttl, wait time.Duration) (Lease, error) {
	deadline := time.Now().Add(wait)
	for pause := 10 * time.Millisecond; ; pause = min(2*pause, 250*time.Millisecond) {
		lease, err := l.Acquire(ctx, name, ttl)
		if err == nil || !errors.Is(err, ErrLeaseHeld) || time.Now().Add(pause).After(deadline) {
			return lease, err
		}
		select {
		case <-ctx.Done():
			return nil, Wrap(context.Cause(ctx), EUNAVAILABLE, "waiting for %s", name)
		case <-time.After(pause):
		}
	}
}

// Lease is a held lock. It is not enough for exactly-once on its own: the
// final write must also be fenced in the database.
type Lease interface {
	Token() string
	// Extend renews the lease; an error means it may be lost and the holder
	// must stop before writing. ECONFLICT, EUNAVAILABLE.
	Extend(ctx context.Context) error
	// Release gives it up if still held.
	Release(ctx context.Context) error
}
