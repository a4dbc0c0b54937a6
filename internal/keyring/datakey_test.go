package keyring_test

import (
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

func TestDataKeyWrapUnwrapRoundTrip(t *testing.T) {
	ring := designKeyring(t)
	for _, alg := range []string{"dir", "A256KW", "A128GCMKW"} {
		t.Run(alg, func(t *testing.T) {
			dataKey := generate(t, "", alg, "A256CBC-HS512")
			wrapped, wrappingKID, err := ring.WrapDataKey(dataKey, "active", 1)
			if err != nil {
				t.Fatal(err)
			}
			if wrappingKID != dirKID {
				t.Errorf("wrapped under %q, want the first root key %q", wrappingKID, dirKID)
			}
			h, err := keyring.ParseHeader(wrapped)
			if err != nil {
				t.Fatal(err)
			}
			if h.KID != dirKID || h.Binding != keyring.DataKeyBinding(dataKey.KID, "active", 1) {
				t.Errorf("wrapped header = %+v, want kid %s bound to datakey:%s", h, dirKID, dataKey.KID)
			}

			unwrapped, d, err := ring.UnwrapDataKey(dataKey.KID, "active", 1, wrapped)
			if err != nil {
				t.Fatal(err)
			}
			if d.Plaintext != nil {
				t.Error("UnwrapDataKey returned the key's JWK as plaintext; it must only return the Key")
			}
			if d.KID != dirKID || !d.Bound {
				t.Errorf("Decrypted = %+v", d)
			}
			if unwrapped.KID != dataKey.KID || unwrapped.Alg != alg || unwrapped.Enc != "A256CBC-HS512" {
				t.Errorf("unwrapped %v, want %v", unwrapped, dataKey)
			}

			// The unwrapped key is the same key: what one encrypts, the other opens.
			binding := keyring.SecretBinding("demo", "enveloped", 1)
			token := encrypt(t, keyringWith(t, dataKey), "under a data key", binding)
			if d, err := keyringWith(t, unwrapped).Decrypt(token, binding); err != nil || string(d.Plaintext) != "under a data key" {
				t.Errorf("unwrapped key cannot decrypt: %q, %v", d.Plaintext, err)
			}
		})
	}
}

func TestWrappedDataKeyMovedToAnotherKIDRefused(t *testing.T) {
	ring := designKeyring(t)
	dataKey := generate(t, "260101-DatA", "dir", "A256GCM")
	wrapped, _, err := ring.WrapDataKey(dataKey, "active", 1)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := ring.UnwrapDataKey("260101-DatB", "active", 1, wrapped)
	if key != nil {
		t.Error("a key was returned despite the error")
	}
	mismatch := requireAs[*keyring.BindingMismatchError](t, err)
	if mismatch.Got != keyring.DataKeyBinding("260101-DatA", "active", 1) {
		t.Errorf("BindingMismatchError.Got = %q", mismatch.Got)
	}
	requireMentions(t, err, "unwrap data key 260101-DatB", "datakey:260101-DatA")
}

// TestUnboundWrappedDataKeyCheckedByItsKID covers a wrapped key written
// without a binding: the kid inside the JWK must still match its row.
func TestUnboundWrappedDataKeyCheckedByItsKID(t *testing.T) {
	ring := designKeyring(t)
	jwkJSON, err := generate(t, "260101-DatA", "dir", "A256GCM").ExportJWK()
	if err != nil {
		t.Fatal(err)
	}
	wrapped := encrypt(t, ring, string(jwkJSON), "")
	if _, d, err := ring.UnwrapDataKey("260101-DatA", "active", 1, wrapped); err != nil || d.Bound {
		t.Errorf("own kid: bound %v, %v; want unbound and unwrapped", d.Bound, err)
	}
	_, _, err = ring.UnwrapDataKey("260101-DatB", "active", 1, wrapped)
	requireMentions(t, err, "260101-DatB", `wrapped key says kid "260101-DatA"`)
}

func TestDataKeyCannotUnwrapAnotherDataKey(t *testing.T) {
	ring := designKeyring(t)
	outer := generate(t, "260101-Outr", "A256KW", "A256GCM")
	if err := ring.AddDataKey(outer, true); err != nil {
		t.Fatal(err)
	}
	inner := generate(t, "260101-Innr", "dir", "A256GCM")
	innerJSON, err := inner.ExportJWK()
	if err != nil {
		t.Fatal(err)
	}
	// Sealed like a wrapped data key, but by the primary data key.
	wrapped := encrypt(t, ring, string(innerJSON), keyring.DataKeyBinding(inner.KID, "active", 1))
	if h, _ := keyring.ParseHeader(wrapped); h.KID != outer.KID {
		t.Fatalf("sealed under %q, want the data key %q", h.KID, outer.KID)
	}
	key, d, err := ring.UnwrapDataKey(inner.KID, "active", 1, wrapped)
	if key != nil || d.Plaintext != nil {
		t.Errorf("unwrapped by a data key: %v, plaintext %q", key, d.Plaintext)
	}
	requireMentions(t, err, "unwrap data key 260101-Innr", `data key "260101-Outr"`, "only root keys")
	if strings.Contains(err.Error(), "add it back") {
		t.Errorf("error %q suggests adding back a key the keyring holds", err)
	}
}

func TestPrimaryDataKeyEncryptsUntilRemoved(t *testing.T) {
	ring := designKeyring(t)
	binding := keyring.SecretBinding("demo", "x", 1)
	kidOf := func(token string) string {
		t.Helper()
		h, err := keyring.ParseHeader(token)
		if err != nil {
			t.Fatal(err)
		}
		return h.KID
	}

	first := generate(t, "260101-Frst", "dir", "A256GCM")
	if err := ring.AddDataKey(first, false); err != nil {
		t.Fatal(err)
	}
	if got := ring.Primary().KID; got != dirKID {
		t.Errorf("a non-primary data key changed the primary to %q", got)
	}
	if err := ring.AddDataKey(first, true); err != nil {
		t.Fatal(err)
	}
	token, kid, err := ring.Encrypt([]byte("enveloped"), binding)
	if err != nil {
		t.Fatal(err)
	}
	if kid != first.KID || kidOf(token) != first.KID || ring.Primary() != first {
		t.Errorf("Encrypt used %q (header %q), want primary data key %q", kid, kidOf(token), first.KID)
	}

	second := generate(t, "260101-Scnd", "A128GCMKW", "A128GCM")
	if err := ring.AddDataKey(second, true); err != nil {
		t.Fatal(err)
	}
	if _, kid, _ := ring.Encrypt([]byte("x"), binding); kid != second.KID {
		t.Errorf("after a new primary, Encrypt used %q, want %q", kid, second.KID)
	}
	if !ring.NeedsReencrypt(first.KID, true) {
		t.Error("a ciphertext under the previous primary must be marked for re-encryption")
	}
	// The previous primary still decrypts what it wrote.
	if d, err := ring.Decrypt(token, binding); err != nil || d.KID != first.KID {
		t.Errorf("old primary's ciphertext: %+v, %v", d, err)
	}
	// Demoting the primary, by adding it again as non-primary, falls back too.
	if err := ring.AddDataKey(second, false); err != nil {
		t.Fatal(err)
	}
	if got := ring.Primary().KID; got != dirKID {
		t.Errorf("after demoting, primary %q, want first root key %q", got, dirKID)
	}

	if err := ring.AddDataKey(second, true); err != nil {
		t.Fatal(err)
	}
	ring.RemoveDataKey(second.KID)
	if _, kid, _ := ring.Encrypt([]byte("x"), binding); kid != dirKID {
		t.Errorf("after removing the primary data key, Encrypt used %q, want first root key %q", kid, dirKID)
	}
	ring.RemoveDataKey(first.KID)
	_, err = ring.Decrypt(token, binding)
	requireAs[*keyring.UnknownKIDError](t, err)
	requireMentions(t, err, first.KID)
}

func TestSetDataKeysReplacesAll(t *testing.T) {
	ring := designKeyring(t)
	a, b := generate(t, "260101-AAAA", "dir", "A256GCM"), generate(t, "260101-BBBB", "dir", "A256GCM")
	if err := ring.AddDataKey(a, true); err != nil {
		t.Fatal(err)
	}
	if err := ring.SetDataKeys([]*keyring.Key{b}, b.KID); err != nil {
		t.Fatal(err)
	}
	if ring.Has(a.KID) || !ring.Has(b.KID) || ring.Primary() != b {
		t.Errorf("after SetDataKeys: has %s %v, has %s %v, primary %v", a.KID, ring.Has(a.KID), b.KID, ring.Has(b.KID), ring.Primary())
	}
	err := ring.SetDataKeys([]*keyring.Key{a}, b.KID)
	requireMentions(t, err, `"260101-BBBB"`, "not among the data keys")
	if ring.Primary() != b {
		t.Error("a refused SetDataKeys changed the keyring")
	}
	if err := ring.SetDataKeys(nil, ""); err != nil {
		t.Fatal(err)
	}
	if ring.Primary().KID != dirKID || ring.Has(b.KID) {
		t.Error("SetDataKeys(nil) should leave only the root keys")
	}
}

func TestDataKeyWithRootKIDRefused(t *testing.T) {
	ring := designKeyring(t)
	clash := generate(t, gcmkwKID, "dir", "A256GCM")
	err := ring.AddDataKey(clash, true)
	requireMentions(t, err, `"`+gcmkwKID+`"`, "root key")
	err = ring.SetDataKeys([]*keyring.Key{clash}, "")
	requireMentions(t, err, `"`+gcmkwKID+`"`, "root key")
	if got := ring.Primary().KID; got != dirKID {
		t.Errorf("primary is %q after a refused data key", got)
	}
	// The root key is still the one that decrypts under that kid.
	keys, err := keyring.ParseRootKeys(designKeysJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	token := encrypt(t, keyringWith(t, keys[1]), "root", "")
	if d, err := ring.Decrypt(token, ""); err != nil || string(d.Plaintext) != "root" {
		t.Errorf("root key ciphertext: %q, %v", d.Plaintext, err)
	}
	if !ring.IsRoot(gcmkwKID) || ring.IsRoot("260101-None") {
		t.Error("IsRoot")
	}
}

func TestDataKeyWrappedUnderOldRootKeyStillUnwraps(t *testing.T) {
	keys, err := keyring.ParseRootKeys(designKeysJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	before := keyringWith(t, keys[1])
	dataKey := generate(t, "260101-DatK", "dir", "A256GCM")
	wrapped, wrappingKID, err := before.WrapDataKey(dataKey, "active", 1)
	if err != nil || wrappingKID != gcmkwKID {
		t.Fatalf("WrapDataKey: %q, %v", wrappingKID, err)
	}
	// After rotation the new root key comes first; the old one still unwraps.
	after := designKeyring(t)
	key, d, err := after.UnwrapDataKey(dataKey.KID, "active", 1, wrapped)
	if err != nil {
		t.Fatal(err)
	}
	if key.KID != dataKey.KID || d.KID != gcmkwKID || !after.NeedsReencrypt(d.KID, d.Versioned) {
		t.Errorf("unwrapped %v via %s; should be marked for rewrapping", key, d.KID)
	}
}
