package backend

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"
)

// NewID returns a fresh object id: 24 lowercase hex digits, the first eight
// the creation time in seconds, the rest random, so ids sort roughly by
// creation like the MongoDB ObjectIDs the stores give records without one.
// Use cases choose ids themselves when something must name the object before
// it is stored (its audit event, see AuditChange).
func NewID() string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(time.Now().Unix()))
	_, _ = rand.Read(b[4:]) // crypto/rand.Read never fails on supported platforms.
	return hex.EncodeToString(b[:])
}

// HashID is a deterministic id of what parts name: 24 hex digits of the
// SHA-256 of the parts joined by "|", an opaque id of the same shape as
// NewID's, so that the same thing made twice (a repeated request) gets
// the same id.
func HashID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "|")))
	return hex.EncodeToString(sum[:12])
}
