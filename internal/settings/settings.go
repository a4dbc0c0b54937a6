// Package settings resolves the connection and key settings shared by the
// CLI and the Terraform provider (an explicit value, flag or provider
// attribute, wins, then the environment, then a default) and opens the
// store with them: one way to open it, whoever asks (see Open).
package settings

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"runtime"
	"strings"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/rootkeys"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// Environment variables read as fallbacks.
const (
	EnvDatabaseURL  = "PGSECRETS_DATABASE_URL"
	EnvReadURL      = "PGSECRETS_READ_URL"
	EnvRootKeys     = "PGSECRETS_ROOT_KEYS"
	EnvRootKeysFile = "PGSECRETS_ROOT_KEYS_FILE"
	EnvSchema       = "PGSECRETS_SCHEMA"
	EnvActor        = "PGSECRETS_ACTOR"
)

// DatabaseURL returns explicit, else PGSECRETS_DATABASE_URL, else
// DATABASE_URL, else "" (pgx then reads the libpq PG* variables).
func DatabaseURL(explicit string) string {
	url, _ := resolveDatabaseURL(explicit, "")
	return url
}

// resolveDatabaseURL is DatabaseURL, with the setting the value came from,
// for messages: setting (the caller's name for explicit), an environment
// variable, the libpq variables that are set, or "" when nothing names a
// database.
func resolveDatabaseURL(explicit, setting string) (url, source string) {
	for _, s := range []struct{ value, name string }{
		{explicit, first(setting, "the database URL setting")},
		{os.Getenv(EnvDatabaseURL), EnvDatabaseURL},
		{os.Getenv("DATABASE_URL"), "DATABASE_URL"},
	} {
		if strings.TrimSpace(s.value) != "" {
			return s.value, s.name
		}
	}
	var set []string
	for _, name := range libpqServerVariables {
		if os.Getenv(name) != "" {
			set = append(set, name)
		}
	}
	return "", strings.Join(set, ", ")
}

// ReadURL returns explicit, else PGSECRETS_READ_URL, else "" (every read
// on the database URL's server), with the setting it came from (setting,
// the caller's name for explicit), for messages.
func ReadURL(explicit, setting string) (url, source string) {
	if strings.TrimSpace(explicit) != "" {
		return explicit, first(setting, "the read URL setting")
	}
	if v := os.Getenv(EnvReadURL); strings.TrimSpace(v) != "" {
		return v, EnvReadURL
	}
	return "", ""
}

// libpqServerVariables are the libpq variables that say which server and
// database to reach when no URL is set.
var libpqServerVariables = []string{"PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"}

// Schema returns explicit, else PGSECRETS_SCHEMA, else the default schema.
func Schema(explicit string) string {
	return first(explicit, os.Getenv(EnvSchema), store.DefaultSchema)
}

// Actor returns explicit, else PGSECRETS_ACTOR, else defaultPrefix and
// user@host of the process, which is what an operator would write by hand.
// The prefix marks the default only (the provider's "terraform:"), so that
// audit events say which face of pgsecrets made them; an actor someone
// chose is recorded as given.
func Actor(explicit, defaultPrefix string) string {
	if a := first(explicit, os.Getenv(EnvActor)); a != "" {
		return a
	}
	return defaultPrefix + processActor()
}

// processActor is user@host of this process.
func processActor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		return name + "@" + host
	}
	return name
}

// RootKeysSource says where root keys came from, for messages; it never
// holds key material.
type RootKeysSource string

// Warning is something the user should fix that does not stop the work:
// the CLI prints Detail on stderr, the provider shows a warning diagnostic.
// Neither field ever holds key material or a password.
type Warning struct {
	Summary string // a short title, for Terraform's diagnostic
	Detail  string // what is wrong and the command that fixes it
}

// LoadedRootKeys are validated root keys, where they came from, and what
// about their source the user should fix.
type LoadedRootKeys struct {
	Ring     *keyring.Keyring
	Source   RootKeysSource
	Warnings []Warning
}

// RootKeys loads and validates the root keys from, in order: explicit JSON,
// a file, PGSECRETS_ROOT_KEYS, PGSECRETS_ROOT_KEYS_FILE. The first source
// that is set is used; a bad key there is an error, never a fallback to the
// next source.
func RootKeys(explicitJSON, file string) (LoadedRootKeys, error) {
	var (
		loaded LoadedRootKeys
		data   []byte
	)
	switch {
	case explicitJSON != "":
		if looksLikePath(explicitJSON) {
			return loaded, fmt.Errorf("the root keys setting holds a file path, not root keys JSON: for a file, use root_keys = file(\"PATH\") (Terraform), --root-keys-file (CLI) or %s", EnvRootKeysFile)
		}
		data, loaded.Source = []byte(explicitJSON), "the root keys setting"
	case file != "":
		b, w, err := readRootKeysFile(file)
		if err != nil {
			return loaded, fmt.Errorf("read root keys file: %w", err)
		}
		data, loaded.Source, loaded.Warnings = b, RootKeysSource("file "+file), w
	case os.Getenv(EnvRootKeys) != "":
		if looksLikePath(os.Getenv(EnvRootKeys)) {
			return loaded, fmt.Errorf("%s holds a file path, not root keys JSON: set %s to the file's path instead (or pass --root-keys-file), and keep %s for the JSON itself", EnvRootKeys, EnvRootKeysFile, EnvRootKeys)
		}
		data, loaded.Source = []byte(os.Getenv(EnvRootKeys)), EnvRootKeys
	case os.Getenv(EnvRootKeysFile) != "":
		path := os.Getenv(EnvRootKeysFile)
		b, w, err := readRootKeysFile(path)
		if err != nil {
			return loaded, fmt.Errorf("read root keys file from %s: %w", EnvRootKeysFile, err)
		}
		data, loaded.Source, loaded.Warnings = b, RootKeysSource("file "+path+" ("+EnvRootKeysFile+")"), w
	default:
		return loaded, fmt.Errorf("no root keys: set %s (a JSON array of JWKs and key service references) or %s (a file holding it), or pass --root-keys-file (CLI) / root_keys (Terraform); `pgsecrets key generate --out FILE` makes one, `pgsecrets key add` puts an AWS KMS key in one (docs/rotation.md)", EnvRootKeys, EnvRootKeysFile)
	}
	ring, err := rootkeys.Load(data)
	if err != nil {
		return loaded, fmt.Errorf("%w (from %s)", err, loaded.Source)
	}
	loaded.Ring = ring
	return loaded, nil
}

// readRootKeysFile reads a root keys file and warns when users other than
// its owner may read or change it: anyone who reads it can decrypt every
// secret. The mode is taken from the open file, so it is the mode of what
// was read.
func readRootKeysFile(path string) ([]byte, []Warning, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, err
	}
	var warnings []Warning
	if w, ok := rootKeysFileModeWarning(path, info.Mode().Perm()); ok {
		warnings = append(warnings, w)
	}
	return data, warnings, nil
}

func rootKeysFileModeWarning(path string, perm fs.FileMode) (Warning, bool) {
	// Windows has no Unix modes: Go reports 0666 for every writable file.
	// Execute bits alone give nothing away.
	if runtime.GOOS == "windows" || perm&0o066 == 0 {
		return Warning{}, false
	}
	access := "read"
	if perm&0o044 == 0 {
		access = "change"
	}
	return Warning{
		Summary: "Root keys file open to other users",
		Detail: fmt.Sprintf("root keys file %s has mode %04o, so users other than its owner can %s it: run `chmod 600 %s`",
			path, perm, access, path),
	}, true
}

// looksLikePath reports whether a value meant to hold root keys JSON holds
// a file path instead, a common mix-up of PGSECRETS_ROOT_KEYS and
// PGSECRETS_ROOT_KEYS_FILE. JSON never starts like a path, and a value that
// names an existing file is not JSON either.
func looksLikePath(value string) bool {
	v := strings.TrimSpace(value)
	if strings.HasPrefix(v, "[") || strings.HasPrefix(v, "{") {
		return false
	}
	for _, prefix := range []string{"/", "./", "../", "~"} {
		if strings.HasPrefix(v, prefix) {
			return true
		}
	}
	info, err := os.Stat(v)
	return err == nil && info.Mode().IsRegular()
}

func first(values ...string) string {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// EnvStrict turns on strict bindings: ciphertexts not bound to their row
// and version are refused.
const EnvStrict = "PGSECRETS_STRICT"

// Strict returns explicit when set, else whether PGSECRETS_STRICT holds a
// true value (1, true, yes, on). An unreadable value is an error, never a
// silent false.
func Strict(explicit bool) (bool, error) {
	if explicit {
		return true, nil
	}
	v := strings.ToLower(strings.TrimSpace(os.Getenv(EnvStrict)))
	switch v {
	case "", "0", "false", "no", "off":
		return false, nil
	case "1", "true", "yes", "on":
		return true, nil
	}
	return false, fmt.Errorf("%s=%q is not a boolean: use true or false", EnvStrict, os.Getenv(EnvStrict))
}

// RootKeysConfigured reports whether any root keys source is set, without
// reading it.
func RootKeysConfigured(explicitJSON, file string) bool {
	return first(explicitJSON, file, os.Getenv(EnvRootKeys), os.Getenv(EnvRootKeysFile)) != ""
}
