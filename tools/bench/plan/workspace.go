package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
)

// progress is whether to show which run is going on: only on a terminal.
var progress = term.IsTerminal(int(os.Stdout.Fd()))

// config is one of the three configurations measured.
type config struct {
	name string
	// hcl is the configuration for n resources.
	hcl func(n int) string
	// provider is the plugin binary's name prefix, "" for a built-in.
	provider string
}

// The two provider configurations set the same attributes the same way,
// leaving category and validate to their defaults as most users would.
var configs = []config{
	{name: "pgsecrets_project_secret", provider: "terraform-provider-pgsecrets", hcl: func(n int) string {
		return fmt.Sprintf(`terraform {
  required_providers {
    pgsecrets = { source = "pgsecrets/pgsecrets" }
  }
}

provider "pgsecrets" {}

resource "pgsecrets_project_secret" "s" {
  count       = %d
  project     = "bench"
  name        = format("SECRET_%%05d", count.index)
  value       = "value-${count.index}"
  description = "benchmark secret"
}
`, n)
	}},
	{name: "nothing_secret", provider: "terraform-provider-nothing", hcl: func(n int) string {
		return fmt.Sprintf(`terraform {
  required_providers {
    nothing = { source = "bench/nothing" }
  }
}

resource "nothing_secret" "s" {
  count       = %d
  project     = "bench"
  name        = format("SECRET_%%05d", count.index)
  value       = "value-${count.index}"
  description = "benchmark secret"
}
`, n)
	}},
	{name: "terraform_data", hcl: func(n int) string {
		return fmt.Sprintf(`resource "terraform_data" "s" {
  count = %d
  input = "value-${count.index}"
}
`, n)
	}},
}

// workspace is where the benchmark runs Terraform: the providers, the CLI
// configuration pointing Terraform at them, one directory per
// configuration, and terraform.log collecting every command's output.
type workspace struct {
	dir, bin, log string
	env           []string
	// serverCPU reads the server's CPU time so far (0 when it is not on
	// this machine).
	serverCPU func() time.Duration
}

func newWorkspace(dir, bin, dbURL string) (*workspace, error) {
	w := &workspace{dir: dir, bin: bin, log: filepath.Join(dir, "terraform.log")}
	// dev_overrides: Terraform uses the local builds as they are, with no
	// `terraform init` and no registry.
	rc := filepath.Join(dir, "terraformrc")
	err := os.WriteFile(rc, []byte(fmt.Sprintf(`provider_installation {
  dev_overrides {
    "pgsecrets/pgsecrets" = %q
    "bench/nothing"       = %q
  }
  direct {}
}
`, bin, bin)), 0o644)
	if err != nil {
		return nil, err
	}
	w.env = append(cleanEnv(os.Environ()),
		"TF_CLI_CONFIG_FILE="+rc,
		"CHECKPOINT_DISABLE=1",
		"TF_IN_AUTOMATION=1",
		settings.EnvDatabaseURL+"="+dbURL,
		settings.EnvRootKeysFile+"="+filepath.Join(dir, "root-keys.json"),
		settings.EnvActor+"=bench",
	)
	return w, nil
}

// cleanEnv drops what would change how Terraform or pgsecrets behave:
// an inherited CLI configuration, logging, other pgsecrets settings.
func cleanEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if name == "TF_CLI_CONFIG_FILE" || name == "TF_CLI_CONFIG" || strings.HasPrefix(name, "TF_LOG") ||
			strings.HasPrefix(name, "TF_VAR_") || strings.HasPrefix(name, "PGSECRETS_") || name == "TF_REATTACH_PROVIDERS" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// prepareDatabase makes root keys and migrates the database with the
// pgsecrets CLI, as an operator would.
func (w *workspace) prepareDatabase() error {
	var keys bytes.Buffer
	cmd := exec.Command(filepath.Join(w.bin, "pgsecrets"), "key", "generate", "--set")
	cmd.Env, cmd.Stdout = w.env, &keys
	if err := w.runLogged(cmd, nil); err != nil {
		return fmt.Errorf("pgsecrets key generate: %w", err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "root-keys.json"), keys.Bytes(), 0o600); err != nil {
		return err
	}
	cmd = exec.Command(filepath.Join(w.bin, "pgsecrets"), "migrate", "up")
	cmd.Env = w.env
	if err := w.runLogged(cmd, nil); err != nil {
		return fmt.Errorf("pgsecrets migrate up: %w", err)
	}
	return nil
}

func (w *workspace) terraformVersion() string {
	out, err := exec.Command("terraform", "version").Output()
	if err != nil {
		return "unknown"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimPrefix(first, "Terraform ")
}

// measure runs apply, plan and destroy r times over n resources of c and
// returns the medians of apply and plan. Destroy is not timed; it also
// runs when a measurement fails, so nothing is left behind.
func (w *workspace) measure(ctx context.Context, c config, n, r int) (res result, err error) {
	dir := filepath.Join(w.dir, c.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(c.hcl(n)), 0o644); err != nil {
		return res, err
	}
	var applies, plans []time.Duration
	for i := range r {
		if progress {
			fmt.Printf("  %s: run %d/%d\r", c.name, i+1, r)
		}
		applied := false
		destroy := func() error {
			if !applied {
				return nil
			}
			_, err := w.terraform(context.WithoutCancel(ctx), dir, "", "destroy", "-auto-approve")
			return err
		}
		apply, err := w.terraform(ctx, dir, c.provider, "apply", "-auto-approve")
		applied = true // even a failed apply may have created some
		if err != nil {
			return res, errors.Join(err, destroy())
		}
		// -detailed-exitcode: a plan that is not empty is a bug, not a
		// figure.
		plan, err := w.terraform(ctx, dir, c.provider, "plan", "-detailed-exitcode")
		if err != nil {
			return res, errors.Join(err, destroy())
		}
		if err := destroy(); err != nil {
			return res, err
		}
		applies, plans = append(applies, apply.wall), append(plans, plan.wall)
		res.applyCPUs = append(res.applyCPUs, apply.cpu)
		res.applyServerCPUs = append(res.applyServerCPUs, apply.serverCPU)
		res.providerRSS = max(res.providerRSS, apply.providerRSS, plan.providerRSS)
	}
	if progress {
		fmt.Printf("%*s\r", len(c.name)+20, "")
	}
	res.apply, res.plan = median(applies), median(plans)
	res.applies, res.plans = applies, plans
	return res, nil
}

// timing is one timed command.
type timing struct {
	wall time.Duration
	// cpu is Terraform's with its providers'; serverCPU is PostgreSQL's
	// meanwhile.
	cpu, serverCPU time.Duration
	providerRSS    int64
}

// terraform runs a terraform command in dir, its output to the log. With
// provider, it also follows the peak RSS of Terraform's children of that
// name.
func (w *workspace) terraform(ctx context.Context, dir, provider string, args ...string) (timing, error) {
	args = append([]string{"-chdir=" + dir}, append(args, "-input=false", "-no-color")...)
	cmd := exec.CommandContext(ctx, "terraform", args...)
	cmd.Env = w.env
	var r timing
	var watch func(pid int) (stop func())
	if provider != "" {
		watch = func(pid int) func() { return watchRSS(pid, provider, &r.providerRSS) }
	}
	start, server := time.Now(), w.serverCPU()
	err := w.runLogged(cmd, watch)
	r.wall = time.Since(start)
	r.serverCPU = w.serverCPU() - server
	if cmd.ProcessState != nil {
		r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return r, fmt.Errorf("terraform %s: %w", strings.Join(args[1:], " "), err)
	}
	return r, nil
}

// runLogged runs cmd with its output (stdout too, unless the caller took
// it) appended to the log; on failure the error carries the log's tail.
// watch, if not nil, is called with the process id once it started, and
// the function it returns once it ended.
func (w *workspace) runLogged(cmd *exec.Cmd, watch func(pid int) (stop func())) error {
	f, err := os.OpenFile(w.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(f, "\n$ %s\n", strings.Join(cmd.Args, " "))
	if cmd.Stdout == nil {
		cmd.Stdout = f
	}
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		return err
	}
	if watch != nil {
		defer watch(cmd.Process.Pid)()
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("%v; last lines of %s:\n%s", err, w.log, tail(w.log, 30))
	}
	return nil
}

// tail is the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
