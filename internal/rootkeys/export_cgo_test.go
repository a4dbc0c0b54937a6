//go:build cgo

package rootkeys

import (
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// DropPKCS11Sessions closes every session of this process on every token
// behind the pool's back, which also ends the login, as an HSM that
// restarts does.
func DropPKCS11Sessions() {
	pkcs11Modules.Lock()
	defer pkcs11Modules.Unlock()
	for _, m := range pkcs11Modules.byPath {
		for slot := range m.tokens {
			_ = m.ctx.CloseAllSessions(slot)
		}
	}
}

// PKCS11Unwraps is how many unwrap calls the PKCS#11 root named kid in r
// has made.
func PKCS11Unwraps(r *keyring.Keyring, kid string) int64 {
	for _, root := range r.Roots() {
		if k, ok := root.Wrapper().(*pkcs11Key); ok && root.KID == kid {
			return k.unwraps.Load()
		}
	}
	return -1
}

// SetPKCS11CallTimeout bounds each call into a module by d until the test
// ends: the tests of a token that hangs need not wait the default 10s.
func SetPKCS11CallTimeout(t testing.TB, d time.Duration) {
	old := pkcs11CallTimeout
	pkcs11CallTimeout = d
	t.Cleanup(func() { pkcs11CallTimeout = old })
}
