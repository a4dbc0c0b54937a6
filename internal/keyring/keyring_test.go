package keyring_test

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

func TestMovedCiphertextRefused(t *testing.T) {
	ring := designKeyring(t)
	for _, primary := range []string{dirKID, gcmkwKID} {
		t.Run(primary, func(t *testing.T) {
			ring := ring
			if primary == gcmkwKID {
				keys, err := keyring.ParseRootKeys(designKeysJSON(t))
				if err != nil {
					t.Fatal(err)
				}
				ring = keyringWith(t, keys[1])
			}
			written := keyring.SecretBinding("prod", "db-password", 1)
			token := encrypt(t, ring, "hunter2", written)

			for _, other := range []keyring.Binding{
				keyring.SecretBinding("prod", "api-token", 1),
				keyring.SecretBinding("staging", "db-password", 1),
				keyring.DataKeyBinding(primary, "active", 1),
				"",
			} {
				d, err := ring.Decrypt(token, other)
				mismatch := requireAs[*keyring.BindingMismatchError](t, err)
				if mismatch.Got != written || mismatch.Want != other {
					t.Errorf("BindingMismatchError{Want %q, Got %q}, want {%q, %q}", mismatch.Want, mismatch.Got, other, written)
				}
				requireMentions(t, err, string(written), "copied or moved")
				if d.Plaintext != nil {
					t.Errorf("refused ciphertext still returned plaintext %q", d.Plaintext)
				}
			}
			if d, err := ring.Decrypt(token, written); err != nil || string(d.Plaintext) != "hunter2" {
				t.Errorf("in its own row: %q, %v", d.Plaintext, err)
			}
		})
	}
}

func TestUnboundCiphertextDecryptsAsUnbound(t *testing.T) {
	ring := designKeyring(t)
	token := encrypt(t, ring, "from another tool", "")
	if h, err := keyring.ParseHeader(token); err != nil || h.Binding != "" {
		t.Fatalf("header %+v, %v: want no binding", h, err)
	}
	for _, row := range []keyring.Binding{keyring.SecretBinding("demo", "a", 1), keyring.SecretBinding("demo", "b", 1)} {
		d, err := ring.Decrypt(token, row)
		if err != nil {
			t.Fatal(err)
		}
		if d.Bound || string(d.Plaintext) != "from another tool" || d.KID != dirKID {
			t.Errorf("Decrypt = %+v, want unbound plaintext under %s", d, dirKID)
		}
		if !ring.NeedsReencrypt(d.KID, d.Versioned) {
			t.Error("an unbound ciphertext must be marked for re-encryption, which binds it")
		}
	}
}

func TestCiphertextUnderOlderRootKeyStillDecrypts(t *testing.T) {
	keys, err := keyring.ParseRootKeys(designKeysJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	old := keyringWith(t, keys[1])
	binding := keyring.SecretBinding("demo", "rotated", 1)
	token := encrypt(t, old, "before rotation", binding)

	rotated := designKeyring(t) // dir key first, the old key second
	d, err := rotated.Decrypt(token, binding)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Plaintext) != "before rotation" || d.KID != gcmkwKID {
		t.Errorf("Decrypt = %q under %q", d.Plaintext, d.KID)
	}
	if !rotated.NeedsReencrypt(d.KID, d.Versioned) {
		t.Error("a ciphertext under a non-primary key must be marked for re-encryption")
	}
	if rotated.NeedsReencrypt(dirKID, true) {
		t.Error("a bound ciphertext under the primary key needs no re-encryption")
	}
}

// flipByte returns token with one byte of part (0 header … 4 tag) inverted.
func flipByte(t testing.TB, token string, part, index int) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw := unb64(t, parts[part])
	raw[index] ^= 0xff
	parts[part] = b64(raw)
	return strings.Join(parts, ".")
}

func TestTamperedCiphertextRefused(t *testing.T) {
	binding := keyring.SecretBinding("demo", "db-password", 1)
	rings := map[string]*keyring.Keyring{"dir": designKeyring(t)}
	for _, alg := range []string{"A256GCMKW", "A128KW"} {
		rings[alg] = keyringWith(t, generate(t, "260101-"+alg[:4], alg, "A128CBC-HS256"))
	}
	parts := []string{"protected header", "encrypted key", "iv", "ciphertext", "tag"}
	for name, ring := range rings {
		token := encrypt(t, ring, "hunter2 and a few more bytes", binding)
		kid := ring.Primary().KID
		for part := 1; part < 5; part++ {
			n := len(unb64(t, strings.Split(token, ".")[part]))
			for i := range n {
				_, err := ring.Decrypt(flipByte(t, token, part, i), binding)
				tampered := requireAs[*keyring.TamperedError](t, err)
				if tampered.KID != kid {
					t.Errorf("%s: TamperedError.KID = %q, want %q", name, tampered.KID, kid)
				}
				if i == 0 {
					requireMentions(t, err, kid, "failed authentication", "altered")
				}
			}
			if n == 0 && part != 1 {
				t.Errorf("%s: %s is empty", name, parts[part])
			}
		}
	}
}

// TestFlippedHeaderByteRefused inverts each byte of the protected header in
// turn. Whatever the header then says, the result is a typed error, never a
// panic, never plaintext.
func TestFlippedHeaderByteRefused(t *testing.T) {
	ring := designKeyring(t)
	keys, err := keyring.ParseRootKeys(designKeysJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	binding := keyring.SecretBinding("demo", "db-password", 1)
	for _, token := range []string{
		encrypt(t, ring, "hunter2", binding),
		encrypt(t, keyringWith(t, keys[1]), "hunter2", binding), // A256GCMKW: iv and tag in the header too
	} {
		if _, err := ring.Decrypt(token, binding); err != nil {
			t.Fatalf("unflipped: %v", err)
		}
		n := len(unb64(t, strings.Split(token, ".")[0]))
		for i := range n {
			d, err := ring.Decrypt(flipByte(t, token, 0, i), binding)
			if err == nil {
				t.Fatalf("header byte %d flipped: decrypted to %q", i, d.Plaintext)
			}
			if !isKeyringError(err) {
				t.Errorf("header byte %d flipped: untyped error %q (%T)", i, err, err)
			}
			var mismatch *keyring.BindingMismatchError
			if errors.As(err, &mismatch) {
				t.Errorf("header byte %d flipped: reported as a moved ciphertext, but it is not authentic: %v", i, err)
			}
		}
	}
}

func TestEditedBindingDetected(t *testing.T) {
	ring := designKeyring(t)
	token := encrypt(t, ring, "hunter2", keyring.SecretBinding("demo", "a", 1))
	parts := strings.Split(token, ".")
	header := string(unb64(t, parts[0]))
	edited := strings.Replace(header, "secret:demo/a", "secret:demo/b", 1)
	if edited == header {
		t.Fatalf("binding not found in header %s", header)
	}
	parts[0] = b64([]byte(edited))
	// Someone moved the row and rewrote the binding to match: the header is
	// authenticated, so it is caught as tampering.
	_, err := ring.Decrypt(strings.Join(parts, "."), keyring.SecretBinding("demo", "b", 1))
	requireAs[*keyring.TamperedError](t, err)
	requireMentions(t, err, dirKID)
}

// nonCanonical flips the unused low bits of a base64url text's last
// character, which lenient decoders ignore.
func nonCanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last|1])
}

func TestMalformedCiphertextIsCorrupt(t *testing.T) {
	ring := designKeyring(t)
	binding := keyring.SecretBinding("demo", "x", 1)
	good := encrypt(t, ring, "hunter2", binding)
	parts := strings.Split(good, ".")
	header := func(h string) string { return b64([]byte(h)) + "." + strings.Join(parts[1:], ".") }
	cases := map[string]struct{ token, want string }{
		"empty":                {"", "not a compact JWE"},
		"plain text":           {"hunter2", "not a compact JWE (1 parts, want 5)"},
		"a JWS":                {"eyJhbGciOiJIUzI1NiJ9.e30.c2ln", "3 parts"},
		"six parts":            {good + ".x", "6 parts"},
		"header not base64url": {"!!!" + good[3:], "not base64url"},
		"header not JSON":      {header("not json"), "not a JSON object"},
		"header an array":      {header(`["alg","dir"]`), "not a JSON object"},
		"kid a number":         {header(`{"alg":"dir","enc":"A256GCM","kid":7}`), `"kid" is not a string`},
		"binding a number":     {header(`{"alg":"dir","enc":"A256GCM","kid":"` + dirKID + `","pgsecrets_bind":1}`), "binding header"},
		"binding empty":        {header(`{"alg":"dir","enc":"A256GCM","kid":"` + dirKID + `","pgsecrets_bind":""}`), "binding header"},
		"iv not base64url":     {strings.Join([]string{parts[0], parts[1], "@@", parts[3], parts[4]}, "."), "initialization vector"},
		"standard base64 tag":  {strings.Join(parts[:4], ".") + ".ab+/", "authentication tag"},
		"key in dir token":     {strings.Join([]string{parts[0], "AAAA", parts[2], parts[3], parts[4]}, "."), "takes no encrypted key"},
		"crit header":          {header(`{"alg":"dir","enc":"A256GCM","kid":"` + dirKID + `","crit":["exp"],"exp":1}`), `"crit"`},
		// The IV and tag have fixed sizes for AES-GCM.
		"tag cut short": {strings.Join(parts[:4], ".") + "." + parts[4][:8], "authentication tag is not 16"},
		"no tag":        {strings.Join(parts[:4], ".") + ".", "authentication tag is not 16"},
		"iv cut short":  {strings.Join([]string{parts[0], parts[1], parts[2][:4], parts[3], parts[4]}, "."), "initialization vector is not 12"},
		// A rewritten header fails authentication: it is the AAD.
		"another kid's header": {header(`{"alg":"dir","enc":"A256GCM","kid":"` + dirKID + `","x":1}`), ""},
		// Two members of one name could read differently in two libraries.
		"duplicate kid":     {header(`{"alg":"dir","enc":"A256GCM","kid":"` + dirKID + `","kid":"` + dirKID + `"}`), "duplicate members"},
		"duplicate binding": {header(`{"alg":"dir","enc":"A256GCM","kid":"` + dirKID + `","pgsecrets_bind":"secret:demo/x#1","pgsecrets_bind":"secret:demo/y#1"}`), "duplicate members"},
		// One spelling per token: no padding, no line breaks, canonical bits.
		"padded tag":         {good + "==", "authentication tag is not base64url"},
		"line break in body": {strings.Join([]string{parts[0], parts[1], parts[2], parts[3][:2] + "\r\n" + parts[3][2:], parts[4]}, "."), "ciphertext is not base64url"},
		"non-canonical tag":  {strings.Join(parts[:4], ".") + "." + nonCanonical(parts[4]), "non-canonical"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			d, err := ring.Decrypt(c.token, binding)
			if err == nil {
				t.Fatalf("decrypted to %q", d.Plaintext)
			}
			if c.want == "" {
				requireAs[*keyring.TamperedError](t, err)
				requireMentions(t, err, dirKID)
				return
			}
			requireAs[*keyring.CorruptError](t, err)
			requireMentions(t, err, "corrupt", c.want)
		})
	}
}

func TestUnknownKIDNamed(t *testing.T) {
	stranger := keyringWith(t, generate(t, "990101-Gone", "dir", "A256GCM"))
	token := encrypt(t, stranger, "from another deployment", keyring.SecretBinding("demo", "x", 1))
	_, err := designKeyring(t).Decrypt(token, keyring.SecretBinding("demo", "x", 1))
	unknown := requireAs[*keyring.UnknownKIDError](t, err)
	if unknown.KID != "990101-Gone" {
		t.Errorf("UnknownKIDError.KID = %q", unknown.KID)
	}
	requireMentions(t, err, `"990101-Gone"`, "not in the keyring")

	k := unb64(t, dirK)
	_, err = designKeyring(t).Decrypt(sealDirA256GCM(t, k, `{"alg":"dir","enc":"A256GCM"}`, []byte("x")), "")
	requireAs[*keyring.UnknownKIDError](t, err)
	requireMentions(t, err, "kid header missing")
}

func TestSameKIDWithAnotherKeyIsTampered(t *testing.T) {
	impostor := keyringWith(t, generate(t, dirKID, "dir", "A256GCM"))
	token := encrypt(t, impostor, "not yours", keyring.SecretBinding("demo", "x", 1))
	_, err := designKeyring(t).Decrypt(token, keyring.SecretBinding("demo", "x", 1))
	requireAs[*keyring.TamperedError](t, err)
	requireMentions(t, err, dirKID, "different key that has the same kid")
}

func TestAlgorithmMismatchRefused(t *testing.T) {
	ring := designKeyring(t)
	binding := keyring.SecretBinding("demo", "x", 1)
	cases := []struct{ kid, alg, enc string }{
		{dirKID, "A256KW", "A256GCM"},    // same size of key, other alg
		{dirKID, "A256GCMKW", "A256GCM"}, // the other root key's alg
		{dirKID, "dir", "A128GCM"},       // same alg, other enc
		{gcmkwKID, "dir", "A256GCM"},
		{gcmkwKID, "A256GCMKW", "A256CBC-HS512"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s as %s/%s", c.kid, c.alg, c.enc), func(t *testing.T) {
			token := encrypt(t, keyringWith(t, generate(t, c.kid, c.alg, c.enc)), "confused", binding)
			_, err := ring.Decrypt(token, binding)
			mismatch := requireAs[*keyring.AlgorithmMismatchError](t, err)
			if mismatch.KID != c.kid || mismatch.TokenAlg != c.alg || mismatch.TokenEnc != c.enc {
				t.Errorf("AlgorithmMismatchError = %+v", mismatch)
			}
			requireMentions(t, err, c.kid, c.alg, c.enc, "refused")
		})
	}
}

func TestCompressedCiphertextRefused(t *testing.T) {
	opts := (&jose.EncrypterOptions{Compression: jose.DEFLATE}).WithHeader(keyring.BindingHeader, "secret:demo/zipped")
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.DIRECT, Key: unb64(t, dirK), KeyID: dirKID}, opts)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := enc.Encrypt([]byte(strings.Repeat("compress me ", 100)))
	if err != nil {
		t.Fatal(err)
	}
	token, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	_, err = designKeyring(t).Decrypt(token, "secret:demo/zipped")
	compressed := requireAs[*keyring.CompressedError](t, err)
	if compressed.Zip != "DEF" {
		t.Errorf("CompressedError.Zip = %q", compressed.Zip)
	}
	requireMentions(t, err, "compressed", `"DEF"`, "refused")

	// An empty zip is still a zip header.
	k := unb64(t, dirK)
	_, err = designKeyring(t).Decrypt(sealDirA256GCM(t, k, `{"alg":"dir","enc":"A256GCM","kid":"`+dirKID+`","zip":""}`, []byte("x")), "")
	requireAs[*keyring.CompressedError](t, err)
}

// TestHeaderNamesAreCaseSensitive guards against reading a header that other
// JOSE libraries do not see: JOSE names are case-sensitive, and go-jose and
// Node's jose read only "kid", "zip", "pgsecrets_bind" exactly.
func TestHeaderNamesAreCaseSensitive(t *testing.T) {
	ring := designKeyring(t)
	k := unb64(t, dirK)
	head := `"alg":"dir","enc":"A256GCM","kid":"` + dirKID + `"`

	// Two bindings that differ only in case: the real one is the lower-case
	// one, which every other JOSE library reports.
	token := sealDirA256GCM(t, k, `{`+head+`,"pgsecrets_bind":"secret:demo/a","PGSECRETS_BIND":"secret:demo/b"}`, []byte("a's value"))
	if d, err := ring.Decrypt(token, keyring.SecretBinding("demo", "a", 1)); err != nil || string(d.Plaintext) != "a's value" {
		t.Errorf("in its own row: %q, %v", d.Plaintext, err)
	}
	_, err := ring.Decrypt(token, keyring.SecretBinding("demo", "b", 1))
	requireAs[*keyring.BindingMismatchError](t, err)

	// An upper-case ZIP must not hide the real zip header.
	var deflated bytes.Buffer
	w, _ := flate.NewWriter(&deflated, flate.BestCompression)
	_, _ = w.Write([]byte(strings.Repeat("A", 1000)))
	_ = w.Close()
	token = sealDirA256GCM(t, k, `{`+head+`,"zip":"DEF","ZIP":null}`, deflated.Bytes())
	_, err = ring.Decrypt(token, "")
	requireAs[*keyring.CompressedError](t, err)

	// "Kid" is not "kid".
	token = sealDirA256GCM(t, k, `{"alg":"dir","enc":"A256GCM","Kid":"`+dirKID+`"}`, []byte("x"))
	_, err = ring.Decrypt(token, "")
	requireAs[*keyring.UnknownKIDError](t, err)
}

func TestHandSealedCiphertextDecrypts(t *testing.T) {
	// A token written without go-jose, as any JOSE library would write it.
	token := sealDirA256GCM(t, unb64(t, dirK), `{"alg":"dir","enc":"A256GCM","kid":"`+dirKID+`","pgsecrets_bind":"secret:demo/hand"}`, []byte("by hand"))
	d, err := designKeyring(t).Decrypt(token, keyring.SecretBinding("demo", "hand", 1))
	if err != nil || string(d.Plaintext) != "by hand" || !d.Bound {
		t.Errorf("Decrypt = %+v, %v", d, err)
	}
}

func TestAuditKeyIsDerivedPerRootKey(t *testing.T) {
	ring := designKeyring(t)
	first, err := ring.LegacyAuditKey(dirKID)
	if err != nil {
		t.Fatal(err)
	}
	again, err := designKeyring(t).LegacyAuditKey(dirKID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Error("AuditKey differs between two loads of the same root keys; the audit chain would break on restart")
	}
	other, err := ring.LegacyAuditKey(gcmkwKID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(first, other) {
		t.Error("two root keys give the same audit key")
	}
	for kid, k := range map[string]string{dirKID: dirK, gcmkwKID: gcmkwK} {
		audit, _ := ring.LegacyAuditKey(kid)
		raw := unb64(t, k)
		if len(audit) != 32 || bytes.Equal(audit, raw) || bytes.Contains(audit, raw[:8]) {
			t.Errorf("LegacyAuditKey(%s) = %x: want 32 bytes derived from, not equal to, k", kid, audit)
		}
	}

	_, err = ring.LegacyAuditKey("990101-Gone")
	requireAs[*keyring.UnknownKIDError](t, err)
	requireMentions(t, err, "990101-Gone")
	// Only root keys key the audit chain: a data key lives in the database.
	if err := ring.AddDataKey(generate(t, "260101-Data", "dir", "A256GCM"), true); err != nil {
		t.Fatal(err)
	}
	_, err = ring.LegacyAuditKey("260101-Data")
	requireAs[*keyring.UnknownKIDError](t, err)
}
