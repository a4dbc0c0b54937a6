package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// UserListOptions configure `pgsecrets user list`.
type UserListOptions struct {
	*globalOptions
}

func newUserListCmd(g *globalOptions) *cobra.Command {
	opts := &UserListOptions{globalOptions: g}
	return &cobra.Command{
		Use:   "list",
		Short: "List dashboard accounts",
		Long: `List the dashboard's accounts: email, role, the projects each is limited
to, whether it is disabled, and when and by whom it was last changed.
Needs no root keys.`,
		Example: `  pgsecrets user list
  pgsecrets user list --output json | jq -r '.[] | select(.role == "admin") | .email'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUserList(cmd.Context(), opts)
		},
	}
}

func runUserList(ctx context.Context, opts *UserListOptions) error {
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
		fmt.Fprintln(opts.IO.ErrOut, "No accounts; create one with `pgsecrets user add --email E --role admin`.")
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
