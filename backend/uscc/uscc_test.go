package uscc_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"suiji/backend/uscc"
)

// refCheck computes the GB 32100 check character independently of the
// package: weights as powers of 3 modulo 31, values by a lookup table.
func refCheck(first17 string) string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	value := map[rune]int{}
	for i, r := range alphabet {
		value[r] = i
	}
	sum, w := 0, 1
	for _, r := range first17 {
		sum += value[r] * w
		w = w * 3 % 31
	}
	return string(alphabet[(31-sum%31)%31])
}

// refOrgCheck computes the GB 11714 check digit independently: letters are
// valued A=10 … Z=35.
func refOrgCheck(first8 string) string {
	w := []int{3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, r := range first8 {
		v := strings.IndexRune("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", r)
		sum += v * w[i]
	}
	switch c := 11 - sum%11; c {
	case 10:
		return "X"
	case 11:
		return "0"
	default:
		return string(rune('0' + c))
	}
}

// build completes a 16-character body (authority, category, division, eight
// organisation-code characters) into a full code with the reference helpers.
func build(body16 string) string {
	withOrg := body16 + refOrgCheck(body16[8:])
	return withOrg + refCheck(withOrg)
}

func TestUSCCValidAccepts(t *testing.T) {
	codes := []string{
		// The worked example printed in GB 32100-2015.
		"91350100M000100Y43",
		build("91140525MA0K1234"),
		build("92140525L1234567"),
		build("11140525000000XY"),
		build("5214052500000000"),
		build("Y1140525PQRTUWXY"),
	}
	for _, c := range codes {
		got, err := uscc.Validate(c)
		if err != nil {
			t.Errorf("Validate(%q): %v", c, err)
		}
		if got != c {
			t.Errorf("Validate(%q) normalised to %q", c, got)
		}
	}
}

func TestUSCCNormalises(t *testing.T) {
	want := "91350100M000100Y43"
	for _, in := range []string{
		"  91350100m000100y43 ",
		"９１３５０１００Ｍ０００１００Ｙ４３",             // full-width, as a Chinese IME types it
		"\u300091350100M000100Y43\u3000", // ideographic spaces
	} {
		got, err := uscc.Validate(in)
		if err != nil || got != want {
			t.Errorf("Validate(%q) = %q, %v; want %q, nil", in, got, err, want)
		}
	}
}

func TestUSCCReasons(t *testing.T) {
	good := build("91140525MA0K1234")
	// A code whose organisation code is right but whose check character is
	// off by one value.
	wrongCheck := good[:17] + string(uscc.Charset[(strings.IndexByte(uscc.Charset, good[17])+1)%31])
	// A code whose organisation check digit is wrong but whose final check
	// character is recomputed, so that only the GB 11714 check can catch it.
	badOrgDigit := "3"
	if good[16] == '3' {
		badOrgDigit = "4"
	}
	wrongOrg := good[:16] + badOrgDigit
	wrongOrg += refCheck(wrongOrg)

	for _, tc := range []struct {
		in, want string
	}{
		{"", "must be 18 characters, got 0"},
		{good[:17], "must be 18 characters, got 17"},
		{good + "1", "must be 18 characters, got 19"},
		{"9114O525MA0K123456", "invalid character 'O' at position 5"},
		{"91140525MA0KI23456", "invalid character 'I' at position 13"},
		{"Z1140525MA0K123456", "invalid character 'Z' at position 1"},
		{"91140525MA0K12S456", "invalid character 'S' at position 15"},
		{"91140525MA0K1234V6", "invalid character 'V' at position 17"},
		{"91140525MA0K12345中", "invalid character '中' at position 18"},
		{"91-40525MA0K123456", "invalid character '-' at position 3"},
		{"9114A525MA0K123456", "administrative division code (positions 3–8) must be digits, got 'A' at position 5"},
		{wrongOrg, "organisation code check digit (position 17) is " + badOrgDigit + ", expected " + good[16:17]},
		{wrongCheck, "check character (position 18) is " + wrongCheck[17:] + ", expected " + good[17:]},
	} {
		_, err := uscc.Validate(tc.in)
		if err == nil {
			t.Errorf("Validate(%q) accepted it; want %q", tc.in, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Validate(%q) = %q, want %q", tc.in, err, tc.want)
		}
		if uscc.Valid(tc.in) {
			t.Errorf("Valid(%q) = true", tc.in)
		}
	}
}

func TestUSCCGenerate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	for range 2000 {
		c := uscc.Generate(rng)
		if !strings.HasPrefix(c, "91"+uscc.ZezhouDivision) {
			t.Fatalf("Generate = %q, want a Zezhou enterprise code", c)
		}
		if c != build(c[:16]) {
			t.Fatalf("Generate = %q, reference helpers say %q", c, build(c[:16]))
		}
		if err := func() error { _, err := uscc.Validate(c); return err }(); err != nil {
			t.Fatalf("Generate = %q: %v", c, err)
		}
		seen[c] = true
	}
	if len(seen) < 1990 {
		t.Errorf("only %d distinct codes in 2000", len(seen))
	}
	a := uscc.Generate(rand.New(rand.NewPCG(7, 7)))
	b := uscc.Generate(rand.New(rand.NewPCG(7, 7)))
	if a != b {
		t.Errorf("the same seed gave %q and %q", a, b)
	}
}

// TestUSCCSingleSubstitutionDetected: 31 is prime and no weight is 0 mod 31, so
// changing any one character must be caught — by one check or the other.
func TestUSCCSingleSubstitutionDetected(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		c := uscc.Generate(rng)
		for i := range uscc.Length {
			for _, r := range uscc.Charset {
				if byte(r) == c[i] {
					continue
				}
				mutated := c[:i] + string(r) + c[i+1:]
				if uscc.Valid(mutated) {
					t.Fatalf("%q (from %q, position %d) passed", mutated, c, i+1)
				}
			}
		}
	}
}
