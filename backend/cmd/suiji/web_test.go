package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/demo"
	"suiji/backend/uscc"
	"suiji/storage/storagetest"
)

// screenshots, when set (go test -run TestWebFrontEnds -args -screenshots
// DIR), is where the browser tests save the main screens as PNG files; the
// README's pictures come from there.
var screenshots = flag.String("screenshots", "", "directory for the browser tests' screenshots (empty: none)")

// webDir is mobile-api/web, seen from this package's directory.
const webDir = "../../../mobile-api/web"

// TestWebFrontEnds runs the browser tests (mobile-api/web/test/browser.mjs)
// in real Chromium against the real binary: `suiji seed --demo` and `suiji
// serve` on a database, buckets and Redis prefix of the test's own, on a
// loopback port. One Node process drives one browser through every
// scenario; the test fails with its output when any scenario fails.
//
// It needs Node, the npm packages of mobile-api/web and Debian's Chromium,
// which `make test` installs (deploy/local/web.sh browser); without them
// it fails, naming the command, like any missing service.
func TestWebFrontEnds(t *testing.T) {
	db := storagetest.Mongo(t)
	store := storagetest.Objects(t)
	redis := storagetest.Redis(t)
	node := browserTools(t)

	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	t.Setenv("SUIJI_HTTP_ADDR", fmt.Sprintf("127.0.0.1:%d", port))
	t.Setenv("SUIJI_MONGO_DATABASE", db.Name())
	t.Setenv("SUIJI_EVIDENCE_BUCKET", store.EvidenceBucket())
	t.Setenv("SUIJI_DOCUMENTS_BUCKET", store.DocumentsBucket())
	t.Setenv("SUIJI_REDIS_PREFIX", redis.Prefix())
	t.Setenv("SUIJI_LOG_LEVEL", "warn")
	t.Setenv("SUIJI_LOG_FORMAT", "text")
	// The first admin, whom the scenarios sign in as to manage accounts.
	const adminPassword = "browser-admin-2026"
	t.Setenv("SUIJI_ADMIN_USERNAME", "admin")
	t.Setenv("SUIJI_ADMIN_PASSWORD", adminPassword)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seedOut bytes.Buffer
	if err := run(ctx, []string{"seed", "--demo"}, &seedOut, &seedOut); err != nil {
		t.Fatalf("seed --demo: %v\n%s", err, seedOut.String())
	}
	var serverLog bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, &bytes.Buffer{}, &serverLog) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	waitReady(t, base+"/readyz", done, &serverLog)

	fixtures := t.TempDir()
	writeEnterpriseFixture(t, filepath.Join(fixtures, "enterprises.csv"))

	runCtx, stop := context.WithTimeout(ctx, 12*time.Minute)
	defer stop()
	cmd := exec.CommandContext(runCtx, node, "test/browser.mjs")
	cmd.Dir = webDir
	cmd.Env = append(os.Environ(),
		"SUIJI_WEB_BASE="+base,
		"SUIJI_WEB_PASSWORD="+demo.Password,
		"SUIJI_WEB_ADMIN_PASSWORD="+adminPassword,
		"SUIJI_WEB_FIXTURES="+fixtures,
		"SUIJI_WEB_SCREENSHOTS="+*screenshots,
		"SUIJI_WEB_RELEASE_PROXY="+releaseProxy(t, base),
	)
	out, err := cmd.CombinedOutput()
	t.Logf("browser tests:\n%s", out)
	if err != nil {
		t.Fatalf("browser tests failed (%v); server log:\n%s", err, serverLog.String())
	}
}

// browserTools returns node's path after checking that the browser tests
// can run: Node, playwright-core in node_modules, /usr/bin/chromium.
func browserTools(t *testing.T) string {
	t.Helper()
	const hint = "run deploy/local/web.sh browser (make test does)"
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("browser tests need Node.js: %v; %s", err, hint)
	}
	if _, err := os.Stat(filepath.Join(webDir, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("browser tests need mobile-api/web/node_modules: %v; %s", err, hint)
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatalf("browser tests need Debian's Chromium at /usr/bin/chromium: %v; %s", err, hint)
	}
	return node
}

func waitReady(t *testing.T, url string, done <-chan error, log *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\n%s", err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered 200\n%s", url, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeEnterpriseFixture writes the import file of the coordinator
// scenario: two good enterprises and, on line 3, one whose USCC has a
// wrong check character.
func writeEnterpriseFixture(t *testing.T, path string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 13))
	bad := []byte(uscc.Generate(rng))
	if bad[17] == '0' {
		bad[17] = '1'
	} else {
		bad[17] = '0'
	}
	rows := [][]string{
		{"统一社会信用代码", "企业名称", "所属乡镇", "行业", "地址", "重点监管类别", "信用风险标记", "经营状态"},
		{uscc.Generate(rng), "浏览器测试化工有限公司", "巴公镇", "化工", "巴公镇工业园1号", "危险化学品", "", "存续"},
		{string(bad), "校验位错误的企业", "高都镇", "制造业", "高都镇2号", "", "", "存续"},
		{uscc.Generate(rng), "浏览器测试机械厂", "金村镇", "制造业", "金村镇3号", "", "", "存续"},
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserVerifierAgreesOnVectors runs the portal's verifier
// (mobile-api/web/shared/verify/verify.js, in Node) over every test vector
// of backend/draw/testdata/vectors — the files the Go and Python verifiers
// check — and requires the manifest's verdict for each: ok, or the first
// mismatch at exactly the path named.
func TestBrowserVerifierAgreesOnVectors(t *testing.T) {
	runNodeTest(t, "test/vectors.mjs", "../../backend/draw/testdata/vectors/manifest.json")
}

// TestRefusalsReadInChinese runs mobile-api/web/test/refusal.mjs: the
// console and the phone app show an API refusal in their own Chinese
// words first (shared/refusal.js), and know a headline for every code.
func TestRefusalsReadInChinese(t *testing.T) {
	runNodeTest(t, append([]string{"test/refusal.mjs"}, backend.Codes...)...)
}

// TestAPIClientRepeatsBusyAnswers runs mobile-api/web/test/api.mjs: the
// shared client repeats a form's call answered 409 with Retry-After (a
// lease held elsewhere, such as another plan of the year being drawn)
// with its Idempotency-Key, a few times, before showing it.
func TestAPIClientRepeatsBusyAnswers(t *testing.T) {
	runNodeTest(t, "test/api.mjs")
}

// runNodeTest runs one of the front-ends' Node test scripts (in
// mobile-api/web) with args; it must end well and report "N passed, 0
// failed".
func runNodeTest(t *testing.T, args ...string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("%s needs Node.js: %v; run deploy/local/web.sh browser (make test does)", args[0], err)
	}
	cmd := exec.Command(node, args...)
	cmd.Dir = webDir
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("%s: %v", args[0], err)
	}
	if !bytes.Contains(out, []byte(" passed, 0 failed")) {
		t.Fatalf("%s reported nothing", args[0])
	}
}
