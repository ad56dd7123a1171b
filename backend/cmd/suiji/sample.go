package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"suiji/backend/draw"
)

// runSample prints the picks of Rivest's sampler, one per line, 1-based, so
// that anyone can compare suiji's sampler with a reference implementation.
func runSample(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sample", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.String("seed", "", "the seed (any UTF-8 text)")
	total := fs.Int("total", 0, "population size N (picks are 1..N)")
	count := fs.Int("count", 0, "number of picks K")
	withReplacement := fs.Bool("with-replacement", false, "allow repeats (default: without replacement)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: suiji sample --seed S --total N --count K [--with-replacement]")
		fmt.Fprintln(stderr, "Prints the picks of the SHA-256 sampler (Rivest, 2011): pick i is")
		fmt.Fprintln(stderr, `1 + SHA-256(UTF-8(S + "," + i)) mod N; without replacement repeats are skipped.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"sample takes only flags"}
	}
	if *seed == "" || *total < 1 || *count < 0 {
		return usageError{"sample needs --seed, --total ≥ 1 and --count ≥ 0"}
	}
	// Any text is a sampler seed here: the command reproduces the
	// reference sampler, outside any draw.
	picks, err := draw.Sample(draw.DerivedSeed(*seed), *total, *count, *withReplacement)
	if err != nil {
		return err
	}
	for _, p := range picks {
		fmt.Fprintln(stdout, p)
	}
	return nil
}
