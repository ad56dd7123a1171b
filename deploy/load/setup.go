package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"sync"
	"time"
)

// client talks to suiji's API.
type client struct {
	base string
	http *http.Client

	mu      sync.Mutex
	refresh map[string]string // access token → its refresh token
}

// do sends one request; a non-2xx answer is an error naming it.
func (c *client) do(method, path, token string, body []byte, contentType string, out any) (int, error) {
	return c.doKey(method, path, token, "", body, contentType, out)
}

// doKey is do with an Idempotency-Key (none when key is empty).
func (c *client) doKey(method, path, token, key string, body []byte, contentType string, out any) (int, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" && method != "GET" {
		req.Header.Set("Idempotency-Key", key)
	}
	if body != nil {
		if contentType == "" {
			contentType = "application/json"
		}
		req.Header.Set("Content-Type", contentType)
	}
	return c.send(req, out)
}

// doAs is do from the address of the token's user (as target sets it for
// vegeta's requests), so that each phone is a client of its own.
func (c *client) doAs(method, path, token string, body []byte, contentType string, out any) (int, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Forwarded-For", addressOf(token))
	if body != nil {
		if contentType == "" {
			contentType = "application/json"
		}
		req.Header.Set("Content-Type", contentType)
	}
	return c.send(req, out)
}

// raw sends a request to a URL outside suiji (a presigned MinIO URL).
func (c *client) raw(method, u string, body []byte, contentType string) (int, error) {
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return c.send(req, nil)
}

// send sends req; a non-2xx answer is an error naming it.
func (c *client) send(req *http.Request, out any) (int, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %.300s", req.Method, req.URL.Path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
		}
	}
	return resp.StatusCode, nil
}

func (c *client) json(method, path, token string, body any, out any) error {
	_, err := c.jsonStatus(method, path, token, body, out)
	return err
}

// jsonStatus is json with the status. Set-up requests are retried, as a
// phone would retry them: a 503 (FerretDB on a busy machine can take more
// than the server's 30 s request budget) or a lost connection is repeated
// up to 8 times, 2 s apart, with the same Idempotency-Key.
func (c *client) jsonStatus(method, path, token string, body any, out any) (int, error) {
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	key := fmt.Sprintf("load-%d", rand.Int64())
	for attempt := 1; ; attempt++ {
		st, err := c.doKey(method, path, token, key, raw, "", out)
		if (st != http.StatusServiceUnavailable && st != 0) || attempt == 8 {
			return st, err
		}
		time.Sleep(2 * time.Second)
	}
}

// session is what a sign-in or a refresh answers.
type session struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func (c *client) login(user, pass string) (string, error) {
	var s session
	_, err := c.jsonStatus("POST", "/api/v1/auth/login", "", map[string]string{"username": user, "password": pass}, &s)
	if err == nil {
		c.mu.Lock()
		c.refresh[s.AccessToken] = s.RefreshToken
		c.mu.Unlock()
	}
	return s.AccessToken, err
}

// renew exchanges each token's refresh token for a new pair (access tokens
// live 15 minutes; the set-up of 300 accounts takes minutes on FerretDB).
func (c *client) renew(tokens []string) error {
	for i, tok := range tokens {
		c.mu.Lock()
		rt := c.refresh[tok]
		c.mu.Unlock()
		var s session
		if err := c.json("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": rt}, &s); err != nil {
			return err
		}
		c.mu.Lock()
		c.refresh[s.AccessToken] = s.RefreshToken
		c.mu.Unlock()
		tokens[i] = s.AccessToken
	}
	return nil
}

// renewAll renews every token of the world.
func (w *world) renewAll(c *client) error {
	one := []string{w.coordinator, w.leader, w.admin}
	if err := c.renew(one); err != nil {
		return err
	}
	w.coordinator, w.leader, w.admin = one[0], one[1], one[2]
	if err := c.renew(w.inspectors); err != nil {
		return err
	}
	return c.renew(w.staff)
}

// world is the county the load runs in.
type world struct {
	admin, coordinator, leader string
	deptID, itemID, planID     string
	drawID                     string
	enterprises                int
	inspectors                 []string // access tokens
	inspectorID                []string // user ids
	staff                      []string // access tokens
	phones                     []phone  // each inspector's phone, by index

	mu       sync.Mutex
	next     int
	nextSync int
	uploads  []upload // declared through the API, and how each ended
}

// phone is what an inspector's phone knows from its syncs.
type phone struct {
	cursor string          // the cursor of the last sync ("" before the first)
	sent   int             // the number of the sync request that answered cursor
	tasks  map[string]bool // the tasks the syncs delivered (less tombstones)
}

// upload is one photo an uploading inspector sent.
type upload struct {
	inspector int
	taskID    string
	id        string // the evidence id (the phone's)
	sha256    string
	size      int
	verified  bool // complete answered verified: accepted
}

// setup builds the county through the API, as an administrator would.
func setup(c *client) (*world, error) {
	w := &world{}
	var err error
	if w.admin, err = c.login("admin", *adminPass); err != nil {
		return nil, err
	}
	var dept struct {
		ID string `json:"id"`
	}
	if err := c.json("POST", "/api/v1/departments", w.admin, map[string]string{"name": "负载测试执法大队", "kind": "brigade"}, &dept); err != nil {
		return nil, err
	}
	w.deptID = dept.ID
	mkUser := func(name, role string) (string, error) {
		var u struct {
			ID string `json:"id"`
		}
		st, err := c.jsonStatus("POST", "/api/v1/users", w.admin, map[string]any{"username": name, "password": password,
			"display_name": name, "roles": []string{role}, "department_id": w.deptID}, &u)
		if st == http.StatusConflict {
			// An attempt that timed out had created it: find it.
			tok, err := c.login(name, password)
			if err != nil {
				return "", err
			}
			err = c.json("GET", "/api/v1/me", tok, nil, &u)
			return u.ID, err
		}
		return u.ID, err
	}
	for _, r := range []string{"coordinator", "leader"} {
		if _, err := mkUser("load-"+r, r); err != nil {
			return nil, err
		}
	}
	if w.coordinator, err = c.login("load-coordinator", password); err != nil {
		return nil, err
	}
	if w.leader, err = c.login("load-leader", password); err != nil {
		return nil, err
	}
	var item struct {
		ID string `json:"id"`
	}
	if err := c.json("POST", "/api/v1/items", w.coordinator, map[string]any{"year": 2026, "code": "LOAD-01", "name": "安全生产责任制落实情况",
		"legal_basis": map[string]string{"law": "《中华人民共和国安全生产法》", "article": "第二十一条"}, "department_id": w.deptID,
		"content": "检查安全生产责任制建立和落实情况", "method": "on_site", "qualification": "general"}, &item); err != nil {
		return nil, err
	}
	w.itemID = item.ID
	if err := c.json("POST", "/api/v1/items/publish", w.coordinator, map[string]int{"year": 2026}, nil); err != nil {
		return nil, err
	}
	// Enterprises: twice the tasks, imported in one file.
	w.enterprises = 2 * *tasksN
	if err := importEnterprises(c, w.coordinator, w.enterprises); err != nil {
		return nil, err
	}
	if err := w.addInspectors(c, mkUser); err != nil {
		return nil, err
	}
	for i := range *staffN {
		name := fmt.Sprintf("load-staff-%02d", i)
		if _, err := mkUser(name, "staff"); err != nil {
			return nil, err
		}
		tok, err := c.login(name, password)
		if err != nil {
			return nil, err
		}
		w.staff = append(w.staff, tok)
	}
	// The plan, approved and committed; it is drawn in the middle of the load.
	var plan struct {
		ID string `json:"id"`
	}
	if err := c.json("POST", "/api/v1/plans", w.coordinator, map[string]any{"year": 2026, "title": "负载测试抽查", "kind": "undirected",
		"item_ids": []string{w.itemID}, "lead_department_id": w.deptID, "sample": map[string]int{"count": *tasksN}, "group_size": 2,
		"window": map[string]string{"start": "2026-03-01", "end": "2026-12-31"}}, &plan); err != nil {
		return nil, err
	}
	w.planID = plan.ID
	if err := c.json("POST", "/api/v1/plans/"+w.planID+"/approve", w.leader, nil, nil); err != nil {
		return nil, err
	}
	if err := c.json("POST", "/api/v1/plans/"+w.planID+"/commit", w.coordinator, nil, nil); err != nil {
		return nil, err
	}
	if err := w.checkRoutes(c); err != nil {
		return nil, err
	}
	w.phones = make([]phone, len(w.inspectors))
	for i := range w.phones {
		w.phones[i].tasks = map[string]bool{}
	}
	return w, nil
}

// addInspectors makes the inspectors: an account, a roster entry and a
// sign-in each, four at a time.
func (w *world) addInspectors(c *client, mkUser func(name, role string) (string, error)) error {
	w.inspectors = make([]string, *inspectors)
	w.inspectorID = make([]string, *inspectors)
	errs := make(chan error, *inspectors)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range *inspectors {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			name := fmt.Sprintf("load-insp-%03d", i)
			id, err := mkUser(name, "inspector")
			if err == nil {
				var st int
				st, err = c.jsonStatus("POST", "/api/v1/inspectors", w.coordinator, map[string]any{"user_id": id, "name": fmt.Sprintf("检查员%03d", i),
					"badge_no": fmt.Sprintf("LD-%04d", i), "certificate_expires": "2029-12-31", "department_id": w.deptID,
					"qualifications": []string{"general"}}, nil)
				if st == http.StatusConflict { // created by an attempt that timed out
					err = nil
				}
			}
			var tok string
			if err == nil {
				tok, err = c.login(name, password)
			}
			if err != nil {
				errs <- err
				return
			}
			w.mu.Lock()
			w.inspectors[i], w.inspectorID[i] = tok, id
			w.mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs // nil when the channel is empty
}

// checkRoutes makes sure the server serves what the phones use: the
// delta sync and the evidence uploads (its OpenAPI document says).
func (w *world) checkRoutes(c *client) error {
	var spec struct {
		Paths map[string]any `json:"paths"`
	}
	if err := c.json("GET", "/openapi.json", "", nil, &spec); err != nil {
		return err
	}
	for _, p := range []string{"/api/v1/me/tasks", "/api/v1/tasks/{id}/evidence", "/api/v1/evidence/{id}/complete", "/api/v1/evidence/{id}/download"} {
		if spec.Paths[p] == nil {
			return fmt.Errorf("the server does not serve %s", p)
		}
	}
	return nil
}

func importEnterprises(c *client, token string, n int) error {
	rng := rand.New(rand.NewPCG(2026, 11))
	var sheet bytes.Buffer
	cw := csv.NewWriter(&sheet)
	_ = cw.Write([]string{"统一社会信用代码", "企业名称", "所属乡镇", "行业", "地址", "重点监管类别", "信用风险标记", "经营状态"})
	towns := []string{"巴公镇", "高都镇", "金村镇", "南村镇", "北义城镇", "大东沟镇", "川底镇"}
	seen := map[string]bool{}
	for i := 0; i < n; {
		code := usccCode(rng)
		if seen[code] {
			continue
		}
		seen[code] = true
		_ = cw.Write([]string{code, fmt.Sprintf("负载测试企业%05d", i), towns[i%len(towns)], "制造业", fmt.Sprintf("工业园%d号", i), "", "", "存续"})
		i++
	}
	cw.Flush()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, _ := mw.CreateFormFile("file", "enterprises.csv")
	_, _ = part.Write(sheet.Bytes())
	_ = mw.Close()
	_, err := c.do("POST", "/api/v1/enterprises/import", token, body.Bytes(), mw.FormDataContentType(), nil)
	return err
}
