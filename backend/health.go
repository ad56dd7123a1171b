package backend

import "context"

// Pinger is a backing service that can say whether it answers. Ping returns
// nil when the service is reachable and EUNAVAILABLE when it is not.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Dependency names a backing service for readiness reports.
type Dependency struct {
	Name   string // "mongodb", "redis", "minio"
	Pinger Pinger
}
