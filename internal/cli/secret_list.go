package cli

import (
	"context"
	"fmt"
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
		Long: `List secrets, ordered by project and name: project, name, category,
revision, the key that encrypts each, and when and by whom it was last
written. Values are not decrypted, so listing is not audited as a read.`,
		Example: `  pgsecrets secret list
  pgsecrets secret list --project billing --output json | jq -r '.[].name'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Project != "" {
				if err := store.ValidateProject(opts.Project); err != nil {
					return &usageError{cmd: cmd, err: err}
				}
			}
			return runSecretList(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Project, "project", "", "list only this project's secrets")
	return cmd
}

func runSecretList(ctx context.Context, opts *SecretListOptions) error {
	st, err := opts.OpenStore(ctx)
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
	t := newTable(opts.IO.Out, "PROJECT", "NAME", "CATEGORY", "REVISION", "KID", "UPDATED", "UPDATED BY")
	for _, s := range secrets {
		t.row(s.Project, s.Name, orDash(s.Category), strconv.FormatInt(s.Revision, 10), s.KID, formatTime(s.UpdatedAt), s.UpdatedBy)
	}
	return t.flush()
}
