//go:build !cgo

package softhsmtest

// Setup has nothing to make in a build without PKCS#11.
func Setup() (cleanup func()) { return func() {} }
