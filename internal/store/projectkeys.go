package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// Every project's secrets and their history are encrypted under the
// project's own data key, its project key. It is made in the transaction of
// the project's first write, wrapped under the first root key and bound to
// its project, so a leaked project key opens one project, a shredded
// project's keys go with it, and a root rotation rewraps project keys
// without touching a secret.
//
// A write share-locks its project's primary key row until it commits, so a
// rotation (which locks that row to retire it) waits for writes in flight,
// and no write commits under a key retired meanwhile.

// Project key states: the primary encrypts the project's new values, a
// retired key only decrypts what reencrypt has not yet moved.
const (
	ProjectKeyPrimary = StatePrimary
	ProjectKeyRetired = "retired"
)

// Project keys use direct AES-256-GCM encryption, as data keys do by
// default.
const (
	projectKeyAlg = "dir"
	projectKeyEnc = "A256GCM"
)

// ProjectKey is a project key's metadata; its material stays wrapped, and
// none of these columns is secret (the planner role reads them).
type ProjectKey struct {
	Project     string    `json:"project"`
	KID         string    `json:"kid"`
	State       string    `json:"state"`
	Alg         string    `json:"alg"`
	Enc         string    `json:"enc"`
	WrappingKID string    `json:"wrapping_kid"`
	Revision    int64     `json:"revision"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	UpdatedAt   time.Time `json:"updated_at"`
	UpdatedBy   string    `json:"updated_by"`
}

const projectKeyColumns = "project, kid, state, alg, enc, wrapping_kid, revision, created_at, created_by, updated_at, updated_by"

func scanProjectKey(row pgx.Row, k *ProjectKey, extra ...any) error {
	return row.Scan(append([]any{&k.Project, &k.KID, &k.State, &k.Alg, &k.Enc, &k.WrappingKID, &k.Revision, &k.CreatedAt, &k.CreatedBy, &k.UpdatedAt, &k.UpdatedBy}, extra...)...)
}

func projectKeyWhat(project string) string { return fmt.Sprintf("key of project %q", project) }

// primaryProjectKIDForShare is a scalar subquery for the primary key of the
// project in parameter param ("" when it has none yet), share-locking its
// row until the transaction ends.
func (s *Store) primaryProjectKIDForShare(param string) string {
	return "coalesce((select kid from " + s.table("project_keys") + " where project = " + param + " and state = 'primary' for share), '')"
}

// writeKey returns the key a write to project encrypts with: the project's
// primary key kid (read with primaryProjectKIDForShare in tx), unwrapped on
// first use, or, when the project has none yet, a new one made in tx. Two
// first writers of a project meet on the one-primary index: the second
// waits for the first to commit and takes its key.
func (s *Store) writeKey(ctx context.Context, tx pgx.Tx, project, kid string) (*keyring.Key, error) {
	for range 3 {
		if kid != "" {
			if key, ok := s.keys.ProjectKey(project, kid); ok {
				return key, nil
			}
			return s.openProjectKey(ctx, tx, project, kid)
		}
		key, err := s.createProjectKey(ctx, tx, project)
		if err != nil || key != nil {
			return key, err
		}
		if err := tx.QueryRow(ctx, "select "+s.primaryProjectKIDForShare("$1"), project).Scan(&kid); err != nil {
			return nil, fmt.Errorf("read %s: %w", projectKeyWhat(project), err)
		}
	}
	return nil, fmt.Errorf("read %s: its primary key kept changing during the write; retry", projectKeyWhat(project))
}

// createProjectKey makes project's primary key in tx, with its audit
// event, unless another transaction made one first: then it returns nil
// once that transaction has committed.
func (s *Store) createProjectKey(ctx context.Context, tx pgx.Tx, project string) (*keyring.Key, error) {
	kid, err := newProjectKID()
	if err != nil {
		return nil, err
	}
	key, err := keyring.Generate(kid, projectKeyAlg, projectKeyEnc)
	if err != nil {
		return nil, err
	}
	wrapped, wrappingKID, err := s.keys.WrapProjectKey(project, key, ProjectKeyPrimary, 1)
	if err != nil {
		return nil, err
	}
	tag, err := tx.Exec(ctx, "insert into "+s.table("project_keys")+` (kid, project, state, alg, enc, wrapped_key, wrapping_kid, created_by, updated_by)
		values ($1, $2, 'primary', $3, $4, $5, $6, $7, $7)
		on conflict (project) where state = 'primary' do nothing`,
		key.KID, project, key.Alg, key.Enc, wrapped, wrappingKID, s.actor)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", projectKeyWhat(project), err)
	}
	if tag.RowsAffected() == 0 {
		return nil, nil
	}
	err = s.appendAudit(ctx, tx, &audit.Event{
		Action: audit.ActionKeyCreate, Project: project, Subject: key.KID,
		Details: audit.Details(map[string]any{"scope": "project", "alg": key.Alg, "enc": key.Enc, "state": ProjectKeyPrimary, "wrapping_kid": wrappingKID}),
	})
	if err != nil {
		return nil, err
	}
	// Cached before the commit: if tx rolls back, the kid is in no row and
	// nothing will ever name it.
	if err := s.keys.AddProjectKey(project, key); err != nil {
		return nil, err
	}
	return key, nil
}

// newProjectKID names a project key: "pk-", the date, and twelve random
// alphanumerics, since a store may make thousands of project keys a day.
func newProjectKID() (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random kid: %w", err)
	}
	for i, v := range b {
		// 62 letters: the bias of v%62 over 256 values is irrelevant for a
		// name that only needs to be unique.
		b[i] = alphabet[int(v)%len(alphabet)]
	}
	return "pk-" + time.Now().UTC().Format("060102") + "-" + string(b[:]), nil
}

// openProjectKey reads the project key named kid through q, checks that it
// is project's and that its wrapping authenticates its row (project, state,
// revision), and keeps it unwrapped in the keyring.
func (s *Store) openProjectKey(ctx context.Context, q querier, project, kid string) (*keyring.Key, error) {
	if err := s.needKeys("open a project key"); err != nil {
		return nil, err
	}
	return s.openProjectKeyOnce(project, kid, func() (*keyring.Key, error) {
		return s.unwrapProjectKey(ctx, q, project, kid)
	})
}

// openProjectKeyOnce returns project key kid of project, opened by
// unwrap unless the keyring holds it: callers that need the same key at
// once share one unwrap, hence one call to a key service.
func (s *Store) openProjectKeyOnce(project, kid string, unwrap func() (*keyring.Key, error)) (*keyring.Key, error) {
	key, err, _ := s.opening.Do(project+"/"+kid, func() (any, error) {
		if key, ok := s.keys.ProjectKey(project, kid); ok {
			return key, nil // opened by a caller that went just before
		}
		return unwrap()
	})
	if err != nil {
		return nil, err
	}
	return key.(*keyring.Key), nil
}

// unwrapProjectKey reads project key kid through q, unwraps it with the
// root keys and adds it to the keyring.
func (s *Store) unwrapProjectKey(ctx context.Context, q querier, project, kid string) (*keyring.Key, error) {
	var (
		owner, state, wrapped string
		revision              int64
	)
	err := q.QueryRow(ctx, "select project, state, revision, wrapped_key from "+s.table("project_keys")+" where kid = $1", kid).
		Scan(&owner, &state, &revision, &wrapped)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNotProjectKey
	}
	if err != nil {
		return nil, fmt.Errorf("read project key %s: %w", kid, err)
	}
	if owner != project {
		return nil, &keyring.ProjectMismatchError{KID: kid, KeyProject: owner, Project: project}
	}
	return s.addWrappedProjectKey(owner, kid, state, revision, wrapped)
}

// addWrappedProjectKey unwraps project key kid, as read from its row, and
// adds it to the keyring.
func (s *Store) addWrappedProjectKey(project, kid, state string, revision int64, wrapped string) (*keyring.Key, error) {
	key, err := s.keys.UnwrapProjectKey(project, kid, state, revision, wrapped)
	if err != nil {
		return nil, err
	}
	if err := s.keys.AddProjectKey(project, key); err != nil {
		return nil, err
	}
	return key, nil
}

// errNotProjectKey is openProjectKey's answer for a kid no project key
// has: the caller looks among the data keys next.
var errNotProjectKey = errors.New("no project key has this kid")

// decryptIn opens a ciphertext of project written for binding, through q.
// A key the keyring does not hold yet (a project key used for the first
// time in this process, a data key made by another process) is read from
// the database and unwrapped once.
func (s *Store) decryptIn(ctx context.Context, q querier, project string, token string, binding keyring.Binding) (keyring.Decrypted, error) {
	d, err := s.keys.DecryptInProject(token, binding, project)
	var unknown *keyring.UnknownKIDError
	if !errors.As(err, &unknown) || unknown.KID == "" {
		return d, err
	}
	// One round trip finds and opens a project key; a kid that is none is
	// a data key's, perhaps made by another process since this one loaded.
	_, err = s.openProjectKey(ctx, q, project, unknown.KID)
	switch {
	case errors.Is(err, errNotProjectKey):
		if err := s.loadDataKeys(ctx, q); err != nil {
			return d, err
		}
	case err != nil:
		return keyring.Decrypted{}, err
	}
	return s.keys.DecryptInProject(token, binding, project)
}

// GetProjectKey reads the metadata of project's primary key.
func (s *Store) GetProjectKey(ctx context.Context, project string) (ProjectKey, error) {
	var k ProjectKey
	err := scanProjectKey(s.pool.QueryRow(ctx, "select "+projectKeyColumns+" from "+s.table("project_keys")+
		" where project = $1 and state = 'primary'", project), &k)
	if errors.Is(err, pgx.ErrNoRows) {
		return ProjectKey{}, &NotFoundError{What: projectKeyWhat(project)}
	}
	if err != nil {
		return ProjectKey{}, fmt.Errorf("read %s: %w", projectKeyWhat(project), err)
	}
	return k, nil
}
