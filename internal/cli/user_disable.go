package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

// UserDisableOptions configure `pgsecrets user disable` and `user enable`.
type UserDisableOptions struct {
	*globalOptions
	userFlags
	Disable bool
}

func newUserDisableCmd(g *globalOptions) *cobra.Command {
	return newUserSwitchCmd(&UserDisableOptions{globalOptions: g, Disable: true}, &cobra.Command{
		Use:   "disable",
		Short: "Stop an account from signing in, and sign it out everywhere",
		Long: `Disable a dashboard account: it can no longer sign in, and every session
it has ends at once. The account and its history stay; ` + "`pgsecrets user enable`" + `
lets it sign in again.`,
		Example: `  pgsecrets user disable --email bob@example.com`,
	})
}

func newUserEnableCmd(g *globalOptions) *cobra.Command {
	return newUserSwitchCmd(&UserDisableOptions{globalOptions: g}, &cobra.Command{
		Use:     "enable",
		Short:   "Let a disabled account sign in again",
		Long:    `Enable a dashboard account that ` + "`pgsecrets user disable`" + ` disabled.`,
		Example: `  pgsecrets user enable --email bob@example.com`,
	})
}

// newUserSwitchCmd completes disable or enable, which differ in
// opts.Disable and their help only.
func newUserSwitchCmd(opts *UserDisableOptions, cmd *cobra.Command) *cobra.Command {
	cmd.Args = noArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := opts.userFlags.validate(cmd); err != nil {
			return err
		}
		return runUserDisable(cmd.Context(), opts)
	}
	opts.userFlags.add(cmd)
	return cmd
}

func runUserDisable(ctx context.Context, opts *UserDisableOptions) error {
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
