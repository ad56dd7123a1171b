// Package app names suiji's use cases as one set: what a front end (the
// HTTP API in mobile-api, the command line in backend/cmd/suiji) calls.
// The set is built in exactly one place, backend/cmd/wire, on the open
// stores; front ends receive it ready-made and never build a use case
// themselves.
//
// Like the rest of backend it imports no driver, no Fiber and no storage
// package: only the domain and its use cases.
package app

import (
	"suiji/backend"
	"suiji/backend/accounts"
	"suiji/backend/audit"
	"suiji/backend/auth"
	"suiji/backend/directory"
	"suiji/backend/itemlist"
	"suiji/backend/notify"
	"suiji/backend/plans"
	"suiji/backend/results"
	"suiji/backend/roster"
	"suiji/backend/tasks"
)

// Services are the use cases. Every field is set by wire.Services; a front
// end may assume none is nil.
type Services struct {
	Auth        *auth.Service            // sign-in, tokens, authentication
	Accounts    *accounts.Service        // users and devices
	Audit       backend.AuditStore       // the audit trail, for GET /api/v1/audit and its head
	Recorder    *audit.Recorder          // appends events; its Recover completes interrupted ones
	Idempotency backend.IdempotencyStore // Idempotency-Key handling for mutations
	Directory   *directory.Service       // towns, departments, enterprises
	Roster      *roster.Service          // inspectors, qualifications
	Items       *itemlist.Service        // the yearly item lists
	Plans       *plans.Service           // plans and their draws
	PublicLimit backend.RequestLimiter   // per-address limit of the portal and /public
	Tasks       *tasks.Service           // dispatch, targeted tasks, deadlines, the calendar
	Notify      *notify.Service          // inbox, push (its Run is the pusher), live events
	Results     *results.Service         // review, feedback, publication, dispositions, statistics, archive
}
