package keyring_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// The two root keys of DESIGN.md's example, kept verbatim in
// testdata/root-keys.json (which tools/jose-vectors reads too).
const (
	dirKID   = "220824-xmBI" // dir / A256GCM
	dirK     = "7U6k5S_HXSujMpr2u7YjRkZLQO6LUK2vFYFHVbfNJ_g"
	gcmkwKID = "211011-L6KA" // A256GCMKW / A256GCM
	gcmkwK   = "RfYft7spYLuV4IpfRYyd12yOdJJ9hfmvgBRSOEUgub4"
)

func designKeysJSON(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/root-keys.json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// designKeyring is the example deployment: the dir key encrypts, both decrypt.
func designKeyring(t testing.TB) *keyring.Keyring {
	t.Helper()
	ring, err := keyring.Load(designKeysJSON(t))
	if err != nil {
		t.Fatalf("load DESIGN.md example keys: %v", err)
	}
	return ring
}

// keyringWith builds a keyring whose only root key is key.
func keyringWith(t testing.TB, key *keyring.Key) *keyring.Keyring {
	t.Helper()
	ring, err := keyring.New([]*keyring.Key{key})
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

func generate(t testing.TB, kid, alg, enc string) *keyring.Key {
	t.Helper()
	key, err := keyring.Generate(kid, alg, enc)
	if err != nil {
		t.Fatalf("Generate(%q, %s, %s): %v", kid, alg, enc, err)
	}
	return key
}

func encrypt(t testing.TB, ring *keyring.Keyring, plaintext string, binding keyring.Binding) string {
	t.Helper()
	token, _, err := ring.Encrypt([]byte(plaintext), binding)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	return token
}

func b64(data []byte) string { return base64.RawURLEncoding.EncodeToString(data) }

func unb64(t testing.TB, s string) []byte {
	t.Helper()
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64url %q: %v", s, err)
	}
	return data
}

// requireAs fails the test unless err is, or wraps, an error of type T, and
// returns it.
func requireAs[T error](t testing.TB, err error) T {
	t.Helper()
	var target T
	if err == nil {
		t.Fatalf("no error, want a %T", target)
	}
	if !errors.As(err, &target) {
		t.Fatalf("error %q is a %T, want a %T", err, err, target)
	}
	return target
}

// requireMentions fails the test unless err's message contains every part:
// what the user reads must name the key and the problem.
func requireMentions(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

// isKeyringError reports whether err is one of the typed errors Decrypt
// promises for a ciphertext it refuses.
func isKeyringError(err error) bool {
	var (
		unknown    *keyring.UnknownKIDError
		mismatch   *keyring.BindingMismatchError
		tampered   *keyring.TamperedError
		corrupt    *keyring.CorruptError
		algorithm  *keyring.AlgorithmMismatchError
		compressed *keyring.CompressedError
	)
	return errors.As(err, &unknown) || errors.As(err, &mismatch) || errors.As(err, &tampered) ||
		errors.As(err, &corrupt) || errors.As(err, &algorithm) || errors.As(err, &compressed)
}

// sealDirA256GCM writes a dir/A256GCM compact JWE by hand, with exactly the
// protected header given. It needs no JOSE library, so it can write headers
// that go-jose would never produce.
func sealDirA256GCM(t testing.TB, k []byte, header string, plaintext []byte) string {
	t.Helper()
	block, err := aes.NewCipher(k)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(iv); err != nil {
		t.Fatal(err)
	}
	protected := b64([]byte(header))
	sealed := gcm.Seal(nil, iv, plaintext, []byte(protected))
	ciphertext, tag := sealed[:len(sealed)-gcm.Overhead()], sealed[len(sealed)-gcm.Overhead():]
	return protected + ".." + b64(iv) + "." + b64(ciphertext) + "." + b64(tag)
}
