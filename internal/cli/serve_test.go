package cli

import (
	"bytes"
	"context"
	"io"
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

// TestServeSignsInAnAccountMadeByUserAdd runs the dashboard as an operator
// would, over real HTTP, until interrupted.
func TestServeSignsInAnAccountMadeByUserAdd(t *testing.T) {
	s := newSession(t)
	s.mustRun(testPassword, "user", "add", "--email", "admin@example.com", "--role", "admin")
	s.mustRun("xoxb-1-2", "secret", "add", "--project", "app", "--name", "SLACK_BOT_TOKEN")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	exit := make(chan int, 1)
	go func() {
		ios := &IOStreams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr}
		exit <- Execute(ctx, ios, "test", []string{"--database-url", s.dbURL, "--root-keys-file", s.keysFile, "serve", "--listen", "127.0.0.1:0"})
	}()
	addr := regexp.MustCompile(`Dashboard at (http://127\.0\.0\.1:\d+) \(Ctrl-C to stop\)`)
	var base string
	for deadline := time.Now().Add(20 * time.Second); base == ""; time.Sleep(20 * time.Millisecond) {
		if m := addr.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := client.Get(base + path)
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
	req, _ := http.NewRequest(http.MethodPost, base+"/signin", strings.NewReader(url.Values{"email": {"admin@example.com"}, "password": {testPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, body := get("/secrets?project=app")
	if res.StatusCode != 200 || !strings.Contains(body, `id="secret-SLACK_BOT_TOKEN"`) || !strings.Contains(body, `id="restart-notice"`) {
		t.Fatalf("secrets page after sign-in: %d\n%s", res.StatusCode, body)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP %q", csp)
	}

	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("serve exited %d after an interrupt:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(stderr.String(), "path=/secrets") || strings.Contains(stderr.String(), "xoxb-1-2") || strings.Contains(stderr.String(), testPassword) {
		t.Fatalf("request log:\n%s", stderr.String())
	}
}
