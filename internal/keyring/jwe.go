package keyring

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

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
	if err := checkParts(parts); err != nil {
		return Header{}, keyWrap{}, err
	}
	raw, err := b64.DecodeString(parts[0])
	if err != nil {
		return Header{}, keyWrap{}, &CorruptError{Reason: "protected header is not base64url"}
	}
	var members [8]headerMember // enough for any header pgsecrets writes, on the stack
	fields, err := headerFields(raw, members[:0])
	if err != nil {
		return Header{}, keyWrap{}, err
	}
	var out Header
	var errs [4]error
	out.Alg, errs[0] = fields.optionalString("alg")
	out.Enc, errs[1] = fields.optionalString("enc")
	out.KID, errs[2] = fields.optionalString("kid")
	out.Zip, errs[3] = fields.optionalString("zip")
	for _, err := range errs {
		if err != nil {
			return Header{}, keyWrap{}, err
		}
	}
	if m, ok := fields.get("zip"); ok && !m.isNull() && out.Zip == "" {
		out.Zip = "(empty)" // "zip": "" is still a zip header, and refused
	}
	if _, ok := fields.get("crit"); ok {
		out.crit = true
	}
	if m, ok := fields.get(BindingHeader); ok && !m.isNull() {
		b, isString := m.str()
		if !isString || b == "" {
			return Header{}, keyWrap{}, &CorruptError{Reason: "binding header is not a non-empty string"}
		}
		out.Binding = Binding(b)
	}
	var wrap keyWrap
	iv, _ := fields.get("iv")
	tag, _ := fields.get("tag")
	wrap.iv, _ = iv.str()
	wrap.tag, _ = tag.str()
	return out, wrap, nil
}

// headerMember is one member of a protected header.
type headerMember struct {
	name string
	// value is the member as encoding/json reads it, unless flat: then it
	// is the string text, read without boxing it in an interface.
	value any
	text  string
	flat  bool
}

// str is the member's value when it is a string.
func (m headerMember) str() (string, bool) {
	if m.flat {
		return m.text, true
	}
	s, ok := m.value.(string)
	return s, ok
}

func (m headerMember) isNull() bool { return !m.flat && m.value == nil }

// headerMembers are a header's members, unique by name. A header has a
// handful, so a slice beats a map.
type headerMembers []headerMember

// optionalString is the string member name: "" when absent or null, an
// error when it is not a string.
func (m headerMembers) optionalString(name string) (string, error) {
	f, ok := m.get(name)
	if !ok || f.isNull() {
		return "", nil
	}
	s, isString := f.str()
	if !isString {
		return "", &CorruptError{Reason: fmt.Sprintf("protected header %q is not a string", name)}
	}
	return s, nil
}

func (m headerMembers) get(name string) (headerMember, bool) {
	for _, f := range m {
		if f.name == name {
			return f, true
		}
	}
	return headerMember{}, false
}

// headerFields reads a protected header's members. Names are compared
// exactly: encoding/json matches struct fields without regard to case, so
// {"kid":"a","KID":"b"} would read as kid "b" into a struct while go-jose
// and other JOSE libraries, rightly case-sensitive, see "a".
func headerFields(raw []byte, dst headerMembers) (headerMembers, error) {
	if fields, ok := flatHeaderFields(string(raw), dst); ok {
		return fields, nil
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, &CorruptError{Reason: "protected header is not a JSON object"}
	}
	// A map keeps the last of duplicate members, other parsers may keep the
	// first: two readers must never see two headers in one token.
	if n, ok := countMembers(raw); !ok || n != len(fields) {
		return nil, &CorruptError{Reason: "protected header has duplicate members"}
	}
	for name, value := range fields {
		dst = append(dst, headerMember{name: name, value: value})
	}
	return dst, nil
}

// flatHeaderFields reads, without encoding/json, the one shape of header
// this package writes: an object of string members, no whitespace, no
// escapes, printable ASCII only. Such text means the same to every JSON
// parser, so the result is what json.Unmarshal would give. Anything else,
// a duplicate member included, reports false, for the general path to read
// and judge. Otherwise header parsing would dominate decryption.
func flatHeaderFields(raw string, fields headerMembers) (headerMembers, bool) {
	if len(raw) < 2 || raw[0] != '{' || raw[len(raw)-1] != '}' {
		return nil, false
	}
	for i := 1; i < len(raw)-1; {
		name, next, ok := flatString(raw, i)
		if !ok || next >= len(raw) || raw[next] != ':' {
			return nil, false
		}
		value, next, ok := flatString(raw, next+1)
		if !ok {
			return nil, false
		}
		if _, dup := fields.get(name); dup {
			return nil, false
		}
		fields = append(fields, headerMember{name: name, text: value, flat: true})
		switch {
		case next == len(raw)-1:
			return fields, true
		case raw[next] == ',' && next+1 < len(raw)-1:
			i = next + 1
		default:
			return nil, false
		}
	}
	return nil, false
}

// flatString reads a JSON string of printable ASCII without escapes opening
// at raw[i], and returns it and the index after its closing quote.
func flatString(raw string, i int) (string, int, bool) {
	if i >= len(raw) || raw[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(raw); j++ {
		switch c := raw[j]; {
		case c == '"':
			return raw[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return "", 0, false
		}
	}
	return "", 0, false
}

// b64 decodes every part of a token: base64url without padding, and with
// canonical trailing bits, so that each token has exactly one spelling.
var b64 = base64.RawURLEncoding.Strict()

// base64URLAlphabet marks the bytes of the base64url alphabet: a table
// lookup per byte, on the path of every decryption.
var base64URLAlphabet = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = true
	}
	return t
}()

// checkParts refuses a token part that is not strictly base64url. Go's
// decoders skip CR and LF even in strict mode, and go-jose decodes with
// its own leniency, so the alphabet is checked here for every code path.
func checkParts(parts []string) error {
	names := [...]string{"protected header", "encrypted key", "initialization vector", "ciphertext", "authentication tag"}
	for i, p := range parts {
		for j := 0; j < len(p); j++ {
			if !base64URLAlphabet[p[j]] {
				return &CorruptError{Reason: names[i] + " is not base64url (unexpected character)"}
			}
		}
		// Canonical trailing bits: the decoded bytes must encode back to
		// the same text. Only the last quantum can differ, so decoding it
		// alone is enough and allocates nothing for long parts.
		if r := len(p) % 4; r != 0 {
			var buf [3]byte
			if r == 1 {
				return &CorruptError{Reason: names[i] + " is not base64url (bad length)"}
			}
			if _, err := b64.Decode(buf[:], []byte(p[len(p)-r:])); err != nil {
				return &CorruptError{Reason: names[i] + " is not base64url (non-canonical encoding)"}
			}
		}
	}
	return nil
}

// countMembers counts the members of the top-level JSON object in raw,
// which json.Unmarshal has already accepted as an object.
func countMembers(raw []byte) (int, bool) {
	depth, n := 0, 0
	inString, escaped := false, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
			if depth == 1 && isMemberName(raw, i) {
				n++
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
	}
	return n, depth == 0
}

// isMemberName reports whether the string opening at raw[start] is an
// object member's name, i.e. it follows '{' or ','.
func isMemberName(raw []byte, start int) bool {
	for j := start - 1; j >= 0; j-- {
		switch raw[j] {
		case ' ', '\t', '\n', '\r':
			continue
		case '{', ',':
			return true
		default:
			return false
		}
	}
	return false
}

// encrypt seals plaintext under key as a compact JWE whose protected header
// carries alg, enc, kid and the binding.
func encrypt(key *Key, plaintext []byte, binding Binding) (string, error) {
	switch {
	case key.wrapper != nil:
		return encryptWrapped(key, plaintext, binding)
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
	if key.wrapper != nil {
		return decryptWrapped(key, token, h)
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
