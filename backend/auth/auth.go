// Package auth signs users in and keeps them signed in: password hashing
// (argon2id), short-lived access tokens (JWT, HS256 pinned), opaque refresh
// tokens rotated on every use in families that a replay revokes, failed-login
// throttling, and the first admin.
//
// It is a use case of the backend: it depends on the UserStore,
// RefreshTokenStore, LoginThrottle and Auditor interfaces, never on a driver
// or on HTTP.
package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"suiji/backend"
)

// Defaults for Service's durations.
const (
	DefaultAccessTTL  = 15 * time.Minute
	DefaultRefreshTTL = 30 * 24 * time.Hour
	// DefaultRefreshGrace is how long the immediately previous refresh token
	// still works, once, after it was rotated: a phone on a weak network that
	// sent a refresh but lost the answer retries with the old token and is
	// not locked out (nor is the family revoked).
	DefaultRefreshGrace = 30 * time.Second
)

// Service is the sign-in use case.
type Service struct {
	Users    backend.UserStore
	Sessions backend.RefreshTokenStore
	// Stamps, when set, let Authenticate answer from the users it keeps
	// in memory (users.go); the store that changes users must then be
	// StampedUsers over the same stamps.
	Stamps backend.UserStamps
	// Passwords checks passwords, counted by the login throttle and
	// bounded in argon2id work (NewPasswords).
	Passwords *Passwords
	Audit     backend.Auditor
	Key       []byte // HMAC key for access tokens (SUIJI_JWT_KEY)
	Now       func() time.Time

	AccessTTL    time.Duration
	RefreshTTL   time.Duration
	RefreshGrace time.Duration

	users userCache // the users Authenticate read, by stamp
}

// Session is what a successful sign-in or refresh returns.
type Session struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    time.Duration
	User         *backend.User
}

// errBadCredentials is the one answer to an unknown user, a wrong password
// and a disabled account, so none can be told apart.
var errBadCredentials = backend.Errorf(backend.EUNAUTHORIZED, "invalid username or password")

// ErrNoAdmin is EnsureAdmin's answer when no enabled admin exists and the
// configured username is held by an account that is none (disabled, or
// without the role): nobody can manage accounts until an admin is
// restored, which the server says loudly rather than silently.
var ErrNoAdmin = errors.New("no enabled admin exists")

// Login checks a username and password from client address ip and starts a
// session. EUNAUTHORIZED for bad credentials, ERATELIMIT when too many
// failures came for that username from that address, or from that address
// altogether, or when the server is checking too many passwords at once.
func (s *Service) Login(ctx context.Context, username, password, ip string) (*Session, error) {
	username = NormalizeUsername(username)
	var u *backend.User
	ok, err := s.Passwords.Check(ctx, username, ip, password, func() (string, error) {
		found, err := s.Users.FindUserByUsername(ctx, username)
		switch {
		case backend.ErrorCode(err) == backend.ENOTFOUND:
			return "", nil
		case err != nil:
			return "", err
		case found.Disabled:
			return "", nil // refused exactly like a wrong password
		}
		u = found
		return found.PasswordHash, nil
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errBadCredentials
	}

	familyID := randomToken(16)
	refresh := newRefreshToken(familyID)
	if err := s.Sessions.CreateFamily(ctx, familyID, u.ID, hashToken(refresh), s.RefreshTTL); err != nil {
		return nil, err
	}
	if u, err = s.unchangedSince(ctx, u, familyID); err != nil {
		return nil, err
	}
	if s.Stamps != nil {
		// So that instances may keep this user in memory from now on
		// (a user never changed since the stamps came has none).
		if err := s.Stamps.SeedUserStamp(ctx, u.ID); err != nil {
			return nil, err
		}
	}
	ctx = backend.WithActor(ctx, actorOf(u, ip, familyID))
	if err := s.Audit.Record(ctx, "auth.login", "session", familyID, nil, map[string]string{"user_id": u.ID}); err != nil {
		return nil, err
	}
	return s.session(u, familyID, refresh)
}

// unchangedSince reads the user of a session just created again, and
// ends the session unless the account is as it was when its password was
// checked. A password change or a disable saves the user, then revokes
// the families listed for it: a sign-in that checked the old hash but
// listed its family after that revocation read the list would keep a
// session the change meant to end. The sign-in lists its family, then
// reads the user: whichever of the two writes comes first, the other's
// read sees it. It answers like a wrong password (errBadCredentials), so
// the two cannot be told apart, and returns the user as read now.
func (s *Service) unchangedSince(ctx context.Context, checked *backend.User, familyID string) (*backend.User, error) {
	u, err := s.Users.FindUserByID(ctx, checked.ID) // from the store: the instance's copy may predate the change
	if err == nil && !u.Disabled && u.PasswordHash == checked.PasswordHash {
		return u, nil
	}
	// Nobody holds this family's token yet, but it is listed as the
	// user's live session (and counts against their limit) until ended.
	if rerr := s.Sessions.RevokeFamily(context.WithoutCancel(ctx), familyID); rerr != nil {
		return nil, rerr
	}
	if err != nil && backend.ErrorCode(err) != backend.ENOTFOUND {
		return nil, err
	}
	return nil, errBadCredentials
}

// Refresh exchanges a refresh token for a new pair. EUNAUTHORIZED for an
// unknown, expired or revoked token, and for a replayed one — which also
// revokes its family, so both the thief and the owner must sign in again.
func (s *Service) Refresh(ctx context.Context, token string) (*Session, error) {
	familyID, ok := splitRefreshToken(token)
	if !ok {
		return nil, backend.Errorf(backend.EUNAUTHORIZED, "invalid refresh token")
	}
	next := newRefreshToken(familyID)
	outcome, userID, err := s.Sessions.Rotate(ctx, familyID, hashToken(token), hashToken(next), s.RefreshGrace)
	if err != nil {
		return nil, err
	}
	switch outcome {
	case backend.RotateOK, backend.RotateGrace:
	case backend.RotateReplay:
		ctx = backend.WithActor(ctx, &backend.Actor{UserID: userID, FamilyID: familyID, ClientIP: backend.ActorFromContext(ctx).ClientIP})
		if err := s.Audit.Record(ctx, "auth.refresh_replay", "session", familyID, nil, nil); err != nil {
			return nil, err
		}
		return nil, backend.Errorf(backend.EUNAUTHORIZED, "refresh token was already used; the session is revoked, sign in again")
	default:
		return nil, backend.Errorf(backend.EUNAUTHORIZED, "invalid refresh token")
	}
	u, err := s.Users.FindUserByID(ctx, userID)
	if err != nil || u.Disabled {
		_ = s.Sessions.RevokeFamily(ctx, familyID)
		return nil, backend.Errorf(backend.EUNAUTHORIZED, "invalid refresh token")
	}
	ctx = backend.WithActor(ctx, actorOf(u, backend.ActorFromContext(ctx).ClientIP, familyID))
	if err := s.Audit.Record(ctx, "auth.refresh", "session", familyID, nil, map[string]string{"outcome": outcome}); err != nil {
		return nil, err
	}
	return s.session(u, familyID, next)
}

// Logout revokes the session family of the actor in ctx: its refresh token
// and every access token issued in it stop working at once.
func (s *Service) Logout(ctx context.Context) error {
	a := backend.ActorFromContext(ctx)
	if a.FamilyID == "" {
		return backend.Errorf(backend.EUNAUTHORIZED, "not signed in")
	}
	if err := s.Sessions.RevokeFamily(ctx, a.FamilyID); err != nil {
		return err
	}
	return s.Audit.Record(ctx, "auth.logout", "session", a.FamilyID, nil, nil)
}

// Authenticate turns a bearer access token into the acting user. The user is
// read on every request — from the store, or from the instance's memory
// when their stamp says no change began since it was read there (users.go)
// — so a disabled account, a changed role or a revoked session takes
// effect at once. EUNAUTHORIZED for any bad token.
func (s *Service) Authenticate(ctx context.Context, token, ip string) (*backend.Actor, error) {
	claims, err := s.parseAccess(token, s.Now())
	if err != nil {
		return nil, err
	}
	u, err := s.liveUser(ctx, claims.FamilyID, claims.Subject)
	if err != nil {
		return nil, err
	}
	return actorOf(u, ip, claims.FamilyID), nil
}

// SessionLive checks, for a connection authenticated once and kept open
// (an event stream), that the session and the account it was opened with
// still stand: EUNAUTHORIZED once the session was revoked (a sign-out, a
// password change, an admin's revocation) or the account disabled or
// removed. The access token's expiry is not checked again: the
// connection outlives it as it would a token refreshed meanwhile.
func (s *Service) SessionLive(ctx context.Context, a *backend.Actor) error {
	if a == nil || a.FamilyID == "" {
		return backend.Errorf(backend.EUNAUTHORIZED, "not signed in")
	}
	_, err := s.liveUser(ctx, a.FamilyID, a.UserID)
	return err
}

// liveUser returns the user of a session that is not revoked, and whose
// account is not disabled or removed (else EUNAUTHORIZED).
func (s *Service) liveUser(ctx context.Context, familyID, userID string) (*backend.User, error) {
	var active bool
	var stamp int64
	var err error
	if s.Stamps != nil {
		active, stamp, err = s.Stamps.FamilyActiveStamp(ctx, familyID, userID)
	} else {
		active, err = s.Sessions.FamilyActive(ctx, familyID)
	}
	if err != nil {
		return nil, err
	}
	if !active {
		return nil, backend.Errorf(backend.EUNAUTHORIZED, "session revoked; sign in again")
	}
	u, err := s.user(ctx, userID, stamp)
	if backend.ErrorCode(err) == backend.ENOTFOUND || (err == nil && u.Disabled) {
		return nil, backend.Errorf(backend.EUNAUTHORIZED, "account disabled or removed")
	} else if err != nil {
		return nil, err
	}
	return u, nil
}

// EnsureAdmin creates the first admin from configuration when no enabled
// admin exists, so a new installation can be signed into. It does nothing
// otherwise — in particular it never resets an existing admin's password.
func (s *Service) EnsureAdmin(ctx context.Context, username, password string) (created bool, err error) {
	n, err := s.Users.CountUsersWithRole(ctx, backend.RoleAdmin)
	if err != nil || n > 0 {
		return false, err
	}
	if password == "" {
		return false, errors.New("no admin exists and SUIJI_ADMIN_PASSWORD is empty")
	}
	hash, err := HashPassword(password)
	if err != nil {
		return false, err
	}
	now := s.Now()
	u := &backend.User{
		ID: backend.NewID(), Username: NormalizeUsername(username), DisplayName: "Administrator",
		Roles: []backend.Role{backend.RoleAdmin}, PasswordHash: hash, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	err = s.Audit.Change(ctx, backend.AuditChange{Action: "user.create", ObjectType: "user", ObjectID: u.ID, After: PublicUser(u)},
		func(ctx context.Context) error { return s.Users.CreateUser(ctx, u) })
	if backend.ErrorCode(err) == backend.ECONFLICT {
		// Another instance starting at the same time created it — or the
		// username is held by an account that is no enabled admin.
		if n, err := s.Users.CountUsersWithRole(ctx, backend.RoleAdmin); err != nil {
			return false, err
		} else if n == 0 {
			return false, fmt.Errorf("%w: the username %q is held by an account that is not an enabled admin; set SUIJI_ADMIN_USERNAME to a free name and restart, and the first admin is created there (audited)",
				ErrNoAdmin, u.Username)
		}
		return false, nil
	}
	return err == nil, err
}

func (s *Service) session(u *backend.User, familyID, refresh string) (*Session, error) {
	access, err := s.signAccess(u.ID, familyID, s.Now())
	if err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "signing access token")
	}
	return &Session{AccessToken: access, RefreshToken: refresh, ExpiresIn: s.AccessTTL, User: u}, nil
}

func actorOf(u *backend.User, ip, familyID string) *backend.Actor {
	return &backend.Actor{
		UserID: u.ID, Username: u.Username, Roles: slices.Clone(u.Roles), // u may be the instance's shared copy
		DepartmentID: u.DepartmentID, ClientIP: ip, FamilyID: familyID,
	}
}

// NormalizeUsername is how usernames are compared: trimmed, lower case.
func NormalizeUsername(username string) string {
	return strings.ToLower(strings.TrimSpace(username))
}

// PublicUser is a user without secrets, for audit digests and responses.
func PublicUser(u *backend.User) map[string]any {
	return map[string]any{
		"id": u.ID, "username": u.Username, "display_name": u.DisplayName,
		"roles": u.Roles, "department_id": u.DepartmentID, "disabled": u.Disabled,
	}
}
