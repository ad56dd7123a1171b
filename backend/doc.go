// Package backend holds suiji's domain: the types of the double-random
// inspection cycle, the rules they obey, the service interfaces the use cases
// depend on, and the error codes every layer speaks.
//
// It is the centre of the dependency graph: mobile-api (HTTP) and storage
// (MongoDB, Redis, MinIO) depend on it, never the other way round. This
// package and its subpackages import no database driver, no HTTP framework
// and no push SDK; backend/cmd/suiji is the one place that wires them.
package backend
