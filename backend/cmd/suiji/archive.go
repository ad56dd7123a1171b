package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"suiji/backend"
	"suiji/backend/cmd/wire"
	"suiji/backend/config"
	"suiji/backend/results"
	mobileapi "suiji/mobile-api"
)

// runArchive is `suiji archive verify [--bundle DIR]` and
// `suiji archive export --task ID --out DIR`.
func runArchive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("archive", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bundle := fs.String("bundle", "", "verify: check the exported bundle in DIR on its own (no database, no MinIO)")
	taskID := fs.String("task", "", "export: the task whose archive to export")
	out := fs.String("out", "", "export: the folder to write the bundle into (created; must be empty)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: suiji archive verify [--bundle DIR]")
		fmt.Fprintln(stderr, "       suiji archive export --task ID --out DIR")
		fmt.Fprintln(stderr, "verify re-hashes every archived object (each generated document and each verified piece")
		fmt.Fprintln(stderr, "of evidence, in the version its record names) against its record in MongoDB, streaming,")
		fmt.Fprintln(stderr, "and names every difference: missing, or its size or SHA-256 not the recorded one.")
		fmt.Fprintln(stderr, "With --bundle it checks an exported bundle instead: every file against the manifest,")
		fmt.Fprintln(stderr, "files missing from or not in it, and the manifest against archive.json's hashes.")
		fmt.Fprintln(stderr, "export writes a task's bundle for a court or a superior agency: archive.json (what")
		fmt.Fprintln(stderr, "GET /api/v1/tasks/{id}/archive lists), documents/, evidence/, README.txt, MANIFEST.sha256.")
		fmt.Fprintln(stderr, "Exit status 0 when everything matches, 1 on any difference or failure.")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		return usageError{"archive needs a subcommand: suiji archive verify | export"}
	}
	sub := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("archive %s takes no arguments besides its flags", sub)}
	}
	switch {
	case sub == "verify" && *bundle != "":
		if *taskID != "" || *out != "" {
			return usageError{"archive verify --bundle takes no --task or --out"}
		}
		return verifyBundle(*bundle, stdout)
	case sub == "verify":
		if *taskID != "" || *out != "" {
			return usageError{"archive verify takes no --task or --out"}
		}
	case sub == "export":
		if *taskID == "" || *out == "" || *bundle != "" {
			return usageError{"archive export needs --task ID and --out DIR"}
		}
	default:
		return usageError{fmt.Sprintf("unknown archive subcommand %q (verify or export)", sub)}
	}

	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	st, err := wire.OpenArchive(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close(newLogger(cfg, stderr))
	svc := wire.ArchiveService(st, cfg, utcNow)
	// The operator's tool reads every task, as the coordinator may.
	ctx = backend.WithActor(ctx, &backend.Actor{Username: "suiji archive", Roles: []backend.Role{backend.RoleCoordinator}, ClientIP: "cli"})
	if sub == "export" {
		return exportArchive(ctx, svc, *taskID, *out, stdout)
	}
	return verifyArchive(ctx, svc, stdout)
}

func verifyArchive(ctx context.Context, svc *results.Service, stdout io.Writer) error {
	start := time.Now()
	rep, err := svc.VerifyArchive(ctx, func(d results.ArchiveDifference) {
		fmt.Fprintln(stdout, "DIFFERS:", d)
	})
	if err != nil {
		return fmt.Errorf("archive verify could not finish: %w", err)
	}
	fmt.Fprintf(stdout, "checked %d documents and %d pieces of evidence (%d bytes) in %s: %d differences\n",
		rep.Documents, rep.Evidence, rep.Bytes, time.Since(start).Round(time.Millisecond), rep.Differences)
	if rep.Differences > 0 {
		return fmt.Errorf("archive verify: %d archived objects differ from their records", rep.Differences)
	}
	return nil
}

func exportArchive(ctx context.Context, svc *results.Service, taskID, dir string, stdout io.Writer) error {
	a, err := svc.GetArchive(ctx, taskID)
	if err != nil {
		return fmt.Errorf("task %s: %w", taskID, err)
	}
	data, err := mobileapi.ArchiveJSON(a)
	if err != nil {
		return err
	}
	n, err := svc.ExportBundle(ctx, a, data, dir)
	if err != nil {
		return fmt.Errorf("archive export: %w", err)
	}
	fmt.Fprintf(stdout, "exported task %s: %d documents, %d pieces of evidence, %d files in %s (check: suiji archive verify --bundle %s)\n",
		taskID, len(a.Documents), len(a.Evidence), n, dir, dir)
	return nil
}

func verifyBundle(dir string, stdout io.Writer) error {
	files, diffs, err := results.VerifyBundle(dir, func(d string) { fmt.Fprintln(stdout, "DIFFERS:", d) })
	if err != nil {
		return fmt.Errorf("archive verify --bundle: %w", err)
	}
	fmt.Fprintf(stdout, "checked %d files of bundle %s: %d differences\n", files, dir, diffs)
	if diffs > 0 {
		return errors.New("archive verify --bundle: the bundle differs from its manifest")
	}
	return nil
}
