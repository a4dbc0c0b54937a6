package pgtest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryString(t *testing.T, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestServerURLConnectsToPostgreSQL(t *testing.T) {
	conn := connect(t, ServerURL(t))
	if v := queryString(t, conn, "SELECT version()"); !strings.HasPrefix(v, "PostgreSQL ") {
		t.Errorf("SELECT version() = %q, want it to start with PostgreSQL", v)
	}
}

func TestNewDatabaseIsEmptyAndIsolated(t *testing.T) {
	urlA, urlB := NewDatabase(t), NewDatabase(t)
	if urlA == urlB {
		t.Fatalf("two NewDatabase calls returned the same URL %s", urlA)
	}
	a, b := connect(t, urlA), connect(t, urlB)

	userTables := "SELECT count(*)::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " +
		"WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
	if n := queryString(t, a, userTables); n != "0" {
		t.Errorf("new database has %s relations outside the system schemas, want 0", n)
	}
	if _, err := a.Exec(context.Background(), "CREATE TABLE only_in_a (id int); INSERT INTO only_in_a VALUES (1)"); err != nil {
		t.Fatalf("create table in database A: %v", err)
	}
	if got := queryString(t, a, "SELECT coalesce(to_regclass('only_in_a')::text, 'absent')"); got != "only_in_a" {
		t.Errorf("table created in A not found in A: %s", got)
	}
	if got := queryString(t, b, "SELECT coalesce(to_regclass('only_in_a')::text, 'absent')"); got != "absent" {
		t.Errorf("table created in A visible in B: %s", got)
	}
}

func TestNewDatabaseDroppedWhenTestEnds(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		conn := connect(t, NewDatabase(t)) // left open: the drop must not wait for it
		name = queryString(t, conn, "SELECT current_database()")
	})
	admin := connect(t, ServerURL(t))
	if n := queryString(t, admin, "SELECT count(*)::text FROM pg_database WHERE datname = $1", name); n != "0" {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func TestNewDatabaseNameFromLongOddTestName(t *testing.T) {
	t.Run(strings.Repeat("Ünïcode and spaces/slashes-", 5), func(t *testing.T) {
		t.Parallel()
		conn := connect(t, NewDatabase(t))
		name := queryString(t, conn, "SELECT current_database()")
		if !regexp.MustCompile(`^[a-z0-9][a-z0-9_]*_[0-9a-f]{8}$`).MatchString(name) || len(name) > 63 {
			t.Errorf("database name %q: want [a-z0-9_], a random suffix, at most 63 bytes", name)
		}
		if !strings.HasPrefix(name, "testnewdatabasenamefromlongoddtestname_n_code_and_") {
			t.Errorf("database name %q does not say which test made it", name)
		}
	})
}

func TestNewDatabaseInParallel(t *testing.T) {
	for i := range 8 {
		t.Run("db", func(t *testing.T) {
			t.Parallel()
			conn := connect(t, NewDatabase(t))
			if _, err := conn.Exec(context.Background(), "CREATE TABLE t (i int)"); err != nil {
				t.Errorf("database %d: %v", i, err)
			}
		})
	}
}

func TestFindServerBinariesAbsentSaysHowToInstall(t *testing.T) {
	root := filepath.Join(t.TempDir(), "does-not-exist")
	_, err := findServerBinaries(binarySearch{path: "", globs: []string{filepath.Join(root, "*", "bin")}})
	if err == nil {
		t.Fatal("found server binaries with an empty PATH and a missing root")
	}
	for _, want := range []string{"initdb", "apt-get install postgresql", "dnf install postgresql-server", "brew install postgresql", root} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func dirWithFiles(t *testing.T, dir string, names ...string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFindServerBinariesPrefersPathThenNewestVersion(t *testing.T) {
	tmp := t.TempDir()
	glob := filepath.Join(tmp, "lib", "postgresql", "*", "bin")
	dirWithFiles(t, filepath.Join(tmp, "lib", "postgresql", "9.6", "bin"), "initdb", "postgres")
	newest := dirWithFiles(t, filepath.Join(tmp, "lib", "postgresql", "15", "bin"), "initdb", "postgres")
	dirWithFiles(t, filepath.Join(tmp, "lib", "postgresql", "17", "bin"), "initdb") // incomplete: skipped
	onPath := dirWithFiles(t, filepath.Join(tmp, "path"), "initdb", "postgres")
	initdbOnly := dirWithFiles(t, filepath.Join(tmp, "initdb-only"), "initdb")

	b, err := findServerBinaries(binarySearch{globs: []string{glob}})
	if err != nil || b.initdb != filepath.Join(newest, "initdb") || b.postgres != filepath.Join(newest, "postgres") {
		t.Errorf("without PATH: got %+v, %v; want the binaries in %s", b, err, newest)
	}
	path := strings.Join([]string{initdbOnly, onPath}, string(os.PathListSeparator))
	b, err = findServerBinaries(binarySearch{path: path, globs: []string{glob}})
	if err != nil || b.initdb != filepath.Join(onPath, "initdb") {
		t.Errorf("with PATH: got %+v, %v; want the binaries in %s", b, err, onPath)
	}
}

func TestAbandonedDirsRemovedLiveOnesKept(t *testing.T) {
	if !platformSupported {
		t.Skip("no clusters on this platform")
	}
	tmp := t.TempDir()
	abandoned := dirWithFiles(t, filepath.Join(tmp, dirPrefix+"abandoned"), ownerLockName) // lock file nobody holds
	unlocked := dirWithFiles(t, filepath.Join(tmp, dirPrefix+"being-created"))             // no lock file yet
	live := dirWithFiles(t, filepath.Join(tmp, dirPrefix+"live"))
	lock, err := lockDir(live)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()

	removeAbandonedDirs(tmp)
	if _, err := os.Stat(abandoned); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("abandoned %s not removed (stat: %v)", abandoned, err)
	}
	for _, d := range []string{unlocked, live} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed though it may be in use: %v", d, err)
		}
	}
}

func TestStartLogStopRemovesEverything(t *testing.T) {
	if os.Getenv(TestDatabaseURLEnv) != "" {
		if _, err := findServerBinaries(defaultBinarySearch()); err != nil {
			t.Skipf("%s is set and there are no local server binaries: %v", TestDatabaseURLEnv, err)
		}
	}
	var log LogBuffer
	c, err := Start(context.Background(), Options{Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })

	conn := connect(t, c.URL())
	if got := queryString(t, conn, "SHOW fsync"); got != "off" {
		t.Errorf("fsync = %s, want off", got)
	}
	if got := queryString(t, conn, "SHOW max_connections"); got != "200" {
		t.Errorf("max_connections = %s, want 200", got)
	}
	if got := queryString(t, conn, "SELECT current_user"); got != "postgres" {
		t.Errorf("current_user = %s, want postgres", got)
	}
	conn.Close(context.Background())
	if !strings.Contains(log.String(), "ready to accept connections") {
		t.Errorf("server log given in Options.Log lacks the ready line; got:\n%s", log.String())
	}

	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := os.Stat(c.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory %s still there after Stop (stat: %v)", c.dir, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, c.URL()); err == nil {
		conn.Close(ctx)
		t.Errorf("server at %s still accepts connections after Stop", c.URL())
	}
}
