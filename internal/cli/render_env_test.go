package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The attack: a config naming pgsecrets' own settings, rendered with the
// environment fallback on, to copy the root keys and the database URL into
// the output. They are never taken from the environment.
func TestRenderEnvFallbackNeverCopiesSettingsIntoTheOutput(t *testing.T) {
	s := newSession(t)
	keys, err := os.ReadFile(s.keysFile)
	if err != nil {
		t.Fatal(err)
	}
	const canaryURL = "postgres://app:canary-db-password-71d3@db.example/app"
	t.Setenv("PGSECRETS_ROOT_KEYS", string(keys))
	t.Setenv("PGSECRETS_DATABASE_URL", s.dbURL)
	t.Setenv("DATABASE_URL", canaryURL)
	t.Setenv("PGPASSWORD", "canary-pgpassword-0b9e")
	t.Setenv("TF_VAR_token", "canary-tf-var-5a2c")
	dir := t.TempDir()
	config := filepath.Join(dir, "config.json")
	doc := `{"keys": {"$secretRef": {"name": "PGSECRETS_ROOT_KEYS"}}, "db": {"$secretRef": {"name": "PGSECRETS_DATABASE_URL"}},
	         "url": {"$secretRef": {"name": "DATABASE_URL"}}, "pw": {"$secretRef": {"name": "PGPASSWORD"}}, "tf": {"$secretRef": {"name": "TF_VAR_token"}}}`
	if err := os.WriteFile(config, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "rendered.json")

	r := s.run("", "render", "--project", "app", "--config", config, "--env-fallback", "--out", out)
	wantFailure(t, r, 1,
		"5 referenced secrets not found in the database or the environment and without a default: ",
		`"DATABASE_URL" at $.url (it may not come from the environment: DATABASE_URL is a database URL pgsecrets may connect with, password included)`,
		`"PGPASSWORD" at $.pw (it may not come from the environment: names starting with PG are PostgreSQL connection settings (libpq), such as PGPASSWORD)`,
		`"PGSECRETS_DATABASE_URL" at $.db (it may not come from the environment: names starting with PGSECRETS_ are pgsecrets' own settings`,
		`"PGSECRETS_ROOT_KEYS" at $.keys (it may not come from the environment: names starting with PGSECRETS_ are pgsecrets' own settings`,
		`"TF_VAR_token" at $.tf (it may not come from the environment: names starting with TF_ are Terraform's settings`,
		`; create them or give the references a "default"`)
	for _, leaked := range []string{string(keys), s.dbURL, "canary-"} {
		if strings.Contains(r.stdout+r.stderr, leaked) {
			t.Errorf("render shows a setting's value (%.20s...):\n%s", leaked, r)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed render wrote %s (stat: %v)", out, err)
	}

	// From the database, they resolve as any secret would.
	s.mustRun("from-database", "secret", "add", "--project", "app", "--name", "DATABASE_URL")
	r = s.mustRun(`{"url":{"$secretRef":{"name":"DATABASE_URL"}},"pw":{"$secretRef":{"name":"PGPASSWORD","default":"none"}}}`,
		"render", "--project", "app", "--config", "-", "--env-fallback")
	if r.stdout != `{"url":"from-database","pw":"none"}`+"\n" || r.stderr != "DATABASE_URL: database\nPGPASSWORD: default\n" {
		t.Errorf("render:\n%s", r)
	}
}

func TestRenderEnvAllowLetsOnlyListedNamesComeFromTheEnvironment(t *testing.T) {
	s := newSession(t)
	t.Setenv("APP_TOKEN", "app-from-env")
	t.Setenv("STRIPE_KEY", "stripe-from-env")
	t.Setenv("OTHER_TOKEN", "other-from-env")
	doc := `{"a":{"$secretRef":{"name":"APP_TOKEN"}},"s":{"$secretRef":{"name":"STRIPE_KEY"}},"o":{"$secretRef":{"name":"OTHER_TOKEN","default":"d"}}}`

	r := s.mustRun(doc, "render", "--project", "app", "--config", "-", "--env-fallback", "--env-allow", "APP_*,STRIPE_KEY")
	if r.stdout != `{"a":"app-from-env","s":"stripe-from-env","o":"d"}`+"\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	if r.stderr != "APP_TOKEN: environment\nOTHER_TOKEN: default\nSTRIPE_KEY: environment\n" {
		t.Errorf("stderr %q", r.stderr)
	}

	r = s.run(`{"o":{"$secretRef":{"name":"OTHER_TOKEN"}}}`, "render", "--project", "app", "--config", "-", "--env-fallback", "--env-allow", "APP_*", "--env-allow", "STRIPE_KEY")
	wantFailure(t, r, 1, `"OTHER_TOKEN" at $.o (it may not come from the environment: it matches no entry of the environment allow-list (APP_*, STRIPE_KEY))`)
	if strings.Contains(r.stderr, "other-from-env") {
		t.Errorf("error shows the variable's value:\n%s", r)
	}
}

func TestRenderEnvAllowMistakesAreUsageErrors(t *testing.T) {
	s := newSession(t)
	doc := `{"a":1}`
	r := s.run(doc, "render", "--project", "app", "--config", "-", "--env-allow", "APP_*")
	wantFailure(t, r, 2, "--env-allow limits the environment fallback; add --env-fallback to turn it on")
	r = s.run(doc, "render", "--project", "app", "--config", "-", "--env-fallback", "--env-allow", "APP_*,A*B")
	wantFailure(t, r, 2, `--env-allow: environment allow-list entry "A*B" has a * before its end; only a trailing * is supported, as a prefix (APP_*)`)
	r = s.run(doc, "render", "--project", "app", "--config", "-", "--env-fallback", "--env-allow", "APP_*,")
	wantFailure(t, r, 2, "--env-allow: environment allow-list: an entry is empty")
}

func TestRenderRefusesDeeplyNestedConfig(t *testing.T) {
	s := newSession(t)
	r := s.run(strings.Repeat("[", 40000), "render", "--project", "app", "--config", "-")
	wantFailure(t, r, 1, "parse -: config nests objects and arrays deeper than the limit of 256 levels, at byte 256 under $[0][0]")
}
