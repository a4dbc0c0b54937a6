package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

// AccountRemoveOptions configure `pgsecrets account remove`.
type AccountRemoveOptions struct {
	*globalOptions
	accountFlags
	// Yes skips the confirmation; required when stdin is not a terminal.
	Yes bool
}

func newAccountRemoveCmd(g *globalOptions) *cobra.Command {
	opts := &AccountRemoveOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "remove",
		Short: "Delete a dashboard account and its sessions",
		Long: `Delete a dashboard account; its sessions end at once. Its actions stay in
the audit trail under dashboard:<email>. Without --yes, asks for
confirmation on the terminal, and refuses when stdin is not a terminal.
` + "`pgsecrets account disable`" + ` keeps the account for later instead.`,
		Example: `  pgsecrets account remove --email bob@example.com
  pgsecrets account remove --email bob@example.com --yes`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.accountFlags.validate(cmd); err != nil {
				return err
			}
			if !opts.Yes && !opts.IO.InIsTerminal {
				return usageErrorf(cmd, "refusing to remove account %s without confirmation: stdin is not a terminal; pass --yes", opts.Email)
			}
			return runAccountRemove(cmd.Context(), opts)
		},
	}
	opts.accountFlags.add(cmd)
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "remove without asking")
	return cmd
}

func runAccountRemove(ctx context.Context, opts *AccountRemoveOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	a, err := st.GetAccount(ctx, opts.Email)
	if err != nil {
		return err
	}
	if !opts.Yes {
		ok, err := opts.IO.Confirm(ctx, fmt.Sprintf("Remove account %s (%s, %s)?", a.Email, a.Role, describeProjects(a.Projects)))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("account %s was not removed: not confirmed", a.Email)
		}
	}
	if err := st.DeleteAccount(ctx, a.Email); err != nil {
		return err
	}
	if opts.JSON() {
		return writeJSON(opts.IO.Out, struct {
			Email   string `json:"email"`
			Removed bool   `json:"removed"`
		}{a.Email, true})
	}
	fmt.Fprintf(opts.IO.Out, "Removed account %s.\n", a.Email)
	return nil
}
