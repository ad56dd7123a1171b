package plans

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"fmt"
	"io"

	"suiji/backend"
	"suiji/backend/draw"
)

// sealer encrypts sealed seeds at rest with AES-256-GCM under a key derived
// from SUIJI_SEED_KEY (its SHA-256). The plan and attempt are the
// additional data, so a stored seed cannot be moved to another attempt.
type sealer struct{ aead cipher.AEAD }

func newSealer(key string) (*sealer, error) {
	if key == "" {
		return nil, backend.Errorf(backend.EINTERNAL, "no seed key is configured (SUIJI_SEED_KEY)")
	}
	k := sha256.Sum256([]byte(key))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "seed key")
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "seed key")
	}
	return &sealer{aead}, nil
}

func seedData(planID string, seq int) []byte {
	return fmt.Appendf(nil, "suiji-seed|%s|%d", planID, seq)
}

// seal returns nonce ‖ ciphertext.
func (s *sealer) seal(rand io.Reader, planID string, seq int, seed draw.SealedSeed) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "no randomness for the seed's nonce")
	}
	return s.aead.Seal(nonce, nonce, []byte(seed), seedData(planID, seq)), nil
}

func (s *sealer) open(planID string, seq int, sealed []byte) (draw.SealedSeed, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", backend.Errorf(backend.EINTERNAL, "the sealed seed of attempt %d is corrupt", seq)
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], seedData(planID, seq))
	if err != nil {
		return "", backend.Errorf(backend.EINTERNAL, "the sealed seed of attempt %d does not open with the configured key (SUIJI_SEED_KEY changed?)", seq)
	}
	seed, err := draw.ParseSealedSeed(string(plain))
	if err != nil {
		return "", backend.Wrap(err, backend.EINTERNAL, "the sealed seed of attempt %d is corrupt", seq)
	}
	return seed, nil
}
