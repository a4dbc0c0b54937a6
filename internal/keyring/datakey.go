package keyring

import (
	"errors"
	"fmt"
)

// WrapDataKey seals a data key's JWK under the first root key, bound to the
// data key's kid and to the state and revision its row will have, for
// storage in the database.
func (r *Keyring) WrapDataKey(key *Key, state string, revision int64) (wrapped, wrappingKID string, err error) {
	return r.wrapKey(key, DataKeyBinding(key.KID, state, revision))
}

// wrapKey seals a key's JWK under the first root key, bound to binding.
func (r *Keyring) wrapKey(key *Key, binding Binding) (wrapped, wrappingKID string, err error) {
	plain, err := key.ExportJWK()
	if err != nil {
		return "", "", fmt.Errorf("encode key %s: %w", key.KID, err)
	}
	root := r.RootKey()
	wrapped, err = encrypt(root, plain, binding)
	clear(plain)
	return wrapped, root.KID, err
}

// UnwrapDataKey opens a wrapped data key with the root keys only (a data
// key is never trusted to unwrap another), checking that the state and
// revision of its row are those it was wrapped with.
func (r *Keyring) UnwrapDataKey(kid, state string, revision int64, wrapped string) (*Key, Decrypted, error) {
	return r.unwrapKey("data key", kid, DataKeyBinding(kid, state, revision), wrapped)
}

// unwrapKey opens the wrapped key named kid (what names its kind in
// errors) with the root keys only, refusing it unless it was wrapped for
// binding.
func (r *Keyring) unwrapKey(what, kid string, binding Binding, wrapped string) (*Key, Decrypted, error) {
	d, err := r.decryptWith(wrapped, binding, r.rootByKID)
	if err != nil {
		// UnknownKIDError would say "not in the keyring, add it back", which
		// misleads when the wrapping kid is a data key the keyring holds.
		var unknown *UnknownKIDError
		if errors.As(err, &unknown) && unknown.KID != "" && r.Has(unknown.KID) {
			return nil, d, fmt.Errorf("unwrap %s %s: it is wrapped by data key %q; only root keys may unwrap keys", what, kid, unknown.KID)
		}
		return nil, d, fmt.Errorf("unwrap %s %s: %w", what, kid, err)
	}
	// The plaintext is the data key's JWK, k included: never hand it back,
	// not even beside an error.
	plain := d.Plaintext
	d.Plaintext = nil
	key, err := parseJWK(plain)
	clear(plain)
	if err != nil {
		return nil, d, fmt.Errorf("unwrap %s %s: wrapped content is not a valid key: %w", what, kid, err)
	}
	if key.KID != kid {
		return nil, d, fmt.Errorf("unwrap %s %s: wrapped key says kid %q", what, kid, key.KID)
	}
	return key, d, nil
}
