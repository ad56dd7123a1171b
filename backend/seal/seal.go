// Package seal keeps sealed seeds secret at rest: every random choice in
// suiji (a plan's attempt, a replacement after dispatch) runs on a fresh
// seed whose SHA-256 is published before the choice and which is revealed
// after it; until then the seed is stored encrypted with AES-256-GCM under
// a key derived from SUIJI_SEED_KEY (its SHA-256), so that nobody with
// database access can learn it early. The scope and number of the choice
// are the additional data, so a stored seed cannot be moved to another.
//
// It imports only the standard library, backend and backend/draw.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"fmt"
	"io"

	"suiji/backend"
	"suiji/backend/draw"
)

// Box seals and opens seeds under one key.
type Box struct{ aead cipher.AEAD }

// New returns the box of key. EINTERNAL when no key is configured.
func New(key string) (*Box, error) {
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
	return &Box{aead}, nil
}

func additional(scope string, seq int) []byte {
	return fmt.Appendf(nil, "suiji-seed|%s|%d", scope, seq)
}

// Seal returns nonce ‖ ciphertext of the seed of choice seq of scope (a
// plan's id for its attempts).
func (b *Box) Seal(rand io.Reader, scope string, seq int, seed draw.SealedSeed) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "no randomness for the seed's nonce")
	}
	return b.aead.Seal(nonce, nonce, []byte(seed), additional(scope, seq)), nil
}

// Open returns the seed Seal sealed for the same scope and seq. EINTERNAL
// when it does not open (another key, another choice, corrupt).
func (b *Box) Open(scope string, seq int, sealed []byte) (draw.SealedSeed, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return "", backend.Errorf(backend.EINTERNAL, "the sealed seed of %s #%d is corrupt", scope, seq)
	}
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], additional(scope, seq))
	if err != nil {
		return "", backend.Errorf(backend.EINTERNAL, "the sealed seed of %s #%d does not open with the configured key (SUIJI_SEED_KEY changed?)", scope, seq)
	}
	seed, err := draw.ParseSealedSeed(string(plain))
	if err != nil {
		return "", backend.Wrap(err, backend.EINTERNAL, "the sealed seed of %s #%d is corrupt", scope, seq)
	}
	return seed, nil
}
