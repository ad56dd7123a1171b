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

// Actor is who is acting in a request: the signed-in user, or the anonymous
// public when UserID is empty. It travels in the context so that use cases
// can authorise and audit without knowing about HTTP.
type Actor struct {
	UserID       string
	Username     string
	Roles        []Role
	DepartmentID string
	ClientIP     string
	FamilyID     string // refresh-token family of the session, for logout
}

// HasRole reports whether the actor holds role r; admins hold every role.
func (a *Actor) HasRole(r Role) bool {
	if a == nil {
		return false
	}
	for _, have := range a.Roles {
		if have == r || have == RoleAdmin {
			return true
		}
	}
	return false
}

// HasAnyRole reports whether the actor holds at least one of roles.
func (a *Actor) HasAnyRole(roles ...Role) bool {
	for _, r := range roles {
		if a.HasRole(r) {
			return true
		}
	}
	return false
}

const actorKey contextKey = requestIDKey + 1

// WithActor returns a context carrying the acting user.
func WithActor(ctx context.Context, a *Actor) context.Context {
	return context.WithValue(ctx, actorKey, a)
}

// ActorFromContext returns the acting user, or an anonymous actor.
func ActorFromContext(ctx context.Context) *Actor {
	if a, ok := ctx.Value(actorKey).(*Actor); ok && a != nil {
		return a
	}
	return &Actor{}
}

const pendingAuditKey contextKey = actorKey + 1

// WithPendingAudit returns a context carrying the audit event staged for the
// change about to be written (see Auditor.Change).
func WithPendingAudit(ctx context.Context, p *PendingAudit) context.Context {
	return context.WithValue(ctx, pendingAuditKey, p)
}

// PendingAuditFromContext returns the staged audit event a store should
// write with the change, or nil when there is none or it was stored already
// (only the first write of a change carries its event, unless the change
// is a bulk one: then every write carries its mark).
func PendingAuditFromContext(ctx context.Context) *PendingAudit {
	p, _ := ctx.Value(pendingAuditKey).(*PendingAudit)
	if p == nil || (!p.Bulk && p.IsStored()) {
		return nil
	}
	return p
}
