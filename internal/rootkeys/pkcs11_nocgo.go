//go:build !cgo

package rootkeys

import (
	"encoding/json"
	"errors"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// PKCS#11 loads the token's native module, which takes cgo. A build
// without it (the release binaries, built with CGO_ENABLED=0) still knows
// the kind, to refuse it by name.
func init() {
	kinds["pkcs11"] = func(string, json.RawMessage) (keyring.Wrapper, error) {
		return nil, errNoPKCS11
	}
}

var errNoPKCS11 = errors.New("this build has no PKCS#11 (built without cgo): the release binaries are built with CGO_ENABLED=0; build pgsecrets with cgo on (CGO_ENABLED=1 go install, with a C compiler) to use a PKCS#11 root key")

// ClosePKCS11 has nothing to close in a build without PKCS#11.
func ClosePKCS11() {}
