package keyring

import (
	"crypto/aes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	josecipher "github.com/go-jose/go-jose/v4/cipher"
)

// keyWrapService wraps with AES key wrap (RFC 3394) under a key of its
// own, which is what an HSM's CKM_AES_KEY_WRAP computes: the JWE a wrapped
// root writes is then a standard A256KW one. It counts its calls.
type keyWrapService struct {
	k              []byte
	wraps, unwraps int
	down           bool
}

func (s *keyWrapService) Alg() string    { return "A256KW" }
func (s *keyWrapService) String() string { return "test key wrap service" }
func (s *keyWrapService) CheckValue(deployment string) (string, error) {
	return "kw:" + deployment, nil
}

func (s *keyWrapService) WrapKey(cek []byte, _ Binding) ([]byte, error) {
	s.wraps++
	if s.down {
		return nil, errors.New("service unreachable")
	}
	block, err := aes.NewCipher(s.k)
	if err != nil {
		return nil, err
	}
	return josecipher.KeyWrap(block, cek)
}

func (s *keyWrapService) UnwrapKey(wrapped []byte, _ Binding) ([]byte, error) {
	s.unwraps++
	if s.down {
		return nil, errors.New("service unreachable")
	}
	block, err := aes.NewCipher(s.k)
	if err != nil {
		return nil, err
	}
	return josecipher.KeyUnwrap(block, wrapped)
}

func newKeyWrapService(t *testing.T) *keyWrapService {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return &keyWrapService{k: k}
}

// A project key wrapped under a root a service holds opens with one call,
// and the JWE is a standard A256KW one: a JWK of the service's key material
// opens it too, so nothing about the format is pgsecrets' own.
func TestWrappedRootWrapsProjectKeysInStandardJWE(t *testing.T) {
	svc := newKeyWrapService(t)
	ring, err := New([]*Key{NewWrappedRoot("hsm-1", svc)})
	if err != nil {
		t.Fatal(err)
	}
	pk, err := Generate("pk-1", "dir", "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	wrapped, wrappingKID, err := ring.WrapProjectKey("app", pk, "primary", 1)
	if err != nil || wrappingKID != "hsm-1" || svc.wraps != 1 {
		t.Fatalf("wrap: %v, by %q, %d calls", err, wrappingKID, svc.wraps)
	}
	got, err := ring.UnwrapProjectKey("app", "pk-1", "primary", 1, wrapped)
	if err != nil || got.KID != "pk-1" || svc.unwraps != 1 {
		t.Fatalf("unwrap: %v (%d calls)", err, svc.unwraps)
	}
	jwk, err := newKey("hsm-1", "A256KW", "A256GCM", svc.k)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := New([]*Key{jwk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.UnwrapProjectKey("app", "pk-1", "primary", 1, wrapped); err != nil {
		t.Fatalf("the same wrapping read as a plain A256KW JWE: %v", err)
	}
	// The binding still holds: the key moved to another project is refused.
	if _, err := ring.UnwrapProjectKey("other", "pk-1", "primary", 1, wrapped); err == nil {
		t.Fatal("a wrapped root unwrapped a key bound to another project")
	}
}

// A wrapped root never encrypts a value, and derives nothing; a service
// that is down fails with the root and the service named.
func TestWrappedRootOnlyWrapsKeys(t *testing.T) {
	svc := newKeyWrapService(t)
	ring, err := New([]*Key{NewWrappedRoot("hsm-1", svc)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ring.Encrypt([]byte("v"), SecretBinding("app", "K", 1)); !errors.Is(err, ErrWrappedRoot) || !strings.Contains(err.Error(), "pgsecrets reencrypt") {
		t.Fatalf("a value encrypted with a wrapped root: %v", err)
	}
	if svc.wraps != 0 {
		t.Fatalf("%d service calls for a refused encryption", svc.wraps)
	}
	if _, err := ring.LegacyAuditKey("hsm-1"); !errors.Is(err, ErrWrappedRoot) {
		t.Fatalf("a key derived from a wrapped root: %v", err)
	}
	if keys, err := ring.SessionKeys("dep"); err != nil || keys[0] != nil {
		t.Fatalf("session keys of a wrapped root: %v, %v; want none derived", keys, err)
	}
	svc.down = true
	pk, _ := Generate("pk-1", "dir", "A256GCM")
	_, _, err = ring.WrapProjectKey("app", pk, "primary", 1)
	if err == nil || !strings.Contains(err.Error(), "hsm-1") || !strings.Contains(err.Error(), "test key wrap service") || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("wrap with the service down: %v, want the root, the service and the cause", err)
	}
}

// An entry naming a key service reads as a wrapped root when the build
// opens that kind, and is refused by name otherwise.
func TestRootKeyEntriesNameTheirService(t *testing.T) {
	svc := newKeyWrapService(t)
	kinds := RootKinds{"pkcs11": func(string, json.RawMessage) (Wrapper, error) { return svc, nil }}
	jwk := `{"kty":"oct","kid":"j1","alg":"dir","enc":"A256GCM","k":"` + b64.EncodeToString(make([]byte, 32)) + `"}`
	keys, err := ParseRootKeysWith([]byte(`[{"kid":"hsm-1","pkcs11":{"uri":"pkcs11:token=t;object=o"}}, `+jwk+`]`), kinds)
	if err != nil || len(keys) != 2 || keys[0].Wrapper() == nil || keys[1].Wrapper() != nil {
		t.Fatalf("keys = %v, %v", keys, err)
	}
	for entry, want := range map[string]string{
		`[{"kid":"k","aws_kms":{"key_id":"alias/x"}}]`:                            "cannot use aws_kms root keys",
		`[{"kid":"k","pkcs11":{},"aws_kms":{}}]`:                                  "names two key services",
		`[{"pkcs11":{"uri":"pkcs11:object=o"}}]`:                                  "kid missing",
		`[{"kid":"k","pkcs11":{"uri":"pkcs11:object=o"},"k":"c2VjcmV0c2VjcmV0"}]`: `not "k"`,
	} {
		if _, err := ParseRootKeysWith([]byte(entry), kinds); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", entry, err, want)
		}
	}
}
