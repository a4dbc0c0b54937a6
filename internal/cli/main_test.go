package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/softhsmtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

func TestMain(m *testing.M) {
	cleanup := softhsmtest.Setup()
	code := pgtest.Run(m)
	cleanup()
	os.Exit(code)
}

// result is what a user sees of one command: exit code, stdout, stderr.
type result struct {
	code   int
	stdout string
	stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// session runs CLI commands the way the binary does (Execute, the root
// command, the same flags), against buffers.
type session struct {
	t        *testing.T
	dbURL    string
	keysFile string
	// terminal makes stdin and stdout look like an interactive terminal.
	terminal bool
}

// clearSettingsEnv keeps the developer's own PGSECRETS_* and DATABASE_URL
// out of the tests.
func clearSettingsEnv(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	t.Setenv(settings.EnvActor, "cli-test@example")
}

// newSession makes a fresh database, migrated with `migrate up`, and a root
// keys file made with `key generate --set`.
func newSession(t *testing.T) *session {
	t.Helper()
	s := newUnmigratedSession(t)
	if r := s.run("", "migrate", "up"); r.code != 0 {
		t.Fatalf("migrate up failed:\n%s", r)
	}
	return s
}

func newUnmigratedSession(t *testing.T) *session {
	t.Helper()
	clearSettingsEnv(t)
	s := &session{t: t, dbURL: pgtest.NewDatabase(t)}
	s.keysFile = s.generateKeysFile("root-keys.json")
	return s
}

// generateKeysFile writes a new root keys file and returns its path.
func (s *session) generateKeysFile(name string, extra ...string) string {
	s.t.Helper()
	r := runCLI(s.t, "", false, append([]string{"key", "generate", "--set"}, extra...)...)
	if r.code != 0 {
		s.t.Fatalf("key generate failed:\n%s", r)
	}
	path := filepath.Join(s.t.TempDir(), name)
	if err := os.WriteFile(path, []byte(r.stdout), 0o600); err != nil {
		s.t.Fatal(err)
	}
	return path
}

// run executes one command line with the session's database and root keys
// given as flags, and stdin as input.
func (s *session) run(stdin string, args ...string) result {
	s.t.Helper()
	return s.runReading(strings.NewReader(stdin), args...)
}

func (s *session) runReading(stdin io.Reader, args ...string) result {
	s.t.Helper()
	full := append([]string{"--database-url", s.dbURL, "--root-keys-file", s.keysFile}, args...)
	return execute(stdin, s.terminal, full...)
}

// runCLI executes one command line exactly as main does.
func runCLI(t *testing.T, stdin string, terminal bool, args ...string) result {
	t.Helper()
	return execute(strings.NewReader(stdin), terminal, args...)
}

func execute(stdin io.Reader, terminal bool, args ...string) result {
	var stdout, stderr bytes.Buffer
	ios := &IOStreams{
		In:            stdin,
		Out:           &stdout,
		ErrOut:        &stderr,
		InIsTerminal:  terminal,
		OutIsTerminal: terminal,
	}
	code := Execute(context.Background(), ios, "1.2.3-test", args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// mustRun fails the test unless the command succeeds.
func (s *session) mustRun(stdin string, args ...string) result {
	s.t.Helper()
	r := s.run(stdin, args...)
	if r.code != 0 {
		s.t.Fatalf("pgsecrets %s failed:\n%s", strings.Join(args, " "), r)
	}
	return r
}

// wantFailure checks the exit code and that stderr is exactly one
// "Error: ..." line containing every fragment.
func wantFailure(t *testing.T, r result, code int, fragments ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d:\n%s", r.code, code, r)
	}
	if !strings.HasPrefix(r.stderr, "Error: ") || strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("stderr is not one \"Error: ...\" line:\n%s", r.stderr)
	}
	for _, f := range fragments {
		if !strings.Contains(r.stderr, f) {
			t.Errorf("stderr lacks %q:\n%s", f, r.stderr)
		}
	}
}

// interleaved is stdin that lets another writer act at the moment the
// command reads its input, i.e. between its read of the secret and its write.
type interleaved struct {
	before func()
	r      io.Reader
}

func (i *interleaved) Read(p []byte) (int, error) {
	if i.before != nil {
		i.before()
		i.before = nil
	}
	return i.r.Read(p)
}
