// Package directory is the enterprise directory (监管对象名录库) use case:
// the county's towns, the departments (internal offices, the brigade and
// partner agencies), and the enterprises that draws choose from (art. 6, 7,
// 13, 16), with every change kept as a version. Listings of the
// enterprises, the staleness report and the export answer from an index
// in memory that follows the store's writes from every instance
// (index.go); draws read the store.
//
// Who may call what is decided by mobile-api's route table; this package
// validates, keeps versions and writes the audit trail, so that the HTTP
// API and the command line (imports) share one set of rules.
//
// It depends on backend interfaces only; it imports no driver and no HTTP.
package directory

import (
	"context"
	"sync/atomic"
	"time"

	"suiji/backend"
	"suiji/backend/memindex"
)

// Service is the directory use case.
type Service struct {
	Towns       backend.TownStore
	Departments backend.DepartmentStore
	Enterprises backend.EnterpriseStore
	Versions    backend.VersionStore
	Audit       backend.Auditor
	Now         func() time.Time
	// ContactsForTask, when set, tells whether an inspector (by user id)
	// may read the contacts of an enterprise because a task of their own
	// group inspects it; reading one enterprise then shows them. Nil means
	// inspectors never see contacts (see MayReadContacts).
	ContactsForTask func(ctx context.Context, userID, enterpriseID string) (bool, error)

	// The index of the directory the listings, the staleness report and
	// the export read (index.go): how often a listing reads the store's
	// head (DefaultIndexInterval when 0, every listing when below 0), and
	// how many enterprises it holds at most before the listings read the
	// store (DefaultIndexMax when 0; below 0 always the store).
	IndexInterval time.Duration
	IndexMax      int
	index         memindex.Index[indexedEnterprise]

	townsSeeded atomic.Bool // EnsureTowns succeeded once in this process
}

// now returns the injected clock's time in UTC, at millisecond precision
// so that what is returned equals what MongoDB stores.
func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

// recordVersion appends version number n of an object with the changes
// between before and after, attributed to the actor in ctx.
func (s *Service) recordVersion(ctx context.Context, objectType, id string, n int, action string, changes []backend.FieldChange, at time.Time) error {
	actor := backend.ActorFromContext(ctx)
	return s.Versions.AppendVersion(ctx, &backend.Version{
		ObjectType: objectType, ObjectID: id, Number: n, At: at,
		ActorID: actor.UserID, ActorName: actor.Username, Action: action, Changes: changes,
	})
}
