package storagetest

import (
	"context"
	"sync/atomic"

	"suiji/backend"
)

// FailingCreates is an enterprise store whose Nth bulk create fails
// outright, as a lost connection makes it, and which otherwise is the
// store it wraps: for the tests of an import stopped part-way.
type FailingCreates struct {
	backend.EnterpriseStore
	N     int32
	calls atomic.Int32
}

// CreateEnterprises implements backend.EnterpriseStore.
func (f *FailingCreates) CreateEnterprises(ctx context.Context, es []*backend.Enterprise) ([]error, error) {
	if f.calls.Add(1) == f.N {
		return nil, backend.Errorf(backend.EUNAVAILABLE, "MongoDB is unavailable")
	}
	return f.EnterpriseStore.CreateEnterprises(ctx, es)
}
