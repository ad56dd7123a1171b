package results

import (
	"context"
	"slices"
	"strconv"

	"suiji/backend"
)

// ReviewInput is a reviewer's decision on a completed task.
type ReviewInput struct {
	Decision string // backend.ReviewApprove or backend.ReviewReturn
	Comment  string // required when returning
	// Result is the inspection result the approval confirms (one of
	// backend.InspectionResults).
	Result  string
	Version int // the task version the reviewer read; 0 to skip the check
}

// Review decides on a completed task: approved, it becomes reviewed and
// its result is confirmed; returned, it goes back to the group (in
// progress) with the comment, and the group is told, to amend and submit
// again. An approval makes the statutory documents and archives them
// (archive.go). The reviewer is the coordinator or staff of the task's lead
// department, and never someone who is or was in its group.
// ENOTFOUND; EFORBIDDEN; EINVALID naming each bad field; ECONFLICT when the
// task is not completed or the version is stale.
func (s *Service) Review(ctx context.Context, id string, in ReviewInput) (*backend.Task, *backend.TaskResult, error) {
	fields := map[string]string{}
	if in.Decision != backend.ReviewApprove && in.Decision != backend.ReviewReturn {
		fields["decision"] = "approve or return"
	}
	in.Comment = text(fields, "comment", in.Comment, in.Decision == backend.ReviewReturn, maxComment)
	if in.Decision == backend.ReviewApprove && !slices.Contains(backend.InspectionResults, in.Result) {
		fields["result"] = "the result the approval confirms: one of " + joinOr(backend.InspectionResults)
	}
	if in.Decision == backend.ReviewReturn && in.Result != "" {
		fields["result"] = "only an approval confirms a result"
	}
	t, r, err := s.load(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	actor := backend.ActorFromContext(ctx)
	switch {
	case !mayManage(actor, t):
		return nil, nil, backend.Errorf(backend.EFORBIDDEN, "a task is reviewed by the coordinator or its lead department's staff")
	case wasMember(t, actor.UserID):
		return nil, nil, backend.Errorf(backend.EFORBIDDEN, "a member of the task's group cannot review its result")
	}
	if len(fields) > 0 {
		return nil, nil, backend.InvalidFields("invalid review", fields)
	}
	// The reviewer's decision sent again — its answer was lost, or the
	// telling after it failed once it was stored (a 5xx, so the console
	// repeats it) — is answered with the task, and whoever it concerns is
	// told again (fixed ids: what went out before is not repeated). A
	// return the group was never told of would leave it waiting for a
	// review already made.
	if repeatOf(t, r, actor.UserID, in) {
		if err := s.Notifier.Notify(ctx, backend.TaskUpdatedNotes(t)); err != nil {
			return nil, nil, err
		}
		if in.Decision == backend.ReviewReturn {
			if err := s.Notifier.Notify(ctx, returnNotes(t, len(r.Reviews), in.Comment)); err != nil {
				return nil, nil, err
			}
		}
		return t, r, nil
	}
	if t.State != backend.TaskCompleted {
		return nil, nil, backend.Errorf(backend.ECONFLICT, "only a completed task is reviewed; this task is %s", t.State)
	}
	if in.Version != 0 && in.Version != t.Version {
		return nil, nil, staleVersion(t)
	}

	before := digest(t, r)
	now := s.Now().UTC()
	rev := backend.Review{Decision: in.Decision, Comment: in.Comment, ReviewerID: actor.UserID, Reviewer: s.actorName(ctx), At: now}
	if in.Decision == backend.ReviewApprove {
		rev.Result = in.Result
		r.Result = in.Result
		t.State = backend.TaskReviewed
		r.DocumentsPending = true // the record is final now: its documents follow (archive.go)
	} else {
		t.State = backend.TaskInProgress
	}
	r.Reviews = append(r.Reviews, rev)
	t.UpdatedAt = now
	if err := s.write(ctx, "task.review", t, r, before); err != nil {
		return nil, nil, err
	}
	if in.Decision == backend.ReviewApprove {
		s.archiveAfterApproval(ctx, t, r)
	}
	if in.Decision == backend.ReviewReturn {
		if err := s.Notifier.Notify(ctx, returnNotes(t, len(r.Reviews), in.Comment)); err != nil {
			return nil, nil, err
		}
	}
	return t, r, nil
}

// repeatOf reports whether in is the last review of t, by userID, sent
// again while it still stands: a return while the group has not
// submitted again (in progress), an approval while the task is reviewed.
func repeatOf(t *backend.Task, r *backend.TaskResult, userID string, in ReviewInput) bool {
	if len(r.Reviews) == 0 {
		return false
	}
	last := r.Reviews[len(r.Reviews)-1]
	if last.ReviewerID != userID || last.Decision != in.Decision || last.Comment != in.Comment || last.Result != in.Result {
		return false
	}
	return (in.Decision == backend.ReviewReturn && t.State == backend.TaskInProgress) ||
		(in.Decision == backend.ReviewApprove && t.State == backend.TaskReviewed)
}

// returnNotes tells every active member that the result was returned. n
// numbers the review, so a second return is a new notification.
func returnNotes(t *backend.Task, n int, comment string) []*backend.Notification {
	var out []*backend.Notification
	for _, u := range t.MemberUserIDs() {
		out = append(out, &backend.Notification{
			ID: backend.NoteID(backend.NoteTaskReturned, t.ID, u, strconv.Itoa(n)), UserID: u, Kind: backend.NoteTaskReturned,
			TaskID: t.ID, TaskVersion: int64(t.Version), PlanID: t.PlanID, Title: "检查结果被退回",
			Body: t.Enterprise.Name + " · 审核意见：" + comment,
		})
	}
	return out
}

// joinOr lists values as "a, b or c".
func joinOr(values []string) string {
	switch len(values) {
	case 0:
		return ""
	case 1:
		return values[0]
	}
	out := ""
	for i, v := range values[:len(values)-1] {
		if i > 0 {
			out += ", "
		}
		out += v
	}
	return out + " or " + values[len(values)-1]
}
