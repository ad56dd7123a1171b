package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress reports how far a long command (suiji import) has got: a bar
// on a terminal, and on anything else (CI logs, a file, a pipe) one plain
// line per 10%, since a redrawn bar there turns into thousands of lines of
// control characters.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	what     string
	total    int
	done     int
	bar      *progressbar.ProgressBar // nil in plain mode
	printed  int                      // last tenth printed in plain mode
	finished bool
}

// newProgress starts a progress report of total items of what (e.g.
// "enterprises") on w, normally stderr so it stays out of piped output.
// total <= 0 means unknown: a spinner on a terminal, only the final count
// otherwise.
func newProgress(w io.Writer, total int, what string) *progress {
	return newProgressMode(w, total, what, isTerminal(w)) // isTerminal: serve.go
}

// newProgressMode is newProgress with the terminal decision made by the
// caller, so tests can exercise both modes.
func newProgressMode(w io.Writer, total int, what string, tty bool) *progress {
	p := &progress{w: w, what: what, total: total}
	if tty {
		max := total
		if max <= 0 {
			max = -1 // progressbar's unknown length: a spinner
		}
		p.bar = progressbar.NewOptions(max,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}
	return p
}

// Add records n more items done.
func (p *progress) Add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.done += n
	if p.bar != nil {
		_ = p.bar.Add(n) // a failed redraw must not fail the import
		return
	}
	if p.total <= 0 {
		return
	}
	// Print once per tenth crossed (once in all when one Add crosses
	// several), with the true percentage.
	if tenth := min(p.done*10/p.total, 10); tenth > p.printed {
		p.printed = tenth
		fmt.Fprintf(p.w, "%s: %d/%d (%d%%)\n", p.what, p.done, p.total, min(p.done*100/p.total, 100))
	}
}

// Finish ends the report, leaving the final count on its own line. It is
// safe to call more than once and after a run that stopped early, whose
// count it reports as is rather than as complete.
func (p *progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.finished = true
	if p.bar != nil {
		if p.total > 0 && p.done >= p.total {
			_ = p.bar.Finish() // reaching the maximum prints the newline
		} else {
			_ = p.bar.Exit()
		}
		return
	}
	switch {
	case p.total <= 0:
		fmt.Fprintf(p.w, "%s: %d done\n", p.what, p.done)
	case p.printed < 10:
		fmt.Fprintf(p.w, "%s: %d/%d done\n", p.what, p.done, p.total)
	}
}
