package tasks

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"suiji/backend"
)

// CancelledSelection is a selection of a draw whose inspection was
// cancelled before it began, as the public sees it: the unit, when, and
// the office's reason — not who cancelled it.
type CancelledSelection struct {
	USCC       string
	Enterprise string
	At         time.Time
	Reason     string
}

// cancellationsTTL is how long an instance answers a draw's cancelled
// selections from what it read: listing a plan's tasks reads the whole
// collection on FerretDB, and the draw's page is anonymous.
const cancellationsTTL = time.Minute

// cancellationsMax bounds the draws whose cancellations an instance keeps.
const cancellationsMax = 256

// publicCancellations is the instance's short-lived copy of the draws'
// cancelled selections, one read at a time per draw.
type publicCancellations struct {
	mu      sync.Mutex
	byDraw  map[string]cancellationsRead
	reading singleflight.Group
}

type cancellationsRead struct {
	list []CancelledSelection
	at   time.Time
}

// DrawCancellations lists the selections of d whose task was cancelled,
// in USCC order. The public record shows every unit a draw selected; one
// whose inspection an office cancelled (the unit closed, say) must say
// so, with the reason, rather than never show a result: a cancellation
// is one staff member's act, and without this nobody outside would see
// it. A cancellation shows at once on the instance that made it, within
// cancellationsTTL on the others.
func (s *Service) DrawCancellations(ctx context.Context, d *backend.Draw) ([]CancelledSelection, error) {
	now := s.Now()
	c := &s.cancellations
	c.mu.Lock()
	if r, ok := c.byDraw[d.ID]; ok && now.Sub(r.at) < cancellationsTTL {
		c.mu.Unlock()
		return r.list, nil
	}
	c.mu.Unlock()
	v, err, _ := c.reading.Do(d.ID, func() (any, error) {
		list, err := s.readCancellations(context.WithoutCancel(ctx), d)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.byDraw == nil || len(c.byDraw) >= cancellationsMax {
			c.byDraw = map[string]cancellationsRead{} // all at once: they are re-read within a minute anyway
		}
		c.byDraw[d.ID] = cancellationsRead{list: list, at: now}
		return list, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]CancelledSelection), nil
}

// forget drops what the instance read of a draw's cancellations, so
// that its next page reads them anew ("" — a targeted task — is no draw).
func (c *publicCancellations) forget(drawID string) {
	if drawID == "" {
		return
	}
	c.mu.Lock()
	delete(c.byDraw, drawID)
	c.mu.Unlock()
}

// readCancellations reads the cancelled tasks of d's plan from the store.
func (s *Service) readCancellations(ctx context.Context, d *backend.Draw) ([]CancelledSelection, error) {
	ts, _, err := s.Tasks.FindTasks(ctx, backend.TaskFilter{PlanID: d.PlanID, States: []string{backend.TaskCancelled}, NoTotal: true})
	if err != nil {
		return nil, err
	}
	var out []CancelledSelection
	for _, t := range ts {
		if t.DrawID != d.ID || t.CancelledAt == nil {
			continue // a targeted task of the plan, or another attempt's
		}
		out = append(out, CancelledSelection{USCC: t.Enterprise.USCC, Enterprise: t.Enterprise.Name, At: *t.CancelledAt, Reason: t.CancelledReason})
	}
	slices.SortFunc(out, func(a, b CancelledSelection) int { return strings.Compare(a.USCC, b.USCC) })
	return out, nil
}
