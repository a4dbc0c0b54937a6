package keyring

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// A root key need not be key material in a file: it can stay inside a key
// service (a cloud KMS, an HSM) that only wraps and unwraps for whoever it
// lets call it. Such a root never encrypts a secret. It wraps the content
// key of a project key's, data key's or audit key's JWE: the keyring draws
// a random content key, has the service wrap it (the JWE's encrypted key)
// and seals the payload under it with AES-256-GCM, the protected header
// (kid, binding) as additional data. Opening takes one unwrap call; the
// store then keeps the opened key in memory, so that reads and writes make
// no further call.

// Wrapper is a root key held by a key service.
type Wrapper interface {
	// Alg is the JWE "alg" of what this root wraps: a registered one when
	// the service computes exactly it (an HSM's AES key wrap is A256KW),
	// else a name of pgsecrets' own.
	Alg() string
	// WrapKey has the service wrap a content key. binding is the JWE's
	// binding, for services that can authenticate context of their own
	// (a KMS encryption context): the JWE authenticates it regardless.
	WrapKey(cek []byte, binding Binding) ([]byte, error)
	// UnwrapKey has the service unwrap a content key that WrapKey wrapped
	// for binding.
	UnwrapKey(wrapped []byte, binding Binding) ([]byte, error)
	// CheckValue identifies the key the service holds, salted with the
	// deployment's identity, for the database's root key registry: another
	// key (another ARN, another token object) gives another value, and the
	// value tells nothing that helps open anything.
	CheckValue(deployment string) (string, error)
	// String names the key in messages: "AWS KMS key alias/pgsecrets in
	// eu-west-1". It never holds a credential.
	String() string
}

// NewWrappedRoot makes a root key named kid that the service behind w
// holds.
func NewWrappedRoot(kid string, w Wrapper) *Key {
	return &Key{KID: kid, Alg: w.Alg(), Enc: wrappedEnc, wrapper: w}
}

// wrappedEnc is the content encryption of everything a wrapped root seals.
const wrappedEnc = "A256GCM"

// Wrapper returns the service that holds the key, or nil for a key whose
// material is here (a JWK).
func (key *Key) Wrapper() Wrapper { return key.wrapper }

// ErrWrappedRoot is what asks a wrapped root for something only key
// material can give: encrypting a secret directly, or deriving a key.
var ErrWrappedRoot = errors.New("the root key is held by a key service and only wraps keys")

func encryptWrapped(key *Key, plaintext []byte, binding Binding) (string, error) {
	cek := make([]byte, 32)
	if _, err := rand.Read(cek); err != nil {
		return "", fmt.Errorf("encrypt with key %s: read random content key: %w", key.KID, err)
	}
	defer clear(cek)
	encryptedKey, err := key.wrapper.WrapKey(cek, binding)
	if err != nil {
		return "", fmt.Errorf("wrap with root key %s (%s): %w", key.KID, key.wrapper, err)
	}
	hb, err := marshalHeader(gcmkwHeader{Alg: key.Alg, Enc: key.Enc, KID: key.KID, Bind: string(binding)})
	if err != nil {
		return "", fmt.Errorf("encrypt with key %s: %w", key.KID, err)
	}
	aead, err := newGCM(key.KID, cek)
	if err != nil {
		return "", err
	}
	return sealContent(key.KID, aead, b64.EncodeToString(hb), encryptedKey, plaintext)
}

func decryptWrapped(key *Key, token string, h Header) ([]byte, error) {
	if h.crit {
		return nil, &CorruptError{Reason: `the "crit" header names extensions pgsecrets does not support`}
	}
	parts := strings.Split(token, ".")
	encryptedKey, err := b64.DecodeString(parts[1])
	if err != nil || len(encryptedKey) == 0 {
		return nil, &CorruptError{Reason: "encrypted key part is missing or not base64url"}
	}
	cek, err := key.wrapper.UnwrapKey(encryptedKey, h.Binding)
	if err != nil {
		return nil, fmt.Errorf("unwrap with root key %s (%s): %w", key.KID, key.wrapper, err)
	}
	defer clear(cek)
	aead, err := newGCM(key.KID, cek)
	if err != nil {
		return nil, err
	}
	return openContent(key.KID, aead, parts)
}

// SessionSeedBinding is the binding of the random seed from which the
// dashboard's session key of a root held by a key service is derived:
// the deployment and the root's kid.
func SessionSeedBinding(deployment, kid string) Binding {
	return Binding("sessionseed:" + deployment + "/" + kid + "#1")
}

// WrapSessionSeed seals a session seed under the root key named kid (not
// necessarily the first: each wrapped root has a seed of its own).
func (r *Keyring) WrapSessionSeed(kid, deployment string, seed []byte) (string, error) {
	root := r.rootByKID(kid)
	if root == nil {
		return "", &UnknownKIDError{KID: kid}
	}
	return encrypt(root, seed, SessionSeedBinding(deployment, kid))
}

// SessionKeyFromSeed opens the session seed of the wrapped root named kid
// and derives its session key, as SessionKeys does from a JWK root's
// material.
func (r *Keyring) SessionKeyFromSeed(kid, deployment, wrapped string) ([]byte, error) {
	binding := SessionSeedBinding(deployment, kid)
	d, err := r.decryptWith(wrapped, binding, r.rootByKID)
	if err != nil {
		return nil, fmt.Errorf("open the session seed of root key %s: %w", kid, err)
	}
	defer clear(d.Plaintext)
	if !d.Versioned || d.KID != kid {
		return nil, fmt.Errorf("open the session seed of root key %s: %w", kid, &BindingMismatchError{Want: binding, Got: "(another)"})
	}
	return sessionKey(d.Plaintext, deployment, kid)
}

// RootOpener opens the root key named kid from the member of its entry
// that names its kind (the object under "aws_kms", say).
type RootOpener func(kid string, config json.RawMessage) (Wrapper, error)

// RootKinds are the kinds of wrapped root key a build can open, by the
// member name that introduces them in a root keys entry.
type RootKinds map[string]RootOpener

// wrappedEntry finds which kind of wrapped root an entry is, if any, and
// refuses one that mixes kinds or key material.
func wrappedEntry(raw json.RawMessage, kinds RootKinds, known []string) (kind, kid string, config json.RawMessage, err error) {
	var members map[string]json.RawMessage
	if json.Unmarshal(raw, &members) != nil {
		return "", "", nil, nil // parseJWK says what is wrong
	}
	var found []string
	for _, name := range known {
		if _, ok := members[name]; ok {
			found = append(found, name)
		}
	}
	switch {
	case len(found) == 0:
		return "", "", nil, nil
	case len(found) > 1:
		return "", "", nil, fmt.Errorf("names two key services (%s): give one", strings.Join(found, ", "))
	}
	kind = found[0]
	for name := range members {
		if name != kind && name != "kid" {
			return "", "", nil, fmt.Errorf("a %s root key takes only \"kid\" and %q, not %q (its material never leaves the key service)", kind, kind, name)
		}
	}
	if json.Unmarshal(members["kid"], &kid) != nil || kid == "" {
		return "", "", nil, fmt.Errorf("kid missing; a %s root key needs a kid of your choosing, unique among the root keys", kind)
	}
	if _, ok := kinds[kind]; !ok {
		return "", "", nil, fmt.Errorf("this build of pgsecrets cannot use %s root keys%s", kind, unsupportedKindHint(kind))
	}
	return kind, kid, members[kind], nil
}

// WrappedKindNames are the member names of every kind of wrapped root key
// pgsecrets knows, opened in this build or not, so that an entry of a kind
// this build lacks is refused by name rather than read as a broken JWK.
var WrappedKindNames = []string{"aws_kms", "pkcs11"}

// unsupportedKindHint says why a build lacks a kind.
func unsupportedKindHint(kind string) string {
	if kind == "pkcs11" {
		return ": PKCS#11 needs a build with cgo (the release binaries are built without it)"
	}
	return ""
}
