package cli

import (
	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/secretsource"
)

// ImportEnvOptions configure `pgsecrets import-env`.
type ImportEnvOptions struct {
	importOptions
}

func newImportEnvCmd(g *globalOptions) *cobra.Command {
	opts := &ImportEnvOptions{importOptions{globalOptions: g}}
	cmd := &cobra.Command{
		Use:   "import-env",
		Short: "Move the variables of a .env file into the encrypted store",
		Long: `Read a .env file and store each variable as a secret of --project.

The file syntax: NAME=value lines, optional "export " prefixes, full-line
and trailing (" #") comments, 'single quotes' (literal), "double quotes"
(\n \t \r \" \\ \$ \` + "`" + ` escapes, a backslash at a line's end joins the lines),
quoted strings one after the other ('it'"'"'s'), quotes spanning several
lines, blank lines. A line that cannot be parsed, a name defined twice, or
a value larger than 1 MiB stops the import before anything is written,
with the line numbers.

Each variable is then:
  imported  stored as a new secret (category and restart notice from the
            catalog of well-known secrets), one audit event each;
  skipped   the project already has a secret of that name: it is kept,
            unless --overwrite replaces it;
  invalid   an empty value, a name the store refuses, or a well-known
            secret whose value has the wrong shape (--no-validate skips
            that check); it is not stored.
Values are never printed. With --dry-run nothing is written. A name that
changes how programs start (LD_PRELOAD, BASH_ENV, PATH...) is stored with
a warning: ` + "`pgsecrets run`" + ` refuses to pass it unless given
--allow-startup-var NAME.

Once the values are in the store, delete the plaintext file. Files from
sops, Vault, Doppler, Infisical or Kubernetes: see pgsecrets import.

Exit status: 0 when every variable was imported or skipped, 1 when any was
invalid (the valid ones are stored: fix the file and run again, stored
names are then skipped), 2 when the command line is wrong.`,
		Example: `  # See what would happen, then import, then remove the plaintext file
  pgsecrets import-env --project billing --file .env --dry-run
  pgsecrets import-env --project billing --file .env
  shred -u .env

  # Replace secrets that already exist with the file's values
  pgsecrets import-env --project billing --file .env.production --overwrite`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "project", "file"); err != nil {
				return err
			}
			if err := checkProject(cmd, opts.Project); err != nil {
				return err
			}
			return runImport(cmd.Context(), &opts.importOptions, func(content []byte) (*secretsource.Result, error) {
				return secretsource.Parse(content, secretsource.Options{Format: secretsource.Dotenv})
			}, secretsource.Rules{})
		},
	}
	cmd.Flags().StringVar(&opts.File, "file", "", "the .env file to import, \"-\" for stdin (required)")
	opts.addFlags(cmd)
	return cmd
}
