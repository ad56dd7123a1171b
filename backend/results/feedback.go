package results

import (
	"context"
	"time"

	"suiji/backend"
)

// FeedbackInput is the delivery of a result to the enterprise (art. 21).
type FeedbackInput struct {
	Method      string // backend.FeedbackDirect or backend.FeedbackPostal
	DeliveredAt string // RFC 3339
	Receiver    string
	TrackingNo  string // required for postal delivery
	Version     int    // the task version read; 0 to skip the check
}

// clockSkew is how far in the future a stated delivery time may be: a
// phone's or a clerk's clock may run a little ahead.
const clockSkew = 5 * time.Minute

// RecordFeedback records that the result was delivered to the enterprise,
// once per task, after the inspection ended. The deadline is 7 working
// days after it ended (art. 21); feedback after that is recorded as late,
// with the working days it was late, and stays so. The coordinator or the
// lead department's staff record it.
// ENOTFOUND; EFORBIDDEN; EINVALID naming each bad field; ECONFLICT when the
// inspection has not ended, the task is cancelled, feedback is recorded
// already or the version is stale.
func (s *Service) RecordFeedback(ctx context.Context, id string, in FeedbackInput) (*backend.Task, *backend.TaskResult, error) {
	t, r, err := s.loadManaged(ctx, id, in.Version)
	if err != nil {
		return nil, nil, err
	}
	if err := inspectionEnded(t); err != nil {
		return nil, nil, err
	}
	if r.Feedback != nil {
		return nil, nil, backend.Errorf(backend.ECONFLICT, "the feedback of this task is recorded already (%s)", r.Feedback.DeliveredAt.Format(time.RFC3339))
	}
	now := s.Now().UTC()
	fields := map[string]string{}
	if in.Method != backend.FeedbackDirect && in.Method != backend.FeedbackPostal {
		fields["method"] = "direct or postal"
	}
	receiver := text(fields, "receiver", in.Receiver, true, maxShort)
	tracking := text(fields, "tracking_no", in.TrackingNo, in.Method == backend.FeedbackPostal, 64)
	delivered, err := time.Parse(time.RFC3339, in.DeliveredAt)
	switch {
	case err != nil:
		fields["delivered_at"] = "a time (RFC 3339, e.g. 2026-03-05T10:00:00+08:00)"
	case delivered.After(now.Add(clockSkew)):
		fields["delivered_at"] = "in the future"
	case day(delivered).Before(day(*t.InspectionEndedAt)):
		fields["delivered_at"] = "before the inspection ended (" + string(backend.DateOf(*t.InspectionEndedAt)) + ")"
	}
	if len(fields) > 0 {
		return nil, nil, backend.InvalidFields("invalid feedback", fields)
	}
	cal, err := s.Workflow.WorkCalendar(ctx)
	if err != nil {
		return nil, nil, err
	}

	before := digest(t, r)
	delivered = delivered.UTC()
	fb := &backend.Feedback{
		Method: in.Method, DeliveredAt: delivered, Receiver: receiver, TrackingNo: tracking, Due: t.Deadlines.Feedback,
		RecordedBy: backend.ActorFromContext(ctx).UserID, RecordedAt: now,
	}
	if due, err := time.ParseInLocation(time.DateOnly, fb.Due, backend.ChinaTime); err == nil && day(delivered).After(due) {
		fb.Late, fb.WorkdaysLate = true, cal.WorkdaysBetween(due, delivered)
	}
	r.Feedback = fb
	t.FeedbackAt, t.UpdatedAt = &delivered, now
	if err := s.write(ctx, "task.feedback", t, r, before); err != nil {
		return nil, nil, err
	}
	return t, r, nil
}
