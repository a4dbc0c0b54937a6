package keyring_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// The files under testdata/jose are written by tools/jose-vectors (see its
// README.md) with Node's jose on one side and this package on the other.
// These tests read them, so interoperability is checked without Node.

type joseVector struct {
	KID       string          `json:"kid"`
	Alg       string          `json:"alg"`
	Enc       string          `json:"enc"`
	Binding   keyring.Binding `json:"binding"`
	Plaintext string          `json:"plaintext"`
	JWE       string          `json:"jwe"`
}

type joseDecryption struct {
	JWE             string         `json:"jwe"`
	ProtectedHeader map[string]any `json:"protectedHeader"`
	Plaintext       string         `json:"plaintext"`
}

func readJSONFile[T any](t testing.TB, path string) T {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (regenerate with tools/jose-vectors, see its README.md)", err)
	}
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// checkVectors decrypts every vector with the DESIGN.md keyring, in its own
// row, and checks a moved copy is refused.
func checkVectors(t *testing.T, vectors []joseVector) {
	t.Helper()
	ring := designKeyring(t)
	seen := map[string]int{}
	for _, v := range vectors {
		seen[v.KID]++
		h, err := keyring.ParseHeader(v.JWE)
		if err != nil {
			t.Fatal(err)
		}
		if h.KID != v.KID || h.Alg != v.Alg || h.Enc != v.Enc || h.Binding != v.Binding {
			t.Errorf("header %+v does not match the vector %s %s/%s %q", h, v.KID, v.Alg, v.Enc, v.Binding)
		}
		d, err := ring.Decrypt(v.JWE, v.Binding)
		if err != nil {
			t.Errorf("%s %q: %v", v.KID, v.Binding, err)
			continue
		}
		if string(d.Plaintext) != v.Plaintext || d.KID != v.KID || d.Bound != (v.Binding != "") {
			t.Errorf("%s %q: decrypted %q kid %q bound %v, want %q", v.KID, v.Binding, d.Plaintext, d.KID, d.Bound, v.Plaintext)
		}
		if v.Binding != "" {
			_, err := ring.Decrypt(v.JWE, keyring.SecretBinding("demo", "elsewhere", 1))
			requireAs[*keyring.BindingMismatchError](t, err)
		}
	}
	if seen[dirKID] == 0 || seen[gcmkwKID] == 0 {
		t.Errorf("vectors per kid: %v; want both DESIGN.md keys", seen)
	}
}

func TestJoseCiphertextsDecrypt(t *testing.T) {
	vectors := readJSONFile[[]joseVector](t, "testdata/jose/from-jose.json")
	unbound := 0
	for _, v := range vectors {
		if v.Binding == "" {
			unbound++
		}
	}
	if unbound == 0 || unbound == len(vectors) {
		t.Errorf("%d of %d jose vectors unbound; want both kinds", unbound, len(vectors))
	}
	checkVectors(t, vectors)
}

func TestPgsecretsVectorsStillDecrypt(t *testing.T) {
	checkVectors(t, readJSONFile[[]joseVector](t, "testdata/jose/from-pgsecrets.json"))
}

func TestJoseDecryptsPgsecretsCiphertexts(t *testing.T) {
	vectors := readJSONFile[[]joseVector](t, "testdata/jose/from-pgsecrets.json")
	decrypted := readJSONFile[[]joseDecryption](t, "testdata/jose/decrypted-by-jose.json")
	byJWE := map[string]joseDecryption{}
	for _, d := range decrypted {
		byJWE[d.JWE] = d
	}
	if len(byJWE) != len(vectors) {
		t.Errorf("jose decrypted %d ciphertexts, pgsecrets wrote %d: regenerate both", len(byJWE), len(vectors))
	}
	for _, v := range vectors {
		d, ok := byJWE[v.JWE]
		if !ok {
			t.Errorf("jose did not decrypt %s %q (%.40s…)", v.KID, v.Binding, v.JWE)
			continue
		}
		if d.Plaintext != v.Plaintext {
			t.Errorf("%s %q: jose got %q, want %q", v.KID, v.Binding, d.Plaintext, v.Plaintext)
		}
		want := map[string]any{"alg": v.Alg, "enc": v.Enc, "kid": v.KID}
		if v.Binding != "" {
			want[keyring.BindingHeader] = string(v.Binding)
		}
		if strings.HasSuffix(v.Alg, "GCMKW") {
			// The key wrap's own iv and tag (RFC 7518 4.7) travel in the header.
			for _, name := range []string{"iv", "tag"} {
				if _, ok := d.ProtectedHeader[name].(string); !ok {
					t.Errorf("%s %q: jose saw no %q header for %s", v.KID, v.Binding, name, v.Alg)
				}
				want[name] = d.ProtectedHeader[name]
			}
		}
		if len(d.ProtectedHeader) != len(want) {
			t.Errorf("%s %q: jose saw header %v, want exactly %v", v.KID, v.Binding, d.ProtectedHeader, want)
		}
		for name, value := range want {
			if d.ProtectedHeader[name] != value {
				t.Errorf("%s %q: jose saw %s = %v, want %v", v.KID, v.Binding, name, d.ProtectedHeader[name], value)
			}
		}
	}
}
