package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/dotenv"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/envpolicy"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/secretref"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// Exit codes of `run` when the command cannot be started, as shells
// report them.
const (
	exitCannotRun = 126
	exitNotFound  = 127
)

// relayedSignals are passed on to the command `run` started.
var relayedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// RunOptions configure `pgsecrets run`.
type RunOptions struct {
	*globalOptions
	readFlags
	Project     string
	Only        []string
	EnvFallback bool
	EnvAllow    []string
	// AllowStartup are names that change how programs start which the
	// operator lets secrets set (--allow-startup-var).
	AllowStartup []string
	// PassSettings are pgsecrets' settings the command inherits
	// (--pass-setting); it gets none otherwise.
	PassSettings []string
	// Command is the program and its arguments.
	Command []string
}

func newRunCmd(g *globalOptions) *cobra.Command {
	opts := &RunOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "run [flags] -- COMMAND [ARG...]",
		Short: "Run a command with a project's secrets in its environment",
		Long: `Start COMMAND with the project's secrets added to its environment, one
variable per secret, named like the secret: every secret of --project, or
only the names given with --only. The values are read in one query,
recorded in the audit trail as one read of those names, and go to the
command in its environment only: never on a command line, where other
users of the machine could read them. pgsecrets prints none of them.

Flags after COMMAND are COMMAND's own; the -- before it is optional, but
makes that plain. Otherwise the command inherits pgsecrets' environment, as
any command started from a shell does, and its stdin, stdout and stderr. A
secret replaces an inherited variable of the same name.

The command does not inherit pgsecrets' own settings: PGSECRETS_* (the root
keys, the database URL), DATABASE_URL and PostgreSQL's PG* variables
(PGPASSWORD, PGHOST, PGSERVICE, PGPASSFILE...) are removed from its
environment, so a program that only needs its secrets never holds the keys
to all of them. --pass-setting NAME keeps one (say PGHOST, for a program
that connects to the same server); a secret of the same name, such as a
project's own DATABASE_URL, is passed as any secret is.

A secret may not set a variable that changes how a program is loaded or a
shell starts: LD_* and DYLD_* (libraries loaded into every program),
BASH_ENV, ENV, BASH_FUNC_*, SHELLOPTS, IFS, PS4 and the like (code a shell
runs), PATH (which program a name starts), NODE_OPTIONS, PYTHONPATH,
PYTHONSTARTUP, PERL5OPT, RUBYOPT, JAVA_TOOL_OPTIONS (code an interpreter
loads), GIT_SSH_COMMAND, GIT_CONFIG_*, PAGER, EDITOR (programs tools run).
Whoever can write a secret would otherwise choose code that runs here.
Such a secret is an error, by name, before any value is read, and nothing
is run. --allow-startup-var NAME lets the named secret through when the
command really needs it (not to be confused with --env-allow, which limits
--env-fallback). ` + "`secret add`" + `, import-env, the dashboard and Terraform warn
when a secret is stored under such a name.

Each name must be an environment variable name: letters, digits and '_',
not starting with a digit. A secret named otherwise (stripe.key) is
refused, by name, before any value is read: leave it out with --only, or
give it a variable name with ` + "`pgsecrets render --format dotenv`" + `.

--only NAME,... passes these secrets only, and each must exist: otherwise
nothing is run, and the error lists the missing names. --env-fallback
(with --only) accepts a missing name that the inherited environment
already sets: the command sees that variable, as it would without
pgsecrets. It changes nothing else: without it the command inherits the
same environment, but a missing secret is an error. pgsecrets' own settings
(PGSECRETS_*), DATABASE_URL, PostgreSQL's PG* and Terraform's TF_*
variables never stand in for a secret, as in ` + "`render`" + `: they hold
credentials of their own. --env-allow narrows the fallback further to the
names and prefixes listed (APP_* is every name starting with APP_).

` + readURLHelp + `

SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to pgsecrets are passed on to the
command, and pgsecrets waits for it to end. Ctrl-C (or Ctrl-\) at a
terminal reaches both at once, so pgsecrets does not pass it on a second
time.

Exit status: the command's own; 128+N when signal N ends it (130 for
SIGINT, 143 for SIGTERM); 127 when the command is not found, 126 when it
cannot be started. When pgsecrets fails before starting it (a missing
secret, a database error), nothing is run, and the status is 1, or 2 when
the command line is wrong.`,
		Example: `  # Every secret of the project, in the server's environment
  pgsecrets run --project billing -- ./server --port 8080

  # Two secrets only, for a one-off script
  pgsecrets run --project billing --only STRIPE_KEY,WEBHOOK_SECRET -- python3 refund.py

  # Local development: variables already set stand in for secrets the project lacks
  LOG_LEVEL=debug pgsecrets run --project billing --only STRIPE_KEY,LOG_LEVEL --env-fallback -- npm run dev

  # The project stores NODE_OPTIONS on purpose: let that one secret set it
  pgsecrets run --project web --allow-startup-var NODE_OPTIONS -- node server.js

  # A migration tool that connects with the same PGHOST and PGSSLMODE as pgsecrets
  pgsecrets run --project billing --pass-setting PGHOST,PGSSLMODE -- ./migrate.sh`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf(cmd, "name the command to run after --, e.g. pgsecrets run --project billing -- ./server")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateRunFlags(cmd, opts); err != nil {
				return err
			}
			opts.Command = args
			return runRun(cmd.Context(), opts)
		},
	}
	// Flags after the command's name are the command's own.
	cmd.Flags().SetInterspersed(false)
	f := cmd.Flags()
	f.StringVar(&opts.Project, "project", "", "project whose secrets the command gets (required)")
	f.StringSliceVar(&opts.Only, "only", nil, "pass only these secrets, each of which must exist (comma-separated or repeated)")
	f.BoolVar(&opts.EnvFallback, "env-fallback", false, "with --only, accept a missing secret that the environment already sets")
	f.StringSliceVar(&opts.EnvAllow, "env-allow", nil, "with --env-fallback, only these names may come from the environment; NAME or PREFIX_* (comma-separated or repeated)")
	f.StringSliceVar(&opts.AllowStartup, "allow-startup-var", nil, "let secrets with these names set variables that change how programs start, such as NODE_OPTIONS or LD_PRELOAD (comma-separated or repeated)")
	f.StringSliceVar(&opts.PassSettings, "pass-setting", nil, "let the command inherit these pgsecrets settings (PGSECRETS_*, DATABASE_URL, PG*), which it does not get otherwise (comma-separated or repeated)")
	opts.readFlags.add(cmd)
	return cmd
}

// validateRunFlags checks the flags before anything is read or connected.
func validateRunFlags(cmd *cobra.Command, opts *RunOptions) error {
	if err := requireProject(cmd, opts.Project); err != nil {
		return err
	}
	if opts.EnvFallback && len(opts.Only) == 0 {
		return usageErrorf(cmd, "--env-fallback lets the environment stand in for names given with --only; add --only NAME,...")
	}
	if err := validateEnvAllow(opts.EnvFallback, opts.EnvAllow); err != nil {
		return &usageError{cmd: cmd, err: err}
	}
	opts.Only = slices.Compact(slices.Sorted(slices.Values(opts.Only)))
	for _, name := range opts.Only {
		if err := store.ValidateSecretName(name); err != nil {
			return &usageError{cmd: cmd, err: fmt.Errorf("--only: %w", err)}
		}
	}
	if bad := invalidEnvNames(opts.Only); len(bad) > 0 {
		return usageErrorf(cmd, "--only: %s %s", strings.Join(bad, ", "), notEnvNames(len(bad)))
	}
	for _, name := range opts.AllowStartup {
		if envpolicy.Startup(name) == "" {
			return usageErrorf(cmd, "--allow-startup-var: %s does not change how programs start, so it needs no allowance; the flag is for names such as LD_PRELOAD, BASH_ENV, PATH or NODE_OPTIONS", name)
		}
	}
	for _, name := range opts.PassSettings {
		if !envpolicy.Setting(name) {
			return usageErrorf(cmd, "--pass-setting: %s is not a pgsecrets setting (PGSECRETS_*, DATABASE_URL, PG*), and the command inherits it anyway", name)
		}
	}
	if err := refuseStartupNames(opts, opts.Only); err != nil {
		return &usageError{cmd: cmd, err: err}
	}
	return nil
}

// refuseStartupNames fails, naming them, when secrets would set variables
// that change how the command is loaded or its shell starts, and the
// operator did not allow them with --allow-startup-var.
func refuseStartupNames(opts *RunOptions, names []string) error {
	var refused []string
	for _, name := range names {
		if why := envpolicy.Startup(name); why != "" && !slices.Contains(opts.AllowStartup, name) {
			refused = append(refused, name+" ("+why+")")
		}
	}
	if len(refused) == 0 {
		return nil
	}
	return fmt.Errorf("secrets of project %s named like variables that change how programs start would let whoever wrote them choose code that runs here: %s; nothing was run; rename them, leave them out with --only, or pass --allow-startup-var NAME for each the command must get",
		opts.Project, strings.Join(refused, "; "))
}

// invalidEnvNames lists the names that are not environment variable names.
func invalidEnvNames(names []string) []string {
	var bad []string
	for _, name := range names {
		if !dotenv.ValidName(name) {
			bad = append(bad, name)
		}
	}
	return bad
}

func notEnvNames(n int) string {
	if n == 1 {
		return "is not an environment variable name (letters, digits and '_', not starting with a digit)"
	}
	return "are not environment variable names (letters, digits and '_', not starting with a digit)"
}

func runRun(ctx context.Context, opts *RunOptions) error {
	values, err := readRunSecrets(ctx, opts)
	if err != nil {
		return err
	}
	return runCommand(opts, values)
}

// readRunSecrets decrypts the secrets the command gets. The store is closed
// before the command starts: it may run for months.
func readRunSecrets(ctx context.Context, opts *RunOptions) (map[string][]byte, error) {
	st, err := opts.OpenStoreForReads(ctx, opts.readFlags)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	names := opts.Only
	if len(names) == 0 {
		metas, err := st.ListSecrets(ctx, opts.Project)
		if err != nil {
			return nil, err
		}
		for _, m := range metas {
			names = append(names, m.Name)
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("project %s has no secrets; nothing was run; `pgsecrets secret list` shows every project's secrets", opts.Project)
		}
		if bad := invalidEnvNames(names); len(bad) > 0 {
			return nil, fmt.Errorf("project %s has secrets whose names are not environment variable names: %s; nothing was run; pass the others with --only (letters, digits and '_', not starting with a digit)", opts.Project, strings.Join(bad, ", "))
		}
		if err := refuseStartupNames(opts, names); err != nil {
			return nil, err
		}
	}
	values, err := st.GetValues(ctx, opts.Project, names, "cli run")
	if err != nil {
		return nil, err
	}
	if err := checkMissing(opts, names, values); err != nil {
		return nil, err
	}
	for name, v := range values {
		if bytes.IndexByte(v, 0) >= 0 {
			return nil, fmt.Errorf("secret %s/%s holds a NUL byte, which no environment variable can; nothing was run", opts.Project, name)
		}
	}
	return values, nil
}

// checkMissing fails, naming them, when names given with --only are not in
// the project, unless the environment fallback lets the inherited
// environment stand in for each.
func checkMissing(opts *RunOptions, names []string, found map[string][]byte) error {
	var missing []string
	envMayHelp := false
	for _, name := range names {
		if _, ok := found[name]; ok {
			continue
		}
		allow := opts.EnvAllow
		if !opts.EnvFallback {
			allow = nil
		}
		refusal := secretref.EnvRefusal(name, allow)
		switch _, set := os.LookupEnv(name); {
		case refusal != "":
			name += " (it may not come from the environment: " + refusal + ")"
		case !opts.EnvFallback:
			envMayHelp = true
		case set:
			continue // inherited, as the fallback allows
		default:
			name += " (not set in the environment either)"
		}
		missing = append(missing, name)
	}
	if len(missing) == 0 {
		return nil
	}
	fix := "create them with `pgsecrets secret add`"
	if envMayHelp {
		fix += ", or pass --env-fallback to let variables already set stand in"
	}
	return fmt.Errorf("project %s lacks %d of the secrets named by --only: %s; nothing was run; %s",
		opts.Project, len(missing), strings.Join(missing, "; "), fix)
}

// runCommand starts the command with values in its environment, relays
// signals to it, and ends with its exit status.
func runCommand(opts *RunOptions, values map[string][]byte) error {
	path, err := exec.LookPath(opts.Command[0])
	if err != nil {
		return cannotStart(opts, err)
	}
	// Secrets go after the inherited variables: for a name set twice, the
	// last value is the one the command sees (os/exec's rule).
	env := inheritedEnv(opts.PassSettings)
	for _, name := range slices.Sorted(maps.Keys(values)) {
		env = append(env, name+"="+string(values[name]))
	}
	cmd := &exec.Cmd{
		Path: path, Args: opts.Command, Env: env,
		Stdin: opts.IO.In, Stdout: opts.IO.Out, Stderr: opts.IO.ErrOut,
	}

	// Listen before starting, so that no signal is lost in between.
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, relayedSignals...)
	defer signal.Stop(signals)
	if err := cmd.Start(); err != nil {
		return cannotStart(opts, err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case sig := <-signals:
				if !reachedByTerminal(opts.IO, sig) {
					_ = cmd.Process.Signal(sig)
				}
			case <-done:
				return
			}
		}
	}()

	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &exitCodeError{code: 128 + int(ws.Signal())}
		}
		return &exitCodeError{code: exit.ExitCode()}
	}
	if err != nil {
		return fmt.Errorf("run %s: %w", opts.Command[0], err)
	}
	return nil
}

// inheritedEnv is pgsecrets' environment without its own settings, except
// those passed on purpose.
func inheritedEnv(pass []string) []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return envpolicy.Setting(name) && !slices.Contains(pass, name)
	})
}

// cannotStart reports a command that could not be started with the exit
// status a shell would give.
func cannotStart(opts *RunOptions, err error) error {
	name := opts.Command[0]
	code, msg := exitCannotRun, fmt.Sprintf("cannot run %s: %v", name, err)
	switch {
	case errors.Is(err, exec.ErrNotFound):
		code, msg = exitNotFound, fmt.Sprintf("command %s not found in $PATH", name)
	case errors.Is(err, fs.ErrNotExist):
		code, msg = exitNotFound, fmt.Sprintf("command %s not found", name)
	case errors.Is(err, fs.ErrPermission):
		msg = fmt.Sprintf("cannot run %s: permission denied (is it executable?)", name)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Error: %s; nothing was run\n", msg)
	return &exitCodeError{code: code}
}

// reachedByTerminal reports whether sig is one a terminal sends to its
// whole foreground process group (Ctrl-C, Ctrl-\) while pgsecrets, and so
// the command it started, is in that group: the command already has it,
// and a second copy would make a program that stops gently on the first
// stop at once.
func reachedByTerminal(ios *IOStreams, sig os.Signal) bool {
	if sig != syscall.SIGINT && sig != syscall.SIGQUIT {
		return false
	}
	for _, s := range []any{ios.In, ios.Out, ios.ErrOut} {
		if f, ok := s.(*os.File); ok && inTerminalForeground(f) {
			return true
		}
	}
	return false
}
