package dashboard

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func TestSignInSetsAStrictHttpOnlySessionCookie(t *testing.T) {
	e := newEnv(t)
	e.account("alice@example.com", store.RoleViewer)

	b := e.browser()
	want(t, b.get("/signin"), http.StatusOK, `id="signin-form"`, `name="email"`, `name="password"`)
	r := b.signIn("Alice@Example.com", testPassword)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/secrets" {
		t.Fatalf("sign in: %d %s\n%s", r.status, r.header.Get("Location"), r.body)
	}
	c := b.cookie
	if c == nil || c.Name != "pgsecrets_session" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/" || len(c.Value) < 40 {
		t.Fatalf("cookie over plain HTTP: %+v", c)
	}
	if strings.Contains(e.query("select encode(token_hash, 'escape') from dashboard_sessions"), c.Value) {
		t.Fatal("the database holds the session token itself")
	}
	want(t, b.get("/secrets"), http.StatusOK, `id="signed-in-as">alice@example.com`)
	// Signed in: the sign-in page sends to the secrets.
	if r := b.get("/signin"); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in page while signed in: %d", r.status)
	}

	// Over HTTPS, directly or through a trusted proxy, the cookie is Secure
	// and __Host- prefixed; a proxy header from anyone else is ignored.
	e.account("bob@example.com", store.RoleViewer)
	direct := e.browser()
	direct.tls = true
	direct.signIn("bob@example.com", testPassword)
	if c := direct.cookie; c == nil || c.Name != "__Host-pgsecrets_session" || !c.Secure {
		t.Fatalf("cookie over HTTPS: %+v", c)
	}
	spoofed := e.browser()
	spoofed.header.Set("X-Forwarded-Proto", "https")
	spoofed.signIn("bob@example.com", testPassword)
	if c := spoofed.cookie; c == nil || c.Secure {
		t.Fatalf("an untrusted X-Forwarded-Proto made the cookie Secure: %+v", c)
	}
	if r := direct.get("/secrets"); r.header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS over HTTPS")
	}
}

func TestTrustedProxyHeadersAreBelievedOnlyFromTrustedProxies(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TrustedProxies = []netip.Prefix{mustPrefix(t, "10.0.0.0/24")} })
	e.account("a@example.com", store.RoleViewer)

	viaProxy := e.browser()
	viaProxy.remote = "10.0.0.7:41000"
	viaProxy.header.Set("X-Forwarded-For", "203.0.113.50, 10.0.0.3")
	viaProxy.header.Set("X-Forwarded-Proto", "https")
	viaProxy.signIn("a@example.com", testPassword)
	if c := viaProxy.cookie; c == nil || !c.Secure || c.Name != "__Host-pgsecrets_session" {
		t.Fatalf("cookie through a TLS proxy: %+v", c)
	}
	if got := e.query("select details from audit_events where action = 'account.signin'"); got != `{"address":"203.0.113.50"}` {
		t.Fatalf("sign-in recorded from %s, want the client behind the proxy", got)
	}

	direct := e.browser()
	direct.remote = "198.51.100.9:1234"
	direct.header.Set("X-Forwarded-For", "203.0.113.99")
	direct.signIn("a@example.com", testPassword)
	if got := e.query("select details from audit_events where action = 'account.signin' order by seq desc limit 1"); got != `{"address":"198.51.100.9"}` {
		t.Fatalf("an untrusted X-Forwarded-For was believed: %s", got)
	}
}

func TestFailedSignInsLookTheSameWhetherOrNotTheAccountExists(t *testing.T) {
	e := newEnv(t)
	e.account("alice@example.com", store.RoleAdmin)
	e.account("off@example.com", store.RoleAdmin)
	if _, err := e.st.SetAccountDisabled(t.Context(), "off@example.com", true); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	bodies := map[string]string{}
	for _, try := range []struct{ email, pw, why string }{
		{"alice@example.com", "wrong password entirely", "wrong password"},
		{"nobody@example.com", testPassword, "unknown account"},
		{"off@example.com", testPassword, "disabled account"},
	} {
		r := b.signIn(try.email, try.pw)
		want(t, r, http.StatusUnauthorized, signInFailed)
		if b.cookie != nil {
			t.Fatalf("%s: a cookie was set", try.why)
		}
		if strings.Contains(r.body, try.email) {
			t.Errorf("%s: the email typed is sent back", try.why)
		}
		bodies[try.why] = r.body
	}
	if bodies["wrong password"] != bodies["unknown account"] || bodies["wrong password"] != bodies["disabled account"] {
		t.Errorf("failed sign-ins differ:\n%v", bodies)
	}
	events, err := e.st.AuditEvents(t.Context(), store.AuditFilter{Action: audit.ActionSignInFailed}, 0, 10)
	if err != nil || len(events) != 3 {
		t.Fatalf("signin_failed events: %d, %v", len(events), err)
	}
	// Newest first: disabled, unknown, wrong password.
	if events[0].Subject != "off@example.com" || events[1].Subject != "" || events[2].Subject != "alice@example.com" ||
		events[1].Actor != "dashboard" || !strings.Contains(events[1].Details, `"reason":"unknown account"`) {
		t.Fatalf("signin_failed events: %+v", events)
	}
	for _, ev := range events {
		if strings.Contains(ev.Details, "horse") || strings.Contains(ev.Details, "wrong password entirely") {
			t.Fatalf("a password is in the audit trail: %+v", ev)
		}
	}
}

func TestFailedSignInsAreLimitedPerAccountAndPerAddress(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.SignInLimits = store.SignInLimits{Window: DefaultSignInLimits.Window, PerAccount: 3, PerAddress: 8}
	})
	e.account("alice@example.com", store.RoleAdmin)
	for _, email := range []string{"alice@example.com", "nobody@example.com"} {
		b := e.browser()
		for i := range 3 {
			b.remote = "192.0.2." + string(rune('1'+i)) + ":1000"
			want(t, b.signIn(email, "not the password"), http.StatusUnauthorized)
		}
		r := b.signIn(email, "not the password")
		want(t, r, http.StatusTooManyRequests, "Too many failed sign-ins for this account or from this address.")
		if r.header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		// While limited, even the right password is refused, with the same
		// answer for an account that does not exist.
		want(t, b.signIn(email, testPassword), http.StatusTooManyRequests)
	}
	b := e.browser()
	b.remote = "198.51.100.1:1000"
	for i := range 8 {
		want(t, b.signIn("guess"+string(rune('a'+i))+"@example.com", "x"), http.StatusUnauthorized)
	}
	want(t, b.signIn("another@example.com", "x"), http.StatusTooManyRequests)
}

func TestSessionEndsWhenIdleOrPastItsAbsoluteLimit(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("a@example.com", store.RoleEditor)
	want(t, b.get("/secrets"), http.StatusOK)

	e.query("update dashboard_sessions set last_seen_at = now() - interval '31 minutes' returning 'ok'")
	r := b.get("/secrets")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/signin" {
		t.Fatalf("idle session: %d %s", r.status, r.header.Get("Location"))
	}
	b.signIn("a@example.com", testPassword)
	e.query("update dashboard_sessions set expires_at = now() - interval '1 second' returning 'ok'")
	before := e.snapshot()
	want(t, b.post("/secrets/app", url.Values{"name": {"K"}, "value": {"v"}, "revision": {"0"}}), http.StatusUnauthorized, "your session has ended")
	if e.snapshot() != before {
		t.Fatal("an expired session changed something")
	}
}

func TestSignOutAndSignOutEverywhere(t *testing.T) {
	e := newEnv(t)
	laptop := e.signedIn("a@example.com", store.RoleViewer)
	phone := e.browser()
	phone.signIn("a@example.com", testPassword)
	other := e.signedIn("b@example.com", store.RoleViewer)

	r := laptop.post("/signout", nil)
	if r.status != http.StatusSeeOther || laptop.cookie != nil {
		t.Fatalf("sign out: %d, cookie %+v", r.status, laptop.cookie)
	}
	want(t, phone.get("/secrets"), http.StatusOK)
	laptop.signIn("a@example.com", testPassword)

	r = phone.post("/signout-everywhere", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/signin?done=signed-out-everywhere" {
		t.Fatalf("sign out everywhere: %d %s", r.status, r.header.Get("Location"))
	}
	for _, b := range []*browser{laptop, phone} {
		if r := b.get("/secrets"); r.status != http.StatusSeeOther {
			t.Fatalf("a session survived sign-out everywhere: %d", r.status)
		}
	}
	want(t, other.get("/secrets"), http.StatusOK)
	if got := e.query("select count(*) from audit_events where action = 'account.signout'"); got != "2" {
		t.Fatalf("%s sign-out events, want 2", got)
	}
}

func TestCrossSiteRequestsAreRefused(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("admin@example.com", store.RoleAdmin)
	e.put("app", "K", "v")
	e.put("app", "K", "v2")
	e.deleted("app", "GONE", "g")
	before := e.snapshot()
	form := url.Values{"name": {"NEW"}, "value": {"v"}, "revision": {"0"}}
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site", "Origin": "https://evil.example.com"},
		{"Origin": "https://evil.example.com"},
	} {
		b.header = http.Header{}
		for k, v := range h {
			b.header.Set(k, v)
		}
		for _, target := range []struct {
			path string
			form url.Values
		}{
			{"/secrets/app", form},
			{"/secrets/app/K/delete", url.Values{"revision": {"2"}}},
			{"/secrets/app/K/rollback", url.Values{"to_revision": {"1"}, "expected_revision": {"2"}}},
			{"/secrets/app/GONE/undelete", nil},
			{"/secrets/app/K/reveal", nil},
			{"/signout-everywhere", nil},
			{"/signin", url.Values{"email": {"admin@example.com"}, "password": {testPassword}}},
		} {
			r := b.post(target.path, target.form)
			want(t, r, http.StatusForbidden, "this request came from another site")
			if strings.Contains(r.body, ">v<") {
				t.Fatal("a refused reveal showed the value")
			}
		}
	}
	if e.snapshot() != before {
		t.Fatal("a cross-site request changed something")
	}
	b.header = http.Header{}
	want(t, b.get("/secrets"), http.StatusOK)
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("a@example.com", store.RoleViewer)
	for _, path := range []string{"/signin", "/secrets", "/audit", "/nowhere", "/static/style.css", "/keys"} {
		r := b.get(path)
		h := r.header
		if got := h.Get("Content-Security-Policy"); got != "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'" {
			t.Errorf("%s: CSP %q", path, got)
		}
		if h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, h)
		}
		if strings.Contains(r.body, "<script") || strings.Contains(r.body, " style=") || strings.Contains(r.body, "<style") {
			t.Errorf("%s: inline script or style", path)
		}
	}
	if got := b.get("/secrets").header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("pages are cacheable: %q", got)
	}
	want(t, e.browser().get("/healthz"), http.StatusOK, "ok")
	want(t, b.get("/nowhere"), http.StatusNotFound, "There is no such page.")
}

// A cookie named without the __Host- prefix can be planted by a sibling
// subdomain or over plain HTTP: over HTTPS it must sign nobody in, or a
// victim would work in the planter's account.
func TestOverHTTPSAPlainNamedSessionCookieSignsNobodyIn(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TrustedProxies = []netip.Prefix{mustPrefix(t, "10.0.0.0/24")} })
	attacker := e.signedIn("attacker@example.com", store.RoleEditor)
	e.put("app", "K", "v")

	direct := e.browser()
	direct.tls = true
	viaProxy := e.browser()
	viaProxy.remote = "10.0.0.7:41000"
	viaProxy.header.Set("X-Forwarded-For", "203.0.113.50")
	viaProxy.header.Set("X-Forwarded-Proto", "https")
	for name, victim := range map[string]*browser{"over TLS": direct, "through a TLS proxy": viaProxy} {
		victim.cookie = &http.Cookie{Name: "pgsecrets_session", Value: attacker.cookie.Value}
		if r := victim.get("/secrets"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/signin" {
			t.Fatalf("%s: a planted plain cookie opened /secrets: %d\n%s", name, r.status, r.body)
		}
		want(t, victim.get("/signin"), http.StatusOK, `id="signin-form"`)
		before := e.snapshot()
		want(t, victim.post("/secrets/app", url.Values{"name": {"PLANTED"}, "value": {"v"}, "revision": {"0"}}), http.StatusUnauthorized, "You are not signed in")
		if e.snapshot() != before {
			t.Fatalf("%s: a planted plain cookie changed something", name)
		}
	}
	// The same token under its own name is a live session: only the name
	// was refused.
	direct.cookie = &http.Cookie{Name: "__Host-pgsecrets_session", Value: attacker.cookie.Value}
	want(t, direct.get("/secrets"), http.StatusOK, `id="signed-in-as">attacker@example.com`)
}

func TestSigningInAsAnotherAccountEndsTheSessionItReplaces(t *testing.T) {
	e := newEnv(t)
	e.account("b@example.com", store.RoleViewer)
	b := e.signedIn("a@example.com", store.RoleViewer)
	first := *b.cookie

	// The sign-in form posted again, e.g. from a second tab.
	if r := b.signIn("b@example.com", testPassword); r.status != http.StatusSeeOther || b.cookie == nil || b.cookie.Value == first.Value {
		t.Fatalf("second sign-in: %d, cookie %+v", r.status, b.cookie)
	}
	want(t, b.get("/secrets"), http.StatusOK, `id="signed-in-as">b@example.com`)
	old := e.browser()
	old.cookie = &first
	if r := old.get("/secrets"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/signin" {
		t.Fatalf("the replaced session still works: %d", r.status)
	}
	if got := e.query("select count(*) from dashboard_sessions"); got != "1" {
		t.Fatalf("%s sessions in the database, want 1", got)
	}
	if got := e.query("select string_agg(actor || ' ' || subject, E'\n') from audit_events where action = 'account.signout'"); got != "dashboard:a@example.com a@example.com" {
		t.Fatalf("sign-out events: %q", got)
	}
}
