package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// KeyRegisterOptions configure `pgsecrets key register`.
type KeyRegisterOptions struct {
	*globalOptions
	Yes bool
}

func newKeyRegisterCmd(g *globalOptions) *cobra.Command {
	opts := &KeyRegisterOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Register the configured root keys in the database",
		Long: `Record each configured root key the database does not know yet: its kid and
a key check value (a salted one-way digest), never the key itself.

The database refuses a process whose root keys it does not know before
anything is written under them, so that a wrong key file (a freshly
generated one, say) cannot make secrets unreadable for everyone else. The
usual rotation needs no registration: a new first root key next to a
registered one registers itself, audited. This command is for the rest:

  - keys that are not first, registered ahead of time;
  - a key set of which the database knows no key (a deliberate replacement,
    or a restore into a new database): refused without --yes.

A key whose kid is registered with other material is always refused.`,
		Example: `  # Register the keys of the configured key file
  pgsecrets key register

  # Replace the registered key set on purpose
  pgsecrets key register --root-keys-file new-root-keys.json --yes`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runKeyRegister(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Yes, "yes", false, "register even when the database knows none of the configured keys")
	return cmd
}

func runKeyRegister(ctx context.Context, opts *KeyRegisterOptions) error {
	e := opts.explicit()
	e.AllowUnregisteredRootKeys = opts.Yes
	st, err := opts.openStore(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	added := st.RegisteredAtOpen()
	more, err := st.RegisterRootKeys(ctx, "pgsecrets key register")
	if err != nil {
		return err
	}
	added = append(added, more...)
	if opts.JSON() {
		return writeJSON(opts.IO.Out, struct {
			Registered []string `json:"registered"`
		}{append([]string{}, added...)})
	}
	if len(added) == 0 {
		_, err = fmt.Fprintln(opts.IO.Out, "Every configured root key is already registered.")
		return err
	}
	_, err = fmt.Fprintf(opts.IO.Out, "Registered root key(s) %s.\n", strings.Join(added, ", "))
	return err
}
