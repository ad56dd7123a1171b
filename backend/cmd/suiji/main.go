// Command suiji is the one binary of the platform: the API server and the
// operator's tools.
//
//	suiji serve          run the HTTP API
//	suiji audit verify   walk the audit hash chain and name the first break
//	suiji backup DIR     every collection and a manifest of counts and hashes
//	suiji restore DIR    a backup into an empty database, checked
//	suiji import         import enterprises, inspectors or items from CSV/XLSX
//	suiji seed --demo    load demo data into an empty database
//	suiji sample         print the SHA-256 sampler's picks (to check it by hand)
//	suiji verify-draw    re-compute a published draw record (FILE or URL)
//	suiji archive verify re-hash every archived document and evidence object against its record
//	suiji archive export a task's archive as a bundle that verifies on its own (archive verify --bundle)
//	suiji openapi        print the API contract (OpenAPI 3 JSON)
//	suiji version        print the build version
//
// Later subcommands join the table in commands below. This package is the wiring root:
// it reads the configuration once and hands each part what it needs; it is the
// only place that imports both storage and mobile-api.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	mobileapi "suiji/mobile-api"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is the subcommand table; help is generated from it.
var commands = []command{
	{"serve", "run the HTTP API (configured by SUIJI_* variables; see the README)", runServe},
	{"import", "import enterprises|inspectors|items from a CSV or XLSX FILE", runImport},
	{"seed", "load demo data into an empty database: --demo [--if-empty]", runSeed},
	{"sample", "print the picks of the SHA-256 sampler: --seed S --total N --count K", runSample},
	{"verify-draw", "re-compute a published draw record: FILE or URL", runVerifyDraw},
	{"openapi", "print the API contract (OpenAPI 3 JSON), e.g. to generate a client", runOpenAPI},
	{"version", "print the build version", runVersion},
	{"audit", "audit verify: walk the audit hash chain and name the first break", runAudit},
	{"backup", "write every collection and a manifest of counts and SHA-256 hashes into DIR", runBackup},
	{"restore", "load a backup DIR into an empty database; counts and the audit chain are checked", runRestore},
	{"archive", "archive verify [--bundle DIR]: re-hash archived documents and evidence (or a bundle); archive export --task ID --out DIR", runArchive},
}

// usageError makes main print the usage and exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var uerr usageError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, &uerr):
		fmt.Fprintln(os.Stderr, "suiji:", err)
		usage(os.Stderr)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "suiji:", err)
		os.Exit(1)
	}
}

// run dispatches to a subcommand; it is main without the process exits, so
// tests can call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command given"}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return nil
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "suiji — double-random, one-public inspections (双随机、一公开)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: suiji COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'suiji COMMAND -h' for a command's flags.")
}

func runOpenAPI(_ context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) > 0 {
		return usageError{"openapi takes no arguments"}
	}
	_, err := stdout.Write(append(mobileapi.OpenAPI, '\n'))
	return err
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	fmt.Fprintln(stdout, version())
	return nil
}

// version is the VCS revision the binary was built from, when known.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return info.Main.Version
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
