package keyring

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// BindingHeader is the protected JWE header that ties a ciphertext to the
// row it was written for. Being in the protected header, it is covered by
// the authentication tag, so it cannot be edited without detection.
const BindingHeader = "pgsecrets_bind"

// Binding names the row a ciphertext belongs to.
type Binding string

// SecretBinding is the binding of a secret's value.
func SecretBinding(project, name string) Binding {
	return Binding("secret:" + project + "/" + name)
}

// DataKeyBinding is the binding of a wrapped data key.
func DataKeyBinding(kid string) Binding {
	return Binding("datakey:" + kid)
}

// Header is what can be read from a ciphertext without a key.
type Header struct {
	Alg     string
	Enc     string
	KID     string
	Binding Binding // empty when the ciphertext was written unbound
	Zip     string

	crit bool // a "crit" header is present: only go-jose's path judges it
}

// ParseHeader reads the protected header of a compact JWE. It does not
// check the ciphertext; Decrypt does.
func ParseHeader(token string) (Header, error) {
	h, _, err := parseHeader(token)
	return h, err
}

// keyWrap holds the AES-GCM key wrap parameters of a protected header
// (RFC 7518 4.7), read in the same pass as the rest for the direct path.
type keyWrap struct {
	iv, tag string
}

func parseHeader(token string) (Header, keyWrap, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 5 {
		return Header{}, keyWrap{}, &CorruptError{Reason: fmt.Sprintf("not a compact JWE (%d parts, want 5)", len(parts))}
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return Header{}, keyWrap{}, &CorruptError{Reason: "protected header is not base64url"}
	}
	// A map, not a struct: encoding/json matches struct fields without
	// regard to case, so {"kid":"a","KID":"b"} would read as kid "b" here
	// while go-jose and other JOSE libraries, rightly case-sensitive, see "a".
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		return Header{}, keyWrap{}, &CorruptError{Reason: "protected header is not a JSON object"}
	}
	var out Header
	for _, f := range []struct {
		name string
		dst  *string
	}{{"alg", &out.Alg}, {"enc", &out.Enc}, {"kid", &out.KID}, {"zip", &out.Zip}} {
		v, ok := fields[f.name]
		if !ok || v == nil {
			continue
		}
		str, isString := v.(string)
		if !isString {
			return Header{}, keyWrap{}, &CorruptError{Reason: fmt.Sprintf("protected header %q is not a string", f.name)}
		}
		*f.dst = str
	}
	if v, ok := fields["zip"]; ok && v != nil && out.Zip == "" {
		out.Zip = "(empty)" // "zip": "" is still a zip header, and refused
	}
	if _, ok := fields["crit"]; ok {
		out.crit = true
	}
	if v, ok := fields[BindingHeader]; ok && v != nil {
		b, isString := v.(string)
		if !isString || b == "" {
			return Header{}, keyWrap{}, &CorruptError{Reason: "binding header is not a non-empty string"}
		}
		out.Binding = Binding(b)
	}
	var wrap keyWrap
	wrap.iv, _ = fields["iv"].(string)
	wrap.tag, _ = fields["tag"].(string)
	return out, wrap, nil
}

// encrypt seals plaintext under key as a compact JWE whose protected header
// carries alg, enc, kid and the binding.
func encrypt(key *Key, plaintext []byte, binding Binding) (string, error) {
	switch {
	case isDirGCM(key):
		return encryptDirGCM(key, plaintext, binding)
	case isGCMKWGCM(key):
		return encryptGCMKW(key, plaintext, binding)
	}
	opts := &jose.EncrypterOptions{}
	if binding != "" {
		opts = opts.WithHeader(BindingHeader, string(binding))
	}
	enc, err := jose.NewEncrypter(
		jose.ContentEncryption(key.Enc),
		jose.Recipient{Algorithm: jose.KeyAlgorithm(key.Alg), Key: key.k, KeyID: key.KID},
		opts,
	)
	if err != nil {
		return "", fmt.Errorf("encrypt with key %s: %w", key.KID, err)
	}
	obj, err := enc.Encrypt(plaintext)
	if err != nil {
		return "", fmt.Errorf("encrypt with key %s: %w", key.KID, err)
	}
	token, err := obj.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("serialize ciphertext for key %s: %w", key.KID, err)
	}
	return token, nil
}

// decrypt opens token with key. The caller has already chosen key by the
// header's kid; here the token must use exactly the key's algorithms, which
// is also the allow-list handed to the JOSE parser.
func decrypt(key *Key, token string, h Header, wrap keyWrap) ([]byte, error) {
	if h.Alg != key.Alg || h.Enc != key.Enc {
		return nil, &AlgorithmMismatchError{KID: key.KID, KeyAlg: key.Alg, KeyEnc: key.Enc, TokenAlg: h.Alg, TokenEnc: h.Enc}
	}
	// RFC 7518 4.5: with dir the encrypted key is empty. go-jose ignores the
	// part, which nothing authenticates, so any bytes there would pass here
	// while Node's jose refuses the token.
	if key.Alg == "dir" && strings.Split(token, ".")[1] != "" {
		return nil, &CorruptError{Reason: `alg "dir" takes no encrypted key, but the ciphertext has one`}
	}
	switch {
	case isDirGCM(key):
		return decryptDirGCM(key, token, h)
	case isGCMKWGCM(key):
		return decryptGCMKW(key, token, h, wrap)
	}
	obj, err := jose.ParseEncryptedCompact(token,
		[]jose.KeyAlgorithm{jose.KeyAlgorithm(key.Alg)},
		[]jose.ContentEncryption{jose.ContentEncryption(key.Enc)})
	if err != nil {
		return nil, &CorruptError{Reason: "malformed JWE: " + err.Error()}
	}
	plaintext, err := obj.Decrypt(key.k)
	if err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return nil, &TamperedError{KID: key.KID}
		}
		return nil, &CorruptError{Reason: err.Error()}
	}
	return plaintext, nil
}
