package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// archivedDocumentModel is how a record of an archived document is
// stored (collection archive_documents): inserted once with its audit
// event in the outbox, never changed but for clearing that entry.
type archivedDocumentModel struct {
	ID          string    `bson:"_id"`
	TaskID      string    `bson:"task_id"`
	Kind        string    `bson:"kind"`
	Number      string    `bson:"number,omitempty"`
	ObjectKey   string    `bson:"object_key"`
	VersionID   string    `bson:"version_id,omitempty"`
	ContentType string    `bson:"content_type"`
	Size        int64     `bson:"size"`
	SHA256      string    `bson:"sha256"`
	GeneratedAt time.Time `bson:"generated_at"`
}

func (m *archivedDocumentModel) domain() *backend.ArchivedDocument {
	d := backend.ArchivedDocument(*m)
	d.GeneratedAt = d.GeneratedAt.UTC()
	return &d
}

// Archive returns the store of archived documents' records.
func (db *DB) Archive() *ArchiveStore { return &ArchiveStore{db: db} }

// ArchiveStore implements backend.ArchiveStore.
type ArchiveStore struct{ db *DB }

var _ backend.ArchiveStore = (*ArchiveStore)(nil)

func (s *ArchiveStore) coll() collection { return s.db.collection("archive_documents") }

// InsertArchivedDocument implements backend.ArchiveStore.
func (s *ArchiveStore) InsertArchivedDocument(ctx context.Context, d *backend.ArchivedDocument) error {
	m := archivedDocumentModel(*d)
	return insertOne(ctx, s.coll(), &m) // with its audit event (document.archive)
}

// FindArchivedDocument implements backend.ArchiveStore.
func (s *ArchiveStore) FindArchivedDocument(ctx context.Context, id string) (*backend.ArchivedDocument, error) {
	var m archivedDocumentModel
	if err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m); err != nil {
		return nil, notFound(translate(err), "archived document not found")
	}
	return m.domain(), nil
}

// FindArchivedDocuments implements backend.ArchiveStore.
func (s *ArchiveStore) FindArchivedDocuments(ctx context.Context, taskID string) ([]*backend.ArchivedDocument, error) {
	return findAll(ctx, s.coll(), bson.D{{Key: "task_id", Value: taskID}},
		options.Find().SetSort(bson.D{{Key: "task_id", Value: 1}, {Key: "kind", Value: 1}}), (*archivedDocumentModel).domain)
}

// WalkArchivedDocuments implements backend.ArchiveStore.
func (s *ArchiveStore) WalkArchivedDocuments(ctx context.Context, fn func(*backend.ArchivedDocument) error) error {
	cur, err := s.coll().Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "task_id", Value: 1}, {Key: "kind", Value: 1}}))
	if err != nil {
		return translate(err)
	}
	return each(ctx, cur, func(m *archivedDocumentModel) error { return fn(m.domain()) })
}

// WalkVerifiedEvidence implements backend.EvidenceStore.
func (s *EvidenceStore) WalkVerifiedEvidence(ctx context.Context, fn func(*backend.Evidence) error) error {
	cur, err := s.coll().Find(ctx, bson.D{{Key: "state", Value: backend.EvidenceVerified}},
		options.Find().SetSort(bson.D{{Key: "state", Value: 1}, {Key: "created_at", Value: 1}}))
	if err != nil {
		return translate(err)
	}
	return each(ctx, cur, func(m *evidenceModel) error { return fn(m.domain()) })
}

// each decodes every document of cur as M and hands it to fn, one at a
// time (never the whole result in memory), closing the cursor at the end.
// fn's error is returned unchanged.
func each[M any](ctx context.Context, cur *mongo.Cursor, fn func(*M) error) error {
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	for cur.Next(ctx) {
		var m M
		if err := cur.Decode(&m); err != nil {
			return translate(err)
		}
		if err := fn(&m); err != nil {
			return err
		}
	}
	return translate(cur.Err())
}
