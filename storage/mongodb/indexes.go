package mongodb

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// index declares one index suiji relies on. Names are explicit so that the
// index set is stable across driver versions and readable in error messages.
type index struct {
	Collection string
	Name       string
	Keys       bson.D
	Unique     bool
}

// indexes is the one table of every index suiji creates, grouped by area.
// Add a row here (never from an init function elsewhere) when a repository
// starts to depend on an index; EnsureIndexes creates whatever is
// missing on the next start. Changing an existing row's keys or uniqueness
// needs a new name (and dropping the old index by hand), because MongoDB
// refuses to redefine an index in place.
//
// Unique indexes are the last word on exactly-once: the code checks first for
// friendly messages, and a duplicate key still becomes ECONFLICT. FerretDB v1
// has neither TTL nor partial indexes, so none are used; expiry lives in Redis.
var indexes = []index{
	// Identity.
	{Collection: "users", Name: "username_unique", Keys: bson.D{{Key: "username", Value: 1}}, Unique: true},
	{Collection: "refresh_tokens", Name: "hash_unique", Keys: bson.D{{Key: "hash", Value: 1}}, Unique: true},
	{Collection: "refresh_tokens", Name: "family", Keys: bson.D{{Key: "family", Value: 1}}},
	{Collection: "devices", Name: "token_unique", Keys: bson.D{{Key: "token", Value: 1}}, Unique: true},
	{Collection: "audit_events", Name: "seq_unique", Keys: bson.D{{Key: "seq", Value: 1}}, Unique: true},
	{Collection: "audit_events", Name: "event_id_unique", Keys: bson.D{{Key: "event_id", Value: 1}}, Unique: true},

	// Reference lists and the history of every versioned record.
	{Collection: "towns", Name: "name_unique", Keys: bson.D{{Key: "name", Value: 1}}, Unique: true},
	{Collection: "departments", Name: "name_unique", Keys: bson.D{{Key: "name", Value: 1}}, Unique: true},
	// No unique index on a qualification's name, though spreadsheets name
	// them by it: a database holding two of one name (made before
	// CreateQualification refused it) could not start, with no way in
	// the API to rename one. CreateQualification refuses a taken name, and
	// a name two share reads as unknown in an import (backend.NewNames).
	{Collection: "versions", Name: "object_number_unique", Unique: true,
		Keys: bson.D{{Key: "object_type", Value: 1}, {Key: "object_id", Value: 1}, {Key: "number", Value: 1}}},

	// The directory: town and status are what the draws' pool queries and
	// the clerks' lists filter on most.
	{Collection: "enterprises", Name: "uscc_unique", Keys: bson.D{{Key: "uscc", Value: 1}}, Unique: true},
	{Collection: "enterprises", Name: "town_uscc", Keys: bson.D{{Key: "town", Value: 1}, {Key: "uscc", Value: 1}}},
	{Collection: "enterprises", Name: "status_reviewed_at", Keys: bson.D{{Key: "status", Value: 1}, {Key: "reviewed_at", Value: 1}}},
	// A draw checks that no enterprise of its pool changed since the commit.
	{Collection: "enterprises", Name: "updated_at", Keys: bson.D{{Key: "updated_at", Value: 1}}},

	// The roster: one entry per user account (the phone app finds "my
	// inspector record" by the signed-in user); the expiring-certificates
	// list and the drawable filter range over the expiry.
	{Collection: "inspectors", Name: "badge_no_unique", Keys: bson.D{{Key: "badge_no", Value: 1}}, Unique: true},
	{Collection: "inspectors", Name: "user_id_unique", Keys: bson.D{{Key: "user_id", Value: 1}}, Unique: true},
	{Collection: "inspectors", Name: "certificate_expires", Keys: bson.D{{Key: "certificate_expires", Value: 1}}},

	// The item lists.
	{Collection: "items", Name: "year_code_unique", Keys: bson.D{{Key: "year", Value: 1}, {Key: "code", Value: 1}}, Unique: true},

	// Plans and draws: the (plan, seq) index is the fence that keeps a
	// stale draw from being stored twice.
	{Collection: "plans", Name: "year_status", Keys: bson.D{{Key: "year", Value: 1}, {Key: "status", Value: 1}}},
	{Collection: "draws", Name: "plan_id_seq_unique", Keys: bson.D{{Key: "plan_id", Value: 1}, {Key: "seq", Value: 1}}, Unique: true},
	{Collection: "draws", Name: "year", Keys: bson.D{{Key: "year", Value: 1}}},
	{Collection: "draw_snapshots", Name: "draw_part_n", Keys: bson.D{{Key: "draw_id", Value: 1}, {Key: "part", Value: 1}, {Key: "n", Value: 1}}},
	{Collection: "snapshots", Name: "kind_sha_n", Keys: bson.D{{Key: "kind", Value: 1}, {Key: "sha", Value: 1}, {Key: "n", Value: 1}}},

	// Tasks: a plan's tasks, "my tasks" (the active members' accounts), a
	// department's share, the year's counts by kind; listings by creation.
	{Collection: "tasks", Name: "plan_id", Keys: bson.D{{Key: "plan_id", Value: 1}}},
	{Collection: "tasks", Name: "member_user_ids", Keys: bson.D{{Key: "member_user_ids", Value: 1}}},
	{Collection: "tasks", Name: "department_ids", Keys: bson.D{{Key: "department_ids", Value: 1}}},
	{Collection: "tasks", Name: "year_kind", Keys: bson.D{{Key: "year", Value: 1}, {Key: "kind", Value: 1}}},
	{Collection: "tasks", Name: "created_at_id", Keys: bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}},

	// Notifications: entries are numbered by a unique seq, which orders
	// concurrent writers; a user's stream is read by (user, seq). The push
	// outbox's batches are claimed by state and due time. Devices are
	// looked up by user for a batch of alerts.
	{Collection: "notifications", Name: "seq_unique", Keys: bson.D{{Key: "seq", Value: 1}}, Unique: true},
	{Collection: "notifications", Name: "user_id_seq", Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "seq", Value: 1}}},
	{Collection: "push_outbox", Name: "state_next_at", Keys: bson.D{{Key: "state", Value: 1}, {Key: "next_at", Value: 1}}},
	{Collection: "devices", Name: "user_id", Keys: bson.D{{Key: "user_id", Value: 1}}},

	// Replacements after dispatch: a task's, a draw's (the portal lists
	// them under it), and a draw's drawn records by number (the record's id, draw and number, is the exactly-once fence).
	{Collection: "replacements", Name: "task_id", Keys: bson.D{{Key: "task_id", Value: 1}}},
	{Collection: "replacements", Name: "draw_id_committed_at_id", Keys: bson.D{{Key: "draw_id", Value: 1}, {Key: "committed_at", Value: 1}, {Key: "_id", Value: 1}}},
	{Collection: "replacement_records", Name: "draw_id_seq", Keys: bson.D{{Key: "draw_id", Value: 1}, {Key: "seq", Value: 1}}},
	{Collection: "replacement_records", Name: "replacement_id", Keys: bson.D{{Key: "replacement_id", Value: 1}}},

	// Results: publications whose public record is still to be written;
	// the public search, newest first, whole or by year.
	{Collection: "tasks", Name: "result_public_pending", Keys: bson.D{{Key: "result.public_pending", Value: 1}}},
	{Collection: "public_results", Name: "order_key_id", Keys: bson.D{{Key: "order_key", Value: 1}, {Key: "_id", Value: 1}}},
	{Collection: "public_results", Name: "year_order_key", Keys: bson.D{{Key: "year", Value: 1}, {Key: "order_key", Value: 1}}},
	// On site: a task's findings, non-cooperation and evidence (each keyed
	// by the phone's own id); pending multipart uploads by age, for the
	// sweep that aborts abandoned ones.
	{Collection: "findings", Name: "task_id", Keys: bson.D{{Key: "task_id", Value: 1}}},
	{Collection: "non_cooperation", Name: "task_id", Keys: bson.D{{Key: "task_id", Value: 1}}},
	{Collection: "evidence", Name: "task_id", Keys: bson.D{{Key: "task_id", Value: 1}}},
	{Collection: "evidence", Name: "state_created_at", Keys: bson.D{{Key: "state", Value: 1}, {Key: "created_at", Value: 1}}},
	// The archive: a task's documents (one per kind: the record's id is
	// the exactly-once fence), walked by task for archive verify.
	{Collection: "archive_documents", Name: "task_id_kind", Keys: bson.D{{Key: "task_id", Value: 1}, {Key: "kind", Value: 1}}},
	// Results whose documents are still to be generated and archived.
	{Collection: "tasks", Name: "result_documents_pending", Keys: bson.D{{Key: "result.documents_pending", Value: 1}}},
}

// EnsureIndexes creates every index in the table that does not exist yet. It
// is idempotent and safe to run on every start, from several instances at
// once: creating an index that already exists with the same definition does
// nothing. It returns EUNAVAILABLE when MongoDB cannot be reached and
// EINTERNAL, naming the index, when an index of that name or those keys exists
// with a different definition.
//
// Indexes are created one per command: FerretDB v1.24 panics on a
// createIndexes command that lists more than one index that already exists,
// and it does not compare the unique option of an existing index, so the
// result is checked with listIndexes afterwards.
//
// On FerretDB v1 only the unique indexes are created, and the others are
// dropped if an earlier version made them: its SQLite backend hands
// SQLite no filter but {_id: v} (every other query decodes the whole
// collection), so a non-unique index never answers a read, while every
// insert and update re-parses the document's JSON once per index key to
// maintain it — the cost of writing a task was mostly its five such
// indexes. Unique indexes stay: they are the exactly-once fences.
func (db *DB) EnsureIndexes(ctx context.Context) error {
	// Stored data from before a field existed gets it first.
	if err := db.backfillEventIDs(ctx); err != nil {
		return err
	}
	if err := db.backfillUserVersions(ctx); err != nil {
		return err
	}
	if err := db.ensureItemLists(ctx); err != nil {
		return err
	}
	ferret, err := db.FerretDB(ctx)
	if err != nil {
		return err
	}
	for _, ix := range indexes {
		if ferret && !ix.Unique {
			if err := db.dropIndex(ctx, ix); err != nil {
				return err
			}
			continue
		}
		opts := options.Index().SetName(ix.Name)
		if ix.Unique {
			opts.SetUnique(true)
		}
		model := mongo.IndexModel{Keys: ix.Keys, Options: opts}
		if _, err := db.db.Collection(ix.Collection).Indexes().CreateOne(ctx, model); err != nil {
			if isIndexConflict(err) {
				return backend.Wrap(err, backend.EINTERNAL,
					"index %s.%s conflicts with an existing index of that name or those keys; drop the old one so that it can be recreated",
					ix.Collection, ix.Name)
			}
			if mongo.IsDuplicateKeyError(err) {
				// Data stored before the index existed repeats its key:
				// the operator must resolve it, so say which.
				return backend.Wrap(err, backend.EINTERNAL,
					"unique index %s.%s cannot be created: stored documents of %s repeat its key %s; make them differ and start again",
					ix.Collection, ix.Name, ix.Collection, ix.Keys[0].Key)
			}
			return translate(err)
		}
	}
	return db.checkIndexes(ctx, ferret)
}

// Indexes lists "collection.name" of every index EnsureIndexes keeps on
// this server (see EnsureIndexes for FerretDB's share).
func (db *DB) Indexes(ctx context.Context) ([]string, error) {
	ferret, err := db.FerretDB(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ix := range indexes {
		if ix.Unique || !ferret {
			out = append(out, ix.Collection+"."+ix.Name)
		}
	}
	return out, nil
}

// dropIndex drops ix if it exists: dropping one that does not (or whose
// collection does not) is no error, so nothing is listed first.
func (db *DB) dropIndex(ctx context.Context, ix index) error {
	err := db.db.Collection(ix.Collection).Indexes().DropOne(ctx, ix.Name)
	var se mongo.ServerError
	if err != nil && errors.As(err, &se) && (se.HasErrorCode(26) || se.HasErrorCode(27)) { // NamespaceNotFound, IndexNotFound
		return nil
	}
	return translate(err)
}

// checkIndexes verifies that every declared index exists with the declared
// uniqueness.
func (db *DB) checkIndexes(ctx context.Context, ferret bool) error {
	unique := map[string]map[string]bool{} // collection → index name → unique
	for _, ix := range indexes {
		if _, ok := unique[ix.Collection]; ok {
			continue
		}
		specs, err := db.db.Collection(ix.Collection).Indexes().ListSpecifications(ctx)
		if err != nil {
			return translate(err)
		}
		unique[ix.Collection] = map[string]bool{}
		for _, s := range specs {
			unique[ix.Collection][s.Name] = s.Unique != nil && *s.Unique
		}
	}
	for _, ix := range indexes {
		got, ok := unique[ix.Collection][ix.Name]
		switch {
		case ferret && !ix.Unique:
			if ok {
				return backend.Errorf(backend.EINTERNAL, "index %s.%s is still there after it was dropped", ix.Collection, ix.Name)
			}
		case !ok:
			return backend.Errorf(backend.EINTERNAL, "index %s.%s is missing after it was created", ix.Collection, ix.Name)
		case got != ix.Unique:
			return backend.Errorf(backend.EINTERNAL,
				"index %s.%s exists with unique=%t, want unique=%t; drop it so that it can be recreated",
				ix.Collection, ix.Name, got, ix.Unique)
		}
	}
	return nil
}

// isIndexConflict reports whether err says that an index exists under the
// same name or keys with other options (IndexOptionsConflict,
// IndexKeySpecsConflict).
func isIndexConflict(err error) bool {
	var se mongo.ServerError
	if !errors.As(err, &se) {
		return false
	}
	return se.HasErrorCode(85) || se.HasErrorCode(86)
}
