package main

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// pick returns the next index below n, round robin across all targeters.
func (w *world) pick(n int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.next++
	return w.next % n
}

// target fills t for a request by the user whose token is given, from that
// user's own address (X-Forwarded-For, from 198.18.0.0/15, the range set
// aside for benchmarks: a header only, never a destination).
func target(t *vegeta.Target, method, path, token string) {
	t.Method, t.URL = method, *base+path
	t.Header = http.Header{"Authorization": {"Bearer " + token}, "X-Forwarded-For": {addressOf(token)}}
}

// addressOf gives each token a stable synthetic client address.
func addressOf(token string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(token))
	n := h.Sum32()
	return fmt.Sprintf("198.%d.%d.%d", 18+n>>16&1, n>>8&255, n&255)
}

// syncTargeter: each inspector in turn syncs — the task sync route, or
// (without it) the task list and the inbox alternately.
func (w *world) syncTargeter() vegeta.Targeter {
	return func(t *vegeta.Target) error {
		i := w.pick(len(w.inspectors) * 2)
		if w.syncPath == "/api/v1/me/tasks" || i%2 == 0 {
			target(t, "GET", w.syncPath, w.inspectors[i/2])
		} else {
			target(t, "GET", "/api/v1/me/notifications?limit=20", w.inspectors[i/2])
		}
		return nil
	}
}

// uploadTargeter asks for upload instructions of a photo (the upload
// itself goes to MinIO, outside suiji).
func (w *world) uploadTargeter() vegeta.Targeter {
	return func(t *vegeta.Target) error {
		target(t, "GET", w.syncPath, w.inspectors[w.pick(*uploaders)])
		return nil
	}
}

func (w *world) browseTargeter() vegeta.Targeter {
	return func(t *vegeta.Target) error {
		i := w.pick(len(w.staff) * 3)
		tok := w.staff[i%len(w.staff)]
		switch i % 3 {
		case 0:
			target(t, "GET", fmt.Sprintf("/api/v1/enterprises?limit=50&offset=%d", 50*rand.IntN(20)), tok)
		case 1:
			target(t, "GET", "/api/v1/plans", tok)
		default:
			target(t, "GET", "/api/v1/enterprises/stale?limit=50", tok)
		}
		return nil
	}
}

func (w *world) exportTargeter() vegeta.Targeter {
	return func(t *vegeta.Target) error {
		target(t, "GET", "/api/v1/enterprises/export?format=csv", w.staff[w.pick(len(w.staff))])
		return nil
	}
}

// drawAndDispatch draws the plan and dispatches the draw, each timed and
// counted in the report under its route.
func (w *world) drawAndDispatch(c *client, rep *report) error {
	var d struct {
		ID string `json:"id"`
	}
	// Both as the console sends them: with an Idempotency-Key, repeated
	// while the answer is 503 (the request budget ran out; what was stored
	// stays, and the repeat completes it) or 409 (the first attempt still
	// holds its claim or the plan's lease).
	_, err := retried(rep, "POST", "/api/v1/plans/:id/draws", func(key string) (int, error) {
		return c.doKey("POST", "/api/v1/plans/"+w.planID+"/draws", w.coordinator, key, []byte(`{}`), "", &d)
	})
	if err != nil {
		return err
	}
	w.drawID = d.ID
	_, err = retried(rep, "POST", "/api/v1/draws/:id/dispatch", func(key string) (int, error) {
		return c.doKey("POST", "/api/v1/draws/"+d.ID+"/dispatch", w.coordinator, key, []byte(`{}`), "", nil)
	})
	return err
}

// retried sends a write with one Idempotency-Key until it is answered
// other than 503 or 409 (at most 20 times, 5 s apart), counting every
// attempt in the report.
func retried(rep *report, method, route string, send func(key string) (int, error)) (int, error) {
	key := fmt.Sprintf("load-%d", rand.Int64())
	for attempt := 1; ; attempt++ {
		t0 := time.Now()
		st, err := send(key)
		rep.addOne(method, route, st, time.Since(t0), err)
		rep.mu.Lock()
		rep.attempts[route] = attempt
		if attempt == 1 {
			rep.firstStatus[route] = st
		}
		rep.mu.Unlock()
		if (st != http.StatusServiceUnavailable && st != http.StatusConflict && st != 0) || attempt == 20 {
			return st, err
		}
		time.Sleep(5 * time.Second)
	}
}

// check is one verdict of the read-back after the load.
type check struct {
	what string
	ok   bool
}

// check reads back every write the load made: one draw, one task per
// drawn enterprise, one assignment alert per member and task.
func (w *world) check(c *client, drawErr error) []check {
	var out []check
	add := func(ok bool, format string, args ...any) { out = append(out, check{fmt.Sprintf(format, args...), ok}) }
	if drawErr != nil {
		add(false, "draw and dispatch: %v", drawErr)
		return out
	}
	var plan struct {
		DrawCount int    `json:"draw_count"`
		Status    string `json:"status"`
	}
	err := c.json("GET", "/api/v1/plans/"+w.planID, w.coordinator, nil, &plan)
	add(err == nil && plan.DrawCount == 1 && plan.Status == "dispatched",
		"the plan has exactly one draw and is dispatched (draw_count %d, status %s, %v)", plan.DrawCount, plan.Status, err)
	tasks := map[string]bool{}
	enterprises := map[string]bool{}
	members := map[string]int{} // inspector user id → tasks
	dup := 0
	after := ""
	for {
		var page struct {
			Tasks []struct {
				ID         string `json:"id"`
				Enterprise struct {
					USCC string `json:"uscc"`
				} `json:"enterprise"`
				Members []struct {
					UserID string `json:"user_id"`
				} `json:"members"`
			} `json:"tasks"`
			Next string `json:"next"`
		}
		path := "/api/v1/tasks?limit=200&plan_id=" + w.planID
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		if err := c.json("GET", path, w.coordinator, nil, &page); err != nil {
			add(false, "listing the tasks: %v", err)
			return out
		}
		for _, t := range page.Tasks {
			if tasks[t.ID] || enterprises[t.Enterprise.USCC] {
				dup++
			}
			tasks[t.ID], enterprises[t.Enterprise.USCC] = true, true
			for _, m := range t.Members {
				members[m.UserID]++
			}
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	add(len(tasks) == *tasksN && dup == 0, "%d tasks stored for %d drawn enterprises, none twice (%d repeats)", len(tasks), *tasksN, dup)
	// Each inspector's inbox: one assignment alert per task of theirs.
	bad := 0
	for i, tok := range w.inspectors {
		var inbox struct {
			Notifications []struct {
				Kind   string `json:"kind"`
				TaskID string `json:"task_id"`
			} `json:"notifications"`
		}
		if err := c.json("GET", "/api/v1/me/notifications?limit=100", tok, nil, &inbox); err != nil {
			bad++
			continue
		}
		seen := map[string]bool{}
		for _, e := range inbox.Notifications {
			if e.Kind != "task.assigned" {
				continue
			}
			if seen[e.TaskID] {
				bad++
			}
			seen[e.TaskID] = true
		}
		if len(seen) != members[w.inspectorID[i]] {
			bad++
		}
	}
	add(bad == 0, "every inspector has exactly one assignment alert per task of theirs (%d inboxes differ)", bad)
	return out
}
