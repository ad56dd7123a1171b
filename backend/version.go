package backend

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"time"
)

// Version is one change to a directory record (enterprise, inspector, item,
// department …), kept so that the bureau can see who changed what and when
// (art. 6, 7). Versions are append-only and numbered 1, 2, 3 … per object.
type Version struct {
	ObjectType string // "enterprise", "inspector", "item", "department", "town"
	ObjectID   string
	Number     int // 1 for the creation
	At         time.Time
	ActorID    string
	ActorName  string
	Action     string // "create", "update", "review", "import", "publish" …
	Changes    []FieldChange
}

// FieldChange is one field's value before and after a change, as JSON
// values (nil when absent).
type FieldChange struct {
	Field  string
	Before any
	After  any
}

// VersionStore keeps the versions of records.
type VersionStore interface {
	// AppendVersion stores v. ECONFLICT when that object already has a
	// version with v.Number (a concurrent change won; reload and retry).
	AppendVersion(ctx context.Context, v *Version) error
	// AppendVersions stores many versions in bulk. ECONFLICT when any
	// object already has a version with that number.
	AppendVersions(ctx context.Context, vs []*Version) error
	// FindVersions lists an object's versions, oldest first.
	FindVersions(ctx context.Context, objectType, objectID string) ([]*Version, error)
}

// Diff compares two records given as JSON-like maps (field → value) and
// returns the fields whose values differ, in field order. Values are
// compared by their JSON encoding, so 1 and 1.0, or a nil and an absent
// field, are the same.
func Diff(before, after map[string]any) []FieldChange {
	fields := map[string]bool{}
	for k := range before {
		fields[k] = true
	}
	for k := range after {
		fields[k] = true
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []FieldChange
	for _, k := range names {
		if !sameJSON(before[k], after[k]) {
			out = append(out, FieldChange{Field: k, Before: before[k], After: after[k]})
		}
	}
	return out
}

func sameJSON(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	if errA != nil || errB != nil {
		return false
	}
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(normalizeEmpty(va), normalizeEmpty(vb))
}

// normalizeEmpty treats an empty list like an absent one.
func normalizeEmpty(v any) any {
	if l, ok := v.([]any); ok && len(l) == 0 {
		return nil
	}
	return v
}
