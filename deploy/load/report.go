package main

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// sample is one answer.
type sample struct {
	at      time.Time // when the request was sent
	latency time.Duration
	failed  bool
}

// routeStats are one route's answers.
type routeStats struct {
	method, route string
	samples       []sample
	errors        map[string]int
}

// report gathers every answer by route.
type report struct {
	mu                 sync.Mutex
	routes             map[string]*routeStats
	drawStart, drawEnd time.Time
	drawTook           time.Duration
	elapsed            time.Duration
	attempts           map[string]int // retried writes: attempts by route
	firstStatus        map[string]int // and the first attempt's answer
}

func newReport() *report {
	return &report{routes: map[string]*routeStats{}, attempts: map[string]int{}, firstStatus: map[string]int{}}
}

// routeOf turns a URL path into its route pattern (ids become :id).
func routeOf(path string) string {
	path, _, _ = strings.Cut(path, "?")
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if len(s) >= 16 && !strings.Contains(s, ".") {
			segs[i] = ":id"
		}
	}
	return strings.Join(segs, "/")
}

func (r *report) add(res *vegeta.Result) {
	u, _ := url.Parse(res.URL)
	var err error
	if res.Error != "" {
		err = errors.New(res.Error)
	}
	r.addAt(res.Timestamp, res.Method, routeOf(u.Path), int(res.Code), res.Latency, err)
}

// addOne records an answer that just arrived.
func (r *report) addOne(method, route string, code int, latency time.Duration, err error) {
	r.addAt(time.Now().Add(-latency), method, route, code, latency, err)
}

func (r *report) addAt(at time.Time, method, route string, code int, latency time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := method + " " + route
	s := r.routes[k]
	if s == nil {
		s = &routeStats{method: method, route: route, errors: map[string]int{}}
		r.routes[k] = s
	}
	failed := err != nil || code/100 != 2
	s.samples = append(s.samples, sample{at: at, latency: latency, failed: failed})
	if failed {
		msg := fmt.Sprint(code)
		if err != nil {
			msg += " " + err.Error()
		}
		s.errors[errorKind(msg)]++
	}
}

// idPattern matches the ids an error message may name: UUIDs (the
// phones' own ids) and 24-digit hex ids (suiji's).
var idPattern = regexp.MustCompile(`\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\b[0-9a-f]{24}\b`)

// errorKind is how an error is counted in the report: ids replaced by
// ":id", so that one fault met by a hundred requests is one line with its
// count, not a hundred lines; cut at 160 bytes (on a rune boundary).
func errorKind(msg string) string {
	msg = idPattern.ReplaceAllString(msg, ":id")
	if len(msg) > 160 {
		cut := 160
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut]
	}
	return msg
}

// pct is the p-quantile of sorted latencies (nearest rank).
func pct(ls []time.Duration, p float64) time.Duration {
	if len(ls) == 0 {
		return 0
	}
	return ls[int(float64(len(ls)-1)*p)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

func (r *report) markdown(w *world, checks []check) string {
	var b strings.Builder
	b.WriteString("# Load test results\n\n")
	fmt.Fprintf(&b, "Written by `make load` (`deploy/load`, vegeta v12 as a library) on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "**Machine:** %s.\n\n", machineText())
	fmt.Fprintf(&b, "**Scenario** (%s of load): %d inspectors syncing their tasks every %s (%.1f syncs/s; `GET /api/v1/me/tasks?since=` from each phone's cursor), "+
		"%d of them uploading a photo every %s each once their phones have tasks (declared with `POST /api/v1/tasks/{id}/evidence`, sent to MinIO with the presigned POST, "+
		"completed with `POST /api/v1/evidence/{id}/complete`), "+
		"%d staff browsing (a page every 10 s each) and exporting the directory (once every 2 minutes each), and in the middle one draw "+
		"of %d enterprises out of %d and its dispatch (%d tasks, %d assignment alerts). suiji (one instance), FerretDB (SQLite), "+
		"MinIO and Redis all run on this machine, started by `make load` on ports of their own.\n\n",
		r.elapsed.Round(time.Second), *inspectors, *syncEvery, float64(*inspectors)/syncEvery.Seconds(), *uploaders, *syncEvery, *staffN,
		*tasksN, w.enterprises, *tasksN, 2**tasksN)
	keys := make([]string, 0, len(r.routes))
	for k := range r.routes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	busy := func(t time.Time) bool { return !t.Before(r.drawStart) && t.Before(r.drawEnd) }
	total, errs := r.table(&b, "All of the load", keys, func(time.Time) bool { return true })
	r.table(&b, fmt.Sprintf("Before the draw (sent before %s; no tasks yet)", r.drawStart.UTC().Format("15:04:05")),
		keys, func(t time.Time) bool { return t.Before(r.drawStart) })
	r.table(&b, "While the draw and the dispatch of 1,000 tasks ran", keys, busy)
	r.table(&b, fmt.Sprintf("After the dispatch (sent from %s; 1,000 tasks, 2,000 alerts in the inboxes)", r.drawEnd.UTC().Format("15:04:05")),
		keys, func(t time.Time) bool { return !t.Before(r.drawEnd) })
	fmt.Fprintf(&b, "%d requests in all (%.1f/s), %d errors. The draw and the dispatch of %d tasks took %s together, under the load",
		total, float64(total)/r.elapsed.Seconds(), errs, *tasksN, r.drawTook.Round(time.Millisecond))
	for _, route := range []string{"/api/v1/plans/:id/draws", "/api/v1/draws/:id/dispatch"} {
		if n := r.attempts[route]; n > 1 {
			fmt.Fprintf(&b, "; `POST %s` was sent %d times with one Idempotency-Key (the first answered %d)", route, n, r.firstStatus[route])
		}
	}
	b.WriteString(".\n\n")
	var syncs []time.Duration
	if st := r.routes["GET /api/v1/me/tasks"]; st != nil {
		for _, x := range st.samples {
			syncs = append(syncs, x.latency)
		}
	}
	sort.Slice(syncs, func(i, j int) bool { return syncs[i] < syncs[j] })
	p99 := pct(syncs, .99)
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	fmt.Fprintf(&b, "**Goal** (issue 14): zero errors — %d errors, %s; p99 of task sync under 200 ms — %s ms over %d syncs, %s.\n\n",
		errs, verdict(errs == 0), ms(p99), len(syncs), verdict(len(syncs) > 0 && p99 < 200*time.Millisecond))
	if errs > 0 {
		b.WriteString("Errors:\n\n")
		for _, k := range keys {
			msgs := slices.Sorted(maps.Keys(r.routes[k].errors))
			for _, msg := range msgs {
				fmt.Fprintf(&b, "- `%s`: %d × %s\n", k, r.routes[k].errors[msg], msg)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("**Checks after the load** (every accepted write stored exactly once):\n\n")
	for _, c := range checks {
		mark := "ok"
		if !c.ok {
			mark = "FAILED"
		}
		fmt.Fprintf(&b, "- %s: %s\n", mark, c.what)
	}
	return b.String()
}

// machineText describes the machine from /proc, unless -machine says.
func machineText() string {
	if *machine != "" {
		return *machine
	}
	model := "unknown CPU"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		_, _ = fmt.Sscanf(strings.SplitN(string(raw), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf(", %.0f GiB memory", float64(kb)/1048576)
	}
	load := ""
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = fmt.Sprintf(" (load average at the end %s)", strings.Join(strings.Fields(string(raw))[:3], " "))
	}
	return fmt.Sprintf("%d cores (%s)%s, shared with other sessions' builds and tests, so the figures are pessimistic%s", runtime.NumCPU(), model, mem, load)
}

// table writes one table of per-route figures over the samples sent at
// times in, and returns the requests and errors in it.
func (r *report) table(b *strings.Builder, title string, keys []string, in func(time.Time) bool) (total, errs int) {
	fmt.Fprintf(b, "**%s**\n\n", title)
	rows := 0
	for _, k := range keys {
		for _, x := range r.routes[k].samples {
			if in(x.at) {
				rows++
			}
		}
	}
	if rows == 0 {
		b.WriteString("(no request was sent in this window)\n\n")
		return 0, 0
	}
	b.WriteString("| route | requests | throughput (req/s) | p50 ms | p95 ms | p99 ms | max ms | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, k := range keys {
		s := r.routes[k]
		var ls []time.Duration
		var first, last time.Time
		e := 0
		for _, x := range s.samples {
			if !in(x.at) {
				continue
			}
			ls = append(ls, x.latency)
			if first.IsZero() || x.at.Before(first) {
				first = x.at
			}
			if x.at.After(last) {
				last = x.at
			}
			if x.failed {
				e++
			}
		}
		if len(ls) == 0 {
			continue
		}
		sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
		total, errs = total+len(ls), errs+e
		rate := "—"
		if span := last.Sub(first).Seconds(); span > 1 {
			rate = fmt.Sprintf("%.2f", float64(len(ls))/span)
		}
		fmt.Fprintf(b, "| `%s %s` | %d | %s | %s | %s | %s | %s | %d |\n", s.method, s.route, len(ls), rate,
			ms(pct(ls, .5)), ms(pct(ls, .95)), ms(pct(ls, .99)), ms(pct(ls, 1)), e)
	}
	b.WriteString("\n")
	return total, errs
}
