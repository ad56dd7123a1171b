package backend_test

import (
	"testing"

	"suiji/backend"
)

// TestHashID: the first 12 bytes, in hex, of the SHA-256 of the parts
// joined by "|" — the ids stored tasks carry (a repeated dispatch must
// meet them again). The vector is sha256sum's of
// "task|draw-1|91140525P0X5EAPW1Q".
func TestHashID(t *testing.T) {
	if got, want := backend.HashID("task", "draw-1", "91140525P0X5EAPW1Q"), "c272152626ea2d6ca0e1a788"; got != want {
		t.Fatalf("HashID = %s, want %s", got, want)
	}
}
