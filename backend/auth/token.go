package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"suiji/backend"
)

// Access-token claims. The algorithm is pinned to HS256: a token that names
// another ("none", RS256 with our key as a public key …) is refused.
const (
	tokenIssuer   = "suiji"
	tokenAudience = "suiji-api"
	tokenAlg      = "HS256"
)

// accessClaims are the claims of an access token. Roles are not carried: they
// are read from the user on every request, so a change applies at once.
type accessClaims struct {
	FamilyID string `json:"fid"`
	jwt.RegisteredClaims
}

func (s *Service) signAccess(userID, familyID string, now time.Time) (string, error) {
	claims := accessClaims{
		FamilyID: familyID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    tokenIssuer,
			Audience:  jwt.ClaimStrings{tokenAudience},
			Subject:   userID,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.AccessTTL)),
			ID:        randomToken(12),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.Key)
}

// parseAccess verifies an access token's signature, algorithm, issuer,
// audience and expiry.
func (s *Service) parseAccess(token string, now time.Time) (*accessClaims, error) {
	var claims accessClaims
	_, err := jwt.ParseWithClaims(token, &claims,
		func(*jwt.Token) (any, error) { return s.Key, nil },
		jwt.WithValidMethods([]string{tokenAlg}),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithAudience(tokenAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil {
		return nil, backend.Wrap(err, backend.EUNAUTHORIZED, "invalid or expired access token")
	}
	// A token we signed always names a user and a session; one without
	// them (a key leaked to a test tool, a bug) is refused like a forgery,
	// never let through to fail further in.
	if claims.Subject == "" || claims.FamilyID == "" {
		return nil, backend.Errorf(backend.EUNAUTHORIZED, "invalid or expired access token")
	}
	return &claims, nil
}

// Signed reports whether token is an access token this server signed,
// naming a user and a session, that has not expired. It reads no store, so
// the HTTP layer can ask it before a request's body arrives (may this
// caller send a large upload?); who the caller is, and whether the session
// still stands, only Authenticate says.
func (s *Service) Signed(token string) bool {
	_, err := s.parseAccess(token, s.Now())
	return err == nil
}

// Refresh tokens are opaque: "<family id>.<secret>". The family id lets the
// store find the family; only the SHA-256 of the whole token is stored.

func newRefreshToken(familyID string) string { return familyID + "." + randomToken(32) }

func splitRefreshToken(token string) (familyID string, ok bool) {
	familyID, secret, ok := strings.Cut(token, ".")
	return familyID, ok && len(familyID) == 22 && len(secret) == 43
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms.
	return base64.RawURLEncoding.EncodeToString(b)
}
