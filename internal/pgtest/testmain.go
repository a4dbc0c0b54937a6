package pgtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestDatabaseURLEnv names the variable that points tests at an existing
// server instead of a throwaway one. Its user needs CREATEDB.
const TestDatabaseURLEnv = "PGSECRETS_TEST_DATABASE_URL"

// serverURL is set by Main (or Run), for ServerURL and NewDatabase.
var serverURL string

// Main runs a package's tests against the server in
// PGSECRETS_TEST_DATABASE_URL or, when unset, a throwaway one it starts
// and stops. Use it as the whole TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// When no server can be had, the tests fail rather than skip: a skipped
// database test passes CI without testing anything.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main for a TestMain with more to stop once the tests are done (a
// browser, say): it returns the exit code instead of exiting.
//
//	func TestMain(m *testing.M) {
//		code := pgtest.Run(m)
//		stopBrowser()
//		os.Exit(code)
//	}
func Run(m *testing.M) int {
	if u := os.Getenv(TestDatabaseURLEnv); u != "" {
		parsed, err := parseServerURL(u)
		if err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %s: %v\n", TestDatabaseURLEnv, err)
			return 1
		}
		serverURL = u
		fmt.Fprintf(os.Stderr, "pgtest: using the server in %s: %s\n", TestDatabaseURLEnv, parsed.Redacted())
		return failOn(m.Run(), "stop PgBouncer", stopPoolers())
	}

	c, err := Start(context.Background(), Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: cannot start a throwaway PostgreSQL: %v\n"+
			"pgtest: or set %s to the URL of an existing server\n", err, TestDatabaseURLEnv)
		return 1
	}
	serverURL = c.URL()
	fmt.Fprintf(os.Stderr, "pgtest: using a throwaway PostgreSQL %s at %s (set %s to use another server)\n",
		c.version, serverURL, TestDatabaseURLEnv)
	code := failOn(m.Run(), "stop PgBouncer", stopPoolers())
	return failOn(code, "stop throwaway PostgreSQL", c.Stop())
}

// failOn reports a failure to clean up and turns a passing exit code into
// a failing one.
func failOn(code int, what string, err error) int {
	if err == nil {
		return code
	}
	fmt.Fprintf(os.Stderr, "pgtest: %s: %v\n", what, err)
	if code == 0 {
		code = 1
	}
	return code
}

// parseServerURL accepts only URLs: NewDatabase derives each database's
// URL from the server's by replacing the path.
func parseServerURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, fmt.Errorf("want a URL like postgres://user@host:5432/postgres, got scheme %q", u.Scheme)
	}
	return u, nil
}

// ServerURL is the URL of the server Main chose, connecting to its
// maintenance database as a user that may create databases. Tests that
// want a database of their own use NewDatabase.
func ServerURL(t testing.TB) string {
	t.Helper()
	if serverURL == "" {
		t.Fatal("pgtest: no server: this package's TestMain must call pgtest.Main(m), e.g. func TestMain(m *testing.M) { pgtest.Main(m) }")
	}
	return serverURL
}

// NewDatabase creates an empty database for the test, dropped when the
// test ends, and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	server := ServerURL(t)
	name := databaseName(t.Name())
	ident := pgx.Identifier{name}.Sanitize()
	// template0: empty whatever an existing server put in template1.
	if err := adminExec(server, "CREATE DATABASE "+ident+" TEMPLATE template0"); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// FORCE: a pool the test left open must not keep the database alive.
		if err := adminExec(server, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := parseServerURL(server)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

func adminExec(server, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return exec1(ctx, server, sql)
}

// databaseName turns a test name into a unique database name that still
// says which test made it: lower case, [a-z0-9_], at most 63 bytes
// (PostgreSQL's limit; longer names are silently truncated).
func databaseName(testName string) string {
	var b strings.Builder
	underscore := true // no leading underscore
	for _, r := range strings.ToLower(testName) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			underscore = false
		} else if !underscore {
			b.WriteByte('_')
			underscore = true
		}
	}
	base := strings.TrimSuffix(b.String(), "_")
	const suffixLen = 9 // "_" and 8 hex digits
	if len(base) > 63-suffixLen {
		base = strings.TrimSuffix(base[:63-suffixLen], "_")
	}
	if base == "" {
		base = "test"
	}
	return fmt.Sprintf("%s_%08x", base, rand.Uint32())
}

// NewRole creates a login role that owns nothing and has no privilege, as
// an application's runtime role would be, and returns dbURL rewritten to
// connect as it. The role is dropped (with its privileges in dbURL's
// database) when the test ends.
func NewRole(t testing.TB, dbURL string) string {
	t.Helper()
	name := databaseName("role_" + t.Name())
	password := databaseName("pw_" + t.Name())
	ident := pgx.Identifier{name}.Sanitize()
	if err := adminExec(dbURL, "CREATE ROLE "+ident+" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '"+password+"'"); err != nil {
		t.Fatalf("pgtest: create role %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := adminExec(dbURL, "DROP OWNED BY "+ident+"; DROP ROLE "+ident); err != nil {
			t.Errorf("pgtest: drop role %s: %v", name, err)
		}
	})
	u, err := parseServerURL(dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u.User = url.UserPassword(name, password)
	return u.String()
}
