package tasks

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"suiji/backend"
	"suiji/backend/workday"
)

// ReminderDays is how many working days before a deadline its reminder is
// due.
const ReminderDays = 2

// SchedulerLease is the name of the lease that lets one instance at a time
// run the deadline scheduler.
const SchedulerLease = "scheduler:deadlines"

// WorkCalendar builds the working-day calendar from the statutory
// schedules and the bureau's overrides as stored now.
func (s *Service) WorkCalendar(ctx context.Context) (*workday.Calendar, error) {
	stored, err := s.Calendar.FindOverrides(ctx)
	if err != nil {
		return nil, err
	}
	overrides := make([]workday.Override, len(stored))
	for i, o := range stored {
		overrides[i] = workday.Override{Date: o.Date, Kind: workday.Kind(o.Kind), Name: o.Name}
	}
	cal, err := workday.New(overrides)
	if err != nil {
		// Stored overrides were validated on the way in; this is a bug.
		return nil, backend.Wrap(err, backend.EINTERNAL, "the stored calendar overrides are invalid")
	}
	return cal, nil
}

// PutOverride adds (or replaces) the bureau's override of one date, e.g. a
// holiday of a year the library does not know yet, with its audit event in
// the same write, then dates anew the deadlines it moves (redate). An
// override the date has already (a repeat, such as a retry after a lost
// answer or a crash) changes nothing and records nothing but the dating.
// EINVALID naming the field; the coordinator's act (the route says so).
func (s *Service) PutOverride(ctx context.Context, o backend.CalendarOverride) (*backend.CalendarOverride, error) {
	o.Name = strings.TrimSpace(o.Name)
	if _, err := workday.New([]workday.Override{{Date: o.Date, Kind: workday.Kind(o.Kind), Name: o.Name}}); err != nil {
		fields := map[string]string{}
		for k, v := range backend.ErrorFields(err) {
			fields[strings.TrimPrefix(k, "overrides[0].")] = v
		}
		return nil, backend.InvalidFields("invalid calendar override", fields)
	}
	stored, err := s.Calendar.FindOverrides(ctx)
	if err != nil {
		return nil, err
	}
	var before any
	for _, old := range stored {
		if old.Date == o.Date {
			if old.Kind == o.Kind && old.Name == o.Name {
				return old, s.redate(ctx)
			}
			before = map[string]string{"date": old.Date, "kind": old.Kind, "name": old.Name}
		}
	}
	if before == nil && len(stored) >= workday.MaxOverrides {
		return nil, backend.InvalidFields("too many overrides", map[string]string{"date": "the calendar holds at most 1000 overrides"})
	}
	o.CreatedBy, o.CreatedAt = backend.ActorFromContext(ctx).UserID, s.Now().UTC()
	err = s.Audit.Change(ctx, backend.AuditChange{Action: "calendar.override", ObjectType: "calendar", ObjectID: o.Date, Before: before,
		After: map[string]string{"date": o.Date, "kind": o.Kind, "name": o.Name}},
		func(ctx context.Context) error { return s.Calendar.PutOverride(ctx, &o) })
	if err != nil {
		return nil, err
	}
	return &o, s.redate(ctx)
}

// redate sets the feedback and publication deadlines still running — of
// tasks whose inspection ended and whose feedback or publication is not
// recorded — anew on the calendar as it now stands: entered after the
// inspection ended (the State Council's schedule of a year the library
// does not know), a holiday moves them later, a make-up working day
// earlier. A deadline that moved loses its reminder and overdue marks,
// which the next scheduler pass gives again where they still hold; the
// change is audited (task.deadlines) and the group's phones are told. A
// task changed meanwhile is read and dated again.
func (s *Service) redate(ctx context.Context) error {
	cal, err := s.WorkCalendar(ctx)
	if err != nil {
		return err
	}
	running, _, err := s.Tasks.FindTasks(ctx, backend.TaskFilter{DeadlinesRunning: true, NoTotal: true})
	if err != nil {
		return err
	}
	for _, t := range running {
		for attempt := 0; t.InspectionEndedAt != nil; attempt++ {
			before := taskDigest(t)
			moved := map[string]bool{}
			if due := cal.Deadline(*t.InspectionEndedAt, workday.FeedbackDays).Format(time.DateOnly); t.FeedbackAt == nil && t.Deadlines.Feedback != due {
				t.Deadlines.Feedback, moved[backend.DeadlineFeedback] = due, true
			}
			if due := cal.Deadline(*t.InspectionEndedAt, workday.PublicationDays).Format(time.DateOnly); t.PublishedAt == nil && t.Deadlines.Publication != due {
				t.Deadlines.Publication, moved[backend.DeadlinePublication] = due, true
			}
			if len(moved) == 0 {
				break
			}
			unmarked := func(kinds []string) []string {
				return slices.DeleteFunc(slices.Clone(kinds), func(k string) bool { return moved[k] })
			}
			t.Reminded, t.Overdue, t.UpdatedAt = unmarked(t.Reminded), unmarked(t.Overdue), s.Now().UTC()
			err := s.updateTask(ctx, t, "task.deadlines", before)
			if err == nil {
				s.remember(t)
				if err := s.tell(ctx, t); err != nil { // the group's phones show the dates
					return err
				}
				break
			}
			if backend.ErrorCode(err) != backend.ECONFLICT || attempt == changeAttempts {
				return err
			}
			if t, err = s.Tasks.FindTaskByID(ctx, t.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// EndInspection records that the inspection of t ended at at and sets the
// statutory deadlines counted from it: feedback 7 and publication 20
// working days after (art. 21, 24). The caller stores t.
func (s *Service) EndInspection(ctx context.Context, t *backend.Task, at time.Time) error {
	cal, err := s.WorkCalendar(ctx)
	if err != nil {
		return err
	}
	at = at.UTC()
	t.InspectionEndedAt = &at
	t.Deadlines.Feedback = cal.Deadline(at, workday.FeedbackDays).Format(time.DateOnly)
	t.Deadlines.Publication = cal.Deadline(at, workday.PublicationDays).Format(time.DateOnly)
	return nil
}

// DeadlineReport is what one pass of the scheduler did.
type DeadlineReport struct {
	Reminded int // reminders written (deadline × task)
	Overdue  int // deadlines newly marked missed
}

// dueDeadlines lists the deadlines of t that still run: the window while
// the group works on it, feedback until given, publication until done.
func dueDeadlines(t *backend.Task) map[string]string {
	out := map[string]string{}
	if t.State == backend.TaskCancelled {
		return out
	}
	if backend.TaskOpen(t.State) && t.Deadlines.Window != "" {
		out[backend.DeadlineWindow] = t.Deadlines.Window
	}
	if t.InspectionEndedAt != nil {
		// Feedback only while it is owed; the publication still runs.
		if t.FeedbackAt == nil && t.Deadlines.Feedback != "" && t.FeedbackOwed() {
			out[backend.DeadlineFeedback] = t.Deadlines.Feedback
		}
		if t.PublishedAt == nil && t.Deadlines.Publication != "" {
			out[backend.DeadlinePublication] = t.Deadlines.Publication
		}
	}
	return out
}

// deadlineNames are the deadlines as the inbox names them.
var deadlineNames = map[string]string{
	backend.DeadlineWindow:      "检查期限",
	backend.DeadlineFeedback:    "结果反馈期限（7个工作日）",
	backend.DeadlinePublication: "结果公示期限（20个工作日）",
}

// RunDeadlines is one pass of the scheduler at the instant now: for every
// task with a deadline running — an open one, or one published before its
// feedback was recorded (backend.TaskFilter.DeadlinesRunning) — it reminds
// the group (and, for feedback and publication, the lead department's
// staff) 2 working days before each running deadline, and marks
// deadlines missed once their day has passed, telling the same people. A
// pass may be repeated or run concurrently: reminders have deterministic
// ids and marks are compare-and-set (a task changed meanwhile is left for
// the next pass).
func (s *Service) RunDeadlines(ctx context.Context, now time.Time) (*DeadlineReport, error) {
	cal, err := s.WorkCalendar(ctx)
	if err != nil {
		return nil, err
	}
	running, _, err := s.Tasks.FindTasks(ctx, backend.TaskFilter{DeadlinesRunning: true, NoTotal: true})
	if err != nil {
		return nil, err
	}
	var open []*backend.Task // neither published nor cancelled: their plans are busy
	for _, t := range running {
		if t.State != backend.TaskPublished {
			open = append(open, t)
		}
	}
	today := now.In(workday.Zone).Format(time.DateOnly)
	rep := &DeadlineReport{}
	staffCache := map[string][]string{}
	for _, t := range running {
		var remind, missed []string
		for kind, due := range dueDeadlines(t) {
			dueDay, err := time.ParseInLocation(time.DateOnly, due, workday.Zone)
			if err != nil {
				continue
			}
			remindFrom := cal.AddWorkdays(dueDay, -ReminderDays).Format(time.DateOnly)
			switch {
			case today > due && !slices.Contains(t.Overdue, kind):
				missed = append(missed, kind)
			case today >= remindFrom && today <= due && !slices.Contains(t.Reminded, kind):
				remind = append(remind, kind)
			}
		}
		if len(remind) == 0 && len(missed) == 0 {
			if len(t.NoticesPending) > 0 { // marked by a pass that did not send them
				if err := s.sendNotices(ctx, t, now, staffCache); err != nil {
					return rep, err
				}
			}
			continue
		}
		slices.Sort(remind)
		slices.Sort(missed)
		before := taskDigest(t)
		t.Reminded = append(t.Reminded, remind...)
		t.Overdue = append(t.Overdue, missed...)
		for _, kind := range remind {
			t.NoticesPending = append(t.NoticesPending, noticeReminder+kind)
		}
		for _, kind := range missed {
			t.NoticesPending = append(t.NoticesPending, noticeOverdue+kind)
		}
		t.UpdatedAt = now.UTC()
		if err := s.updateTask(ctx, t, "task.deadlines", before); backend.ErrorCode(err) == backend.ECONFLICT {
			continue // changed meanwhile: the next pass looks again
		} else if err != nil {
			return rep, err
		}
		if err := s.sendNotices(ctx, t, now, staffCache); err != nil {
			return rep, err
		}
		rep.Reminded += len(remind)
		rep.Overdue += len(missed)
	}
	return rep, s.closeFinished(ctx, open)
}

// whollyDispatched reports whether every selection of the plan's draw in
// force has its task.
func (s *Service) whollyDispatched(ctx context.Context, p *backend.Plan) (bool, error) {
	d, err := s.Draws.FindDrawByID(ctx, p.CurrentDrawID)
	if err != nil {
		return false, err
	}
	_, n, err := s.Tasks.FindTasks(ctx, backend.TaskFilter{PlanID: p.ID, Limit: 1})
	return n >= len(d.Record.Selections), err
}

// closeFinished closes the dispatched plans none of whose tasks is among
// open: a plan closes when its last task is published or cancelled, and
// one whose last task's change was stored but whose closing failed (or
// never ran: the process died) would otherwise stay dispatched for ever.
func (s *Service) closeFinished(ctx context.Context, open []*backend.Task) error {
	dispatched, err := s.Plans.FindPlans(ctx, backend.PlanQuery{Status: backend.PlanDispatched})
	if err != nil {
		return err
	}
	busy := map[string]bool{}
	for _, t := range open {
		busy[t.PlanID] = true
	}
	for _, p := range dispatched {
		if busy[p.ID] {
			continue
		}
		// Only once every selection has its task (ClosePlanIfDone).
		if err := s.ClosePlanIfDone(ctx, p.ID); err != nil {
			return err
		}
	}
	return nil
}

// Prefixes of Task.NoticesPending.
const (
	noticeReminder = "reminder:"
	noticeOverdue  = "overdue:"
)

// sendNotices sends the deadline notices a task's marks left pending —
// they tell of the version that marked it, and have fixed ids, so one
// sent before is not sent again — then clears them. A task changed
// meanwhile keeps them for the next pass.
func (s *Service) sendNotices(ctx context.Context, t *backend.Task, now time.Time, staffCache map[string][]string) error {
	var remind, missed []string
	for _, n := range t.NoticesPending {
		if kind, ok := strings.CutPrefix(n, noticeReminder); ok {
			remind = append(remind, kind)
		} else if kind, ok := strings.CutPrefix(n, noticeOverdue); ok {
			missed = append(missed, kind)
		}
	}
	notes, err := s.deadlineNotes(ctx, t, remind, missed, staffCache)
	if err != nil {
		return err
	}
	if err := s.Notifier.Notify(ctx, notes); err != nil {
		return err
	}
	// Cleared without an audit event — what the notices tell is audited
	// with the marks (task.deadlines); this only records they went out —
	// and the group's phones told of the version it makes, so that a
	// change they make next is not made on a version they never saw.
	t.NoticesPending, t.UpdatedAt = nil, now.UTC()
	switch err := s.Tasks.UpdateTask(ctx, t); {
	case backend.ErrorCode(err) == backend.ECONFLICT:
		return nil // changed meanwhile: the next pass sends them again, which stores nothing twice
	case err != nil:
		return err
	}
	s.remember(t)
	return s.tell(ctx, t)
}

// deadlineNotes builds the reminders and overdue alerts of one task.
func (s *Service) deadlineNotes(ctx context.Context, t *backend.Task, remind, missed []string, staffCache map[string][]string) ([]*backend.Notification, error) {
	recipients := func(kind string) ([]string, error) {
		users := t.MemberUserIDs()
		if kind == backend.DeadlineWindow {
			return users, nil
		}
		staff, ok := staffCache[t.LeadDepartmentID]
		if !ok {
			var err error
			if staff, err = s.departmentStaff(ctx, t.LeadDepartmentID); err != nil {
				return nil, err
			}
			staffCache[t.LeadDepartmentID] = staff
		}
		for _, u := range staff {
			if !slices.Contains(users, u) {
				users = append(users, u)
			}
		}
		return users, nil
	}
	var notes []*backend.Notification
	for _, kind := range remind {
		users, err := recipients(kind)
		if err != nil {
			return nil, err
		}
		notes = append(notes, memberNotes(t, users, backend.NoteTaskReminder, kind, "期限提醒",
			t.Enterprise.Name+" · "+deadlineNames[kind]+"将于 "+dueDeadlines(t)[kind]+" 届满")...)
	}
	for _, kind := range missed {
		users, err := recipients(kind)
		if err != nil {
			return nil, err
		}
		notes = append(notes, memberNotes(t, users, backend.NoteTaskOverdue, kind, "任务已逾期",
			t.Enterprise.Name+" · "+deadlineNames[kind]+"已于 "+dueDeadlines(t)[kind]+" 届满")...)
	}
	return notes, nil
}

// RunScheduler runs RunDeadlines (tells of replacement decisions left
// untold, and aborts abandoned uploads) every
// interval until ctx ends, on one
// instance at a time: the instance holding a Redis lease (which lives two
// intervals and is extended at every pass) works, the others wait, and
// one of them takes over within two intervals when the holder stops.
func (s *Service) RunScheduler(ctx context.Context, every time.Duration, logger *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	var lease backend.Lease
	defer func() {
		if lease != nil {
			_ = lease.Release(context.WithoutCancel(ctx))
		}
	}()
	for {
		if lease != nil && lease.Extend(ctx) != nil {
			lease = nil
		}
		if lease == nil {
			var err error
			if lease, err = s.Locks.Acquire(ctx, SchedulerLease, 2*every); err != nil {
				lease = nil
				if backend.ErrorCode(err) != backend.ECONFLICT && ctx.Err() == nil {
					logger.WarnContext(ctx, "deadlines: no scheduler lease", slog.Any("error", err))
				}
			}
		}
		if lease != nil {
			rep, err := s.RunDeadlines(ctx, s.Now())
			if err != nil && ctx.Err() == nil {
				logger.WarnContext(ctx, "deadlines: a pass failed", slog.Any("error", err))
			} else if rep != nil && rep.Reminded+rep.Overdue > 0 {
				logger.InfoContext(ctx, "deadlines", slog.Int("reminded", rep.Reminded), slog.Int("overdue", rep.Overdue))
			}
			if n, err := s.TellUntoldDecisions(ctx); err != nil && ctx.Err() == nil {
				logger.WarnContext(ctx, "replacements: telling of decisions failed", slog.Any("error", err))
			} else if n > 0 {
				logger.InfoContext(ctx, "replacements: told of decisions left untold", slog.Int("told", n))
			}
			if s.Objects != nil {
				if n, err := s.AbortStaleUploads(ctx, s.Now()); err != nil && ctx.Err() == nil {
					logger.WarnContext(ctx, "uploads: aborting abandoned uploads failed", slog.Any("error", err))
				} else if n > 0 {
					logger.InfoContext(ctx, "uploads: aborted abandoned uploads", slog.Int("aborted", n))
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
