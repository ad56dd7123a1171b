// Package drawv1 is algorithm suiji-draw/1, frozen: the procedure every
// draw recorded before suiji-draw/2 was made with, kept so that those
// records still verify under the rules they were drawn by. Nothing new is
// drawn with it once the plans use case moves to package draw (version 2);
// do not change its behaviour — a change here would make honest old records
// fail. It imports nothing of suiji.
//
// Records of this version are checked by Verify; the version-2 package
// draw dispatches to it by the record's algorithm_version.
//
// # The sampler
//
// The i-th pick (i = 1, 2, …) from a population numbered 1..N is
//
//	1 + (SHA-256(UTF-8(seed + "," + decimal(i))) read as a big-endian integer) mod N
//
// Without replacement, a pick already made is skipped and i goes on. This
// is R. L. Rivest's sampler.py (version of 14 November 2011).
//
// # Derived seeds
//
// Parts of a draw that need their own random stream (each town's sample,
// each enterprise's inspector group) use DeriveSeed(seed, label): the
// lowercase hex SHA-256 of UTF-8(seed + "|" + label).
package drawv1

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strconv"
)

// Pick returns the i-th pick (i ≥ 1) from 1..n (n ≥ 1) for seed.
func Pick(seed string, i, n int) int {
	var buf []byte
	buf = append(buf, seed...)
	buf = append(buf, ',')
	buf = strconv.AppendInt(buf, int64(i), 10)
	return pickFromHash(sha256.Sum256(buf), n)
}

func pickFromHash(sum [32]byte, n int) int {
	if n <= 1<<32 {
		// The 256-bit number mod n, computed 8 bytes at a time: the same
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

// Sample returns k picks from 1..n in the order drawn. Without
// replacement the picks are distinct and k may not exceed n.
func Sample(seed string, n, k int, withReplacement bool) ([]int, error) {
	switch {
	case n < 1:
		return nil, errors.New("draw: the population must have at least one member")
	case k < 0:
		return nil, errors.New("draw: the sample size must not be negative")
	case !withReplacement && k > n:
		return nil, fmt.Errorf("draw: cannot draw %d distinct members from %d", k, n)
	}
	picks := make([]int, 0, k)
	seen := make(map[int]bool, k)
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

// DeriveSeed returns the seed of a labelled part of a draw.
func DeriveSeed(seed, label string) string {
	sum := sha256.Sum256([]byte(seed + "|" + label))
	return hex.EncodeToString(sum[:])
}
