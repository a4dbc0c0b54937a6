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
// client is the rightmost entry of the chain that is not itself a trusted
// proxy (the leftmost ones are whatever the client claimed).
//
// When that entry is not an address ("unknown", which a proxy writes when
// it cannot name its peer, or garbage), the client's address is unknown:
// the entries further left are the client's own claims, so reading past it
// would let a client choose its address, and falling back to the proxy's
// address would count everyone behind that proxy as one client. Unknown
// clients share one sign-in limit ("unknown") and are recorded as such.
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
	forwarded := r.Header.Values("X-Forwarded-For")
	if len(forwarded) == 0 {
		return c // the proxy itself, e.g. a health check
	}
	hops := strings.Split(strings.Join(forwarded, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		c.addr = a
		if !ok || !s.trusted(a) {
			break
		}
	}
	return c
}

// parseHop reads one X-Forwarded-For entry the ways proxies write an
// address: 1.2.3.4, 1.2.3.4:5678, 2001:db8::1, [2001:db8::1] and
// [2001:db8::1]:443. Anything else ("unknown", an RFC 7239 obfuscated name,
// an address with a zone, garbage) is not an address.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		if inner, ok := strings.CutPrefix(s, "["); ok && strings.HasSuffix(inner, "]") {
			a, err = netip.ParseAddr(strings.TrimSuffix(inner, "]"))
		} else if ap, perr := netip.ParseAddrPort(s); perr == nil {
			a, err = ap.Addr(), nil
		}
	}
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// address is the client's address as logged and audited.
func (c client) address() string {
	if !c.addr.IsValid() {
		return "unknown"
	}
	return c.addr.String()
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
