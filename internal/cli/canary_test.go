package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestSecretValueNeverLeaksOutsideGet runs every command that touches a
// value, including failing ones, and looks for the value everywhere but
// in `secret get`'s stdout: other output, errors, and the audit trail.
func TestSecretValueNeverLeaksOutsideGet(t *testing.T) {
	const canary = "canary-7Hq2-never-print-me"
	s := newSession(t)
	file := filepath.Join(t.TempDir(), "value")
	if err := os.WriteFile(file, []byte(canary+"-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	noLeak := func(r result, what string) {
		t.Helper()
		if strings.Contains(r.stdout, "canary") || strings.Contains(r.stderr, "canary") {
			t.Errorf("%s shows the value:\n%s", what, r)
		}
	}
	steps := []struct {
		stdin    string
		terminal bool
		args     []string
		code     int
	}{
		{canary, false, []string{"secret", "add", "--project", "app", "--name", "TOKEN"}, 0},
		{canary, false, []string{"secret", "add", "--project", "app", "--name", "TOKEN"}, 2},
		{canary + "-2\n", false, []string{"secret", "add", "--project", "app", "--name", "TOKEN", "--yes", "--output", "json"}, 0},
		{canary, true, []string{"secret", "add", "--project", "app", "--name", "PROMPTED"}, 0},
		{"", false, []string{"secret", "add", "--project", "app", "--name", "FROM_FILE", "--file", file}, 0},
		{canary, false, []string{"secret", "add", "--project", "bad project!", "--name", "TOKEN"}, 2},
		{canary, false, []string{"secret", "add", "--project", "app", "--name", "TOKEN", "--output", "yaml"}, 2},
		{canary, false, []string{"secret", "add", "--project", "app", "--name", "TOKEN", "--unknown-flag"}, 2},
		{"", false, []string{"secret", "add", "--project", "app", "--name", "TOKEN", canary}, 2},
		{"", false, []string{"secret", "add", "--project", "app", "--name", "TOKEN", "--value=" + canary}, 2},
		{"", false, []string{"secret", "list"}, 0},
		{"", false, []string{"secret", "list", "--output", "json"}, 0},
		{"", false, []string{"key", "status", "--output", "json"}, 0},
		{"", false, []string{"secret", "delete", "--project", "app", "--name", "FROM_FILE", "--yes"}, 0},
		{canary + "-doomed", false, []string{"secret", "add", "--project", "doomed", "--name", "TOKEN"}, 0},
		{"", false, []string{"project", "shred", "--project", "doomed", "--yes", "--output", "json"}, 0},
	}
	for _, step := range steps {
		s.terminal = step.terminal
		r := s.run(step.stdin, step.args...)
		if r.code != step.code {
			t.Errorf("pgsecrets %s: exit %d, want %d:\n%s", strings.Join(step.args, " "), r.code, step.code, r)
		}
		noLeak(r, "pgsecrets "+strings.Join(step.args, " "))
	}
	s.terminal = false

	// get is the one command that prints it, on stdout only.
	r := s.mustRun("", "secret", "get", "--project", "app", "--name", "TOKEN")
	if r.stdout != canary+"-2" || strings.Contains(r.stderr, "canary") {
		t.Errorf("get:\n%s", r)
	}
	r = s.mustRun("", "secret", "get", "--project", "app", "--name", "PROMPTED", "--output", "json")
	if !strings.Contains(r.stdout, canary) || strings.Contains(r.stderr, "canary") {
		t.Errorf("get --output json:\n%s", r)
	}

	conn, err := pgx.Connect(context.Background(), s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var events, all string
	err = conn.QueryRow(context.Background(), `
		select count(*)::text, coalesce(string_agg(e::text, E'\n' order by seq), '')
		from pgsecrets.audit_events e`).Scan(&events, &all)
	if err != nil {
		t.Fatal(err)
	}
	if events == "0" || !strings.Contains(all, "secret.read") {
		t.Fatalf("the audit trail holds %s events, without the reads:\n%s", events, all)
	}
	if strings.Contains(all, "canary") {
		t.Errorf("the audit trail holds the value:\n%s", all)
	}
	var rows string
	if err := conn.QueryRow(context.Background(), `select string_agg(s::text, E'\n') from pgsecrets.secrets s`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rows, "canary") {
		t.Errorf("the secrets table holds the value in clear")
	}
}
