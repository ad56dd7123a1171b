package backend_test

import (
	"testing"
	"time"

	"suiji/backend"
)

// TestNoteID: a notification's id is the first 12 bytes, in hex, of the
// SHA-256 of "note|kind|task|user|round" — the ids every version has
// stored, which a repeat of a change must meet again to notify nobody
// twice (the vector is sha256sum's of that string).
func TestNoteID(t *testing.T) {
	if got, want := backend.NoteID(backend.NoteTaskUpdated, "t1", "u1", "3"), "6c8c3495532d25268ce383e9"; got != want {
		t.Fatalf("NoteID = %s, want %s", got, want)
	}
}

// TestTaskUpdatedNotes: one silent entry per active member, naming the
// task's version, with the id a repeat of the same version meets again.
func TestTaskUpdatedNotes(t *testing.T) {
	task := &backend.Task{ID: "t1", PlanID: "p1", Version: 3, Members: []backend.TaskMember{
		{UserID: "u1"}, {UserID: "u2"}, {UserID: "u3", RemovedAt: &[]time.Time{time.Now()}[0]},
	}}
	notes := backend.TaskUpdatedNotes(task)
	if len(notes) != 2 {
		t.Fatalf("%d notes, want one per active member (2): %+v", len(notes), notes)
	}
	for i, n := range notes {
		user := []string{"u1", "u2"}[i]
		if n.UserID != user || !n.Silent || n.Kind != backend.NoteTaskUpdated || n.TaskID != "t1" || n.TaskVersion != 3 || n.PlanID != "p1" ||
			n.ID != backend.NoteID(backend.NoteTaskUpdated, "t1", user, "3") {
			t.Errorf("note %d: %+v", i, n)
		}
	}
}
