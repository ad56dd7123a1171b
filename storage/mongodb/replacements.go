package mongodb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
	"suiji/backend/draw"
)

// replacementModel is a committed (or drawn, or rejected) replacement. The
// frozen roster is kept as its JSON text, as the record will publish it.
// A leader's decision is kept with it (approved_* or rejected_*, absent
// while undecided).
type replacementModel struct {
	ID             string    `bson:"_id"`
	TaskID         string    `bson:"task_id"`
	DrawID         string    `bson:"draw_id"`
	PlanID         string    `bson:"plan_id"`
	USCC           string    `bson:"uscc"`
	Out            string    `bson:"out"`
	Reason         string    `bson:"reason"`
	EntropySource  string    `bson:"entropy_source"`
	SeedCommitment string    `bson:"seed_commitment"`
	SealedSeed     []byte    `bson:"sealed_seed"`
	Roster         string    `bson:"roster"`
	RosterSHA256   string    `bson:"roster_sha256"`
	Eligible       int       `bson:"eligible"`
	EligibleBadges []string  `bson:"eligible_badges,omitempty"`
	State          string    `bson:"state"`
	CommittedAt    time.Time `bson:"committed_at"`
	CommittedBy    string    `bson:"committed_by"`
	// Who each badge of the roster was at the commitment; absent on a
	// replacement committed before they were kept.
	Accounts []rosterAccountModel `bson:"accounts,omitempty"`
	// The entropy's value, once the first draw call fixed it.
	PublicEntropy string `bson:"public_entropy,omitempty"`
	// The leader's decision.
	ApprovedAt      *time.Time `bson:"approved_at,omitempty"`
	ApprovedBy      string     `bson:"approved_by,omitempty"`
	RejectedAt      *time.Time `bson:"rejected_at,omitempty"`
	RejectedBy      string     `bson:"rejected_by,omitempty"`
	DecisionComment string     `bson:"decision_comment,omitempty"`
	Untold          bool       `bson:"untold,omitempty"` // set with a decision, cleared once it is told
	Record          string     `bson:"record,omitempty"` // the public record's JSON, once drawn
	// A failed draw (state failed).
	FailedAt *time.Time `bson:"failed_at,omitempty"`
	Failure  string     `bson:"failure,omitempty"`
	// From the record, once drawn, for listings that leave the record
	// (and its roster) out.
	Seq     int    `bson:"seq,omitempty"`
	In      string `bson:"in,omitempty"`
	DrawnAt string `bson:"drawn_at,omitempty"`
}

// rosterAccountModel is backend.RosterAccount. A list, not a map keyed by
// badge: a key may not hold every character a badge may.
type rosterAccountModel struct {
	BadgeNo     string `bson:"badge_no"`
	InspectorID string `bson:"inspector_id"`
	UserID      string `bson:"user_id"`
}

func (m *replacementModel) domain() (*backend.TaskReplacement, error) {
	r := &backend.TaskReplacement{
		ID: m.ID, TaskID: m.TaskID, DrawID: m.DrawID, PlanID: m.PlanID, USCC: m.USCC, Out: m.Out, Reason: m.Reason,
		EntropySource: m.EntropySource, SeedCommitment: m.SeedCommitment, SealedSeed: m.SealedSeed,
		RosterSHA256: m.RosterSHA256, Eligible: m.Eligible, EligibleBadges: m.EligibleBadges, State: m.State, CommittedAt: m.CommittedAt.UTC(), CommittedBy: m.CommittedBy,
		ApprovedAt: utcPtr(m.ApprovedAt), ApprovedBy: m.ApprovedBy, RejectedAt: utcPtr(m.RejectedAt), RejectedBy: m.RejectedBy,
		DecisionComment: m.DecisionComment, Untold: m.Untold, PublicEntropy: m.PublicEntropy, FailedAt: utcPtr(m.FailedAt), Failure: m.Failure,
	}
	for _, a := range m.Accounts {
		r.Accounts = append(r.Accounts, backend.RosterAccount{BadgeNo: a.BadgeNo, InspectorID: a.InspectorID, UserID: a.UserID})
	}
	if err := json.Unmarshal([]byte(m.Roster), &r.Roster); err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "replacement %s: stored roster unreadable", m.ID)
	}
	if m.Record != "" {
		r.Record = new(draw.Replacement)
		if err := json.Unmarshal([]byte(m.Record), r.Record); err != nil {
			return nil, backend.Wrap(err, backend.EINTERNAL, "replacement %s: stored record unreadable", m.ID)
		}
	}
	return r, nil
}

// replacementRecordModel is a drawn record, under its draw and number: the
// id is the fence.
type replacementRecordModel struct {
	ID            string `bson:"_id"` // draw id + ":" + seq
	DrawID        string `bson:"draw_id"`
	Seq           int    `bson:"seq"`
	ReplacementID string `bson:"replacement_id"`
	Record        string `bson:"record"`
}

func (m *replacementRecordModel) domain() (*draw.Replacement, error) {
	var rec draw.Replacement
	if err := json.Unmarshal([]byte(m.Record), &rec); err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "replacement record %s unreadable", m.ID)
	}
	return &rec, nil
}

// Replacements returns the replacement store.
func (db *DB) Replacements() *ReplacementStore { return &ReplacementStore{db: db} }

// ReplacementStore implements backend.ReplacementStore.
type ReplacementStore struct{ db *DB }

var _ backend.ReplacementStore = (*ReplacementStore)(nil)

func (s *ReplacementStore) coll() collection    { return s.db.collection("replacements") }
func (s *ReplacementStore) records() collection { return s.db.collection("replacement_records") }

// CreateReplacement implements backend.ReplacementStore.
func (s *ReplacementStore) CreateReplacement(ctx context.Context, r *backend.TaskReplacement) error {
	if r.ID == "" {
		r.ID = newID()
	}
	roster, err := json.Marshal(r.Roster)
	if err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "encoding the frozen roster")
	}
	var accounts []rosterAccountModel
	for _, a := range r.Accounts {
		accounts = append(accounts, rosterAccountModel{BadgeNo: a.BadgeNo, InspectorID: a.InspectorID, UserID: a.UserID})
	}
	err = insertOne(ctx, s.coll(), &replacementModel{
		ID: r.ID, TaskID: r.TaskID, DrawID: r.DrawID, PlanID: r.PlanID, USCC: r.USCC, Out: r.Out, Reason: r.Reason,
		EntropySource: r.EntropySource, SeedCommitment: r.SeedCommitment, SealedSeed: r.SealedSeed, Roster: string(roster),
		RosterSHA256: r.RosterSHA256, Accounts: accounts, Eligible: r.Eligible, EligibleBadges: r.EligibleBadges, State: r.State, CommittedAt: r.CommittedAt, CommittedBy: r.CommittedBy,
		ApprovedAt: r.ApprovedAt, ApprovedBy: r.ApprovedBy, RejectedAt: r.RejectedAt, RejectedBy: r.RejectedBy, DecisionComment: r.DecisionComment,
		PublicEntropy: r.PublicEntropy, FailedAt: r.FailedAt, Failure: r.Failure,
	})
	return err
}

// FindReplacement implements backend.ReplacementStore.
func (s *ReplacementStore) FindReplacement(ctx context.Context, id string) (*backend.TaskReplacement, error) {
	var m replacementModel
	if err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "replacement not found")
	}
	return m.domain()
}

// FindReplacementsByTask implements backend.ReplacementStore.
func (s *ReplacementStore) FindReplacementsByTask(ctx context.Context, taskID string) ([]*backend.TaskReplacement, error) {
	models, err := findAll(ctx, s.coll(), bson.D{{Key: "task_id", Value: taskID}},
		options.Find().SetSort(bson.D{{Key: "committed_at", Value: 1}, {Key: "_id", Value: 1}}), func(m *replacementModel) *replacementModel { return m })
	if err != nil {
		return nil, err
	}
	out := make([]*backend.TaskReplacement, len(models))
	for i, m := range models {
		if out[i], err = m.domain(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// InsertReplacementRecord implements backend.ReplacementStore.
func (s *ReplacementStore) InsertReplacementRecord(ctx context.Context, replacementID string, rec *draw.Replacement) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "encoding the replacement record")
	}
	err = insertOne(ctx, s.records(), &replacementRecordModel{
		ID: fmt.Sprintf("%s:%d", rec.DrawID, rec.Seq), DrawID: rec.DrawID, Seq: rec.Seq, ReplacementID: replacementID, Record: string(raw),
	})
	if backend.ErrorCode(err) == backend.ECONFLICT {
		return backend.Wrap(err, backend.ECONFLICT, "replacement %d of draw %s is taken", rec.Seq, rec.DrawID)
	}
	return err
}

// FindReplacementRecords implements backend.ReplacementStore.
func (s *ReplacementStore) FindReplacementRecords(ctx context.Context, drawID string, afterSeq, limit int) ([]*draw.Replacement, error) {
	models, err := findAll(ctx, s.records(), bson.D{{Key: "draw_id", Value: drawID}, {Key: "seq", Value: bson.D{{Key: "$gt", Value: afterSeq}}}},
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(int64(limit)), func(m *replacementRecordModel) *replacementRecordModel { return m })
	if err != nil {
		return nil, err
	}
	out := make([]*draw.Replacement, len(models))
	for i, m := range models {
		if out[i], err = m.domain(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LastReplacementSeq implements backend.ReplacementStore: the seq alone
// is read, not the records.
func (s *ReplacementStore) LastReplacementSeq(ctx context.Context, drawID string) (int, error) {
	var row struct {
		Seq int `bson:"seq"`
	}
	err := s.records().FindOne(ctx, bson.D{{Key: "draw_id", Value: drawID}},
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}}).SetProjection(bson.D{{Key: "seq", Value: 1}})).Decode(&row)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, translate(err)
	}
	return row.Seq, nil
}

// FindReplacementRecord implements backend.ReplacementStore.
func (s *ReplacementStore) FindReplacementRecord(ctx context.Context, replacementID string) (*draw.Replacement, error) {
	var m replacementRecordModel
	if err := s.records().FindOne(ctx, bson.D{{Key: "replacement_id", Value: replacementID}}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "the replacement is not drawn")
	}
	return m.domain()
}

// MarkReplacementDrawn implements backend.ReplacementStore.
func (s *ReplacementStore) MarkReplacementDrawn(ctx context.Context, id string, rec *draw.Replacement) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "encoding the replacement record")
	}
	// A decision still owed to be told is told no more: drawn, it asks
	// nobody to draw it (the draw tells whom it concerns).
	_, err = setFields(ctx, s.coll(), id, bson.D{{Key: "state", Value: backend.ReplacementDrawn}, {Key: "record", Value: string(raw)},
		{Key: "seq", Value: rec.Seq}, {Key: "in", Value: rec.In}, {Key: "drawn_at", Value: rec.DrawnAt}, {Key: "untold", Value: false}})
	return err
}

// FindReplacementSummaries implements backend.ReplacementStore. The frozen
// roster, the sealed seed and the record stay in the store: a listing
// reads a few hundred bytes of each replacement, not its roster.
func (s *ReplacementStore) FindReplacementSummaries(ctx context.Context, drawID string, limit int) ([]*backend.ReplacementSummary, error) {
	opts := options.Find().
		SetSort(bson.D{{Key: "draw_id", Value: 1}, {Key: "committed_at", Value: 1}, {Key: "_id", Value: 1}}).
		SetProjection(bson.D{{Key: "roster", Value: 0}, {Key: "accounts", Value: 0}, {Key: "sealed_seed", Value: 0}, {Key: "record", Value: 0}}).
		SetLimit(int64(limit))
	return findAll(ctx, s.coll(), bson.D{{Key: "draw_id", Value: drawID}}, opts, func(m *replacementModel) *backend.ReplacementSummary {
		return &backend.ReplacementSummary{
			ID: m.ID, TaskID: m.TaskID, USCC: m.USCC, Out: m.Out, Reason: m.Reason, State: m.State, EntropySource: m.EntropySource,
			SeedCommitment: m.SeedCommitment, Eligible: m.Eligible, CommittedAt: m.CommittedAt.UTC(),
			ApprovedAt: utcPtr(m.ApprovedAt), RejectedAt: utcPtr(m.RejectedAt), DecisionComment: m.DecisionComment,
			Seq: m.Seq, In: m.In, DrawnAt: m.DrawnAt, FailedAt: utcPtr(m.FailedAt), Failure: m.Failure,
		}
	})
}

// FixReplacementEntropy implements backend.ReplacementStore: a
// compare-and-set from committed without a value to committed with it.
func (s *ReplacementStore) FixReplacementEntropy(ctx context.Context, id, value string) error {
	unfixed := bson.D{{Key: "state", Value: backend.ReplacementCommitted}, {Key: "public_entropy", Value: bson.D{{Key: "$exists", Value: false}}}}
	ok, err := setFieldsIf(ctx, s.coll(), id, unfixed, bson.D{{Key: "public_entropy", Value: value}})
	if err != nil || ok {
		return err
	}
	if _, err := s.FindReplacement(ctx, id); err != nil {
		return err
	}
	return backend.Errorf(backend.ECONFLICT, "the replacement's public entropy was fixed, or the replacement decided or drawn, meanwhile")
}

// MarkReplacementFailed implements backend.ReplacementStore: a
// compare-and-set from committed to failed.
func (s *ReplacementStore) MarkReplacementFailed(ctx context.Context, id string, at time.Time, why string) error {
	at = at.UTC()
	ok, err := setFieldsIf(ctx, s.coll(), id, bson.D{{Key: "state", Value: backend.ReplacementCommitted}},
		bson.D{{Key: "state", Value: backend.ReplacementFailed}, {Key: "failed_at", Value: at}, {Key: "failure", Value: why}, {Key: "untold", Value: false}})
	if err != nil || ok {
		return err
	}
	if _, err := s.FindReplacement(ctx, id); err != nil {
		return err
	}
	return backend.Errorf(backend.ECONFLICT, "the replacement was decided, drawn or failed meanwhile")
}

// DecideReplacement implements backend.ReplacementStore: a compare-and-set
// from committed (and, to approve, not approved) to approved (still
// committed) or rejected.
func (s *ReplacementStore) DecideReplacement(ctx context.Context, id string, d backend.ReplacementDecision) error {
	at := d.At.UTC()
	set := bson.D{{Key: "approved_at", Value: at}, {Key: "approved_by", Value: d.By}}
	if !d.Approve {
		set = bson.D{{Key: "state", Value: backend.ReplacementRejected}, {Key: "rejected_at", Value: at}, {Key: "rejected_by", Value: d.By}}
	}
	if d.Comment != "" {
		set = append(set, bson.E{Key: "decision_comment", Value: d.Comment})
	}
	set = append(set, bson.E{Key: "untold", Value: true})
	// An approval lands on a replacement neither approved nor rejected; a
	// rejection on one not rejected (withdrawing an approval). Neither on
	// a drawn one.
	undecided := bson.D{{Key: "state", Value: backend.ReplacementCommitted}}
	if d.Approve {
		undecided = append(undecided, bson.E{Key: "approved_at", Value: bson.D{{Key: "$exists", Value: false}}})
	}
	ok, err := setFieldsIf(ctx, s.coll(), id, undecided, set)
	if err != nil || ok {
		return err
	}
	if _, err := s.FindReplacement(ctx, id); err != nil {
		return err
	}
	return backend.Errorf(backend.ECONFLICT, "the replacement was decided or drawn meanwhile")
}

// FindUntoldReplacements implements backend.ReplacementStore.
func (s *ReplacementStore) FindUntoldReplacements(ctx context.Context, limit int) ([]string, error) {
	return findIDs(ctx, s.coll(), bson.D{{Key: "untold", Value: true}}, limit)
}

// MarkReplacementTold implements backend.ReplacementStore.
func (s *ReplacementStore) MarkReplacementTold(ctx context.Context, id string, approve bool) error {
	decided := bson.D{{Key: "_id", Value: id}, {Key: "state", Value: backend.ReplacementRejected}}
	if approve {
		decided = bson.D{{Key: "_id", Value: id}, {Key: "state", Value: bson.D{{Key: "$ne", Value: backend.ReplacementRejected}}},
			{Key: "approved_at", Value: bson.D{{Key: "$exists", Value: true}}}}
	}
	unlock := lockDocument(s.coll(), id)
	defer unlock()
	_, err := s.coll().UpdateOne(ctx, decided, bson.D{{Key: "$unset", Value: bson.D{{Key: "untold", Value: ""}}}})
	return translate(err)
}

// FindDrawnReplacementIDs implements backend.ReplacementStore: only the
// ids are read, never a record.
func (s *ReplacementStore) FindDrawnReplacementIDs(ctx context.Context, drawID string) (map[string]bool, error) {
	opts := options.Find().SetProjection(bson.D{{Key: "_id", Value: 0}, {Key: "replacement_id", Value: 1}})
	ids, err := findAll(ctx, s.records(), bson.D{{Key: "draw_id", Value: drawID}}, opts, func(m *replacementRecordModel) string { return m.ReplacementID })
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}
