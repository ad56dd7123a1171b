// Package uscc validates and generates unified social credit codes
// (统一社会信用代码, GB 32100-2015), the 18-character key of every
// enterprise in the directory.
//
// A code is laid out as: position 1 the registration authority, 2 the
// entity category, 3–8 the administrative division (GB/T 2260, digits),
// 9–17 the organisation code (GB 11714, with its own check digit at 17),
// and 18 the check character over the first 17.
//
// The registration-authority and category codes are deliberately not
// checked against a table: the table has grown since 2015 (courts,
// military, rural collectives …), and refusing a real code because our copy
// is out of date would be worse than accepting an odd one — both check
// characters already catch typing mistakes.
//
// The package is pure: no I/O, no imports beyond the standard library.
package uscc

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"unicode/utf8"
)

// Length is the number of characters in a code.
const Length = 18

// Charset is the code's alphabet in value order: character i has value i.
// I, O, Z, S and V are left out because they are easily mistaken for 1, 0,
// 2, 5 and U.
const Charset = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// weights of positions 1–17 in the check character (3^(i-1) mod 31).
var weights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// orgWeights of the organisation code's first eight characters (GB 11714).
var orgWeights = [8]int{3, 7, 9, 10, 5, 8, 4, 2}

// Normalize trims spaces, turns full-width characters (as typed with a
// Chinese input method) into their ASCII forms, and upper-cases the code.
func Normalize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII block
			r -= 0xFEE0
		case r == 0x3000: // ideographic space
			r = ' '
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(strings.TrimSpace(b.String()))
}

// Validate normalises s and checks it. It returns the normalised code, or
// an error whose message is the reason, fit to show next to the field:
// "must be 18 characters", "invalid character 'O' at position 5",
// "administrative division code (positions 3–8) must be digits",
// "organisation code check digit is 2, expected 7",
// "check character is X, expected Y".
func Validate(s string) (string, error) {
	code := Normalize(s)
	if n := utf8.RuneCountInString(code); n != Length {
		return code, fmt.Errorf("must be %d characters, got %d", Length, n)
	}
	values := make([]int, 0, Length)
	for i, r := range []rune(code) {
		v := strings.IndexRune(Charset, r)
		if v < 0 {
			return code, fmt.Errorf("invalid character %q at position %d", r, i+1)
		}
		values = append(values, v)
	}
	for i := 2; i < 8; i++ {
		if values[i] > 9 {
			return code, fmt.Errorf("administrative division code (positions 3–8) must be digits, got %q at position %d", code[i], i+1)
		}
	}
	if want := orgCheck(code[8:16]); code[16] != want {
		return code, fmt.Errorf("organisation code check digit (position 17) is %c, expected %c", code[16], want)
	}
	if want := check(code[:17]); code[17] != want {
		return code, fmt.Errorf("check character (position 18) is %c, expected %c", code[17], want)
	}
	return code, nil
}

// Valid reports whether s, once normalised, is a valid code.
func Valid(s string) bool {
	_, err := Validate(s)
	return err == nil
}

// check returns the GB 32100 check character of the first 17 characters,
// which must all be in Charset.
func check(first17 string) byte {
	sum := 0
	for i := range 17 {
		sum += strings.IndexByte(Charset, first17[i]) * weights[i]
	}
	c := 31 - sum%31
	if c == 31 {
		c = 0
	}
	return Charset[c]
}

// orgCheck returns the GB 11714 check digit of an organisation code's first
// eight characters. GB 11714 values letters over the whole Latin alphabet
// (A=10 … Z=35), not by their place in Charset.
func orgCheck(first8 string) byte {
	sum := 0
	for i := range 8 {
		c := first8[i]
		v := int(c - '0')
		if c >= 'A' && c <= 'Z' {
			v = int(c-'A') + 10
		}
		sum += v * orgWeights[i]
	}
	switch c := 11 - sum%11; c {
	case 10:
		return 'X'
	case 11:
		return '0'
	default:
		return byte('0' + c)
	}
}

// ZezhouDivision is the administrative division code of Zezhou County
// (泽州县, Jincheng, Shanxi), which Generate puts at positions 3–8.
const ZezhouDivision = "140525"

// Generate returns a random valid code of an enterprise (authority 9,
// category 1) registered in Zezhou County, for tests and demo data. The
// same rng state gives the same code.
func Generate(rng *rand.Rand) string {
	b := []byte("91" + ZezhouDivision)
	for range 8 {
		b = append(b, Charset[rng.IntN(len(Charset))])
	}
	b = append(b, orgCheck(string(b[8:16])))
	b = append(b, check(string(b)))
	return string(b)
}
