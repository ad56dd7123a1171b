package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"suiji/backend/audit"
	"suiji/backend/config"
	"suiji/storage/mongodb"
)

// runAudit is `suiji audit SUBCOMMAND`; verify is the only subcommand.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: suiji audit verify")
		fmt.Fprintln(stderr, "Walks the audit trail's hash chain in MongoDB (SUIJI_MONGO_URI, SUIJI_MONGO_DATABASE)")
		fmt.Fprintln(stderr, "and names the first event that was edited, deleted or inserted behind its back.")
		fmt.Fprintln(stderr, "Exit status 0 when the chain is intact, 1 when it is broken or cannot be read.")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return usageError{"audit needs a subcommand: suiji audit verify"}
	case fs.Arg(0) != "verify":
		return usageError{fmt.Sprintf("unknown audit subcommand %q (only verify exists)", fs.Arg(0))}
	case fs.NArg() > 1:
		return usageError{"audit verify takes no arguments"}
	}

	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	db, err := mongodb.Open(ctx, mongodb.Options{URI: cfg.MongoURI, Database: cfg.MongoDatabase})
	if err != nil {
		return fmt.Errorf("MongoDB (SUIJI_MONGO_URI): %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = db.Close(ctx)
	}()

	rep, err := audit.Verify(ctx, db.AuditEvents())
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	if rep.Break != nil {
		fmt.Fprintf(stdout, "audit chain BROKEN: %s\n", rep.Break)
		if rep.Head != "" {
			fmt.Fprintf(stdout, "the chain holds up to event %d (hash %s)\n", rep.Break.Seq-1, rep.Head)
		}
		return errors.New("audit chain broken: " + rep.Break.Message)
	}
	fmt.Fprintf(stdout, "audit chain intact: %d events\n", rep.Events)
	if rep.Head != "" {
		// Worth writing down elsewhere: the chain alone cannot show that its
		// newest events were removed, a recorded head can.
		fmt.Fprintf(stdout, "head: event %d, hash %s\n", rep.Events, rep.Head)
	}
	return nil
}
