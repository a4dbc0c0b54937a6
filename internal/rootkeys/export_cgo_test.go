//go:build cgo

package rootkeys

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
