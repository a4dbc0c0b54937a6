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
}

func newSecretGetCmd(g *globalOptions) *cobra.Command {
	opts := &SecretGetOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "get",
		Short: "Print a secret's value",
		Long: `Decrypt a secret and print its value on stdout, exactly as stored: a
newline is added only when stdout is a terminal. The read is recorded in
the audit trail (purpose "cli").

With --output json, prints the value and the secret's metadata; the value
must then be valid UTF-8.`,
		Example: `  pgsecrets secret get --project billing --name STRIPE_KEY
  export STRIPE_KEY="$(pgsecrets secret get --project billing --name STRIPE_KEY)"
  pgsecrets secret get --project billing --name STRIPE_KEY --output json | jq -r .revision`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.secretFlags.validate(cmd); err != nil {
				return err
			}
			return runSecretGet(cmd.Context(), opts)
		},
	}
	opts.secretFlags.add(cmd)
	return cmd
}

func runSecretGet(ctx context.Context, opts *SecretGetOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	sec, err := st.GetSecret(ctx, opts.Project, opts.Name, readPurpose)
	if err != nil {
		return withListHint(err, opts.Project)
	}
	if sec.Unbound {
		fmt.Fprintf(opts.IO.ErrOut, "Warning: the ciphertext of secret %s carries no binding, so it would open in any row (written by another tool, or planted); check the value, then run `pgsecrets reencrypt --bind-unbound`.\n", opts.id())
	}

	out := opts.IO.Out
	if opts.JSON() {
		// A JSON string cannot carry arbitrary bytes: encoding/json would
		// silently replace them.
		if !utf8.Valid(sec.Value) {
			return fmt.Errorf("secret %s is not valid UTF-8, so it cannot be printed as JSON; use --output text, which prints its bytes exactly", opts.id())
		}
		return writeJSON(out, struct {
			Value string `json:"value"`
			store.SecretMeta
		}{string(sec.Value), sec.SecretMeta})
	}
	if _, err := out.Write(sec.Value); err != nil {
		return fmt.Errorf("write the value: %w", err)
	}
	if opts.IO.OutIsTerminal {
		fmt.Fprintln(out)
	}
	return nil
}
