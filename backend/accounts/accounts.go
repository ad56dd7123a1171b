// Package accounts manages users and their push devices: who may sign in,
// with which roles and department, and which phones get their alerts. Every
// change is validated here, checked against the acting user, and written to
// the audit trail.
//
// It depends on backend interfaces only; it imports no driver and no HTTP.
package accounts

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"suiji/backend"
	"suiji/backend/auth"
)

// Service is the accounts use case.
type Service struct {
	Users    backend.UserStore
	Devices  backend.DeviceStore
	Sessions backend.RefreshTokenStore
	// Passwords hashes new passwords and checks the current one a user
	// gives to change theirs, throttled like a sign-in (auth.NewPasswords).
	Passwords *auth.Passwords
	// Locks serialises the changes that take an admin's role or account
	// away (see UpdateUser).
	Locks backend.Locker
	// Inbox, when set, has the requests for a leader's decision marked
	// read when the user stops being an enabled leader (UpdateUser).
	Inbox backend.NotificationStore
	Audit backend.Auditor
	Now   func() time.Time
}

// NewUser is the input of CreateUser.
type NewUser struct {
	Username     string
	Password     string
	DisplayName  string
	Roles        []backend.Role
	DepartmentID string
}

// UserPatch changes some fields of a user; nil fields stay as they are.
type UserPatch struct {
	DisplayName  *string
	Password     *string
	Roles        *[]backend.Role
	DepartmentID *string
	Disabled     *bool
}

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{2,63}$`)

// CreateUser validates and stores a new user. EINVALID naming each bad field;
// ECONFLICT when the username is taken.
func (s *Service) CreateUser(ctx context.Context, in NewUser) (*backend.User, error) {
	in.Username = auth.NormalizeUsername(in.Username)
	fields := map[string]string{}
	if !usernamePattern.MatchString(in.Username) {
		fields["username"] = "3–64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
	}
	checkPassword(fields, in.Password)
	checkDisplayName(fields, in.DisplayName)
	checkRoles(fields, in.Roles)
	if len(fields) > 0 {
		return nil, backend.InvalidFields("invalid user", fields)
	}
	hash, err := s.Passwords.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	now := s.Now().UTC()
	u := &backend.User{
		ID: backend.NewID(), Username: in.Username, DisplayName: strings.TrimSpace(in.DisplayName),
		Roles: uniqueRoles(in.Roles), DepartmentID: strings.TrimSpace(in.DepartmentID),
		PasswordHash: hash, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	err = s.Audit.Change(ctx, backend.AuditChange{Action: "user.create", ObjectType: "user", ObjectID: u.ID, After: auth.PublicUser(u)},
		func(ctx context.Context) error { return s.Users.CreateUser(ctx, u) })
	if backend.ErrorCode(err) == backend.ECONFLICT {
		return nil, &backend.Error{Code: backend.ECONFLICT, Message: "username is taken", Fields: map[string]string{"username": "taken"}, Err: err}
	} else if err != nil {
		return nil, err
	}
	return u, nil
}

// maxUpdateAttempts bounds how often an update is re-applied to a user
// that changed under it (see update).
const maxUpdateAttempts = 5

// UpdateUser changes a user as an administrator. Nobody — not even an admin
// — changes their own roles, department or disabled flag: that needs a
// second person. Nor their own password here: UpdateMe asks for the
// current one (and throttles wrong ones), so that a stolen session cannot
// take the account over. Disabling a user ends their sessions at once.
// ENOTFOUND, EINVALID, EFORBIDDEN.
func (s *Service) UpdateUser(ctx context.Context, id string, p UserPatch) (*backend.User, error) {
	actor := backend.ActorFromContext(ctx)
	if id == actor.UserID && (p.Roles != nil || p.DepartmentID != nil || p.Disabled != nil) {
		return nil, backend.Errorf(backend.EFORBIDDEN, "you cannot change your own roles, department or status")
	}
	if id == actor.UserID && p.Password != nil {
		return nil, backend.Errorf(backend.EFORBIDDEN, "set your own password with PATCH /api/v1/me, giving the current one")
	}
	if p.Roles != nil || (p.Disabled != nil && *p.Disabled) {
		release, err := s.holdAdmins(ctx, id)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	return s.update(ctx, id, p, false)
}

// adminsLockTTL bounds a change's hold on the admins' lease.
const adminsLockTTL = 15 * time.Second

// holdAdmins guards a change that may take an admin's role or account
// away, so that the bureau is never left without an enabled admin. Nobody
// changes their own, so the acting admin stays one — if they still are:
// two admins acting at once (one taking the other's role while the other
// disables them) would each pass a check made alone and leave none. The
// changes to admins therefore take one lease, and under it the actor is
// read again and must still be an enabled admin. It returns the lease's
// release (a no-op when the user changed is no enabled admin).
func (s *Service) holdAdmins(ctx context.Context, id string) (func(), error) {
	u, err := s.Users.FindUserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.Disabled || !slices.Contains(u.Roles, backend.RoleAdmin) {
		return func() {}, nil // granting admin, or changing a non-admin: nobody is left without
	}
	lease, err := s.Locks.Acquire(ctx, "accounts:admins", adminsLockTTL)
	if err != nil {
		return nil, err
	}
	release := func() { _ = lease.Release(context.WithoutCancel(ctx)) }
	me, err := s.Users.FindUserByID(ctx, backend.ActorFromContext(ctx).UserID)
	if err != nil && backend.ErrorCode(err) != backend.ENOTFOUND {
		release()
		return nil, err
	}
	if me == nil || me.Disabled || !slices.Contains(me.Roles, backend.RoleAdmin) {
		release()
		return nil, backend.Errorf(backend.EFORBIDDEN, "your admin role or account was changed meanwhile; another admin must make this change")
	}
	return release, nil
}

// UpdateMe changes the acting user's own display name and password; the
// current password must be given to set a new one. Wrong current passwords
// count like failed sign-ins of the user from the caller's address
// (ERATELIMIT once too many), so a stolen session cannot be used to guess
// the password.
func (s *Service) UpdateMe(ctx context.Context, displayName, currentPassword, newPassword *string) (*backend.User, error) {
	actor := backend.ActorFromContext(ctx)
	if newPassword != nil {
		if currentPassword == nil {
			return nil, backend.InvalidFields("the current password is needed to set a new one", map[string]string{"current_password": "required"})
		}
		ok, err := s.Passwords.Check(ctx, actor.Username, actor.ClientIP, *currentPassword, func() (string, error) {
			u, err := s.Users.FindUserByID(ctx, actor.UserID)
			if err != nil {
				return "", err
			}
			return u.PasswordHash, nil
		})
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, backend.InvalidFields("current password is wrong", map[string]string{"current_password": "wrong"})
		}
	}
	return s.update(ctx, actor.UserID, UserPatch{DisplayName: displayName, Password: newPassword}, true)
}

// update applies p to user id. It reads the user, applies the patch and
// writes it back by compare-and-set on the version read; when someone else
// changed the user in between (an admin disabling it while it renames
// itself), it reads again and re-applies the patch to the new state, so
// each writer's fields win only where that writer changed them and nothing
// is undone. A user changing itself (self) is refused once disabled.
func (s *Service) update(ctx context.Context, id string, p UserPatch, self bool) (*backend.User, error) {
	fields := map[string]string{}
	if p.Password != nil {
		checkPassword(fields, *p.Password)
	}
	if p.DisplayName != nil {
		checkDisplayName(fields, *p.DisplayName)
	}
	if p.Roles != nil {
		checkRoles(fields, *p.Roles)
	}
	if len(fields) > 0 {
		return nil, backend.InvalidFields("invalid user", fields)
	}
	var hash string
	if p.Password != nil {
		var err error
		if hash, err = s.Passwords.Hash(ctx, *p.Password); err != nil {
			return nil, err
		}
	}
	for attempt := 1; ; attempt++ {
		u, err := s.Users.FindUserByID(ctx, id)
		if err != nil {
			return nil, err
		}
		if self && u.Disabled {
			return nil, backend.Errorf(backend.EUNAUTHORIZED, "account disabled")
		}
		wasLeader := decides(u)
		err = s.save(ctx, u, p, hash)
		if backend.ErrorFields(err)["version"] == "stale" && attempt < maxUpdateAttempts {
			continue
		}
		if err != nil {
			return nil, err
		}
		if u.Disabled || p.Password != nil {
			// A disabled account, or one whose password changed (perhaps
			// because it leaked), keeps no session alive.
			if err := s.Sessions.RevokeUser(ctx, u.ID); err != nil {
				return nil, err
			}
		}
		if wasLeader && !decides(u) && s.Inbox != nil {
			// What waited for this leader's decision is no longer theirs
			// to decide: their inbox stops counting it unread.
			if _, err := s.Inbox.MarkKindRead(ctx, u.ID, backend.NoteReplacementPending, s.Now().UTC()); err != nil {
				return nil, err
			}
		}
		return u, nil
	}
}

// decides reports whether u may decide a replacement: an enabled leader.
func decides(u *backend.User) bool {
	return !u.Disabled && slices.Contains(u.Roles, backend.RoleLeader)
}

// save applies p (with hash, the new password's, when it sets one) to u as
// read, and stores it with its audit event if the stored user is still the
// version read.
func (s *Service) save(ctx context.Context, u *backend.User, p UserPatch, hash string) error {
	before := auth.PublicUser(u)
	if p.DisplayName != nil {
		u.DisplayName = strings.TrimSpace(*p.DisplayName)
	}
	if p.Roles != nil {
		u.Roles = uniqueRoles(*p.Roles)
	}
	if p.DepartmentID != nil {
		u.DepartmentID = strings.TrimSpace(*p.DepartmentID)
	}
	if p.Disabled != nil {
		u.Disabled = *p.Disabled
	}
	if p.Password != nil {
		u.PasswordHash = hash
	}
	u.UpdatedAt = s.Now().UTC()
	after := auth.PublicUser(u)
	after["password_changed"] = p.Password != nil
	return s.Audit.Change(ctx, backend.AuditChange{Action: "user.update", ObjectType: "user", ObjectID: u.ID, Before: before, After: after},
		func(ctx context.Context) error { return s.Users.UpdateUser(ctx, u) })
}

// GetUser returns a user. ENOTFOUND.
func (s *Service) GetUser(ctx context.Context, id string) (*backend.User, error) {
	return s.Users.FindUserByID(ctx, id)
}

// ListUsers lists users matching f.
func (s *Service) ListUsers(ctx context.Context, f backend.UserFilter) ([]*backend.User, int, error) {
	return s.Users.FindUsers(ctx, f)
}

func checkPassword(fields map[string]string, pw string) {
	if utf8.RuneCountInString(pw) < backend.MinPasswordLength {
		fields["password"] = "at least 10 characters"
	} else if len(pw) > 256 {
		fields["password"] = "at most 256 bytes"
	}
}

func checkDisplayName(fields map[string]string, name string) {
	if n := utf8.RuneCountInString(strings.TrimSpace(name)); n == 0 || n > 100 {
		fields["display_name"] = "1–100 characters"
	}
}

func checkRoles(fields map[string]string, roles []backend.Role) {
	if len(roles) == 0 {
		fields["roles"] = "at least one role"
	}
	for _, r := range roles {
		if !r.Valid() {
			fields["roles"] = "unknown role " + string(r)
		}
	}
}

func uniqueRoles(roles []backend.Role) []backend.Role {
	out := slices.Clone(roles)
	slices.Sort(out)
	return slices.Compact(out)
}
