package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// newClusterSession is a session on a replicated cluster's multi-host URL,
// migrated with `migrate up`, as an HA deployment's operator has it.
func newClusterSession(t *testing.T, r *pgtest.ReplicatedCluster) *session {
	t.Helper()
	clearSettingsEnv(t)
	s := &session{t: t, dbURL: r.URL()}
	s.keysFile = s.generateKeysFile("root-keys.json")
	s.mustRun("", "migrate", "up")
	return s
}

// haWriter rewrites one secret, value after value, as a person or a
// script does: a write that fails is run again, the same, until it is
// acknowledged. It records what was acknowledged, in order.
type haWriter struct {
	name  string
	write func(value string) error // nil once acknowledged
	mu    sync.Mutex
	acked []string
	// failures are the errors seen, each one line as the user saw it.
	failures []string
}

func (w *haWriter) ackedCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// run writes until stop is closed; done gets an error if a write was
// still refused after a minute of trying.
func (w *haWriter) run(stop <-chan struct{}, done chan<- error) {
	for k := 0; ; k++ {
		select {
		case <-stop:
			done <- nil
			return
		default:
		}
		value := fmt.Sprintf("%s-value-%03d", w.name, k)
		deadline := time.Now().Add(time.Minute)
		for {
			err := w.write(value)
			if err == nil {
				break
			}
			w.mu.Lock()
			w.failures = append(w.failures, err.Error())
			w.mu.Unlock()
			if time.Now().After(deadline) {
				done <- fmt.Errorf("%s: a write of %s still fails after a minute: %v", w.name, value, err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		w.mu.Lock()
		w.acked = append(w.acked, value)
		w.mu.Unlock()
	}
}

// cliWriter writes with `pgsecrets secret add --yes`, the value on stdin.
func (s *session) cliWriter(project, name string) *haWriter {
	return &haWriter{name: name, write: func(value string) error {
		r := s.run(value, "secret", "add", "--project", project, "--name", name, "--yes")
		if r.code == 0 {
			return nil
		}
		return errors.New(r.stderr)
	}}
}

// dashboardWriter saves through the dashboard's form, as a browser does,
// sending the same form again when a save fails.
func (rs *runningServe) dashboardWriter(browser *http.Client, project, name string) *haWriter {
	revision := int64(0)
	return &haWriter{name: name, write: func(value string) error {
		form := url.Values{"name": {name}, "value": {value}, "revision": {strconv.FormatInt(revision, 10)}}
		req, _ := http.NewRequest(http.MethodPost, rs.base+"/secrets/"+project, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", rs.base)
		res, err := browser.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		q := res.Request.URL.Query()
		if res.StatusCode != http.StatusOK || q.Get("done") != "saved" {
			return fmt.Errorf("dashboard save answered %d: %s", res.StatusCode, errorText(string(body)))
		}
		revision, _ = strconv.ParseInt(q.Get("revision"), 10, 64)
		return nil
	}}
}

// errorText is the start of an error page's text, for the log.
func errorText(page string) string {
	if i := strings.Index(page, "database"); i >= 0 {
		return page[max(0, i-100):min(len(page), i+150)]
	}
	return page[:min(len(page), 200)]
}

// terraformWorkspace is a directory with a configuration of n secrets,
// applied by the real terraform with this build as the provider (a
// dev_overrides CLI configuration: no registry, no init).
type terraformWorkspace struct {
	t   *testing.T
	dir string
	env []string
}

func (s *session) terraformWorkspace(n int, project string) *terraformWorkspace {
	s.t.Helper()
	if _, err := exec.LookPath("terraform"); err != nil {
		s.t.Fatal("this test runs the real terraform, which is not on PATH: install Terraform 1.11 or later")
	}
	dir := s.t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Symlink(pgsecretsBinary(s.t), filepath.Join(plugins, "terraform-provider-pgsecrets")); err != nil {
		s.t.Fatal(err)
	}
	rc := filepath.Join(dir, "terraformrc")
	write := func(path, content string) {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	write(rc, fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"pgsecrets/pgsecrets\" = %q\n  }\n  direct {}\n}\n", plugins))
	write(filepath.Join(dir, "main.tf"), fmt.Sprintf(`terraform {
  required_providers {
    pgsecrets = { source = "pgsecrets/pgsecrets" }
  }
}

provider "pgsecrets" {}

resource "pgsecrets_project_secret" "s" {
  count   = %d
  project = %q
  name    = format("TF_%%03d", count.index)
  value   = "terraform-value-${count.index}"
}
`, n, project))
	var env []string
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(name, "TF_") && !strings.HasPrefix(name, "PGSECRETS_") {
			env = append(env, kv)
		}
	}
	env = append(env, "TF_CLI_CONFIG_FILE="+rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1",
		settings.EnvDatabaseURL+"="+s.dbURL, settings.EnvRootKeysFile+"="+s.keysFile, settings.EnvActor+"=terraform@ci")
	return &terraformWorkspace{t: s.t, dir: dir, env: env}
}

// terraform runs one terraform command in the workspace and returns its
// exit code and output.
func (w *terraformWorkspace) terraform(args ...string) (int, string) {
	cmd := exec.Command("terraform", append([]string{"-chdir=" + w.dir}, append(args, "-input=false", "-no-color")...)...)
	cmd.Env = w.env
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	}
	if err != nil {
		w.t.Errorf("terraform %s: %v", args[0], err)
		return -1, string(out)
	}
	return 0, string(out)
}

// The primary is stopped (immediate shutdown) and the synchronous standby
// promoted while two CLI writers, a dashboard writer, a reencrypt and a
// terraform apply of 200 secrets are running, all through one multi-host
// URL. Afterwards every acknowledged write is there with its exact value,
// none was applied twice, the audit chain verifies on the new primary, and
// the reencrypt and terraform apply run again finish with nothing left to
// do.
func TestFailoverLosesNoAcknowledgedWriteAndAppliesNoneTwice(t *testing.T) {
	r := pgtest.NewReplicatedCluster(t, pgtest.ReplicationOptions{Synchronous: true})
	s := newClusterSession(t, r)
	const seeded = 1500
	s.seedSecrets(seeded) // not yet under project keys: reencrypt has each one to move
	s.rotateRootKey()
	s.mustRun(testPassword+"\n", "account", "add", "--email", "ops@example.com", "--role", "admin")
	rs := s.startServe()
	browser := rs.signedIn("ops@example.com")
	tf := s.terraformWorkspace(200, "tf")

	writers := []*haWriter{s.cliWriter("ha", "CLI_A"), s.cliWriter("ha", "CLI_B"), rs.dashboardWriter(browser, "ha", "DASHBOARD")}
	stop := make(chan struct{})
	writerDone := make(chan error, len(writers))
	for _, w := range writers {
		go w.run(stop, writerDone)
	}
	type tfResult struct {
		code int
		out  string
	}
	applyDone := make(chan tfResult, 1)
	go func() {
		code, out := tf.terraform("apply", "-auto-approve", "-parallelism=4")
		applyDone <- tfResult{code, out}
	}()

	// Fail over in the middle of it all: once terraform has made some of
	// its secrets and every writer has had writes acknowledged.
	counter := s.pool()
	waitFor(t, "terraform to create some secrets and the writers to write", func() bool {
		var made int
		counter.QueryRow(context.Background(), "select count(*) from pgsecrets.secrets where project = 'tf'").Scan(&made)
		return made >= 20 && writers[0].ackedCount() >= 3 && writers[1].ackedCount() >= 3 && writers[2].ackedCount() >= 3
	})
	// The reencrypt, half done, when the primary goes.
	reencryptDone := make(chan result, 1)
	go func() { reencryptDone <- s.run("", "reencrypt", "--batch-size", "20", "--workers", "1") }()
	waitFor(t, "reencrypt to move some secrets", func() bool {
		var moved int
		counter.QueryRow(context.Background(), "select count(*) from pgsecrets.secrets s join pgsecrets.project_keys k on k.kid = s.kid where s.project <> 'ha' and s.project <> 'tf'").Scan(&moved)
		return moved >= 100
	})
	counter.Close()
	before := make([]int, len(writers))
	for i, w := range writers {
		before[i] = w.ackedCount()
	}
	select {
	case first := <-reencryptDone:
		t.Fatalf("reencrypt finished before the failover; the test proves nothing:\n%s", first)
	case apply := <-applyDone:
		t.Fatalf("terraform apply finished before the failover; the test proves nothing:\n%s", apply.out)
	default:
	}
	r.StopPrimary(t)
	time.Sleep(500 * time.Millisecond) // the writers meet the outage
	r.Promote(t)
	waitFor(t, "every writer to have writes acknowledged by the new primary", func() bool {
		for i, w := range writers {
			if w.ackedCount() < before[i]+3 {
				return false
			}
		}
		return true
	})
	close(stop)
	for range writers {
		if err := <-writerDone; err != nil {
			t.Error(err)
		}
	}
	first := <-reencryptDone
	apply := <-applyDone
	t.Logf("during the failover: reencrypt exit %d, terraform apply exit %d", first.code, apply.code)
	// A batch cut off mid-way says so and is retried; one that began
	// during the outage waited for the new primary instead.
	t.Logf("reencrypt:\n%s", first)
	t.Logf("terraform apply:\n%s", errorLines(apply.out))
	t.Logf("dashboard: %d acknowledged, failures %q", writers[2].ackedCount(), writers[2].failures)

	// A command cut off says so on one line, naming the database.
	for _, w := range writers[:2] {
		for _, f := range w.failures {
			if !strings.HasPrefix(f, "Error: ") || strings.Count(f, "\n") != 1 || !strings.Contains(f, "127.0.0.1:"+r.Primary().Port()) {
				t.Errorf("%s failed with %q: want one Error line naming the database's hosts", w.name, f)
			}
		}
		t.Logf("%s: %d writes acknowledged, %d failures, e.g. %q", w.name, w.ackedCount(), len(w.failures), firstOf(w.failures))
	}

	// Run again, reencrypt finishes and terraform converges.
	if again := s.run("", "reencrypt"); again.code != 0 {
		t.Fatalf("reencrypt run again after the failover:\n%s", again)
	}
	// Failed or not during the failover, the apply run again has nothing
	// left to do once it has created what the first did not.
	if code, out := tf.terraform("apply", "-auto-approve"); code != 0 {
		t.Fatalf("terraform apply run again after the failover: exit %d\n%s", code, out)
	} else if apply.code == 0 && !strings.Contains(out, "No changes.") {
		t.Errorf("terraform apply run again after an apply that succeeded across the failover changed something:\n%s", out)
	}
	if code, out := tf.terraform("plan", "-detailed-exitcode"); code != 0 {
		t.Fatalf("terraform plan after the failover: exit %d, want 0 (no changes)\n%s", code, out)
	}

	s.checkAfterFailover(writers, seeded, 200)
	if v := s.run("", "audit", "verify"); v.code != 0 {
		t.Fatalf("audit verify on the new primary:\n%s", v)
	}
}

func errorLines(out string) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "Error") || strings.Contains(l, "Warning") || strings.Contains(l, "lost") || strings.Contains(l, "written") || strings.Contains(l, "Apply complete") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return strings.TrimSpace(s[0])
}

// checkAfterFailover reads, on the new primary, every writer's secret's
// whole history: each acknowledged value is there, the last one current,
// and no value was written twice; terraform's secrets were each written
// once; the seeded ones all moved to their project's key, values intact.
func (s *session) checkAfterFailover(writers []*haWriter, seeded, terraformN int) {
	s.t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DatabaseURL: s.dbURL, Actor: "checker"}, s.keyring(s.keysFile))
	if err != nil {
		s.t.Fatal(err)
	}
	defer st.Close()
	for _, w := range writers {
		versions, err := st.SecretHistory(ctx, "ha", w.name)
		if err != nil {
			s.t.Fatal(err)
		}
		revisions := map[string][]int64{}
		var current string
		for _, v := range versions {
			sec, err := st.GetSecretVersion(ctx, "ha", w.name, v.Revision, "failover test")
			if err != nil {
				s.t.Fatal(err)
			}
			revisions[string(sec.Value)] = append(revisions[string(sec.Value)], v.Revision)
			if v.Current {
				current = string(sec.Value)
			}
		}
		for value, revs := range revisions {
			if len(revs) > 1 {
				s.t.Errorf("%s: %s was written %d times (revisions %v): a retried write was applied twice", w.name, value, len(revs), revs)
			}
		}
		for _, value := range w.acked {
			if revisions[value] == nil {
				s.t.Errorf("%s: acknowledged write %s is lost", w.name, value)
			}
		}
		if last := w.acked[len(w.acked)-1]; current != last {
			s.t.Errorf("%s: current value %s, want the last acknowledged %s", w.name, current, last)
		}
	}
	values, err := st.GetProjectValues(ctx, "tf", "failover test")
	if err != nil {
		s.t.Fatal(err)
	}
	if len(values) != terraformN {
		s.t.Errorf("terraform's project has %d secrets, want %d", len(values), terraformN)
	}
	for i := range terraformN {
		name := fmt.Sprintf("TF_%03d", i)
		if got, want := string(values[name]), fmt.Sprintf("terraform-value-%d", i); got != want {
			s.t.Errorf("%s = %q, want %q", name, got, want)
		}
		if versions, err := st.SecretHistory(ctx, "tf", name); err != nil || len(versions) != 1 {
			s.t.Errorf("%s has %d revisions (%v), want 1: terraform's create was applied twice", name, len(versions), err)
		}
	}
	states := s.secretStates()
	for i := range seeded {
		id := []string{"app", "billing", "web"}[i%3] + fmt.Sprintf("/S%05d", i)
		if st := states[id]; st.value != reencryptValue(i) || !st.current {
			s.t.Errorf("%s after the failover and reencrypt: value intact %v, under its project's key %v", id, st.value == reencryptValue(i), st.current)
		}
	}
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

// With asynchronous replication a commit is acknowledged before the
// standby has it: a write acknowledged while the standby lagged (here:
// cut off) is gone after the failover. This is what synchronous
// replication buys; docs/operations.md says so.
func TestAsynchronousFailoverLosesTheWritesTheStandbyLacked(t *testing.T) {
	r := pgtest.NewReplicatedCluster(t, pgtest.ReplicationOptions{})
	s := newClusterSession(t, r)
	s.mustRun("kept", "secret", "add", "--project", "app", "--name", "REPLICATED")
	r.WaitReplayed(t)
	r.CutReplication(t)
	s.mustRun("lost", "secret", "add", "--project", "app", "--name", "NOT_REPLICATED")
	r.StopPrimary(t)
	r.Promote(t)
	if got := s.mustRun("", "secret", "get", "--project", "app", "--name", "REPLICATED").stdout; got != "kept" {
		t.Errorf("the write the standby had: %q, want kept", got)
	}
	wantFailure(t, s.run("", "secret", "get", "--project", "app", "--name", "NOT_REPLICATED"), 1, `secret "app/NOT_REPLICATED" not found`)
	// The chain on the new primary ends before the lost write: it verifies.
	s.mustRun("", "audit", "verify")
}
