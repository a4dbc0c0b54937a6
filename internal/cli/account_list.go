package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// AccountListOptions configure `pgsecrets account list`.
type AccountListOptions struct {
	*globalOptions
}

func newAccountListCmd(g *globalOptions) *cobra.Command {
	opts := &AccountListOptions{globalOptions: g}
	return &cobra.Command{
		Use:   "list",
		Short: "List dashboard accounts",
		Long: `List the dashboard's accounts: email, role, the projects each is limited
to, whether it is disabled, and when and by whom it was last changed.
Needs no root keys.`,
		Example: `  pgsecrets account list
  pgsecrets account list --output json | jq -r '.[] | select(.role == "admin") | .email'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAccountList(cmd.Context(), opts)
		},
	}
}

func runAccountList(ctx context.Context, opts *AccountListOptions) error {
	st, err := opts.OpenMetadataStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	accounts, err := st.ListAccounts(ctx)
	if err != nil {
		return err
	}
	if opts.JSON() {
		if accounts == nil {
			accounts = []store.Account{}
		}
		return writeJSON(opts.IO.Out, accounts)
	}
	if len(accounts) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "No accounts; create one with `pgsecrets account add --email E --role admin`.")
		return nil
	}
	t := newTable(opts.IO.Out, "EMAIL", "ROLE", "PROJECTS", "STATE", "UPDATED", "UPDATED BY")
	for _, a := range accounts {
		state := "active"
		if a.Disabled {
			state = "disabled"
		}
		projects := "*"
		if len(a.Projects) > 0 {
			projects = strings.Join(a.Projects, ",")
		}
		t.row(a.Email, a.Role, projects, state, formatTime(a.UpdatedAt), a.UpdatedBy)
	}
	return t.flush()
}
