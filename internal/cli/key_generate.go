package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
)

func newKeyCmd(g *globalOptions) *cobra.Command {
	return newGroupCmd("key", "Make new root keys (see `pgsecrets keys status` for the keys in use)",
		`  pgsecrets key generate --set > root-keys.json`,
		newKeyGenerateCmd(g),
	)
}

// KeyGenerateOptions configure `pgsecrets key generate`.
type KeyGenerateOptions struct {
	*globalOptions
	Alg string
	Enc string
	KID string
	// Set wraps the key in a JSON array: a complete root keys value.
	Set bool
}

func newKeyGenerateCmd(g *globalOptions) *cobra.Command {
	opts := &KeyGenerateOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Print a new random root key as a JWK",
		Long: `Print a new random symmetric key as a JSON Web Key in the root keys format,
from the operating system's random source. Nothing is stored: the key is
only printed, and a one-line hint on stderr says where it goes.

The first root key encrypts new secrets and data keys; every root key
decrypts. To rotate, put the new key first in the root keys array and keep
the old ones after it until ` + "`pgsecrets reencrypt`" + ` has moved everything.

--alg: ` + strings.Join(keyring.Algorithms(), ", ") + `
--enc: ` + strings.Join(keyring.Encryptions(), ", "),
		Example: `  # A first root key, ready for PGSECRETS_ROOT_KEYS
  pgsecrets key generate --set > root-keys.json
  chmod 600 root-keys.json

  # A key-wrapping key with a chosen kid, to prepend to existing root keys
  pgsecrets key generate --alg A256KW --kid 250101-prod`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := keyring.KeySize(opts.Alg, opts.Enc); err != nil {
				return &usageError{cmd: cmd, err: err}
			}
			if opts.KID != "" && strings.TrimSpace(opts.KID) != opts.KID {
				return usageErrorf(cmd, "--kid %q has leading or trailing spaces", opts.KID)
			}
			return runKeyGenerate(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Alg, "alg", "dir", "key management algorithm")
	cmd.Flags().StringVar(&opts.Enc, "enc", "A256GCM", "content encryption algorithm")
	cmd.Flags().StringVar(&opts.KID, "kid", "", "key id (default: today's date and 4 random characters, like 250101-Ab3x)")
	cmd.Flags().BoolVar(&opts.Set, "set", false, "print a JSON array holding the key, a complete root keys value")
	return cmd
}

func runKeyGenerate(opts *KeyGenerateOptions) error {
	key, err := keyring.Generate(opts.KID, opts.Alg, opts.Enc)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	export := key.ExportJWK
	if opts.Set {
		export = func() ([]byte, error) { return keyring.ExportRootKeys([]*keyring.Key{key}) }
	}
	b, err := export()
	if err != nil {
		return fmt.Errorf("encode key %s: %w", key.KID, err)
	}
	if _, err := fmt.Fprintf(opts.IO.Out, "%s\n", b); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if opts.Set {
		fmt.Fprintf(opts.IO.ErrOut, "Root keys with new key %s printed: keep them secret, in %s or a file named by --root-keys-file or %s.\n",
			key.KID, settings.EnvRootKeys, settings.EnvRootKeysFile)
	} else {
		fmt.Fprintf(opts.IO.ErrOut, "Key %s printed: put it first in the root keys array (%s or the --root-keys-file file) to encrypt with it; keep the older keys after it.\n",
			key.KID, settings.EnvRootKeys)
	}
	return nil
}
