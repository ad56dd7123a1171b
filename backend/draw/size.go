package draw

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// Kinds of draw (art. 8), and the census of art. 16's 100% rule.
const (
	KindUndirected = "undirected" // by ratio or count, balanced across towns
	KindDirected   = "directed"   // filtered, then a simple random sample
	KindCoverage   = "coverage"   // every key-supervision or blacklisted unit not yet covered
)

// Size is how many enterprises a plan draws: a ratio of the pool or a
// count; neither for a coverage plan, which takes the whole pool. It is
// published as {"ratio": "0.07"} or {"count": 12}.
type Size struct {
	// Ratio is a decimal string: "0." or "1." followed by one to six
	// digits, or "1", in (0, 1]. It is never a binary float, so every
	// implementation computes the same sample size.
	Ratio string `json:"ratio,omitempty"`
	Count int    `json:"count,omitempty"`
}

var ratioForm = regexp.MustCompile(`^[01](\.[0-9]{1,6})?$`)

// MaxRatioDigits is how many decimal places a ratio may have.
const MaxRatioDigits = 6

// ParseRatio checks a ratio's form and value and returns it as the integer
// numerator p and the power of ten d of p / 10^d.
func ParseRatio(ratio string) (p, scale int64, err error) {
	if !ratioForm.MatchString(ratio) {
		return 0, 0, fmt.Errorf("draw: the ratio %q is not a decimal like 0.1 (at most %d decimal places)", ratio, MaxRatioDigits)
	}
	whole, frac, _ := strings.Cut(ratio, ".")
	scale = 1
	for range len(frac) {
		scale *= 10
	}
	p, _ = strconv.ParseInt(whole+frac, 10, 64)
	if p == 0 || p > scale {
		return 0, 0, fmt.Errorf("draw: the ratio %s must be above 0 and at most 1", ratio)
	}
	return p, scale, nil
}

// RatioFromFloat writes a float ratio (as older stored plans hold it) in
// the decimal form, exactly as the shortest decimal that reads back as
// the same float (0.07 stays "0.07"). EINVALID-worthy errors for more than
// six decimal places or values outside (0, 1].
func RatioFromFloat(f float64) (string, error) {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if _, _, err := ParseRatio(s); err != nil {
		return "", err
	}
	return s, nil
}

// Of returns the sample size for a pool of n members (SPEC.md §5): a count
// as given (at most n), a ratio p/10^d rounded up, ceil(p·n / 10^d),
// computed in integers.
func (s Size) Of(kind string, n int) (int, error) {
	switch kind {
	case KindCoverage:
		if s.Ratio != "" || s.Count != 0 {
			return 0, errors.New("draw: a coverage plan takes the whole pool; give no ratio or count")
		}
		return n, nil
	case KindDirected, KindUndirected:
	default:
		return 0, fmt.Errorf("draw: unknown kind %q", kind)
	}
	switch {
	case s.Ratio != "" && s.Count != 0:
		return 0, errors.New("draw: give a ratio or a count, not both")
	case s.Ratio != "":
		p, scale, err := ParseRatio(s.Ratio)
		if err != nil {
			return 0, err
		}
		k := new(big.Int).Mul(big.NewInt(p), big.NewInt(int64(n)))
		k.Add(k, big.NewInt(scale-1))
		return int(k.Quo(k, big.NewInt(scale)).Int64()), nil
	case s.Count < 1:
		return 0, errors.New("draw: a ratio or a count of at least 1 is required")
	case s.Count > n:
		return 0, fmt.Errorf("draw: cannot draw %d enterprises from a pool of %d", s.Count, n)
	}
	return s.Count, nil
}
