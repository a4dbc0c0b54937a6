package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// projectKID is the kid of project's primary key, which encrypts its new
// values, as `key status` shows it.
func (s *session) projectKID(project string) string {
	s.t.Helper()
	r := s.mustRun("", "key", "status", "--project", project, "--output", "json")
	var keys []struct {
		KID   string `json:"kid"`
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &keys); err != nil || len(keys) == 0 || keys[0].State != "primary" {
		s.t.Fatalf("project %s has no primary key (%v):\n%s", project, err, r)
	}
	return keys[0].KID
}

// rootKID is the kid of the session's only root key.
func (s *session) rootKID() string {
	s.t.Helper()
	b, err := os.ReadFile(s.keysFile)
	if err != nil {
		s.t.Fatal(err)
	}
	var keys []struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(b, &keys); err != nil || len(keys) != 1 {
		s.t.Fatalf("root keys file: %v", err)
	}
	return keys[0].KID
}

func TestSecretAddFromStdinThenGetReturnsExactValue(t *testing.T) {
	s := newSession(t)
	// One trailing newline (what echo adds) is dropped; everything else,
	// inner newlines and trailing spaces included, is kept.
	const value = "line one\n  line two with ünïcode  \n"
	r := s.mustRun(value+"\n", "secret", "add", "--project", "billing", "--name", "STRIPE_KEY", "--category", "payments")
	if want := "Created secret billing/STRIPE_KEY (revision 1, key " + s.projectKID("billing") + ")\n"; r.stdout != want {
		t.Errorf("add printed %q, want %q", r.stdout, want)
	}

	r = s.mustRun("", "secret", "get", "--project", "billing", "--name", "STRIPE_KEY")
	if r.stdout != value {
		t.Errorf("get printed %q, want exactly %q", r.stdout, value)
	}
	if r.stderr != "" {
		t.Errorf("get wrote to stderr: %q", r.stderr)
	}

	// On a terminal, a newline follows so the prompt starts on its own line.
	s.terminal = true
	r = s.mustRun("", "secret", "get", "--project", "billing", "--name", "STRIPE_KEY")
	if r.stdout != value+"\n" {
		t.Errorf("get on a terminal printed %q, want %q", r.stdout, value+"\n")
	}
	s.terminal = false

	var got struct {
		Project, Name, Value, KID, Category string
		Revision                            int64
		UpdatedBy                           string `json:"updated_by"`
	}
	r = s.mustRun("", "secret", "get", "--project", "billing", "--name", "STRIPE_KEY", "--output", "json")
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("get --output json is not JSON: %v\n%s", err, r)
	}
	if got.Project != "billing" || got.Name != "STRIPE_KEY" || got.Value != value || got.Revision != 1 || got.KID != s.projectKID("billing") || got.Category != "payments" || got.UpdatedBy != "cli-test@example" {
		t.Errorf("get JSON = %+v", got)
	}
}

func TestSecretAddFromValueFileStripsOneNewline(t *testing.T) {
	s := newSession(t)
	file := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(file, []byte("-----BEGIN KEY-----\nabc\n-----END KEY-----\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.mustRun("ignored stdin", "secret", "add", "--project", "web", "--name", "TLS_KEY", "--file", file)
	r := s.mustRun("", "secret", "get", "--project", "web", "--name", "TLS_KEY")
	if want := "-----BEGIN KEY-----\nabc\n-----END KEY-----"; r.stdout != want {
		t.Errorf("get printed %q, want %q", r.stdout, want)
	}

	wantFailure(t, s.run("", "secret", "add", "--project", "web", "--name", "OTHER", "--file", filepath.Join(t.TempDir(), "missing")),
		1, "read the value: open ", "no such file")
}

func TestSecretAddPromptsWithoutEchoOnTerminal(t *testing.T) {
	s := newSession(t)
	s.terminal = true
	r := s.mustRun("typed at the prompt\n", "secret", "add", "--project", "app", "--name", "TOKEN")
	if r.stderr != "Value for app/TOKEN: \n" {
		t.Errorf("stderr = %q, want the prompt then a newline", r.stderr)
	}
	s.terminal = false
	if r := s.mustRun("", "secret", "get", "--project", "app", "--name", "TOKEN"); r.stdout != "typed at the prompt" {
		t.Errorf("get printed %q", r.stdout)
	}
}

// secret add refuses an empty value, from stdin, the prompt or a file,
// and one over 1 MiB, with the store's message (the one every writer
// gives), never the value; 1 MiB and the newline a pipe adds is taken.
func TestSecretAddRefusesEmptyAndOversizedValuesAsEveryWriterDoes(t *testing.T) {
	s := newSession(t)
	empty := store.ValidateValue("app", "BIG", "").Error() + "; nothing was written"
	wantFailure(t, s.run("", "secret", "add", "--project", "app", "--name", "BIG"), 1, empty)
	wantFailure(t, s.run("\n", "secret", "add", "--project", "app", "--name", "BIG"), 1, empty)
	s.terminal = true
	if r := s.run("\n", "secret", "add", "--project", "app", "--name", "BIG"); r.code != 1 || !strings.Contains(r.stderr, "\nError: "+empty+"\n") {
		t.Errorf("an empty value at the prompt was not refused so:\n%s", r)
	}
	s.terminal = false

	const canary = "canary-5d1e-oversized-"
	tooBig := strings.Repeat(canary, store.MaxValueBytes/len(canary)+1)[:store.MaxValueBytes+1]
	file := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(file, []byte(tooBig), 0o600); err != nil {
		t.Fatal(err)
	}
	oversized := store.ValidateValue("app", "BIG", tooBig).Error() + "; nothing was written"
	for _, r := range []result{
		s.run(tooBig, "secret", "add", "--project", "app", "--name", "BIG"),
		s.run("", "secret", "add", "--project", "app", "--name", "BIG", "--file", file),
	} {
		wantFailure(t, r, 1, oversized)
		if strings.Contains(r.stdout+r.stderr, "canary") {
			t.Fatalf("the refusal shows the value:\n%s", r)
		}
	}
	wantFailure(t, s.run("", "secret", "get", "--project", "app", "--name", "BIG"), 1, `secret "app/BIG" not found`)

	exact := tooBig[:store.MaxValueBytes]
	s.mustRun(exact+"\n", "secret", "add", "--project", "app", "--name", "BIG")
	if got := s.mustRun("", "secret", "get", "--project", "app", "--name", "BIG").stdout; got != exact {
		t.Fatalf("stored %d bytes, want the 1 MiB given", len(got))
	}
}

func TestSecretAddRefusesOverwriteWithoutYes(t *testing.T) {
	s := newSession(t)
	s.mustRun("first", "secret", "add", "--project", "app", "--name", "DB_PASSWORD", "--description", "primary db", "--category", "db")

	r := s.run("second", "secret", "add", "--project", "app", "--name", "DB_PASSWORD")
	wantFailure(t, r, 2, "secret app/DB_PASSWORD already exists (revision 1); pass --yes to replace it")
	if r := s.mustRun("", "secret", "get", "--project", "app", "--name", "DB_PASSWORD"); r.stdout != "first" {
		t.Errorf("value after a refused add = %q, want it unchanged", r.stdout)
	}

	r = s.mustRun("second", "secret", "add", "--project", "app", "--name", "DB_PASSWORD", "--yes")
	if want := "Updated secret app/DB_PASSWORD (revision 2, key " + s.projectKID("app") + ")\n"; r.stdout != want {
		t.Errorf("add --yes printed %q, want %q", r.stdout, want)
	}
	if r := s.mustRun("", "secret", "get", "--project", "app", "--name", "DB_PASSWORD"); r.stdout != "second" {
		t.Errorf("value after add --yes = %q, want %q", r.stdout, "second")
	}

	// -y, with a new category: the description is kept, the category changes.
	r = s.mustRun("third", "secret", "add", "--project", "app", "--name", "DB_PASSWORD", "-y", "--category", "database", "--output", "json")
	var meta struct {
		Action string `json:"action"`
		store.SecretMeta
	}
	if err := json.Unmarshal([]byte(r.stdout), &meta); err != nil {
		t.Fatalf("add --output json is not JSON: %v\n%s", err, r)
	}
	if meta.Action != "updated" || meta.Revision != 3 || meta.Description != "primary db" || meta.Category != "database" {
		t.Errorf("add JSON = %+v", meta)
	}
}

func TestSecretListShowsMetadataNeverValues(t *testing.T) {
	s := newSession(t)
	s.mustRun("value-of-a", "secret", "add", "--project", "billing", "--name", "A", "--category", "payments")
	s.mustRun("value-of-b", "secret", "add", "--project", "billing", "--name", "B")
	s.mustRun("value-of-c", "secret", "add", "--project", "search", "--name", "C")

	s.mustRun("value-of-d", "secret", "add", "--project", "billing", "--name", "D", "--category", "payments")

	// Text output is grouped by project, then category, names sorted inside.
	r := s.mustRun("", "secret", "list")
	kid := regexp.QuoteMeta(s.projectKID("billing"))
	want := []string{
		`^billing / uncategorized \(1\)$`,
		`^  NAME +REVISION +KID +RESTART +UPDATED +UPDATED BY$`,
		`^  B +1 +` + kid + ` +no `,
		`^$`,
		`^billing / payments \(2\)$`,
		`^  NAME `,
		`^  A +1 +` + kid + ` +no +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ +cli-test@example$`,
		`^  D +1 `,
		`^$`,
		`^search / uncategorized \(1\)$`,
		`^  NAME `,
		`^  C +1 `,
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("list has %d lines, want %d:\n%s", len(lines), len(want), r)
	}
	for i, w := range want {
		if !regexp.MustCompile(w).MatchString(lines[i]) {
			t.Errorf("line %d = %q, want it to match %s", i+1, lines[i], w)
		}
	}
	if strings.Contains(r.stdout, "value-of") {
		t.Errorf("list shows a value:\n%s", r.stdout)
	}

	r = s.mustRun("", "secret", "list", "--project", "billing", "--output", "json")
	var metas []store.SecretMeta
	if err := json.Unmarshal([]byte(r.stdout), &metas); err != nil {
		t.Fatalf("list --output json is not JSON: %v\n%s", err, r)
	}
	if len(metas) != 3 || metas[0].Name != "A" || metas[1].Name != "B" || metas[0].Category != "payments" || time.Since(metas[0].UpdatedAt) > time.Hour {
		t.Errorf("list JSON = %+v", metas)
	}
	if strings.Contains(r.stdout, "value-of") {
		t.Errorf("list JSON shows a value:\n%s", r.stdout)
	}

	r = s.mustRun("", "secret", "list", "--project", "nothing-here")
	if r.stdout != "" || r.stderr != "No secrets in project nothing-here.\n" {
		t.Errorf("an empty list printed:\n%s", r)
	}
	if r := s.mustRun("", "secret", "list", "--project", "nothing-here", "--output", "json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("an empty JSON list is %q, want []", r.stdout)
	}
}

func TestSecretDeleteNeedsConfirmation(t *testing.T) {
	s := newSession(t)
	s.mustRun("v", "secret", "add", "--project", "app", "--name", "OLD")

	// A script without --yes is refused, and nothing is deleted.
	wantFailure(t, s.run("y\n", "secret", "delete", "--project", "app", "--name", "OLD"), 2,
		"refusing to delete secret app/OLD without confirmation: stdin is not a terminal; pass --yes")

	// On a terminal, anything but yes keeps the secret.
	s.terminal = true
	r := s.run("n\n", "secret", "delete", "--project", "app", "--name", "OLD")
	if r.code != 1 || !strings.Contains(r.stderr, "Delete secret app/OLD (revision 1, updated ") || !strings.Contains(r.stderr, "[y/N]: Error: secret app/OLD was not deleted: not confirmed\n") {
		t.Errorf("answering n:\n%s", r)
	}
	s.terminal = false
	s.mustRun("", "secret", "get", "--project", "app", "--name", "OLD")

	s.terminal = true
	r = s.mustRun("yes\n", "secret", "delete", "--project", "app", "--name", "OLD")
	if !strings.HasPrefix(r.stdout, "Deleted secret app/OLD (revision 1); `pgsecrets secret undelete --project app --name OLD` brings it back until ") {
		t.Errorf("delete printed %q", r.stdout)
	}
	s.terminal = false
	wantFailure(t, s.run("", "secret", "get", "--project", "app", "--name", "OLD"), 1,
		`secret "app/OLD" not found; `+"`pgsecrets secret list --project app` shows the project's secrets")

	s.mustRun("v", "secret", "add", "--project", "app", "--name", "OLD2")
	r = s.mustRun("", "secret", "delete", "--project", "app", "--name", "OLD2", "--yes", "--output", "json")
	var del struct {
		Project, Name string
		Revision      int64
		Deleted       bool
	}
	if err := json.Unmarshal([]byte(r.stdout), &del); err != nil || !del.Deleted || del.Name != "OLD2" || del.Revision != 1 {
		t.Errorf("delete JSON = %+v (%v)", del, err)
	}
	wantFailure(t, s.run("", "secret", "delete", "--project", "app", "--name", "OLD2", "--yes"), 1, `secret "app/OLD2" not found`)
}

func TestKeyStatusCountsSecretsPerKey(t *testing.T) {
	s := newSession(t)
	s.mustRun("a", "secret", "add", "--project", "app", "--name", "A")
	s.mustRun("b", "secret", "add", "--project", "app", "--name", "B")
	s.mustRun("b2", "secret", "add", "--project", "app", "--name", "B", "--yes")
	s.mustRun("c", "secret", "add", "--project", "web", "--name", "C")
	kid := s.rootKID()

	// The root key wraps the two projects' keys and encrypts no secret
	// itself; each project key encrypts its project's values.
	r := s.mustRun("", "key", "status")
	want := regexp.MustCompile(`(?m)\A^KID +KIND +STATE +SECRETS +VERSIONS +UNBOUND +ROW-ONLY +DATA KEYS +PROJECT KEYS\n` + regexp.QuoteMeta(kid) + ` +root +primary +0 +0 +0 +0 +0 +2\n\n` +
		`PROJECT +KID +STATE +WRAPPED BY +AGE +SECRETS +VERSIONS\n` +
		`app +pk-\S+ +primary +` + regexp.QuoteMeta(kid) + ` +\d+s +2 +1\n` +
		`web +pk-\S+ +primary +` + regexp.QuoteMeta(kid) + ` +\d+s +1 +0\n` +
		`Project keys: in use since \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ; every project's new values go under its own key\.\n\z`)
	if !want.MatchString(r.stdout) || r.stderr != "" {
		t.Errorf("key status:\n%s", r)
	}
	r = s.mustRun("", "key", "status", "--project", "web")
	if !regexp.MustCompile(`\APROJECT .*\nweb +pk-\S+ +primary .* 1 +0\nProject keys: in use since `).MatchString(r.stdout) {
		t.Errorf("key status --project web does not show only web's key:\n%s", r)
	}

	r = s.mustRun("", "key", "status", "--output", "json")
	var usage []struct {
		store.KeyUsage
		WrappingKID string     `json:"wrapping_kid"`
		CreatedAt   *time.Time `json:"created_at"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &usage); err != nil {
		t.Fatalf("key status --output json is not JSON: %v\n%s", err, r)
	}
	if len(usage) != 3 || usage[0].KeyUsage != (store.KeyUsage{KID: kid, Kind: "root", State: "primary", ProjectKeys: 2}) {
		t.Fatalf("key status JSON = %+v", usage)
	}
	for i, p := range []string{"app", "web"} {
		u := usage[i+1]
		if u.Kind != "project" || u.Project != p || u.State != "primary" || u.WrappingKID != kid || u.CreatedAt == nil || time.Since(*u.CreatedAt) > time.Hour {
			t.Errorf("key status JSON row %d = %+v, want project %s's key wrapped by %s", i+1, u, p, kid)
		}
	}
	if usage[1].Secrets != 2 || usage[1].Versions != 1 {
		t.Errorf("app's key counts %d secret(s), %d version(s), want 2 and 1", usage[1].Secrets, usage[1].Versions)
	}

	// A freshly generated key file is not this deployment's: refused,
	// with what to do, before anything is written under it.
	s.keysFile = s.generateKeysFile("other-keys.json")
	wantFailure(t, s.run("c", "secret", "add", "--project", "app", "--name", "C"), 1,
		"none of the configured root keys", "is registered in this database", "pgsecrets key register --yes")
	wantFailure(t, s.run("", "key", "status"), 1, "not this deployment's key file")

	// Registered on purpose, the new set works; the old kid is a registered
	// root key it lacks, and it wraps the project keys: exit 0, and a
	// warning.
	r = s.mustRun("", "key", "register", "--yes")
	if !strings.HasPrefix(r.stdout, "Registered root key(s) ") {
		t.Errorf("key register --yes:\n%s", r)
	}
	r = s.mustRun("", "key", "status")
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(kid) + ` +root +registered +0 +0 +0 +0 +0 +2$`).MatchString(r.stdout) {
		t.Errorf("key status does not list the old kid as a registered root key:\n%s", r)
	}
	if want := "Warning: 2 project key(s) are wrapped by root key \"" + kid + "\", which the database has registered but the configured root keys lack"; !strings.HasPrefix(r.stderr, want) {
		t.Errorf("stderr lacks the warning %q:\n%s", want, r.stderr)
	}
}

func TestMissingRootKeysGiveSettingsError(t *testing.T) {
	s := newSession(t)
	s.keysFile = ""
	// Commands that read no value run without root keys (see
	// no_root_keys_test.go); these need them.
	for _, args := range [][]string{
		{"secret", "get", "--project", "app", "--name", "A"},
		{"audit", "verify"},
		{"reencrypt"},
	} {
		wantFailure(t, s.run("", args...), 1, "Error: no root keys: set PGSECRETS_ROOT_KEYS")
	}
	s.keysFile = filepath.Join(t.TempDir(), "missing.json")
	wantFailure(t, s.run("", "secret", "list"), 1, "read root keys file: open "+s.keysFile)

	// The environment is a source too.
	t.Setenv("PGSECRETS_ROOT_KEYS", `[{"kty":"oct","kid":"k1","alg":"dir","enc":"A256GCM","k":"c2hvcnQ"}]`)
	s.keysFile = ""
	wantFailure(t, s.run("", "secret", "list"), 1, `root key "k1" (#1): k is 5 bytes but alg dir with enc A256GCM needs 32 bytes (from PGSECRETS_ROOT_KEYS)`)
}

func TestSecretAddYesLosesToConcurrentWriteAndSaysRetry(t *testing.T) {
	s := newSession(t)
	s.mustRun("v1", "secret", "add", "--project", "app", "--name", "K")
	stdin := &interleaved{
		before: func() { s.mustRun("v2-theirs", "secret", "add", "--project", "app", "--name", "K", "--yes") },
		r:      strings.NewReader("v2-mine"),
	}
	r := s.runReading(stdin, "secret", "add", "--project", "app", "--name", "K", "--yes")
	wantFailure(t, r, 1, "secret app/K was changed by someone else meanwhile (revision 2, expected 1); nothing was written; retry to replace it")
	if r := s.mustRun("", "secret", "get", "--project", "app", "--name", "K"); r.stdout != "v2-theirs" {
		t.Errorf("value = %q, want the concurrent writer's", r.stdout)
	}

	// Created by someone else between the check and the write.
	stdin = &interleaved{
		before: func() { s.mustRun("theirs", "secret", "add", "--project", "app", "--name", "NEW") },
		r:      strings.NewReader("mine"),
	}
	r = s.runReading(stdin, "secret", "add", "--project", "app", "--name", "NEW")
	wantFailure(t, r, 1, "secret app/NEW was created by someone else meanwhile (revision 1); nothing was written; retry with --yes to replace it")
}

func TestSecretDeleteKeepsSecretChangedDuringConfirmation(t *testing.T) {
	s := newSession(t)
	s.mustRun("v1", "secret", "add", "--project", "app", "--name", "K")
	stdin := &interleaved{
		before: func() {
			s.terminal = false
			s.mustRun("v2", "secret", "add", "--project", "app", "--name", "K", "--yes")
			s.terminal = true
		},
		r: strings.NewReader("y\n"),
	}
	s.terminal = true
	r := s.runReading(stdin, "secret", "delete", "--project", "app", "--name", "K")
	if r.code != 1 || !strings.HasSuffix(r.stderr, "Error: secret app/K was changed by someone else meanwhile (now revision 2); nothing was deleted; check it and retry\n") {
		t.Errorf("delete of a secret changed during the confirmation:\n%s", r)
	}
	s.terminal = false
	if r := s.mustRun("", "secret", "get", "--project", "app", "--name", "K"); r.stdout != "v2" {
		t.Errorf("value = %q, want v2 kept", r.stdout)
	}
}
