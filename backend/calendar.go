package backend

import (
	"context"
	"time"
)

// CalendarOverride is one dated entry the bureau adds to the statutory
// working-day schedule (backend/workday), typically when the State Council
// publishes a new year's holiday notice before the library has it.
type CalendarOverride struct {
	Date      string // YYYY-MM-DD, Beijing time
	Kind      string // "holiday" or "workday" (workday.Holiday, workday.Workday)
	Name      string // e.g. 春节 or 春节调休上班
	CreatedBy string
	CreatedAt time.Time
}

// CalendarStore keeps the bureau's overrides, one per date.
type CalendarStore interface {
	// PutOverride stores o, replacing any override of the same date.
	PutOverride(ctx context.Context, o *CalendarOverride) error
	// FindOverrides lists every override by date.
	FindOverrides(ctx context.Context) ([]*CalendarOverride, error)
}
