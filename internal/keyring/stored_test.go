package keyring_test

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

var updateStored = flag.Bool("update-stored", false, "rewrite testdata/stored-ciphertexts.json")

const storedCiphertextsFile = "testdata/stored-ciphertexts.json"

// fixedKeysJSON is a root key for every supported alg/enc pair, with k
// derived from the kid so that stored ciphertexts keep opening. Test keys
// only: they are public.
func fixedKeysJSON(t testing.TB) []byte {
	t.Helper()
	var jwks []map[string]string
	for _, alg := range keyring.Algorithms() {
		for _, enc := range keyring.Encryptions() {
			kid := "fx-" + alg + "-" + enc
			size, err := keyring.KeySize(alg, enc)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha512.Sum512([]byte("pgsecrets keyring test key " + kid))
			jwks = append(jwks, map[string]string{
				"kty": "oct", "kid": kid, "alg": alg, "enc": enc, "use": "enc",
				"k": base64.RawURLEncoding.EncodeToString(sum[:size]),
			})
		}
	}
	data, err := json.Marshal(jwks)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fixedKeyring holds the DESIGN.md keys and the fixed keys, so it opens
// every ciphertext under testdata.
func fixedKeyring(t testing.TB) *keyring.Keyring {
	t.Helper()
	design, err := keyring.ParseRootKeys(designKeysJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	fixed, err := keyring.ParseRootKeys(fixedKeysJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keyring.New(append(design, fixed...))
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

// TestStoredCiphertextsStillDecrypt opens ciphertexts written by an earlier
// build, one per alg/enc pair: a change in how tokens are read must not
// strand values already in a database. Rewrite the file only on purpose:
//
//	go test ./internal/keyring -run TestStoredCiphertextsStillDecrypt -update-stored
func TestStoredCiphertextsStillDecrypt(t *testing.T) {
	if *updateStored {
		writeStoredCiphertexts(t)
	}
	ring := fixedKeyring(t)
	vectors := readJSONFile[[]joseVector](t, storedCiphertextsFile)
	if len(vectors) != 42 {
		t.Errorf("%d stored ciphertexts, want one per alg/enc pair (42)", len(vectors))
	}
	for _, v := range vectors {
		d, err := ring.Decrypt(v.JWE, v.Binding)
		if err != nil {
			t.Errorf("%s: %v", v.KID, err)
			continue
		}
		if string(d.Plaintext) != v.Plaintext || d.KID != v.KID || !d.Bound {
			t.Errorf("%s: decrypted %q kid %q bound %v", v.KID, d.Plaintext, d.KID, d.Bound)
		}
	}
}

func writeStoredCiphertexts(t *testing.T) {
	keys, err := keyring.ParseRootKeys(fixedKeysJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	var vectors []joseVector
	for _, key := range keys {
		binding := keyring.SecretBinding("stored", key.Alg+"-"+key.Enc, 1)
		plaintext := "stored under " + key.Alg + "/" + key.Enc
		token := encrypt(t, keyringWith(t, key), plaintext, binding)
		vectors = append(vectors, joseVector{KID: key.KID, Alg: key.Alg, Enc: key.Enc, Binding: binding, Plaintext: plaintext, JWE: token})
	}
	data, err := json.MarshalIndent(vectors, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(storedCiphertextsFile, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", storedCiphertextsFile)
}
