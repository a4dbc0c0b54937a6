package keyring_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// FuzzParseRootKeys: any input either loads keys that are all valid and
// usable, or gives an error that does not repeat a key's k.
func FuzzParseRootKeys(f *testing.F) {
	design := designKeysJSON(f)
	f.Add(design)
	f.Add([]byte(`{"keys": ` + string(design) + `}`))
	// A few of the fixed keys, for the other algorithms; all 42 would make
	// every minimisation slow.
	var fixed []json.RawMessage
	if err := json.Unmarshal(fixedKeysJSON(f), &fixed); err != nil {
		f.Fatal(err)
	}
	mixed, _ := json.Marshal([]json.RawMessage{fixed[5], fixed[10], fixed[41]})
	f.Add(mixed)
	one := `{"kty":"oct","k":"` + dirK + `","kid":"` + dirKID + `","alg":"dir","enc":"A256GCM","use":"enc"}`
	for _, broken := range []string{
		"", " ", "[]", "{}", `{"keys":[]}`, `{"keys":null}`, "null", "[null]", "[[]]", `"x"`, "42",
		"[" + one + "," + one + "]",                             // duplicate kid
		strings.Replace("["+one+"]", `"dir"`, `"A128KW"`, 1),    // k too long for alg
		strings.Replace("["+one+"]", `"A256GCM"`, `"A1GCM"`, 1), // unknown enc
		strings.Replace("["+one+"]", `"enc","use"`, `"enc","use":"sig","x"`, 1),
		strings.Replace("["+one+"]", `"use":"enc"`, `"zip":"DEF"`, 1),
		strings.Replace("["+one+"]", `"kid":"`+dirKID+`",`, ``, 1),
		strings.Replace("["+one+"]", `"oct"`, `"RSA"`, 1),
		strings.Replace("["+one+"]", dirK, dirK+"==", 1),
		strings.Replace("["+one+"]", dirK, "7U6k5S/HXSujMpr2u7YjRkZLQO6LUK2vFYFHVbfNJ+g", 1),
		strings.Replace("["+one+"]", `"k":`, `"K":`, 1),
		"[" + one + "]garbage",
		"[" + one[:40],
		one,
	} {
		f.Add([]byte(broken))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := keyring.ParseRootKeys(data)
		if err != nil {
			if keys != nil {
				t.Fatalf("keys returned beside error %v", err)
			}
			for _, k := range distinctiveKValues(data) {
				if strings.Contains(err.Error(), k) {
					t.Fatalf("error %q repeats k %q", err, k)
				}
			}
			return
		}
		if len(keys) == 0 {
			t.Fatal("no error and no keys")
		}
		seen := map[string]bool{}
		for i, key := range keys {
			if key.KID == "" || seen[key.KID] {
				t.Fatalf("key #%d: kid %q empty or repeated", i+1, key.KID)
			}
			seen[key.KID] = true
			size, err := keyring.KeySize(key.Alg, key.Enc)
			if err != nil {
				t.Fatalf("loaded key %v: %v", key, err)
			}
			jwkJSON, err := key.ExportJWK()
			if err != nil {
				t.Fatal(err)
			}
			var wire struct{ K string }
			if err := json.Unmarshal(jwkJSON, &wire); err != nil {
				t.Fatal(err)
			}
			if k, _ := base64.RawURLEncoding.DecodeString(wire.K); len(k) != size {
				t.Fatalf("loaded key %v has %d bytes, needs %d", key, len(k), size)
			}
			// The kid is public and printed; it may happen to spell k.
			if strings.Contains(strings.Replace(key.String(), key.KID, "", 1), wire.K) {
				t.Fatalf("String() %q shows k", key.String())
			}
			if i >= 4 {
				continue // enough to show loaded keys work; inputs may hold thousands
			}
			ring, err := keyring.New([]*keyring.Key{key})
			if err != nil {
				t.Fatal(err)
			}
			token, _, err := ring.Encrypt([]byte("fuzz"), "secret:fuzz/x")
			if err != nil {
				t.Fatalf("loaded key %v cannot encrypt: %v", key, err)
			}
			if d, err := ring.Decrypt(token, "secret:fuzz/x"); err != nil || string(d.Plaintext) != "fuzz" {
				t.Fatalf("loaded key %v cannot decrypt its own token: %v", key, err)
			}
		}
		if _, err := keyring.Load(data); err != nil {
			t.Fatalf("ParseRootKeys accepted what Load refuses: %v", err)
		}
	})
}

// distinctiveKValues finds the k values in data that an error message could
// only contain by quoting them: base64url text of at least 16 characters
// that appears in no other string of the input (kid, alg, member names…).
func distinctiveKValues(data []byte) []string {
	var doc any
	// Trimmed as ParseRootKeys trims, which takes more than JSON's whitespace.
	if json.Unmarshal(bytes.TrimSpace(data), &doc) != nil {
		// Unparseable input: errors give only a byte offset, and a k cannot
		// be told apart from other text. Take every quoted run.
		var out []string
		for i, s := range strings.Split(string(data), `"`) {
			if i%2 == 1 && isBase64urlText(s) && len(s) >= 16 {
				out = append(out, s)
			}
		}
		return out
	}
	var ks, others []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for name, e := range v {
				others = append(others, name, strconv.Quote(name))
				if s, ok := e.(string); ok && strings.EqualFold(name, "k") {
					ks = append(ks, s)
					continue
				}
				walk(e)
			}
		case string:
			// Messages quote values with %q, whose escapes spell new text.
			others = append(others, v, strconv.Quote(v))
		}
	}
	walk(doc)
	var out []string
	for _, k := range ks {
		if len(k) < 16 || !isBase64urlText(k) {
			continue
		}
		elsewhere := false
		for _, o := range others {
			elsewhere = elsewhere || strings.Contains(o, k)
		}
		for _, o := range ks {
			elsewhere = elsewhere || (o != k && strings.Contains(o, k))
		}
		if !elsewhere {
			out = append(out, k)
		}
	}
	return out
}

func isBase64urlText(s string) bool {
	return strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == ""
}

// sealedVector is a ciphertext known to be authentic, and what it holds.
type sealedVector struct {
	joseVector
	bound bool
}

// knownCiphertexts are the authentic tokens under testdata, keyed by the
// bytes of their five parts. They come from files, not from encrypting
// here, so that every fuzzing worker process knows the same tokens.
func knownCiphertexts(t testing.TB) map[[5]string]sealedVector {
	t.Helper()
	known := map[[5]string]sealedVector{}
	for _, file := range []string{storedCiphertextsFile, "testdata/jose/from-jose.json", "testdata/jose/from-pgsecrets.json"} {
		for _, v := range readJSONFile[[]joseVector](t, file) {
			parts, ok := decodedParts(v.JWE)
			if !ok {
				t.Fatalf("%s: unreadable token %q", file, v.JWE)
			}
			known[parts] = sealedVector{joseVector: v, bound: v.Binding != ""}
		}
	}
	return known
}

// decodedParts is a token's five parts decoded: two tokens that differ
// only in base64url spelling (unused trailing bits, line breaks, which the
// decoder ignores) are the same token.
func decodedParts(token string) (parts [5]string, ok bool) {
	split := strings.Split(token, ".")
	if len(split) != 5 {
		return parts, false
	}
	for i, p := range split {
		raw, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			return parts, false
		}
		parts[i] = string(raw)
	}
	return parts, true
}

// FuzzDecrypt: Decrypt never panics, refuses with a typed error, and
// succeeds only for an authentic token in its own row, giving exactly the
// plaintext that was sealed.
func FuzzDecrypt(f *testing.F) {
	ring := fixedKeyring(f)
	known := knownCiphertexts(f)
	for _, v := range known {
		tok := v.JWE
		f.Add(tok, string(v.Binding))
		f.Add(tok, "secret:demo/elsewhere")
		parts := strings.Split(tok, ".")
		for i := range parts {
			if raw, err := base64.RawURLEncoding.DecodeString(parts[i]); err == nil && len(raw) > 0 {
				raw[len(raw)/2] ^= 0x01
				mutated := append([]string(nil), parts...)
				mutated[i] = base64.RawURLEncoding.EncodeToString(raw)
				f.Add(strings.Join(mutated, "."), string(v.Binding))
			}
		}
		f.Add(tok[:len(tok)-3], string(v.Binding))
		f.Add(strings.Replace(tok, ".", "..", 1), string(v.Binding))
		// An encrypted key where there is none (dir) or another one.
		f.Add(strings.Join([]string{parts[0], "AAAA", parts[2], parts[3], parts[4]}, "."), string(v.Binding))
		// The same bytes spelled otherwise: the base64url decoder skips line breaks.
		f.Add(strings.Join([]string{parts[0], parts[1], parts[2][:2] + "\n" + parts[2][2:], parts[3], parts[4]}, "."), string(v.Binding))
	}
	// Splice: one token's header on another's body.
	var tokens []string
	for _, v := range known {
		tokens = append(tokens, v.JWE)
	}
	for i := 0; i+1 < len(tokens); i += 7 {
		a, b := strings.SplitN(tokens[i], ".", 2), strings.SplitN(tokens[i+1], ".", 2)
		f.Add(a[0]+"."+b[1], "")
	}
	f.Add("", "")
	f.Add("....", "")
	f.Add("e30....", "")
	f.Add(b64([]byte(`{"alg":"dir","enc":"A256GCM","kid":"`+dirKID+`","zip":"DEF"}`))+"....", "")

	f.Fuzz(func(t *testing.T, token, binding string) {
		d, err := ring.Decrypt(token, keyring.Binding(binding))
		parts, readable := decodedParts(token)
		v, isKnown := known[parts]
		isKnown = isKnown && readable
		inItsRow := isKnown && (!v.bound || binding == string(v.Binding))

		if err != nil {
			if d.Plaintext != nil {
				t.Fatalf("plaintext %q returned beside error %v", d.Plaintext, err)
			}
			if !isKeyringError(err) {
				t.Fatalf("untyped error %q (%T)", err, err)
			}
			if isKnown && token == v.JWE {
				if inItsRow {
					t.Fatalf("authentic token refused in its own row: %v", err)
				}
				requireAs[*keyring.BindingMismatchError](t, err)
			}
			return
		}
		if !isKnown {
			t.Fatalf("decrypted a token that was never sealed: %q → %q", token, d.Plaintext)
		}
		if !inItsRow {
			t.Fatalf("token bound to %q decrypted for row %q", v.Binding, binding)
		}
		if !bytes.Equal(d.Plaintext, []byte(v.Plaintext)) || d.KID != v.KID || d.Bound != v.bound {
			t.Fatalf("decrypted %q kid %q bound %v; sealed %q kid %q bound %v", d.Plaintext, d.KID, d.Bound, v.Plaintext, v.KID, v.bound)
		}
	})
}
