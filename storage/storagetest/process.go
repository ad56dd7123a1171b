package storagetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a server a test started itself (a redis-server, a MinIO node,
// a suiji instance) on loopback, stopped when the test ends. Fault tests
// kill it with SIGKILL and start it again with the same arguments.
type Process struct {
	t    testing.TB
	Name string
	Args []string
	Env  []string // added to the test's environment
	Log  string   // file collecting the process's output

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// StartProcess starts name with args (and env added to the test's own),
// output to a log file in dir, and stops it (SIGKILL) when the test ends.
// A missing program fails the test, naming it.
func StartProcess(t testing.TB, dir, name string, env []string, args ...string) *Process {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("storagetest: %s is not installed (make test installs it): %v", name, err)
	}
	p := &Process{t: t, Name: path, Args: args, Env: env, Log: filepath.Join(dir, filepath.Base(name)+"-"+randomHex(3)+".log")}
	p.Start()
	t.Cleanup(p.Kill)
	return p
}

// Start starts the process (again, after Kill).
func (p *Process) Start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		p.t.Fatalf("storagetest: %s is already running", p.Name)
	}
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatalf("storagetest: %v", err)
	}
	cmd := exec.Command(p.Name, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a kill reaches whatever it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		p.t.Fatalf("storagetest: starting %s: %v", p.Name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
}

// Kill stops the process with SIGKILL, as a crash would, and waits for it.
// Killing a stopped process does nothing.
func (p *Process) Kill() {
	p.signal(syscall.SIGKILL)
}

// Stop asks the process to stop (SIGTERM) and waits up to 15 s, then kills it.
func (p *Process) Stop() {
	p.signal(syscall.SIGTERM)
}

func (p *Process) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	p.cmd, p.done = nil, nil
}

// Running reports whether the process has been started and not yet exited.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Tail returns the end of the process's log, for failure messages.
func (p *Process) Tail() string {
	b, _ := os.ReadFile(p.Log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// WaitFor polls check every 100 ms until it returns nil or timeout passes,
// then fails the test with what, the last error and the process's log.
func (p *Process) WaitFor(what string, timeout time.Duration, check func(ctx context.Context) error) {
	p.t.Helper()
	if err := Eventually(p.t.Context(), timeout, check); err != nil {
		p.t.Fatalf("storagetest: %s: %s not ready after %s: %v\n--- %s ---\n%s", p.Name, what, timeout, err, p.Log, p.Tail())
	}
}

// Eventually polls check every 100 ms until it returns nil or timeout
// passes, and returns check's last error then.
func Eventually(ctx context.Context, timeout time.Duration, check func(ctx context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := check(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// FreePort returns a loopback port nobody listens on now; with alsoPlus,
// a port p such that p+alsoPlus is free too (Redis Cluster's bus port is
// the data port + 10000).
func FreePort(t testing.TB, alsoPlus int) int {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("storagetest: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if alsoPlus == 0 {
			return port
		}
		if port+alsoPlus > 65535 {
			continue
		}
		if ln2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+alsoPlus)); err == nil {
			_ = ln2.Close()
			return port
		}
	}
	t.Fatalf("storagetest: no free port pair found")
	return 0
}

// Addr is 127.0.0.1:port.
func Addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
