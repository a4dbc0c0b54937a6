package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// LocalKMSInstall is how to install the KMS-compatible server the AWS KMS
// tests run against (.ci/run does it).
const LocalKMSInstall = "go install github.com/nsmithuk/local-kms@v0.0.0-20260228092603-2a5e92d09ab6"

// LocalKMS is a running local-kms (github.com/nsmithuk/local-kms), a server
// that answers the AWS KMS API, seeded with two symmetric keys, each with
// an alias. Clients reach it through a proxy that counts the calls by
// operation, so that a test can assert how many a process made: the
// answers are the real server's.
type LocalKMS struct {
	// Endpoint is the URL to give as an aws_kms root key's "endpoint".
	Endpoint string
	// Region and Account are those the keys' ARNs name.
	Region, Account string
	// Alias and OtherAlias name the two keys; KeyARN and OtherKeyARN are
	// their ARNs.
	Alias, OtherAlias   string
	KeyARN, OtherKeyARN string

	dir    string
	proc   *os.Process
	exited <-chan struct{}
	proxy  *http.Server

	mu       sync.Mutex
	calls    map[string]int
	throttle int           // calls still to answer with ThrottlingException
	hung     chan struct{} // while non-nil, calls wait for it to close
	closed   bool
}

// StartLocalKMS starts local-kms on a free port, seeded with two fresh
// AES keys, and stops it when the test ends. It sets the AWS environment
// of the test (dummy credentials, no shared config, no instance metadata)
// so that neither the developer's AWS setup nor a real AWS account is ever
// reached. When local-kms is not installed the test fails, saying how to
// install it.
func StartLocalKMS(t testing.TB) *LocalKMS {
	t.Helper()
	for name, value := range LocalKMSEnv() {
		t.Setenv(name, value)
	}
	k, err := RunLocalKMS(t.TempDir())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(k.Stop)
	return k
}

// LocalKMSEnv is the AWS environment a process talking to a LocalKMS
// needs: dummy credentials, and nothing of the developer's AWS setup.
func LocalKMSEnv() map[string]string {
	return map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIAPGSECRETSTEST", "AWS_SECRET_ACCESS_KEY": "pgsecrets-test-not-a-secret",
		"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_KMS": "",
		// The server is plain http: a CA bundle the developer set would
		// only be parsed, at each client's start, for nothing.
		"AWS_CA_BUNDLE": "",
	}
}

// RunLocalKMS starts local-kms, its files in dir, as StartLocalKMS does,
// for a program that is not a test (a benchmark): the caller sets
// LocalKMSEnv for the processes that call it, and stops it.
func RunLocalKMS(dir string) (*LocalKMS, error) {
	bin, err := findGoTool("local-kms", LocalKMSInstall)
	if err != nil {
		return nil, err
	}
	k := &LocalKMS{Region: "eu-west-2", Account: "111122223333", Alias: "alias/pgsecrets-test", OtherAlias: "alias/pgsecrets-other", calls: map[string]int{}}
	k.dir = dir
	ids := [2]string{newUUID(), newUUID()}
	k.KeyARN = fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", k.Region, k.Account, ids[0])
	k.OtherKeyARN = fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", k.Region, k.Account, ids[1])
	seed := fmt.Sprintf(`Keys:
  Symmetric:
    Aes:
      - Metadata:
          KeyId: %s
        BackingKeys:
          - %s
      - Metadata:
          KeyId: %s
        BackingKeys:
          - %s
Aliases:
  - AliasName: %s
    TargetKeyId: %s
  - AliasName: %s
    TargetKeyId: %s
`, ids[0], randomHex(32), ids[1], randomHex(32), k.Alias, ids[0], k.OtherAlias, ids[1])
	if err := os.WriteFile(filepath.Join(k.dir, "seed.yaml"), []byte(seed), 0o600); err != nil {
		return nil, err
	}
	port, err := k.start(bin)
	if err != nil {
		return nil, fmt.Errorf("start local-kms: %w", err)
	}
	if err := k.startProxy(port, "127.0.0.1:0"); err != nil {
		k.Stop()
		return nil, fmt.Errorf("proxy to local-kms: %w", err)
	}
	return k, nil
}

var localKMSStarted = regexp.MustCompile(`Local KMS started on [^:]*:(\d+)`)

// start runs local-kms on a port it picks itself (PORT=0), which it then
// logs: no other process can take the port between choice and use.
func (k *LocalKMS) start(bin string) (int, error) {
	logPath := filepath.Join(k.dir, "local-kms.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return 0, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin)
	cmd.Dir = k.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "PORT=0", "KMS_REGION="+k.Region, "KMS_ACCOUNT_ID="+k.Account,
		"KMS_SEED_PATH="+filepath.Join(k.dir, "seed.yaml"), "KMS_DATA_PATH="+filepath.Join(k.dir, "data"))
	if k.exited, err = startDaemon(cmd); err != nil {
		return 0, err
	}
	k.proc = cmd.Process
	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		log, _ := os.ReadFile(logPath)
		if m := localKMSStarted.FindSubmatch(log); m != nil {
			var port int
			fmt.Sscan(string(m[1]), &port)
			return port, nil
		}
		select {
		case <-k.exited:
			return 0, fmt.Errorf("local-kms exited during startup; its log:\n%s", strings.TrimSpace(string(log)))
		case <-ctx.Done():
			return 0, fmt.Errorf("local-kms did not start within %s; its log:\n%s", startupTimeout, strings.TrimSpace(string(log)))
		case <-tick.C:
		}
	}
}

// startProxy listens on addr and forwards to local-kms, counting each
// call by its operation (the X-Amz-Target header of the KMS JSON protocol).
func (k *LocalKMS) startProxy(port int, addr string) error {
	target := &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", fmt.Sprint(port))}
	rp := httputil.NewSingleHostReverseProxy(target)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	k.Endpoint = "http://" + l.Addr().String()
	k.proxy = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
		k.mu.Lock()
		k.calls[op]++
		throttled := k.throttle > 0
		if throttled {
			k.throttle--
		}
		hung := k.hung
		k.mu.Unlock()
		if hung != nil {
			// A KMS that accepted the call and does not answer: the
			// client gives up (its context ends the request), or Answer
			// lets the call through.
			select {
			case <-hung:
			case <-r.Context().Done():
				return
			}
		}
		if throttled {
			// What KMS answers past a request quota.
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
			return
		}
		rp.ServeHTTP(w, r)
	})}
	go k.proxy.Serve(l)
	return nil
}

// Calls is how many calls of operation op (Decrypt, Encrypt, DescribeKey)
// reached the server.
func (k *LocalKMS) Calls(op string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.calls[op]
}

// Throttle has the next n calls answered as KMS answers past its request
// quota (ThrottlingException), before the server sees them.
func (k *LocalKMS) Throttle(n int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.throttle = n
}

// Hang has every call from now on wait, unanswered, as a KMS that is
// overloaded or cut off behind a firewall that drops packets: the
// connection holds, no answer comes. Answer ends it.
func (k *LocalKMS) Hang() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.hung == nil {
		k.hung = make(chan struct{})
	}
}

// Answer ends a Hang: the calls waiting go through, and new ones too.
func (k *LocalKMS) Answer() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.hung != nil {
		close(k.hung)
		k.hung = nil
	}
}

// ResetCalls sets every count back to zero.
func (k *LocalKMS) ResetCalls() {
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.calls)
}

// Stop shuts the server down, as an outage would: from then on a call's
// connection is refused. Safe to call more than once.
func (k *LocalKMS) Stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return
	}
	k.closed = true
	if k.proxy != nil {
		k.proxy.Close()
	}
	if k.proc != nil {
		if err := stopDaemon("local-kms", k.proc, k.exited, immediateShutdown, 10*time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
}

// Restart brings a stopped server back, as a KMS back from an outage: the
// same keys (the same seed), answering at the same Endpoint, so that what
// it wrapped before the outage unwraps again.
func (k *LocalKMS) Restart() error {
	k.mu.Lock()
	closed := k.closed
	k.mu.Unlock()
	if !closed {
		return errors.New("local-kms is running: Stop it first")
	}
	bin, err := findGoTool("local-kms", LocalKMSInstall)
	if err != nil {
		return err
	}
	port, err := k.start(bin)
	if err != nil {
		return fmt.Errorf("restart local-kms: %w", err)
	}
	k.mu.Lock()
	k.closed = false
	k.mu.Unlock()
	if err := k.startProxy(port, strings.TrimPrefix(k.Endpoint, "http://")); err != nil {
		k.Stop()
		return fmt.Errorf("proxy to local-kms at %s again: %w", k.Endpoint, err)
	}
	return nil
}

// Entry is a root keys entry naming the key alias (or ARN) under kid,
// reached at this server.
func (k *LocalKMS) Entry(kid, keyID string) string {
	return fmt.Sprintf(`{"kid": %q, "aws_kms": {"key_id": %q, "region": %q, "endpoint": %q}}`, kid, keyID, k.Region, k.Endpoint)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// findGoTool finds a program `go install` put in place: on PATH, else in
// GOBIN, else in GOPATH/bin (go env, not the environment: they may be set
// by go env -w), which need not be on PATH.
func findGoTool(name, install string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("%s is not on PATH, and go env failed: %v; install it with `%s`", name, err, install)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n") // GOBIN first, maybe empty
	var dirs []string
	if lines[0] != "" {
		dirs = append(dirs, lines[0])
	}
	if len(lines) > 1 {
		for _, gopath := range filepath.SplitList(lines[1]) {
			dirs = append(dirs, filepath.Join(gopath, "bin"))
		}
	}
	for _, dir := range dirs {
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p, nil
		}
	}
	return "", errors.New(name + " is not installed: not on PATH nor in " + strings.Join(dirs, ", ") + ". Install it with `" + install + "` (.ci/run does)")
}

// GoTool is findGoTool for tests: the path of name, or the test fails
// saying how to install it.
func GoTool(t testing.TB, name, install string) string {
	t.Helper()
	p, err := findGoTool(name, install)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
