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
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/reencrypt"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/rootkeys"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// reencryptValue is secret i's value in these tests; each holds a canary
// that must appear nowhere but in a decryption.
func reencryptValue(i int) string { return fmt.Sprintf("reencrypt-canary-%05d", i) }

// seedSecrets writes n secrets under the session's root key straight into
// the table (no audit events: fast, and beside the point here), as a store
// upgraded from before project keys holds them, and leaves the store in
// that state: not yet moved.
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
	storetest.MakeLegacy(s.t, s.pool(), store.DefaultSchema)
}

func (s *session) keyring(file string) *keyring.Keyring {
	s.t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		s.t.Fatal(err)
	}
	ring, err := rootkeys.Load(b) // as a process does: JWKs and key service references
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

// secretState is one secret as a reader sees it: its value, and whether
// it is under its project's primary key, bound.
type secretState struct {
	value   string
	current bool
}

// secretStates reads every secret through a store opened with the
// session's root keys, as an application would.
func (s *session) secretStates() map[string]secretState {
	s.t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DatabaseURL: s.dbURL, Schema: store.DefaultSchema, Actor: "test"}, s.keyring(s.keysFile))
	if err != nil {
		s.t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Pool().Query(ctx, `select s.project, s.name, coalesce(s.kid = k.kid and s.bound, false)
		from pgsecrets.secrets s left join pgsecrets.project_keys k on k.project = s.project and k.state = 'primary'`)
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string]secretState{}
	projects := map[string]bool{}
	for rows.Next() {
		var project, name string
		var current bool
		if err := rows.Scan(&project, &name, &current); err != nil {
			s.t.Fatal(err)
		}
		out[project+"/"+name] = secretState{current: current}
		projects[project] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}
	for p := range projects {
		values, err := st.GetProjectValues(ctx, p, "test")
		if err != nil {
			s.t.Fatalf("project %s no longer decrypts: %v", p, err)
		}
		for name, v := range values {
			id := p + "/" + name
			out[id] = secretState{value: string(v), current: out[id].current}
		}
	}
	return out
}

// checkValues fails unless every seeded secret is there with its value,
// and returns how many are under their project's key.
func checkValues(t *testing.T, states map[string]secretState, n int) (moved int) {
	t.Helper()
	return checkValuesAfterWrites(t, states, n, nil)
}

// checkValuesAfterWrites is checkValues where the secrets in written were
// rewritten since: their last value written must be there.
func checkValuesAfterWrites(t *testing.T, states map[string]secretState, n int, written map[string]string) (moved int) {
	t.Helper()
	if len(states) != n {
		t.Fatalf("%d secrets, want %d", len(states), n)
	}
	for i := range n {
		id := []string{"app", "billing", "web"}[i%3] + fmt.Sprintf("/S%05d", i)
		want, ok := written[id]
		if !ok {
			want = reencryptValue(i)
		}
		st, ok := states[id]
		if !ok || st.value != want {
			t.Fatalf("%s: value changed or lost", id)
		}
		if st.current {
			moved++
		}
	}
	return moved
}

func TestReencryptMovesALegacyStoreToProjectKeysAndPrintsSummary(t *testing.T) {
	s := newSession(t)
	oldKID := s.rootKID()
	s.seedSecrets(30)
	s.rotateRootKey()

	r := s.mustRun("", "reencrypt", "--dry-run")
	for _, want := range []string{"Dry run: nothing changed. First root key: new-root.", oldKID,
		"Would rewrap 0 project keys, re-encrypt 30 secrets; already current: 0 project keys holding all their project's secrets."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, r.stdout)
		}
	}
	if n := checkValues(t, s.secretStates(), 30); n != 0 {
		t.Fatalf("dry run moved %d secrets", n)
	}

	r = s.mustRun("", "reencrypt", "--batch-size", "7", "--workers", "2")
	for _, want := range []string{"Rewrapped 0 project key(s) and 0 data key(s) under root key new-root; re-encrypted 30 secret(s) under their projects' keys",
		"already current:  0 project keys holding all their project's secrets", "retried:          0", "failed:           0"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "reencrypt-canary") {
		t.Fatal("output holds a secret value")
	}
	if n := checkValues(t, s.secretStates(), 30); n != 30 {
		t.Fatalf("%d of 30 secrets under their project's key", n)
	}

	r = s.mustRun("", "reencrypt", "--output", "json")
	var sum reencrypt.Summary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("--output json is not JSON: %v\n%s", err, r)
	}
	if sum.Reencrypted != 0 || sum.ProjectKeysCurrent != 3 || sum.AlreadyCurrent != nil || sum.RootKID != "new-root" {
		t.Fatalf("second run summary = %+v, want nothing to do and 3 project keys current", sum)
	}
	// With --project, the secrets already current are counted.
	r = s.mustRun("", "reencrypt", "--project", "billing")
	if !strings.Contains(r.stdout, "already current:  10 secrets") {
		t.Fatalf("one project's summary does not count its current secrets:\n%s", r.stdout)
	}
}

// onlyFirstRootKey makes the session's root keys file hold its first key
// alone: the old root keys are gone.
func (s *session) onlyFirstRootKey() {
	s.t.Helper()
	b, err := os.ReadFile(s.keysFile)
	if err != nil {
		s.t.Fatal(err)
	}
	var keys []json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		s.t.Fatal(err)
	}
	b, _ = json.Marshal(keys[:1])
	path := filepath.Join(s.t.TempDir(), "first-key.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		s.t.Fatal(err)
	}
	s.keysFile = path
}

// movedSession is a session whose n seeded secrets are under their
// projects' keys (app, billing, web).
func movedSession(t *testing.T, n int) *session {
	s := newSession(t)
	s.seedSecrets(n)
	s.mustRun("", "reencrypt")
	if got := checkValues(t, s.secretStates(), n); got != n {
		t.Fatalf("%d of %d secrets under their project's key", got, n)
	}
	return s
}

func TestRootKeyRotationRewrapsProjectKeysAndReencryptsNothing(t *testing.T) {
	s := movedSession(t, 30)
	oldKID := s.rootKID()
	s.rotateRootKey()

	r := s.mustRun("", "reencrypt", "--dry-run")
	for _, want := range []string{"Would rewrap 3 project keys and 0 data keys wrapped by " + oldKID + " under root key new-root.",
		"Would rewrap 3 project keys, re-encrypt 0 secrets; already current: 3 project keys holding all their project's secrets."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, r.stdout)
		}
	}

	r = s.mustRun("", "reencrypt")
	if !strings.Contains(r.stdout, "Rewrapped 3 project key(s) and 0 data key(s) under root key new-root; re-encrypted 0 secret(s)") ||
		!strings.Contains(r.stdout, "  re-encrypted:     0\n") {
		t.Fatalf("summary:\n%s", r.stdout)
	}
	// The old root key can go: every secret reads with the new one alone.
	s.onlyFirstRootKey()
	if got := checkValues(t, s.secretStates(), 30); got != 30 {
		t.Fatalf("%d of 30 secrets under their project's key", got)
	}
	if got := s.mustRun("", "secret", "get", "--project", "billing", "--name", "S00001").stdout; got != reencryptValue(1) {
		t.Fatalf("secret get with the new root key alone = %q", got)
	}
}

func TestReencryptRefusesProjectKeyRotationWithoutAProjectOrWithAnAge(t *testing.T) {
	s := newSession(t)
	wantFailure(t, s.run("", "reencrypt", "--rotate-project-key"), 2, "--rotate-project-key needs --project")
	wantFailure(t, s.run("", "reencrypt", "--rotate-project-key", "--project", "app", "--rotate-older-than", "90d"), 2,
		"--rotate-project-key and --rotate-older-than both choose keys to rotate: give one")
	for _, age := range []string{"0s", "0d", "-1h", "soon"} {
		wantFailure(t, s.run("", "reencrypt", "--rotate-older-than", age), 2,
			fmt.Sprintf("--rotate-older-than %q is not a positive duration: give days (90d), hours or minutes (36h, 90m)", age))
	}
}

func TestReencryptRotateOlderThanRotatesEveryOldKeyAndDestroysTheRetired(t *testing.T) {
	s := movedSession(t, 30)
	before := s.projectKIDs()
	time.Sleep(1100 * time.Millisecond)

	r := s.mustRun("", "reencrypt", "--rotate-older-than", "1s", "--dry-run")
	if !strings.Contains(r.stdout, "Would rotate the key of 3 project(s), then re-encrypt their secrets: app, billing, web") ||
		!strings.Contains(r.stdout, "Would rewrap 0 project keys, re-encrypt 30 secrets; already current: 0 project keys holding all their project's secrets.") {
		t.Fatalf("dry run:\n%s", r.stdout)
	}
	if got := s.projectKIDs(); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("dry run changed the project keys: %v -> %v", before, got)
	}

	r = s.mustRun("", "reencrypt", "--rotate-older-than", "1s", "--batch-size", "4")
	for _, want := range []string{"Rotated the key of 3 project(s): app, billing, web", "re-encrypted 30 secret(s)",
		"Destroyed 3 retired project key(s) that nothing was under any more."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	after := s.projectKIDs()
	for p, kids := range after {
		if len(kids) != 1 || kids[0] == before[p][0] {
			t.Errorf("project %s has keys %v after the rotation (before: %v), want one new key", p, kids, before[p])
		}
	}
	if got := checkValues(t, s.secretStates(), 30); got != 30 {
		t.Fatalf("%d of 30 secrets under their project's new key", got)
	}

	// Keys younger than the age are left alone.
	r = s.mustRun("", "reencrypt", "--rotate-older-than", "1h", "--output", "json")
	var sum reencrypt.Summary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.ProjectKeysRotated) != 0 || sum.Reencrypted != 0 || len(sum.ProjectKeysDeleted) != 0 {
		t.Fatalf("a run with no key old enough = %+v, want nothing done", sum)
	}
}

// projectKIDs lists every project key's kid per project, primary first.
func (s *session) projectKIDs() map[string][]string {
	s.t.Helper()
	rows, err := s.pool().Query(context.Background(), "select project, kid from pgsecrets.project_keys order by project, state = 'primary' desc, kid")
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var p, kid string
		if err := rows.Scan(&p, &kid); err != nil {
			s.t.Fatal(err)
		}
		out[p] = append(out[p], kid)
	}
	return out
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
	if !strings.Contains(r.stdout, "re-encrypted 12 secret(s)") || !strings.Contains(r.stdout, "gone-key  1") {
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

	moved := s.killReencryptTimes(bin, 3, n)

	r := s.mustRun("", "reencrypt", "--output", "json")
	var sum reencrypt.Summary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Reencrypted != int64(n-moved) || sum.Failed != 0 {
		t.Fatalf("rerun summary = %+v, want the %d secrets left re-encrypted", sum, n-moved)
	}
	if got := checkValues(t, s.secretStates(), n); got != n {
		t.Fatalf("after the rerun %d of %d secrets are under their project's key", got, n)
	}
}

// killReencryptTimes kills reencrypt mid-run kills times over the n
// seeded secrets, checking after each that every secret still decrypts to
// its value (under its old key or its project's) and that none moved
// back, and returns how many are under their project's key. It fails when
// the last kill came after everything was done: the test would prove
// nothing.
func (s *session) killReencryptTimes(bin string, kills, n int) (moved int) {
	s.t.Helper()
	for kill := 1; kill <= kills; kill++ {
		s.killReencryptMidRun(bin, kill)
		now := checkValues(s.t, s.secretStates(), n)
		if now < moved {
			s.t.Fatalf("kill %d: %d secrets under their project's key, fewer than %d before", kill, now, moved)
		}
		s.t.Logf("kill %d: %d/%d secrets under their project's key", kill, now, n)
		moved = now
	}
	if moved == n {
		s.t.Fatal("everything was done before the last kill; the test proves nothing")
	}
	return moved
}

// killReencryptMidRun starts the binary's reencrypt and kills it (kill -9)
// after a random number of committed batches, at whatever instant the
// process is then in (mid-batch, mid-commit...).
func (s *session) killReencryptMidRun(bin string, kill int) {
	s.t.Helper()
	cmd, progress := s.startReencrypt(bin, "--batch-size", "5", "--workers", "2")
	after := rand.IntN(40) + 1
	for i := 0; i < after && progress.Scan(); i++ {
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		s.t.Fatal(err)
	}
	_ = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		s.t.Fatalf("kill %d: reencrypt finished before it was killed (%v); the test needs more secrets", kill, cmd.ProcessState)
	}
}

// A store upgraded from before project keys, moved by a reencrypt killed
// twice while a writer rewrites its secrets: every write survives, and
// the rerun leaves every secret under its project's key.
func TestReencryptKilledWhileWritersWriteThenRerunLosesNoWrite(t *testing.T) {
	bin := pgsecretsBinary(t)
	s := newSession(t)
	const n = 1500
	s.seedSecrets(n)
	s.rotateRootKey()
	ctx := context.Background()
	writer, err := store.Open(ctx, store.Config{DatabaseURL: s.dbURL, Schema: store.DefaultSchema, Actor: "writer"}, s.keyring(s.keysFile))
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	var (
		mu      sync.Mutex
		written = map[string]string{}
		stop    = make(chan struct{})
		done    = make(chan error, 1)
	)
	go func() {
		defer close(done)
		for round := 0; ; round++ {
			for i := 0; i < 600; i += 7 {
				select {
				case <-stop:
					return
				default:
				}
				project, name := []string{"app", "billing", "web"}[i%3], fmt.Sprintf("S%05d", i)
				value := fmt.Sprintf("%s-round-%d", reencryptValue(i), round)
				if _, err := writer.PutSecret(ctx, store.PutSecretInput{Project: project, Name: name, Value: []byte(value), ExpectedRevision: store.AnyRevision}); err != nil {
					done <- err
					return
				}
				mu.Lock()
				written[project+"/"+name] = value
				mu.Unlock()
			}
		}
	}()
	for kill := 1; kill <= 2; kill++ {
		s.killReencryptMidRun(bin, kill)
	}
	r := s.mustRun("", "reencrypt", "--batch-size", "5", "--workers", "2")
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("writer: %v", err)
	}
	if len(written) == 0 {
		t.Fatal("the writer wrote nothing; the test proves nothing")
	}
	if !strings.Contains(r.stdout, "failed:           0") {
		t.Fatalf("rerun:\n%s", r.stdout)
	}
	if got := checkValuesAfterWrites(t, s.secretStates(), n, written); got != n {
		t.Fatalf("after the rerun %d of %d secrets are under their project's key", got, n)
	}
	// Earlier values too: none is left under the old root key.
	var left int
	if err := s.pool().QueryRow(ctx, `select count(*) from pgsecrets.secret_versions v
		where v.kid not in (select kid from pgsecrets.project_keys k where k.project = v.project and k.state = 'primary')`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d earlier values are not under their project's key", left)
	}
	t.Logf("the writer rewrote %d secrets meanwhile", len(written))
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
	if got := checkValues(t, s.secretStates(), n); got != n {
		t.Fatalf("%d of %d secrets under their project's key", got, n)
	}
}

// reencryptCutMidway runs the binary's reencrypt over n secrets after a
// rotation, cuts its connections after ten batches, as a database restart
// or a network cut does, and returns its stderr and how it exited.
func reencryptCutMidway(t *testing.T, n int, extra ...string) (s *session, cmd *exec.Cmd, stderr string, err error) {
	t.Helper()
	bin := pgsecretsBinary(t)
	s = newSession(t)
	s.seedSecrets(n)
	s.rotateRootKey()
	pool := s.pool()
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
	return s, cmd, out.String(), err
}

func TestReencryptLosingItsConnectionFailsClearlyThenRerunFinishes(t *testing.T) {
	const n = 1500
	// --retry-for 0: fail at once, as a run past its retry window does.
	s, cmd, stderr, err := reencryptCutMidway(t, n, "--retry-for", "0")
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
		t.Fatalf("reencrypt survived losing its connections (exit %d); stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "Error: lost the connection to database ") || !strings.Contains(stderr, "re-encrypt batch (scan at page ") ||
		!strings.Contains(stderr, "run reencrypt again to finish") {
		t.Fatalf("stderr does not say which batch failed:\n%s", stderr)
	}
	t.Logf("stderr after the cut:\n%s", stderr)
	moved := checkValues(t, s.secretStates(), n)
	if moved == n {
		t.Fatal("everything was done before the connections were cut; the test proves nothing")
	}

	r := s.mustRun("", "reencrypt")
	if !strings.Contains(r.stdout, fmt.Sprintf("re-encrypted %d secret(s)", n-moved)) {
		t.Fatalf("rerun summary:\n%s", r)
	}
	if got := checkValues(t, s.secretStates(), n); got != n {
		t.Fatalf("after the rerun %d of %d secrets are under their project's key", got, n)
	}
}

// By default a lost connection is retried: the run says so and finishes.
func TestReencryptRetriesAfterLosingItsConnections(t *testing.T) {
	const n = 1500
	s, _, stderr, err := reencryptCutMidway(t, n)
	if err != nil {
		t.Fatalf("reencrypt did not ride out the lost connections: %v; stderr:\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "Database unreachable (") || !strings.Contains(stderr, "(--retry-for)") {
		t.Fatalf("stderr does not say it retried:\n%s", stderr)
	}
	if got := checkValues(t, s.secretStates(), n); got != n {
		t.Fatalf("%d of %d secrets are under their project's key", got, n)
	}
}

func TestReencryptRefusesABatchSizeOutOfRange(t *testing.T) {
	s := newSession(t)
	for _, n := range []string{"0", "100001"} {
		wantFailure(t, s.run("", "reencrypt", "--batch-size", n), 2, "--batch-size "+n+" is out of range: use 1 to 100000")
	}
}
