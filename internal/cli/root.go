// Package cli is the operator command line of pgsecrets. Each command lives
// in its own file: an Options struct filled from flags, and a run function
// that takes the Options and does the work through internal/store and
// internal/keyring, writing to injected IOStreams.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2   // the command line itself was wrong
	exitInterrupted = 130 // 128 + SIGINT, as shells report it
)

// Main runs the CLI with the process's arguments and streams and returns
// the exit code.
func Main(version string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal cancels the work, a second one kills.
		<-ctx.Done()
		stop()
	}()
	return Execute(ctx, SystemStreams(), version, os.Args[1:])
}

// Execute runs one command line against ios and returns the exit code. It
// prints an error once, as "Error: ..." on ErrOut.
func Execute(ctx context.Context, ios *IOStreams, version string, args []string) int {
	g := &globalOptions{IO: ios, Version: version}
	root := newRootCmd(g)
	root.SetArgs(args)
	_, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	err = g.explainConnectionLoss(err)
	var usage *usageError
	var exit *exitCodeError
	var needsYes *needsYesError
	switch {
	case errors.As(err, &exit):
		return exit.code
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		fmt.Fprintln(ios.ErrOut, "Error: interrupted")
		return exitInterrupted
	case errors.As(err, &usage):
		fmt.Fprintf(ios.ErrOut, "Error: %s (see `%s --help`)\n", oneLine(usage.err), usage.cmd.CommandPath())
		return exitUsage
	case errors.As(err, &needsYes):
		fmt.Fprintf(ios.ErrOut, "Error: %s\n", oneLine(err))
		return exitUsage
	default:
		fmt.Fprintf(ios.ErrOut, "Error: %s\n", oneLine(err))
		return exitError
	}
}

// oneLine joins a multi-line error (pgx reports each connection attempt on
// its own line, often the same twice) into one line without repeats.
func oneLine(err error) string {
	var parts []string
lines:
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		for _, p := range parts {
			if strings.HasSuffix(p, line) {
				continue lines
			}
		}
		parts = append(parts, line)
	}
	return strings.Join(parts, "; ")
}

// NewRootCmd builds the whole command tree, for Execute and for generating
// the CLI reference.
func NewRootCmd(ios *IOStreams, version string) *cobra.Command {
	return newRootCmd(&globalOptions{IO: ios, Version: version})
}

func newRootCmd(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "pgsecrets <command>",
		Short: "Secrets encrypted as JWE in PostgreSQL: the operator CLI",
		Long: `pgsecrets keeps application secrets encrypted at rest in PostgreSQL.
This command line manages the schema, the keys and the secrets; the same
binary is the Terraform provider.

Settings come from flags, else the environment:
  --database-url    ` + settings.EnvDatabaseURL + `, DATABASE_URL, or the libpq PG* variables
  --root-keys-file  ` + settings.EnvRootKeys + ` (the JSON itself) or ` + settings.EnvRootKeysFile + `
  --schema          ` + settings.EnvSchema + ` (default pgsecrets)
  --actor           ` + settings.EnvActor + ` (default user@host)
  --strict          ` + settings.EnvStrict + ` (refuse ciphertexts not bound to their secret and revision)
Root keys are never taken as a flag value, so they stay out of process
listings and shell history.

Exit status: 0 on success, 1 on error, 2 when the command line is wrong
or lacks a confirmation the change needs (--yes, or --force or --prepend
for a key file that exists): the same command with it would run.`,
		Example: `  # First run: check the database, make the key file, create the schema
  pgsecrets init --database-url postgres://app@db.internal/app
  export PGSECRETS_DATABASE_URL=postgres://app@db.internal/app
  export PGSECRETS_ROOT_KEYS_FILE="$PWD/root-keys.json"

  # Store a secret, read it back, run a program with the project's secrets
  printf %s "$TOKEN" | pgsecrets secret add --project billing --name STRIPE_KEY
  pgsecrets secret get --project billing --name STRIPE_KEY
  pgsecrets run --project billing -- ./billing-service`,
		Version:       g.Version,
		Args:          groupArgs,
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.validate(cmd)
		},
	}
	root.SetIn(g.IO.In)
	root.SetOut(g.IO.Out)
	root.SetErr(g.IO.ErrOut)
	root.SetVersionTemplate("pgsecrets {{.Version}}\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{cmd: cmd, err: explainFlagError(cmd, err)}
	})
	// Our own completion command, with an example like every other.
	root.CompletionOptions.DisableDefaultCmd = true
	g.addFlags(root)

	root.AddCommand(
		newMigrateCmd(g),
		newKeyCmd(g), oldSpelling(g, "keys", newKeyCmd),
		newSecretCmd(g),
		newVersionCmd(g),
		newCompletionCmd(),
		newReencryptCmd(g), newAuditCmd(g),
		newCatalogCmd(g), newStatusCmd(g), newImportEnvCmd(g), newImportCmd(g), newRenderCmd(g), newModelDefaultsCmd(g), oldSpelling(g, "defaults", newModelDefaultsCmd),
		newHistoryCmd(g),
		newInitCmd(g), newRunCmd(g),
		newAccountCmd(g), oldSpelling(g, "user", newAccountCmd), newServeCmd(g),
		newProjectCmd(g),
	)

	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			adaptHelpCmd(c)
		case "secret":
			c.SuggestFor = append(c.SuggestFor, "secrets")
		}
	}
	registerCompletions(root, g) // after every AddCommand: it walks the tree
	return root
}

// adaptHelpCmd gives cobra's help command an example, and makes an unknown
// topic a usage error instead of the root's help with exit 0.
func adaptHelpCmd(help *cobra.Command) {
	help.Example = "  pgsecrets help secret add"
	help.Run = nil
	help.RunE = func(c *cobra.Command, args []string) error {
		cmd, rest, err := c.Root().Find(args)
		if err != nil || len(rest) > 0 {
			return usageErrorf(c, "unknown help topic %q", strings.Join(args, " "))
		}
		return cmd.Help()
	}
}
