package cli

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// when matches a timestamp as formatTime prints it.
const when = `\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ`

// wantLines checks stdout line by line against regular expressions.
func wantLines(t *testing.T, r result, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), r)
	}
	for i, w := range want {
		if !regexp.MustCompile(w).MatchString(lines[i]) {
			t.Errorf("line %d = %q, want it to match %s", i+1, lines[i], w)
		}
	}
}

// sql runs one statement against the session's database, for what a
// test arranges behind the CLI's back (an old deletion, say).
func (s *session) sql(query string, args ...any) {
	s.t.Helper()
	conn, err := pgx.Connect(context.Background(), s.dbURL)
	if err != nil {
		s.t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), query, args...); err != nil {
		s.t.Fatal(err)
	}
}

func TestSecretHistoryListsEveryWriteWithActionAndWhoNeverValue(t *testing.T) {
	const canary = "canary-history-5d1b"
	s := newSession(t)
	s.mustRun(canary+"-1", "secret", "add", "--project", "app", "--name", "K")
	kid := regexp.QuoteMeta(s.projectKID("app"))
	s.mustRun(canary+"-2", "secret", "add", "--project", "app", "--name", "K", "--yes", "--actor", "alice@laptop")
	s.mustRun("", "secret", "rollback", "--project", "app", "--name", "K", "--to-revision", "1", "--yes", "--actor", "bob@ci")

	r := s.mustRun("", "secret", "history", "--project", "app", "--name", "K")
	wantLines(t, r,
		`^REVISION +WHEN +WHO +KEY +ACTION$`,
		`^3 +`+when+` +bob@ci +`+kid+` +rollback \(current\)$`,
		`^2 +`+when+` +alice@laptop +`+kid+` +update$`,
		`^1 +`+when+` +cli-test@example +`+kid+` +create$`,
	)
	if r.stderr != "" {
		t.Errorf("history wrote to stderr:\n%s", r)
	}

	r = s.mustRun("", "secret", "history", "--project", "app", "--name", "K", "--output", "json")
	var versions []store.SecretVersion
	if err := json.Unmarshal([]byte(r.stdout), &versions); err != nil {
		t.Fatalf("history --output json is not JSON: %v\n%s", err, r)
	}
	if len(versions) != 3 || versions[0].Action != "rollback" || !versions[0].Current || versions[1].Current ||
		versions[1].WrittenBy != "alice@laptop" || versions[2].Action != "create" || versions[2].Revision != 1 {
		t.Errorf("history JSON = %+v", versions)
	}

	// After a delete, the value it removed is marked, and stderr says how
	// to bring it back.
	s.mustRun("", "secret", "delete", "--project", "app", "--name", "K", "--yes")
	r = s.mustRun("", "secret", "history", "--project", "app", "--name", "K")
	wantLines(t, r,
		`^REVISION +WHEN +WHO +KEY +ACTION$`,
		`^3 +`+when+` +bob@ci +`+kid+` +rollback \(deleted `+when+`\)$`,
		`^2 `,
		`^1 `,
	)
	if !regexp.MustCompile("^Secret app/K is deleted; `pgsecrets secret undelete --project app --name K` brings it back until " + when + ` \(deleted secrets are kept 30d\)\n$`).MatchString(r.stderr) {
		t.Errorf("history of a deleted secret: stderr = %q", r.stderr)
	}

	// Metadata only: no root keys needed, and no value anywhere.
	s.keysFile = ""
	r = s.mustRun("", "secret", "history", "--project", "app", "--name", "K")
	if !strings.Contains(r.stdout, "rollback (deleted ") {
		t.Errorf("history without root keys:\n%s", r)
	}
	for _, args := range [][]string{
		{"secret", "history", "--project", "app", "--name", "K"},
		{"secret", "history", "--project", "app", "--name", "K", "--output", "json"},
	} {
		if r := s.run("", args...); strings.Contains(r.stdout+r.stderr, "canary") {
			t.Errorf("pgsecrets %s shows a value:\n%s", strings.Join(args, " "), r)
		}
	}

	wantFailure(t, s.run("", "secret", "history", "--project", "app", "--name", "NEVER"), 1,
		`secret "app/NEVER" not found; `+"`pgsecrets secret list --project app` shows the project's secrets")
}

func TestSecretGetRevisionReturnsThatRevisionsValue(t *testing.T) {
	s := newSession(t)
	s.mustRun("first value", "secret", "add", "--project", "app", "--name", "K", "--category", "db")
	s.mustRun("second value", "secret", "add", "--project", "app", "--name", "K", "--yes")

	if r := s.mustRun("", "secret", "get", "--project", "app", "--name", "K", "--revision", "1"); r.stdout != "first value" || r.stderr != "" {
		t.Errorf("get --revision 1:\n%s", r)
	}
	if r := s.mustRun("", "secret", "get", "--project", "app", "--name", "K", "--revision", "2"); r.stdout != "second value" {
		t.Errorf("get --revision 2 (the current one):\n%s", r)
	}
	if r := s.mustRun("", "secret", "get", "--project", "app", "--name", "K"); r.stdout != "second value" {
		t.Errorf("get after reading an old revision:\n%s", r)
	}

	r := s.mustRun("", "secret", "get", "--project", "app", "--name", "K", "--revision", "1", "--output", "json")
	var got struct {
		Value, Action, Category, KID string
		Revision                     int64
		Current                      bool
		WrittenBy                    string `json:"written_by"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("get --revision --output json is not JSON: %v\n%s", err, r)
	}
	if got.Value != "first value" || got.Revision != 1 || got.Current || got.Action != "create" || got.Category != "db" || got.KID != s.projectKID("app") || got.WrittenBy != "cli-test@example" {
		t.Errorf("get --revision 1 JSON = %+v", got)
	}

	wantFailure(t, s.run("", "secret", "get", "--project", "app", "--name", "K", "--revision", "3"), 1,
		"secret app/K has no revision 3 in its history (pruned, or never written); `pgsecrets secret history --project app --name K` lists the revisions kept")
	wantFailure(t, s.run("", "secret", "get", "--project", "app", "--name", "K", "--revision", "0"), 2,
		"--revision 0 is not a revision: revisions start at 1")

	// A deleted secret's values stay readable by revision until they go.
	s.mustRun("", "secret", "delete", "--project", "app", "--name", "K", "--yes")
	if r := s.mustRun("", "secret", "get", "--project", "app", "--name", "K", "--revision", "2"); r.stdout != "second value" {
		t.Errorf("get --revision of a deleted secret:\n%s", r)
	}
}

func TestSecretRollbackRestoresExactValue(t *testing.T) {
	s := newSession(t)
	// Inner newlines and trailing spaces are part of the value.
	const value = "line one\n  line two  \n"
	s.mustRun(value+"\n", "secret", "add", "--project", "app", "--name", "K")
	s.mustRun("a wrong value", "secret", "add", "--project", "app", "--name", "K", "--yes")

	r := s.mustRun("", "secret", "rollback", "--project", "app", "--name", "K", "--to-revision", "1", "--yes")
	if want := "Rolled back secret app/K to the value of revision 1: now revision 3 (key " + s.projectKID("app") + ")\n"; r.stdout != want || r.stderr != "" {
		t.Errorf("rollback printed:\n%s\nwant stdout %q", r, want)
	}
	if r := s.mustRun("", "secret", "get", "--project", "app", "--name", "K"); r.stdout != value {
		t.Errorf("value after rollback = %q, want exactly %q", r.stdout, value)
	}
	// A rollback is itself a revision, and can be rolled back.
	r = s.mustRun("", "secret", "rollback", "--project", "app", "--name", "K", "--to-revision", "2", "--yes", "--output", "json")
	var meta struct {
		Action       string `json:"action"`
		FromRevision int64  `json:"from_revision"`
		store.SecretMeta
	}
	if err := json.Unmarshal([]byte(r.stdout), &meta); err != nil || meta.Action != "rollback" || meta.FromRevision != 2 || meta.Revision != 4 {
		t.Errorf("rollback JSON = %+v (%v)", meta, err)
	}
	if r := s.mustRun("", "secret", "get", "--project", "app", "--name", "K"); r.stdout != "a wrong value" {
		t.Errorf("value after the second rollback = %q", r.stdout)
	}

	wantFailure(t, s.run("", "secret", "rollback", "--project", "app", "--name", "K", "--to-revision", "4", "--yes"), 1,
		"secret app/K is already at revision 4; nothing to roll back")
	wantFailure(t, s.run("", "secret", "rollback", "--project", "app", "--name", "K", "--to-revision", "9", "--yes"), 1,
		"secret app/K has no revision 9 in its history", "`pgsecrets secret history --project app --name K` lists the revisions kept")
	wantFailure(t, s.run("", "secret", "rollback", "--project", "app", "--name", "K", "--yes"), 2, "--to-revision is required")
	wantFailure(t, s.run("", "secret", "rollback", "--project", "app", "--name", "NEVER", "--to-revision", "1", "--yes"), 1, `secret "app/NEVER" not found`)

	s.mustRun("", "secret", "delete", "--project", "app", "--name", "K", "--yes")
	wantFailure(t, s.run("", "secret", "rollback", "--project", "app", "--name", "K", "--to-revision", "1", "--yes"), 1,
		"secret app/K is deleted; `pgsecrets secret undelete --project app --name K` brings it back")
}

func TestSecretRollbackNeedsConfirmation(t *testing.T) {
	s := newSession(t)
	s.mustRun("v1", "secret", "add", "--project", "app", "--name", "K")
	s.mustRun("v2", "secret", "add", "--project", "app", "--name", "K", "--yes")

	wantFailure(t, s.run("y\n", "secret", "rollback", "--project", "app", "--name", "K", "--to-revision", "1"), 2,
		"refusing to roll back secret app/K without confirmation: it changes the live value, and stdin is not a terminal; pass --yes")

	s.terminal = true
	r := s.run("n\n", "secret", "rollback", "--project", "app", "--name", "K", "--to-revision", "1")
	if r.code != 1 || !regexp.MustCompile(`Roll back secret app/K \(revision 2\) to the value of revision 1 \(written `+when+` by cli-test@example\)\? \[y/N\]: Error: secret app/K was not rolled back: not confirmed\n$`).MatchString(r.stderr) {
		t.Errorf("answering n:\n%s", r)
	}
	r = s.mustRun("y\n", "secret", "rollback", "--project", "app", "--name", "K", "--to-revision", "1")
	if !strings.HasPrefix(r.stdout, "Rolled back secret app/K to the value of revision 1: now revision 3 ") {
		t.Errorf("answering y:\n%s", r)
	}
	s.terminal = false
	if r := s.mustRun("", "secret", "get", "--project", "app", "--name", "K"); r.stdout != "v1" {
		t.Errorf("value = %q, want v1", r.stdout)
	}
}

func TestSecretRollbackAgainstStaleRevisionConflicts(t *testing.T) {
	s := newSession(t)
	s.mustRun("v1", "secret", "add", "--project", "app", "--name", "K")
	s.mustRun("v2", "secret", "add", "--project", "app", "--name", "K", "--yes")
	s.mustRun("", "secret", "rollback", "--project", "app", "--name", "K", "--to-revision", "1", "--expected-revision", "2", "--yes")

	// A second rollback decided on what the history showed before the
	// first one: refused, nothing written.
	wantFailure(t, s.run("", "secret", "rollback", "--project", "app", "--name", "K", "--to-revision", "2", "--expected-revision", "2", "--yes"), 1,
		"secret app/K was changed meanwhile (now revision 3, expected 2); nothing was written; check `pgsecrets secret history --project app --name K` and re-run")
	if r := s.mustRun("", "secret", "get", "--project", "app", "--name", "K"); r.stdout != "v1" {
		t.Errorf("value = %q, want the first rollback's v1", r.stdout)
	}

	// Someone writes while the operator reads the confirmation: the
	// store's compare-and-swap refuses the rollback.
	stdin := &interleaved{
		before: func() {
			s.terminal = false
			s.mustRun("v4-theirs", "secret", "add", "--project", "app", "--name", "K", "--yes")
			s.terminal = true
		},
		r: strings.NewReader("y\n"),
	}
	s.terminal = true
	r := s.runReading(stdin, "secret", "rollback", "--project", "app", "--name", "K", "--to-revision", "2")
	if r.code != 1 || !strings.HasSuffix(r.stderr, "Error: secret app/K was changed meanwhile (now revision 4, expected 3); nothing was written; check `pgsecrets secret history --project app --name K` and re-run\n") {
		t.Errorf("rollback of a secret changed during the confirmation:\n%s", r)
	}
	s.terminal = false
	if r := s.mustRun("", "secret", "get", "--project", "app", "--name", "K"); r.stdout != "v4-theirs" {
		t.Errorf("value = %q, want the concurrent writer's kept", r.stdout)
	}
}

func TestSecretDeleteThenUndeleteBringsBackValue(t *testing.T) {
	s := newSession(t)
	s.mustRun("v1", "secret", "add", "--project", "app", "--name", "K", "--description", "the key", "--category", "db")
	s.mustRun("v2", "secret", "add", "--project", "app", "--name", "K", "--yes")

	r := s.mustRun("", "secret", "delete", "--project", "app", "--name", "K", "--yes")
	if !regexp.MustCompile("^Deleted secret app/K \\(revision 2\\); `pgsecrets secret undelete --project app --name K` brings it back until " + when + ` \(deleted secrets are kept 30d\)\n$`).MatchString(r.stdout) {
		t.Errorf("delete printed:\n%s", r)
	}
	wantFailure(t, s.run("", "secret", "get", "--project", "app", "--name", "K"), 1, `secret "app/K" not found`)

	r = s.mustRun("", "secret", "undelete", "--project", "app", "--name", "K")
	if want := "Undeleted secret app/K: now revision 3 (key " + s.projectKID("app") + ")\n"; r.stdout != want || r.stderr != "" {
		t.Errorf("undelete printed:\n%s\nwant stdout %q", r, want)
	}
	if r := s.mustRun("", "secret", "get", "--project", "app", "--name", "K"); r.stdout != "v2" {
		t.Errorf("value after undelete = %q, want v2", r.stdout)
	}
	var metas []store.SecretMeta
	if err := json.Unmarshal([]byte(s.mustRun("", "secret", "list", "--output", "json").stdout), &metas); err != nil || len(metas) != 1 || metas[0].Description != "the key" || metas[0].Category != "db" {
		t.Errorf("undeleted secret's metadata = %+v (%v)", metas, err)
	}
	wantLines(t, s.mustRun("", "secret", "history", "--project", "app", "--name", "K"),
		`^REVISION `, `^3 .* undelete \(current\)$`, `^2 .* update \(deleted `+when+`\)$`, `^1 .* create$`)

	wantFailure(t, s.run("", "secret", "undelete", "--project", "app", "--name", "K"), 1,
		`secret "app/K" exists: only a deleted secret can be undeleted`)
	wantFailure(t, s.run("", "secret", "undelete", "--project", "app", "--name", "NEVER"), 1,
		"secret app/NEVER has no deleted value to bring back: it was never deleted, was destroyed, or was pruned after its undelete window")

	// Past the window, undelete is refused and says so.
	s.mustRun("", "secret", "delete", "--project", "app", "--name", "K", "--yes")
	s.sql(`update pgsecrets.secret_versions set replaced_at = now() - interval '31 days' where project = 'app' and name = 'K' and deleted`)
	wantFailure(t, s.run("", "secret", "undelete", "--project", "app", "--name", "K"), 1,
		"past the retention window for undelete", "`pgsecrets history prune`")

	// With no limit, the delete says so.
	s.mustRun("", "history", "retention", "--project", "nolimit", "--deleted-for", "0")
	s.mustRun("v", "secret", "add", "--project", "nolimit", "--name", "K")
	r = s.mustRun("", "secret", "delete", "--project", "nolimit", "--name", "K", "--yes", "--output", "json")
	if strings.Contains(r.stdout, "undeletable_until") {
		t.Errorf("delete JSON with no undelete limit:\n%s", r)
	}
	s.mustRun("", "secret", "undelete", "--project", "nolimit", "--name", "K")
	r = s.mustRun("", "secret", "delete", "--project", "nolimit", "--name", "K", "--yes")
	if want := "Deleted secret nolimit/K (revision 2); `pgsecrets secret undelete --project nolimit --name K` brings it back (the retention sets no time limit; `pgsecrets secret destroy` removes it for good)\n"; r.stdout != want {
		t.Errorf("delete with no undelete limit printed %q, want %q", r.stdout, want)
	}
}

func TestSecretDestroyNeedsYesAndLeavesNothing(t *testing.T) {
	s := newSession(t)
	s.mustRun("v1", "secret", "add", "--project", "app", "--name", "K")
	s.mustRun("v2", "secret", "add", "--project", "app", "--name", "K", "--yes")
	s.mustRun("v3", "secret", "add", "--project", "app", "--name", "K", "--yes")

	const refusal = "refusing to destroy secret app/K without --yes: it removes the secret and all 3 of its revisions for good, with no undelete"
	wantFailure(t, s.run("", "secret", "destroy", "--project", "app", "--name", "K"), 2, refusal)
	s.terminal = true // a terminal is no confirmation either
	wantFailure(t, s.run("y\n", "secret", "destroy", "--project", "app", "--name", "K"), 2, refusal)
	s.terminal = false
	if r := s.mustRun("", "secret", "get", "--project", "app", "--name", "K", "--revision", "1"); r.stdout != "v1" {
		t.Errorf("a refused destroy changed the history:\n%s", r)
	}

	r := s.mustRun("", "secret", "destroy", "--project", "app", "--name", "K", "--yes")
	if r.stdout != "Destroyed secret app/K: 3 revision(s) removed for good\n" || r.stderr != "" {
		t.Errorf("destroy printed:\n%s", r)
	}
	wantFailure(t, s.run("", "secret", "history", "--project", "app", "--name", "K"), 1, `secret "app/K" not found`)
	wantFailure(t, s.run("", "secret", "get", "--project", "app", "--name", "K", "--revision", "1"), 1, `secret "app/K" not found`)
	wantFailure(t, s.run("", "secret", "undelete", "--project", "app", "--name", "K"), 1, "secret app/K has no deleted value to bring back")
	wantFailure(t, s.run("", "secret", "destroy", "--project", "app", "--name", "K", "--yes"), 1, `secret "app/K" not found`)

	// A deleted secret is destroyed too, with its JSON answer.
	s.mustRun("v", "secret", "add", "--project", "app", "--name", "GONE")
	s.mustRun("", "secret", "delete", "--project", "app", "--name", "GONE", "--yes")
	wantFailure(t, s.run("", "secret", "destroy", "--project", "app", "--name", "GONE"), 2,
		"it removes the deleted secret's 1 kept revision(s) for good")
	r = s.mustRun("", "secret", "destroy", "--project", "app", "--name", "GONE", "--yes", "--output", "json")
	var out struct {
		Destroyed        bool  `json:"destroyed"`
		RevisionsRemoved int64 `json:"revisions_removed"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || !out.Destroyed || out.RevisionsRemoved != 1 {
		t.Errorf("destroy JSON = %+v (%v)\n%s", out, err, r)
	}
	wantFailure(t, s.run("", "secret", "undelete", "--project", "app", "--name", "GONE"), 1, "no deleted value to bring back")
}
