package plans

import "time"

// SetYearLeaseWait shortens how long a commit or draw waits for another
// plan of its year, for the tests of the refusal; it returns the undo.
func SetYearLeaseWait(d time.Duration) (undo func()) {
	was := yearLeaseWait
	yearLeaseWait = d
	return func() { yearLeaseWait = was }
}
