package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// SecretUndeleteOptions configure `pgsecrets secret undelete`.
type SecretUndeleteOptions struct {
	*globalOptions
	secretFlags
}

func newSecretUndeleteCmd(g *globalOptions) *cobra.Command {
	opts := &SecretUndeleteOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "undelete",
		Short: "Bring back a deleted secret with the value it had",
		Long: `Bring back a secret deleted by ` + "`pgsecrets secret delete`" + `, with the value,
description, category and restart notice it had when deleted, as a new
revision (its history continues; ` + "`pgsecrets secret history`" + ` shows it).

This works within the retention's deleted-for window (30 days unless
` + "`pgsecrets history retention`" + ` says otherwise), and not after
` + "`pgsecrets secret destroy`" + `. If the name was used again for a new secret
meanwhile, nothing is undeleted: the old value is still in that secret's
history, for ` + "`pgsecrets secret rollback`" + `.`,
		Example: `  pgsecrets secret delete --project billing --name STRIPE_KEY --yes
  pgsecrets secret undelete --project billing --name STRIPE_KEY`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.secretFlags.validate(cmd); err != nil {
				return err
			}
			return runSecretUndelete(cmd.Context(), opts)
		},
	}
	opts.secretFlags.add(cmd)
	return cmd
}

func runSecretUndelete(ctx context.Context, opts *SecretUndeleteOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	meta, err := st.UndeleteSecret(ctx, opts.Project, opts.Name)
	var (
		conflict   *store.ConflictError
		pastWindow *store.UndeleteWindowError
	)
	switch {
	case errors.As(err, &conflict):
		return fmt.Errorf("secret %s was created again meanwhile (revision %d); nothing was undeleted; its old value is in `pgsecrets secret history --project %s --name %s`, for `secret rollback`",
			opts.id(), conflict.Current, opts.Project, opts.Name)
	case errors.As(err, &pastWindow):
		return err // says when it was deleted, and what prune will do
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("secret %s has no deleted value to bring back: it was never deleted, was destroyed, or was pruned after its undelete window; `pgsecrets secret history --project %s --name %s` shows what is kept",
			opts.id(), opts.Project, opts.Name)
	case err != nil:
		return err
	}

	if opts.JSON() {
		return writeJSON(opts.IO.Out, struct {
			Action string `json:"action"`
			store.SecretMeta
		}{store.WriteUndelete, meta})
	}
	fmt.Fprintf(opts.IO.Out, "Undeleted secret %s: now revision %d (key %s)\n", opts.id(), meta.Revision, meta.KID)
	return nil
}
