package drawv1

import (
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"slices"
	"strconv"
	"testing"
)

// referenceVectors are the published test cases for Rivest's sampler
// (cjerdonek/rivest-sampler-tests, tests.json): picks with replacement.
var referenceVectors = []struct {
	seed     string
	total    int
	expected []int
}{
	{"0", 1000, []int{905, 573, 160}},
	{"0", 2, []int{1, 1, 2}},
	{"1", 1000, []int{97, 89, 163}},
	{"0000000000", 1000, []int{978, 359, 132}},
	{"999999999999999999999999", 1000, []int{544, 800, 654}},
	{"abcde", 1000, []int{247, 427, 157}},
}

func TestSamplerMatchesReferenceVectors(t *testing.T) {
	for _, v := range referenceVectors {
		got, err := Sample(v.seed, v.total, len(v.expected), true)
		if err != nil || !slices.Equal(got, v.expected) {
			t.Errorf("Sample(%q, %d) = %v, %v; want %v", v.seed, v.total, got, err, v.expected)
		}
	}
}

// TestPickAgreesWithBigIntegerArithmetic checks the allocation-free modulo
// against the definition, over many seeds and population sizes.
func TestPickAgreesWithBigIntegerArithmetic(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 17, 1000, 99991, 100000, 1 << 31, 1<<32 - 1, 1 << 32, 1<<40 + 3} {
		for i := 1; i <= 50; i++ {
			sum := sha256.Sum256([]byte("seed-" + strconv.Itoa(n) + "," + strconv.Itoa(i)))
			want := new(big.Int).Mod(new(big.Int).SetBytes(sum[:]), big.NewInt(int64(n))).Int64() + 1
			if got := Pick("seed-"+strconv.Itoa(n), i, n); int64(got) != want {
				t.Fatalf("Pick(n=%d, i=%d) = %d, want %d", n, i, got, want)
			}
		}
	}
}

func TestSampleWithoutReplacementSkipsRepeats(t *testing.T) {
	// With replacement seed "0" over 2 gives 1, 1, 2: without, the second
	// pick (a repeat) is skipped, so the sample is 1, 2.
	got, err := Sample("0", 2, 2, false)
	if err != nil || !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("got %v, %v", got, err)
	}
	all, _ := Sample("x", 50, 50, false)
	sorted := slices.Clone(all)
	slices.Sort(sorted)
	for i, p := range sorted {
		if p != i+1 {
			t.Fatalf("a full sample is not a permutation: %v", all)
		}
	}
	if _, err := Sample("x", 3, 4, false); err == nil {
		t.Fatal("drew 4 distinct from 3")
	}
	if _, err := Sample("x", 0, 0, false); err == nil {
		t.Fatal("drew from an empty population")
	}
}

func TestAllocateLargestRemainder(t *testing.T) {
	strata := []Stratum{{"巴公镇", 50}, {"高都镇", 30}, {"金村镇", 20}}
	got, err := Allocate("s", strata, 10)
	if err != nil || !slices.Equal(got, []int{5, 3, 2}) {
		t.Fatalf("exact shares: %v %v", got, err)
	}
	// 7 of 100: quotas 3.5, 2.1, 1.4 → floors 3, 2, 1 and the one seat left
	// goes to the largest remainder (巴公镇, .5).
	got, _ = Allocate("s", strata, 7)
	if !slices.Equal(got, []int{4, 2, 1}) {
		t.Fatalf("remainders: %v", got)
	}
	// Equal remainders: the seed decides, not the listing order.
	tied := []Stratum{{"A", 1}, {"B", 1}, {"C", 1}, {"D", 1}}
	winners := map[string]bool{}
	for seed := range 40 {
		s := strconv.Itoa(seed)
		a, _ := Allocate(s, tied, 1)
		rev := slices.Clone(tied)
		slices.Reverse(rev)
		b, _ := Allocate(s, rev, 1)
		ia, ib := slices.Index(a, 1), slices.Index(b, 1)
		if tied[ia].Name != rev[ib].Name {
			t.Fatalf("seed %s: the winner depends on the order of strata", s)
		}
		winners[tied[ia].Name] = true
	}
	if len(winners) < 3 {
		t.Fatalf("ties always go to the same strata: %v", winners)
	}
	if _, err := Allocate("s", strata, 101); err == nil {
		t.Fatal("allocated more than the pool")
	}
}

func TestDeriveSeed(t *testing.T) {
	a, b := DeriveSeed("seed", "town:巴公镇"), DeriveSeed("seed", "town:高都镇")
	if a == b || len(a) != 64 || DeriveSeed("seed", "town:巴公镇") != a {
		t.Fatalf("derived seeds %q %q", a, b)
	}
	sum := sha256.Sum256([]byte("seed|town:巴公镇"))
	if a != hex.EncodeToString(sum[:]) {
		t.Fatalf("DeriveSeed does not follow its documented definition")
	}
}

// BenchmarkSample draws 10% of a 100,000 pool; the baseline is one SHA-256
// per member of the pool, the cost of hashing the pool snapshot.
func BenchmarkSample(b *testing.B) {
	b.Run("sha256-pass-baseline", func(b *testing.B) {
		line := []byte("91140525MA0GXXXXX1,巴公镇,coal_mine,")
		for b.Loop() {
			h := sha256.New()
			for range 100000 {
				h.Write(line)
			}
			_ = h.Sum(nil)
		}
	})
	b.Run("sample-10pct-of-100k", func(b *testing.B) {
		for b.Loop() {
			if _, err := Sample("benchmark-seed", 100000, 10000, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}
