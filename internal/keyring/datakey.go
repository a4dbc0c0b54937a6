package keyring

import (
	"errors"
	"fmt"
)

// WrapDataKey seals a data key's JWK under the first root key, bound to the
// data key's kid and to the state and revision its row will have, for
// storage in the database.
func (r *Keyring) WrapDataKey(key *Key, state string, revision int64) (wrapped, wrappingKID string, err error) {
	plain, err := key.ExportJWK()
	if err != nil {
		return "", "", fmt.Errorf("encode data key %s: %w", key.KID, err)
	}
	root := r.RootKey()
	wrapped, err = encrypt(root, plain, DataKeyBinding(key.KID, state, revision))
	clear(plain)
	return wrapped, root.KID, err
}

// UnwrapDataKey opens a wrapped data key with the root keys only (a data
// key is never trusted to unwrap another), checking that the state and
// revision of its row are those it was wrapped with.
func (r *Keyring) UnwrapDataKey(kid, state string, revision int64, wrapped string) (*Key, Decrypted, error) {
	d, err := r.decryptWith(wrapped, DataKeyBinding(kid, state, revision), r.rootByKID)
	if err != nil {
		// UnknownKIDError would say "not in the keyring, add it back", which
		// misleads when the wrapping kid is a data key the keyring holds.
		var unknown *UnknownKIDError
		if errors.As(err, &unknown) && unknown.KID != "" && r.Has(unknown.KID) {
			return nil, d, fmt.Errorf("unwrap data key %s: it is wrapped by data key %q; only root keys may unwrap data keys", kid, unknown.KID)
		}
		return nil, d, fmt.Errorf("unwrap data key %s: %w", kid, err)
	}
	// The plaintext is the data key's JWK, k included: never hand it back,
	// not even beside an error.
	plain := d.Plaintext
	d.Plaintext = nil
	key, err := parseJWK(plain)
	clear(plain)
	if err != nil {
		return nil, d, fmt.Errorf("unwrap data key %s: wrapped content is not a valid key: %w", kid, err)
	}
	if key.KID != kid {
		return nil, d, fmt.Errorf("unwrap data key %s: wrapped key says kid %q", kid, key.KID)
	}
	return key, d, nil
}
