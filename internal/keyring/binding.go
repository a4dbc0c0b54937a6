package keyring

import (
	"strconv"
	"strings"
)

// BindingHeader is the protected JWE header that ties a ciphertext to the
// row it was written for. Being in the protected header, it is covered by
// the authentication tag, so it cannot be edited without detection.
const BindingHeader = "pgsecrets_bind"

// Binding names the row a ciphertext belongs to, and which version of that
// row: "<row>#<version>". The row part refuses a ciphertext moved to another
// row; the version part refuses an older ciphertext of the same row copied
// back (a restored backup, or a replayed value that was revoked).
//
// Ciphertexts written before versions were bound carry the row part alone.
// They still open, reported as not Versioned, and get a full binding when
// next re-encrypted.
type Binding string

// SecretBinding is the binding of a secret's value at a revision.
func SecretBinding(project, name string, revision int64) Binding {
	return Binding("secret:" + project + "/" + name + "#" + strconv.FormatInt(revision, 10))
}

// DataKeyBinding is the binding of a wrapped data key: its kid, and the
// revision and state of its row, so that a database writer cannot re-enable
// a disabled key or promote one by editing the state column.
func DataKeyBinding(kid, state string, revision int64) Binding {
	return Binding("datakey:" + kid + "#" + strconv.FormatInt(revision, 10) + "/" + state)
}

// AuditKeyBinding is the binding of a wrapped audit chain key: the
// deployment and key it belongs to, the MAC scheme it keys and the last
// event it may key (0 while it is still in use), so that neither can be
// changed without the root key.
func AuditKeyBinding(deployment, kid string, scheme int, lastSeq int64) Binding {
	return Binding("auditkey:" + deployment + "/" + kid + "#" + strconv.Itoa(scheme) + "/" + strconv.FormatInt(lastSeq, 10))
}

// Row is the binding without its version: what a ciphertext written before
// versions were bound carries.
func (b Binding) Row() Binding {
	if i := strings.LastIndexByte(string(b), '#'); i >= 0 {
		return b[:i]
	}
	return b
}

// Version is the part after the row ("" when there is none).
func (b Binding) Version() string {
	if i := strings.LastIndexByte(string(b), '#'); i >= 0 {
		return string(b[i+1:])
	}
	return ""
}

// checkBinding compares the binding a ciphertext carries with the one its
// row expects. It reports whether the ciphertext names its row (bound) and
// also its version (versioned).
func checkBinding(got, want Binding) (bound, versioned bool, err error) {
	switch {
	case got == "":
		return false, false, nil
	case got == want:
		return true, true, nil
	case got == want.Row():
		return true, false, nil
	case got.Row() == want.Row():
		return true, true, &StaleBindingError{Row: want.Row(), Want: want.Version(), Got: got.Version()}
	}
	return false, false, &BindingMismatchError{Want: want, Got: got}
}
