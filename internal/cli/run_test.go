//go:build linux || darwin

package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the command `pgsecrets run` starts: with
// runChildEnv set, it does what that variable says instead of testing.
const (
	runChildEnv   = "CLI_TEST_RUN_CHILD"  // report, kill-self or wait-signal
	runReportEnv  = "CLI_TEST_RUN_REPORT" // file the report goes to
	runNamesEnv   = "CLI_TEST_RUN_NAMES"  // variables to report, comma-separated
	runExitEnv    = "CLI_TEST_RUN_EXIT"   // exit status of report
	childStdout   = "child says hello on stdout"
	childStderr   = "child says hello on stderr"
	runCanaryBase = "canary-run-5f1e"
)

func init() {
	if mode := os.Getenv(runChildEnv); mode != "" {
		os.Exit(runTestChild(mode))
	}
}

// childReport is what the child saw.
type childReport struct {
	Args    []string          `json:"args"`
	Cmdline string            `json:"cmdline"`
	Env     map[string]string `json:"env"`
	Unset   []string          `json:"unset"`
	Stdin   string            `json:"stdin"`
}

func runTestChild(mode string) int {
	switch mode {
	case "kill-self":
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
		return 1
	case "wait-signal":
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		fmt.Println("ready")
		select {
		case sig := <-signals:
			fmt.Printf("got %v\n", sig)
			return 42
		case <-time.After(30 * time.Second):
			fmt.Println("no signal")
			return 1
		}
	}
	rep := childReport{Args: os.Args, Env: map[string]string{}}
	if b, err := os.ReadFile("/proc/self/cmdline"); err == nil {
		rep.Cmdline = string(b)
	}
	for _, name := range strings.Split(os.Getenv(runNamesEnv), ",") {
		if v, ok := os.LookupEnv(name); ok {
			rep.Env[name] = v
		} else {
			rep.Unset = append(rep.Unset, name)
		}
	}
	stdin, _ := bufio.NewReader(os.Stdin).ReadString(0)
	rep.Stdin = stdin
	b, _ := json.Marshal(rep)
	if err := os.WriteFile(os.Getenv(runReportEnv), b, 0o600); err != nil {
		return 99
	}
	fmt.Println(childStdout)
	fmt.Fprintln(os.Stderr, childStderr)
	code, _ := strconv.Atoi(os.Getenv(runExitEnv))
	return code
}

// runChild prepares the environment for a report child and returns the
// command line that starts it, and the report's path.
func runChild(t *testing.T, mode string, names ...string) (command []string, report string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	report = filepath.Join(t.TempDir(), "report.json")
	t.Setenv(runChildEnv, mode)
	t.Setenv(runReportEnv, report)
	t.Setenv(runNamesEnv, strings.Join(names, ","))
	return []string{self, "--child-flag", "x"}, report
}

func readChildReport(t *testing.T, path string) childReport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the child did not run: %v", err)
	}
	var rep childReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

func noChildReport(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the command ran (report %s: %v)", path, err)
	}
}

func TestRunPassesSecretsInTheEnvironmentOnly(t *testing.T) {
	s := newSession(t)
	values := map[string]string{
		"API_TOKEN":   runCanaryBase + "-token",
		"MULTI_LINE":  runCanaryBase + "-line1\nline2 'q' \"dq\" $HOME \\ #",
		"Unicode_Key": runCanaryBase + "-ünï ✓",
	}
	for name, v := range values {
		s.mustRun(v, "secret", "add", "--project", "app", "--name", name)
	}
	s.mustRun("other-project-value", "secret", "add", "--project", "other", "--name", "OTHER_TOKEN")
	t.Setenv("API_TOKEN", "inherited-value-is-replaced")
	t.Setenv("INHERITED_PLAIN", "kept")

	command, report := runChild(t, "report", "API_TOKEN", "MULTI_LINE", "Unicode_Key", "INHERITED_PLAIN", "OTHER_TOKEN")
	r := s.run("piped to the child", append([]string{"run", "--project", "app", "--"}, command...)...)
	if r.code != 0 {
		t.Fatalf("run:\n%s", r)
	}
	if r.stdout != childStdout+"\n" || r.stderr != childStderr+"\n" {
		t.Errorf("run does not pass the child's output through as it is:\n%s", r)
	}
	rep := readChildReport(t, report)
	for name, v := range values {
		if rep.Env[name] != v {
			t.Errorf("the child saw %s=%q, want %q", name, rep.Env[name], v)
		}
	}
	if rep.Env["INHERITED_PLAIN"] != "kept" || len(rep.Unset) != 1 || rep.Unset[0] != "OTHER_TOKEN" {
		t.Errorf("the child's environment: %+v", rep)
	}
	if rep.Stdin != "piped to the child" {
		t.Errorf("the child read %q on stdin", rep.Stdin)
	}
	if got := strings.Join(rep.Args[1:], " "); got != "--child-flag x" {
		t.Errorf("the child's arguments are %q, want its own flags untouched", got)
	}
	for _, where := range []string{strings.Join(rep.Args, " "), rep.Cmdline, r.stdout, r.stderr} {
		if strings.Contains(where, "canary") {
			t.Errorf("a value is on a command line or in pgsecrets' output: %q", where)
		}
	}
	// One audited read, of the names only.
	var details string
	if err := s.pool().QueryRow(t.Context(), `select details from pgsecrets.audit_events where action = 'secret.read' order by seq desc limit 1`).Scan(&details); err != nil {
		t.Fatal(err)
	}
	if want := `{"names":["API_TOKEN","MULTI_LINE","Unicode_Key"],"purpose":"cli run"}`; details != want {
		t.Errorf("audit details %s, want %s", details, want)
	}
}

func TestRunExitsWithTheCommandsStatus(t *testing.T) {
	s := newSession(t)
	s.mustRun("v", "secret", "add", "--project", "app", "--name", "TOKEN")
	command, _ := runChild(t, "report")
	for _, code := range []int{0, 3} {
		t.Setenv(runExitEnv, strconv.Itoa(code))
		r := s.run("", append([]string{"run", "--project", "app", "--"}, command...)...)
		if r.code != code || r.stderr != childStderr+"\n" {
			t.Errorf("child exiting %d: pgsecrets run:\n%s", code, r)
		}
	}

	// Without --, the flags after the command's name are still its own.
	t.Setenv(runExitEnv, "0")
	if r := s.run("", append([]string{"run", "--project", "app"}, command...)...); r.code != 0 {
		t.Errorf("run without --:\n%s", r)
	}

	command, _ = runChild(t, "kill-self")
	r := s.run("", append([]string{"run", "--project", "app", "--"}, command...)...)
	if r.code != 128+int(syscall.SIGKILL) || r.stderr != "" {
		t.Errorf("child killed by SIGKILL: want exit 137 and nothing said:\n%s", r)
	}

	r = s.run("", "run", "--project", "app", "--", "no-such-command-9f3a", "arg")
	wantFailure(t, r, 127, "command no-such-command-9f3a not found in $PATH; nothing was run")
	notExecutable := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantFailure(t, s.run("", "run", "--project", "app", "--", notExecutable), 126, "permission denied")
}

func TestRunRelaysSignalsToTheCommand(t *testing.T) {
	bin := pgsecretsBinary(t)
	s := newSession(t)
	s.mustRun("v", "secret", "add", "--project", "app", "--name", "TOKEN")
	command, _ := runChild(t, "wait-signal")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		cmd := exec.Command(bin, append([]string{"--database-url", s.dbURL, "--root-keys-file", s.keysFile, "run", "--project", "app", "--"}, command...)...)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		if !lines.Scan() || lines.Text() != "ready" {
			t.Fatalf("the child did not start: %q %s", lines.Text(), stderr.String())
		}
		// To pgsecrets only: the child hears of it through pgsecrets.
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		var rest []string
		for lines.Scan() {
			rest = append(rest, lines.Text())
		}
		err = cmd.Wait()
		if want := []string{"got " + sig.String()}; strings.Join(rest, "\n") != want[0] {
			t.Errorf("%v: the child printed %q, want %q", sig, rest, want)
		}
		if code := cmd.ProcessState.ExitCode(); code != 42 || stderr.Len() != 0 {
			t.Errorf("%v: pgsecrets exited %d (%v), want the child's 42; stderr %q", sig, code, err, stderr.String())
		}
	}
}

func TestRunOnlyPassesTheNamedSecrets(t *testing.T) {
	s := newSession(t)
	for _, name := range []string{"A_TOKEN", "B_TOKEN", "C_TOKEN"} {
		s.mustRun("value-of-"+name, "secret", "add", "--project", "app", "--name", name)
	}
	command, report := runChild(t, "report", "A_TOKEN", "B_TOKEN", "C_TOKEN")
	s.mustRun("", append([]string{"run", "--project", "app", "--only", "C_TOKEN,A_TOKEN", "--only", "A_TOKEN", "--"}, command...)...)
	rep := readChildReport(t, report)
	if len(rep.Env) != 2 || rep.Env["A_TOKEN"] != "value-of-A_TOKEN" || rep.Env["C_TOKEN"] != "value-of-C_TOKEN" {
		t.Errorf("with --only A_TOKEN,C_TOKEN the child saw %v", rep.Env)
	}

	// A name the project lacks: nothing runs, unless the environment has
	// it and --env-fallback lets it stand in.
	command, report = runChild(t, "report", "A_TOKEN", "LOG_LEVEL")
	r := s.run("", append([]string{"run", "--project", "app", "--only", "A_TOKEN,LOG_LEVEL,NOPE", "--"}, command...)...)
	wantFailure(t, r, 1, "project app lacks 2 of the secrets named by --only: LOG_LEVEL; NOPE; nothing was run", "pass --env-fallback")
	noChildReport(t, report)

	t.Setenv("LOG_LEVEL", "debug")
	r = s.run("", append([]string{"run", "--project", "app", "--only", "A_TOKEN,LOG_LEVEL,NOPE", "--env-fallback", "--"}, command...)...)
	wantFailure(t, r, 1, "project app lacks 1 of the secrets named by --only: NOPE (not set in the environment either); nothing was run")
	noChildReport(t, report)

	s.mustRun("", append([]string{"run", "--project", "app", "--only", "A_TOKEN,LOG_LEVEL", "--env-fallback", "--"}, command...)...)
	if rep := readChildReport(t, report); rep.Env["LOG_LEVEL"] != "debug" || rep.Env["A_TOKEN"] != "value-of-A_TOKEN" {
		t.Errorf("with --env-fallback the child saw %v", rep.Env)
	}
	os.Remove(report)

	// pgsecrets' and libpq's settings never stand in, nor names outside
	// --env-allow.
	t.Setenv("PGPASSWORD", "canary-pgpassword")
	r = s.run("", append([]string{"run", "--project", "app", "--only", "PGPASSWORD,LOG_LEVEL", "--env-fallback", "--env-allow", "APP_*", "--"}, command...)...)
	wantFailure(t, r, 1, "lacks 2 of the secrets", "PGPASSWORD (it may not come from the environment: names starting with PG are PostgreSQL connection settings",
		"LOG_LEVEL (it may not come from the environment: it matches no entry of the environment allow-list (APP_*))")
	if strings.Contains(r.stderr, "canary") || strings.Contains(r.stderr, "debug") {
		t.Errorf("an environment value is in the error: %s", r.stderr)
	}
	noChildReport(t, report)
}

func TestRunRefusesNamesThatAreNotEnvironmentVariables(t *testing.T) {
	s := newSession(t)
	s.mustRun(runCanaryBase+"-dotted", "secret", "add", "--project", "app", "--name", "stripe.key")
	s.mustRun(runCanaryBase+"-digit", "secret", "add", "--project", "app", "--name", "1PASSWORD")
	s.mustRun(runCanaryBase+"-good", "secret", "add", "--project", "app", "--name", "GOOD")
	command, report := runChild(t, "report", "GOOD")

	r := s.run("", append([]string{"run", "--project", "app", "--"}, command...)...)
	wantFailure(t, r, 1, "project app has secrets whose names are not environment variable names: 1PASSWORD, stripe.key; nothing was run; pass the others with --only")
	noChildReport(t, report)
	r2 := s.run("", append([]string{"run", "--project", "app", "--only", "GOOD,stripe.key", "--"}, command...)...)
	wantFailure(t, r2, 2, "--only: stripe.key is not an environment variable name (letters, digits and '_', not starting with a digit)")
	noChildReport(t, report)
	for _, r := range []result{r, r2} {
		if strings.Contains(r.stdout+r.stderr, "canary") {
			t.Errorf("a value is in the output:\n%s", r)
		}
	}

	s.mustRun("", append([]string{"run", "--project", "app", "--only", "GOOD", "--"}, command...)...)
	if rep := readChildReport(t, report); rep.Env["GOOD"] != runCanaryBase+"-good" {
		t.Errorf("the child saw %v", rep.Env)
	}
}

func TestRunRefusesABadCommandLine(t *testing.T) {
	s := newSession(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--project", "app"}, "name the command to run after --, e.g. pgsecrets run --project billing -- ./server"},
		{[]string{"run", "--", "env"}, "--project is required"},
		{[]string{"run", "--project", "app", "--env-fallback", "--", "env"}, "--env-fallback lets the environment stand in for names given with --only; add --only NAME,..."},
		{[]string{"run", "--project", "app", "--only", "A", "--env-allow", "A", "--", "env"}, "--env-allow limits the environment fallback; add --env-fallback"},
		{[]string{"run", "--project", "app", "--only", "a/b", "--", "env"}, `--only: secret name "a/b" is not valid`},
	} {
		wantFailure(t, s.run("", tc.args...), 2, tc.want)
	}
	wantFailure(t, s.run("", "run", "--project", "empty", "--", "env"), 1, "project empty has no secrets; nothing was run")
}

func TestRunRelaysSignalsFromATerminalOnlyOnce(t *testing.T) {
	// Streams that are no terminal: every signal is relayed.
	ios := &IOStreams{In: strings.NewReader(""), Out: &strings.Builder{}, ErrOut: &strings.Builder{}}
	for _, sig := range relayedSignals {
		if reachedByTerminal(ios, sig) {
			t.Errorf("%v would not be relayed without a terminal", sig)
		}
	}
	// SIGTERM never comes from a terminal, whatever the streams.
	ios = &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if reachedByTerminal(ios, syscall.SIGTERM) || reachedByTerminal(ios, syscall.SIGHUP) {
		t.Error("SIGTERM or SIGHUP would not be relayed")
	}
}
