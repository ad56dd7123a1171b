package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"suiji/backend"
	"suiji/backend/cmd/wire"
	"suiji/backend/config"
	"suiji/backend/sheet"
)

// runImport loads a CSV or XLSX file of enterprises, inspectors or items
// through the same use case as the API's import endpoints: every row is
// validated first, and by default a file with any bad row changes nothing.
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	partial := fs.Bool("partial", false, "store the good rows even when some are rejected")
	as := fs.String("as", "", "username the changes are recorded under (default: SUIJI_ADMIN_USERNAME)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: suiji import [--partial] [--as USER] enterprises|inspectors|items FILE")
		fmt.Fprintln(stderr, "Imports a CSV or XLSX file (Chinese or English headers, as the exports write them).")
		fmt.Fprintln(stderr, "Every rejected row is listed with its line, column and reason.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageError{"import needs a kind (enterprises, inspectors or items) and a FILE"}
	}
	kind, path := fs.Arg(0), fs.Arg(1)
	if kind != "enterprises" && kind != "inspectors" && kind != "items" {
		return usageError{fmt.Sprintf("unknown kind %q (enterprises, inspectors or items)", kind)}
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()

	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	st, err := wire.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close(newLogger(cfg, stderr))
	svc := wire.Services(st, cfg, utcNow)
	username := *as
	if username == "" {
		username = cfg.AdminUsername
	}
	u, err := svc.Accounts.Users.FindUserByUsername(ctx, username)
	if err != nil {
		return fmt.Errorf("--as %s: %w", username, err)
	}
	ctx = backend.WithActor(ctx, &backend.Actor{UserID: u.ID, Username: u.Username, Roles: u.Roles, DepartmentID: u.DepartmentID, ClientIP: "cli"})

	var bar *progress
	onProgress := func(done, total int) {
		if bar == nil {
			bar = newProgress(stderr, total, "importing "+kind)
		}
		bar.Add(1)
	}
	opts := sheet.ImportOptions{Filename: filepath.Base(path), Partial: *partial, MaxBytes: int64(cfg.UploadLimit), Progress: onProgress}
	var rep *sheet.Report
	switch kind {
	case "enterprises":
		rep, err = svc.Directory.ImportEnterprises(ctx, f, opts)
	case "inspectors":
		rep, err = svc.Roster.ImportInspectors(ctx, f, opts)
	case "items":
		rep, err = svc.Items.ImportItems(ctx, f, opts)
	}
	if bar != nil {
		bar.Finish()
	}
	if rep != nil {
		printReport(stdout, rep, *partial)
	}
	return err
}

// printReport writes the import's outcome and every rejected row. The
// summary, and the stored count, say what was written, which the other
// counts do not after a race or a failure part-way (sheet.Report.Stored).
func printReport(w io.Writer, rep *sheet.Report, partial bool) {
	fmt.Fprintln(w, rep.Summary(partial))
	fmt.Fprintf(w, "rows %d: created %d, updated %d, unchanged %d, rejected %d; stored %d\n",
		rep.Total, rep.Created, rep.Updated, rep.Unchanged, rep.Rejected, rep.Stored)
	for _, e := range rep.Errors {
		col := e.Header
		if col == "" {
			col = e.Field
		}
		fmt.Fprintf(w, "  line %d, %s: %s\n", e.Line, col, e.Message)
	}
	for _, warn := range rep.Warnings {
		fmt.Fprintln(w, "  warning:", warn)
	}
}
