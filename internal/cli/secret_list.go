package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// SecretListOptions configure `pgsecrets secret list`.
type SecretListOptions struct {
	*globalOptions
	Project string
}

func newSecretListCmd(g *globalOptions) *cobra.Command {
	opts := &SecretListOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List secrets (metadata only, never values)",
		Long: `List secrets, grouped by project and category: name, revision, the key
that encrypts each, whether a change needs an application restart, and when
and by whom it was last written. Values are not decrypted, so listing is not audited as a read, and needs no
root keys.`,
		Example: `  pgsecrets secret list
  pgsecrets secret list --project billing --output json | jq -r '.[].name'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkProject(cmd, opts.Project); err != nil {
				return err
			}
			return runSecretList(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Project, "project", "", "list only this project's secrets")
	return cmd
}

func runSecretList(ctx context.Context, opts *SecretListOptions) error {
	st, err := opts.OpenMetadataStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	secrets, err := st.ListSecrets(ctx, opts.Project)
	if err != nil {
		return err
	}

	if opts.JSON() {
		if secrets == nil {
			secrets = []store.SecretMeta{}
		}
		return writeJSON(opts.IO.Out, secrets)
	}
	if len(secrets) == 0 {
		// On stderr: stdout stays empty for scripts counting lines.
		if opts.Project != "" {
			fmt.Fprintf(opts.IO.ErrOut, "No secrets in project %s.\n", opts.Project)
		} else {
			fmt.Fprintln(opts.IO.ErrOut, "No secrets.")
		}
		return nil
	}
	// Grouped by project and category, as teams think of their secrets
	// ("the Slack ones"); the store orders by project and name.
	sort.SliceStable(secrets, func(i, j int) bool {
		a, b := secrets[i], secrets[j]
		if a.Project != b.Project {
			return a.Project < b.Project
		}
		return a.Category < b.Category
	})
	for start := 0; start < len(secrets); {
		end := start
		for end < len(secrets) && secrets[end].Project == secrets[start].Project && secrets[end].Category == secrets[start].Category {
			end++
		}
		if start > 0 {
			fmt.Fprintln(opts.IO.Out)
		}
		fmt.Fprintf(opts.IO.Out, "%s / %s (%d)\n", secrets[start].Project, categoryLabel(secrets[start].Category), end-start)
		t := newTable(opts.IO.Out, "  NAME", "REVISION", "KID", "RESTART", "UPDATED", "UPDATED BY")
		for _, s := range secrets[start:end] {
			t.row("  "+s.Name, strconv.FormatInt(s.Revision, 10), s.KID, yesNo(s.RequiresRestart), formatTime(s.UpdatedAt), s.UpdatedBy)
		}
		if err := t.flush(); err != nil {
			return err
		}
		start = end
	}
	return nil
}

func categoryLabel(c string) string {
	if c == "" {
		return "uncategorized"
	}
	return c
}
