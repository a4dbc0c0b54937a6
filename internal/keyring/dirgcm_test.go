package keyring

import (
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// The direct dir/AES-GCM path and go-jose must read each other's tokens,
// for every GCM size.
func TestDirGCMPathAndGoJoseAgree(t *testing.T) {
	for _, enc := range []string{"A128GCM", "A192GCM", "A256GCM"} {
		key, err := Generate("k-"+enc, "dir", enc)
		if err != nil {
			t.Fatal(err)
		}
		binding := SecretBinding("p", "n")

		fast, err := encryptDirGCM(key, []byte("from the direct path"), binding)
		if err != nil {
			t.Fatal(err)
		}
		obj, err := jose.ParseEncryptedCompact(fast, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.ContentEncryption(enc)})
		if err != nil {
			t.Fatalf("%s: go-jose cannot parse the direct path's token: %v", enc, err)
		}
		plain, err := obj.Decrypt(key.k)
		if err != nil || string(plain) != "from the direct path" {
			t.Fatalf("%s: go-jose decrypt = %q, %v", enc, plain, err)
		}
		if obj.Header.KeyID != key.KID || obj.Header.ExtraHeaders[BindingHeader] != string(binding) {
			t.Fatalf("%s: go-jose read header %+v", enc, obj.Header)
		}

		e, err := jose.NewEncrypter(jose.ContentEncryption(enc), jose.Recipient{Algorithm: jose.DIRECT, Key: key.k, KeyID: key.KID},
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
		h, err := ParseHeader(token)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decryptDirGCM(key, token, h)
		if err != nil || string(got) != "from go-jose" {
			t.Fatalf("%s: direct path decrypt of go-jose's token = %q, %v", enc, got, err)
		}
	}
}
