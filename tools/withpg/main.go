// Command withpg runs a command with a PostgreSQL server named in its
// environment: the one already named there, or else a throwaway server
// that withpg starts for the command and removes when the command ends.
//
//	go run ./tools/withpg [--env NAME] -- command [args...]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
)

const usage = `usage: withpg [--env NAME] -- command [args...]

Runs command with the environment variable NAME (default
PGSECRETS_DATABASE_URL) holding a PostgreSQL URL. When NAME is already set,
the command simply runs. Otherwise withpg starts a throwaway PostgreSQL
(127.0.0.1, user postgres, no password, data in a temporary directory) and
stops and deletes it when the command ends, also when the command fails or
withpg is interrupted. The exit code is the command's.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	flags := flag.NewFlagSet("withpg", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() { fmt.Fprint(stderr, usage) }
	envName := flags.String("env", "PGSECRETS_DATABASE_URL", "environment variable that receives the server's URL")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	argv := flags.Args()
	if len(argv) == 0 || *envName == "" {
		flags.Usage()
		return 2
	}

	// Handled from the start: dying of a signal would skip the cleanup.
	// Ignored ones (nohup, background jobs) stay ignored, for us and for
	// the command.
	signals := make(chan os.Signal, 4)
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT} {
		if !signal.Ignored(sig) {
			signal.Notify(signals, sig)
		}
	}

	if os.Getenv(*envName) != "" {
		return runCommand(argv, os.Environ(), signals, stderr)
	}

	cluster, sig, err := startCluster(signals)
	if sig != nil {
		return signalExitCode(sig)
	}
	if err != nil {
		fmt.Fprintf(stderr, "withpg: cannot start a throwaway PostgreSQL: %v\nwithpg: or set %s to the URL of an existing server\n", err, *envName)
		return 1
	}
	fmt.Fprintf(stderr, "withpg: started throwaway PostgreSQL at %s\n", cluster.URL())
	// exec.Cmd uses the last of duplicate variables, so this also
	// replaces a NAME that is set but empty.
	code := runCommand(argv, append(os.Environ(), *envName+"="+cluster.URL()), signals, stderr)
	if err := cluster.Stop(); err != nil {
		fmt.Fprintf(stderr, "withpg: stop throwaway PostgreSQL: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// startCluster starts the server unless a signal comes first.
func startCluster(signals <-chan os.Signal) (*pgtest.Cluster, os.Signal, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type started struct {
		cluster *pgtest.Cluster
		err     error
	}
	done := make(chan started, 1)
	go func() {
		c, err := pgtest.Start(ctx, pgtest.Options{})
		done <- started{c, err}
	}()
	select {
	case s := <-done:
		return s.cluster, nil, s.err
	case sig := <-signals:
		cancel()
		if s := <-done; s.cluster != nil {
			s.cluster.Stop()
		}
		return nil, sig, nil
	}
}

// runCommand runs argv with our stdio and returns its exit code. Signals
// withpg receives go on to the command, except the ones a terminal sends
// to its whole foreground process group, command included: sent twice,
// a second Ctrl-C means "abort now" to programs like terraform.
func runCommand(argv, env []string, signals <-chan os.Signal, stderr io.Writer) int {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "withpg: %v\n", err)
		return 127 // what a shell returns for a command it cannot run
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	fromTerminal := term.IsTerminal(int(os.Stdin.Fd()))
	for {
		select {
		case sig := <-signals:
			if sig == syscall.SIGTERM || !fromTerminal {
				cmd.Process.Signal(sig)
			}
		case err := <-waited:
			var exitErr *exec.ExitError
			if err != nil && !errors.As(err, &exitErr) {
				fmt.Fprintf(stderr, "withpg: %v\n", err)
				return 1
			}
			code := cmd.ProcessState.ExitCode()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
			// A command that exits 0 after a signal handled it, and meant
			// it as its normal end (a server stopped with Ctrl-C, like
			// `make dashboard`): its code stands, as a shell would take it.
			// One that did not handle it died of it, and says so above.
			return code
		}
	}
}

// signalExitCode follows the shell's convention, 128 + signal number.
func signalExitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}
