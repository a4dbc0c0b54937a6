// Package keyring loads JSON Web Keys and encrypts and decrypts secret values
// as compact JWE. It knows nothing of the database or of Terraform: callers
// hand it bytes and a Binding, and get bytes back.
package keyring

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"time"
)

// Key is one symmetric JSON Web Key (kty "oct") that can encrypt and decrypt.
type Key struct {
	KID string
	Alg string // key management algorithm: dir, A128KW, ..., A256GCMKW
	Enc string // content encryption: A128GCM, ..., A256CBC-HS512
	k   []byte

	// aead is the key's AES-GCM instance when it takes the direct path
	// (dirgcm.go): building one costs about as much as sealing a short
	// value, and it holds no per-call state, so one serves every goroutine.
	// It lives and dies with the key.
	aead cipher.AEAD
	// wrapper, for a root key held by a key service (external.go), does
	// its wrapping; k is then empty.
	wrapper Wrapper
}

// newKey builds a key from validated parts.
func newKey(kid, alg, enc string, k []byte) (*Key, error) {
	key := &Key{KID: kid, Alg: alg, Enc: enc, k: k}
	if isDirGCM(key) || isGCMKWGCM(key) {
		aead, err := newGCM(kid, k)
		if err != nil {
			return nil, err
		}
		key.aead = aead
	}
	return key, nil
}

// jwk is the wire form of a key, as written in root key files.
type jwk struct {
	Kty string   `json:"kty"`
	K   string   `json:"k"`
	KID string   `json:"kid"`
	Alg string   `json:"alg"`
	Enc string   `json:"enc"`
	Use string   `json:"use,omitempty"`
	Zip *string  `json:"zip,omitempty"`
	Ops []string `json:"key_ops,omitempty"`
}

// contentKeySizes is the key length, in bytes, each content encryption
// algorithm needs; with alg "dir" the JWK's k is that key.
var contentKeySizes = map[string]int{
	"A128GCM":       16,
	"A192GCM":       24,
	"A256GCM":       32,
	"A128CBC-HS256": 32,
	"A192CBC-HS384": 48,
	"A256CBC-HS512": 64,
}

// wrapKeySizes is the key length, in bytes, each key wrapping algorithm needs.
var wrapKeySizes = map[string]int{
	"A128KW":    16,
	"A192KW":    24,
	"A256KW":    32,
	"A128GCMKW": 16,
	"A192GCMKW": 24,
	"A256GCMKW": 32,
}

// Algorithms lists the supported alg values, dir first.
func Algorithms() []string {
	return []string{"dir", "A128KW", "A192KW", "A256KW", "A128GCMKW", "A192GCMKW", "A256GCMKW"}
}

// Encryptions lists the supported enc values, A256GCM first.
func Encryptions() []string {
	return []string{"A256GCM", "A192GCM", "A128GCM", "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512"}
}

// KeySize returns the length of k, in bytes, that alg and enc require.
func KeySize(alg, enc string) (int, error) {
	encSize, ok := contentKeySizes[enc]
	if !ok {
		return 0, fmt.Errorf("unsupported enc %q (supported: %s)", enc, strings.Join(Encryptions(), ", "))
	}
	if alg == "dir" {
		return encSize, nil
	}
	size, ok := wrapKeySizes[alg]
	if !ok {
		return 0, fmt.Errorf("unsupported alg %q (supported: %s)", alg, strings.Join(Algorithms(), ", "))
	}
	return size, nil
}

// ParseRootKeys reads root keys from a JSON array of JWKs or a JWK Set
// ({"keys": [...]}). Every key is validated; the first problem found is
// returned naming the key (by kid, or by position when it has none).
func ParseRootKeys(data []byte) ([]*Key, error) {
	return ParseRootKeysWith(data, nil)
}

// ParseRootKeysWith is ParseRootKeys where an entry may also name a root
// key held by a key service, of a kind in kinds: {"kid": "...", "aws_kms":
// {...}}. Such keys sit in the same ordered list as JWKs.
func ParseRootKeysWith(data []byte, kinds RootKinds) ([]*Key, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("root keys: empty; expected a JSON array of JWKs or a JWK Set {\"keys\": [...]}")
	}
	var raws []json.RawMessage
	switch trimmed[0] {
	case '[':
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, fmt.Errorf("root keys: not a JSON array of JWKs: %s", jsonProblem(err))
		}
	case '{':
		var set struct {
			Keys []json.RawMessage `json:"keys"`
			Kty  json.RawMessage   `json:"kty"`
		}
		if err := json.Unmarshal(trimmed, &set); err != nil {
			return nil, fmt.Errorf("root keys: not a JWK Set: %s", jsonProblem(err))
		}
		// One key where a list belongs is the usual slip (the output of
		// `key generate` without --set, pasted alone); say how to fix it.
		if set.Keys == nil && set.Kty != nil {
			return nil, fmt.Errorf("root keys: a single JWK, not a list of keys: wrap it in [ ] to make a JSON array of one key")
		}
		if set.Keys == nil {
			return nil, fmt.Errorf("root keys: a JSON object must be a JWK Set with a \"keys\" array")
		}
		raws = set.Keys
	default:
		return nil, fmt.Errorf("root keys: expected a JSON array of JWKs or a JWK Set {\"keys\": [...]}")
	}
	if len(raws) == 0 {
		return nil, fmt.Errorf("root keys: no keys given; at least one is needed")
	}
	keys := make([]*Key, 0, len(raws))
	seen := map[string]int{}
	for i, raw := range raws {
		key, err := parseRootEntry(raw, kinds)
		if err != nil {
			return nil, fmt.Errorf("root key %s: %w", describeRawKey(raw, i), err)
		}
		if first, dup := seen[key.KID]; dup {
			return nil, fmt.Errorf("root key %s: kid %q is also used by key #%d; every kid must be unique", describeRawKey(raw, i), key.KID, first+1)
		}
		seen[key.KID] = i
		keys = append(keys, key)
	}
	return keys, nil
}

// parseRootEntry reads one entry of a root key list: a JWK, or a reference
// to a key a service holds.
func parseRootEntry(raw json.RawMessage, kinds RootKinds) (*Key, error) {
	kind, kid, config, err := wrappedEntry(raw, kinds, WrappedKindNames)
	if err != nil || kind == "" {
		if err != nil {
			return nil, err
		}
		return parseJWK(raw)
	}
	w, err := kinds[kind](kid, config)
	if err != nil {
		return nil, err
	}
	return NewWrappedRoot(kid, w), nil
}

// ParseKey reads and validates a single JWK.
func ParseKey(data []byte) (*Key, error) {
	key, err := parseJWK(data)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", describeRawKey(data, 0), err)
	}
	return key, nil
}

func parseJWK(raw []byte) (*Key, error) {
	var w jwk
	// Unmarshal, not a Decoder: text after the object is an error, not
	// silently ignored.
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("not a JSON object: %s", jsonProblem(err))
	}
	if err := checkMemberNames(raw); err != nil {
		return nil, err
	}
	if w.Kty != "oct" {
		if w.Kty == "" {
			return nil, fmt.Errorf("kty missing; only \"oct\" (symmetric) keys are supported")
		}
		return nil, fmt.Errorf("unsupported kty %q; only \"oct\" (symmetric) keys are supported", w.Kty)
	}
	if w.KID == "" {
		return nil, fmt.Errorf("kid missing; every key needs a unique kid so ciphertexts can name it")
	}
	if w.Use != "" && w.Use != "enc" {
		return nil, fmt.Errorf("use is %q; a key for pgsecrets must have use \"enc\" or none", w.Use)
	}
	if w.Zip != nil {
		return nil, fmt.Errorf("zip is set; compression is refused (it leaks plaintext length patterns)")
	}
	if w.Alg == "" {
		return nil, fmt.Errorf("alg missing (supported: %s)", strings.Join(Algorithms(), ", "))
	}
	if w.Enc == "" {
		return nil, fmt.Errorf("enc missing (supported: %s)", strings.Join(Encryptions(), ", "))
	}
	want, err := KeySize(w.Alg, w.Enc)
	if err != nil {
		return nil, err
	}
	if w.K == "" {
		return nil, fmt.Errorf("k missing; it holds the key bytes, base64url encoded")
	}
	k, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(w.K, "="))
	if err != nil {
		return nil, fmt.Errorf("k is not valid base64url")
	}
	if len(k) != want {
		return nil, fmt.Errorf("k is %d bytes but alg %s with enc %s needs %d bytes", len(k), w.Alg, w.Enc, want)
	}
	return newKey(w.KID, w.Alg, w.Enc, k)
}

// jwkMembers are the member names a key may use. JWK member names are
// case-sensitive, but encoding/json matches struct fields regardless of
// case: without this check "KID" would be read as "kid".
var jwkMembers = []string{"kty", "k", "kid", "alg", "enc", "use", "zip", "key_ops"}

func checkMemberNames(raw []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return fmt.Errorf("not a JSON object: %s", jsonProblem(err))
	}
	for name := range members {
		for _, want := range jwkMembers {
			if name != want && strings.EqualFold(name, want) {
				return fmt.Errorf("member %q must be written %q: JWK member names are case-sensitive", name, want)
			}
		}
	}
	return nil
}

// describeRawKey names a key in an error: by kid when one can be read,
// else by its position in the list.
func describeRawKey(raw []byte, index int) string {
	var probe struct {
		KID any `json:"kid"`
	}
	if json.Unmarshal(raw, &probe) == nil {
		if kid, ok := probe.KID.(string); ok && kid != "" {
			return fmt.Sprintf("%q (#%d)", kid, index+1)
		}
	}
	return fmt.Sprintf("#%d", index+1)
}

// jsonProblem describes a JSON error without quoting the input, which may
// hold key material.
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("invalid JSON at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		if e.Field != "" {
			return fmt.Sprintf("field %q must be %s, not %s", e.Field, jsonKind(e.Type), e.Value)
		}
		return fmt.Sprintf("expected %s, found %s", jsonKind(e.Type), e.Value)
	default:
		return "invalid JSON"
	}
}

// jsonKind names the JSON a Go type reads, for messages: "an object", not
// "keyring.jwk".
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another JSON type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	default:
		return "another JSON type"
	}
}

// ExportJWK writes the key as a JWK in the root key format, key material
// included. It is a named method rather than MarshalJSON on purpose: JSON
// encoding a Key, or anything holding one (a log field, a struct dumped for
// debugging), must not reveal k; only `key generate` and data key wrapping
// export keys.
func (key *Key) ExportJWK() ([]byte, error) {
	return json.Marshal(key.wire())
}

// ExportRootKeys writes keys as a root keys value: a JSON array of JWKs.
func ExportRootKeys(keys []*Key) ([]byte, error) {
	out := make([]jwk, len(keys))
	for i, key := range keys {
		out[i] = key.wire()
	}
	return json.Marshal(out)
}

func (key *Key) wire() jwk {
	return jwk{
		Kty: "oct",
		K:   base64.RawURLEncoding.EncodeToString(key.k),
		KID: key.KID,
		Alg: key.Alg,
		Enc: key.Enc,
		Use: "enc",
	}
}

// String never shows key material, so a key printed by mistake leaks nothing.
func (key Key) String() string {
	return fmt.Sprintf("key %s (%s/%s)", key.KID, key.Alg, key.Enc)
}

// Format prints String for every verb. Without it fmt prints a Key value
// field by field (and %#v does so even for a *Key), k included.
func (key Key) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, key.String())
}

// LogValue makes slog log a key as its String, without k.
func (key Key) LogValue() slog.Value {
	return slog.StringValue(key.String())
}

// Generate makes a new random key for alg and enc. An empty kid gets one
// like "261123-Ab3x": the creation date, then random characters.
func Generate(kid, alg, enc string) (*Key, error) {
	size, err := KeySize(alg, enc)
	if err != nil {
		return nil, err
	}
	if kid == "" {
		kid, err = NewKID(time.Now())
		if err != nil {
			return nil, err
		}
	}
	k := make([]byte, size)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("read random key bytes: %w", err)
	}
	return newKey(kid, alg, enc, k)
}

const kidAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewKID returns a key id made of the date (YYMMDD) and four random
// alphanumerics, so ids sort by age and rarely collide.
func NewKID(now time.Time) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random kid: %w", err)
	}
	suffix := make([]byte, len(b))
	for i, v := range b {
		suffix[i] = kidAlphabet[int(v)%len(kidAlphabet)]
	}
	return now.UTC().Format("060102") + "-" + string(suffix), nil
}
