package drawv1

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Officer is an inspector as the draw sees it: the eligibility facts, no
// personal contact data. This is also what the public verification record
// shows of the roster.
type Officer struct {
	BadgeNo            string
	Department         string
	Qualifications     []string
	Active             bool
	CertificateExpires string   // YYYY-MM-DD; must be on or after the plan's end
	Conflicts          []string // USCCs of enterprises the officer declared a conflict with (回避)
}

// Share is how many members one department contributes to each group. In a
// joint plan (art. 27) every partner department draws its own members.
type Share struct {
	Department string `json:"department"`
	Members    int    `json:"members"`
}

// GroupSpec says what every group must be.
type GroupSpec struct {
	Shares []Share
	// Required are the qualifications the group must cover together: the
	// required qualification of every item of the plan (art. 15).
	Required []string
	// ValidThrough is the plan's last day (YYYY-MM-DD): certificates must be
	// valid through it.
	ValidThrough string
	// KeepLastInspectors allows the inspectors of an enterprise's last
	// inspection into its group again; by default they are left out.
	KeepLastInspectors bool
}

// Group is the inspectors drawn for one enterprise, in the order drawn.
type Group struct {
	USCC    string
	Members []string // badge numbers
}

// GroupError says which enterprise could get no valid group and what was
// missing. A draw with any GroupError stores nothing.
type GroupError struct {
	USCC   string
	Reason string
}

func (e *GroupError) Error() string {
	return fmt.Sprintf("no valid inspector group for enterprise %s: %s", e.USCC, e.Reason)
}

// DrawGroups draws a group for each enterprise, in the given order. For
// enterprise E and department D the eligible officers (active, certificate
// valid through the plan, of D, without a declared conflict with E, not in
// E's last inspection unless allowed, and under the load cap) are put in a
// random order by sampling all of them without replacement with the seed
// derived for "group:<USCC>:<D>". Then, for each required qualification
// that the group does not cover yet — the scarcest first (fewest certified
// holders, then by name) — the first officer in that order (over the
// shares' departments in order) who has it joins. Then each department's
// share is filled from its order, first with officers who are not
// specialists (holders of a required qualification that not every certified
// officer holds), then with anyone: specialists are kept for the groups that
// need them, so a scarce qualification is not used up on ordinary slots.
//
// Load is balanced within the draw: nobody is drawn for more than their
// fair share plus one. An officer's fair share is floor(slots/eligible),
// where slots is the department's share times the number of enterprises and
// eligible is the number of its active, certified officers; for an officer
// holding a required qualification it is at least floor(E/holders), E being
// the number of enterprises and holders the certified officers (of the
// shares' departments) who hold it — scarce specialists must cover every
// enterprise between them, so their fair share is the specialist work.
func DrawGroups(seed string, enterprises []Candidate, roster []Officer, spec GroupSpec) ([]Group, error) {
	total := 0
	for _, s := range spec.Shares {
		if s.Members < 0 {
			return nil, fmt.Errorf("draw: department %s has a negative share", s.Department)
		}
		total += s.Members
	}
	if total < 2 {
		return nil, fmt.Errorf("draw: a group needs at least 2 inspectors, the shares give %d", total)
	}

	spec.Required = slices.Clone(spec.Required)
	slices.Sort(spec.Required)
	spec.Required = slices.Compact(spec.Required)

	certified := map[string][]*Officer{} // by department, in badge order
	for i := range roster {
		if o := &roster[i]; o.Active && o.CertificateExpires >= spec.ValidThrough {
			certified[o.Department] = append(certified[o.Department], o)
		}
	}
	holders := map[string]int{} // required qualification → certified officers holding it
	deptCap := map[string]int{}
	for _, s := range spec.Shares {
		officers := certified[s.Department]
		sort.Slice(officers, func(i, j int) bool { return officers[i].BadgeNo < officers[j].BadgeNo })
		if len(officers) > 0 {
			deptCap[s.Department] = s.Members*len(enterprises)/len(officers) + 1
		}
		for _, o := range officers {
			for _, q := range spec.Required {
				if slices.Contains(o.Qualifications, q) {
					holders[q]++
				}
			}
		}
	}
	everyone := 0
	for _, s := range spec.Shares {
		everyone += len(certified[s.Department])
	}
	// Scarcest first: the qualification fewest can cover is placed while
	// the most choice remains.
	slices.SortStableFunc(spec.Required, func(a, b string) int { return holders[a] - holders[b] })

	caps := map[string]int{}        // badge → most enterprises the officer may be drawn for
	specialist := map[string]bool{} // badge → holds a required qualification not everyone holds
	for _, s := range spec.Shares {
		for _, o := range certified[s.Department] {
			c := deptCap[s.Department]
			for _, q := range spec.Required {
				if slices.Contains(o.Qualifications, q) {
					c = max(c, len(enterprises)/holders[q]+1)
					specialist[o.BadgeNo] = specialist[o.BadgeNo] || holders[q] < everyone
				}
			}
			caps[o.BadgeNo] = c
		}
	}

	load := map[string]int{}
	groups := make([]Group, 0, len(enterprises))
	for i := range enterprises {
		g, err := drawGroup(seed, &enterprises[i], certified, caps, specialist, load, spec)
		if err != nil {
			return nil, err
		}
		for _, b := range g.Members {
			load[b]++
		}
		groups = append(groups, g)
	}
	return groups, nil
}

func drawGroup(seed string, e *Candidate, certified map[string][]*Officer, caps map[string]int, specialist map[string]bool, load map[string]int, spec GroupSpec) (Group, error) {
	orders := make([]*lazyOrder, len(spec.Shares))
	for i, s := range spec.Shares {
		eligible := make([]*Officer, 0, len(certified[s.Department]))
		for _, o := range certified[s.Department] {
			if slices.Contains(o.Conflicts, e.USCC) ||
				(!spec.KeepLastInspectors && slices.Contains(e.LastInspectors, o.BadgeNo)) ||
				load[o.BadgeNo] >= caps[o.BadgeNo] {
				continue
			}
			eligible = append(eligible, o)
		}
		if len(eligible) < s.Members {
			return Group{}, &GroupError{e.USCC, fmt.Sprintf(
				"department %s has %d eligible inspectors, %d needed (after expired certificates, conflicts of interest, the last inspection's group and the load cap)",
				s.Department, len(eligible), s.Members)}
		}
		orders[i] = newLazyOrder(DeriveSeed(seed, "group:"+e.USCC+":"+s.Department), eligible)
	}

	chosen := map[string]*Officer{}
	count := make([]int, len(spec.Shares))
	var members []string
	take := func(i int, o *Officer) {
		chosen[o.BadgeNo] = o
		count[i]++
		members = append(members, o.BadgeNo)
	}
	covered := func(q string) bool {
		for _, o := range chosen {
			if slices.Contains(o.Qualifications, q) {
				return true
			}
		}
		return false
	}

	var missing []string
	for _, q := range spec.Required { // scarcest first, without repeats (DrawGroups)
		if covered(q) {
			continue
		}
		found := false
		for i, order := range orders {
			if count[i] >= spec.Shares[i].Members {
				continue
			}
			for k := 0; ; k++ {
				o, ok := order.at(k)
				if !ok {
					break
				}
				if _, dup := chosen[o.BadgeNo]; !dup && slices.Contains(o.Qualifications, q) {
					take(i, o)
					found = true
					break
				}
			}
			if found {
				break
			}
		}
		if !found {
			missing = append(missing, q)
		}
	}
	if len(missing) > 0 {
		return Group{}, &GroupError{e.USCC, "no eligible inspector left with qualification " + strings.Join(missing, ", ") +
			" (after expired certificates, conflicts of interest, the last inspection's group and the load cap)"}
	}
	for i, order := range orders {
		for _, specialistsToo := range []bool{false, true} {
			for k := 0; count[i] < spec.Shares[i].Members; k++ {
				o, ok := order.at(k)
				if !ok {
					break
				}
				if _, dup := chosen[o.BadgeNo]; !dup && (specialistsToo || !specialist[o.BadgeNo]) {
					take(i, o)
				}
			}
		}
	}
	return Group{USCC: e.USCC, Members: members}, nil
}

// lazyOrder is the random order of a department's eligible officers for
// one enterprise: the sequence of distinct picks of Sample(seed, n, n),
// produced only as far as it is read. Groups need the first few officers,
// so drawing the whole permutation for every enterprise would be wasted
// work; the prefix read is exactly the same either way.
type lazyOrder struct {
	seed  string
	items []*Officer
	seen  []bool
	order []*Officer
	next  int // the sampler's next i
}

func newLazyOrder(seed string, items []*Officer) *lazyOrder {
	return &lazyOrder{seed: seed, items: items, seen: make([]bool, len(items)+1), next: 1}
}

// at returns the k-th officer (0-based) of the order, or false when there
// are fewer than k+1.
func (l *lazyOrder) at(k int) (*Officer, bool) {
	for len(l.order) <= k && len(l.order) < len(l.items) {
		p := Pick(l.seed, l.next, len(l.items))
		l.next++
		if !l.seen[p] {
			l.seen[p] = true
			l.order = append(l.order, l.items[p-1])
		}
	}
	if k < len(l.order) {
		return l.order[k], true
	}
	return nil, false
}
