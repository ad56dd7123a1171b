package mongodb

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// BackupFormat names the layout Backup writes and Restore reads.
const BackupFormat = "suiji-backup/1"

// ManifestFile is the name of a backup's manifest inside its folder.
const ManifestFile = "manifest.json"

// restoreBatch bounds one insert of a restore, in documents and in bytes.
const (
	restoreBatchDocs  = 1000
	restoreBatchBytes = 8 << 20
	maxDocumentLine   = 48 << 20 // a 16 MiB BSON document as extended JSON, with room
)

// BackupManifest describes a backup: each collection's file, how many
// documents it holds and the SHA-256 of its bytes.
type BackupManifest struct {
	Format      string             `json:"format"`
	Database    string             `json:"database"`
	CreatedAt   time.Time          `json:"created_at"`
	Collections []BackupCollection `json:"collections"`
}

// BackupCollection is one collection of a backup.
type BackupCollection struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	Count  int64  `json:"count"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Backup writes every collection of the database into dir, one file per
// collection (NAME.jsonl: one document per line in canonical extended JSON,
// in _id order), and then the manifest with each file's count and SHA-256.
// Documents are streamed from a cursor to the file, never held all at once.
// dir must not exist or be empty. Each collection is read as it stands when
// its turn comes: stop writers (or accept that later collections are newer)
// for a backup that is one instant; the audit chain verifies either way,
// since events only ever append.
func (db *DB) Backup(ctx context.Context, dir string, now time.Time) (*BackupManifest, error) {
	if err := emptyDir(dir); err != nil {
		return nil, err
	}
	names, err := db.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, translate(err)
	}
	sort.Strings(names)
	m := &BackupManifest{Format: BackupFormat, Database: db.Name(), CreatedAt: now.UTC()}
	for _, name := range names {
		if strings.HasPrefix(name, "system.") {
			continue
		}
		c, err := db.backupCollection(ctx, dir, name)
		if err != nil {
			return nil, err
		}
		m.Collections = append(m.Collections, *c)
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "encoding the manifest")
	}
	if err := writeFileSync(filepath.Join(dir, ManifestFile), append(raw, '\n')); err != nil {
		return nil, err
	}
	return m, nil
}

func (db *DB) backupCollection(ctx context.Context, dir, name string) (_ *BackupCollection, err error) {
	c := &BackupCollection{Name: name, File: name + ".jsonl"}
	f, err := os.OpenFile(filepath.Join(dir, c.File), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, backend.Wrap(err, backend.EINVALID, "creating %s", c.File)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = backend.Wrap(cerr, backend.EINTERNAL, "closing %s", c.File)
		}
	}()
	h := sha256.New()
	counter := &countWriter{}
	w := bufio.NewWriterSize(io.MultiWriter(f, h, counter), 1<<20)
	cur, err := db.db.Collection(name).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, translate(err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		line, err := bson.MarshalExtJSON(cur.Current, true, false)
		if err != nil {
			return nil, backend.Wrap(err, backend.EINTERNAL, "encoding a document of %s", name)
		}
		if _, err := w.Write(append(line, '\n')); err != nil {
			return nil, backend.Wrap(err, backend.EINTERNAL, "writing %s", c.File)
		}
		c.Count++
	}
	if err := cur.Err(); err != nil {
		return nil, translate(err)
	}
	if err := w.Flush(); err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "writing %s", c.File)
	}
	if err := f.Sync(); err != nil {
		return nil, backend.Wrap(err, backend.EINTERNAL, "syncing %s", c.File)
	}
	c.Bytes, c.SHA256 = counter.n, hex.EncodeToString(h.Sum(nil))
	return c, nil
}

// ReadBackupManifest reads dir's manifest and checks every file against it
// (count and SHA-256), streaming each once. EINVALID names the first file
// that does not match.
func ReadBackupManifest(dir string) (*BackupManifest, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, backend.Wrap(err, backend.EINVALID, "%s is not a backup: no readable %s", dir, ManifestFile)
	}
	var m BackupManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, backend.Wrap(err, backend.EINVALID, "%s: %v", ManifestFile, err)
	}
	if m.Format != BackupFormat {
		return nil, backend.Errorf(backend.EINVALID, "%s: format %q, this suiji reads %q", ManifestFile, m.Format, BackupFormat)
	}
	for _, c := range m.Collections {
		if c.File != filepath.Base(c.File) || !strings.HasSuffix(c.File, ".jsonl") {
			return nil, backend.Errorf(backend.EINVALID, "%s: file name %q of collection %s is not a plain NAME.jsonl", ManifestFile, c.File, c.Name)
		}
		var n int64
		sum, err := eachLine(filepath.Join(dir, c.File), func([]byte) error { n++; return nil })
		if err != nil {
			return nil, err
		}
		if sum != c.SHA256 {
			return nil, backend.Errorf(backend.EINVALID, "%s: SHA-256 %s, the manifest says %s: the file was changed or damaged", c.File, sum, c.SHA256)
		}
		if n != c.Count {
			return nil, backend.Errorf(backend.EINVALID, "%s: %d documents, the manifest says %d", c.File, n, c.Count)
		}
	}
	return &m, nil
}

// Restore loads the backup in dir into this database, which must hold no
// documents (empty collections, such as those EnsureIndexes makes, are
// fine): ECONFLICT names a collection that has some. Every file is checked
// against the manifest before anything is written; afterwards every
// collection's count is compared with the manifest's.
func (db *DB) Restore(ctx context.Context, dir string) (*BackupManifest, error) {
	defer db.itemLists.forget() // the lists restored may not be those it saw
	m, err := ReadBackupManifest(dir)
	if err != nil {
		return nil, err
	}
	names, err := db.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, translate(err)
	}
	sort.Strings(names)
	for _, name := range names {
		n, err := db.db.Collection(name).CountDocuments(ctx, bson.D{}, options.Count().SetLimit(1))
		if err != nil {
			return nil, translate(err)
		}
		if n > 0 {
			return nil, backend.Errorf(backend.ECONFLICT,
				"database %s is not empty (collection %s has documents); restore only into an empty database", db.Name(), name)
		}
	}
	for _, c := range m.Collections {
		if err := db.restoreCollection(ctx, dir, c); err != nil {
			return nil, err
		}
	}
	for _, c := range m.Collections {
		n, err := db.db.Collection(c.Name).CountDocuments(ctx, bson.D{})
		if err != nil {
			return nil, translate(err)
		}
		if n != c.Count {
			return nil, backend.Errorf(backend.EINTERNAL, "restored %s holds %d documents, the backup %d", c.Name, n, c.Count)
		}
	}
	return m, nil
}

func (db *DB) restoreCollection(ctx context.Context, dir string, c BackupCollection) error {
	coll := db.db.Collection(c.Name)
	var batch []any
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := coll.InsertMany(ctx, batch)
		batch, size = batch[:0], 0
		if err != nil {
			te := translate(err)
			return backend.Wrap(te, backend.ErrorCode(te), "restoring %s: %s", c.Name, backend.ErrorMessage(te))
		}
		return nil
	}
	_, err := eachLine(filepath.Join(dir, c.File), func(line []byte) error {
		var doc bson.Raw
		if err := bson.UnmarshalExtJSON(line, true, &doc); err != nil {
			return backend.Wrap(err, backend.EINVALID, "%s: a line is not extended JSON", c.File)
		}
		batch = append(batch, doc)
		size += len(doc)
		if len(batch) >= restoreBatchDocs || size >= restoreBatchBytes {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// eachLine calls fn with each line of path (without its newline) and
// returns the SHA-256 of the whole file.
func eachLine(path string, fn func(line []byte) error) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", backend.Wrap(err, backend.EINVALID, "reading %s", filepath.Base(path))
	}
	defer f.Close()
	h := sha256.New()
	sc := bufio.NewScanner(io.TeeReader(f, h))
	sc.Buffer(make([]byte, 0, 1<<20), maxDocumentLine)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			if err := fn(line); err != nil {
				return "", err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", backend.Wrap(err, backend.EINVALID, "reading %s", filepath.Base(path))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// emptyDir creates dir, or accepts it when it exists and is empty.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return backend.Wrap(err, backend.EINVALID, "creating %s", dir)
		}
		return nil
	case err != nil:
		return backend.Wrap(err, backend.EINVALID, "reading %s", dir)
	case len(entries) > 0:
		return backend.Errorf(backend.EINVALID, "%s is not empty; back up into a new folder", dir)
	}
	return nil
}

func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "creating %s", filepath.Base(path))
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return backend.Wrap(err, backend.EINTERNAL, "writing %s", filepath.Base(path))
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return backend.Wrap(err, backend.EINTERNAL, "syncing %s", filepath.Base(path))
	}
	if err := f.Close(); err != nil {
		return backend.Wrap(err, backend.EINTERNAL, "closing %s", filepath.Base(path))
	}
	return nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
