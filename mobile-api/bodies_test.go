package mobileapi

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
)

// residentMiB reads the process's resident memory from /proc/self/status
// after a full collection, so that garbage does not count.
func residentMiB(t *testing.T) float64 {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatalf("reading VmRSS: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatalf("VmRSS line %q: %v", line, err)
			}
			return float64(kb) / 1024
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// TestDeclaredBodiesDoNotHoldMemory: 64 connections each declare a 16 MiB
// body and send one byte of it, to a route anyone may call and to an
// import route, then wait. The real server (a real listener, the real
// services) must not set memory aside for what was only promised: its
// resident memory grows by less than 128 MiB.
func TestDeclaredBodiesDoNotHoldMemory(t *testing.T) {
	env := newSerialAPIEnv(t, Config{}) // it measures the process's memory
	base := serveOnLoopback(t, env.srv)
	addr := strings.TrimPrefix(base, "http://")
	before := residentMiB(t)

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 64 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		path := "/api/v1/auth/login"
		if i%2 == 1 {
			path = "/api/v1/enterprises/import"
		}
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: suiji\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", path, 16<<20)
	}
	// Give the server time to read every header and do whatever it does
	// with the promise; then measure while the connections are still open.
	time.Sleep(time.Second)
	after := residentMiB(t)
	t.Logf("resident memory %.0f MiB before, %.0f MiB with 64 connections open", before, after)
	if grew := after - before; grew >= 128 {
		t.Fatalf("resident memory grew by %.0f MiB, want < 128", grew)
	}
	// Each connection got its answer at once, without waiting for the body:
	// 413, since 16 MiB is over the body limit, and an upload without an
	// access token gets no more than that.
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.Contains(line, " 413 ") {
			t.Errorf("connection %d: first line %q, %v; want a 413", i, line, err)
		}
	}
}

// TestUploadsTakeLargeBodiesOnlyWithAToken: the import routes take up to
// UploadLimit from a caller with a valid access token; every other route,
// and an import without a token, takes BodyLimit.
func TestUploadsTakeLargeBodiesOnlyWithAToken(t *testing.T) {
	env := newAPIEnv(t, Config{BodyLimit: 4 << 10, UploadLimit: 64 << 10})
	staff := env.login(t, "staff").AccessToken
	base := serveOnLoopback(t, env.srv)
	big := bytes.Repeat([]byte("x"), 32<<10)
	post := func(path, token string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(big))
		req.Header.Set("Content-Type", "text/csv")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 400 {
			decodeError(t, body)
		}
		return resp.StatusCode
	}
	// The import reads the body and finds no multipart file in it: past the
	// body limit, it answers 400.
	if status := post("/api/v1/enterprises/import", staff); status != 400 {
		t.Errorf("32 KiB import with a token: %d, want 400 (read, then refused as not multipart)", status)
	}
	if status := post("/api/v1/enterprises/import", ""); status != 413 {
		t.Errorf("32 KiB import without a token: %d, want 413", status)
	}
	if status := post("/api/v1/enterprises/import", "forged.token.here"); status != 413 {
		t.Errorf("32 KiB import with a forged token: %d, want 413", status)
	}
	// Nor does a signed-in user who may not import, or a revoked session.
	if status := post("/api/v1/enterprises/import", env.login(t, "inspector").AccessToken); status != 413 {
		t.Errorf("32 KiB import with an inspector's token: %d, want 413", status)
	}
	revoked := env.login(t, "staff").AccessToken
	scenario{token: revoked, method: "POST", path: "/api/v1/auth/logout", wantStatus: 204}.run(t, env)
	if status := post("/api/v1/enterprises/import", revoked); status != 413 {
		t.Errorf("32 KiB import with a signed-out session's token: %d, want 413", status)
	}
	if status := post("/api/v1/enterprises", staff); status != 413 {
		t.Errorf("32 KiB body to an ordinary route: %d, want 413", status)
	}
}

// TestConnectionsPerAddressAreCapped: one address holds at most
// MaxConnsPerIP connections; the next is answered 429 and closed, and a
// slot frees when a connection closes. Connections from a trusted proxy are
// not counted.
func TestConnectionsPerAddressAreCapped(t *testing.T) {
	s := newTestServer(t, Config{MaxConnsPerIP: 3})
	addr := strings.TrimPrefix(serveOnLoopback(t, s), "http://")
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	healthy := func(c net.Conn) string {
		t.Helper()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: suiji\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, body)
	}
	for i := range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
		if got := healthy(c); !strings.HasPrefix(got, "200") {
			t.Fatalf("connection %d: %s", i, got)
		}
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	got := healthy(extra)
	extra.Close()
	if !strings.HasPrefix(got, "429") || !strings.Contains(got, `"code":"ERATELIMIT"`) {
		t.Fatalf("fourth connection: %s, want 429 in the JSON error shape", got)
	}
	open[0].Close()
	open = open[1:]
	time.Sleep(100 * time.Millisecond) // the server notices the close
	again, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	open = append(open, again)
	if got := healthy(again); !strings.HasPrefix(got, "200") {
		t.Fatalf("after one closed: %s, want 200", got)
	}

	// Behind a trusted proxy every client shares the proxy's address: no cap.
	proxied := newTestServer(t, Config{MaxConnsPerIP: 1, TrustedProxies: []string{"127.0.0.1"}})
	paddr := strings.TrimPrefix(serveOnLoopback(t, proxied), "http://")
	for i := range 3 {
		c, err := net.Dial("tcp", paddr)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
		if got := healthy(c); !strings.HasPrefix(got, "200") {
			t.Fatalf("proxied connection %d: %s", i, got)
		}
	}
}

// TestDeadlineStopsSlowWork: the work of a request ends at its deadline and
// the client is told so (503), rather than the handler running on.
func TestDeadlineStopsSlowWork(t *testing.T) {
	s := newTestServer(t, Config{})
	s.App().Get("/test/slow", deadline(100*time.Millisecond), func(c *fiber.Ctx) error {
		select {
		case <-c.UserContext().Done():
			return backend.Wrap(c.UserContext().Err(), backend.EUNAVAILABLE, "Redis is unavailable")
		case <-time.After(5 * time.Second):
			return c.SendString("finished")
		}
	})
	start := time.Now()
	resp, body := do(t, s, httptest.NewRequest("GET", "/test/slow", nil))
	if resp.StatusCode != 503 || !strings.Contains(string(body), "took longer than 100ms") {
		t.Fatalf("status %d %s, want 503 naming the deadline", resp.StatusCode, body)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the slow request took %s", took)
	}
}

// TestRouteKinds: the routes that need other limits get them — every
// import takes uploads, every export and the event stream run longer — and
// nothing else does.
func TestRouteKinds(t *testing.T) {
	s := newTestServer(t, Config{})
	kinds := map[routeKind][]string{}
	for _, r := range s.apiRoutes() {
		k := kindOf(r.method, r.path)
		kinds[k] = append(kinds[k], r.method+" "+r.path)
		if strings.Contains(r.path, "import") && k != upload {
			t.Errorf("%s %s imports but is not an upload", r.method, r.path)
		}
	}
	if len(kinds[upload]) < 3 || len(kinds[long]) < 3 || len(kinds[stream]) != 1 {
		t.Errorf("uploads %v, long %v, streams %v", kinds[upload], kinds[long], kinds[stream])
	}
}

// TestShutdownWaitsForHandlers: a handler still running when the shutdown
// timeout ends keeps Serve from returning (and the binary from closing the
// stores under it) until it is done.
func TestShutdownWaitsForHandlers(t *testing.T) {
	s := newTestServer(t, Config{})
	started := make(chan struct{})
	var finished atomic.Bool
	s.App().Get("/test/slow", func(c *fiber.Ctx) error {
		close(started)
		time.Sleep(800 * time.Millisecond)
		finished.Store(true)
		return c.SendString("done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, 100*time.Millisecond) }()
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/test/slow")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	cancel()
	<-served
	if !finished.Load() {
		t.Fatal("Serve returned while a handler was still running")
	}
}

// peakResident samples the process's resident memory every few
// milliseconds until stop is called, and returns the highest sample.
func peakResident(t *testing.T) (stop func() float64) {
	t.Helper()
	done := make(chan struct{})
	peak := make(chan float64, 1)
	go func() {
		highest := 0.0
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if raw, err := os.ReadFile("/proc/self/status"); err == nil {
				for _, line := range strings.Split(string(raw), "\n") {
					if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
						kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
						highest = max(highest, float64(kb)/1024)
					}
				}
			}
			select {
			case <-done:
				peak <- highest
				return
			case <-tick.C:
			}
		}
	}()
	return func() float64 {
		close(done)
		return <-peak
	}
}

// sharedStringsBomb is an XLSX of about 125 KB whose shared strings table
// expands to 51 MB: three million one-letter entries.
func sharedStringsBomb(t *testing.T) []byte {
	t.Helper()
	parts := []struct{ name, body string }{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{"xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="企业名录" sheetId="1" r:id="rId1"/></sheets></workbook>`},
		{"xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`},
		{"xl/worksheets/sheet1.xml", `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>`},
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestCompression) })
	for _, p := range parts {
		w, err := zw.Create(p.name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(p.body))
	}
	w, err := zw.Create("xl/sharedStrings.xml")
	if err != nil {
		t.Fatal(err)
	}
	const n = 3_000_000
	fmt.Fprintf(w, `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">`, n, n)
	_, _ = w.Write(bytes.Repeat([]byte(`<si><t>a</t></si>`), n))
	_, _ = w.Write([]byte(`</sst>`))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSharedStringsBombIsRefused: a signed-in clerk uploads the 125 KB
// shared-strings bomb to the real import route. It is refused (413) in
// under two seconds, and the server's resident memory never grows by
// 128 MiB while it is handled.
func TestSharedStringsBombIsRefused(t *testing.T) {
	env := newAPIEnv(t, Config{})
	token := env.login(t, "staff").AccessToken
	bomb := sharedStringsBomb(t)
	t.Logf("the bomb is %d KB", len(bomb)>>10)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "企业名录.xlsx")
	_, _ = fw.Write(bomb)
	_ = mw.Close()
	req := httptest.NewRequest("POST", "/api/v1/enterprises/import", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)

	before := residentMiB(t)
	stop := peakResident(t)
	start := time.Now()
	resp, respBody := do(t, env.srv, req)
	took := time.Since(start)
	peak := stop()
	t.Logf("refused in %s; resident memory %.0f MiB before, peak %.0f MiB", took, before, peak)
	if resp.StatusCode != 413 {
		t.Fatalf("status %d %s, want 413", resp.StatusCode, respBody)
	}
	if e := decodeError(t, respBody); e.Code != backend.ETOOLARGE || !strings.Contains(e.Message, "sharedStrings") {
		t.Errorf("error %+v, want ETOOLARGE naming the shared strings", e)
	}
	if took > 2*time.Second {
		t.Errorf("refusing the bomb took %s, want under 2 s", took)
	}
	if grew := peak - before; grew >= 128 {
		t.Errorf("resident memory grew by %.0f MiB while refusing the bomb, want < 128", grew)
	}
}

// TestOneImportAtATime: while an import runs, a second waits briefly for
// it and is then asked to come back (429 with Retry-After) instead of
// holding a second spreadsheet in memory; after the first, imports run
// again.
func TestOneImportAtATime(t *testing.T) {
	s := newTestServer(t, Config{})
	started, release := make(chan struct{}), make(chan struct{})
	var runs atomic.Int32
	s.App().Post("/test/import", s.oneImport, func(c *fiber.Ctx) error {
		if runs.Add(1) == 1 {
			close(started)
			<-release
		}
		return c.SendString("imported")
	})
	first := make(chan int, 1)
	go func() {
		resp, err := s.App().Test(httptest.NewRequest("POST", "/test/import", nil), -1)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	<-started
	resp, body := do(t, s, httptest.NewRequest("POST", "/test/import", nil))
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second import meanwhile: %d %s (Retry-After %q), want 429 with Retry-After", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	if e := decodeError(t, body); e.Code != backend.ERATELIMIT || !strings.Contains(e.Message, "another import") {
		t.Errorf("error %+v", e)
	}
	close(release)
	if status := <-first; status != 200 {
		t.Fatalf("first import: %d", status)
	}
	if resp, _ := do(t, s, httptest.NewRequest("POST", "/test/import", nil)); resp.StatusCode != 200 {
		t.Errorf("an import after the first: %d, want 200", resp.StatusCode)
	}
}
