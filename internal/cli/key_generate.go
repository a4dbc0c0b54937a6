package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/rootkeys"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
)

func newKeyCmd(g *globalOptions) *cobra.Command {
	return newGroupCmd("key", "Make root keys, and see which keys encrypt what",
		`  pgsecrets key generate --out root-keys.json
  pgsecrets key add --out root-keys.json --prepend --kid prod-kms --aws-kms-key alias/pgsecrets
  pgsecrets key status
  pgsecrets key register`,
		newKeyGenerateCmd(g),
		newKeyAddCmd(g),
		newKeyStatusCmd(g),
		newKeyRegisterCmd(g),
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
	// File receives the root keys instead of stdout.
	File string
	// Force lets File replace an existing file.
	Force bool
	// Prepend puts the new key first in File's existing root keys.
	Prepend bool
}

// keyUseArg accepts no argument, or the key use "enc": tools that keep
// JWKs of several uses take it first (key generate enc), and people
// moving from them type it. Anything else is refused unquoted, as by
// noArgs: it may be a value typed in the wrong place.
func keyUseArg(cmd *cobra.Command, args []string) error {
	if len(args) == 0 || (len(args) == 1 && args[0] == "enc") {
		return nil
	}
	return usageErrorf(cmd, "%s takes no argument but the key use enc (a root key encrypts: `key generate enc` is `key generate`); give the options as flags", cmd.CommandPath())
}

func newKeyGenerateCmd(g *globalOptions) *cobra.Command {
	opts := &KeyGenerateOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "generate [enc]",
		Short: "Make a new random root key, in a file or printed as a JWK",
		Long: `Make a new random symmetric key, from the operating system's random source,
as a JSON Web Key in the root keys format.

With --out, the key goes into a file only its owner can read (mode 0600)
and nothing is printed on stdout; stderr says which kid went where:

  --out F            creates F holding a root keys array with the new key;
                      F is created 0600, and an existing F is left unchanged
  --out F --force    replaces F: the new file is written beside it and
                      renamed into place, so F is never half written
  --out F --prepend  puts the new key first in the existing root keys file
                      F, keeping its keys after it in order; F is checked
                      first, a kid it already has is refused, and it is
                      rewritten the same atomic way as a JSON array, one key
                      a line, the existing entries kept as written

Without --out, the key is printed on stdout (with --set, as a complete root
keys value: a JSON array holding it) and a one-line hint on stderr says
where it goes. Nothing is stored in the database.

The first root key encrypts new secrets and data keys; every root key
decrypts. To rotate, put the new key first (--prepend), keep the old ones
after it, deploy, and run ` + "`pgsecrets reencrypt`" + ` (docs/rotation.md).

The optional argument enc is the key's use, the only one a root key has:
` + "`key generate enc --alg dir --enc A256GCM`" + `, as other tools spell it,
makes the same key as without it.

--alg: ` + strings.Join(keyring.Algorithms(), ", ") + `
--enc: ` + strings.Join(keyring.Encryptions(), ", "),
		Example: `  # A first root key, in a new file only you can read
  pgsecrets key generate --out root-keys.json
  export PGSECRETS_ROOT_KEYS_FILE=$PWD/root-keys.json

  # Rotation: a new key first in the existing file, the old keys kept after it
  pgsecrets key generate --out root-keys.json --prepend --alg A256GCMKW

  # Replace a file, e.g. a throwaway environment's keys
  pgsecrets key generate --out test-keys.json --force

  # Root keys in an environment variable, never on disk
  export PGSECRETS_ROOT_KEYS="$(pgsecrets key generate --set)"

  # One key with a chosen kid, to add to root keys kept elsewhere
  pgsecrets key generate --alg A256KW --kid 250101-prod`,
		Args: keyUseArg,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := keyring.KeySize(opts.Alg, opts.Enc); err != nil {
				return &usageError{cmd: cmd, err: err}
			}
			if opts.KID != "" && strings.TrimSpace(opts.KID) != opts.KID {
				return usageErrorf(cmd, "--kid %q has leading or trailing spaces", opts.KID)
			}
			switch {
			case opts.Prepend && opts.File == "":
				return usageErrorf(cmd, "--prepend needs --out, the root keys file to put the new key in")
			case opts.Force && opts.File == "":
				return usageErrorf(cmd, "--force needs --out, the file to replace")
			case opts.Force && opts.Prepend:
				return usageErrorf(cmd, "--force replaces the file's keys and --prepend keeps them: pass one of the two")
			}
			return runKeyGenerate(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Alg, "alg", "dir", "key management algorithm")
	cmd.Flags().StringVar(&opts.Enc, "enc", "A256GCM", "content encryption algorithm")
	cmd.Flags().StringVar(&opts.KID, "kid", "", "key id (default: today's date and 4 random characters, like 250101-Ab3x)")
	cmd.Flags().BoolVar(&opts.Set, "set", false, "print a JSON array holding the key, a complete root keys value")
	cmd.Flags().StringVar(&opts.File, "out", "", "write the root keys to this new file, mode 0600, instead of stdout (an existing file needs --prepend or --force)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "with --out: replace the file if it exists")
	cmd.Flags().BoolVar(&opts.Prepend, "prepend", false, "with --out: put the new key first in the file's existing root keys")
	oldFlagSpelling(cmd, "file", "out")
	return cmd
}

func runKeyGenerate(opts *KeyGenerateOptions) error {
	key, err := keyring.Generate(opts.KID, opts.Alg, opts.Enc)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	switch {
	case opts.Prepend:
		jwk, err := key.ExportJWK()
		if err != nil {
			return fmt.Errorf("encode key %s: %w", key.KID, err)
		}
		return prependToKeyFile(opts.IO, opts.File, key.KID, jwk)
	case opts.File != "":
		return writeKeyFile(opts, key)
	}
	return printKey(opts, key)
}

func printKey(opts *KeyGenerateOptions, key *keyring.Key) error {
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

// writeKeyFile writes a root keys file holding only key. Without --force
// the file is created 0600 with O_EXCL, so it is never readable by others,
// not even for a moment, and an existing file (or a symlink planted in its
// place) is never written through.
func writeKeyFile(opts *KeyGenerateOptions, key *keyring.Key) error {
	content, err := newKeyFileContent(key)
	if err != nil {
		return err
	}
	if opts.Force {
		err = replaceKeyFile(opts.File, content)
	} else {
		err = createKeyFile(opts.File, content)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Wrote root keys with new key %s to %s (mode 0600). Next: name it in %s or --root-keys-file, and back it up: without it nothing it encrypts can be read.\n",
		key.KID, opts.File, settings.EnvRootKeysFile)
	return nil
}

// prependToKeyFile puts entry (a root keys entry named kid: a JWK, or a
// key service reference) first in the root keys file, where it wraps new
// keys, and keeps every existing entry after it, in order and as written,
// to open what they wrapped. The existing file is validated first: a file
// pgsecrets could not load is left unchanged rather than rewritten around.
func prependToKeyFile(ios *IOStreams, file, kid string, entry json.RawMessage) error {
	info, err := os.Stat(file)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s does not exist, so there are no keys to prepend to: create it with `pgsecrets key generate --out %s`", file, file)
	}
	if err != nil {
		return fmt.Errorf("root keys file: %w", err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read root keys file: %w", err)
	}
	existing, err := rootkeys.Parse(data)
	if err != nil {
		return fmt.Errorf("%s was left unchanged: it does not hold valid root keys: %w", file, err)
	}
	for _, k := range existing {
		if k.KID == kid {
			return fmt.Errorf("%s was left unchanged: it already has a key with kid %q; choose another --kid", file, kid)
		}
	}
	entries, err := rootKeyEntries(data)
	if err != nil {
		return fmt.Errorf("%s was left unchanged: %w", file, err)
	}
	content, err := rootKeysFileContent(append([]json.RawMessage{entry}, entries...))
	if err != nil {
		return err
	}
	if err := replaceKeyFile(file, content); err != nil {
		return err
	}
	modeNote := ""
	if perm := info.Mode().Perm(); perm != 0o600 {
		modeNote = fmt.Sprintf(", was %04o", perm)
	}
	fmt.Fprintf(ios.ErrOut, "Put new key %s first in %s, before its %d other key(s) (mode 0600%s). Next: deploy the file to every process that writes secrets, then run `pgsecrets reencrypt` (docs/rotation.md).\n",
		kid, file, len(existing), modeNote)
	return nil
}

// rootKeyEntries splits a root keys value, already validated, into its
// entries as written: a JSON array or a JWK Set.
func rootKeyEntries(data []byte) ([]json.RawMessage, error) {
	var entries []json.RawMessage
	if err := json.Unmarshal(data, &entries); err == nil {
		return entries, nil
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("split root keys: %w", err)
	}
	return set.Keys, nil
}

// createKeyFile creates path, which must not exist, holding content.
func createKeyFile(path string, content []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return &needsYesError{fmt.Sprintf("%s already exists and was left unchanged: pass --prepend to put the new key first in it, or --force to replace it", path)}
	}
	if err != nil {
		return fmt.Errorf("create root keys file: %w", err)
	}
	_, err = f.Write(content)
	if err == nil {
		// As in atomicFile.commit: the data reaches the disk before anything
		// relies on the file.
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		_ = os.Remove(path) // ours, just created, and incomplete
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// replaceKeyFile writes content to a 0600 temporary file beside path and
// renames it over path: a crash leaves either the old file or the new one.
func replaceKeyFile(path string, content []byte) error {
	file, err := createAtomic(path)
	if err != nil {
		return err
	}
	defer file.abort()
	if _, err := file.Write(content); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return file.commit()
}

// newKeyFileContent is a root keys file holding key alone.
func newKeyFileContent(key *keyring.Key) ([]byte, error) {
	jwk, err := key.ExportJWK()
	if err != nil {
		return nil, fmt.Errorf("encode key %s: %w", key.KID, err)
	}
	return rootKeysFileContent([]json.RawMessage{jwk})
}

// rootKeysFileContent is entries as a JSON array, one entry a line, so
// that a rotation reads in a diff as one added line.
func rootKeysFileContent(entries []json.RawMessage) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("[\n")
	for i, entry := range entries {
		b.WriteString("  ")
		if err := json.Compact(&b, entry); err != nil {
			return nil, fmt.Errorf("encode root key entry %d: %w", i+1, err)
		}
		if i < len(entries)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	return b.Bytes(), nil
}
