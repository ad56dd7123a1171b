// Command load is `make load`: a bounded load scenario against a running
// suiji (deploy/local/load.sh starts a stack of its own on loopback and
// stops it afterwards) with vegeta as the load generator.
//
// It sets up a county through the API (a brigade, one published item,
// enterprises, 300 inspectors with accounts, 10 staff), then for a fixed
// time runs 300 inspectors syncing their tasks every 30 s, 30 of them
// uploading photos, 10 staff browsing the directory and exporting it, and
// in the middle one draw and dispatch of 1,000 tasks. It reports
// throughput and p50/p95/p99 per route and the errors, checks afterwards
// that every accepted write is stored exactly once, and writes the figures
// to RESULTS.md. Only loopback addresses are accepted as the target.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

var (
	base        = flag.String("base", "http://127.0.0.1:8090", "suiji to load (loopback only)")
	adminPass   = flag.String("admin-password", "", "the admin's password (SUIJI_ADMIN_PASSWORD of the server)")
	duration    = flag.Duration("duration", 3*time.Minute, "how long the load runs")
	inspectors  = flag.Int("inspectors", 300, "inspectors syncing")
	uploaders   = flag.Int("uploaders", 30, "inspectors uploading photos")
	staffN      = flag.Int("staff", 10, "staff browsing and exporting")
	tasksN      = flag.Int("tasks", 1000, "tasks drawn and dispatched in the middle")
	syncEvery   = flag.Duration("sync-every", 30*time.Second, "how often each inspector syncs")
	resultsPath = flag.String("results", "RESULTS.md", "where the figures go")
	machine     = flag.String("machine", "", "a description of the machine for RESULTS.md")
)

// password is every load user's password.
const password = "load-test-password-1"

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run() error {
	u, err := url.Parse(*base)
	if err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" && u.Hostname() != "::1") {
		return fmt.Errorf("-base must be a loopback address, not %q", *base)
	}
	c := &client{base: strings.TrimRight(*base, "/"), http: &http.Client{Timeout: 5 * time.Minute}, refresh: map[string]string{}}
	start := time.Now()
	w, err := setup(c)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	fmt.Printf("load: setup done in %s (%d enterprises, %d inspectors, %d staff)\n",
		time.Since(start).Round(time.Second), w.enterprises, len(w.inspectors), len(w.staff))

	if err := w.renewAll(c); err != nil {
		return fmt.Errorf("renewing the sessions before the load: %w", err)
	}
	rep := newReport()
	var wg sync.WaitGroup
	attackFor := func(d time.Duration, name string, rate vegeta.Rate, tr vegeta.Targeter) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := vegeta.NewAttacker(vegeta.Timeout(2*time.Minute), vegeta.KeepAlive(true), vegeta.MaxWorkers(256))
			for res := range a.Attack(tr, rate, d, name) {
				rep.add(res)
				if name == "sync" {
					w.synced(res)
				}
			}
		}()
	}
	attack := func(name string, rate vegeta.Rate, tr vegeta.Targeter) { attackFor(*duration, name, rate, tr) }
	loadStart := time.Now()
	// 300 inspectors every 30 s: 10 syncs a second, round robin.
	attack("sync", vegeta.Rate{Freq: *inspectors, Per: *syncEvery}, w.syncTargeter())
	// 30 of them photograph: each a photo every 30 s, to a task their
	// phone synced (from the dispatch on).
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.uploadLoop(c, rep, *duration)
	}()
	// 10 staff: a page every 10 s each (a person reads what a page shows),
	// an export of the whole directory every 2 minutes each.
	attack("browse", vegeta.Rate{Freq: *staffN, Per: 10 * time.Second}, w.browseTargeter())
	attack("export", vegeta.Rate{Freq: *staffN, Per: 2 * time.Minute}, w.exportTargeter())

	time.Sleep(*duration / 2)
	rep.drawStart = time.Now()
	drawErr := w.drawAndDispatch(c, rep)
	rep.drawEnd = time.Now()
	rep.drawTook = rep.drawEnd.Sub(rep.drawStart)
	// The load after the dispatch lasts half the duration even when the
	// draw and the dispatch outlasted the rest: the phones sync their new
	// tasks and the uploaders photograph them.
	if more := *duration/2 - time.Until(loadStart.Add(*duration)); more > 0 {
		wg.Add(1)
		go func() { // from the end of the first load on, at the same rates
			defer wg.Done()
			time.Sleep(time.Until(loadStart.Add(*duration)))
			attackFor(more, "sync", vegeta.Rate{Freq: *inspectors, Per: *syncEvery}, w.syncTargeter())
			attackFor(more, "browse", vegeta.Rate{Freq: *staffN, Per: 10 * time.Second}, w.browseTargeter())
			w.uploadLoop(c, rep, more)
		}()
	}
	wg.Wait()
	rep.elapsed = time.Since(loadStart)

	// The figures first (the read-back takes a while on FerretDB), then
	// again with the verdicts of the read-back.
	_ = os.WriteFile(*resultsPath, []byte(rep.markdown(w, []check{{what: "the read-back after the load did not finish"}})+notes(*resultsPath)), 0o644)
	var checks []check
	if err := w.renewAll(c); err != nil {
		checks = []check{{what: fmt.Sprintf("renewing the sessions after the load: %v", err)}}
	} else {
		checks = w.check(c, drawErr)
	}
	text := rep.markdown(w, checks)
	fmt.Println(text)
	if err := os.WriteFile(*resultsPath, []byte(text+notes(*resultsPath)), 0o644); err != nil {
		return err
	}
	for _, ch := range checks {
		if !ch.ok {
			return errors.New("a check failed: " + ch.what)
		}
	}
	return drawErr
}

// notesMarker starts the hand-written part of RESULTS.md (the analysis of
// a run), which a new run keeps.
const notesMarker = "<!-- notes: kept by make load -->"

// notes is the hand-written part of the results file at path, if any.
func notes(path string) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if _, after, ok := strings.Cut(string(raw), notesMarker); ok {
		return "\n" + notesMarker + after
	}
	return ""
}
