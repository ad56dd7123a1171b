package mobileapi

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"suiji/backend"
	"suiji/storage/cache"
)

// TestAddressBucket: an IPv6 address counts as its /64, an IPv4 address
// (also written as IPv4-mapped IPv6) as itself.
func TestAddressBucket(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":                 "192.0.2.7",
		"::ffff:192.0.2.7":          "192.0.2.7",
		"2001:db8:1:2::1":           "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff::9": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":           "2001:db8:1:3::/64",
		"fe80::1%eth0":              "fe80::/64",
		"::1":                       "::/64",
		"not an address":            "not an address",
	} {
		if got := backend.AddressBucket(in); got != want {
			t.Errorf("backend.AddressBucket(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPublicLimitCountsAnIPv6SlashSixtyFourOnce: two addresses of one /64
// share one budget of the public request limit; another /64 has its own.
// IPv4 is counted per address, IPv4-mapped IPv6 as the IPv4 address.
func TestPublicLimitCountsAnIPv6SlashSixtyFourOnce(t *testing.T) {
	env := newAPIEnv(t, Config{})
	svc := env.svc
	svc.PublicLimit = cache.NewRequestLimiter(env.cache, "public-ipv6", 2, time.Minute)
	// The test is the trusted proxy, so X-Forwarded-For names the client.
	s := New(Config{BodyLimit: 1 << 20, TrustedProxies: []string{"0.0.0.0"}}, slog.New(slog.DiscardHandler), nil, svc)
	for i, step := range []struct {
		from string
		want int
	}{
		{"2001:db8:1:2::1", 200},
		{"2001:db8:1:2:ffff:ffff:ffff:9", 200},
		{"2001:db8:1:2::3", 429}, // the /64's third request
		{"2001:db8:1:3::1", 200}, // another /64
		{"192.0.2.1", 200},
		{"192.0.2.2", 200},
		{"::ffff:192.0.2.1", 200}, // 192.0.2.1's second
		{"192.0.2.1", 429},
	} {
		status, _, body := get(t, s, "/public/v1/plans", map[string]string{"X-Forwarded-For": step.from})
		if status != step.want {
			t.Errorf("request %d from %s: %d %s, want %d", i+1, step.from, status, body, step.want)
		}
	}
}

// TestConnectionCapCountsAnIPv6SlashSixtyFourOnce: the per-address cap on
// open connections counts a /64 as one address: a second connection from
// the same /64 is refused (429) while one from another /64 is accepted.
func TestConnectionCapCountsAnIPv6SlashSixtyFourOnce(t *testing.T) {
	s := newTestServer(t, Config{MaxConnsPerIP: 1})
	ln := &fakeListener{conns: make(chan net.Conn, 8)}
	limited := s.limitConns(ln)
	dial := func(ip string) (client net.Conn) {
		server, client := net.Pipe()
		ln.conns <- addrConn{Conn: server, remote: &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}}
		return client
	}
	accept := func() net.Conn {
		t.Helper()
		done := make(chan net.Conn, 1)
		go func() {
			c, err := limited.Accept()
			if err != nil {
				t.Error(err)
			}
			done <- c
		}()
		select {
		case c := <-done:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("Accept did not return")
			return nil
		}
	}
	remote := func(c net.Conn) string {
		if c == nil {
			return "<nil>"
		}
		return c.RemoteAddr().(*net.TCPAddr).IP.String()
	}

	first := dial("2001:db8:1:2::1")
	defer first.Close()
	c1 := accept()
	if got := remote(c1); got != "2001:db8:1:2::1" {
		t.Fatalf("first connection from %s", got)
	}
	same := dial("2001:db8:1:2::2") // same /64: over the cap
	other := dial("2001:db8:1:3::1")
	defer other.Close()
	if got := remote(accept()); got != "2001:db8:1:3::1" {
		t.Fatalf("accepted the connection from %s, want the other /64's (2001:db8:1:3::1)", got)
	}
	_ = same.SetReadDeadline(time.Now().Add(5 * time.Second))
	answer, _ := io.ReadAll(same)
	if !strings.HasPrefix(string(answer), "HTTP/1.1 429") || !strings.Contains(string(answer), `"code":"ERATELIMIT"`) {
		t.Errorf("the second connection from the /64 got %q, want 429 in the error shape", answer)
	}

	// Once the first closes, the /64 may connect again, from any address.
	c1.Close()
	again := dial("2001:db8:1:2::9")
	defer again.Close()
	if got := remote(accept()); got != "2001:db8:1:2::9" {
		t.Errorf("after the first closed, accepted %s, want 2001:db8:1:2::9", got)
	}
}

// fakeListener hands out the connections put in conns.
type fakeListener struct{ conns chan net.Conn }

func (l *fakeListener) Accept() (net.Conn, error) {
	c, ok := <-l.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}

func (l *fakeListener) Close() error   { return nil }
func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv6loopback} }

// addrConn is a connection from a chosen remote address.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }
