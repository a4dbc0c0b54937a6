// Package rootkeys reads a deployment's root keys: JWKs, and references to
// keys a key service holds (an AWS KMS key, a PKCS#11 token's key), in one
// ordered list. It is where the key services' clients are wired in, so
// that the keyring itself depends on none of them.
package rootkeys

import (
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// kinds are the key services this build can reach, by the member name
// that introduces them in a root keys entry. Each registers itself from
// its own file (kms.go, pkcs11.go), so that a build without one (PKCS#11
// without cgo) leaves it out.
var kinds = keyring.RootKinds{}

// Parse reads root keys: a JSON array (or JWK Set) of JWKs and key service
// references, such as {"kid": "prod-2026", "aws_kms": {"key_id":
// "alias/pgsecrets"}}.
func Parse(data []byte) ([]*keyring.Key, error) {
	return keyring.ParseRootKeysWith(data, kinds)
}

// Load parses root keys and builds a keyring from them, for use: a key
// service that can start its first call early (resolving the key) starts
// it now.
func Load(data []byte) (*keyring.Keyring, error) {
	roots, err := Parse(data)
	if err != nil {
		return nil, err
	}
	for _, k := range roots {
		if p, ok := k.Wrapper().(prefetcher); ok {
			p.Prefetch()
		}
	}
	return keyring.New(roots)
}

// prefetcher is a key service client that can start its first call in the
// background.
type prefetcher interface{ Prefetch() }
