package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
)

// binResult is what one pgsecrets process printed and how it exited.
type binResult struct {
	args           []string
	stdout, stderr string
	err            error
}

func (r binResult) String() string {
	return fmt.Sprintf("pgsecrets %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.err, r.stdout, r.stderr)
}

// runProcesses runs each command line as its own pgsecrets process, all at
// once, against url with the session's root keys, and fails the test for
// any that does not exit 0.
func (s *session) runProcesses(url string, stdin string, commands ...[]string) []binResult {
	s.t.Helper()
	bin := pgsecretsBinary(s.t)
	results := make([]binResult, len(commands))
	var wg sync.WaitGroup
	for i, args := range commands {
		wg.Add(1)
		go func() {
			defer wg.Done()
			full := append([]string{"--database-url", url, "--root-keys-file", s.keysFile}, args...)
			cmd := exec.Command(bin, full...)
			cmd.Env = append(os.Environ(), "PGSECRETS_ACTOR=pooler-test")
			var out, errOut bytes.Buffer
			cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errOut
			err := cmd.Run()
			results[i] = binResult{args: args, stdout: out.String(), stderr: errOut.String(), err: err}
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r.err != nil {
			s.t.Errorf("through the pooler, %s", r)
		}
	}
	if s.t.Failed() {
		s.t.FailNow()
	}
	return results
}

// Every CLI command works through PgBouncer in transaction pooling mode,
// many processes at once: consecutive transactions of one process land on
// different server connections, and none may rely on session state.
func TestCLIThroughTransactionPooler(t *testing.T) {
	s := newUnmigratedSession(t)
	pooled := pgtest.PoolerURL(t, s.dbURL)

	// Two migrations at once, through the pooler: one applies, one waits.
	s.runProcesses(pooled, "", []string{"migrate", "up"}, []string{"migrate", "up"})
	s.runProcesses(pooled, "", []string{"migrate", "status"})

	var adds [][]string
	for p := range 4 {
		for i := range 5 {
			adds = append(adds, []string{"secret", "add", "--project", "pooled", "--name", fmt.Sprintf("P%d_%d", p, i), "--no-validate"})
		}
	}
	s.runProcesses(pooled, "pooled-value", adds...)

	envFile := filepath.Join(t.TempDir(), "app.env")
	if err := os.WriteFile(envFile, []byte("FROM_DOTENV=dotenv-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(config, []byte(`{"token": {"$secretRef": {"name": "P0_0"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	res := s.runProcesses(pooled, "",
		[]string{"secret", "get", "--project", "pooled", "--name", "P3_4"},
		[]string{"secret", "list", "--project", "pooled"},
		[]string{"render", "--project", "pooled", "--config", config},
		[]string{"import-env", "--project", "pooled", "--file", envFile},
		[]string{"status", "--since", "1h"},
		[]string{"key", "status"},
		[]string{"audit", "export", "--project", "pooled"},
	)
	if res[0].stdout != "pooled-value" || !strings.Contains(res[1].stdout, "P3_4") || !strings.Contains(res[2].stdout, `"pooled-value"`) {
		t.Fatalf("reads through the pooler:\n%s\n%s\n%s", res[0], res[1], res[2])
	}

	// A rotation, then two reencrypt processes with several workers each.
	s.seedSecrets(1500)
	s.rotateRootKey()
	s.runProcesses(pooled, "",
		[]string{"reencrypt", "--workers", "3", "--batch-size", "50"},
		[]string{"reencrypt", "--workers", "3", "--batch-size", "50"},
	)
	for id, st := range s.secretStates() {
		if !st.current {
			t.Fatalf("%s is not under its project's key after two reencrypts through the pooler", id)
		}
	}
	res = s.runProcesses(pooled, "", []string{"audit", "verify"})
	if !strings.HasPrefix(res[0].stdout, "Audit chain verified") {
		t.Fatalf("audit verify through the pooler:\n%s", res[0])
	}
}
