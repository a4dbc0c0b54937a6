package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestServeRefusesBadFlags(t *testing.T) {
	s := newSession(t)
	wantFailure(t, s.run("", "serve", "--tls-cert", "cert.pem"), 2, "--tls-cert and --tls-key go together")
	wantFailure(t, s.run("", "serve", "--trusted-proxy", "proxy.internal"), 2, `--trusted-proxy "proxy.internal" is not an address or a CIDR`)
	wantFailure(t, s.run("", "serve", "--session-idle", "5s"), 2, `--session-idle "5s" is not a duration of a minute or more`)
	wantFailure(t, s.run("", "serve", "--session-idle", "2h", "--session-max", "1h"), 2, "--session-idle 2h is longer than --session-max 1h")
	wantFailure(t, s.run("", "serve", "--tls-cert", "missing.pem", "--tls-key", "missing.key"), 1, "load --tls-cert and --tls-key")
}

// TestServeOnABusyAddressNamesTheAddress: an address already taken is the
// dashboard's problem, and the error does not send the operator to look
// at the database.
func TestServeOnABusyAddressNamesTheAddress(t *testing.T) {
	s := newSession(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	r := s.run("", "serve", "--listen", busy.Addr().String())
	wantFailure(t, r, 1, "listen on "+busy.Addr().String(), "address already in use")
	if strings.Contains(r.stderr, "database") {
		t.Errorf("a busy address is reported as a database problem:\n%s", r.stderr)
	}
}

// lockedBuffer is a stdout the test reads while the command writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runningServe is `pgsecrets serve` running as an operator starts it,
// over real HTTP, until stop interrupts it.
type runningServe struct {
	t              *testing.T
	base           string
	stdout, stderr *lockedBuffer
	cancel         context.CancelFunc
	exit           chan int
}

func (s *session) startServe(args ...string) *runningServe {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rs := &runningServe{t: s.t, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, cancel: cancel, exit: make(chan int, 1)}
	s.t.Cleanup(cancel)
	go func() {
		ios := &IOStreams{In: strings.NewReader(""), Out: rs.stdout, ErrOut: rs.stderr}
		rs.exit <- Execute(ctx, ios, "test", append([]string{"--database-url", s.dbURL, "--root-keys-file", s.keysFile, "serve", "--listen", "127.0.0.1:0"}, args...))
	}()
	addr := regexp.MustCompile(`Dashboard at (http://127\.0\.0\.1:\d+) \(Ctrl-C to stop\)`)
	for deadline := time.Now().Add(20 * time.Second); rs.base == ""; time.Sleep(20 * time.Millisecond) {
		if m := addr.FindStringSubmatch(rs.stdout.String()); m != nil {
			rs.base = m[1]
		} else if time.Now().After(deadline) {
			s.t.Fatalf("serve did not start:\nstdout:\n%s\nstderr:\n%s", rs.stdout.String(), rs.stderr.String())
		}
	}
	return rs
}

// stop interrupts serve and checks that it exits cleanly.
func (rs *runningServe) stop() {
	rs.t.Helper()
	rs.cancel()
	select {
	case code := <-rs.exit:
		if code != 0 {
			rs.t.Fatalf("serve exited %d after an interrupt:\n%s", code, rs.stderr.String())
		}
	case <-time.After(20 * time.Second):
		rs.t.Fatal("serve did not stop")
	}
}

// signedIn is a browser signed in to the running dashboard.
func (rs *runningServe) signedIn(email string) *http.Client {
	rs.t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	res := rs.post(client, "/signin", url.Values{"email": {email}, "password": {testPassword}})
	res.Body.Close()
	if len(jar.Cookies(res.Request.URL)) == 0 {
		rs.t.Fatalf("sign in as %s: no session cookie (%d)", email, res.StatusCode)
	}
	return client
}

// post sends a form as the dashboard's own page would.
func (rs *runningServe) post(client *http.Client, path string, form url.Values) *http.Response {
	rs.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, rs.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", rs.base)
	res, err := client.Do(req)
	if err != nil {
		rs.t.Fatal(err)
	}
	return res
}

// TestServeSignsInAnAccountMadeByUserAdd runs the dashboard as an operator
// would, over real HTTP, until interrupted.
func TestServeSignsInAnAccountMadeByAccountAdd(t *testing.T) {
	s := newSession(t)
	s.mustRun(testPassword, "user", "add", "--email", "admin@example.com", "--role", "admin")
	s.mustRun("xoxb-1-2", "secret", "add", "--project", "app", "--name", "SLACK_BOT_TOKEN")
	rs := s.startServe()

	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := client.Get(rs.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	if res, body := get("/healthz"); res.StatusCode != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", res.StatusCode, body)
	}
	client = rs.signedIn("admin@example.com")
	res, body := get("/secrets?project=app")
	if res.StatusCode != 200 || !strings.Contains(body, `id="secret-SLACK_BOT_TOKEN"`) || !strings.Contains(body, `id="restart-notice"`) {
		t.Fatalf("secrets page after sign-in: %d\n%s", res.StatusCode, body)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP %q", csp)
	}

	rs.stop()
	if stderr := rs.stderr.String(); !strings.Contains(stderr, "path=/secrets") || strings.Contains(stderr, "xoxb-1-2") || strings.Contains(stderr, testPassword) {
		t.Fatalf("request log:\n%s", stderr)
	}
}

func TestServeWarnsWhenATrustedProxyIsEveryAddress(t *testing.T) {
	s := newSession(t)
	for _, tc := range []struct {
		proxies []string
		warning string
	}{
		{[]string{"0.0.0.0/0"}, "Warning: --trusted-proxy 0.0.0.0/0 trusts every address: every client can then choose, with X-Forwarded-For, the address its sign-ins are limited and recorded by; name only your proxies' addresses\n"},
		{[]string{"10.0.0.0/8", "::/0"}, "Warning: --trusted-proxy ::/0 trusts every address"},
		{[]string{"0.0.0.0/0", "::/0"}, "Warning: --trusted-proxy 0.0.0.0/0, ::/0 trusts every address"},
		{[]string{"10.0.0.0/8", "2001:db8::/32"}, ""},
	} {
		var args []string
		for _, p := range tc.proxies {
			args = append(args, "--trusted-proxy", p)
		}
		rs := s.startServe(args...)
		rs.stop()
		stderr := rs.stderr.String()
		if tc.warning == "" {
			if strings.Contains(stderr, "Warning") {
				t.Errorf("%v: %s", tc.proxies, stderr)
			}
			continue
		}
		if !strings.HasPrefix(stderr, tc.warning) || strings.Count(stderr, "Warning") != 1 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: stderr is not the one warning line %q:\n%s", tc.proxies, tc.warning, stderr)
		}
	}
}

// A trusted proxy written as an IPv4-mapped IPv6 address or range means
// the IPv4 one: client addresses are compared unmapped.
func TestTrustedProxyMappedAddressesMeanTheirIPv4Form(t *testing.T) {
	for in, want := range map[string]string{
		"::ffff:10.0.0.0/104": "10.0.0.0/8",
		"::ffff:10.1.2.3":     "10.1.2.3/32",
		"10.0.0.7/24":         "10.0.0.0/24",
		"2001:db8::1":         "2001:db8::1/128",
	} {
		p, err := parseProxy(in)
		if err != nil || p.String() != want {
			t.Errorf("parseProxy(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
}
