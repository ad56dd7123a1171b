package main

import "math/rand/v2"

// usccCode makes a valid unified social credit code (GB 32100-2015): the
// organisation code's GB 11714 check digit and the whole code's check
// character, so the directory's validation accepts it.
func usccCode(rng *rand.Rand) string {
	const chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	org := make([]byte, 8)
	for i := range org {
		org[i] = "0123456789"[rng.IntN(10)]
	}
	// GB 11714: weights 3 7 9 10 5 8 4 2, check 11 - sum mod 11 (10 → X, 11 → 0).
	weights := []int{3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, c := range org {
		sum += int(c-'0') * weights[i]
	}
	var check byte
	switch d := 11 - sum%11; d {
	case 10:
		check = 'X'
	case 11:
		check = '0'
	default:
		check = byte('0' + d)
	}
	code := []byte("91140525")
	code = append(code, org...)
	code = append(code, check)
	// GB 32100: weights 3^i mod 31, check 31 - sum mod 31.
	w := 1
	sum = 0
	for _, c := range code {
		idx := 0
		for j := range len(chars) {
			if chars[j] == c {
				idx = j
			}
		}
		sum += idx * w
		w = w * 3 % 31
	}
	return string(code) + string(chars[(31-sum%31)%31])
}
