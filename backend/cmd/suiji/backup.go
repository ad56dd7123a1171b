package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"suiji/backend/audit"
	"suiji/backend/config"
	"suiji/storage/mongodb"
)

// runBackup is `suiji backup DIR`: every collection of the configured
// database into DIR, with a manifest of counts and hashes.
func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	dir, err := backupDirArg("backup", args, stderr,
		"Writes every collection of the database (SUIJI_MONGO_URI, SUIJI_MONGO_DATABASE) into DIR,",
		"one extended-JSON file per collection, and manifest.json with each file's count and SHA-256.",
		"DIR must not exist or be empty. Evidence and documents stay in MinIO (see deploy/README.md).")
	if err != nil {
		return err
	}
	db, closeDB, err := openDatabase(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	start := time.Now()
	m, err := db.Backup(ctx, dir, utcNow())
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	var docs int64
	for _, c := range m.Collections {
		fmt.Fprintf(stdout, "  %-28s %9d documents  %s\n", c.Name, c.Count, c.SHA256[:16])
		docs += c.Count
	}
	fmt.Fprintf(stdout, "backed up %d collections, %d documents of database %s into %s in %s\n",
		len(m.Collections), docs, m.Database, dir, time.Since(start).Round(time.Millisecond))
	return nil
}

// runRestore is `suiji restore DIR`: a backup into an empty database, then
// the indexes and a check of the audit chain.
func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	dir, err := backupDirArg("restore", args, stderr,
		"Loads a backup made by `suiji backup` into the database (SUIJI_MONGO_URI, SUIJI_MONGO_DATABASE),",
		"which must hold no documents. Every file is checked against the manifest first; afterwards",
		"every count is compared, the indexes are created and the audit chain is verified.")
	if err != nil {
		return err
	}
	db, closeDB, err := openDatabase(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	start := time.Now()
	m, err := db.Restore(ctx, dir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := db.EnsureIndexes(ctx); err != nil {
		return fmt.Errorf("restore: creating indexes: %w", err)
	}
	var docs int64
	for _, c := range m.Collections {
		docs += c.Count
	}
	fmt.Fprintf(stdout, "restored %d collections, %d documents (backup of %s taken %s) into %s in %s; every count matches\n",
		len(m.Collections), docs, m.Database, m.CreatedAt.Format(time.RFC3339), db.Name(), time.Since(start).Round(time.Millisecond))
	rep, err := audit.Verify(ctx, db.AuditEvents())
	if err != nil {
		return fmt.Errorf("restore: verifying the audit chain: %w", err)
	}
	if rep.Break != nil {
		return fmt.Errorf("restore: the restored audit chain is BROKEN: %s", rep.Break)
	}
	fmt.Fprintf(stdout, "audit chain intact: %d events\n", rep.Events)
	return nil
}

// backupDirArg parses the one DIR argument of backup and restore.
func backupDirArg(name string, args []string, stderr io.Writer, help ...string) (string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: suiji %s DIR\n", name)
		for _, h := range help {
			fmt.Fprintln(stderr, h)
		}
	}
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if fs.NArg() != 1 {
		return "", usageError{name + " takes one argument: the backup folder"}
	}
	return fs.Arg(0), nil
}

// openDatabase connects to the configured MongoDB database.
func openDatabase(ctx context.Context) (*mongodb.DB, func(), error) {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return nil, nil, err
	}
	db, err := mongodb.Open(ctx, mongodb.Options{URI: cfg.MongoURI, Database: cfg.MongoDatabase})
	if err != nil {
		return nil, nil, fmt.Errorf("MongoDB (SUIJI_MONGO_URI): %w", err)
	}
	return db, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = db.Close(ctx)
	}, nil
}
