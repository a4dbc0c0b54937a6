package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/reencrypt"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// reencryptValue is secret i's value in these tests; each holds a canary
// that must appear nowhere but in a decryption.
func reencryptValue(i int) string { return fmt.Sprintf("reencrypt-canary-%05d", i) }

// seedSecrets writes n secrets under the session's root key straight into
// the table (no audit events: fast, and beside the point here).
func (s *session) seedSecrets(n int) {
	s.t.Helper()
	ctx := context.Background()
	ring := s.keyring(s.keysFile)
	rows := make([][]any, n)
	for i := range n {
		project := []string{"app", "billing", "web"}[i%3]
		name := fmt.Sprintf("S%05d", i)
		token, kid, err := ring.Encrypt([]byte(reencryptValue(i)), keyring.SecretBinding(project, name, 1))
		if err != nil {
			s.t.Fatal(err)
		}
		rows[i] = []any{project, name, token, kid, true, "seed", "seed"}
	}
	_, err := s.pool().CopyFrom(ctx, pgx.Identifier{"pgsecrets", "secrets"},
		[]string{"project", "name", "ciphertext", "kid", "bound", "created_by", "updated_by"}, pgx.CopyFromRows(rows))
	if err != nil {
		s.t.Fatal(err)
	}
}

func (s *session) keyring(file string) *keyring.Keyring {
	s.t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		s.t.Fatal(err)
	}
	ring, err := keyring.Load(b)
	if err != nil {
		s.t.Fatal(err)
	}
	return ring
}

func (s *session) pool() *pgxpool.Pool {
	s.t.Helper()
	pool, err := pgxpool.New(context.Background(), s.dbURL)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(pool.Close)
	return pool
}

// rotateRootKey writes a root keys file with a new key first and the
// session's old ones after it, and makes it the session's; it returns the
// new kid.
func (s *session) rotateRootKey() string {
	s.t.Helper()
	old, err := os.ReadFile(s.keysFile)
	if err != nil {
		s.t.Fatal(err)
	}
	var keys []json.RawMessage
	if err := json.Unmarshal(old, &keys); err != nil {
		s.t.Fatal(err)
	}
	r := runCLI(s.t, "", false, "key", "generate", "--alg", "A256GCMKW", "--kid", "new-root")
	if r.code != 0 {
		s.t.Fatalf("key generate: %s", r)
	}
	keys = append([]json.RawMessage{json.RawMessage(strings.TrimSpace(r.stdout))}, keys...)
	b, _ := json.Marshal(keys)
	path := filepath.Join(s.t.TempDir(), "rotated-keys.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		s.t.Fatal(err)
	}
	s.keysFile = path
	return "new-root"
}

// secretStates decrypts every secret with the session's keys and returns
// value and kid per project/name.
func (s *session) secretStates(pool *pgxpool.Pool) map[string][2]string {
	s.t.Helper()
	ring := s.keyring(s.keysFile)
	rows, err := pool.Query(context.Background(), "select project, name, ciphertext, kid, revision from pgsecrets.secrets")
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][2]string{}
	for rows.Next() {
		var project, name, token, kid string
		var revision int64
		if err := rows.Scan(&project, &name, &token, &kid, &revision); err != nil {
			s.t.Fatal(err)
		}
		d, err := ring.Decrypt(token, keyring.SecretBinding(project, name, revision))
		if err != nil {
			s.t.Fatalf("secret %s/%s no longer decrypts: %v", project, name, err)
		}
		out[project+"/"+name] = [2]string{string(d.Plaintext), kid}
	}
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// checkValues fails unless every seeded secret is there with its value.
func checkValues(t *testing.T, states map[string][2]string, n int) (underNew int) {
	t.Helper()
	if len(states) != n {
		t.Fatalf("%d secrets, want %d", len(states), n)
	}
	for i := range n {
		id := []string{"app", "billing", "web"}[i%3] + fmt.Sprintf("/S%05d", i)
		st, ok := states[id]
		if !ok || st[0] != reencryptValue(i) {
			t.Fatalf("%s: value changed or lost", id)
		}
		if st[1] == "new-root" {
			underNew++
		}
	}
	return underNew
}

func TestReencryptMovesSecretsToNewRootKeyAndPrintsSummary(t *testing.T) {
	s := newSession(t)
	oldKID := s.rootKID()
	s.seedSecrets(30)
	s.rotateRootKey()

	r := s.mustRun("", "reencrypt", "--dry-run")
	for _, want := range []string{"Dry run: nothing changed. Primary key: new-root", oldKID, "Would re-encrypt 30 secret(s) under key new-root; 0 already current."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, r.stdout)
		}
	}
	if n := checkValues(t, s.secretStates(s.pool()), 30); n != 0 {
		t.Fatalf("dry run moved %d secrets", n)
	}

	r = s.mustRun("", "reencrypt", "--batch-size", "7", "--workers", "2")
	for _, want := range []string{"Re-encrypted 30 secret(s) under key new-root", "already current:  0", "retried:          0", "failed:           0"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "reencrypt-canary") {
		t.Fatal("output holds a secret value")
	}
	if n := checkValues(t, s.secretStates(s.pool()), 30); n != 30 {
		t.Fatalf("%d of 30 secrets under the new key", n)
	}

	r = s.mustRun("", "reencrypt", "--output", "json")
	var sum reencrypt.Summary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("--output json is not JSON: %v\n%s", err, r)
	}
	if sum.Reencrypted != 0 || sum.AlreadyCurrent != 30 || sum.PrimaryKID != "new-root" {
		t.Fatalf("second run summary = %+v, want nothing to do", sum)
	}
}

func TestReencryptProgressLinesWhenNotATerminal(t *testing.T) {
	s := newSession(t)
	s.seedSecrets(20)
	s.rotateRootKey()
	r := s.mustRun("", "reencrypt", "--batch-size", "2", "--workers", "1", "--progress-interval", "1ns")
	if !strings.Contains(r.stderr, "reencrypt: 20/20 secrets (100%)") {
		t.Fatalf("no plain progress line on stderr:\n%s", r)
	}
	if strings.Contains(r.stderr, "\r") || strings.Contains(r.stderr, "\x1b[") {
		t.Fatalf("terminal control characters in a non-terminal's progress:\n%q", r.stderr)
	}
}

func TestReencryptReportsUnknownKIDAndExitsNonZero(t *testing.T) {
	s := newSession(t)
	s.seedSecrets(12)
	// A secret under a key this deployment does not have.
	stranger, err := keyring.New([]*keyring.Key{storetest.Key(t, "gone-key", "dir")})
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := stranger.Encrypt([]byte("reencrypt-canary-lost"), keyring.SecretBinding("app", "LOST", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool().Exec(context.Background(), `insert into pgsecrets.secrets (project, name, ciphertext, kid, bound, created_by, updated_by)
		values ('app', 'LOST', $1, 'gone-key', true, 't', 't')`, token); err != nil {
		t.Fatal(err)
	}
	s.rotateRootKey()

	r := s.run("", "reencrypt")
	wantFailure(t, r, 1, `kid "gone-key" (1 secret(s)) in no key of the keyring`, "add the root key back")
	if !strings.Contains(r.stdout, "Re-encrypted 12 secret(s)") || !strings.Contains(r.stdout, "gone-key  1") {
		t.Fatalf("summary should show the other secrets done and the unknown kid's count:\n%s", r)
	}
}

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// pgsecretsBinary builds the real binary once per test run.
func pgsecretsBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pgsecrets-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "pgsecrets")
		out, err := exec.Command("go", "build", "-o", binaryPath, "github.com/pgsecrets/terraform-provider-pgsecrets").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// startReencrypt runs the binary's reencrypt with progress lines after
// every batch, and returns it with a reader of its stderr.
func (s *session) startReencrypt(bin string, extra ...string) (*exec.Cmd, *bufio.Scanner) {
	s.t.Helper()
	args := append([]string{"--database-url", s.dbURL, "--root-keys-file", s.keysFile, "reencrypt", "--progress-interval", "1ns"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "PGSECRETS_ACTOR=kill-test")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	return cmd, bufio.NewScanner(stderr)
}

func TestReencryptKilledAtRandomPointsThenRerunLosesNothing(t *testing.T) {
	bin := pgsecretsBinary(t)
	s := newSession(t)
	const n = 1500
	s.seedSecrets(n)
	s.rotateRootKey()
	pool := s.pool()

	moved := 0
	for kill := 1; kill <= 3; kill++ {
		cmd, progress := s.startReencrypt(bin, "--batch-size", "5", "--workers", "2")
		// Kill after a random number of committed batches, at whatever
		// instant the process is then in (mid-batch, mid-commit...).
		after := rand.IntN(40) + 1
		for i := 0; i < after && progress.Scan(); i++ {
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("kill %d: reencrypt finished before it was killed (%v); the test needs more secrets", kill, cmd.ProcessState)
		}
		// Every secret still decrypts to its value, under old or new key.
		now := checkValues(t, s.secretStates(pool), n)
		if now < moved {
			t.Fatalf("kill %d: %d secrets under the new key, fewer than %d before", kill, now, moved)
		}
		t.Logf("kill %d after %d progress lines: %d/%d secrets under the new key", kill, after, now, n)
		moved = now
	}
	if moved == n {
		t.Fatal("everything was done before the last kill; the test proves nothing")
	}

	r := s.mustRun("", "reencrypt", "--output", "json")
	var sum reencrypt.Summary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Reencrypted != int64(n-moved) || sum.AlreadyCurrent != int64(moved) || sum.Failed != 0 {
		t.Fatalf("rerun summary = %+v, want %d re-encrypted and %d already current", sum, n-moved, moved)
	}
	if got := checkValues(t, s.secretStates(pool), n); got != n {
		t.Fatalf("after the rerun %d of %d secrets are under the new key", got, n)
	}
}

func TestTwoReencryptProcessesAtOnceFinishCorrectly(t *testing.T) {
	bin := pgsecretsBinary(t)
	s := newSession(t)
	const n = 600
	s.seedSecrets(n)
	s.rotateRootKey()

	type outcome struct {
		sum reencrypt.Summary
		err error
	}
	results := make(chan outcome, 2)
	for range 2 {
		go func() {
			args := []string{"--database-url", s.dbURL, "--root-keys-file", s.keysFile, "reencrypt", "--batch-size", "10", "--workers", "2", "--output", "json"}
			out, err := exec.Command(bin, args...).Output()
			var o outcome
			if err != nil {
				o.err = fmt.Errorf("%v: %s", err, out)
			} else {
				o.err = json.Unmarshal(out, &o.sum)
			}
			results <- o
		}()
	}
	var total int64
	for range 2 {
		o := <-results
		if o.err != nil {
			t.Fatalf("reencrypt process: %v", o.err)
		}
		t.Logf("one process re-encrypted %d", o.sum.Reencrypted)
		total += o.sum.Reencrypted
	}
	if total != n {
		t.Fatalf("the processes re-encrypted %d secrets in all, want each of the %d exactly once", total, n)
	}
	if got := checkValues(t, s.secretStates(s.pool()), n); got != n {
		t.Fatalf("%d of %d secrets under the new key", got, n)
	}
}

// reencryptCutMidway runs the binary's reencrypt over n secrets after a
// rotation, cuts its connections after ten batches, as a database restart
// or a network cut does, and returns its stderr, the pool and how it exited.
func reencryptCutMidway(t *testing.T, n int, extra ...string) (s *session, cmd *exec.Cmd, stderr string, pool *pgxpool.Pool, err error) {
	t.Helper()
	bin := pgsecretsBinary(t)
	s = newSession(t)
	s.seedSecrets(n)
	s.rotateRootKey()
	pool = s.pool()
	cmd, progress := s.startReencrypt(bin, append([]string{"--batch-size", "5", "--workers", "2"}, extra...)...)
	for i := 0; i < 10 && progress.Scan(); i++ {
	}
	if _, err := pool.Exec(context.Background(), `select pg_terminate_backend(pid) from pg_stat_activity
		where application_name = 'pgsecrets' and datname = current_database() and pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for progress.Scan() {
		out.WriteString(progress.Text() + "\n")
	}
	err = cmd.Wait()
	return s, cmd, out.String(), pool, err
}

func TestReencryptLosingItsConnectionFailsClearlyThenRerunFinishes(t *testing.T) {
	const n = 1500
	// --retry-for 0: fail at once, as a run past its retry window does.
	s, cmd, stderr, pool, err := reencryptCutMidway(t, n, "--retry-for", "0")
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
		t.Fatalf("reencrypt survived losing its connections (exit %d); stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "Error: lost the connection to database ") || !strings.Contains(stderr, "re-encrypt batch (scan at page ") ||
		!strings.Contains(stderr, "run reencrypt again to finish") {
		t.Fatalf("stderr does not say which batch failed:\n%s", stderr)
	}
	t.Logf("stderr after the cut:\n%s", stderr)
	moved := checkValues(t, s.secretStates(pool), n)
	if moved == n {
		t.Fatal("everything was done before the connections were cut; the test proves nothing")
	}

	r := s.mustRun("", "reencrypt")
	if !strings.Contains(r.stdout, fmt.Sprintf("Re-encrypted %d secret(s)", n-moved)) {
		t.Fatalf("rerun summary:\n%s", r)
	}
	if got := checkValues(t, s.secretStates(pool), n); got != n {
		t.Fatalf("after the rerun %d of %d secrets are under the new key", got, n)
	}
}

// By default a lost connection is retried: the run says so and finishes.
func TestReencryptRetriesAfterLosingItsConnections(t *testing.T) {
	const n = 1500
	s, _, stderr, pool, err := reencryptCutMidway(t, n)
	if err != nil {
		t.Fatalf("reencrypt did not ride out the lost connections: %v; stderr:\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "Database unreachable (") || !strings.Contains(stderr, "(--retry-for)") {
		t.Fatalf("stderr does not say it retried:\n%s", stderr)
	}
	if got := checkValues(t, s.secretStates(pool), n); got != n {
		t.Fatalf("%d of %d secrets are under the new key", got, n)
	}
}

func TestReencryptRefusesABatchSizeOutOfRange(t *testing.T) {
	s := newSession(t)
	for _, n := range []string{"0", "100001"} {
		wantFailure(t, s.run("", "reencrypt", "--batch-size", n), 2, "--batch-size "+n+" is out of range: use 1 to 100000")
	}
}
