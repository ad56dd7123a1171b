package storagetest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// MinIONode is one node of a distributed MinIO a test started.
type MinIONode struct {
	*Process
	Endpoint string // host:port of its S3 API
	Drive    string // its drive folder
}

// MinIOCluster starts a distributed, erasure-coded MinIO of n nodes (n ≥
// 4), one drive folder each, on loopback ports, with the configured
// access and secret keys, and waits until it takes writes. It uses the
// pinned MinIO binary the local scripts build (.tools/bin/minio, found
// from the module root); a missing binary fails the test.
func MinIOCluster(t testing.TB, n int) []*MinIONode {
	t.Helper()
	skipShort(t, "minio")
	cfg := Config(t)
	bin := toolsBinary(t, "minio")
	dir := t.TempDir()
	nodes := make([]*MinIONode, n)
	var endpoints []string
	for i := range nodes {
		port := FreePort(t, 0)
		drive := filepath.Join(dir, fmt.Sprintf("drive-%d", i+1))
		if err := os.MkdirAll(drive, 0o755); err != nil {
			t.Fatal(err)
		}
		nodes[i] = &MinIONode{Endpoint: Addr(port), Drive: drive}
		endpoints = append(endpoints, "http://"+Addr(port)+drive)
	}
	for i, node := range nodes {
		// MINIO_CI_CD: the drives share the root disk; _MINIO_SERVER_LOCAL:
		// inside a container MinIO must be told which loopback endpoint
		// is its own (see deploy/local/stack.sh).
		env := []string{
			"MINIO_ROOT_USER=" + cfg.MinIOAccessKey, "MINIO_ROOT_PASSWORD=" + cfg.MinIOSecretKey,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=on", "_MINIO_SERVER_LOCAL=" + node.Endpoint,
		}
		args := append([]string{"server"}, endpoints...)
		args = append(args, "--address", node.Endpoint, "--console-address", Addr(FreePort(t, 0)))
		nodes[i].Process = StartProcess(t, dir, bin, env, args...)
	}
	// Every node, not only the first: a node that answers healthy while
	// another is still starting has answered a first upload 503 (CI).
	for _, node := range nodes {
		node.WaitFor("cluster health", 90*time.Second, func(ctx context.Context) error {
			return MinIOHealthy(ctx, node.Endpoint)
		})
	}
	return nodes
}

// MinIOHealthy returns nil when the MinIO at endpoint reports a deployment
// that can take writes (/minio/health/cluster answers 200).
func MinIOHealthy(ctx context.Context, endpoint string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+endpoint+"/minio/health/cluster", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cluster health %d", resp.StatusCode)
	}
	return nil
}

// toolsBinary returns .tools/bin/NAME of the module the test runs in.
func toolsBinary(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			bin := filepath.Join(dir, ".tools", "bin", name)
			if _, err := os.Stat(bin); err != nil {
				t.Fatalf("storagetest: %s not built: run make test (or deploy/local/tools.sh %s)", bin, name)
			}
			return bin
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("storagetest: no go.mod above the test's folder")
		}
		dir = parent
	}
}

// FerretDB starts a FerretDB of the test's own (the pinned suiji-ferretdb
// the local scripts build, SQLite files in a folder of the test's) on a
// free loopback port and waits until it accepts connections. It returns the
// process (to kill and start again on the same data) and its mongodb:// URI.
func FerretDB(t testing.TB) (*Process, string) {
	t.Helper()
	skipShort(t, "suiji-ferretdb")
	bin := toolsBinary(t, "suiji-ferretdb")
	dir := t.TempDir()
	addr := Addr(FreePort(t, 0))
	p := StartProcess(t, dir, bin, nil, "-listen", addr, "-dir", dir)
	p.WaitFor("connections", 30*time.Second, func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err
	})
	return p, "mongodb://" + addr + "/"
}
