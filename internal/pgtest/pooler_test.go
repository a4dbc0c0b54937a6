package pgtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestPoolerURLReachesSameDatabaseAsSameUser(t *testing.T) {
	dbURL := NewDatabase(t)
	direct := connect(t, dbURL)
	if _, err := direct.Exec(context.Background(), "CREATE TABLE made_directly (id int)"); err != nil {
		t.Fatal(err)
	}
	pooled := connect(t, PoolerURL(t, dbURL))
	if pooled.Config().Port == direct.Config().Port {
		t.Fatalf("PoolerURL gave the server's own port %d", pooled.Config().Port)
	}
	for _, sql := range []string{"SELECT current_database()", "SELECT current_user", "SELECT coalesce(to_regclass('made_directly')::text, 'absent')"} {
		if got, want := queryString(t, pooled, sql), queryString(t, direct, sql); got != want {
			t.Errorf("%s: %q through PgBouncer, %q directly", sql, got, want)
		}
	}
}

func TestPoolerURLKeepsNonSuperuserRole(t *testing.T) {
	roleURL := NewRole(t, NewDatabase(t))
	u, err := url.Parse(roleURL)
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, PoolerURL(t, roleURL))
	if got := queryString(t, conn, "SELECT current_user"); got != u.User.Username() {
		t.Errorf("current_user through PgBouncer = %s, want the role %s", got, u.User.Username())
	}
	if got := queryString(t, conn, "SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user"); got != "false" {
		t.Errorf("rolsuper = %s, want false", got)
	}
}

func TestPoolerRefusesWrongPassword(t *testing.T) {
	u, err := url.Parse(PoolerURL(t, NewDatabase(t)))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "wrong")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u.String())
	if err == nil {
		conn.Close(ctx)
		t.Fatal("PgBouncer let a client in with a wrong password")
	}
	if !strings.Contains(err.Error(), "authentication failed") {
		t.Errorf("connect with a wrong password: %v; want authentication failed", err)
	}
}

// Between transactions a client holds no server connection (unlike session
// pooling), and within one it keeps its own (unlike statement pooling).
// The database is new, so its pool starts with one server connection,
// which PgBouncer reuses before it opens another.
func TestPoolerPoolsByTransaction(t *testing.T) {
	ctx := context.Background()
	// exec mode: pgx's default statement cache would prepare the same
	// statement name on the one server connection twice (see PoolerURL).
	poolerURL := PoolerURL(t, NewDatabase(t)) + "&default_query_exec_mode=exec"
	a, b := connect(t, poolerURL), connect(t, poolerURL)
	const pid = "SELECT pg_backend_pid()::text"

	if pa, pb := queryString(t, a, pid), queryString(t, b, pid); pa != pb {
		t.Errorf("two clients' transactions ran on backends %s and %s, want the one idle server connection for both", pa, pb)
	}

	tx, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var first, second string
	if err := tx.QueryRow(ctx, pid).Scan(&first); err != nil {
		t.Fatal(err)
	}
	other := queryString(t, b, pid)
	if err := tx.QueryRow(ctx, pid).Scan(&second); err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Errorf("one transaction ran on backends %s and %s, want one", first, second)
	}
	if other == first {
		t.Errorf("another client ran on backend %s while a transaction held it", other)
	}
}

func TestPoolerClientSurvivesServerRestart(t *testing.T) {
	c := NewCluster(t)
	conn := connect(t, PoolerURL(t, c.URL())+"&default_query_exec_mode=exec")
	const startTime = "SELECT pg_postmaster_start_time()::text"
	before := queryString(t, conn, startTime)
	c.Restart(t, 100*time.Millisecond)
	// An idle client's connection is to PgBouncer, which opens a new one
	// to the server for the next transaction.
	if after := queryString(t, conn, startTime); after == before {
		t.Errorf("server start time %s unchanged by Restart", after)
	}
}

func TestFindPgbouncerAbsentSaysHowToInstall(t *testing.T) {
	missing := t.TempDir()
	_, err := findPgbouncer(binarySearch{path: "", globs: []string{missing}})
	if err == nil {
		t.Fatal("found pgbouncer with an empty PATH and an empty directory")
	}
	for _, want := range []string{"pgbouncer not found", "apt-get install pgbouncer", missing} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func testServerAddr(t *testing.T) (string, uint16) {
	t.Helper()
	cfg, err := pgconn.ParseConfig(ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Host, cfg.Port
}

func acceptsConnections(port int) bool {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err == nil {
		conn.Close()
	}
	return err == nil
}

func TestPoolerStopRemovesEverything(t *testing.T) {
	host, port := testServerAddr(t)
	p, err := startPooler(context.Background(), host, port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop() })
	if err := p.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := os.Stat(p.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory %s still there after stop (stat: %v)", p.dir, err)
	}
	if acceptsConnections(p.port) {
		t.Errorf("port %d still accepts connections after stop", p.port)
	}
}

const orphanPoolerEnv = "PGTEST_ORPHAN_POOLER"

// A test process that dies without cleaning up (panic, -timeout, SIGKILL)
// must not leave PgBouncer running. The test runs itself as a child that
// starts PgBouncer and exits at once.
func TestPoolerDiesWithTestProcess(t *testing.T) {
	if os.Getenv(orphanPoolerEnv) != "" {
		startOrphanPooler(t)
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("only Linux ties a child's life to ours")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$")
	cmd.Env = append(os.Environ(), orphanPoolerEnv+"=1", TestDatabaseURLEnv+"="+ServerURL(t))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	var port, pid int
	var dir string
	if _, scanErr := fmt.Sscanf(lastLine(out), "pooler %d %d %s", &port, &pid, &dir); scanErr != nil {
		t.Fatalf("child test: %v (exit: %v); output:\n%s", scanErr, err, out)
	}
	t.Cleanup(func() { os.RemoveAll(dir) }) // the child could not

	deadline := time.Now().Add(10 * time.Second)
	for acceptsConnections(port) {
		if time.Now().After(deadline) {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill() // not to leave it running after all
			}
			t.Fatalf("PgBouncer on port %d still accepts connections 10s after its test process died", port)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startOrphanPooler(t *testing.T) {
	host, port := testServerAddr(t)
	p, err := startPooler(context.Background(), host, port)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("pooler %d %d %s\n", p.port, p.proc.Pid, p.dir)
	os.Exit(0) // no cleanup: what a crash leaves behind
}

func lastLine(b []byte) string {
	var last string
	for s := bufio.NewScanner(strings.NewReader(string(b))); s.Scan(); {
		if line := strings.TrimSpace(s.Text()); line != "" {
			last = line
		}
	}
	return last
}
