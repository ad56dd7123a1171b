package draw

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"suiji/backend/draw/drawv1"
)

// Mismatch is a verifier's verdict on a record that does not check out: the
// path of the first field found wrong, in the order SPEC.md §12 checks them
// (e.g. "candidates[4].excluded", "selections[2].group"), and what was
// expected. Every verifier names the same path for the same record, which
// the test vectors pin down.
type Mismatch struct {
	Path    string
	Message string
}

func (m *Mismatch) Error() string { return m.Path + ": " + m.Message }

func mismatch(path, format string, args ...any) error {
	return &Mismatch{Path: path, Message: fmt.Sprintf(format, args...)}
}

// Verify re-computes a version-2 record (SPEC.md §12) and returns nil when
// every part checks out, or a *Mismatch naming the first part that does
// not. A failed attempt verifies when its pool and roster do: its seed is
// not published, so its selection cannot (and must not) be re-computed.
func Verify(r *Record) error {
	if r.Algorithm != Algorithm || r.AlgorithmVersion != AlgorithmVersion {
		return mismatch("algorithm_version", "record uses %s %s, this verifier knows %s %s", r.Algorithm, r.AlgorithmVersion, Algorithm, AlgorithmVersion)
	}
	if err := verifySeed(r); err != nil {
		return err
	}
	if err := verifyParameters(r); err != nil {
		return err
	}
	if err := verifyCandidates(r); err != nil {
		return err
	}
	if got := PoolHash(r.Candidates); got != r.PoolSHA256 {
		return mismatch("pool_sha256", "the candidates hash to %s, the record says %s", got, r.PoolSHA256)
	}
	for i := range r.Roster {
		o := &r.Roster[i]
		if i > 0 && r.Roster[i-1].BadgeNo >= o.BadgeNo {
			return mismatch(fmt.Sprintf("roster[%d].badge_no", i), "%s is not after %s in byte order", o.BadgeNo, r.Roster[i-1].BadgeNo)
		}
		if !slices.ContainsFunc(r.Groups.Shares, func(s Share) bool { return s.Department == o.Department }) {
			return mismatch(fmt.Sprintf("roster[%d].department", i), "%s has no share in the groups", o.Department)
		}
	}
	if got := RosterHash(r.Roster); got != r.RosterSHA256 {
		return mismatch("roster_sha256", "the roster hashes to %s, the record says %s", got, r.RosterSHA256)
	}
	in := r.Inputs()
	if in.Pool.Size() != r.PoolSize {
		return mismatch("pool_size", "%d candidates are in the pool, the record says %d", in.Pool.Size(), r.PoolSize)
	}
	k, err := in.SampleSize()
	if err != nil {
		return mismatch("sample_size", "%v", err)
	}
	if k != r.SampleSize {
		return mismatch("sample_size", "the sample is %d, the record says %d", k, r.SampleSize)
	}
	if r.Outcome == OutcomeFailed {
		if len(r.Selections) > 0 || len(r.Allocation) > 0 {
			return mismatch("selections", "a failed attempt selects nothing")
		}
		return nil
	}
	return verifyOutcome(r, in)
}

func verifySeed(r *Record) error {
	switch r.Outcome {
	case OutcomeDrawn:
		if _, err := ParseSealedSeed(string(r.Seed)); err != nil {
			return mismatch("seed", "%v", err)
		}
		if got := r.Seed.Commitment(); got != r.SeedCommitment {
			return mismatch("seed", "SHA-256 of the seed is %s, the commitment is %s", got, r.SeedCommitment)
		}
		if r.Failure != "" {
			return mismatch("failure", "a drawn attempt has no failure")
		}
	case OutcomeFailed:
		if r.Seed != "" {
			return mismatch("seed", "a failed attempt does not reveal its seed")
		}
		if r.Failure == "" {
			return mismatch("failure", "a failed attempt states its reason")
		}
	default:
		return mismatch("outcome", "%q is neither drawn nor failed", r.Outcome)
	}
	if (r.EntropySource == "") != (r.PublicEntropy == "") {
		return mismatch("public_entropy", "public entropy is given exactly when its source was fixed at commit")
	}
	return nil
}

func verifyParameters(r *Record) error {
	switch r.Kind {
	case KindUndirected, KindDirected, KindCoverage:
	default:
		return mismatch("kind", "%q is not a kind of draw", r.Kind)
	}
	if r.Sample.Ratio != "" {
		if _, _, err := ParseRatio(r.Sample.Ratio); err != nil {
			return mismatch("sample.ratio", "%v", err)
		}
	}
	if _, err := newProblem(nil, r.Groups, 0); err != nil {
		return mismatch("groups", "%v", err)
	}
	return nil
}

func verifyCandidates(r *Record) error {
	for i := range r.Candidates {
		c := &r.Candidates[i]
		at := fmt.Sprintf("candidates[%d]", i)
		switch {
		case i > 0 && r.Candidates[i-1].USCC >= c.USCC:
			return mismatch(at+".uscc", "%s is not after %s in byte order", c.USCC, r.Candidates[i-1].USCC)
		case !r.Filter.Considers(r.Kind, c):
			return mismatch(at, "the plan does not consider %s (filter, or not a coverage target)", c.USCC)
		case !strictlyIncreasing(c.DrawIDs):
			return mismatch(at+".draw_ids", "%v is not in byte order without repeats", c.DrawIDs)
		case c.RandomDraws != len(c.DrawIDs):
			return mismatch(at+".random_draws", "%d draws are listed, the count says %d", len(c.DrawIDs), c.RandomDraws)
		case c.RandomDraws > 0 && !c.CoveredThisYear:
			return mismatch(at+".covered_this_year", "a unit drawn this year is covered")
		}
		if want := ExclusionFor(r.Kind, c); c.Excluded != want {
			return mismatch(at+".excluded", "the rules give %q, the record says %q", want, c.Excluded)
		}
	}
	return nil
}

// strictlyIncreasing reports whether ids are in byte order, none twice:
// the published form of a candidate's draw_ids (SPEC.md §6.2).
func strictlyIncreasing(ids []string) bool {
	for i := 1; i < len(ids); i++ {
		if ids[i-1] >= ids[i] {
			return false
		}
	}
	return true
}

func verifyOutcome(r *Record, in *Inputs) error {
	res, err := Run(NewDrawSeed(r.Seed, r.PublicEntropy), in)
	if err != nil {
		return mismatch("selections", "re-running the draw failed: %v", err)
	}
	if len(res.Allocation) != len(r.Allocation) {
		return mismatch("allocation", "%d towns re-computed, %d in the record", len(res.Allocation), len(r.Allocation))
	}
	for i, a := range res.Allocation {
		if a != r.Allocation[i] {
			return mismatch(fmt.Sprintf("allocation[%d]", i), "re-computed %+v, the record says %+v", a, r.Allocation[i])
		}
	}
	if len(res.Selections) != len(r.Selections) {
		return mismatch("selections", "%d re-computed, %d in the record", len(res.Selections), len(r.Selections))
	}
	for i, s := range res.Selections {
		got := r.Selections[i]
		at := fmt.Sprintf("selections[%d]", i)
		switch {
		case s.USCC != got.USCC:
			return mismatch(at+".uscc", "re-computed %s, the record says %s", s.USCC, got.USCC)
		case s.Town != got.Town:
			return mismatch(at+".town", "re-computed %s, the record says %s", s.Town, got.Town)
		case !slices.Equal(s.Group, got.Group):
			return mismatch(at+".group", "re-computed %v, the record says %v", s.Group, got.Group)
		}
	}
	return nil
}

// Past is what the history check needs of another published attempt:
// version-1 records give it too (History).
type Past struct {
	ID       string
	PlanID   string
	Seq      int
	Year     int
	DrawnAt  time.Time
	Drawn    bool     // a successful attempt
	Selected []string // USCCs
}

// PastOf reads the history facts of a version-2 record.
func PastOf(r *Record) (Past, error) {
	at, err := time.Parse(time.RFC3339Nano, r.DrawnAt)
	if err != nil {
		return Past{}, fmt.Errorf("draw %s: drawn_at %q is not an RFC 3339 time", r.ID, r.DrawnAt)
	}
	p := Past{ID: r.ID, PlanID: r.PlanID, Seq: r.Seq, Year: r.Year, DrawnAt: at, Drawn: r.Outcome == OutcomeDrawn}
	for _, s := range r.Selections {
		p.Selected = append(p.Selected, s.USCC)
	}
	return p, nil
}

// PastOfV1 reads the history facts of a suiji-draw/1 record, which was
// published with its year and time beside it.
func PastOfV1(r *drawv1.Record, year int, createdAt time.Time) Past {
	p := Past{ID: r.ID, PlanID: r.PlanID, Seq: r.Seq, Year: year, DrawnAt: createdAt, Drawn: true}
	for _, s := range r.Selections {
		p.Selected = append(p.Selected, s.USCC)
	}
	return p
}

// VerifyHistory checks a record's history facts against the other published
// attempts of its year (SPEC.md §6.3): each candidate's draw_ids must be
// exactly the draws in force at the record's commitment — of every other
// plan, its latest successful attempt drawn before committed_at — that
// selected it. Give it every attempt of the year; one left out makes
// honest records fail, which is the point: nobody can hide a draw.
func VerifyHistory(r *Record, history []Past) error {
	committed, err := time.Parse(time.RFC3339Nano, r.CommittedAt)
	if err != nil {
		return mismatch("committed_at", "%q is not an RFC 3339 time", r.CommittedAt)
	}
	inForce := map[string]Past{} // plan → its draw in force at commit
	for _, p := range history {
		if p.Year != r.Year || p.PlanID == r.PlanID || !p.Drawn || !p.DrawnAt.Before(committed) {
			continue
		}
		if cur, ok := inForce[p.PlanID]; !ok || p.Seq > cur.Seq {
			inForce[p.PlanID] = p
		}
	}
	want := map[string][]string{}
	for _, p := range inForce {
		for _, u := range p.Selected {
			want[u] = append(want[u], p.ID)
		}
	}
	for i := range r.Candidates {
		c := &r.Candidates[i]
		if w := sortedSet(want[c.USCC]); !slices.Equal(w, sortedSet(c.DrawIDs)) {
			return mismatch(fmt.Sprintf("candidates[%d].draw_ids", i), "the draws in force at commit that selected %s are %v, the record says %v", c.USCC, w, c.DrawIDs)
		}
	}
	return nil
}

// ErrUnknownVersion is returned for a record of a version no verifier here
// knows.
var ErrUnknownVersion = errors.New("draw: unknown algorithm version")
