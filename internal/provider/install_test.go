package provider

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The README's quick start as a user runs it, with the CLI the tests run
// (Terraform, or OpenTofu for `make testacc-tofu`): `make
// install-provider`, then init with no CLI configuration and no
// dev_overrides, apply, and an empty plan after it. Every other
// acceptance test serves the provider in-process; this one proves that
// init finds the installed binary under the host this CLI gives
// pgsecrets/pgsecrets (registry.terraform.io, or registry.opentofu.org),
// and that examples/quickstart, its terraform block included, works as
// shipped.
func TestAccInstalledProviderRunsTheQuickstart(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Fatal("acceptance test needs TF_ACC=1 (run `make test`, or TF_ACC=1 go test ./internal/provider/)")
	}
	env := newTestEnv(t)
	home := t.TempDir()
	work := t.TempDir()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	plugins := filepath.Join(home, ".terraform.d", "plugins")
	install := exec.Command("make", "--no-print-directory", "-C", repo, "install-provider", "TF_PLUGINS_DIR="+plugins)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("make install-provider: %v\n%s", err, out)
	}
	config, err := os.ReadFile(filepath.Join(repo, "examples", "quickstart", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "main.tf"), config, 0o644); err != nil {
		t.Fatal(err)
	}

	// As a new user runs it: this HOME, no CLI configuration, plugin
	// cache, extra arguments or unmanaged providers from the environment.
	var environ []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "TF_"), strings.HasPrefix(name, "XDG_"), strings.HasPrefix(name, "PGSECRETS_"), name == "HOME":
			continue
		}
		environ = append(environ, kv)
	}
	environ = append(environ, "HOME="+home, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1",
		"PGSECRETS_DATABASE_URL="+env.DatabaseURL, "PGSECRETS_ROOT_KEYS="+env.RootKeys, "PGSECRETS_SCHEMA="+env.Schema)
	run := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(testCLI.Path, append([]string{"-chdir=" + work}, args...)...)
		cmd.Env = environ
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("%s %s: %v", testCLI.Name, args[0], err)
		}
		return out.String(), cmd.ProcessState.ExitCode()
	}
	must := func(args ...string) string {
		t.Helper()
		out, code := run(args...)
		if code != 0 {
			t.Fatalf("%s %s: exit %d\n%s", testCLI, strings.Join(args, " "), code, out)
		}
		return out
	}

	host := "registry.terraform.io"
	if testCLI.Name == "OpenTofu" {
		host = openTofuRegistry
	}
	out := must("init", "-input=false", "-no-color")
	if !strings.Contains(out, "Installed pgsecrets/pgsecrets v0.0.0-dev") {
		t.Errorf("init did not install pgsecrets/pgsecrets 0.0.0-dev:\n%s", out)
	}
	lock, err := os.ReadFile(filepath.Join(work, ".terraform.lock.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `provider "` + host + `/pgsecrets/pgsecrets"`; !strings.Contains(string(lock), want) {
		t.Errorf("the lock file lacks %s:\n%s", want, lock)
	}

	must("apply", "-auto-approve", "-input=false", "-no-color")
	state := must("state", "pull")
	for _, leak := range []string{"sk-proj-quickstart", "signingSecret"} {
		if strings.Contains(state, leak) {
			t.Errorf("the state holds %q, a write-only or ephemeral value", leak)
		}
	}
	if out, code := run("plan", "-detailed-exitcode", "-input=false", "-no-color"); code != 0 {
		t.Errorf("the plan after apply is not empty (exit %d):\n%s", code, out)
	}
	must("destroy", "-auto-approve", "-input=false", "-no-color")
}
