package keyring

import (
	"fmt"
	"strings"
)

// UnknownKIDError is returned for a ciphertext whose kid names no key in
// the keyring: a key was removed from the root keys too early, or the
// ciphertext comes from another deployment.
type UnknownKIDError struct {
	KID string
}

func (e *UnknownKIDError) Error() string {
	if e.KID == "" {
		return "ciphertext names no key (kid header missing)"
	}
	return fmt.Sprintf("ciphertext is encrypted with key %q, which is not in the keyring (add it back to the root keys, or unlock its data key)", e.KID)
}

// KeyServiceUnavailableError is a key service holding a root key (a KMS,
// an HSM) that did not answer in time, or kept throttling: nothing is
// wrong with the key or with what it wrapped, and the same call may
// succeed once the service is back.
type KeyServiceUnavailableError struct {
	Err error
}

func (e *KeyServiceUnavailableError) Error() string { return e.Err.Error() }

func (e *KeyServiceUnavailableError) Unwrap() error { return e.Err }

// BindingMismatchError is returned when a ciphertext was written for another
// row: copied or moved in the database.
type BindingMismatchError struct {
	Want, Got Binding
}

func (e *BindingMismatchError) Error() string {
	return fmt.Sprintf("ciphertext belongs to %s, not %s: it was copied or moved in the database and is refused", e.Got, e.Want)
}

// TamperedError is returned when authentication fails: the ciphertext or its
// header was altered, or it was sealed with another key under the same kid.
type TamperedError struct {
	KID string
}

func (e *TamperedError) Error() string {
	return fmt.Sprintf("ciphertext failed authentication with key %q: it was altered, or encrypted with a different key that has the same kid", e.KID)
}

// CorruptError is returned for input that is not a well-formed JWE.
type CorruptError struct {
	Reason string
}

func (e *CorruptError) Error() string {
	return "ciphertext is corrupt: " + e.Reason
}

// AlgorithmMismatchError is returned when a token's alg/enc differ from those
// of the key its kid names, which would otherwise allow algorithm confusion.
type AlgorithmMismatchError struct {
	KID                string
	KeyAlg, KeyEnc     string
	TokenAlg, TokenEnc string
}

func (e *AlgorithmMismatchError) Error() string {
	return fmt.Sprintf("ciphertext uses alg %q enc %q but key %q is %s/%s; refused", e.TokenAlg, e.TokenEnc, e.KID, e.KeyAlg, e.KeyEnc)
}

// CompressedError is returned for a ciphertext with a zip header: compressed
// payloads are refused (decompression bombs, length leaks).
type CompressedError struct {
	Zip string
}

func (e *CompressedError) Error() string {
	return fmt.Sprintf("ciphertext is compressed (zip %q); compressed payloads are refused", e.Zip)
}

// StaleBindingError is returned for a genuine ciphertext of the right row
// but another version of it: an older value copied back into the row (a
// restored backup, a replayed revoked token), or a row whose authenticated
// fields were edited in the database.
type StaleBindingError struct {
	Row       Binding
	Want, Got string
}

func (e *StaleBindingError) Error() string {
	switch {
	case strings.HasPrefix(string(e.Row), "secret:"):
		return fmt.Sprintf("ciphertext of %s was written for revision %s, but the row is at revision %s: an older value was copied back into the row (a restored backup or a replay) and is refused", e.Row, e.Got, e.Want)
	case strings.HasPrefix(string(e.Row), "datakey:"):
		return fmt.Sprintf("%s: its row says revision/state %s, but its authenticated wrapping says %s: the row was edited in the database and is refused", e.Row, e.Want, e.Got)
	}
	return fmt.Sprintf("%s: the row says %s, but its authenticated ciphertext says %s: the row was edited in the database and is refused", e.Row, e.Want, e.Got)
}
