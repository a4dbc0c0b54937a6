package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
)

// Compact JWE with alg "dir" or an AES-GCM key wrap (A128GCMKW...) and an
// AES-GCM enc (the default key types) is the hot path of every read, write and re-encryption. go-jose spends most
// of its time there on generic header handling (about 15 µs a row for a
// decrypt plus encrypt), so this file performs the same RFC 7516 / RFC 7518
// steps directly: protected header, 96-bit random IV, AES-GCM with the
// protected header's base64url text as additional data, and for the key
// wrap a random content key sealed with AES-GCM, its IV and tag in the
// header (RFC 7518 4.7). Every other
// algorithm goes through go-jose, and the interoperability vectors check
// this path against go-jose and Node's jose in both directions.

const (
	gcmIVSize  = 12
	gcmTagSize = 16
)

func isDirGCM(key *Key) bool {
	return key.Alg == "dir" && strings.HasSuffix(key.Enc, "GCM")
}

// isGCMKWGCM reports an AES-GCM key wrap (A128GCMKW...) of an AES-GCM
// content key: the other key type that takes the direct path.
func isGCMKWGCM(key *Key) bool {
	return strings.HasSuffix(key.Alg, "GCMKW") && strings.HasSuffix(key.Enc, "GCM")
}

// gcmkwHeader is the protected header of an AES-GCM key wrapped token: the
// wrap's IV and tag travel in it (RFC 7518 4.7).
// gcmkwHeader is the protected header pgsecrets writes; IV and Tag are set
// for A256GCMKW only.
type gcmkwHeader struct {
	Alg  string `json:"alg"`
	Enc  string `json:"enc"`
	IV   string `json:"iv,omitempty"`
	KID  string `json:"kid"`
	Bind string `json:"pgsecrets_bind,omitempty"`
	Tag  string `json:"tag,omitempty"`
}

// marshalHeader is json.Marshal(h), written by hand when every value is
// plain (printable ASCII that JSON writes as is), as kids, algorithms,
// bindings and base64url always are; encryption is otherwise dominated by
// reflection.
func marshalHeader(h gcmkwHeader) ([]byte, error) {
	members := [...]struct{ name, value string }{
		{"alg", h.Alg}, {"enc", h.Enc}, {"iv", h.IV}, {"kid", h.KID}, {BindingHeader, h.Bind}, {"tag", h.Tag},
	}
	out := make([]byte, 0, 160)
	out = append(out, '{')
	for _, m := range members {
		if m.value == "" && m.name != "alg" && m.name != "enc" && m.name != "kid" {
			continue // omitempty
		}
		if !plainJSON(m.value) {
			return json.Marshal(h)
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, m.name...)
		out = append(out, `":"`...)
		out = append(out, m.value...)
		out = append(out, '"')
	}
	return append(out, '}'), nil
}

// plainJSON reports whether encoding/json writes s between quotes as is.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func encryptGCMKW(key *Key, plaintext []byte, binding Binding) (string, error) {
	cek := make([]byte, contentKeySizes[key.Enc])
	wrapIV := make([]byte, gcmIVSize)
	if _, err := rand.Read(cek); err != nil {
		return "", fmt.Errorf("encrypt with key %s: read random content key: %w", key.KID, err)
	}
	if _, err := rand.Read(wrapIV); err != nil {
		return "", fmt.Errorf("encrypt with key %s: read random IV: %w", key.KID, err)
	}
	wrapper, err := keyGCM(key)
	if err != nil {
		return "", err
	}
	wrapped := wrapper.Seal(nil, wrapIV, cek, nil)
	enc := b64
	hb, err := marshalHeader(gcmkwHeader{
		Alg: key.Alg, Enc: key.Enc, KID: key.KID, Bind: string(binding),
		IV:  enc.EncodeToString(wrapIV),
		Tag: enc.EncodeToString(wrapped[len(wrapped)-gcmTagSize:]),
	})
	if err != nil {
		return "", fmt.Errorf("encrypt with key %s: %w", key.KID, err)
	}
	content, err := newGCM(key.KID, cek)
	if err != nil {
		return "", err
	}
	return sealContent(key.KID, content, enc.EncodeToString(hb), wrapped[:len(wrapped)-gcmTagSize], plaintext)
}

func decryptGCMKW(key *Key, token string, h Header, wrap keyWrap) ([]byte, error) {
	if h.crit {
		return nil, &CorruptError{Reason: `the "crit" header names extensions pgsecrets does not support`}
	}
	parts := strings.Split(token, ".")
	enc := b64
	// The wrap's IV and tag come from the protected header; a forged one
	// fails the unwrap's authentication below.
	wrapIV, err := enc.DecodeString(wrap.iv)
	if err != nil || len(wrapIV) != gcmIVSize {
		return nil, &CorruptError{Reason: fmt.Sprintf("key wrap \"iv\" header is not %d base64url bytes", gcmIVSize)}
	}
	wrapTag, err := enc.DecodeString(wrap.tag)
	if err != nil || len(wrapTag) != gcmTagSize {
		return nil, &CorruptError{Reason: fmt.Sprintf("key wrap \"tag\" header is not %d base64url bytes", gcmTagSize)}
	}
	wrapped, err := enc.DecodeString(parts[1])
	if err != nil {
		return nil, &CorruptError{Reason: "encrypted key part is not base64url"}
	}
	unwrapper, err := keyGCM(key)
	if err != nil {
		return nil, err
	}
	cek, err := unwrapper.Open(nil, wrapIV, append(wrapped, wrapTag...), nil)
	if err != nil {
		return nil, &TamperedError{KID: key.KID}
	}
	if len(cek) != contentKeySizes[key.Enc] {
		return nil, &CorruptError{Reason: fmt.Sprintf("wrapped content key is %d bytes, %s needs %d", len(cek), key.Enc, contentKeySizes[key.Enc])}
	}
	content, err := newGCM(key.KID, cek)
	if err != nil {
		return nil, err
	}
	return openContent(key.KID, content, parts)
}

func encryptDirGCM(key *Key, plaintext []byte, binding Binding) (string, error) {
	hb, err := marshalHeader(gcmkwHeader{Alg: key.Alg, Enc: key.Enc, KID: key.KID, Bind: string(binding)})
	if err != nil {
		return "", fmt.Errorf("encrypt with key %s: %w", key.KID, err)
	}
	aead, err := keyGCM(key)
	if err != nil {
		return "", err
	}
	return sealContent(key.KID, aead, b64.EncodeToString(hb), nil, plaintext)
}

// sealContent encrypts plaintext with the content key's AES-GCM, the protected
// header text as additional data, and assembles the compact token.
func sealContent(kid string, aead cipher.AEAD, protected string, encryptedKey, plaintext []byte) (string, error) {
	iv := make([]byte, gcmIVSize)
	if _, err := rand.Read(iv); err != nil {
		return "", fmt.Errorf("encrypt with key %s: read random IV: %w", kid, err)
	}
	enc := b64
	sealed := aead.Seal(nil, iv, plaintext, []byte(protected))
	ct, tag := sealed[:len(sealed)-gcmTagSize], sealed[len(sealed)-gcmTagSize:]
	var b strings.Builder
	b.Grow(len(protected) + 4 + enc.EncodedLen(len(encryptedKey)) + enc.EncodedLen(len(iv)) + enc.EncodedLen(len(ct)) + enc.EncodedLen(len(tag)))
	b.WriteString(protected)
	b.WriteByte('.')
	b.WriteString(enc.EncodeToString(encryptedKey))
	b.WriteByte('.')
	b.WriteString(enc.EncodeToString(iv))
	b.WriteByte('.')
	b.WriteString(enc.EncodeToString(ct))
	b.WriteByte('.')
	b.WriteString(enc.EncodeToString(tag))
	return b.String(), nil
}

// decryptDirGCM opens a token whose header ParseHeader has read and whose
// alg/enc the caller has matched to key.
func decryptDirGCM(key *Key, token string, h Header) ([]byte, error) {
	if h.crit {
		return nil, &CorruptError{Reason: `the "crit" header names extensions pgsecrets does not support`}
	}
	aead, err := keyGCM(key)
	if err != nil {
		return nil, err
	}
	return openContent(key.KID, aead, strings.Split(token, "."))
}

// openContent decrypts the content of a compact token's parts.
func openContent(kid string, aead cipher.AEAD, parts []string) ([]byte, error) {
	enc := b64
	iv, err := enc.DecodeString(parts[2])
	if err != nil || len(iv) != gcmIVSize {
		return nil, &CorruptError{Reason: fmt.Sprintf("initialization vector is not %d base64url bytes", gcmIVSize)}
	}
	ct, err := enc.DecodeString(parts[3])
	if err != nil {
		return nil, &CorruptError{Reason: "ciphertext part is not base64url"}
	}
	tag, err := enc.DecodeString(parts[4])
	if err != nil || len(tag) != gcmTagSize {
		return nil, &CorruptError{Reason: fmt.Sprintf("authentication tag is not %d base64url bytes", gcmTagSize)}
	}
	plaintext, err := aead.Open(nil, iv, append(ct, tag...), []byte(parts[0]))
	if err != nil {
		return nil, &TamperedError{KID: kid}
	}
	return plaintext, nil
}

// keyGCM is the key's own AES-GCM instance, made when the key was built.
func keyGCM(key *Key) (cipher.AEAD, error) {
	if key.aead == nil {
		return nil, fmt.Errorf("key %s: %s/%s does not take the AES-GCM path", key.KID, key.Alg, key.Enc)
	}
	return key.aead, nil
}

func newGCM(kid string, k []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", kid, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", kid, err)
	}
	return aead, nil
}
