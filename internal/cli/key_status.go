package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// KeyStatusOptions configure `pgsecrets key status`.
type KeyStatusOptions struct {
	*globalOptions
}

func newKeyStatusCmd(g *globalOptions) *cobra.Command {
	opts := &KeyStatusOptions{globalOptions: g}
	return &cobra.Command{
		Use:   "status",
		Short: "Show every key and how many secrets use it",
		Long: `Show, per key id: whether it is a root key (from the configured root keys),
a data key (wrapped in the database) or unknown (named by secrets but in
no key: those secrets cannot be decrypted); its state; how many secrets it
encrypts, and how many earlier versions (the history kept for rollback and
undelete); how many of those are unbound (their ciphertext names no row: it
would open in any row) and row-only (bound to their row but not to its
revision, as written before revisions were bound); and, for a root key, how
many data keys it wraps. Bindings are read from the ciphertexts themselves.

` + "`pgsecrets reencrypt`" + ` binds row-only ciphertexts fully; unbound ones only
with --bind-unbound. Once both columns are 0 everywhere, turn on strict mode
(--strict, PGSECRETS_STRICT=true, or the provider's strict).

Registered root keys the configured ones lack (retired ones, or another
host's) are listed with state "registered". A warning is printed on stderr
for every unknown key, and for every such registered key that still
encrypts secrets (they cannot be decrypted here). Reads no secret value.
Needs no root keys: without them, every registered root key is listed with
state "registered".`,
		Example: `  pgsecrets key status
  pgsecrets key status --output json | jq '.[] | select(.kind == "unknown")'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runKeyStatus(cmd.Context(), opts)
		},
	}
}

func runKeyStatus(ctx context.Context, opts *KeyStatusOptions) error {
	st, err := opts.OpenMetadataStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	usage, err := st.KeyUsage(ctx)
	if err != nil {
		return err
	}

	if opts.JSON() {
		if usage == nil {
			usage = []store.KeyUsage{}
		}
		err = writeJSON(opts.IO.Out, usage)
	} else {
		t := newTable(opts.IO.Out, "KID", "KIND", "STATE", "SECRETS", "VERSIONS", "UNBOUND", "ROW-ONLY", "DATA KEYS")
		for _, u := range usage {
			dataKeys := "-"
			if u.Kind == "root" {
				dataKeys = strconv.FormatInt(u.DataKeys, 10)
			}
			t.row(u.KID, u.Kind, orDash(u.State), strconv.FormatInt(u.Secrets, 10), strconv.FormatInt(u.Versions, 10), strconv.FormatInt(u.Unbound, 10), strconv.FormatInt(u.RowOnly, 10), dataKeys)
		}
		err = t.flush()
	}
	if err != nil {
		return err
	}
	for _, u := range usage {
		if u.Inconsistent > 0 {
			fmt.Fprintf(opts.IO.ErrOut, "Warning: %d secret(s) listed under key %q have a ciphertext that names another key or cannot be read: their rows were edited in the database.\n", u.Inconsistent, u.KID)
		}
		if u.Kind == "root" && u.State == "registered" && st.HasKeys() && u.Secrets+u.Versions > 0 {
			fmt.Fprintf(opts.IO.ErrOut, "Warning: %d secret(s) and %d version(s) are encrypted with root key %q, which the database has registered but the configured root keys lack: they cannot be decrypted until that key is added back to the root keys.\n", u.Secrets, u.Versions, u.KID)
		}
		if u.Kind == "unknown" {
			fmt.Fprintf(opts.IO.ErrOut, "Warning: %d secret(s) are encrypted with key %q, which is neither a root key nor a data key: they cannot be decrypted until that key is added back to the root keys.\n", u.Secrets, u.KID)
		}
	}
	return nil
}
