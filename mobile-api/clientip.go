package mobileapi

import (
	"net"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// trustedProxies is the parsed SUIJI_TRUSTED_PROXIES list.
type trustedProxies []*net.IPNet

// parseTrustedProxies accepts IPs and CIDRs; unparsable entries are skipped
// (config validation reports them).
func parseTrustedProxies(list []string) trustedProxies {
	var out trustedProxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "/") {
			if ip := net.ParseIP(s); ip != nil {
				bits := 8 * len(ip.To16())
				if ip.To4() != nil {
					ip, bits = ip.To4(), 32
				}
				out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			}
			continue
		}
		if _, n, err := net.ParseCIDR(s); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func (t trustedProxies) contains(ip net.IP) bool {
	for _, n := range t {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// clientIP is the caller's address. X-Forwarded-For is believed only when
// the connection comes from a trusted proxy, and then read from the right:
// each trusted proxy appends the address it saw, so the first address from
// the right that is not a trusted proxy is the client. Entries further left
// were written by the client and may be forged — a forged header therefore
// cannot move a caller into another rate-limit bucket.
func (s *Server) clientIP(c *fiber.Ctx) string {
	peer := c.Context().RemoteIP()
	if len(s.proxies) == 0 || !s.proxies.contains(peer) {
		return peer.String()
	}
	hops := strings.Split(c.Get(fiber.HeaderXForwardedFor), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		ip := net.ParseIP(strings.TrimSpace(hops[i]))
		if ip == nil {
			break // a malformed hop: stop believing the header here
		}
		if !s.proxies.contains(ip) {
			return ip.String()
		}
	}
	return peer.String()
}
