package sheet

import (
	"errors"
	"testing"

	"suiji/backend"
)

func TestCommit(t *testing.T) {
	planned := []Planned{{Line: 2, Created: true}, {Line: 3, Created: false}, {Line: 4, Created: true}}
	fresh := func() *Report { return &Report{Total: 3, Created: 2, Updated: 1} }

	// A rejected row without partial: nothing is stored.
	r := fresh()
	r.Reject(5, "uscc", "bad")
	calls := 0
	if err := r.Commit(ImportOptions{}, planned, func(int) error { calls++; return nil }); backend.ErrorCode(err) != backend.EINVALID || calls != 0 {
		t.Fatalf("all-or-nothing: %v after %d stores", err, calls)
	}

	// A row changed meanwhile is rejected and uncounted; progress is told.
	r = fresh()
	var progress []int
	err := r.Commit(ImportOptions{Progress: func(done, _ int) { progress = append(progress, done) }}, planned, func(i int) error {
		if i == 1 {
			return backend.Errorf(backend.ECONFLICT, "changed meanwhile")
		}
		return nil
	})
	if err != nil || r.Rejected != 1 || r.Updated != 0 || r.Created != 2 || len(progress) != 3 || !r.RowRejected(3) {
		t.Fatalf("conflict: %v %+v progress %v", err, r, progress)
	}

	// Any other failure stops the import.
	r = fresh()
	calls = 0
	boom := errors.New("disk on fire")
	if err := r.Commit(ImportOptions{}, planned, func(int) error { calls++; return boom }); !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("fatal: %v after %d stores", err, calls)
	}
}
