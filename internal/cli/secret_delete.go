package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// SecretDeleteOptions configure `pgsecrets secret delete`.
type SecretDeleteOptions struct {
	*globalOptions
	secretFlags
	// Yes skips the confirmation; required when stdin is not a terminal.
	Yes bool
}

func newSecretDeleteCmd(g *globalOptions) *cobra.Command {
	opts := &SecretDeleteOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete a secret",
		Long: `Delete a secret. Without --yes, asks for confirmation on the terminal, and
refuses when stdin is not a terminal (a script must say --yes). The secret
is deleted only if nobody changed it since the confirmation.

A delete can be undone: the last value is kept, and
` + "`pgsecrets secret undelete`" + ` brings it back within the retention's
deleted-for window (30 days unless ` + "`pgsecrets history retention`" + ` says
otherwise), after which ` + "`pgsecrets history prune`" + ` removes it. The output
says until when. ` + "`pgsecrets secret destroy`" + ` removes a secret and its history
for good.`,
		Example: `  pgsecrets secret delete --project billing --name OLD_TOKEN
  pgsecrets secret delete --project billing --name OLD_TOKEN --yes

  # Changed your mind
  pgsecrets secret undelete --project billing --name OLD_TOKEN`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.secretFlags.validate(cmd); err != nil {
				return err
			}
			if !opts.Yes && !opts.IO.InIsTerminal {
				return usageErrorf(cmd, "refusing to delete secret %s without confirmation: stdin is not a terminal; pass --yes", opts.id())
			}
			return runSecretDelete(cmd.Context(), opts)
		},
	}
	opts.secretFlags.add(cmd)
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "delete without asking")
	return cmd
}

func runSecretDelete(ctx context.Context, opts *SecretDeleteOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	meta, err := st.GetSecretMeta(ctx, opts.Project, opts.Name)
	if err != nil {
		return withListHint(err, opts.Project)
	}
	retention, err := st.GetRetention(ctx, opts.Project)
	if err != nil {
		return err
	}
	if !opts.Yes {
		ok, err := opts.IO.Confirm(ctx, fmt.Sprintf("Delete secret %s (revision %d, updated %s by %s)?", opts.id(), meta.Revision, formatTime(meta.UpdatedAt), meta.UpdatedBy))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("secret %s was not deleted: not confirmed", opts.id())
		}
	}
	if err := st.DeleteSecret(ctx, opts.Project, opts.Name, meta.Revision); err != nil {
		var conflict *store.ConflictError
		if errors.As(err, &conflict) {
			return fmt.Errorf("secret %s was changed by someone else meanwhile (now revision %d); nothing was deleted; check it and retry", opts.id(), conflict.Current)
		}
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("secret %s was deleted by someone else meanwhile", opts.id())
		}
		return err
	}

	deletedAt := time.Now()
	if opts.JSON() {
		// undeletable_until is absent when the retention sets no limit.
		var until *time.Time
		if retention.DeletedFor > 0 {
			t := deletedAt.Add(retention.DeletedFor).UTC()
			until = &t
		}
		return writeJSON(opts.IO.Out, struct {
			Project          string     `json:"project"`
			Name             string     `json:"name"`
			Revision         int64      `json:"revision"`
			Deleted          bool       `json:"deleted"`
			UndeletableUntil *time.Time `json:"undeletable_until,omitempty"`
		}{opts.Project, opts.Name, meta.Revision, true, until})
	}
	fmt.Fprintf(opts.IO.Out, "Deleted secret %s (revision %d); %s\n", opts.id(), meta.Revision, undeleteHint(retention, opts.Project, opts.Name, deletedAt, deletedAt))
	return nil
}
