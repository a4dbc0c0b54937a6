package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

// AccountDisableOptions configure `pgsecrets account disable` and `account enable`.
type AccountDisableOptions struct {
	*globalOptions
	accountFlags
	Disable bool
}

func newAccountDisableCmd(g *globalOptions) *cobra.Command {
	return newAccountSwitchCmd(&AccountDisableOptions{globalOptions: g, Disable: true}, &cobra.Command{
		Use:   "disable",
		Short: "Stop an account from signing in, and sign it out everywhere",
		Long: `Disable a dashboard account: it can no longer sign in, and every session
it has ends at once. The account and its history stay; ` + "`pgsecrets account enable`" + `
lets it sign in again.`,
		Example: `  pgsecrets account disable --email bob@example.com`,
	})
}

func newAccountEnableCmd(g *globalOptions) *cobra.Command {
	return newAccountSwitchCmd(&AccountDisableOptions{globalOptions: g}, &cobra.Command{
		Use:     "enable",
		Short:   "Let a disabled account sign in again",
		Long:    `Enable a dashboard account that ` + "`pgsecrets account disable`" + ` disabled.`,
		Example: `  pgsecrets account enable --email bob@example.com`,
	})
}

// newAccountSwitchCmd completes disable or enable, which differ in
// opts.Disable and their help only.
func newAccountSwitchCmd(opts *AccountDisableOptions, cmd *cobra.Command) *cobra.Command {
	cmd.Args = noArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := opts.accountFlags.validate(cmd); err != nil {
			return err
		}
		return runAccountDisable(cmd.Context(), opts)
	}
	opts.accountFlags.add(cmd)
	return cmd
}

func runAccountDisable(ctx context.Context, opts *AccountDisableOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	a, err := st.SetAccountDisabled(ctx, opts.Email, opts.Disable)
	if err != nil {
		return err
	}
	if opts.JSON() {
		return writeJSON(opts.IO.Out, a)
	}
	if opts.Disable {
		fmt.Fprintf(opts.IO.Out, "Disabled account %s; its sessions have ended.\n", a.Email)
	} else {
		fmt.Fprintf(opts.IO.Out, "Enabled account %s.\n", a.Email)
	}
	return nil
}
