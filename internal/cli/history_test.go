package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestHistoryRetentionShowsAndSets(t *testing.T) {
	s := newSession(t)

	r := s.mustRun("", "history", "retention")
	want := "History retention of the default (every project without its own):\n" +
		"  keep         no limit  earlier values each secret keeps\n" +
		"  max-age      no limit  how long an earlier value is kept once replaced\n" +
		"  deleted-for  30d       how long a deleted secret can be undeleted\n"
	if r.stdout != want || r.stderr != "" {
		t.Errorf("history retention:\n%s\nwant stdout:\n%s", r, want)
	}
	r = s.mustRun("", "history", "retention", "--project", "billing")
	if !strings.HasPrefix(r.stdout, "History retention of project billing (the default: the project has no retention of its own):\n") {
		t.Errorf("history retention --project billing:\n%s", r)
	}

	// Flags not given keep the value in force: deleted-for stays 30d.
	r = s.mustRun("", "history", "retention", "--project", "billing", "--keep", "20", "--max-age", "90d")
	want = "Set the history retention of project billing:\n" +
		"  keep         20        earlier values each secret keeps\n" +
		"  max-age      90d       how long an earlier value is kept once replaced\n" +
		"  deleted-for  30d       how long a deleted secret can be undeleted\n" +
		"It applies to a secret's history at its next write; `pgsecrets history prune` applies it to every secret now.\n"
	if r.stdout != want {
		t.Errorf("history retention --keep --max-age:\n%s\nwant stdout:\n%s", r, want)
	}
	r = s.mustRun("", "history", "retention", "--project", "billing", "--deleted-for", "1d12h")
	if !strings.Contains(r.stdout, "  keep         20 ") || !strings.Contains(r.stdout, "  deleted-for  1d12h ") {
		t.Errorf("history retention --deleted-for:\n%s", r)
	}

	// Showing needs no root keys; setting does (it is audited).
	keys := s.keysFile
	s.keysFile = ""
	r = s.mustRun("", "history", "retention", "--project", "billing", "--output", "json")
	var got struct {
		Project           string `json:"project"`
		Inherited         bool   `json:"inherited"`
		Keep              int    `json:"keep"`
		MaxAgeSeconds     int64  `json:"max_age_seconds"`
		DeletedForSeconds int64  `json:"deleted_for_seconds"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("history retention --output json is not JSON: %v\n%s", err, r)
	}
	if got.Project != "billing" || got.Inherited || got.Keep != 20 || got.MaxAgeSeconds != 90*86400 || got.DeletedForSeconds != 36*3600 {
		t.Errorf("history retention JSON = %+v", got)
	}
	wantFailure(t, s.run("", "history", "retention", "--keep", "3"), 1, "no root keys")
	s.keysFile = keys

	// The default did not change, and other projects inherit it.
	r = s.mustRun("", "history", "retention", "--project", "search", "--output", "json")
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || !got.Inherited || got.Keep != 0 || got.DeletedForSeconds != 30*86400 {
		t.Errorf("history retention of a project without its own = %+v (%v)", got, err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-age", "90x"}, `--max-age "90x" is not a duration: give days (90d), hours or minutes (36h, 90m), or 0 for no limit`},
		{[]string{"--deleted-for", "-1d"}, "--deleted-for -1d is negative"},
		{[]string{"--keep", "-1"}, "--keep -1 is negative"},
		{[]string{"--max-age", "99999d"}, "--max-age 99999d is more than 100 years: give 0 for no limit"},
		{[]string{"--project", "bad project!", "--keep", "1"}, "project"},
	} {
		wantFailure(t, s.run("", append([]string{"history", "retention"}, tc.args...)...), 2, tc.want)
	}
}

func TestHistoryPruneEnforcesRetentionAndCounts(t *testing.T) {
	s := newSession(t)
	for _, v := range []string{"v1", "v2", "v3", "v4"} {
		s.mustRun(v, "secret", "add", "--project", "app", "--name", "K", "--yes")
	}
	s.mustRun("gone", "secret", "add", "--project", "app", "--name", "OLD")
	s.mustRun("", "secret", "delete", "--project", "app", "--name", "OLD", "--yes")
	s.mustRun("other", "secret", "add", "--project", "other", "--name", "K")
	s.mustRun("other-2", "secret", "add", "--project", "other", "--name", "K", "--yes")

	r := s.mustRun("", "history", "prune")
	if r.stdout != "Nothing to prune in every project: the history is within its retention.\n" {
		t.Errorf("prune within the retention:\n%s", r)
	}

	// Keep one earlier value in app: K's revisions 1 and 2 go; OLD's
	// deleted value is not an earlier value, and stays.
	s.mustRun("", "history", "retention", "--project", "app", "--keep", "1")
	r = s.mustRun("", "history", "prune", "--project", "app")
	if want := "Pruned the history of project app: 2 earlier value(s) past the retention; 0 deleted secret(s) past their undelete window, with 0 revision(s).\n"; r.stdout != want {
		t.Errorf("prune printed %q, want %q", r.stdout, want)
	}
	wantLines(t, s.mustRun("", "secret", "history", "--project", "app", "--name", "K"), `^REVISION `, `^4 .*\(current\)$`, `^3 `)
	wantFailure(t, s.run("", "secret", "get", "--project", "app", "--name", "K", "--revision", "1"), 1, "secret app/K has no revision 1 in its history (pruned, or never written)")
	wantLines(t, s.mustRun("", "secret", "history", "--project", "other", "--name", "K"), `^REVISION `, `^2 `, `^1 `)

	// A deleted secret past its window goes with its whole history.
	s.sql(`update pgsecrets.secret_versions set replaced_at = now() - interval '31 days' where project = 'app' and name = 'OLD'`)
	r = s.mustRun("", "history", "prune", "--output", "json")
	var got struct {
		Project         string `json:"project"`
		Versions        int64  `json:"versions"`
		DeletedSecrets  int64  `json:"deleted_secrets"`
		DeletedVersions int64  `json:"deleted_versions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Versions != 0 || got.DeletedSecrets != 1 || got.DeletedVersions != 1 {
		t.Errorf("prune JSON = %+v (%v)\n%s", got, err, r)
	}
	wantFailure(t, s.run("", "secret", "history", "--project", "app", "--name", "OLD"), 1, `secret "app/OLD" not found`)

	// At a write, the written secret's history is trimmed already.
	s.mustRun("v5", "secret", "add", "--project", "app", "--name", "K", "--yes")
	wantLines(t, s.mustRun("", "secret", "history", "--project", "app", "--name", "K"), `^REVISION `, `^5 `, `^4 `)
}

// TestHistoryCommandsNeverShowValues runs every history command, failing
// ones included, and looks for the value everywhere but in `secret get`.
func TestHistoryCommandsNeverShowValues(t *testing.T) {
	const canary = "canary-history-cmds-81f0"
	s := newSession(t)
	steps := []struct {
		stdin string
		args  []string
		code  int
	}{
		{canary + "-1", []string{"secret", "add", "--project", "app", "--name", "K"}, 0},
		{canary + "-2", []string{"secret", "add", "--project", "app", "--name", "K", "--yes"}, 0},
		{"", []string{"secret", "history", "--project", "app", "--name", "K"}, 0},
		{"", []string{"secret", "history", "--project", "app", "--name", "K", "--output", "json"}, 0},
		{"", []string{"secret", "rollback", "--project", "app", "--name", "K", "--to-revision", "1"}, 2},
		{"", []string{"secret", "rollback", "--project", "app", "--name", "K", "--to-revision", "1", "--yes"}, 0},
		{"", []string{"secret", "rollback", "--project", "app", "--name", "K", "--to-revision", "2", "--yes", "--output", "json"}, 0},
		{"", []string{"secret", "rollback", "--project", "app", "--name", "K", "--to-revision", "1", "--expected-revision", "1", "--yes"}, 1},
		{"", []string{"secret", "get", "--project", "app", "--name", "K", "--revision", "9"}, 1},
		{"", []string{"secret", "delete", "--project", "app", "--name", "K", "--yes"}, 0},
		{"", []string{"secret", "history", "--project", "app", "--name", "K"}, 0},
		{"", []string{"secret", "undelete", "--project", "app", "--name", "K", "--output", "json"}, 0},
		{"", []string{"secret", "undelete", "--project", "app", "--name", "K"}, 1},
		{"", []string{"history", "retention", "--project", "app", "--keep", "1"}, 0},
		{"", []string{"history", "prune", "--output", "json"}, 0},
		{"", []string{"secret", "destroy", "--project", "app", "--name", "K"}, 2},
		{"", []string{"secret", "destroy", "--project", "app", "--name", "K", "--yes"}, 0},
	}
	for _, step := range steps {
		r := s.run(step.stdin, step.args...)
		if r.code != step.code {
			t.Errorf("pgsecrets %s: exit %d, want %d:\n%s", strings.Join(step.args, " "), r.code, step.code, r)
		}
		if strings.Contains(r.stdout+r.stderr, "canary") {
			t.Errorf("pgsecrets %s shows the value:\n%s", strings.Join(step.args, " "), r)
		}
	}

	conn, err := pgx.Connect(context.Background(), s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var all string
	if err := conn.QueryRow(context.Background(), `select string_agg(e::text, E'\n' order by seq) from pgsecrets.audit_events e`).Scan(&all); err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"secret.rollback", "secret.undelete", "secret.destroy", "history.retention", "history.prune"} {
		if !strings.Contains(all, action) {
			t.Errorf("the audit trail has no %s event", action)
		}
	}
	if strings.Contains(all, "canary") {
		t.Errorf("the audit trail holds the value:\n%s", all)
	}
}

func TestRetentionDurationsTakeDays(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"90d", 90 * day, "90d"},
		{"1d12h", 36 * time.Hour, "1d12h"},
		{"36h", 36 * time.Hour, "1d12h"},
		{"90m", 90 * time.Minute, "1h30m"},
		{"12h", 12 * time.Hour, "12h"},
		{"30s", 30 * time.Second, "30s"},
		{"0", 0, "0"},
		{"0d", 0, "0"},
	} {
		got, err := parseRetentionDuration("max-age", tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseRetentionDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if out := formatRetentionDuration(got); out != tc.out {
			t.Errorf("formatRetentionDuration(%v) = %q, want %q", got, out, tc.out)
		}
	}
	for _, bad := range []string{"", "d", "1.5d", "90x", "-1h", "1d-3h", "h", "d12h"} {
		if d, err := parseRetentionDuration("max-age", bad); err == nil {
			t.Errorf("parseRetentionDuration(%q) = %v, want an error", bad, d)
		}
	}
}
