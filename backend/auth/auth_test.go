package auth

import (
	"strings"
	"testing"
	"time"
)

func TestPasswordHashing(t *testing.T) {
	h1, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HashPassword("correct horse battery")
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not argon2id in PHC format", h1)
	}
	if !VerifyPassword(h1, "correct horse battery") || !VerifyPassword(h2, "correct horse battery") {
		t.Fatal("the right password does not verify")
	}
	for _, bad := range []string{"correct horse batter", "", "Correct horse battery"} {
		if VerifyPassword(h1, bad) {
			t.Errorf("%q verifies", bad)
		}
	}
	for _, malformed := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$AAAA$AAAA", strings.Replace(h1, "v=19", "v=18", 1), h1[:len(h1)-3] + "!!!"} {
		if VerifyPassword(malformed, "correct horse battery") {
			t.Errorf("malformed hash %q verifies", malformed)
		}
	}
}

func TestAccessTokenRoundTrip(t *testing.T) {
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	s := &Service{Key: []byte("0123456789abcdef0123456789abcdef"), AccessTTL: 15 * time.Minute}
	tok, err := s.signAccess("user-1", "family-1", now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.parseAccess(tok, now.Add(14*time.Minute))
	if err != nil || c.Subject != "user-1" || c.FamilyID != "family-1" {
		t.Fatalf("parse: %+v %v", c, err)
	}
	if _, err := s.parseAccess(tok, now.Add(16*time.Minute)); err == nil {
		t.Fatal("expired token accepted")
	}
	other := &Service{Key: []byte("another-key-another-key-another-k"), AccessTTL: time.Minute}
	if _, err := other.parseAccess(tok, now); err == nil {
		t.Fatal("token accepted under another key")
	}
}

func TestRefreshTokenShape(t *testing.T) {
	fam := randomToken(16)
	tok := newRefreshToken(fam)
	got, ok := splitRefreshToken(tok)
	if !ok || got != fam {
		t.Fatalf("split(%q) = %q, %v", tok, got, ok)
	}
	for _, bad := range []string{"", "nodot", fam + ".short", "." + strings.Repeat("a", 43)} {
		if _, ok := splitRefreshToken(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if hashToken(tok) == hashToken(newRefreshToken(fam)) {
		t.Fatal("two tokens of one family hash the same")
	}
}
