package draw

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
)

// SealedSeed is the secret 256-bit random value of one draw attempt (or one
// replacement), as 64 lowercase hex digits. It is made before the attempt,
// kept sealed, and only its Commitment is published; the attempt reveals it.
// A sealed seed is never used directly to pick anything: NewDrawSeed mixes
// in the public entropy first.
type SealedSeed string

// DrawSeed is what an attempt runs on: the sealed seed combined with the
// public entropy given at draw time (SPEC.md §3). Every random choice of the
// attempt uses a seed derived from it for its own purpose (Derive).
type DrawSeed string

// DerivedSeed is the seed of one labelled part of an attempt — one town's
// sample, one enterprise's inspector order — and the only kind of seed the
// sampler takes.
type DerivedSeed string

// NewSealedSeed reads 32 bytes of randomness (crypto/rand.Reader in
// production) into a sealed seed.
func NewSealedSeed(r io.Reader) (SealedSeed, error) {
	var b [32]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("draw: no randomness for a seed: %w", err)
	}
	return SealedSeed(hex.EncodeToString(b[:])), nil
}

// ParseSealedSeed checks that s has the form of a sealed seed (64 lowercase
// hex digits).
func ParseSealedSeed(s string) (SealedSeed, error) {
	if len(s) != 64 {
		return "", errors.New("draw: a sealed seed is 64 lowercase hex digits")
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", errors.New("draw: a sealed seed is 64 lowercase hex digits")
		}
	}
	return SealedSeed(s), nil
}

// Commitment is what is published before the attempt: H(seed), the
// lowercase hex SHA-256 of the seed's UTF-8 text.
func (s SealedSeed) Commitment() string { return hashHex(string(s)) }

// NewDrawSeed combines a sealed seed with the public entropy value given at
// draw time: H(seed + "|entropy:" + value). The value may be empty only
// when no entropy source was fixed at commit.
func NewDrawSeed(s SealedSeed, publicEntropy string) DrawSeed {
	return DrawSeed(hashHex(string(s) + "|entropy:" + publicEntropy))
}

// Derive returns the seed of a labelled part of the attempt:
// H(drawSeed + "|" + label).
func (d DrawSeed) Derive(label string) DerivedSeed {
	return DerivedSeed(hashHex(string(d) + "|" + label))
}

func hashHex(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// Pick returns the i-th pick (i ≥ 1) from 1..n (n ≥ 1) of Rivest's sampler:
// 1 + (SHA-256(UTF-8(seed + "," + decimal(i))) as a big-endian integer) mod n.
func Pick(seed DerivedSeed, i, n int) int {
	var buf []byte
	buf = append(buf, seed...)
	buf = append(buf, ',')
	buf = strconv.AppendInt(buf, int64(i), 10)
	return pickFromHash(sha256.Sum256(buf), n)
}

func pickFromHash(sum [32]byte, n int) int {
	if n <= 1<<32 {
		// The 256-bit number mod n, computed 4 bytes at a time: the same
		// value math/big gives, without allocating.
		var r uint64
		m := uint64(n)
		for i := 0; i < 32; i += 4 {
			word := uint64(sum[i])<<24 | uint64(sum[i+1])<<16 | uint64(sum[i+2])<<8 | uint64(sum[i+3])
			r = (r<<32 | word) % m
		}
		return int(r) + 1
	}
	v := new(big.Int).SetBytes(sum[:])
	return int(v.Mod(v, big.NewInt(int64(n))).Int64()) + 1
}

// Sample returns k picks from 1..n in the order drawn. Without replacement
// a pick already made is skipped and i goes on, so the picks are distinct
// and k may not exceed n.
func Sample(seed DerivedSeed, n, k int, withReplacement bool) ([]int, error) {
	switch {
	case n < 1:
		return nil, errors.New("draw: the population must have at least one member")
	case k < 0:
		return nil, errors.New("draw: the sample size must not be negative")
	case !withReplacement && k > n:
		return nil, fmt.Errorf("draw: cannot draw %d distinct members from %d", k, n)
	}
	picks := make([]int, 0, k)
	seen := make([]bool, n+1)
	for i := 1; len(picks) < k; i++ {
		p := Pick(seed, i, n)
		if !withReplacement {
			if seen[p] {
				continue
			}
			seen[p] = true
		}
		picks = append(picks, p)
	}
	return picks, nil
}

// order is the random order of n items (numbered 1..n) for one seed — the
// sequence of distinct picks of Sample(seed, n, n) — produced only as far
// as it is read: groups mostly need the first few officers, and the prefix
// is the same either way.
type order struct {
	seed  DerivedSeed
	n     int
	seen  []bool
	picks []int // 0-based indices, in order
	next  int   // the sampler's next i
}

func newOrder(seed DerivedSeed, n int) *order {
	return &order{seed: seed, n: n, seen: make([]bool, n), next: 1}
}

// at returns the 0-based index of the k-th item (0-based) of the order, or
// false when k ≥ n.
func (o *order) at(k int) (int, bool) {
	if k >= o.n {
		return 0, false
	}
	for len(o.picks) <= k {
		p := Pick(o.seed, o.next, o.n) - 1
		o.next++
		if !o.seen[p] {
			o.seen[p] = true
			o.picks = append(o.picks, p)
		}
	}
	return o.picks[k], true
}
