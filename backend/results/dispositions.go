package results

import (
	"context"
	"slices"

	"suiji/backend"
)

// MaxDispositions is how many dispositions one task may have.
const MaxDispositions = 20

// MaxPublications is how many versions a task's published result may
// have before Publish refuses another correction. Every version is kept
// and the anonymous GET /public/v1/results/{id} returns them all, so they
// are bounded as dispositions are. A disposition recorded on a published
// result adds a version too, and counts, but is never refused for the
// cap (it is the statutory record of what followed): a public record
// holds at most MaxPublications+MaxDispositions versions, and a result
// with dispositions takes that many fewer corrections.
const MaxPublications = 50

// DispositionInput is what followed a check (art. 25).
type DispositionInput struct {
	Kind       string // one of backend.DispositionKinds
	CaseNo     string // case_opened: the case number
	Agency     string // transferred_to_agency: which agency; transferred_to_judiciary: which organ (optional)
	Date       string // YYYY-MM-DD
	DocumentNo string // the number of the decision or transfer document
	DocumentID string // an archived document of this task (optional)
	Version    int    // the task version read; 0 to skip the check
}

// AddDisposition records a disposition of a task whose inspection has
// ended: a case opened (with its number), a transfer to another agency
// (which), or a transfer to the judiciary, each with its date and
// document. On a published task the public record gets a new version
// saying so. The coordinator or the lead department's staff record it,
// never someone who is or was in the task's group: every disposition is
// shown publicly (at once on a published result, otherwise with its first
// publication), as Review refuses them the judging of their own work.
// ENOTFOUND; EFORBIDDEN; EINVALID naming each bad field; ECONFLICT when the
// inspection has not ended, the task is cancelled or the version is stale.
func (s *Service) AddDisposition(ctx context.Context, id string, in DispositionInput) (*backend.Task, *backend.TaskResult, error) {
	t, r, err := s.loadManaged(ctx, id, in.Version)
	if err != nil {
		return nil, nil, err
	}
	if err := memberRefused(t, backend.ActorFromContext(ctx), "record a disposition of its result"); err != nil {
		return nil, nil, err
	}
	if err := inspectionEnded(t); err != nil {
		return nil, nil, err
	}
	fields := map[string]string{}
	if !slices.Contains(backend.DispositionKinds, in.Kind) {
		fields["kind"] = "one of " + joinOr(backend.DispositionKinds)
	}
	d := backend.Disposition{
		Kind:       in.Kind,
		CaseNo:     text(fields, "case_no", in.CaseNo, in.Kind == backend.DispositionCaseOpened, 64),
		Agency:     text(fields, "agency", in.Agency, in.Kind == backend.DispositionTransferredToAgency, maxShort),
		DocumentNo: text(fields, "document_no", in.DocumentNo, true, 64),
		DocumentID: in.DocumentID,
	}
	if in.Kind != backend.DispositionCaseOpened && d.CaseNo != "" {
		fields["case_no"] = "only an opened case has a case number"
	}
	now := s.Now().UTC()
	if date, err := backend.ParseDate(in.Date); err != nil {
		fields["date"] = "a date YYYY-MM-DD"
	} else if date > backend.DateOf(now) {
		fields["date"] = "in the future"
	} else if date < backend.DateOf(*t.InspectionEndedAt) {
		fields["date"] = "before the inspection ended (" + string(backend.DateOf(*t.InspectionEndedAt)) + ")"
	} else {
		d.Date = string(date)
	}
	if len(r.Dispositions) >= MaxDispositions {
		fields["kind"] = "a task has at most 20 dispositions"
	}
	if d.DocumentID != "" {
		if err := s.checkDocument(ctx, t, d.DocumentID, fields); err != nil {
			return nil, nil, err
		}
	}
	if len(fields) > 0 {
		return nil, nil, backend.InvalidFields("invalid disposition", fields)
	}
	if r.PublicPending {
		if err := s.project(ctx, t, r); err != nil {
			return nil, nil, err
		}
	}

	before := digest(t, r)
	actor := backend.ActorFromContext(ctx)
	d.ID = backend.NewID()
	d.RecordedBy, d.RecordedAt = actor.UserID, now
	r.Dispositions = append(r.Dispositions, d)
	t.UpdatedAt = now
	published := t.State == backend.TaskPublished
	if published {
		s.addPublication(t, r, actor.UserID, "记录处置结果："+dispositionLabels[d.Kind])
	}
	if err := s.write(ctx, "task.disposition", t, r, before); err != nil {
		return nil, nil, err
	}
	if published {
		if err := s.project(ctx, t, r); err != nil {
			return nil, nil, err
		}
	}
	return t, r, nil
}

// dispositionLabels name the dispositions in Chinese, for the reason of the
// correction a disposition on a published result makes.
var dispositionLabels = map[string]string{
	backend.DispositionCaseOpened:             "立案查处",
	backend.DispositionTransferredToAgency:    "移送其他部门",
	backend.DispositionTransferredToJudiciary: "移送司法机关",
}
