package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"sync"
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

// syncTargeter: each inspector in turn syncs its tasks from its phone's
// cursor. The request id names the inspector, so that synced can move
// that phone's cursor on from the answer.
func (w *world) syncTargeter() vegeta.Targeter {
	return func(t *vegeta.Target) error {
		w.mu.Lock()
		w.nextSync++
		n := w.nextSync
		i := n % len(w.inspectors)
		cursor := w.phones[i].cursor
		w.mu.Unlock()
		path := "/api/v1/me/tasks"
		if cursor != "" {
			path += "?since=" + url.QueryEscape(cursor)
		}
		target(t, "GET", path, w.inspectors[i])
		t.Header.Set("X-Request-ID", fmt.Sprintf("sync-%d-%d", i, n))
		return nil
	}
}

// syncPage is an answer of GET /api/v1/me/tasks.
type syncPage struct {
	Tasks []struct {
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	} `json:"tasks"`
	Cursor string `json:"cursor"`
	More   bool   `json:"more"`
}

// synced takes a sync's answer into its phone: the tasks it delivered
// (tombstones remove them) and the cursor, unless a sync sent later
// answered first (answers may arrive out of order; the cursor is opaque,
// so requests, not cursors, are compared).
func (w *world) synced(res *vegeta.Result) {
	var i, n int
	if _, err := fmt.Sscanf(res.Headers.Get("X-Request-ID"), "sync-%d-%d", &i, &n); err != nil || res.Code != 200 || i < 0 || i >= len(w.phones) {
		return
	}
	var page syncPage
	if json.Unmarshal(res.Body, &page) != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.phones[i].take(&page, n)
}

// take applies the answer of the phone's sync request number n.
func (p *phone) take(page *syncPage, n int) {
	for _, t := range page.Tasks {
		if t.Deleted {
			delete(p.tasks, t.ID)
		} else {
			p.tasks[t.ID] = true
		}
	}
	if page.Cursor != "" && n > p.sent {
		p.cursor, p.sent = page.Cursor, n
	}
}

// uploadLoop: the first *uploaders inspectors each send a photo every
// syncEvery, in turn, to one of the tasks their phone has synced (none
// before the dispatch: their turn passes). Each upload is sent as a
// phone does — declared through the API, the bytes straight to MinIO
// with the presigned POST, then completed — without waiting for the
// previous one (an open loop, like vegeta's).
func (w *world) uploadLoop(c *client, rep *report, d time.Duration) {
	n := min(*uploaders, len(w.inspectors))
	if n == 0 {
		return
	}
	tick := time.NewTicker(*syncEvery / time.Duration(n))
	defer tick.Stop()
	end := time.After(d)
	var wg sync.WaitGroup
	defer wg.Wait()
	for k := 0; ; k++ {
		select {
		case <-end:
			return
		case <-tick.C:
		}
		i := k % n
		w.mu.Lock()
		var taskID string
		for id := range w.phones[i].tasks { // any of its tasks
			taskID = id
			break
		}
		w.mu.Unlock()
		if taskID == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.uploadOne(c, rep, i, taskID, k)
		}()
	}
}

// uploadOne sends one photo and records how it ended.
func (w *world) uploadOne(c *client, rep *report, i int, taskID string, k int) {
	photo := jpegPhoto(k)
	sum := sha256.Sum256(photo)
	up := upload{inspector: i, taskID: taskID, id: evidenceID(), sha256: hex.EncodeToString(sum[:]), size: len(photo)}
	defer func() {
		w.mu.Lock()
		w.uploads = append(w.uploads, up)
		w.mu.Unlock()
	}()
	tok := w.inspectors[i]
	var ev struct {
		State  string `json:"state"`
		Upload *struct {
			URL    string            `json:"url"`
			Fields map[string]string `json:"fields"`
		} `json:"upload"`
	}
	body, _ := json.Marshal(map[string]any{"id": up.id, "kind": "photo", "content_type": "image/jpeg", "size": up.size, "sha256": up.sha256,
		"taken_at": time.Now().UTC().Format(time.RFC3339), "lat": 35.49, "lng": 112.85})
	if !timed(rep, "POST", "/api/v1/tasks/:id/evidence", func() (int, error) {
		return c.doAs("POST", "/api/v1/tasks/"+taskID+"/evidence", tok, body, "", &ev)
	}) {
		return
	}
	if ev.Upload == nil {
		rep.addOne("POST", "/api/v1/tasks/:id/evidence", 0, 0, fmt.Errorf("no presigned POST for a %d-byte photo", up.size))
		return
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for k, v := range ev.Upload.Fields {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", "photo.jpg")
	_, _ = fw.Write(photo)
	_ = mw.Close()
	if !timed(rep, "POST", "(MinIO) presigned POST", func() (int, error) {
		return c.raw("POST", ev.Upload.URL, form.Bytes(), mw.FormDataContentType())
	}) {
		return
	}
	var done struct {
		State        string `json:"state"`
		RejectReason string `json:"reject_reason"`
	}
	if !timed(rep, "POST", "/api/v1/evidence/:id/complete", func() (int, error) {
		return c.doAs("POST", "/api/v1/evidence/"+up.id+"/complete", tok, nil, "", &done)
	}) {
		return
	}
	up.verified = done.State == "verified"
	if !up.verified {
		rep.addOne("POST", "/api/v1/evidence/:id/complete", 0, 0, fmt.Errorf("photo %s %s: %s", up.id, done.State, done.RejectReason))
	}
}

// timed sends one request, counts it in the report under route, and
// reports whether it succeeded.
func timed(rep *report, method, route string, send func() (int, error)) bool {
	t0 := time.Now()
	st, err := send()
	rep.addOne(method, route, st, time.Since(t0), err)
	return err == nil && st/100 == 2
}

// jpegPhoto is a small photo, different for every k.
func jpegPhoto(k int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 96, 72))
	for y := range 72 {
		for x := range 96 {
			img.Set(x, y, color.RGBA{uint8(x + k), uint8(y * k), uint8(x ^ y ^ k), 255})
		}
	}
	var b bytes.Buffer
	_ = jpeg.Encode(&b, img, &jpeg.Options{Quality: 80})
	return b.Bytes()
}

// evidenceID is a phone's id for a new piece of evidence (a UUID).
func evidenceID() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rand.IntN(256))
	}
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
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
	taskMembers := map[string][]string{}
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
				taskMembers[t.ID] = append(taskMembers[t.ID], m.UserID)
			}
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	add(len(tasks) == *tasksN && dup == 0, "%d tasks stored for %d drawn enterprises, none twice (%d repeats)", len(tasks), *tasksN, dup)
	// Each inspector's inbox: one assignment alert per task of theirs.
	var mu sync.Mutex
	bad := 0
	eachInspector(len(w.inspectors), func(i int) {
		tok := w.inspectors[i]
		var inbox struct {
			Notifications []struct {
				Kind   string `json:"kind"`
				TaskID string `json:"task_id"`
			} `json:"notifications"`
		}
		if err := c.json("GET", "/api/v1/me/notifications?limit=100", tok, nil, &inbox); err != nil {
			mu.Lock()
			bad++
			mu.Unlock()
			return
		}
		seen := map[string]bool{}
		wrong := false
		for _, e := range inbox.Notifications {
			if e.Kind != "task.assigned" {
				continue
			}
			wrong = wrong || seen[e.TaskID]
			seen[e.TaskID] = true
		}
		if wrong || len(seen) != members[w.inspectorID[i]] {
			mu.Lock()
			bad++
			mu.Unlock()
		}
	})
	add(bad == 0, "every inspector has exactly one assignment alert per task of theirs (%d inboxes differ)", bad)
	out = append(out, w.checkSync(c, members, taskMembers)...)
	return append(out, w.checkUploads(c)...)
}

// checkSync: each phone, synced on from its cursor until nothing more
// comes, holds exactly the tasks of its inspector.
func (w *world) checkSync(c *client, members map[string]int, taskMembers map[string][]string) []check {
	want := map[string]map[string]bool{} // user id → task ids
	for task, users := range taskMembers {
		for _, u := range users {
			if want[u] == nil {
				want[u] = map[string]bool{}
			}
			want[u][task] = true
		}
	}
	var mu sync.Mutex
	bad, calls := 0, 0
	var first, failed string
	eachInspector(len(w.inspectors), func(i int) {
		tok := w.inspectors[i]
		p := &w.phones[i]
		for more := true; more; {
			path := "/api/v1/me/tasks"
			if p.cursor != "" {
				path += "?since=" + url.QueryEscape(p.cursor)
			}
			var page syncPage
			err := c.json("GET", path, tok, nil, &page)
			mu.Lock()
			calls++
			if err != nil {
				failed = err.Error()
			} else {
				p.take(&page, p.sent+1)
			}
			mu.Unlock()
			if err != nil {
				return
			}
			more = page.More
		}
		got, exp := p.tasks, want[w.inspectorID[i]]
		same := len(got) == len(exp) && len(exp) == members[w.inspectorID[i]]
		for id := range exp {
			same = same && got[id]
		}
		if !same {
			mu.Lock()
			bad++
			if first == "" {
				first = fmt.Sprintf("; e.g. inspector %d synced %d tasks, has %d", i, len(got), len(exp))
			}
			mu.Unlock()
		}
	})
	if failed != "" {
		return []check{{what: "syncing the phones after the load: " + failed}}
	}
	return []check{{ok: bad == 0, what: fmt.Sprintf("every phone synced (GET /api/v1/me/tasks from its cursor, %d last syncs) holds exactly its inspector's tasks (%d phones differ%s)", calls, bad, first)}}
}

// checkUploads: every photo accepted (complete answered verified) is
// stored exactly once on its task, verified, with the declared size and
// SHA-256 — and the object MinIO hands back for it hashes to that.
func (w *world) checkUploads(c *client) []check {
	w.mu.Lock()
	ups := append([]upload(nil), w.uploads...)
	w.mu.Unlock()
	declared := map[string]bool{}
	byTask := map[string][]upload{}
	accepted := 0
	for _, u := range ups {
		declared[u.id] = true
		byTask[u.taskID] = append(byTask[u.taskID], u)
		if u.verified {
			accepted++
		}
	}
	if len(ups) == 0 {
		return []check{{what: "no photo was uploaded (the uploaders had no synced task)"}}
	}
	tasks := make([]string, 0, len(byTask))
	for t := range byTask {
		tasks = append(tasks, t)
	}
	sort.Strings(tasks)
	problems := []string{}
	hashed := 0
	for _, t := range tasks {
		tok := w.inspectors[byTask[t][0].inspector]
		var list struct {
			Evidence []struct {
				ID     string `json:"id"`
				State  string `json:"state"`
				Size   int    `json:"size"`
				SHA256 string `json:"sha256"`
			} `json:"evidence"`
		}
		if err := c.json("GET", "/api/v1/tasks/"+t+"/evidence", tok, nil, &list); err != nil {
			problems = append(problems, err.Error())
			continue
		}
		count := map[string]int{}
		for _, e := range list.Evidence {
			count[e.ID]++
			if !declared[e.ID] {
				problems = append(problems, fmt.Sprintf("task %s has evidence %s nobody declared", t, e.ID))
			}
		}
		for _, u := range byTask[t] {
			if !u.verified {
				continue
			}
			var e *struct {
				ID     string `json:"id"`
				State  string `json:"state"`
				Size   int    `json:"size"`
				SHA256 string `json:"sha256"`
			}
			for k := range list.Evidence {
				if list.Evidence[k].ID == u.id {
					e = &list.Evidence[k]
				}
			}
			switch {
			case count[u.id] != 1:
				problems = append(problems, fmt.Sprintf("photo %s is stored %d times", u.id, count[u.id]))
				continue
			case e.State != "verified" || e.Size != u.size || e.SHA256 != u.sha256:
				problems = append(problems, fmt.Sprintf("photo %s is stored as %s, %d bytes, %s", u.id, e.State, e.Size, e.SHA256))
				continue
			}
			var dl struct {
				URL string `json:"url"`
			}
			if err := c.json("GET", "/api/v1/evidence/"+u.id+"/download", w.inspectors[u.inspector], nil, &dl); err != nil {
				problems = append(problems, err.Error())
				continue
			}
			resp, err := c.http.Get(dl.URL)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			h := sha256.New()
			_, err = io.Copy(h, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK || hex.EncodeToString(h.Sum(nil)) != u.sha256 {
				problems = append(problems, fmt.Sprintf("photo %s downloads as %d, another hash (%v)", u.id, resp.StatusCode, err))
				continue
			}
			hashed++
		}
	}
	what := fmt.Sprintf("%d photos declared on %d tasks, %d accepted (verified); every accepted one stored exactly once, verified, "+
		"with its size and SHA-256, and its object downloaded and hashed again (%d match)", len(ups), len(tasks), accepted, hashed)
	if len(problems) > 0 {
		what += fmt.Sprintf("; %d problems, e.g. %s", len(problems), problems[0])
	}
	return []check{{ok: len(problems) == 0 && hashed == accepted && accepted > 0, what: what}}
}

// eachInspector runs f for every inspector index, eight at a time.
func eachInspector(n int, f func(i int)) {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(i)
		}()
	}
	wg.Wait()
}
