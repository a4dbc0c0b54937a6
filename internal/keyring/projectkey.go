package keyring

import (
	"errors"
	"fmt"
	"strconv"
)

// A project key is a data key of one project: it encrypts that project's
// secrets and their history, and nothing else. The keyring holds each one
// it has unwrapped, with the project it belongs to, so that a ciphertext of
// one project that names another project's key is refused even when it
// authenticates: a leaked project key opens its own project only.

// projectKey is an unwrapped project key and the project it belongs to.
type projectKey struct {
	project string
	key     *Key
}

// ProjectKeyBinding is the binding of a wrapped project key: the project
// and kid, and the revision and state of its row, so that a database
// writer can neither move a key to another project nor make a retired key
// primary again by editing a column.
func ProjectKeyBinding(project, kid, state string, revision int64) Binding {
	return Binding("projectkey:" + project + "/" + kid + "#" + strconv.FormatInt(revision, 10) + "/" + state)
}

// WrapProjectKey seals a project key's JWK under the first root key, bound
// to its project, kid, state and revision.
func (r *Keyring) WrapProjectKey(project string, key *Key, state string, revision int64) (wrapped, wrappingKID string, err error) {
	return r.wrapKey(key, ProjectKeyBinding(project, key.KID, state, revision))
}

// UnwrapProjectKey opens a wrapped project key with the root keys only,
// checking that its row's project, state and revision are those it was
// wrapped with. It does not add the key to the keyring (AddProjectKey).
func (r *Keyring) UnwrapProjectKey(project, kid, state string, revision int64, wrapped string) (*Key, error) {
	binding := ProjectKeyBinding(project, kid, state, revision)
	key, d, err := r.unwrapKey("project key", kid, binding, wrapped)
	if err != nil {
		return nil, err
	}
	// Project keys are only ever wrapped with their full binding; one
	// without is not this product's.
	if !d.Versioned {
		return nil, fmt.Errorf("unwrap project key %s: %w", kid, &BindingMismatchError{Want: binding, Got: "(none)"})
	}
	return key, nil
}

// AddProjectKey makes an unwrapped project key available for the secrets
// of project. A kid that names a root or global data key is refused.
func (r *Keyring) AddProjectKey(project string, key *Key) error {
	if r.rootByKID(key.KID) != nil {
		return fmt.Errorf("keyring: project key kid %q is also a root key's kid", key.KID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dataKeys[key.KID] != nil {
		return fmt.Errorf("keyring: project key kid %q is also a data key's kid", key.KID)
	}
	if pk, ok := r.projectKeys[key.KID]; ok && pk.project != project {
		return &ProjectMismatchError{KID: key.KID, KeyProject: pk.project, Project: project}
	}
	r.projectKeys[key.KID] = projectKey{project: project, key: key}
	return nil
}

// ProjectKey returns the unwrapped project key named kid if the keyring
// holds it for project.
func (r *Keyring) ProjectKey(project, kid string) (*Key, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	pk, ok := r.projectKeys[kid]
	if !ok || pk.project != project {
		return nil, false
	}
	return pk.key, true
}

// HoldsProjectKey reports whether the keyring holds any key of project
// unwrapped, as it does once the project's key was opened or made in this
// process.
func (r *Keyring) HoldsProjectKey(project string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, pk := range r.projectKeys {
		if pk.project == project {
			return true
		}
	}
	return false
}

// ForgetProject drops every key of project from memory, as after the
// project is shredded.
func (r *Keyring) ForgetProject(project string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for kid, pk := range r.projectKeys {
		if pk.project == project {
			delete(r.projectKeys, kid)
		}
	}
}

// ForgetProjectKey drops the project key named kid from memory, as after
// it is deleted.
func (r *Keyring) ForgetProjectKey(kid string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.projectKeys, kid)
}

// EncryptWith seals plaintext under key, bound to binding. A root key held
// by a key service is refused: it wraps keys, never a value (a store not
// yet moved to project keys must move before such a root comes first).
func EncryptWith(key *Key, plaintext []byte, binding Binding) (string, error) {
	if key.wrapper != nil {
		return "", fmt.Errorf("encrypt a value with root key %s (%s): %w; move this store to project keys first (`pgsecrets reencrypt`)", key.KID, key.wrapper, ErrWrappedRoot)
	}
	return encrypt(key, plaintext, binding)
}

// DecryptInProject opens a ciphertext of project, written for binding. A
// project key opens only its own project's ciphertexts: one of another
// project is refused with ProjectMismatchError, however well it
// authenticates. Root and global data keys open any project's (they are
// what stores held before project keys).
func (r *Keyring) DecryptInProject(token string, binding Binding, project string) (Decrypted, error) {
	var mismatch *ProjectMismatchError
	d, err := r.decryptWith(token, binding, func(kid string) *Key {
		if k := r.lookup(kid); k != nil {
			return k
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		pk, ok := r.projectKeys[kid]
		if !ok {
			return nil
		}
		if pk.project != project {
			mismatch = &ProjectMismatchError{KID: kid, KeyProject: pk.project, Project: project}
			return nil
		}
		return pk.key
	})
	if mismatch != nil {
		return Decrypted{}, mismatch
	}
	return d, err
}

// IsProjectMismatch reports whether err refuses a key of another project.
func IsProjectMismatch(err error) bool {
	var m *ProjectMismatchError
	return errors.As(err, &m)
}

// ProjectMismatchError refuses a project key used for another project's
// secret: a ciphertext, or a key row, moved between projects.
type ProjectMismatchError struct {
	KID        string
	KeyProject string
	Project    string
}

func (e *ProjectMismatchError) Error() string {
	return fmt.Sprintf("key %q is project %q's key, not project %q's: a ciphertext or key row was moved between projects in the database and is refused", e.KID, e.KeyProject, e.Project)
}
