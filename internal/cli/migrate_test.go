package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func TestMigrateUpTwiceIsIdempotentAndStatusShowsVersion(t *testing.T) {
	s := newUnmigratedSession(t)
	latest := store.LatestVersion()

	r := s.mustRun("", "migrate", "status")
	if want := fmt.Sprintf("Schema pgsecrets is at version 0 of %d: %d pending; run `pgsecrets migrate up`.", latest, latest); !strings.Contains(r.stdout, want) {
		t.Errorf("status before migrating lacks %q:\n%s", want, r)
	}
	if !regexp.MustCompile(`(?m)^1 +001_init\.sql +pending$`).MatchString(r.stdout) {
		t.Errorf("status before migrating does not list 001_init.sql as pending:\n%s", r)
	}

	r = s.mustRun("", "migrate", "up")
	if !strings.Contains(r.stdout, "Applied migration 1 (001_init.sql)\n") {
		t.Errorf("first migrate up does not list the applied migration:\n%s", r)
	}
	if want := fmt.Sprintf("Schema pgsecrets is now at version %d.\n", latest); !strings.HasSuffix(r.stdout, want) {
		t.Errorf("first migrate up does not end with %q:\n%s", want, r)
	}

	r = s.mustRun("", "migrate", "up")
	if want := fmt.Sprintf("Schema pgsecrets is already at version %d; nothing to apply.\n", latest); r.stdout != want {
		t.Errorf("second migrate up printed %q, want %q", r.stdout, want)
	}

	r = s.mustRun("", "migrate", "status")
	if want := fmt.Sprintf("Schema pgsecrets is at version %d, up to date.", latest); !strings.Contains(r.stdout, want) {
		t.Errorf("status lacks %q:\n%s", want, r)
	}
	if !regexp.MustCompile(`(?m)^1 +001_init\.sql +applied$`).MatchString(r.stdout) {
		t.Errorf("status does not list 001_init.sql as applied:\n%s", r)
	}

	var st struct {
		Schema     string `json:"schema"`
		Version    int32  `json:"version"`
		Latest     int32  `json:"latest"`
		Pending    int    `json:"pending"`
		Migrations []struct {
			Version int32  `json:"version"`
			Name    string `json:"name"`
			Applied bool   `json:"applied"`
		} `json:"migrations"`
	}
	r = s.mustRun("", "migrate", "status", "--output", "json")
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("migrate status --output json is not JSON: %v\n%s", err, r)
	}
	if st.Schema != "pgsecrets" || st.Version != latest || st.Latest != latest || st.Pending != 0 || len(st.Migrations) != int(latest) || !st.Migrations[0].Applied {
		t.Errorf("migrate status JSON = %+v", st)
	}

	var up struct {
		Applied []any `json:"applied"`
		Version int32 `json:"version"`
	}
	r = s.mustRun("", "migrate", "up", "--output", "json")
	if err := json.Unmarshal([]byte(r.stdout), &up); err != nil {
		t.Fatalf("migrate up --output json is not JSON: %v\n%s", err, r)
	}
	if up.Applied == nil || len(up.Applied) != 0 || up.Version != latest {
		t.Errorf("migrate up JSON on a migrated schema = %s", r.stdout)
	}
}

func TestMigrateUpInAnotherSchema(t *testing.T) {
	s := newUnmigratedSession(t)
	s.mustRun("", "--schema", "secrets_staging", "migrate", "up")
	r := s.mustRun("", "--schema", "secrets_staging", "migrate", "status")
	if !strings.Contains(r.stdout, "Schema secrets_staging is at version") || !strings.Contains(r.stdout, "up to date") {
		t.Errorf("status of the other schema:\n%s", r)
	}
	// The default schema is still untouched.
	wantFailure(t, s.run("", "secret", "list"), 1, "schema \"pgsecrets\" is not migrated; run `pgsecrets migrate up`")
}

func TestUnmigratedDatabaseSaysRunMigrateUp(t *testing.T) {
	s := newUnmigratedSession(t)
	for _, args := range [][]string{
		{"secret", "list"},
		{"key", "status"},
	} {
		wantFailure(t, s.run("", args...), 1, "schema \"pgsecrets\" is not migrated; run `pgsecrets migrate up`")
	}
}

// Without an sslmode pgx tries TLS first, then plaintext, and reports
// both; the server's refusal is what the user needs.
func TestWrongDatabaseNameShowsTheServersErrorOnce(t *testing.T) {
	clearSettingsEnv(t)
	t.Setenv("PGSSLMODE", "")
	u, err := url.Parse(pgtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/no_such_db"
	u.RawQuery = ""
	u.User = url.UserPassword(u.User.Username(), "hunter2")

	r := runCLI(t, "", false, "--database-url", u.String(), "migrate", "status")
	wantFailure(t, r, 1, "Error: connect to database "+u.User.Username()+"@"+u.Host+"/no_such_db (from --database-url): ",
		`FATAL: database "no_such_db" does not exist (SQLSTATE 3D000: no such database)`)
	for _, noise := range []string{"tls error", "hunter2"} {
		if strings.Contains(r.stderr, noise) {
			t.Errorf("the error shows %q:\n%s", noise, r.stderr)
		}
	}
}

func TestUnreachableDatabaseNamesTheTarget(t *testing.T) {
	clearSettingsEnv(t)
	// Nothing listens on port 1.
	r := runCLI(t, "", false, "--database-url", "postgres://nobody:hunter2@127.0.0.1:1/x", "migrate", "status")
	wantFailure(t, r, 1, "Error: connect to database nobody@127.0.0.1:1/x (from --database-url): connection refused\n")
	if strings.Count(r.stderr, "connection refused") != 1 {
		t.Errorf("the same connection failure is repeated:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "hunter2") {
		t.Errorf("the error shows the database password:\n%s", r)
	}
}
