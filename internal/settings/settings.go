// Package settings resolves the connection and key settings shared by the
// CLI and the Terraform provider: an explicit value (flag or provider
// attribute) wins, then the environment, then a default.
package settings

import (
	"fmt"
	"os"
	"os/user"
	"strings"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// Environment variables read as fallbacks.
const (
	EnvDatabaseURL  = "PGSECRETS_DATABASE_URL"
	EnvRootKeys     = "PGSECRETS_ROOT_KEYS"
	EnvRootKeysFile = "PGSECRETS_ROOT_KEYS_FILE"
	EnvSchema       = "PGSECRETS_SCHEMA"
	EnvActor        = "PGSECRETS_ACTOR"
)

// DatabaseURL returns explicit, else PGSECRETS_DATABASE_URL, else
// DATABASE_URL, else "" (pgx then reads the libpq PG* variables).
func DatabaseURL(explicit string) string {
	return first(explicit, os.Getenv(EnvDatabaseURL), os.Getenv("DATABASE_URL"))
}

// Schema returns explicit, else PGSECRETS_SCHEMA, else the default schema.
func Schema(explicit string) string {
	return first(explicit, os.Getenv(EnvSchema), store.DefaultSchema)
}

// Actor returns explicit, else PGSECRETS_ACTOR, else user@host of the
// process, which is what an operator would write by hand.
func Actor(explicit string) string {
	if a := first(explicit, os.Getenv(EnvActor)); a != "" {
		return a
	}
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

// RootKeys loads and validates the root keys from, in order: explicit JSON,
// a file, PGSECRETS_ROOT_KEYS, PGSECRETS_ROOT_KEYS_FILE. The first source
// that is set is used; a bad key there is an error, never a fallback to the
// next source.
func RootKeys(explicitJSON, file string) (*keyring.Keyring, RootKeysSource, error) {
	var (
		data   []byte
		source RootKeysSource
	)
	switch {
	case explicitJSON != "":
		data, source = []byte(explicitJSON), "the root keys setting"
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, "", fmt.Errorf("read root keys file: %w", err)
		}
		data, source = b, RootKeysSource("file "+file)
	case os.Getenv(EnvRootKeys) != "":
		data, source = []byte(os.Getenv(EnvRootKeys)), EnvRootKeys
	case os.Getenv(EnvRootKeysFile) != "":
		path := os.Getenv(EnvRootKeysFile)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, "", fmt.Errorf("read root keys file from %s: %w", EnvRootKeysFile, err)
		}
		data, source = b, RootKeysSource("file "+path+" ("+EnvRootKeysFile+")")
	default:
		return nil, "", fmt.Errorf("no root keys: set %s (a JSON array of JWKs) or %s (a file holding it), or pass --root-keys-file (CLI) / root_keys (Terraform); `pgsecrets key generate --set` makes one", EnvRootKeys, EnvRootKeysFile)
	}
	ring, err := keyring.Load(data)
	if err != nil {
		return nil, source, fmt.Errorf("%w (from %s)", err, source)
	}
	return ring, source, nil
}

func first(values ...string) string {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
