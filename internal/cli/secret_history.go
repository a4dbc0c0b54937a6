package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// SecretHistoryOptions configure `pgsecrets secret history`.
type SecretHistoryOptions struct {
	*globalOptions
	secretFlags
}

func newSecretHistoryCmd(g *globalOptions) *cobra.Command {
	opts := &SecretHistoryOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List a secret's revisions (metadata only, never values)",
		Long: `List the revisions of a secret kept in its history, newest first: when
each was written, by whom, under which key, and by what action (create,
update, rollback or undelete). The current revision is marked "current";
the value a delete removed is marked "deleted", with when it was deleted.

Values are not decrypted, so this is not audited as a read and needs no
root keys. ` + "`pgsecrets secret get --revision N`" + ` prints one revision's value,
and ` + "`pgsecrets secret rollback --to-revision N`" + ` makes it current again.

Revisions beyond the retention (` + "`pgsecrets history retention`" + `) are
removed at the next write of the secret or ` + "`pgsecrets history prune`" + `.`,
		Example: `  pgsecrets secret history --project billing --name STRIPE_KEY
  pgsecrets secret history --project billing --name STRIPE_KEY --output json | jq '.[] | select(.current)'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.secretFlags.validate(cmd); err != nil {
				return err
			}
			return runSecretHistory(cmd.Context(), opts)
		},
	}
	opts.secretFlags.add(cmd)
	return cmd
}

func runSecretHistory(ctx context.Context, opts *SecretHistoryOptions) error {
	st, err := opts.OpenMetadataStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	versions, err := st.SecretHistory(ctx, opts.Project, opts.Name)
	if err != nil {
		return withListHint(err, opts.Project)
	}

	if opts.JSON() {
		return writeJSON(opts.IO.Out, versions)
	}
	t := newTable(opts.IO.Out, "REVISION", "WHEN", "WHO", "KEY", "ACTION")
	for _, v := range versions {
		t.row(strconv.FormatInt(v.Revision, 10), formatTime(v.WrittenAt), v.WrittenBy, v.KID, versionAction(v))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if latest := versions[0]; latest.Deleted && latest.ReplacedAt != nil {
		ret, err := st.GetRetention(ctx, opts.Project)
		if err != nil {
			return err
		}
		// On stderr: stdout stays the table, for scripts.
		fmt.Fprintf(opts.IO.ErrOut, "Secret %s is deleted; %s\n", opts.id(), undeleteHint(ret, opts.Project, opts.Name, *latest.ReplacedAt, time.Now()))
	}
	return nil
}

// versionAction is the ACTION cell of a revision: the write that made it,
// and whether it is current or the value a delete removed.
func versionAction(v store.SecretVersion) string {
	switch {
	case v.Current:
		return v.Action + " (current)"
	case v.Deleted && v.ReplacedAt != nil:
		return v.Action + " (deleted " + formatTime(*v.ReplacedAt) + ")"
	case v.Deleted:
		return v.Action + " (deleted)"
	}
	return v.Action
}
