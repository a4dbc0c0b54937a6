package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

// AccountResetPasswordOptions configure `pgsecrets account reset-password`.
type AccountResetPasswordOptions struct {
	*globalOptions
	accountFlags
}

func newAccountResetPasswordCmd(g *globalOptions) *cobra.Command {
	opts := &AccountResetPasswordOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "reset-password",
		Short: "Set a new password for an account, and sign it out everywhere",
		Long: `Replace a dashboard account's password. The new password is read from a
prompt that does not echo (asked twice) when stdin is a terminal, else as
one line from stdin; at least 12 characters. Every session of the account
ends, so whoever knew the old password is signed out too.`,
		Example: `  pgsecrets account reset-password --email bob@example.com
  op read op://ops/pgsecrets-bob/password | pgsecrets account reset-password --email bob@example.com`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.accountFlags.validate(cmd); err != nil {
				return err
			}
			return runAccountResetPassword(cmd.Context(), opts)
		},
	}
	opts.accountFlags.add(cmd)
	return cmd
}

func runAccountResetPassword(ctx context.Context, opts *AccountResetPasswordOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.GetAccount(ctx, opts.Email); err != nil {
		return err
	}
	hash, err := readNewPasswordHash(ctx, opts.IO, opts.Email)
	if err != nil {
		return err
	}
	ended, err := st.SetAccountPassword(ctx, opts.Email, hash)
	if err != nil {
		return err
	}
	if opts.JSON() {
		return writeJSON(opts.IO.Out, struct {
			Email         string `json:"email"`
			SessionsEnded int64  `json:"sessions_ended"`
		}{opts.Email, ended})
	}
	fmt.Fprintf(opts.IO.Out, "Set a new password for %s; %d session(s) ended.\n", opts.Email, ended)
	return nil
}
