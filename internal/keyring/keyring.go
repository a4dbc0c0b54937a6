package keyring

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Keyring is the set of keys a deployment can decrypt with: the root keys
// (from configuration, never stored) and the data keys unwrapped from the
// database. The primary key encrypts new values: the primary data key when
// there is one, else the first root key. A Keyring is safe for concurrent use.
type Keyring struct {
	roots []*Key

	mu         sync.RWMutex
	dataKeys   map[string]*Key
	primaryKID string // a data key's kid, or "" for the first root key
	// projectKeys are the project keys unwrapped so far, by kid.
	projectKeys map[string]projectKey
}

// New builds a keyring from root keys, which must be valid (ParseRootKeys)
// and have unique kids.
func New(roots []*Key) (*Keyring, error) {
	if len(roots) == 0 {
		return nil, errors.New("keyring: at least one root key is needed")
	}
	seen := map[string]bool{}
	for _, k := range roots {
		if seen[k.KID] {
			return nil, fmt.Errorf("keyring: root key kid %q appears twice", k.KID)
		}
		seen[k.KID] = true
	}
	return &Keyring{roots: roots, dataKeys: map[string]*Key{}, projectKeys: map[string]projectKey{}}, nil
}

// Load parses root keys (ParseRootKeys) and builds a keyring from them.
func Load(rootKeysJSON []byte) (*Keyring, error) {
	roots, err := ParseRootKeys(rootKeysJSON)
	if err != nil {
		return nil, err
	}
	return New(roots)
}

// RootKey returns the first root key: it wraps data keys and keys the audit
// chain.
func (r *Keyring) RootKey() *Key { return r.roots[0] }

// Roots returns the root keys, in configuration order, for a keyring of
// the same configuration (New) that has unwrapped nothing yet.
func (r *Keyring) Roots() []*Key { return slices.Clone(r.roots) }

// RootKIDs lists the root keys' kids, in configuration order.
func (r *Keyring) RootKIDs() []string {
	out := make([]string, len(r.roots))
	for i, k := range r.roots {
		out[i] = k.KID
	}
	return out
}

// IsRoot reports whether kid names a root key.
func (r *Keyring) IsRoot(kid string) bool {
	return r.rootByKID(kid) != nil
}

func (r *Keyring) rootByKID(kid string) *Key {
	for _, k := range r.roots {
		if k.KID == kid {
			return k
		}
	}
	return nil
}

// AddDataKey makes an unwrapped data key available for decryption, and for
// encryption when primary is true (replacing any previous primary).
func (r *Keyring) AddDataKey(key *Key, primary bool) error {
	if r.rootByKID(key.KID) != nil {
		return fmt.Errorf("keyring: data key kid %q is also a root key's kid", key.KID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dataKeys[key.KID] = key
	if primary {
		r.primaryKID = key.KID
	} else if r.primaryKID == key.KID {
		r.primaryKID = ""
	}
	return nil
}

// RemoveDataKey forgets a data key, as when it is disabled or destroyed.
func (r *Keyring) RemoveDataKey(kid string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.dataKeys, kid)
	if r.primaryKID == kid {
		r.primaryKID = ""
	}
}

// SetDataKeys replaces every data key at once, as after reloading them from
// the database; primaryKID may be "" (the first root key encrypts).
func (r *Keyring) SetDataKeys(keys []*Key, primaryKID string) error {
	m := make(map[string]*Key, len(keys))
	for _, k := range keys {
		if r.rootByKID(k.KID) != nil {
			return fmt.Errorf("keyring: data key kid %q is also a root key's kid", k.KID)
		}
		m[k.KID] = k
	}
	if primaryKID != "" && m[primaryKID] == nil {
		return fmt.Errorf("keyring: primary data key %q is not among the data keys", primaryKID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dataKeys, r.primaryKID = m, primaryKID
	return nil
}

// Primary returns the key that encrypts new values.
func (r *Keyring) Primary() *Key {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.primaryKID != "" {
		return r.dataKeys[r.primaryKID]
	}
	return r.roots[0]
}

// Has reports whether kid names a root or data key in the keyring.
func (r *Keyring) Has(kid string) bool {
	return r.lookup(kid) != nil
}

func (r *Keyring) lookup(kid string) *Key {
	if k := r.rootByKID(kid); k != nil {
		return k
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.dataKeys[kid]
}

// Encrypt seals plaintext under the primary key, bound to binding. It
// returns the compact JWE and the kid used.
func (r *Keyring) Encrypt(plaintext []byte, binding Binding) (token, kid string, err error) {
	key := r.Primary()
	token, err = EncryptWith(key, plaintext, binding)
	return token, key.KID, err
}

// Decrypted describes a successfully opened ciphertext.
type Decrypted struct {
	Plaintext []byte
	KID       string
	// Bound is false for a ciphertext written without a binding (by another
	// tool): it opens in any row, so a strict deployment refuses it.
	Bound bool
	// Versioned is true when the binding also names the row's version
	// (a secret's revision): false for unbound ciphertexts and for those
	// written before versions were bound. Re-encryption makes it true.
	Versioned bool
}

// Decrypt opens a ciphertext written for binding with whichever key its kid
// names. A ciphertext bound to another row, or to another version of this
// row, is refused.
func (r *Keyring) Decrypt(token string, binding Binding) (Decrypted, error) {
	return r.decryptWith(token, binding, r.lookup)
}

func (r *Keyring) decryptWith(token string, binding Binding, find func(string) *Key) (Decrypted, error) {
	h, wrap, err := parseHeader(token)
	if err != nil {
		return Decrypted{}, err
	}
	if h.Zip != "" {
		return Decrypted{}, &CompressedError{Zip: h.Zip}
	}
	key := find(h.KID)
	if key == nil {
		return Decrypted{}, &UnknownKIDError{KID: h.KID}
	}
	plaintext, err := decrypt(key, token, h, wrap)
	if err != nil {
		return Decrypted{}, err
	}
	// The binding is checked only after authentication, so a mismatch is
	// reported for a genuine ciphertext in the wrong place, not for noise.
	bound, versioned, err := checkBinding(h.Binding, binding)
	if err != nil {
		clear(plaintext)
		return Decrypted{}, err
	}
	return Decrypted{Plaintext: plaintext, KID: key.KID, Bound: bound, Versioned: versioned}, nil
}

// NeedsReencrypt reports whether a ciphertext with this kid should be
// rewritten in a store not yet moved to project keys: it is not under the
// primary key, or not fully bound (unbound, or bound to its row but not to
// its version).
func (r *Keyring) NeedsReencrypt(kid string, versioned bool) bool {
	return !versioned || kid != r.Primary().KID
}

// LegacyAuditKey derives the MAC key of the first audit chain scheme from
// the root key named kid (HKDF-SHA256). Events written before audit keys
// were stored in the database are keyed by it. It never returns root key
// material itself.
func (r *Keyring) LegacyAuditKey(kid string) ([]byte, error) {
	key := r.rootByKID(kid)
	if key == nil {
		return nil, &UnknownKIDError{KID: kid}
	}
	if key.wrapper != nil {
		return nil, fmt.Errorf("audit key of the first release under root key %s: %w; keep the JWK root it was made with configured to verify those events", kid, ErrWrappedRoot)
	}
	return hkdf.Key(sha256.New, key.k, nil, "pgsecrets audit chain v1", 32)
}

// SessionKeys derive, from each root key in order, the key that the
// dashboard's session tokens are hashed with (HKDF-SHA256, salted with the
// deployment's identity): the database keeps HMACs of tokens, so that
// whoever can write to it but holds no root key cannot plant a session.
// The first root key's hashes new sessions; the others still recognise
// sessions made before a rotation. It never returns root key material. A
// root held by a key service has a nil entry.
func (r *Keyring) SessionKeys(deployment string) ([][]byte, error) {
	out := make([][]byte, len(r.roots))
	for i, key := range r.roots {
		if key.wrapper != nil {
			// Nothing derives from a key a service holds: such a root has
			// no session key here (nil), and the store gives it one.
			continue
		}
		b, err := sessionKey(key.k, deployment, key.KID)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// IsWrapped reports whether the root key named kid is held by a key
// service.
func (r *Keyring) IsWrapped(kid string) bool {
	k := r.rootByKID(kid)
	return k != nil && k.wrapper != nil
}

// sessionKey derives a session key from secret material.
func sessionKey(material []byte, deployment, kid string) ([]byte, error) {
	b, err := hkdf.Key(sha256.New, material, []byte(deployment), "pgsecrets dashboard sessions v1", 32)
	if err != nil {
		return nil, fmt.Errorf("session key of %s: %w", kid, err)
	}
	return b, nil
}

// RootCheckValue is the key check value of the root key named kid: a
// one-way digest, salted with the deployment's identity, by which the
// database recognises a root key without ever holding it. Two keys with the
// same kid but different material have different check values.
func (r *Keyring) RootCheckValue(kid, deployment string) (string, error) {
	key := r.rootByKID(kid)
	if key == nil {
		return "", &UnknownKIDError{KID: kid}
	}
	return key.checkValue(deployment)
}

func (key *Key) checkValue(deployment string) (string, error) {
	if key.wrapper != nil {
		cv, err := key.wrapper.CheckValue(deployment)
		if err != nil {
			return "", fmt.Errorf("identify root key %s (%s): %w", key.KID, key.wrapper, err)
		}
		return cv, nil
	}
	b, err := hkdf.Key(sha256.New, key.k, []byte(deployment), "pgsecrets key check value v1", 16)
	if err != nil {
		return "", fmt.Errorf("key check value of %s: %w", key.KID, err)
	}
	return hex.EncodeToString(b), nil
}

// WrapAuditKey seals an audit chain key under the first root key.
func (r *Keyring) WrapAuditKey(material []byte, binding Binding) (wrapped, wrappingKID string, err error) {
	root := r.RootKey()
	wrapped, err = encrypt(root, material, binding)
	return wrapped, root.KID, err
}

// UnwrapAuditKey opens a wrapped audit chain key with the root keys only,
// refusing one whose binding (deployment, kid, scheme, last event) differs.
// An audit key without a full binding is refused: they are only ever
// written with one.
func (r *Keyring) UnwrapAuditKey(wrapped string, binding Binding) ([]byte, error) {
	d, err := r.decryptWith(wrapped, binding, r.rootByKID)
	if err != nil {
		return nil, err
	}
	if !d.Versioned {
		clear(d.Plaintext)
		return nil, &BindingMismatchError{Want: binding, Got: "(none)"}
	}
	return d.Plaintext, nil
}
