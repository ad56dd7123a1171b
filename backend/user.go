package backend

import (
	"context"
	"slices"
	"time"
)

// Role is what a user may do. A user may hold several.
type Role string

// Roles (art. 4–5, 17). The public reads published data without a role.
const (
	// RoleAdmin may do everything the other roles may, and manage users.
	RoleAdmin Role = "admin"
	// RoleCoordinator is the policy & regulations office (政策法规股): it sees
	// and coordinates everything.
	RoleCoordinator Role = "coordinator"
	// RoleStaff is an office or the brigade, scoped to its department.
	RoleStaff Role = "staff"
	// RoleLeader approves plans.
	RoleLeader Role = "leader"
	// RoleInspector carries out tasks of the groups they belong to.
	RoleInspector Role = "inspector"
)

// AllRoles lists every role, in a stable order.
var AllRoles = []Role{RoleAdmin, RoleCoordinator, RoleStaff, RoleLeader, RoleInspector}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(AllRoles, r) }

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 10

// User is a person who signs in. PasswordHash never leaves the backend:
// the HTTP layer has its own response type without it.
type User struct {
	ID           string
	Username     string
	DisplayName  string
	Roles        []Role
	DepartmentID string
	Disabled     bool
	PasswordHash string // argon2id, PHC string format
	Version      int    // 1 on creation, +1 on every update: the compare-and-set token
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// HasRole reports whether the user holds role r. Admins hold every role.
func (u *User) HasRole(r Role) bool {
	return slices.Contains(u.Roles, RoleAdmin) || slices.Contains(u.Roles, r)
}

// UserFilter selects users in a listing.
type UserFilter struct {
	Role         Role   // only users holding this role ("" for any)
	DepartmentID string // only this department ("" for any)
	Query        string // username or display name prefix
	After        Cursor // keyset position (see Cursor); ordered by username
	Offset       int    // at most MaxOffset; use After beyond
	Limit        int
}

// CursorOf is the cursor that continues a listing after u.
func (UserFilter) CursorOf(u *User) Cursor { return Cursor{u.Username} }

// UserStore keeps users.
type UserStore interface {
	// CreateUser stores a new user, setting ID. ECONFLICT when the username is taken.
	CreateUser(ctx context.Context, u *User) error
	// FindUserByID returns a user. ENOTFOUND when there is none.
	FindUserByID(ctx context.Context, id string) (*User, error)
	// FindUserByUsername returns a user. ENOTFOUND when there is none.
	FindUserByUsername(ctx context.Context, username string) (*User, error)
	// FindUsers lists users matching f ordered by username, and the total count.
	FindUsers(ctx context.Context, f UserFilter) ([]*User, int, error)
	// UpdateUser replaces a stored user's mutable fields by compare-and-set:
	// only while the stored user is still at u.Version (the version read),
	// storing it as the next version and setting u.Version to it. So a
	// user's own change can never undo an administrator's concurrent one
	// (a disable, a role change): the later writer gets ECONFLICT with
	// fields.version "stale" and must read again. ENOTFOUND when it does
	// not exist; ECONFLICT also when the username is taken.
	UpdateUser(ctx context.Context, u *User) error
	// CountUsersWithRole counts enabled users holding role r.
	CountUsersWithRole(ctx context.Context, r Role) (int, error)
}
