package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// SecretRollbackOptions configure `pgsecrets secret rollback`.
type SecretRollbackOptions struct {
	*globalOptions
	secretFlags
	// ToRevision is the revision whose value becomes current again.
	ToRevision int64
	// ExpectedRevision, when not 0, is the revision the secret must still
	// be at (what the operator saw in its history).
	ExpectedRevision int64
	// Yes skips the confirmation; required when stdin is not a terminal.
	Yes bool
}

func newSecretRollbackCmd(g *globalOptions) *cobra.Command {
	opts := &SecretRollbackOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Make an earlier value of a secret current again",
		Long: `Write the value the secret had at --to-revision as a new revision. Nothing
is rewritten in place: the value being replaced is kept in the history like
any other, so a rollback can itself be rolled back. The description,
category and restart notice stay as they are now.

Rolling back changes the live value, so it asks for confirmation on the
terminal, and refuses when stdin is not a terminal (a script must say
--yes). The rollback is written only if nobody changed the secret since it
was read, or since --expected-revision, the current revision you saw in
` + "`pgsecrets secret history`" + `; otherwise nothing is written and you re-run it
after checking the history again.

A deleted secret is brought back with ` + "`pgsecrets secret undelete`" + ` instead.`,
		Example: `  # See the revisions, then go back to revision 3
  pgsecrets secret history --project billing --name STRIPE_KEY
  pgsecrets secret rollback --project billing --name STRIPE_KEY --to-revision 3

  # In a script, only if nobody wrote since revision 5 was seen
  pgsecrets secret rollback --project billing --name STRIPE_KEY --to-revision 3 --expected-revision 5 --yes`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.secretFlags.validate(cmd); err != nil {
				return err
			}
			if !cmd.Flags().Changed("to-revision") {
				return usageErrorf(cmd, "--to-revision is required (`pgsecrets secret history` lists the revisions)")
			}
			if opts.ToRevision < 1 {
				return usageErrorf(cmd, "--to-revision %d is not a revision: revisions start at 1 (see `pgsecrets secret history`)", opts.ToRevision)
			}
			if cmd.Flags().Changed("expected-revision") && opts.ExpectedRevision < 1 {
				return usageErrorf(cmd, "--expected-revision %d is not a revision: revisions start at 1", opts.ExpectedRevision)
			}
			if !opts.Yes && !opts.IO.InIsTerminal {
				return usageErrorf(cmd, "refusing to roll back secret %s without confirmation: it changes the live value, and stdin is not a terminal; pass --yes", opts.id())
			}
			return runSecretRollback(cmd.Context(), opts)
		},
	}
	opts.secretFlags.add(cmd)
	cmd.Flags().Int64Var(&opts.ToRevision, "to-revision", 0, "the revision whose value becomes current again (required; see `secret history`)")
	cmd.Flags().Int64Var(&opts.ExpectedRevision, "expected-revision", 0, "roll back only if the secret is still at this revision")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "roll back without asking")
	return cmd
}

func runSecretRollback(ctx context.Context, opts *SecretRollbackOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()

	// Read the history first: it names the revision the secret is at, for
	// the compare-and-swap, and says what the target is.
	versions, err := st.SecretHistory(ctx, opts.Project, opts.Name)
	if err != nil {
		return withListHint(err, opts.Project)
	}
	latest := versions[0]
	if !latest.Current {
		return fmt.Errorf("secret %s is deleted; `pgsecrets secret undelete --project %s --name %s` brings it back (then roll back if need be)", opts.id(), opts.Project, opts.Name)
	}
	expected := latest.Revision
	if opts.ExpectedRevision != 0 {
		if opts.ExpectedRevision != latest.Revision {
			return rollbackConflict(opts, latest.Revision, opts.ExpectedRevision)
		}
		expected = opts.ExpectedRevision
	}
	if opts.ToRevision == latest.Revision {
		return fmt.Errorf("secret %s is already at revision %d; nothing to roll back", opts.id(), latest.Revision)
	}
	var target *store.SecretVersion
	for i := range versions {
		if versions[i].Revision == opts.ToRevision {
			target = &versions[i]
		}
	}
	if target == nil {
		return fmt.Errorf("secret %s has no revision %d in its history (pruned, or never written); `pgsecrets secret history --project %s --name %s` lists the revisions kept",
			opts.id(), opts.ToRevision, opts.Project, opts.Name)
	}

	if !opts.Yes {
		question := fmt.Sprintf("Roll back secret %s (revision %d) to the value of revision %d (written %s by %s)?",
			opts.id(), latest.Revision, target.Revision, formatTime(target.WrittenAt), target.WrittenBy)
		ok, err := opts.IO.Confirm(ctx, question)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("secret %s was not rolled back: not confirmed", opts.id())
		}
	}

	meta, err := st.RollbackSecret(ctx, opts.Project, opts.Name, opts.ToRevision, expected)
	var conflict *store.ConflictError
	switch {
	case errors.As(err, &conflict):
		return rollbackConflict(opts, conflict.Current, expected)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("secret %s, or its revision %d, went away meanwhile (deleted or pruned); nothing was written; check `pgsecrets secret history --project %s --name %s` and re-run",
			opts.id(), opts.ToRevision, opts.Project, opts.Name)
	case err != nil:
		return err
	}

	if opts.JSON() {
		return writeJSON(opts.IO.Out, struct {
			Action       string `json:"action"`
			FromRevision int64  `json:"from_revision"`
			store.SecretMeta
		}{store.WriteRollback, opts.ToRevision, meta})
	}
	fmt.Fprintf(opts.IO.Out, "Rolled back secret %s to the value of revision %d: now revision %d (key %s)\n", opts.id(), opts.ToRevision, meta.Revision, meta.KID)
	return nil
}

// rollbackConflict says that the secret moved from the revision the
// rollback was meant for, and what to do.
func rollbackConflict(opts *SecretRollbackOptions, current, expected int64) error {
	return fmt.Errorf("secret %s was changed meanwhile (now revision %d, expected %d); nothing was written; check `pgsecrets secret history --project %s --name %s` and re-run",
		opts.id(), current, expected, opts.Project, opts.Name)
}
