//go:build linux || darwin

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// deployScript writes ./deploy.sh, a bash script that records that it ran
// and the environment it got, in a fresh working directory.
func deployScript(t *testing.T) string {
	t.Helper()
	t.Chdir(t.TempDir())
	script := "#!/bin/bash\necho deployed > deployed.txt\nenv > child-env.txt\n"
	if err := os.WriteFile("deploy.sh", []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return "./deploy.sh"
}

func exists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// The attack: a dashboard editor saves BASH_ENV with a command substitution
// in it; bash expands BASH_ENV when the deploy script starts, which would
// run the editor's commands with the operator's environment (database URL,
// root keys) on the operator's host.
func TestRunRefusesBashEnvSecret(t *testing.T) {
	s := newSession(t)
	s.mustRun("$(id > pwned.txt; env >> pwned.txt)", "secret", "add", "--project", "p", "--name", "BASH_ENV")
	s.mustRun("v", "secret", "add", "--project", "p", "--name", "APP_TOKEN")
	script := deployScript(t)

	r := s.run("", "run", "--project", "p", "--", script)
	wantFailure(t, r, 1, "secrets of project p named like variables that change how programs start would let whoever wrote them choose code that runs here: BASH_ENV (a shell reads it when it starts or runs commands, and can run code from it); nothing was run",
		"pass --allow-startup-var NAME")
	if exists("pwned.txt") || exists("deployed.txt") {
		t.Fatal("the script ran, or BASH_ENV's commands did")
	}
	// Named with --only, it is refused before anything is read.
	r = s.run("", "run", "--project", "p", "--only", "APP_TOKEN,BASH_ENV", "--", script)
	wantFailure(t, r, 2, "BASH_ENV (a shell reads it")
	if exists("pwned.txt") || exists("deployed.txt") {
		t.Fatal("the script ran, or BASH_ENV's commands did")
	}
	s.mustRun("", "run", "--project", "p", "--only", "APP_TOKEN", "--", script)
	if !exists("deployed.txt") || exists("pwned.txt") {
		t.Fatal("without BASH_ENV the script did not run, or BASH_ENV's commands did")
	}
}

func TestRunRefusesLoaderAndPathSecrets(t *testing.T) {
	s := newSession(t)
	for name, want := range map[string]string{
		"LD_PRELOAD":      "LD_PRELOAD (the dynamic loader reads it to load libraries into every program it starts)",
		"PATH":            "PATH (it decides which program a command name starts)",
		"NODE_OPTIONS":    "NODE_OPTIONS (Node.js reads it at start-up to find or run code)",
		"ld_library_path": "ld_library_path (the dynamic loader reads it",
	} {
		project := "p-" + strings.ToLower(name)
		s.mustRun(t.TempDir(), "secret", "add", "--project", project, "--name", name)
		script := deployScript(t)
		wantFailure(t, s.run("", "run", "--project", project, "--", script), 1, want, "nothing was run")
		if exists("deployed.txt") {
			t.Errorf("%s: the script ran", name)
		}
	}
}

// The operator can let one named secret set such a variable; bash then
// reads it as BASH_ENV is meant to be read.
func TestRunAllowStartupVarLetsTheNamedSecretThrough(t *testing.T) {
	s := newSession(t)
	script := deployScript(t)
	startup, err := filepath.Abs("startup.sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(startup, []byte("echo sourced > sourced.txt\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.mustRun(startup, "secret", "add", "--project", "p", "--name", "BASH_ENV")
	s.mustRun("/nonexistent/lib.so", "secret", "add", "--project", "p", "--name", "LD_PRELOAD")

	// Allowing one name does not allow the other.
	r := s.run("", "run", "--project", "p", "--allow-startup-var", "BASH_ENV", "--", script)
	wantFailure(t, r, 1, "LD_PRELOAD (the dynamic loader")
	if strings.Contains(r.stderr, "BASH_ENV") {
		t.Errorf("the allowed name is still refused: %s", r.stderr)
	}

	s.mustRun("", "run", "--project", "p", "--only", "BASH_ENV", "--allow-startup-var", "BASH_ENV", "--", script)
	if !exists("sourced.txt") || !exists("deployed.txt") {
		t.Fatal("with --allow-startup-var BASH_ENV, bash did not read BASH_ENV")
	}

	wantFailure(t, s.run("", "run", "--project", "p", "--allow-startup-var", "APP_TOKEN", "--", script), 2,
		"--allow-startup-var: APP_TOKEN does not change how programs start, so it needs no allowance")
}

// The command gets its secrets, not the database URL and root keys
// pgsecrets used to read them.
func TestRunKeepsPgsecretsSettingsFromTheCommand(t *testing.T) {
	s := newSession(t)
	s.mustRun("postgres://app@db.example/app", "secret", "add", "--project", "p", "--name", "DATABASE_URL")
	s.mustRun("v", "secret", "add", "--project", "p", "--name", "APP_TOKEN")
	script := deployScript(t)
	settings := map[string]string{
		"PGSECRETS_DATABASE_URL":   s.dbURL,
		"PGSECRETS_ROOT_KEYS_FILE": s.keysFile,
		"PGSECRETS_SCHEMA":         "pgsecrets",
		"PGPASSWORD":               "canary-pgpassword",
		"PGPASSFILE":               "/nonexistent/pgpass",
		"PGAPPNAME":                "canary-appname",
		"DATABASE_URL":             s.dbURL,
	}
	for name, v := range settings {
		t.Setenv(name, v)
	}
	t.Setenv("INHERITED_PLAIN", "kept")

	s.mustRun("", "run", "--project", "p", "--", script)
	env := childEnv(t)
	for name := range settings {
		if v, ok := env[name]; ok && name != "DATABASE_URL" {
			t.Errorf("the command inherited %s=%s", name, v)
		}
	}
	if env["DATABASE_URL"] != "postgres://app@db.example/app" || env["APP_TOKEN"] != "v" || env["INHERITED_PLAIN"] != "kept" {
		t.Errorf("the command's environment lacks its secrets or what it inherits: %v", env)
	}
	for _, line := range strings.Split(readFile(t, "child-env.txt"), "\n") {
		if strings.Contains(line, s.keysFile) || strings.Contains(line, s.dbURL) || strings.Contains(line, "canary") {
			t.Errorf("a setting's value reached the command: %s", line)
		}
	}

	s.mustRun("", "run", "--project", "p", "--pass-setting", "PGAPPNAME", "--", script)
	if env := childEnv(t); env["PGAPPNAME"] != "canary-appname" || env["PGPASSWORD"] != "" {
		t.Errorf("with --pass-setting PGAPPNAME the command saw PGAPPNAME=%q PGPASSWORD=%q", env["PGAPPNAME"], env["PGPASSWORD"])
	}
	wantFailure(t, s.run("", "run", "--project", "p", "--pass-setting", "HOME", "--", script), 2,
		"--pass-setting: HOME is not a pgsecrets setting")
}

// childEnv reads the environment deploy.sh recorded, one NAME=value a line
// (values here have no newline).
func childEnv(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, line := range strings.Split(readFile(t, "child-env.txt"), "\n") {
		if name, v, ok := strings.Cut(line, "="); ok {
			env[name] = v
		}
	}
	return env
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("the command did not run: %v", err)
	}
	return string(b)
}
