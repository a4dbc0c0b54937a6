package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// Data key states.
const (
	StatePrimary  = "primary"
	StateActive   = "active"
	StateDisabled = "disabled"
)

// DataKey is a data key's metadata; its material stays wrapped.
type DataKey struct {
	KID         string    `json:"kid"`
	Alg         string    `json:"alg"`
	Enc         string    `json:"enc"`
	State       string    `json:"state"`
	WrappingKID string    `json:"wrapping_kid"`
	Revision    int64     `json:"revision"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	UpdatedAt   time.Time `json:"updated_at"`
	UpdatedBy   string    `json:"updated_by"`
}

const keyColumns = "kid, alg, enc, state, wrapping_kid, revision, created_at, created_by, updated_at, updated_by"

func scanKey(row pgx.Row, k *DataKey, extra ...any) error {
	return row.Scan(append([]any{&k.KID, &k.Alg, &k.Enc, &k.State, &k.WrappingKID, &k.Revision, &k.CreatedAt, &k.CreatedBy, &k.UpdatedAt, &k.UpdatedBy}, extra...)...)
}

func keyWhat(kid string) string { return fmt.Sprintf("encryption key %q", kid) }

// ValidateKeyState checks a data key state.
func ValidateKeyState(state string) error {
	switch state {
	case StatePrimary, StateActive, StateDisabled:
		return nil
	}
	return fmt.Errorf("key state %q is not valid: use primary, active or disabled", state)
}

// LoadDataKeys unwraps every enabled data key into the keyring, replacing
// what it held, so that the keyring matches the database. A row whose state
// or revision differs from what its wrapping authenticates was edited in
// the database, and is refused.
func (s *Store) LoadDataKeys(ctx context.Context) error {
	return s.loadDataKeys(ctx, s.pool)
}

// loadDataKeys is LoadDataKeys through q: a write's own transaction reloads
// through itself, since waiting for a second connection while holding one
// can deadlock a small pool (max_connections = 1, or many concurrent
// writes).
func (s *Store) loadDataKeys(ctx context.Context, q querier) error {
	if err := s.needKeys("load data keys"); err != nil {
		return err
	}
	rows, err := q.Query(ctx, "select kid, state, revision, wrapped_key from "+s.table("encryption_keys")+" where state <> 'disabled'")
	if err != nil {
		return fmt.Errorf("read data keys: %w", err)
	}
	defer rows.Close()
	var (
		keys    []*keyring.Key
		primary string
	)
	for rows.Next() {
		var (
			kid, state, wrapped string
			revision            int64
		)
		if err := rows.Scan(&kid, &state, &revision, &wrapped); err != nil {
			return fmt.Errorf("read data keys: %w", err)
		}
		key, err := s.unwrapDataKey(kid, state, revision, wrapped)
		if err != nil {
			return err
		}
		keys = append(keys, key)
		if state == StatePrimary {
			primary = kid
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read data keys: %w", err)
	}
	return s.keys.SetDataKeys(keys, primary)
}

// unwrapDataKey opens a data key row; in strict mode its wrapping must
// authenticate its state and revision, which wrappings made before that was
// bound do not (reencrypt rewraps them).
func (s *Store) unwrapDataKey(kid, state string, revision int64, wrapped string) (*keyring.Key, error) {
	if err := s.needKeys("open a data key"); err != nil {
		return nil, err
	}
	key, d, err := s.keys.UnwrapDataKey(kid, state, revision, wrapped)
	if err != nil {
		return nil, err
	}
	if s.strict && !d.Versioned {
		return nil, &UnboundError{What: keyWhat(kid), Bound: d.Bound}
	}
	return key, nil
}

// rewrapKeyRow gives a locked data key row a new state and the next
// revision, rewrapping its key so that the wrapping authenticates both.
func (s *Store) rewrapKeyRow(ctx context.Context, tx pgx.Tx, kid, state string) (DataKey, error) {
	var (
		oldState, wrapped string
		revision          int64
	)
	err := tx.QueryRow(ctx, "select state, revision, wrapped_key from "+s.table("encryption_keys")+" where kid = $1 for update", kid).
		Scan(&oldState, &revision, &wrapped)
	if errors.Is(err, pgx.ErrNoRows) {
		return DataKey{}, &NotFoundError{What: keyWhat(kid)}
	}
	if err != nil {
		return DataKey{}, fmt.Errorf("read %s: %w", keyWhat(kid), err)
	}
	key, err := s.unwrapDataKey(kid, oldState, revision, wrapped)
	if err != nil {
		return DataKey{}, err
	}
	rewrapped, wrappingKID, err := s.keys.WrapDataKey(key, state, revision+1)
	if err != nil {
		return DataKey{}, err
	}
	var dk DataKey
	err = scanKey(tx.QueryRow(ctx, "update "+s.table("encryption_keys")+` set state = $2, revision = $3, wrapped_key = $4, wrapping_kid = $5,
			updated_at = now(), updated_by = $6
		where kid = $1 returning `+keyColumns, kid, state, revision+1, rewrapped, wrappingKID, s.actor), &dk)
	if err != nil {
		return DataKey{}, fmt.Errorf("update %s: %w", keyWhat(kid), err)
	}
	return dk, nil
}

// primaryKIDForShare is a scalar subquery for the primary data key's kid
// (empty when the root key is primary), share-locking its row so that the
// primary cannot change before the transaction ends.
func (s *Store) primaryKIDForShare() string {
	return "coalesce((select kid from " + s.table("encryption_keys") + " where state = 'primary' for share), '')"
}

// followPrimary reloads the data keys when the database's primary (kid, read
// with primaryKIDForShare) is not the keyring's.
func (s *Store) followPrimary(ctx context.Context, tx pgx.Tx, kid string) error {
	current := s.keys.Primary().KID
	if kid == current || (kid == "" && s.keys.IsRoot(current)) {
		return nil
	}
	return s.loadDataKeys(ctx, tx)
}

// CreateDataKeyInput describes a new data key.
type CreateDataKeyInput struct {
	KID   string // generated when empty
	Alg   string
	Enc   string
	State string
}

// CreateDataKey generates a data key, wraps it under the first root key and
// stores only the wrapped form. A new primary demotes the old one to active
// in the same transaction. Only a store not yet moved to project keys takes
// new data keys: in one that has, they would encrypt nothing.
func (s *Store) CreateDataKey(ctx context.Context, in CreateDataKeyInput) (DataKey, error) {
	if err := s.needKeys("create a data key"); err != nil {
		return DataKey{}, err
	}
	if err := s.refuseWithProjectKeys(ctx, "create a data key"); err != nil {
		return DataKey{}, err
	}
	if err := ValidateKeyState(in.State); err != nil {
		return DataKey{}, err
	}
	key, err := keyring.Generate(in.KID, in.Alg, in.Enc)
	if err != nil {
		return DataKey{}, err
	}
	if s.keys.IsRoot(key.KID) {
		return DataKey{}, fmt.Errorf("kid %q is already a root key's kid; choose another", key.KID)
	}
	wrapped, wrappingKID, err := s.keys.WrapDataKey(key, in.State, 1)
	if err != nil {
		return DataKey{}, err
	}
	var dk DataKey
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if in.State == StatePrimary {
			if err := s.demotePrimary(ctx, tx, key.KID); err != nil {
				return err
			}
		}
		err := scanKey(tx.QueryRow(ctx, `
			insert into `+s.table("encryption_keys")+` (kid, alg, enc, state, wrapped_key, wrapping_kid, created_by, updated_by)
			values ($1, $2, $3, $4, $5, $6, $7, $7)
			returning `+keyColumns, key.KID, key.Alg, key.Enc, in.State, wrapped, wrappingKID, s.actor), &dk)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return &ConflictError{What: keyWhat(key.KID), Expected: 0, Current: 1}
		}
		if err != nil {
			return fmt.Errorf("create %s: %w", keyWhat(key.KID), err)
		}
		return s.appendAudit(ctx, tx, &audit.Event{
			Action: audit.ActionKeyCreate, Subject: key.KID,
			Details: audit.Details(map[string]any{"alg": key.Alg, "enc": key.Enc, "state": in.State, "wrapping_kid": wrappingKID}),
		})
	})
	if err != nil {
		return DataKey{}, err
	}
	if in.State != StateDisabled {
		if err := s.keys.AddDataKey(key, in.State == StatePrimary); err != nil {
			return DataKey{}, err
		}
	}
	return dk, nil
}

// demotePrimary makes the current primary (other than kid) active.
func (s *Store) demotePrimary(ctx context.Context, tx pgx.Tx, kid string) error {
	var old string
	err := tx.QueryRow(ctx, "select kid from "+s.table("encryption_keys")+" where state = 'primary' and kid <> $1 for update", kid).Scan(&old)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read primary key: %w", err)
	}
	if _, err := s.rewrapKeyRow(ctx, tx, old, StateActive); err != nil {
		return fmt.Errorf("demote primary key: %w", err)
	}
	return s.appendAudit(ctx, tx, &audit.Event{
		Action: audit.ActionKeyUpdate, Subject: old,
		Details: audit.Details(map[string]any{"state": StateActive, "reason": "primary moved to " + kid}),
	})
}

// GetDataKey reads a data key's metadata.
func (s *Store) GetDataKey(ctx context.Context, kid string) (DataKey, error) {
	var dk DataKey
	err := scanKey(s.pool.QueryRow(ctx, "select "+keyColumns+" from "+s.table("encryption_keys")+" where kid = $1", kid), &dk)
	if errors.Is(err, pgx.ErrNoRows) {
		return DataKey{}, &NotFoundError{What: keyWhat(kid)}
	}
	if err != nil {
		return DataKey{}, fmt.Errorf("read %s: %w", keyWhat(kid), err)
	}
	return dk, nil
}

// ListDataKeys returns every data key, oldest first.
func (s *Store) ListDataKeys(ctx context.Context) ([]DataKey, error) {
	rows, err := s.pool.Query(ctx, "select "+keyColumns+" from "+s.table("encryption_keys")+" order by created_at, kid")
	if err != nil {
		return nil, fmt.Errorf("list encryption keys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DataKey, error) {
		var dk DataKey
		return dk, scanKey(r, &dk)
	})
	if err != nil {
		return nil, fmt.Errorf("list encryption keys: %w", err)
	}
	return out, nil
}

// SetDataKeyState changes a key's state. Disabling a key that still
// encrypts secrets is refused; making one primary demotes the old primary.
func (s *Store) SetDataKeyState(ctx context.Context, kid, state string) (DataKey, error) {
	if err := ValidateKeyState(state); err != nil {
		return DataKey{}, err
	}
	if state == StatePrimary {
		if err := s.refuseWithProjectKeys(ctx, "make data key "+kid+" primary"); err != nil {
			return DataKey{}, err
		}
	}
	var dk DataKey
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if state == StateDisabled {
			if err := s.refuseIfInUse(ctx, tx, kid); err != nil {
				return err
			}
		}
		if state == StatePrimary {
			if err := s.demotePrimary(ctx, tx, kid); err != nil {
				return err
			}
		}
		var err error
		if dk, err = s.rewrapKeyRow(ctx, tx, kid, state); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, &audit.Event{
			Action: audit.ActionKeyUpdate, Subject: kid,
			Details: audit.Details(map[string]any{"state": state}),
		})
	})
	if err != nil {
		return DataKey{}, err
	}
	return dk, s.LoadDataKeys(ctx)
}

// DeleteDataKey removes a data key that nothing uses any more.
func (s *Store) DeleteDataKey(ctx context.Context, kid string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := s.refuseIfInUse(ctx, tx, kid); err != nil {
			return err
		}
		return s.deleteKeyRow(ctx, tx, kid)
	})
	if err != nil {
		return err
	}
	s.keys.RemoveDataKey(kid)
	return nil
}

// deleteKeyRow deletes a data key row, locked and found unused, with its
// audit event.
func (s *Store) deleteKeyRow(ctx context.Context, tx pgx.Tx, kid string) error {
	tag, err := tx.Exec(ctx, "delete from "+s.table("encryption_keys")+" where kid = $1", kid)
	if err != nil {
		return fmt.Errorf("delete %s: %w", keyWhat(kid), err)
	}
	if tag.RowsAffected() == 0 {
		return &NotFoundError{What: keyWhat(kid)}
	}
	return s.appendAudit(ctx, tx, &audit.Event{Action: audit.ActionKeyDelete, Subject: kid})
}

// RetireDataKey removes a data key that no secret uses. When only kept
// history (earlier values, deleted secrets) still uses it, the key is
// disabled instead, so that nothing becomes undecryptable: a rollback or an
// undelete of those values works again once the key is enabled. It reports
// whether the key was deleted and, if not, how many versions keep it.
func (s *Store) RetireDataKey(ctx context.Context, kid string) (deleted bool, versions int64, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		deleted, versions = false, 0
		err := s.refuseIfInUse(ctx, tx, kid)
		var inUse *KeyInUseError
		switch {
		case err == nil:
			deleted = true
			return s.deleteKeyRow(ctx, tx, kid)
		case !errors.As(err, &inUse) || inUse.Secrets > 0:
			return err
		}
		versions = inUse.Versions
		if _, err := s.rewrapKeyRow(ctx, tx, kid, StateDisabled); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, &audit.Event{
			Action: audit.ActionKeyUpdate, Subject: kid,
			Details: audit.Details(map[string]any{"state": StateDisabled, "reason": "retired while kept history uses it", "versions": versions}),
		})
	})
	if err != nil {
		return false, 0, err
	}
	if deleted {
		s.keys.RemoveDataKey(kid)
		return true, 0, nil
	}
	return false, versions, s.LoadDataKeys(ctx)
}

// refuseIfInUse locks the key row (so no writer can pick it as primary
// meanwhile) and fails with KeyInUseError while secrets or kept versions
// use it.
func (s *Store) refuseIfInUse(ctx context.Context, tx pgx.Tx, kid string) error {
	var state string
	err := tx.QueryRow(ctx, "select state from "+s.table("encryption_keys")+" where kid = $1 for update", kid).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return &NotFoundError{What: keyWhat(kid)}
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", keyWhat(kid), err)
	}
	var secrets, versions int64
	err = tx.QueryRow(ctx, "select (select count(*) from "+s.table("secrets")+" where kid = $1), (select count(*) from "+
		s.table("secret_versions")+" where kid = $1)", kid).Scan(&secrets, &versions)
	if err != nil {
		return fmt.Errorf("count secrets under %s: %w", keyWhat(kid), err)
	}
	if secrets+versions > 0 {
		return &KeyInUseError{KID: kid, Secrets: secrets, Versions: versions}
	}
	return nil
}

// KeyUsage is one kid's share of the store.
type KeyUsage struct {
	KID     string `json:"kid"`
	Kind    string `json:"kind"`  // "root", "data", or "unknown" (in no key)
	State   string `json:"state"` // primary, active or disabled; "" for unknown
	Secrets int64  `json:"secrets"`
	// Versions counts the kept earlier values (history) it encrypts.
	Versions int64 `json:"versions"`
	// Unbound counts ciphertexts that carry no binding (they open in any
	// row), RowOnly those bound to their row but not to its revision
	// (written before revisions were bound). Both are read from the
	// ciphertexts themselves, not from a column a writer could set.
	Unbound int64 `json:"unbound"`
	RowOnly int64 `json:"row_only"`
	// Inconsistent counts rows whose kid column disagrees with the kid
	// their ciphertext names, or whose ciphertext cannot be read: edited in
	// the database.
	Inconsistent int64 `json:"inconsistent,omitempty"`
	// DataKeys is, for a root key, how many data keys it wraps.
	DataKeys int64 `json:"data_keys"`
	// ProjectKeys is, for a root key, how many project keys it wraps.
	ProjectKeys int64 `json:"project_keys"`
	// Project is, for a project key, the project it belongs to.
	Project string `json:"project,omitempty"`
}

// KeyUsage reports every key the deployment knows or the data mentions:
// root keys in configuration order, then data keys, then project keys by
// project, then kids found in secrets that match no key.
func (s *Store) KeyUsage(ctx context.Context) ([]KeyUsage, error) {
	counts := map[string]*KeyUsage{}
	// The counts come from the ciphertexts' headers; key_usage() reads them
	// as the owner, so a role that may not read ciphertexts gets them too.
	rows, err := s.pool.Query(ctx, "select kid, secrets, versions, unbound, row_only, inconsistent from "+s.table("key_usage")+"()")
	if err != nil {
		return nil, fmt.Errorf("count secrets per key: %w", err)
	}
	for rows.Next() {
		u := &KeyUsage{}
		if err := rows.Scan(&u.KID, &u.Secrets, &u.Versions, &u.Unbound, &u.RowOnly, &u.Inconsistent); err != nil {
			return nil, fmt.Errorf("count secrets per key: %w", err)
		}
		counts[u.KID] = u
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count secrets per key: %w", err)
	}
	wraps := map[string]int64{}
	projectWraps := map[string]int64{}
	rows, err = s.pool.Query(ctx, `select wrapping_kid, count(*) filter (where data), count(*) filter (where not data) from (
		select wrapping_kid, true as data from `+s.table("encryption_keys")+`
		union all select wrapping_kid, false from `+s.table("project_keys")+`) as x group by wrapping_kid`)
	if err != nil {
		return nil, fmt.Errorf("count data keys per root key: %w", err)
	}
	for rows.Next() {
		var kid string
		var n, p int64
		if err := rows.Scan(&kid, &n, &p); err != nil {
			return nil, fmt.Errorf("count data keys per root key: %w", err)
		}
		wraps[kid], projectWraps[kid] = n, p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count data keys per root key: %w", err)
	}
	dataKeys, err := s.ListDataKeys(ctx)
	if err != nil {
		return nil, err
	}
	take := func(kid string) KeyUsage {
		u := KeyUsage{KID: kid}
		if c, ok := counts[kid]; ok {
			u = *c
			delete(counts, kid)
		}
		return u
	}
	primary, roots := "", s.rootCheck.known
	if s.keys != nil {
		primary, roots = s.keys.Primary().KID, s.keys.RootKIDs()
	}
	var out []KeyUsage
	for _, kid := range roots {
		u := take(kid)
		u.Kind, u.DataKeys, u.ProjectKeys, u.State = "root", wraps[kid], projectWraps[kid], StateActive
		switch {
		case kid == primary:
			u.State = StatePrimary
		case s.keys == nil:
			u.State = "registered" // which one is first is the writers' configuration
		}
		out = append(out, u)
	}
	// Registered root keys this process is not configured with: retired
	// ones, or a key another host writes with. Their secrets and data keys
	// count under them, not as unknown.
	for _, kid := range s.rootCheck.known {
		if slices.Contains(roots, kid) {
			continue
		}
		u := take(kid)
		u.Kind, u.DataKeys, u.ProjectKeys, u.State = "root", wraps[kid], projectWraps[kid], "registered"
		out = append(out, u)
	}
	for _, dk := range dataKeys {
		u := take(dk.KID)
		u.Kind, u.State = "data", dk.State
		out = append(out, u)
	}
	projectKeys, err := s.projectKeyMeta(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, pk := range projectKeys {
		u := take(pk.KID)
		u.Kind, u.State, u.Project = "project", pk.State, pk.Project
		out = append(out, u)
	}
	unknown := make([]string, 0, len(counts))
	for kid := range counts {
		unknown = append(unknown, kid)
	}
	sort.Strings(unknown)
	for _, kid := range unknown {
		u := take(kid)
		u.Kind = "unknown"
		out = append(out, u)
	}
	return out, nil
}

// ProjectKeysStoreError refuses to make or promote a global data key in a
// store whose values go under project keys: it would encrypt nothing.
type ProjectKeysStoreError struct{ What string }

func (e *ProjectKeysStoreError) Error() string {
	return fmt.Sprintf("%s: this store encrypts each project under its own key (project keys), so a global data key would encrypt nothing; use pgsecrets_project_key (Terraform) or `pgsecrets reencrypt --rotate-project-key` to manage keys (docs/rotation.md)", e.What)
}

// refuseWithProjectKeys refuses what only a store not yet moved to project
// keys can use.
func (s *Store) refuseWithProjectKeys(ctx context.Context, what string) error {
	if _, on, err := s.ProjectKeysSince(ctx); err != nil || !on {
		return err
	}
	return &ProjectKeysStoreError{What: what}
}
