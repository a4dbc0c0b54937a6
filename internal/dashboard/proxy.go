package dashboard

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// client is who a request comes from, as far as the dashboard can tell.
type client struct {
	addr netip.Addr
	// secure is true when the browser reached us over HTTPS: directly, or
	// through a trusted proxy that says so.
	secure bool
}

type clientKey struct{}

// clientFrom returns the client the middleware found for r.
func clientFrom(r *http.Request) client {
	c, _ := r.Context().Value(clientKey{}).(client)
	return c
}

// clientOf finds the client of r. X-Forwarded-For and X-Forwarded-Proto
// are believed only from a trusted proxy, since anyone can send them: the
// client is the rightmost address of the chain that is not itself a
// trusted proxy (the leftmost ones are whatever the client claimed).
func (s *Server) clientOf(r *http.Request) client {
	c := client{secure: r.TLS != nil}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	c.addr, _ = netip.ParseAddr(host)
	c.addr = c.addr.Unmap()
	if !s.trusted(c.addr) {
		return c
	}
	if proto := r.Header.Get("X-Forwarded-Proto"); proto != "" {
		// The first proxy's view, when several appended theirs.
		first, _, _ := strings.Cut(proto, ",")
		c.secure = strings.EqualFold(strings.TrimSpace(first), "https")
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		c.addr = a.Unmap()
		if !s.trusted(c.addr) {
			break
		}
	}
	return c
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// limitKey is the address sign-in attempts are counted against: the
// address itself for IPv4, its /64 for IPv6, where one machine usually has
// a whole /64 to hop around in.
func (c client) limitKey() string {
	if !c.addr.IsValid() {
		return "unknown"
	}
	if c.addr.Is6() {
		p, _ := c.addr.Prefix(64)
		return p.String()
	}
	return c.addr.String()
}
