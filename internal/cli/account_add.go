package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// AccountAddOptions configure `pgsecrets account add`.
type AccountAddOptions struct {
	*globalOptions
	accountFlags
	Role     string
	Projects []string
}

func newAccountAddCmd(g *globalOptions) *cobra.Command {
	opts := &AccountAddOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Create a dashboard account",
		Long: `Create an account that signs in to the dashboard with its email and a
password. The password is read from a prompt that does not echo (asked
twice) when stdin is a terminal, else as one line from stdin; it must have
at least 12 characters. An email is one account whatever its case.

--role is viewer, editor or admin (see ` + "`pgsecrets account --help`" + `);
--projects limits the account to those projects.`,
		Example: `  # Asks for the password twice, without echo
  pgsecrets account add --email alice@example.com --role admin

  # From a password manager, limited to two projects
  op read op://ops/pgsecrets-bob/password | pgsecrets account add --email bob@example.com --role editor --projects billing,support`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.accountFlags.validate(cmd); err != nil {
				return err
			}
			if err := requireFlags(cmd, "role"); err != nil {
				return err
			}
			if err := store.ValidateRole(opts.Role); err != nil {
				return &usageError{cmd: cmd, err: err}
			}
			for _, p := range opts.Projects {
				if err := store.ValidateProject(p); err != nil {
					return &usageError{cmd: cmd, err: fmt.Errorf("--projects: %w", err)}
				}
			}
			return runAccountAdd(cmd.Context(), opts)
		},
	}
	opts.accountFlags.add(cmd)
	cmd.Flags().StringVar(&opts.Role, "role", "", "viewer, editor or admin (required)")
	cmd.Flags().StringSliceVar(&opts.Projects, "projects", nil, "limit the account to these projects, comma-separated (default: every project)")
	return cmd
}

func runAccountAdd(ctx context.Context, opts *AccountAddOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	// Look first, so nobody types a password only to be told the account
	// exists.
	if _, err := st.GetAccount(ctx, opts.Email); err == nil {
		return &store.AccountExistsError{Email: opts.Email}
	}
	hash, err := readNewPasswordHash(ctx, opts.IO, opts.Email)
	if err != nil {
		return err
	}
	a, err := st.CreateAccount(ctx, store.NewAccount{Email: opts.Email, Role: opts.Role, Projects: opts.Projects, PasswordHash: hash})
	if err != nil {
		return err
	}
	if opts.JSON() {
		return writeJSON(opts.IO.Out, a)
	}
	fmt.Fprintf(opts.IO.Out, "Created account %s (%s, %s)\n", a.Email, a.Role, describeProjects(a.Projects))
	return nil
}
