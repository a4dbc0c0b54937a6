package keyring

import (
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// The direct AES-GCM paths and go-jose must read each other's tokens, for
// every key size they cover.
func TestDirectGCMPathsAndGoJoseAgree(t *testing.T) {
	for _, alg := range []string{"dir", "A128GCMKW", "A192GCMKW", "A256GCMKW"} {
		for _, enc := range []string{"A128GCM", "A192GCM", "A256GCM"} {
			key, err := Generate("k-"+alg+"-"+enc, alg, enc)
			if err != nil {
				t.Fatal(err)
			}
			if !isDirGCM(key) && !isGCMKWGCM(key) {
				t.Fatalf("%s/%s does not take a direct path", alg, enc)
			}
			binding := SecretBinding("p", "n", 1)

			direct, err := encrypt(key, []byte("from the direct path"), binding)
			if err != nil {
				t.Fatal(err)
			}
			obj, err := jose.ParseEncryptedCompact(direct, []jose.KeyAlgorithm{jose.KeyAlgorithm(alg)}, []jose.ContentEncryption{jose.ContentEncryption(enc)})
			if err != nil {
				t.Fatalf("%s/%s: go-jose cannot parse the direct path's token: %v", alg, enc, err)
			}
			plain, err := obj.Decrypt(key.k)
			if err != nil || string(plain) != "from the direct path" {
				t.Fatalf("%s/%s: go-jose decrypt = %q, %v", alg, enc, plain, err)
			}
			if obj.Header.KeyID != key.KID || obj.Header.ExtraHeaders[BindingHeader] != string(binding) {
				t.Fatalf("%s/%s: go-jose read header %+v", alg, enc, obj.Header)
			}

			e, err := jose.NewEncrypter(jose.ContentEncryption(enc), jose.Recipient{Algorithm: jose.KeyAlgorithm(alg), Key: key.k, KeyID: key.KID},
				(&jose.EncrypterOptions{}).WithHeader(BindingHeader, string(binding)))
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := e.Encrypt([]byte("from go-jose"))
			if err != nil {
				t.Fatal(err)
			}
			token, err := sealed.CompactSerialize()
			if err != nil {
				t.Fatal(err)
			}
			h, wrap, err := parseHeader(token)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decrypt(key, token, h, wrap)
			if err != nil || string(got) != "from go-jose" {
				t.Fatalf("%s/%s: direct path decrypt of go-jose's token = %q, %v", alg, enc, got, err)
			}
		}
	}
}
