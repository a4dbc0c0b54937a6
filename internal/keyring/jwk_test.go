package keyring_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

func TestDesignExampleKeysLoadAsArray(t *testing.T) {
	keys, err := keyring.ParseRootKeys(designKeysJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(keys))
	for i, k := range keys {
		got[i] = k.KID + " " + k.Alg + " " + k.Enc
	}
	want := []string{dirKID + " dir A256GCM", gcmkwKID + " A256GCMKW A256GCM"}
	if !slices.Equal(got, want) {
		t.Errorf("keys = %q, want %q (in file order)", got, want)
	}
}

func TestDesignExampleKeysLoadAsJWKSet(t *testing.T) {
	set := []byte(`{"keys": ` + string(designKeysJSON(t)) + `}`)
	ring, err := keyring.Load(set)
	if err != nil {
		t.Fatal(err)
	}
	if got := ring.RootKIDs(); !slices.Equal(got, []string{dirKID, gcmkwKID}) {
		t.Errorf("RootKIDs = %q", got)
	}
	// The set form holds the same keys: a token from the array form opens.
	token := encrypt(t, designKeyring(t), "s3cret", keyring.SecretBinding("demo", "db", 1))
	if _, err := ring.Decrypt(token, keyring.SecretBinding("demo", "db", 1)); err != nil {
		t.Errorf("JWK Set keyring cannot decrypt the array keyring's token: %v", err)
	}
}

func TestDesignExampleKeysEachRoundTrip(t *testing.T) {
	keys, err := keyring.ParseRootKeys(designKeysJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	for i, primary := range keys {
		t.Run(primary.KID, func(t *testing.T) {
			// The first root key encrypts; put this one first.
			order := append([]*keyring.Key{primary}, slices.Delete(slices.Clone(keys), i, i+1)...)
			ring, err := keyring.New(order)
			if err != nil {
				t.Fatal(err)
			}
			binding := keyring.SecretBinding("demo", "db-password", 1)
			token, kid, err := ring.Encrypt([]byte("hunter2"), binding)
			if err != nil {
				t.Fatal(err)
			}
			if kid != primary.KID {
				t.Errorf("Encrypt used kid %q, want %q", kid, primary.KID)
			}
			h, err := keyring.ParseHeader(token)
			if err != nil {
				t.Fatal(err)
			}
			if h != (keyring.Header{Alg: primary.Alg, Enc: primary.Enc, KID: primary.KID, Binding: binding}) {
				t.Errorf("header = %+v", h)
			}
			// The design keyring, whose primary is the dir key, still decrypts.
			d, err := designKeyring(t).Decrypt(token, binding)
			if err != nil {
				t.Fatal(err)
			}
			if string(d.Plaintext) != "hunter2" || d.KID != primary.KID || !d.Bound {
				t.Errorf("Decrypt = %q kid %q bound %v", d.Plaintext, d.KID, d.Bound)
			}
		})
	}
}

func TestEveryAlgAndEncRoundTrips(t *testing.T) {
	if n := len(keyring.Algorithms()) * len(keyring.Encryptions()); n != 42 {
		t.Fatalf("%d alg/enc combinations, want 7 × 6", n)
	}
	for _, alg := range keyring.Algorithms() {
		for _, enc := range keyring.Encryptions() {
			t.Run(alg+"/"+enc, func(t *testing.T) {
				key := generate(t, "", alg, enc)
				size, err := keyring.KeySize(alg, enc)
				if err != nil {
					t.Fatal(err)
				}
				// What `key generate` prints must load back as a root key.
				jwkJSON, err := key.ExportJWK()
				if err != nil {
					t.Fatal(err)
				}
				reloaded, err := keyring.ParseKey(jwkJSON)
				if err != nil {
					t.Fatalf("generated key does not load back: %v", err)
				}
				var wire struct{ K string }
				if err := json.Unmarshal(jwkJSON, &wire); err != nil {
					t.Fatal(err)
				}
				if got := len(unb64(t, wire.K)); got != size {
					t.Errorf("k is %d bytes, want %d", got, size)
				}

				binding := keyring.SecretBinding("demo", "combo", 1)
				token := encrypt(t, keyringWith(t, key), "plaintext for "+alg+"/"+enc, binding)
				d, err := keyringWith(t, reloaded).Decrypt(token, binding)
				if err != nil {
					t.Fatal(err)
				}
				if string(d.Plaintext) != "plaintext for "+alg+"/"+enc || d.KID != key.KID || !d.Bound {
					t.Errorf("Decrypt = %q kid %q bound %v", d.Plaintext, d.KID, d.Bound)
				}
			})
		}
	}
}

// rootKeys renders JWKs as a root key array; fields with value nil are left out.
func rootKeys(t *testing.T, keys ...map[string]any) []byte {
	t.Helper()
	for _, k := range keys {
		for name, v := range k {
			if v == nil {
				delete(k, name)
			}
		}
	}
	data, err := json.Marshal(keys)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// jwkWith is a valid dir/A256GCM JWK with kid and k, with changes applied.
func jwkWith(kid, k string, changes map[string]any) map[string]any {
	m := map[string]any{"kty": "oct", "k": k, "kid": kid, "alg": "dir", "enc": "A256GCM", "use": "enc"}
	for name, v := range changes {
		m[name] = v
	}
	return m
}

func randomK(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*37 + 11)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestKeyLengthMustFitAlgAndEnc(t *testing.T) {
	cases := []struct {
		alg, enc string
		have     int
		want     string // the size the message must name
	}{
		{"dir", "A256GCM", 16, "32 bytes"},
		{"dir", "A128GCM", 32, "16 bytes"},
		{"dir", "A256CBC-HS512", 32, "64 bytes"},
		{"dir", "A128CBC-HS256", 16, "32 bytes"},
		{"A128KW", "A256GCM", 32, "16 bytes"},
		{"A256KW", "A128GCM", 16, "32 bytes"},
		{"A192GCMKW", "A256CBC-HS512", 64, "24 bytes"},
	}
	for _, c := range cases {
		t.Run(c.alg+"/"+c.enc, func(t *testing.T) {
			good := jwkWith("260101-good", dirK, nil)
			bad := jwkWith("260101-Shrt", randomK(t, c.have), map[string]any{"alg": c.alg, "enc": c.enc})
			_, err := keyring.ParseRootKeys(rootKeys(t, good, bad))
			requireMentions(t, err, `"260101-Shrt"`, "#2", fmt.Sprintf("k is %d bytes", c.have), c.want, c.alg, c.enc)
		})
	}
}

func TestKeyWithoutKIDRefused(t *testing.T) {
	for _, kid := range []any{nil, ""} {
		_, err := keyring.ParseRootKeys(rootKeys(t, jwkWith(dirKID, dirK, nil), jwkWith("", dirK, map[string]any{"kid": kid})))
		// Without a kid the key is named by its position.
		requireMentions(t, err, "root key #2", "kid missing")
	}
}

func TestDuplicateKIDRefused(t *testing.T) {
	_, err := keyring.ParseRootKeys(rootKeys(t,
		jwkWith("260101-Dupe", dirK, nil),
		jwkWith("260101-Othr", gcmkwK, nil),
		jwkWith("260101-Dupe", gcmkwK, nil),
	))
	requireMentions(t, err, `"260101-Dupe"`, "#3", "also used by key #1", "unique")

	// New, given keys built elsewhere, refuses the same.
	a, b := generate(t, "260101-Dupe", "dir", "A256GCM"), generate(t, "260101-Dupe", "A128KW", "A128GCM")
	_, err = keyring.New([]*keyring.Key{a, b})
	requireMentions(t, err, `"260101-Dupe"`, "twice")
}

func TestUnsupportedKeyTypeAlgOrEncRefused(t *testing.T) {
	cases := []struct {
		name    string
		changes map[string]any
		want    []string
	}{
		{"kty RSA", map[string]any{"kty": "RSA"}, []string{`unsupported kty "RSA"`, `"oct"`}},
		{"kty EC", map[string]any{"kty": "EC"}, []string{`unsupported kty "EC"`}},
		{"kty missing", map[string]any{"kty": nil}, []string{"kty missing"}},
		{"alg RSA-OAEP", map[string]any{"alg": "RSA-OAEP"}, []string{`unsupported alg "RSA-OAEP"`, "A256GCMKW"}},
		{"alg PBES2", map[string]any{"alg": "PBES2-HS256+A128KW"}, []string{`unsupported alg "PBES2-HS256+A128KW"`}},
		{"alg lower case", map[string]any{"alg": "a256kw"}, []string{`unsupported alg "a256kw"`}},
		{"alg missing", map[string]any{"alg": nil}, []string{"alg missing", "dir"}},
		{"enc A512GCM", map[string]any{"enc": "A512GCM"}, []string{`unsupported enc "A512GCM"`, "A256CBC-HS512"}},
		{"enc missing", map[string]any{"enc": nil}, []string{"enc missing", "A256GCM"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := keyring.ParseRootKeys(rootKeys(t, jwkWith("260101-Bad1", dirK, c.changes)))
			requireMentions(t, err, append([]string{`root key "260101-Bad1"`}, c.want...)...)
		})
	}
}

func TestKeyUseMustBeEnc(t *testing.T) {
	_, err := keyring.ParseRootKeys(rootKeys(t, jwkWith("260101-Sign", dirK, map[string]any{"use": "sig"})))
	requireMentions(t, err, `"260101-Sign"`, `use is "sig"`, `"enc"`)

	for _, use := range []any{"enc", nil} {
		if _, err := keyring.ParseRootKeys(rootKeys(t, jwkWith("260101-UseK", dirK, map[string]any{"use": use}))); err != nil {
			t.Errorf("use %v: %v", use, err)
		}
	}
}

func TestKeyWithZipRefused(t *testing.T) {
	for _, zip := range []string{"DEF", ""} {
		_, err := keyring.ParseRootKeys(rootKeys(t, jwkWith("260101-Zipd", dirK, map[string]any{"zip": zip})))
		requireMentions(t, err, `"260101-Zipd"`, "zip", "compression is refused")
	}
}

func TestKeyNotBase64urlRefused(t *testing.T) {
	for name, k := range map[string]string{
		"standard base64": "7U6k5S/HXSujMpr2u7YjRkZLQO6LUK2vFYFHVbfNJ+g=",
		"spaces":          "7U6k5S_H XSujMpr2u7YjRkZLQO6LUK2vFYFHVbfNJ_g",
		"not base64":      "this is not a key!",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := keyring.ParseRootKeys(rootKeys(t, jwkWith("260101-B64x", k, nil)))
			requireMentions(t, err, `"260101-B64x"`, "k is not valid base64url")
		})
	}
	_, err := keyring.ParseRootKeys(rootKeys(t, jwkWith("260101-NoKk", "", nil)))
	requireMentions(t, err, `"260101-NoKk"`, "k missing")
}

func TestEmptyRootKeysRefused(t *testing.T) {
	for name, input := range map[string]string{
		"nothing":         "",
		"whitespace":      " \n\t",
		"empty array":     "[]",
		"empty JWK Set":   `{"keys": []}`,
		"object, no keys": `{}`,
		"null keys":       `{"keys": null}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := keyring.ParseRootKeys([]byte(input))
			requireMentions(t, err, "root keys")
			if _, err := keyring.Load([]byte(input)); err == nil {
				t.Error("Load accepted it")
			}
		})
	}
	_, err := keyring.ParseRootKeys([]byte("[]"))
	requireMentions(t, err, "no keys given")
	_, err = keyring.ParseRootKeys(nil)
	requireMentions(t, err, "empty")
	_, err = keyring.New(nil)
	requireMentions(t, err, "at least one root key")
}

func TestRootKeysNotJSONRefused(t *testing.T) {
	cases := map[string]struct{ input, want string }{
		"plain text":     {"hunter2", "expected a JSON array of JWKs or a JWK Set"},
		"YAML":           {"- kty: oct\n  kid: a", "expected a JSON array"},
		"cut short":      {`[{"kty":"oct","k":"` + dirK + `"`, "not a JSON array of JWKs"},
		"trailing comma": {`[{"kty":"oct"},]`, "invalid JSON at byte"},
		"key not object": {`[42]`, "root key #1: not a JSON object"},
		"kid a number":   {`[{"kty":"oct","kid":7,"k":"` + dirK + `"}]`, `field "kid" must be a string`},
		"keys an object": {`{"keys": {"kty":"oct"}}`, `field "keys" must be an array`},
		"a bare JWK":     {`{"kty":"oct","kid":"a","k":"` + dirK + `","alg":"dir","enc":"A256GCM"}`, "a single JWK, not a list of keys: wrap it in [ ]"},
		"other object":   {`{"kid":"a","k":"` + dirK + `"}`, `JWK Set with a "keys" array`},
		"a JSON string":  {`"` + dirK + `"`, "expected a JSON array"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := keyring.ParseRootKeys([]byte(c.input))
			requireMentions(t, err, c.want)
			if strings.Contains(err.Error(), dirK) {
				t.Errorf("error %q quotes the input's k", err)
			}
		})
	}
}

// TestSingleJWKAsRootKeysSaysWrapInBrackets: the output of `key generate`
// without --set, used alone as root keys, is refused with the fix, and the
// fix works.
func TestSingleJWKAsRootKeysSaysWrapInBrackets(t *testing.T) {
	key, err := keyring.Generate("260101-One1", "dir", "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	single, err := key.ExportJWK()
	if err != nil {
		t.Fatal(err)
	}
	_, err = keyring.ParseRootKeys(single)
	requireMentions(t, err, "a single JWK", "wrap it in [ ]")
	if _, err := keyring.ParseRootKeys([]byte("[" + string(single) + "]")); err != nil {
		t.Errorf("the key wrapped in [ ] does not load: %v", err)
	}
}

func TestParseKeyRefusesTextAfterTheKey(t *testing.T) {
	valid := `{"kty":"oct","k":"` + dirK + `","kid":"` + dirKID + `","alg":"dir","enc":"A256GCM"}`
	if _, err := keyring.ParseKey([]byte(valid)); err != nil {
		t.Fatal(err)
	}
	_, err := keyring.ParseKey([]byte(valid + `{"kty":"RSA"}`))
	requireMentions(t, err, "key #1", "not a JSON object")
}

// TestKeyErrorsNeverQuoteK feeds a distinctive k through every way a key can
// be refused: no message may repeat it, as text or as its bytes.
func TestKeyErrorsNeverQuoteK(t *testing.T) {
	canary := "Q0FOQVJZX2tleV9tYXRlcmlhbF9DQU5BUlk" // "CANARY_key_material_CANARY"
	canaryBytes := unb64(t, canary)
	forbidden := []string{canary, string(canaryBytes), hex.EncodeToString(canaryBytes), fmt.Sprint(canaryBytes)}

	inputs := map[string][]byte{
		"wrong length":    rootKeys(t, jwkWith("260101-Cnry", canary, nil)),
		"no kid":          rootKeys(t, jwkWith("", canary, nil)),
		"duplicate kid":   rootKeys(t, jwkWith("260101-Cnry", dirK, nil), jwkWith("260101-Cnry", canary, map[string]any{"alg": "A128KW"})),
		"bad kty":         rootKeys(t, jwkWith("260101-Cnry", canary, map[string]any{"kty": "RSA"})),
		"bad alg":         rootKeys(t, jwkWith("260101-Cnry", canary, map[string]any{"alg": "none"})),
		"bad enc":         rootKeys(t, jwkWith("260101-Cnry", canary, map[string]any{"enc": "none"})),
		"use sig":         rootKeys(t, jwkWith("260101-Cnry", canary, map[string]any{"use": "sig"})),
		"zip":             rootKeys(t, jwkWith("260101-Cnry", canary, map[string]any{"zip": "DEF"})),
		"not base64url":   rootKeys(t, jwkWith("260101-Cnry", canary+"+/=", nil)),
		"k a number":      []byte(`[{"kty":"oct","kid":"260101-Cnry","k":["` + canary + `"]}]`),
		"cut short":       []byte(`[{"kty":"oct","kid":"260101-Cnry","k":"` + canary + `"`),
		"unquoted k":      []byte(`[{"kty":"oct","kid":"260101-Cnry","k":` + canary + `}]`),
		"bad JWK Set":     []byte(`{"keys":[{"k":"` + canary + `"}],}`),
		"a bare JWK":      []byte(`{"kty":"oct","kid":"260101-Cnry","k":"` + canary + `","alg":"dir","enc":"A256GCM"}`),
		"k in kid's slot": []byte(`[{"kty":"oct","kid":{"k":"` + canary + `"}}]`),
	}
	for name, input := range inputs {
		t.Run(name, func(t *testing.T) {
			_, err := keyring.ParseRootKeys(input)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, f := range forbidden {
				if strings.Contains(err.Error(), f) {
					t.Errorf("error %q contains key material %q", err, f)
				}
			}
			if _, err := keyring.ParseKey(input); err != nil && strings.Contains(err.Error(), canary) {
				t.Errorf("ParseKey error %q contains k", err)
			}
		})
	}
}

// TestPrintedKeyHidesK covers the ways a key ends up in a log by mistake.
func TestPrintedKeyHidesK(t *testing.T) {
	keys, err := keyring.ParseRootKeys(designKeysJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	key := keys[0]
	kBytes := unb64(t, dirK)
	forbidden := []string{dirK, fmt.Sprint(kBytes), fmt.Sprintf("%#v", kBytes), hex.EncodeToString(kBytes), string(kBytes)}

	if got, want := key.String(), "key "+dirKID+" (dir/A256GCM)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	type holder struct {
		Key  keyring.Key
		Ptr  *keyring.Key
		Keys []*keyring.Key
	}
	var printed []string
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		printed = append(printed,
			fmt.Sprintf(format, key),
			fmt.Sprintf(format, *key),
			fmt.Sprintf(format, keys),
			fmt.Sprintf(format, holder{Key: *key, Ptr: key, Keys: keys}),
		)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("loaded", "key", key, "value", *key)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("loaded", "key", key, "value", *key)
	printed = append(printed, logs.String())

	for _, p := range printed {
		for _, f := range forbidden {
			if strings.Contains(p, f) {
				t.Errorf("printed key %q contains key material %q", p, f)
			}
		}
	}
	if !strings.Contains(fmt.Sprintf("%+v", *key), dirKID) || !strings.Contains(logs.String(), dirKID) {
		t.Errorf("a printed key should still name its kid: %q / %q", fmt.Sprintf("%+v", *key), logs.String())
	}
}

func TestKeySizeNamesUnsupportedAlgOrEnc(t *testing.T) {
	if n, err := keyring.KeySize("A192KW", "A256CBC-HS512"); err != nil || n != 24 {
		t.Errorf("KeySize(A192KW, A256CBC-HS512) = %d, %v; want 24 (the wrapping key)", n, err)
	}
	if n, err := keyring.KeySize("dir", "A192CBC-HS384"); err != nil || n != 48 {
		t.Errorf("KeySize(dir, A192CBC-HS384) = %d, %v; want 48", n, err)
	}
	_, err := keyring.KeySize("RSA1_5", "A256GCM")
	requireMentions(t, err, `unsupported alg "RSA1_5"`)
	_, err = keyring.KeySize("dir", "XC20P")
	requireMentions(t, err, `unsupported enc "XC20P"`)
	_, err = keyring.Generate("", "dir", "XC20P")
	requireMentions(t, err, `unsupported enc "XC20P"`)
}

var kidPattern = regexp.MustCompile(`^\d{6}-[A-Za-z0-9]{4}$`)

func TestNewKIDIsUTCDateAndFourAlphanumerics(t *testing.T) {
	// 23:30 in New York on 23 November is already 24 November in UTC.
	newYork := time.FixedZone("EST", -5*60*60)
	kid, err := keyring.NewKID(time.Date(2026, 11, 23, 23, 30, 0, 0, newYork))
	if err != nil {
		t.Fatal(err)
	}
	if !kidPattern.MatchString(kid) || !strings.HasPrefix(kid, "261124-") {
		t.Errorf("NewKID = %q, want 261124-XXXX", kid)
	}

	seen := map[string]bool{}
	for range 200 {
		kid, err := keyring.NewKID(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !kidPattern.MatchString(kid) {
			t.Fatalf("NewKID = %q, does not match %s", kid, kidPattern)
		}
		seen[kid[7:]] = true
	}
	if len(seen) < 150 {
		t.Errorf("200 kids have only %d distinct suffixes; the suffix should be random", len(seen))
	}
}

func TestGeneratedKeyWithoutKIDGetsTodaysKID(t *testing.T) {
	before := time.Now().UTC().Format("060102")
	key := generate(t, "", "dir", "A256GCM")
	after := time.Now().UTC().Format("060102")
	if !kidPattern.MatchString(key.KID) || (key.KID[:6] != before && key.KID[:6] != after) {
		t.Errorf("kid %q, want %s-XXXX", key.KID, after)
	}
	if named := generate(t, "my-key", "dir", "A256GCM"); named.KID != "my-key" {
		t.Errorf("Generate kept kid %q, want my-key", named.KID)
	}
}

func TestJWKMemberNamesAreCaseSensitive(t *testing.T) {
	_, err := keyring.ParseRootKeys([]byte(`[{"kty":"oct","k":"7U6k5S_HXSujMpr2u7YjRkZLQO6LUK2vFYFHVbfNJ_g","KID":"a","alg":"dir","enc":"A256GCM"}]`))
	if err == nil || !strings.Contains(err.Error(), `member "KID" must be written "kid"`) {
		t.Fatalf("err = %v, want the member name named", err)
	}
}

// JSON encoding a key by accident (a log field, a struct dumped for
// debugging) must not reveal it; only ExportJWK writes k.
func TestJSONEncodedKeyHidesK(t *testing.T) {
	key, err := keyring.Generate("json-kid", "dir", "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	exported, err := key.ExportJWK()
	if err != nil {
		t.Fatal(err)
	}
	var wire struct{ K string }
	if err := json.Unmarshal(exported, &wire); err != nil || wire.K == "" {
		t.Fatalf("ExportJWK gave no k: %s (%v)", exported, err)
	}
	plain, err := json.Marshal(struct{ Key *keyring.Key }{key})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain), wire.K) {
		t.Fatalf("json.Marshal of a key shows k: %s", plain)
	}
}
