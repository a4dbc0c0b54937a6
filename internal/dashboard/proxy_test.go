package dashboard

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// behindProxy is a browser whose requests reach the dashboard through the
// trusted proxy at 10.0.0.7 with this X-Forwarded-For.
func (e *env) behindProxy(forwardedFor string) *browser {
	b := e.browser()
	b.remote = "10.0.0.7:41000"
	b.header.Set("X-Forwarded-For", forwardedFor)
	return b
}

func TestForwardedForEntriesWithPortsOrBracketsNameTheClient(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TrustedProxies = []netip.Prefix{mustPrefix(t, "10.0.0.0/24")} })
	e.account("a@example.com", store.RoleViewer)
	for _, tc := range []struct{ forwardedFor, address string }{
		{"203.0.113.50:5678", "203.0.113.50"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"[::ffff:203.0.113.52]:443", "203.0.113.52"},
		{"198.51.100.66, 203.0.113.51:80, 10.0.0.3:3128", "203.0.113.51"},
		// The proxy could not name its peer: the client's address is
		// unknown, never what the client itself wrote further left.
		{"198.51.100.66, unknown", "unknown"},
		{"198.51.100.66, not-an-address, 10.0.0.3", "unknown"},
		{"198.51.100.66, [2001:db8::1", "unknown"},
		{"198.51.100.66, 1.2.3.4:http", "unknown"},
		{"198.51.100.66, ", "unknown"},
	} {
		b := e.behindProxy(tc.forwardedFor)
		if r := b.signIn("a@example.com", testPassword); r.status != http.StatusSeeOther {
			t.Fatalf("X-Forwarded-For %q: sign in %d\n%s", tc.forwardedFor, r.status, r.body)
		}
		got := e.query("select details from audit_events where action = 'account.signin' order by seq desc limit 1")
		if want := fmt.Sprintf(`{"address":%q}`, tc.address); got != want {
			t.Errorf("X-Forwarded-For %q: sign-in recorded %s, want %s", tc.forwardedFor, got, want)
		}
	}
}

// One client's failures behind a proxy must not lock out the others behind
// it, and a client the proxy cannot name must not escape the limit by
// writing addresses of its choice.
func TestSignInLimitCountsTheClientBehindTheProxy(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.TrustedProxies = []netip.Prefix{mustPrefix(t, "10.0.0.0/24")}
		c.SignInLimits = store.SignInLimits{Window: DefaultSignInLimits.Window, PerAccount: 10, PerAddress: 4}
	})
	e.account("a@example.com", store.RoleViewer)

	attacker := e.behindProxy("203.0.113.50:5678")
	for i := range 4 {
		want(t, attacker.signIn(fmt.Sprintf("guess%d@example.com", i), "x"), http.StatusUnauthorized)
	}
	want(t, attacker.signIn("guess@example.com", "x"), http.StatusTooManyRequests)
	for _, other := range []string{"203.0.113.51:5678", "[2001:db8::1]:443", "[2001:db8:0:1::1]"} {
		if r := e.behindProxy(other).signIn("a@example.com", testPassword); r.status != http.StatusSeeOther {
			t.Fatalf("%s is locked out by another client's failures: %d", other, r.status)
		}
	}

	for i := range 4 {
		anon := e.behindProxy(fmt.Sprintf("198.51.100.%d, unknown", i))
		want(t, anon.signIn(fmt.Sprintf("unknown%d@example.com", i), "x"), http.StatusUnauthorized)
	}
	want(t, e.behindProxy("198.51.100.99, unknown").signIn("unknown@example.com", "x"), http.StatusTooManyRequests)
	if got := e.query("select count(*) from audit_events where action = 'account.signin_failed' and details::jsonb->>'address' = 'unknown'"); got != "4" {
		t.Fatalf("%s failures recorded from address unknown, want 4", got)
	}
}
