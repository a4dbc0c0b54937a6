package cli

import (
	"bytes"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
)

func TestRootKeysFileReadableByOthersWarnsOnceOnStderr(t *testing.T) {
	s := newSession(t)
	if err := os.Chmod(s.keysFile, 0o644); err != nil {
		t.Fatal(err)
	}
	r := s.mustRun("", "secret", "list", "--output", "json")
	want := "Warning: root keys file " + s.keysFile + " has mode 0644, so users other than its owner can read it: run `chmod 600 " + s.keysFile + "`\n"
	if r.stderr != want {
		t.Errorf("stderr:\n got %q\nwant %q", r.stderr, want)
	}
	if strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("stdout = %q, want the empty list: a warning does not stop the command", r.stdout)
	}

	if err := os.Chmod(s.keysFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := s.mustRun("", "secret", "list", "--output", "json"); r.stderr != "" {
		t.Errorf("stderr after chmod 600 = %q, want nothing", r.stderr)
	}
}

func TestLocalDatabaseWithoutSSLModeConnectsWithoutWarning(t *testing.T) {
	t.Setenv("PGSSLMODE", "")
	s := newSession(t)
	u, err := url.Parse(s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("sslmode")
	u.RawQuery = q.Encode()
	s.dbURL = u.String()
	if r := s.mustRun("", "secret", "list", "--output", "json"); r.stderr != "" {
		t.Errorf("stderr = %q, want nothing for a database on this machine", r.stderr)
	}
}

// TestRemoteDatabaseWithoutSSLModeWarnsOnStderr uses an address reserved
// for documentation (RFC 5737), which no server answers: the warning comes
// before the connection is tried, so it shows even though connecting fails.
func TestRemoteDatabaseWithoutSSLModeWarnsOnStderr(t *testing.T) {
	clearSettingsEnv(t)
	t.Setenv("PGSSLMODE", "")
	remote := "postgres://app:hunter2@192.0.2.1:5432/app?connect_timeout=1"

	r := runCLI(t, "", false, "migrate", "status", "--database-url", remote)
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if r.code != 1 || len(lines) != 2 || !strings.HasPrefix(lines[1], "Error: ") {
		t.Fatalf("want exit 1 with a warning line and an error line:\n%s", r)
	}
	want := "Warning: the connection to 192.0.2.1 sets no sslmode, so it is neither required to be encrypted nor verified " +
		"(pgx then uses sslmode=prefer, which falls back to plaintext and accepts any server certificate): " +
		"add sslmode=verify-full and sslrootcert=FILE (the CA certificate that signed the server's) to the database URL, " +
		"or set PGSSLMODE=verify-full and PGSSLROOTCERT=FILE"
	if lines[0] != want {
		t.Errorf("warning:\n got %s\nwant %s", lines[0], want)
	}
	if strings.Contains(r.stderr, "hunter2") {
		t.Errorf("stderr shows the password:\n%s", r.stderr)
	}

	// An explicit sslmode, in the URL or in PGSSLMODE, is the operator's choice.
	r = runCLI(t, "", false, "migrate", "status", "--database-url", remote+"&sslmode=require")
	if strings.Contains(r.stderr, "Warning") {
		t.Errorf("warning despite sslmode=require:\n%s", r)
	}
	t.Setenv("PGSSLMODE", "require")
	r = runCLI(t, "", false, "migrate", "status", "--database-url", remote)
	if strings.Contains(r.stderr, "Warning") {
		t.Errorf("warning despite PGSSLMODE=require:\n%s", r)
	}
}

func TestWarningsPrintOncePerCommand(t *testing.T) {
	var stderr bytes.Buffer
	g := &globalOptions{IO: &IOStreams{ErrOut: &stderr}}
	w := settings.Warning{Summary: "s", Detail: "root keys file f has mode 0644"}
	g.warn(w)
	g.warn(w)
	if got := stderr.String(); got != "Warning: root keys file f has mode 0644\n" {
		t.Errorf("stderr = %q, want the warning once", got)
	}
}

// A secret named like a variable that changes how programs start is
// stored, with a warning that `run` will refuse it; other names store
// quietly.
func TestStoringAStartupVariableNameWarns(t *testing.T) {
	s := newSession(t)
	const warning = "Warning: secret BASH_ENV is named like a variable that changes how programs start (a shell reads it when it starts or runs commands, and can run code from it): `pgsecrets run` refuses to pass it unless given --allow-startup-var BASH_ENV; rename it unless a program must really get it\n"
	r := s.mustRun("$(id)", "secret", "add", "--project", "app", "--name", "BASH_ENV")
	if r.stderr != warning {
		t.Errorf("secret add stderr:\n got %q\nwant %q", r.stderr, warning)
	}
	if r := s.mustRun("v", "secret", "add", "--project", "app", "--name", "APP_TOKEN"); r.stderr != "" {
		t.Errorf("secret add of an ordinary name warns: %q", r.stderr)
	}

	r = s.mustRun("LD_PRELOAD=/tmp/x.so\nAPP_OTHER=v\n", "import-env", "--project", "app", "--file", "-")
	want := "Warning: secret LD_PRELOAD is named like a variable that changes how programs start (the dynamic loader reads it to load libraries into every program it starts): `pgsecrets run` refuses to pass it unless given --allow-startup-var LD_PRELOAD; rename it unless a program must really get it\n"
	if r.stderr != want {
		t.Errorf("import-env stderr:\n got %q\nwant %q", r.stderr, want)
	}
	if strings.Contains(r.stderr+r.stdout, "/tmp/x.so") {
		t.Errorf("a value is in the output:\n%s", r)
	}
}
