package cli

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// readPurpose is recorded in the audit event of every read made here.
const readPurpose = "cli"

// SecretGetOptions configure `pgsecrets secret get`.
type SecretGetOptions struct {
	*globalOptions
	secretFlags
	readFlags
	// Revision, when not 0, reads that revision from the secret's history
	// instead of the current value.
	Revision int64
}

func newSecretGetCmd(g *globalOptions) *cobra.Command {
	opts := &SecretGetOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "get",
		Short: "Print a secret's value",
		Long: `Decrypt a secret and print its value on stdout, exactly as stored: a
newline is added only when stdout is a terminal. The read is recorded in
the audit trail (purpose "cli").

With --revision N, prints the value the secret had at revision N, current
or kept in its history (` + "`pgsecrets secret history`" + ` lists them), deleted
ones included; the read is audited with the revision.

With --output json, prints the value and the secret's metadata; the value
must then be valid UTF-8.

` + readURLHelp + ` --revision always reads the primary.`,
		Example: `  pgsecrets secret get --project billing --name STRIPE_KEY
  export STRIPE_KEY="$(pgsecrets secret get --project billing --name STRIPE_KEY)"
  pgsecrets secret get --project billing --name STRIPE_KEY --output json | jq -r .revision

  # The value before the last change (see secret history for the numbers)
  pgsecrets secret get --project billing --name STRIPE_KEY --revision 3`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.secretFlags.validate(cmd); err != nil {
				return err
			}
			if cmd.Flags().Changed("revision") && opts.Revision < 1 {
				return usageErrorf(cmd, "--revision %d is not a revision: revisions start at 1 (see `pgsecrets secret history`)", opts.Revision)
			}
			return runSecretGet(cmd.Context(), opts)
		},
	}
	opts.secretFlags.add(cmd)
	cmd.Flags().Int64Var(&opts.Revision, "revision", 0, "print this revision's value instead of the current one (see `secret history`)")
	opts.readFlags.add(cmd)
	return cmd
}

func runSecretGet(ctx context.Context, opts *SecretGetOptions) error {
	st, err := opts.OpenStoreForReads(ctx, opts.readFlags)
	if err != nil {
		return err
	}
	defer st.Close()
	if opts.Revision != 0 {
		return runSecretGetRevision(ctx, st, opts)
	}
	sec, err := st.GetSecret(ctx, opts.Project, opts.Name, readPurpose)
	if err != nil {
		return withListHint(err, opts.Project)
	}
	warnUnbound(opts, sec)
	if opts.JSON() {
		if err := checkJSONValue(opts, sec); err != nil {
			return err
		}
		return writeJSON(opts.IO.Out, struct {
			Value string `json:"value"`
			store.SecretMeta
		}{string(sec.Value), sec.SecretMeta})
	}
	return writeValue(opts, sec.Value)
}

// runSecretGetRevision prints one revision of the secret, with what the
// history says of it in JSON.
func runSecretGetRevision(ctx context.Context, st *store.Store, opts *SecretGetOptions) error {
	versions, err := st.SecretHistory(ctx, opts.Project, opts.Name)
	if err != nil {
		return withListHint(err, opts.Project)
	}
	var version *store.SecretVersion
	for i := range versions {
		if versions[i].Revision == opts.Revision {
			version = &versions[i]
		}
	}
	if version == nil {
		return fmt.Errorf("secret %s has no revision %d in its history (pruned, or never written); `pgsecrets secret history --project %s --name %s` lists the revisions kept",
			opts.id(), opts.Revision, opts.Project, opts.Name)
	}
	sec, err := st.GetSecretVersion(ctx, opts.Project, opts.Name, opts.Revision, readPurpose)
	if err != nil {
		return err
	}
	warnUnbound(opts, sec)
	if opts.JSON() {
		if err := checkJSONValue(opts, sec); err != nil {
			return err
		}
		return writeJSON(opts.IO.Out, struct {
			Value string `json:"value"`
			store.SecretVersion
			Description     string `json:"description"`
			Category        string `json:"category"`
			RequiresRestart bool   `json:"requires_restart"`
		}{string(sec.Value), *version, sec.Description, sec.Category, sec.RequiresRestart})
	}
	return writeValue(opts, sec.Value)
}

func warnUnbound(opts *SecretGetOptions, sec store.Secret) {
	if sec.Unbound {
		fmt.Fprintf(opts.IO.ErrOut, "Warning: the ciphertext of secret %s carries no binding, so it would open in any row (written by another tool, or planted); check the value, then run `pgsecrets reencrypt --bind-unbound`.\n", opts.id())
	}
}

// checkJSONValue refuses a value a JSON string cannot carry: encoding/json
// would silently replace its invalid bytes.
func checkJSONValue(opts *SecretGetOptions, sec store.Secret) error {
	if !utf8.Valid(sec.Value) {
		return fmt.Errorf("secret %s is not valid UTF-8, so it cannot be printed as JSON; use --output text, which prints its bytes exactly", opts.id())
	}
	return nil
}

// writeValue prints a value exactly, with a newline only for a terminal.
func writeValue(opts *SecretGetOptions, value []byte) error {
	out := opts.IO.Out
	if _, err := out.Write(value); err != nil {
		return fmt.Errorf("write the value: %w", err)
	}
	if opts.IO.OutIsTerminal {
		fmt.Fprintln(out)
	}
	return nil
}
