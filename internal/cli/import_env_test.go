package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

const canaryEnv = `# migrated from the old app server
export OPENAI_API_KEY=sk-proj-CANARYopenai1
SLACK_BOT_TOKEN="xoxb-CANARYslack2" # bot
GITHUB_APP_PRIVATE_KEY="-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----"
SLACK_APP_TOKEN='xoxb-CANARYwrongshape3'
DB_PASSWORD='pa#ss CANARYdb4'
EMPTY=
`

func writeEnvFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImportEnvStoresValidSkipsExistingAndNeverPrintsValues(t *testing.T) {
	s := newSession(t)
	file := writeEnvFile(t, canaryEnv)
	s.mustRun("old-db-password", "secret", "add", "--project", "app", "--name", "DB_PASSWORD")

	// Dry run: the same report, nothing written.
	r := s.run("", "import-env", "--project", "app", "--file", file, "--dry-run")
	if r.code != 1 || !strings.Contains(r.stdout, "Dry run, nothing written: 3 imported, 0 replaced, 1 skipped, 2 invalid") {
		t.Fatalf("dry run:\n%s", r)
	}
	if out := s.mustRun("", "secret", "list", "--project", "app", "--output", "json").stdout; strings.Count(out, `"name"`) != 1 {
		t.Fatalf("dry run wrote secrets:\n%s", out)
	}

	r = s.run("", "import-env", "--project", "app", "--file", file)
	wantFailure(t, r, 1, "2 secret(s)", "invalid", "--no-validate")
	for _, want := range []string{
		"SOURCE  NAME                    RESULT    CATEGORY  REASON\n",
		"line 2  OPENAI_API_KEY          imported  ai        -\n",
		"line 7  SLACK_APP_TOKEN         invalid   slack     the value of SLACK_APP_TOKEN does not look like a token starting with \"xapp-\"",
		"line 8  DB_PASSWORD             skipped   -         already exists (revision 1); --overwrite replaces it",
		"line 9  EMPTY                   invalid   -         " + store.ValidateValue("app", "EMPTY", "").Error(),
		"3 imported, 0 replaced, 1 skipped, 2 invalid, from " + file + " into project app.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("import output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "CANARY") {
		t.Fatalf("a value was printed:\n%s", r)
	}

	// Multi-line and quoted values arrive exactly.
	if got := s.mustRun("", "secret", "get", "--project", "app", "--name", "GITHUB_APP_PRIVATE_KEY").stdout; !strings.HasPrefix(got, "-----BEGIN PRIVATE KEY-----\nMC4C") || !strings.HasSuffix(got, "\n-----END PRIVATE KEY-----") {
		t.Errorf("multi-line value stored as %q", got)
	}
	if got := s.mustRun("", "secret", "get", "--project", "app", "--name", "SLACK_BOT_TOKEN").stdout; got != "xoxb-CANARYslack2" {
		t.Errorf("quoted value stored as %q", got)
	}
	// One audit event per stored secret, none carrying a value.
	audit := s.mustRun("", "audit", "export", "--action", "secret.create").stdout
	if n := strings.Count(audit, "\n"); n != 4 { // the manual add and 3 imports
		t.Errorf("%d secret.create events, want 4:\n%s", n, audit)
	}
	if strings.Contains(audit, "CANARY") {
		t.Errorf("audit holds a value:\n%s", audit)
	}

	// Fixed file, second run: stored names are skipped; the plaintext file
	// removal is suggested.
	fixed := strings.Replace(strings.Replace(canaryEnv, "xoxb-CANARYwrongshape3", "xapp-1-fixed", 1), "EMPTY=\n", "", 1)
	if err := os.WriteFile(file, []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	r = s.mustRun("", "import-env", "--project", "app", "--file", file, "--overwrite", "--output", "json")
	var sum struct {
		Imported, Replaced, Skipped, Invalid int
	}
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Imported != 1 || sum.Replaced != 4 || sum.Invalid != 0 {
		t.Errorf("second import = %+v, want 1 imported and 4 replaced", sum)
	}
	if !strings.Contains(r.stderr, "Delete the plaintext file: shred -u "+file) {
		t.Errorf("no suggestion to delete the file:\n%s", r.stderr)
	}
	if got := s.mustRun("", "secret", "get", "--project", "app", "--name", "DB_PASSWORD").stdout; got != "pa#ss CANARYdb4" {
		t.Errorf("--overwrite stored %q", got)
	}
}

func TestImportEnvRefusesAnUnparsableFileBeforeWriting(t *testing.T) {
	s := newSession(t)
	file := writeEnvFile(t, "OPENAI_API_KEY=sk-proj-ok\nBROKEN=\"CANARYunterminated\nX=1\n")
	r := s.run("", "import-env", "--project", "app", "--file", file)
	wantFailure(t, r, 1, "line 2: the double quote opened here is never closed", "nothing was imported")
	if strings.Contains(r.stderr, "CANARY") {
		t.Fatalf("a value was printed:\n%s", r)
	}
	if r := s.mustRun("", "secret", "list", "--project", "app"); r.stdout != "" {
		t.Errorf("secrets were written:\n%s", r)
	}
}

// One value over 1 MiB in an otherwise small file stops the import before
// anything is written, as a line that cannot be parsed does, with the
// store's message and the line, never the value.
func TestImportEnvRefusesAnOversizedValueBeforeWriting(t *testing.T) {
	s := newSession(t)
	const canary = "CANARYbig"
	tooBig := strings.Repeat(canary, store.MaxValueBytes/len(canary)+1)[:store.MaxValueBytes+1]
	file := writeEnvFile(t, "OPENAI_API_KEY=sk-proj-ok\nBIG="+tooBig+"\nDB_PASSWORD=fine\n")
	for _, dryRun := range []bool{true, false} {
		args := []string{"import-env", "--project", "app", "--file", file}
		if dryRun {
			args = append(args, "--dry-run")
		}
		r := s.run("", args...)
		wantFailure(t, r, 1, file+": line 2: "+store.ValidateValue("app", "BIG", tooBig).Error()+"; nothing was imported")
		if strings.Contains(r.stdout+r.stderr, "CANARY") {
			t.Fatalf("a value was printed:\n%s", r)
		}
	}
	if r := s.mustRun("", "secret", "list", "--project", "app"); r.stdout != "" {
		t.Errorf("secrets were written:\n%s", r)
	}
}
