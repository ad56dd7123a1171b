package draw

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// RecordTypeReplacement marks a Replacement's public record.
const RecordTypeReplacement = "replacement"

// Replacement is the public record of one member of a drawn group replaced
// after dispatch (回避, illness, a conflict found late; SPEC.md §11): who
// went out and why, and who came in — drawn at random, on a fresh sealed
// seed committed before, from those still eligible for that enterprise.
// Nobody picks a replacement by hand.
type Replacement struct {
	Algorithm        string `json:"algorithm"`
	AlgorithmVersion string `json:"algorithm_version"`
	Spec             string `json:"spec"`
	Type             string `json:"type"` // "replacement"
	ID               string `json:"id"`
	DrawID           string `json:"draw_id"`
	// Seq numbers the draw's replacements from 1; a group's replacements
	// apply in this order.
	Seq    int    `json:"seq"`
	USCC   string `json:"uscc"`
	Out    string `json:"out"` // badge of the member going out
	Reason string `json:"reason"`
	// GroupBefore is the group in force: the draw's, or the previous
	// replacement's GroupAfter.
	GroupBefore []string `json:"group_before"`
	// The group rules, as the draw had them.
	Required           []string `json:"required"`
	ValidThrough       string   `json:"valid_through"`
	KeepLastInspectors bool     `json:"keep_last_inspectors"`
	// Seeds, as for a draw: committed, then the entropy given, then revealed.
	CommittedAt    string     `json:"committed_at"`
	DrawnAt        string     `json:"drawn_at"`
	SeedCommitment string     `json:"seed_commitment"`
	EntropySource  string     `json:"entropy_source"`
	PublicEntropy  string     `json:"public_entropy"`
	Seed           SealedSeed `json:"seed"`
	// Roster is every inspector of the plan's departments as of the
	// commitment (badge byte order), with RosterSHA256 committed with it.
	Roster       []Officer `json:"roster"`
	RosterSHA256 string    `json:"roster_sha256"`
	// The outcome: how many were eligible, who came in, the new group.
	Eligible   int      `json:"eligible"`
	In         string   `json:"in"`
	GroupAfter []string `json:"group_after"`
}

// ErrNoReplacement means nobody is eligible to replace the member. It is
// known before any seed is used, so refusing reveals nothing.
var ErrNoReplacement = errors.New("draw: nobody eligible is left to replace this member")

// ReplacementInput is what a replacement is a function of.
type ReplacementInput struct {
	USCC               string
	Out                string
	GroupBefore        []string
	Required           []string
	ValidThrough       string
	KeepLastInspectors bool
	Roster             []Officer // every inspector of the plan's departments
}

// normalise returns the roster in badge byte order with its lists sorted.
func (in *ReplacementInput) normalise() ([]Officer, error) {
	roster := slices.Clone(in.Roster)
	for i := range roster {
		o := &roster[i]
		o.Qualifications, o.Conflicts, o.LastInspected = sortedSet(o.Qualifications), sortedSet(o.Conflicts), sortedSet(o.LastInspected)
	}
	slices.SortFunc(roster, func(a, b Officer) int { return strings.Compare(a.BadgeNo, b.BadgeNo) })
	for i := 1; i < len(roster); i++ {
		if roster[i-1].BadgeNo == roster[i].BadgeNo {
			return nil, fmt.Errorf("draw: badge %s is listed twice", roster[i].BadgeNo)
		}
	}
	return roster, nil
}

// Eligible lists, in badge byte order, who may replace the member (SPEC.md
// §11): of the outgoing member's department, certified through the plan's
// end, not already in the group, without a conflict with the enterprise,
// not in its last inspection (unless allowed), and such that the new group
// still holds every required qualification. It needs no seed: a service
// checks it is not empty before it uses one.
func (in *ReplacementInput) Eligible() ([]string, error) {
	roster, err := in.normalise()
	if err != nil {
		return nil, err
	}
	byBadge := map[string]*Officer{}
	for i := range roster {
		byBadge[roster[i].BadgeNo] = &roster[i]
	}
	out, ok := byBadge[in.Out]
	if !ok || !slices.Contains(in.GroupBefore, in.Out) {
		return nil, fmt.Errorf("draw: %s is not a member of the group in the roster", in.Out)
	}
	var others []*Officer
	for _, b := range in.GroupBefore {
		if b == in.Out {
			continue
		}
		o, ok := byBadge[b]
		if !ok {
			return nil, fmt.Errorf("draw: group member %s is not in the roster", b)
		}
		others = append(others, o)
	}
	var eligible []string
	for i := range roster {
		o := &roster[i]
		if o.Department != out.Department || !o.Active || o.CertificateExpires < in.ValidThrough ||
			slices.Contains(in.GroupBefore, o.BadgeNo) || slices.Contains(o.Conflicts, in.USCC) ||
			(!in.KeepLastInspectors && slices.Contains(o.LastInspected, in.USCC)) {
			continue
		}
		if holdsAll(in.Required, append(slices.Clone(others), o)) {
			eligible = append(eligible, o.BadgeNo)
		}
	}
	return eligible, nil
}

func holdsAll(required []string, group []*Officer) bool {
	for _, q := range required {
		if !slices.ContainsFunc(group, func(o *Officer) bool { return slices.Contains(o.Qualifications, q) }) {
			return false
		}
	}
	return true
}

// Replace draws the replacement: the eligible numbered 1..n in badge byte
// order, and the first pick of the sampler seeded with
// seed.Derive("replace:" + uscc + ":" + out). It returns the badge that
// comes in and the group after, with it in the outgoing member's place.
// ErrNoReplacement when nobody is eligible.
func Replace(seed DrawSeed, in *ReplacementInput) (string, []string, int, error) {
	eligible, err := in.Eligible()
	if err != nil {
		return "", nil, 0, err
	}
	if len(eligible) == 0 {
		return "", nil, 0, ErrNoReplacement
	}
	chosen := eligible[Pick(seed.Derive("replace:"+in.USCC+":"+in.Out), 1, len(eligible))-1]
	after := slices.Clone(in.GroupBefore)
	after[slices.Index(after, in.Out)] = chosen
	return chosen, after, len(eligible), nil
}

// NewReplacement runs a replacement and assembles its public record. The
// attempt's ID, PlanID and Year are not used; Seq numbers it within the
// draw.
func NewReplacement(a Attempt, drawID string, reason string, in *ReplacementInput) (*Replacement, error) {
	if a.Seed.Commitment() != a.SeedCommitment {
		return nil, errors.New("draw: the seed does not match its commitment")
	}
	if (a.EntropySource == "") != (a.PublicEntropy == "") {
		return nil, errors.New("draw: public entropy is given exactly when its source was fixed at commit")
	}
	roster, err := in.normalise()
	if err != nil {
		return nil, err
	}
	chosen, after, n, err := Replace(NewDrawSeed(a.Seed, a.PublicEntropy), in)
	if err != nil {
		return nil, err
	}
	return &Replacement{
		Algorithm: Algorithm, AlgorithmVersion: AlgorithmVersion, Spec: SpecPath, Type: RecordTypeReplacement,
		ID: a.ID, DrawID: drawID, Seq: a.Seq, USCC: in.USCC, Out: in.Out, Reason: reason,
		GroupBefore: slices.Clone(in.GroupBefore), Required: sortedSet(in.Required), ValidThrough: in.ValidThrough,
		KeepLastInspectors: in.KeepLastInspectors, CommittedAt: a.CommittedAt, DrawnAt: a.DrawnAt,
		SeedCommitment: a.SeedCommitment, EntropySource: a.EntropySource, PublicEntropy: a.PublicEntropy, Seed: a.Seed,
		Roster: roster, RosterSHA256: RosterHash(roster), Eligible: n, In: chosen, GroupAfter: after,
	}, nil
}

// VerifyReplacement re-computes a replacement record (SPEC.md §12.3) and
// returns nil or the *Mismatch found first.
func VerifyReplacement(r *Replacement) error {
	if r.Algorithm != Algorithm || r.AlgorithmVersion != AlgorithmVersion || r.Type != RecordTypeReplacement {
		return mismatch("algorithm_version", "record is %s %s %s, this verifier knows replacements of %s %s", r.Algorithm, r.AlgorithmVersion, r.Type, Algorithm, AlgorithmVersion)
	}
	if _, err := ParseSealedSeed(string(r.Seed)); err != nil {
		return mismatch("seed", "%v", err)
	}
	if got := r.Seed.Commitment(); got != r.SeedCommitment {
		return mismatch("seed", "SHA-256 of the seed is %s, the commitment is %s", got, r.SeedCommitment)
	}
	if (r.EntropySource == "") != (r.PublicEntropy == "") {
		return mismatch("public_entropy", "public entropy is given exactly when its source was fixed at commit")
	}
	for i := 1; i < len(r.Roster); i++ {
		if r.Roster[i-1].BadgeNo >= r.Roster[i].BadgeNo {
			return mismatch(fmt.Sprintf("roster[%d].badge_no", i), "%s is not after %s in byte order", r.Roster[i].BadgeNo, r.Roster[i-1].BadgeNo)
		}
	}
	if got := RosterHash(r.Roster); got != r.RosterSHA256 {
		return mismatch("roster_sha256", "the roster hashes to %s, the record says %s", got, r.RosterSHA256)
	}
	in := &ReplacementInput{USCC: r.USCC, Out: r.Out, GroupBefore: r.GroupBefore, Required: r.Required,
		ValidThrough: r.ValidThrough, KeepLastInspectors: r.KeepLastInspectors, Roster: r.Roster}
	eligible, err := in.Eligible()
	if err != nil {
		return mismatch("out", "%v", err)
	}
	if len(eligible) != r.Eligible {
		return mismatch("eligible", "%d are eligible, the record says %d", len(eligible), r.Eligible)
	}
	chosen, after, _, err := Replace(NewDrawSeed(r.Seed, r.PublicEntropy), in)
	if err != nil {
		return mismatch("in", "%v", err)
	}
	if chosen != r.In {
		return mismatch("in", "re-computed %s, the record says %s", chosen, r.In)
	}
	if !slices.Equal(after, r.GroupAfter) {
		return mismatch("group_after", "re-computed %v, the record says %v", after, r.GroupAfter)
	}
	return nil
}

// VerifyReplacements checks a draw's replacements against its record: each
// verifies on its own, belongs to the draw, is numbered 1, 2, … in the
// order given, and starts from the group in force — the draw's selection
// for its enterprise, or the previous replacement's group after. The
// rules (required, valid_through, keep_last_inspectors) are the draw's.
func VerifyReplacements(rec *Record, reps []*Replacement) error {
	groups := map[string][]string{}
	for _, s := range rec.Selections {
		groups[s.USCC] = s.Group
	}
	for i, rp := range reps {
		at := fmt.Sprintf("replacements[%d]", i)
		if err := VerifyReplacement(rp); err != nil {
			var m *Mismatch
			if errors.As(err, &m) {
				return mismatch(at+"."+m.Path, "%s", m.Message)
			}
			return err
		}
		switch g, ok := groups[rp.USCC]; {
		case rp.DrawID != rec.ID:
			return mismatch(at+".draw_id", "belongs to %s, not %s", rp.DrawID, rec.ID)
		case rp.Seq != i+1:
			return mismatch(at+".seq", "is %d, expected %d", rp.Seq, i+1)
		case !ok:
			return mismatch(at+".uscc", "%s was not drawn", rp.USCC)
		case !slices.Equal(g, rp.GroupBefore):
			return mismatch(at+".group_before", "the group in force is %v, the record says %v", g, rp.GroupBefore)
		case !slices.Equal(sortedSet(rec.Groups.Required), rp.Required) || rec.Groups.ValidThrough != rp.ValidThrough ||
			rec.Groups.KeepLastInspectors != rp.KeepLastInspectors:
			return mismatch(at+".required", "the group rules differ from the draw's")
		}
		groups[rp.USCC] = rp.GroupAfter
	}
	return nil
}
