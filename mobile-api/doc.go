// Package mobileapi is suiji's HTTP server: the Fiber app that phones, the
// admin console and the public portal talk to. It holds routes, handlers,
// middleware, the one mapping from domain error codes to HTTP statuses, and
// the OpenAPI document (openapi.json) that is the contract with the phones.
//
// Handlers translate HTTP to calls on backend services and back; they hold no
// business rules. The package imports backend and Fiber, never storage: the
// binary in backend/cmd/suiji wires storage implementations in.
//
// Fiber reuses request memory between requests, so handlers copy any string
// they keep beyond the request, and pass c.UserContext() — never the
// *fiber.Ctx — to services.
package mobileapi
