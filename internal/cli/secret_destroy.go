package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

// SecretDestroyOptions configure `pgsecrets secret destroy`.
type SecretDestroyOptions struct {
	*globalOptions
	secretFlags
	// Yes is required: nothing destroyed can be brought back.
	Yes bool
}

func newSecretDestroyCmd(g *globalOptions) *cobra.Command {
	opts := &SecretDestroyOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "destroy",
		Short: "Remove a secret and all its history for good",
		Long: `Remove a secret, current or deleted, and every revision kept in its
history, for good: no undelete, no rollback, no value of it left to decrypt.
The audit trail records the destruction and how many revisions went.

Always needs --yes, on a terminal too; without it, says how many revisions
would go and changes nothing. To remove a secret recoverably, use
` + "`pgsecrets secret delete`" + `.`,
		Example: `  # A leaked token: remove it and every earlier value
  pgsecrets secret destroy --project billing --name LEAKED_TOKEN --yes`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.secretFlags.validate(cmd); err != nil {
				return err
			}
			return runSecretDestroy(cmd.Context(), opts)
		},
	}
	opts.secretFlags.add(cmd)
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "destroy the secret and its history (required)")
	return cmd
}

func runSecretDestroy(ctx context.Context, opts *SecretDestroyOptions) error {
	if opts.Yes {
		return destroySecret(ctx, opts)
	}
	// Without --yes, say what would go: the history needs no root keys.
	st, err := opts.OpenMetadataStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	versions, err := st.SecretHistory(ctx, opts.Project, opts.Name)
	if err != nil {
		return withListHint(err, opts.Project)
	}
	what := fmt.Sprintf("the secret and all %d of its revisions", len(versions))
	switch {
	case !versions[0].Current:
		what = fmt.Sprintf("the deleted secret's %d kept revision(s)", len(versions))
	case len(versions) == 1:
		what = "the secret (it has no earlier revisions)"
	}
	return &needsYesError{fmt.Sprintf("refusing to destroy secret %s without --yes: it removes %s for good, with no undelete; `pgsecrets secret delete` removes it recoverably", opts.id(), what)}
}

func destroySecret(ctx context.Context, opts *SecretDestroyOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	removed, err := st.DestroySecret(ctx, opts.Project, opts.Name)
	if err != nil {
		return withListHint(err, opts.Project)
	}
	if opts.JSON() {
		return writeJSON(opts.IO.Out, struct {
			Project          string `json:"project"`
			Name             string `json:"name"`
			Destroyed        bool   `json:"destroyed"`
			RevisionsRemoved int64  `json:"revisions_removed"`
		}{opts.Project, opts.Name, true, removed})
	}
	fmt.Fprintf(opts.IO.Out, "Destroyed secret %s: %d revision(s) removed for good\n", opts.id(), removed)
	return nil
}
