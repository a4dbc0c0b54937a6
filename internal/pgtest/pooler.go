package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PoolerURL returns a URL that reaches dbURL's database, as dbURL's user,
// through PgBouncer in transaction pooling mode, the way many production
// deployments reach PostgreSQL: each transaction may run on a different
// server connection, so session state (SET, prepared statements, advisory
// locks, LISTEN) does not carry over from one transaction to the next.
//
// One PgBouncer per server is started on first use, on a free 127.0.0.1
// port, and stopped by Main when the tests are done (or by the kernel, on
// Linux, when the test process dies). It serves any database name on that
// server. Every URL used through it must come from PoolerURL, which
// registers its user and password with PgBouncer; the URL it returns
// carries that password, or a random one PgBouncer asks for when dbURL
// has none.
//
// What a program must do to work behind it, and PgBouncer 1.18 checks:
//   - No startup parameter other than application_name, client_encoding,
//     DateStyle, TimeZone and standard_conforming_strings (extra_float_digits
//     is dropped): search_path or statement_timeout in the URL or in
//     RuntimeParams fails the connection ("unsupported startup parameter").
//   - No named prepared statements, which pgx's default statement cache
//     makes: a second client meets the first one's on the shared server
//     connection ("prepared statement ... already exists"). The exec,
//     cache_describe and simple_protocol modes make none.
//
// When the pgbouncer binary is missing, the test fails, saying how to
// install it.
func PoolerURL(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := poolerURL(dbURL)
	if err != nil {
		t.Fatalf("pgtest: PgBouncer in front of %s: %v", redactURL(dbURL), err)
	}
	return u
}

func poolerURL(dbURL string) (string, error) {
	u, err := parseServerURL(dbURL)
	if err != nil {
		return "", err
	}
	// pgconn resolves what the URL leaves out (port, user, PGPASSWORD,
	// .pgpass) as the direct connection would.
	cfg, err := pgconn.ParseConfig(dbURL)
	if err != nil {
		return "", err
	}
	p, err := poolerFor(cfg.Host, cfg.Port)
	if err != nil {
		return "", err
	}
	password, err := p.register(cfg.User, cfg.Password)
	if err != nil {
		return "", err
	}
	u.User = url.UserPassword(cfg.User, password)
	u.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port))
	q := u.Query()
	q.Del("host") // these would override u.Host
	q.Del("port")
	q.Set("sslmode", "disable") // PgBouncer speaks plaintext, on 127.0.0.1 only
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "the database URL"
}

// poolers holds the PgBouncers PoolerURL started, by server host:port.
// A test's private Cluster gets its own, so that a failover test can put
// PgBouncer in front of the server it restarts.
var poolers = struct {
	sync.Mutex
	byServer map[string]*pooler
}{byServer: map[string]*pooler{}}

func poolerFor(host string, port uint16) (*pooler, error) {
	poolers.Lock()
	defer poolers.Unlock()
	server := net.JoinHostPort(host, strconv.Itoa(int(port)))
	if p := poolers.byServer[server]; p != nil {
		return p, nil
	}
	p, err := startPooler(context.Background(), host, port)
	if err != nil {
		return nil, err
	}
	poolers.byServer[server] = p
	return p, nil
}

// stopPoolers stops every PgBouncer that PoolerURL started.
func stopPoolers() error {
	poolers.Lock()
	defer poolers.Unlock()
	var errs []error
	for server, p := range poolers.byServer {
		errs = append(errs, p.stop())
		delete(poolers.byServer, server)
	}
	return errors.Join(errs...)
}

// poolerAdmin is the user of PgBouncer's admin console, through which
// pgtest waits for startup and reloads the auth file.
const poolerAdmin = "pgtest_pooler_admin"

// pooler is a running PgBouncer: config, auth file and log in a temporary
// directory, listening on 127.0.0.1 only.
type pooler struct {
	dir     string
	lock    *os.File // held while the pooler lives, see lockDir
	account *serverAccount
	port    int

	proc    *os.Process
	exited  <-chan struct{} // closed once proc has exited
	logFile *os.File

	adminPassword string

	mu    sync.Mutex        // serializes register
	users map[string]string // the auth file: user name → password
}

func startPooler(ctx context.Context, serverHost string, serverPort uint16) (*pooler, error) {
	if !platformSupported {
		return nil, errPlatformUnsupported
	}
	ctx, cancel := withStartupDeadline(ctx)
	defer cancel()
	bin, err := findPgbouncer(defaultPoolerSearch())
	if err != nil {
		return nil, err
	}
	account, err := serverAccountForCurrentUser() // PgBouncer refuses to run as root too
	if err != nil {
		return nil, err
	}
	dir, lock, err := workDir(dirPrefix+"pgbouncer-", "PgBouncer", account)
	if err != nil {
		return nil, err
	}
	admin := rand.Text()
	p := &pooler{dir: dir, lock: lock, account: account, adminPassword: admin, users: map[string]string{poolerAdmin: admin}}
	started := false
	defer func() {
		if !started {
			p.stop()
		}
	}()
	if err := p.writeAuthFile(p.users); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		err = p.start(ctx, bin, serverHost, serverPort)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || attempt == 5 {
			return nil, err
		}
	}
	started = true
	return p, nil
}

func (p *pooler) path(name string) string { return filepath.Join(p.dir, name) }

// start runs pgbouncer on a free port and waits until its admin console
// answers.
func (p *pooler) start(ctx context.Context, bin, serverHost string, serverPort uint16) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	p.port = port
	if err := p.writeFile("pgbouncer.ini", p.config(serverHost, serverPort)); err != nil {
		return err
	}
	if p.logFile != nil {
		p.logFile.Close()
	}
	// pgbouncer logs to stderr when it neither daemonizes nor has a logfile.
	if p.logFile, err = os.Create(p.path("pgbouncer.log")); err != nil {
		return err
	}

	cmd := exec.Command(bin, p.path("pgbouncer.ini"))
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = p.logFile, p.logFile
	configurePoolerCmd(cmd, p.account)
	if p.exited, err = startDaemon(cmd); err != nil {
		return err
	}
	p.proc = cmd.Process

	if err := p.waitReady(ctx); err != nil {
		p.stopProcess()
		log := p.logTail()
		if strings.Contains(log, "Address already in use") {
			return errPortTaken
		}
		if log != "" {
			return fmt.Errorf("%w; PgBouncer log ends with:\n%s", err, log)
		}
		return err
	}
	return nil
}

// config is the whole pgbouncer.ini. Why each setting:
//   - "*" serves any database name, the client's, on the test server.
//   - scram-sha-256 with an auth file of plain-text passwords (see
//     register): PgBouncer checks the client's password, and logs in to
//     the server as the client's user with that same password, so a role a
//     test creates keeps its own privileges, whatever authentication the
//     server asks for. trust would let any local user of the machine reach
//     PGSECRETS_TEST_DATABASE_URL's server as its superuser.
//   - max_client_conn: many pools of many parallel tests; default_pool_size
//     stays well under the server's max_connections.
//   - extra_float_digits: lib/pq and JDBC send it (pgx does not), and
//     PgBouncer would refuse the connection.
//   - server_login_retry: after a failed login, the default keeps failing
//     clients for 15s, long after a restarted server is back.
func (p *pooler) config(serverHost string, serverPort uint16) string {
	return fmt.Sprintf(`;; Written by pgtest (internal/pgtest/pooler.go) for one test binary.
[databases]
* = host=%s port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = scram-sha-256
auth_file = %s
admin_users = %s
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
ignore_startup_parameters = extra_float_digits
server_tls_sslmode = prefer
server_login_retry = 1
`, serverHost, serverPort, p.port, p.path("users.txt"), poolerAdmin)
}

// waitReady polls the admin console until it answers, pgbouncer exits or
// ctx ends. Logging in, not just connecting, tells our PgBouncer from
// another process that took the port.
func (p *pooler) waitReady(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := p.adminExec(ctx, "SHOW VERSION")
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return errors.New("pgbouncer exited during startup")
		case <-ctx.Done():
			return fmt.Errorf("wait for pgbouncer to start: %w (last attempt: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// adminExec runs a command on the admin console, which speaks only the
// simple query protocol.
func (p *pooler) adminExec(ctx context.Context, sql string) error {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(poolerAdmin, p.adminPassword),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)),
		Path:     "/pgbouncer",
		RawQuery: "sslmode=disable&default_query_exec_mode=simple_protocol&connect_timeout=5",
	}
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// register adds user to the auth file, with the password PgBouncer is to
// check and then give the server, and returns that password. A user with
// no password (trust auth) gets a random one: PgBouncer has the client
// prove it, and a trust server ignores it.
func (p *pooler) register(user, password string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if user == poolerAdmin {
		return "", fmt.Errorf("user name %s is taken by PgBouncer's admin console", poolerAdmin)
	}
	known, ok := p.users[user]
	if ok && (password == "" || password == known) {
		return known, nil
	}
	if password == "" {
		password = rand.Text()
	}
	users := maps.Clone(p.users)
	users[user] = password
	if err := p.writeAuthFile(users); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// RELOAD on the console, unlike SIGHUP, has read the file when it returns.
	if err := p.adminExec(ctx, "RELOAD"); err != nil {
		return "", fmt.Errorf("reload PgBouncer's auth file: %w", err)
	}
	p.users = users
	return password, nil
}

// writeAuthFile writes users in PgBouncer's format, one `"name" "password"`
// a line, a double quote doubled; it replaces the file whole, so that a
// concurrent RELOAD never reads half of it.
func (p *pooler) writeAuthFile(users map[string]string) error {
	quote := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(users)) {
		fmt.Fprintf(&b, "%s %s\n", quote(name), quote(users[name]))
	}
	return p.writeFile("users.txt", b.String())
}

// writeFile writes a file only the account running pgbouncer may read:
// the auth file holds passwords.
func (p *pooler) writeFile(name, content string) error {
	tmp := p.path(name + ".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return fmt.Errorf("write PgBouncer's %s: %w", name, err)
	}
	if err := p.account.own(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, p.path(name)); err != nil {
		return fmt.Errorf("write PgBouncer's %s: %w", name, err)
	}
	return nil
}

// logTail is the log's last 4 KiB, for startup errors.
func (p *pooler) logTail() string {
	b, _ := os.ReadFile(p.path("pgbouncer.log"))
	if len(b) > 4<<10 {
		b = b[len(b)-4<<10:]
	}
	return strings.TrimSpace(string(b))
}

func (p *pooler) stopProcess() error {
	if p.proc == nil {
		return nil
	}
	defer func() { p.proc = nil }()
	return stopDaemon("pgbouncer", p.proc, p.exited, immediateShutdown, 10*time.Second)
}

// stop shuts PgBouncer down and removes its directory.
func (p *pooler) stop() error {
	errs := []error{p.stopProcess()}
	if p.logFile != nil {
		p.logFile.Close()
	}
	if err := os.RemoveAll(p.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove PgBouncer's directory: %w", err))
	}
	if p.lock != nil {
		p.lock.Close() // after RemoveAll: until then the directory is ours
	}
	return errors.Join(errs...)
}

// defaultPoolerSearch looks on PATH, then where packages put pgbouncer:
// Debian's /usr/sbin is not on a normal user's PATH.
func defaultPoolerSearch() binarySearch {
	return binarySearch{
		path:  os.Getenv("PATH"),
		globs: []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/opt/homebrew/bin"},
	}
}

func findPgbouncer(s binarySearch) (string, error) {
	dirs := slices.Concat(filepath.SplitList(s.path), s.globs)
	for _, dir := range dirs {
		if dir == "" {
			continue // an empty PATH entry means ".", which we do not trust
		}
		if bin := filepath.Join(dir, "pgbouncer"); isExecutable(bin) {
			return bin, nil
		}
	}
	return "", fmt.Errorf("pgbouncer not found on PATH nor in %s; install it with `apt-get install pgbouncer` (Debian/Ubuntu), "+
		"`dnf install pgbouncer` (RHEL/Fedora) or `brew install pgbouncer` (macOS)", strings.Join(s.globs, ", "))
}
