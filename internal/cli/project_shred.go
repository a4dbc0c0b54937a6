package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// ProjectShredOptions configure `pgsecrets project shred`.
type ProjectShredOptions struct {
	*globalOptions
	Project string
	// Yes skips the confirmation; required when stdin is not a terminal.
	Yes bool
}

func newProjectShredCmd(g *globalOptions) *cobra.Command {
	opts := &ProjectShredOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "shred",
		Short: "Destroy a project: its secrets, their history and its keys",
		Long: `Destroy a project for good (crypto-shredding): its secrets, every kept
earlier value, and its project keys, in one transaction, with an audit
event that records how many values went and the ids of the keys (never a
value). There is no undelete. The project's model defaults and retention
settings, which are not secret, are kept.

Once it has run, the project's ciphertexts in replicas and in the WAL can
no longer be decrypted: the key they need is gone. Backups and dumps taken
earlier still hold a copy of the project key, wrapped under the root key of
the time: they stay readable to whoever holds that root key. To finish the
shred, rotate the root key and destroy the old one:

  1. put a new root key first in the root keys file
     (` + "`pgsecrets key generate --out FILE --prepend`" + `) and run
     ` + "`pgsecrets reencrypt`" + `, which rewraps every project key under it;
  2. remove the old root key from every root keys file (every host, every
     CI secret) and destroy it.

Then no earlier backup can be read at all, of this project or of any
other: that is what retiring a root key means for old backups (see
docs/security.md and docs/rotation.md). Values written before the store
moved to project keys are under a root key or a global data key instead;
the command names those keys, and the same retirement covers them.

Without --yes, asks for confirmation on the terminal, and refuses when stdin
is not a terminal. Needs the root keys (the audit event is signed).`,
		Example: `  pgsecrets project shred --project acme
  pgsecrets project shred --project acme --yes --output json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "project"); err != nil {
				return err
			}
			if err := checkProject(cmd, opts.Project); err != nil {
				return err
			}
			if !opts.Yes && !opts.IO.InIsTerminal {
				return usageErrorf(cmd, "refusing to shred project %s without confirmation: stdin is not a terminal; pass --yes", opts.Project)
			}
			return runProjectShred(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Project, "project", "", "the project to destroy (required)")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "shred without asking")
	return cmd
}

func runProjectShred(ctx context.Context, opts *ProjectShredOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if !opts.Yes {
		keys, err := st.ListProjectKeys(ctx, opts.Project)
		if err != nil {
			return err
		}
		var secrets, versions int64
		for _, k := range keys {
			secrets, versions = secrets+k.Secrets, versions+k.Versions
		}
		question := fmt.Sprintf("Shred project %s: destroy its secrets and their history (%d secret(s) and %d earlier version(s) under its %d key(s)) for good, with no undo?",
			opts.Project, secrets, versions, len(keys))
		ok, err := opts.IO.Confirm(ctx, question)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("project %s was not shredded: not confirmed", opts.Project)
		}
	}
	res, err := st.ShredProject(ctx, opts.Project)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: nothing was shredded; `pgsecrets secret list` shows the projects", err)
		}
		return err
	}
	if opts.JSON() {
		return writeJSON(opts.IO.Out, res)
	}
	printShredResult(opts.IO.Out, res)
	return nil
}

// printShredResult says what went, and what is left to do before earlier
// backups stop being readable.
func printShredResult(w io.Writer, res store.ShredResult) {
	fmt.Fprintf(w, "Shredded project %s: %d secret(s) and %d earlier version(s) deleted", res.Project, res.Secrets, res.Versions)
	if len(res.KIDs) > 0 {
		fmt.Fprintf(w, ", with its project key(s) %s", strings.Join(res.KIDs, ", "))
	}
	fmt.Fprintln(w, ".")
	if len(res.OtherKIDs) > 0 {
		fmt.Fprintf(w, "Some of its values were under keys from before project keys, which stay: %s.\n", strings.Join(res.OtherKIDs, ", "))
	}
	fmt.Fprint(w, `Replicas and the WAL can no longer decrypt the project. Backups and dumps
taken before now still can, with the root key that wrapped its key. To
finish the shred:
  1. rotate the root key: put a new key first in the root keys file
     (pgsecrets key generate --out FILE --prepend), then run pgsecrets reencrypt;
  2. remove the old root key from every root keys file, and destroy it.
`)
	if len(res.OtherKIDs) > 0 {
		fmt.Fprintln(w, "  3. the keys from before project keys named above open the project's values in\n     earlier backups too: retire them the same way (docs/rotation.md).")
	}
	fmt.Fprintln(w, "Then no backup taken before the rotation can be read, of this project or any\nother: take new backups once it is done (docs/security.md).")
}
