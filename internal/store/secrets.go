package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/catalog"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// SecretMeta is everything about a secret but its value.
type SecretMeta struct {
	Project     string `json:"project"`
	Name        string `json:"name"`
	KID         string `json:"kid"`
	Bound       bool   `json:"bound"`
	Description string `json:"description"`
	Category    string `json:"category"`
	// RequiresRestart says applications must restart to use a new value.
	RequiresRestart bool      `json:"requires_restart"`
	Revision        int64     `json:"revision"`
	CreatedAt       time.Time `json:"created_at"`
	CreatedBy       string    `json:"created_by"`
	UpdatedAt       time.Time `json:"updated_at"`
	UpdatedBy       string    `json:"updated_by"`
	// UpdatedVia is the channel of the last write: "cli", "terraform",
	// "dashboard", or "" when unknown (see Config.Channel).
	UpdatedVia string `json:"updated_via"`
	// Sealed is a digest of the stored ciphertext. It changes with every
	// write and re-encryption, and when someone replaces the ciphertext in
	// the database without touching the revision, which is how Terraform
	// notices an older value copied back. Empty when read without root
	// keys (see metaColumns).
	Sealed string `json:"-"`
	// Unchanged is set by a PutSecret with SameIsDone that found the
	// secret already holding what it would have written, and wrote
	// nothing.
	Unchanged bool `json:"-"`
}

// Secret is a secret with its decrypted value.
type Secret struct {
	SecretMeta
	Value []byte
	// Unbound is true when the ciphertext carried no binding: it would have
	// opened in any row, so callers warn about it.
	Unbound bool `json:"-"`
}

// Revision expectations for PutSecret and DeleteSecret.
const (
	// MustNotExist creates the secret, failing with a ConflictError if it exists.
	MustNotExist int64 = 0
	// AnyRevision writes whatever the current revision is.
	AnyRevision int64 = -1
)

// MaxValueBytes is the most a secret's value may hold, whoever writes it.
// A secret is a credential, not a file store: the bound keeps a wrong file
// or an endless pipe out of memory and the database.
const MaxValueBytes = 1 << 20

// PutSecretInput is a write of a secret. Every writer (the CLI, import-env,
// Terraform, the dashboard, a rollback, an undelete) goes through
// PutSecret, which applies the write policy once: a value of 1 byte to
// MaxValueBytes, the catalog's category and restart notice for well-known
// names when the caller leaves them unset, and the catalog's shape check
// when Validate is set.
type PutSecretInput struct {
	Project     string
	Name        string
	Value       []byte
	Description string
	// Category defaults, when empty, to the catalog's for a well-known name.
	Category string
	// RequiresRestart marks the secret as needing an application restart
	// when it changes (see `pgsecrets status --since`); nil takes the
	// catalog's answer for the name.
	RequiresRestart *bool
	// Validate checks a well-known name's value against the catalog's
	// shape before anything is written.
	Validate bool
	// ExpectedRevision is MustNotExist, AnyRevision, or the revision the
	// caller read: the write happens only if the row is still at it.
	ExpectedRevision int64
	// Action names the write in the history and the audit trail; empty
	// means create or update, as the case is.
	Action string
	// SameIsDone makes a write of exactly what the secret already holds
	// (value, description, category, restart notice) write nothing and
	// return the secret as it is, with Unchanged set, whatever
	// ExpectedRevision says: a write run again after its connection was
	// lost (OutcomeUnknownError) is then not applied twice when the first
	// attempt committed. Another writer's change in between is still a
	// change, and the write then happens (or conflicts) as usual.
	SameIsDone bool
	// details are extra audit details (a rollback's source revision).
	details map[string]any
}

// Write actions recorded in the history.
const (
	WriteCreate   = "create"
	WriteUpdate   = "update"
	WriteRollback = "rollback"
	WriteUndelete = "undelete"
)

// ApplyPolicy checks the value's size, fills in the catalog's defaults and
// checks the value's shape, as PutSecret does; a dry run calls it to report
// what a write would do.
func (in *PutSecretInput) ApplyPolicy() error {
	if err := ValidateValue(in.Project, in.Name, in.Value); err != nil {
		return err
	}
	if in.Category == "" {
		in.Category = catalog.DefaultCategory(in.Name)
	}
	if in.RequiresRestart == nil {
		restart := catalog.RequiresRestart(in.Name)
		in.RequiresRestart = &restart
	}
	if in.Validate {
		return catalog.Validate(in.Name, string(in.Value))
	}
	return nil
}

// ValidateValue refuses, with a *ValueError, a value of project/name that
// is empty or larger than MaxValueBytes. ApplyPolicy calls it on every
// write; callers that can refuse earlier (Terraform at plan time) call it
// too, so every writer says the same. It reads only the value's length.
func ValidateValue[V ~string | ~[]byte](project, name string, value V) error {
	switch {
	case len(value) == 0:
		return &ValueError{What: secretWhat(project, name), Empty: true}
	case len(value) > MaxValueBytes:
		return &ValueError{What: secretWhat(project, name)}
	}
	return nil
}

// ReadValue reads a value from a file or a pipe to its end, without one
// trailing line ending (\n or \r\n), the one echo and editors add: `echo
// "$TOKEN" | pgsecrets secret add` stores exactly $TOKEN. Any other
// trailing whitespace is deliberate and kept. It stops a few bytes past
// MaxValueBytes, so an endless pipe cannot fill memory; what it returns
// may still be too large, and PutSecret refuses it.
func ReadValue(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxValueBytes+int64(len("\r\n"))+1))
	if err != nil {
		return nil, err
	}
	if bytes.HasSuffix(b, []byte("\r\n")) {
		return b[:len(b)-2], nil
	}
	return bytes.TrimSuffix(b, []byte("\n")), nil
}

const (
	secretColumns = metaColumnsNoDigest + ", " + sealedDigest
	// sealedDigest is SecretMeta.Sealed: it reads the ciphertext.
	sealedDigest        = "left(encode(sha256(convert_to(ciphertext, 'UTF8')), 'hex'), 32)"
	metaColumnsNoDigest = "project, name, kid, bound, description, category, requires_restart, revision, created_at, created_by, updated_at, updated_by, updated_via"
)

// metaColumns is what a metadata read selects. Without root keys the store
// may run as a planner role that cannot read ciphertexts, and a digest
// would serve nothing (nothing can be decrypted to tell a re-encryption
// from a copied-back value), so Sealed is left empty.
func (s *Store) metaColumns() string {
	if s.keys == nil {
		return metaColumnsNoDigest + ", ''"
	}
	return secretColumns
}

func scanMeta(row pgx.Row, m *SecretMeta, extra ...any) error {
	dest := append([]any{&m.Project, &m.Name, &m.KID, &m.Bound, &m.Description, &m.Category, &m.RequiresRestart, &m.Revision, &m.CreatedAt, &m.CreatedBy, &m.UpdatedAt, &m.UpdatedBy, &m.UpdatedVia, &m.Sealed}, extra...)
	return row.Scan(dest...)
}

// GetSecret decrypts a secret and records the read in the audit trail, with
// purpose (e.g. "cli", "terraform refresh") and the revision read in its
// details. Through a read URL it reads the standby, and the primary when
// the standby may only be behind (see readpool.go); the audit event always
// goes to the primary.
func (s *Store) GetSecret(ctx context.Context, project, name, purpose string) (Secret, error) {
	if err := s.needKeys("decrypt a secret"); err != nil {
		return Secret{}, err
	}
	from := s
	sec, err := s.readSecret(ctx, project, name)
	if s.onPrimaryInstead(err) {
		from = s.Consistent()
		sec, err = from.readSecret(ctx, project, name)
	}
	if err != nil {
		return Secret{}, err
	}
	err = s.Audit(ctx, &audit.Event{
		Action: audit.ActionSecretRead, Project: project, Subject: name,
		Details: audit.Details(from.readSource(map[string]any{"purpose": purpose, "revision": sec.Revision})),
	})
	if err != nil {
		clear(sec.Value)
		return Secret{}, err
	}
	return sec, nil
}

// readSecret fetches and decrypts a secret through the store's reader.
func (s *Store) readSecret(ctx context.Context, project, name string) (Secret, error) {
	q, err := s.reader(ctx)
	if err != nil {
		return Secret{}, err
	}
	what := secretWhat(project, name)
	var (
		sec   Secret
		token string
	)
	err = scanMeta(q.QueryRow(ctx, "select "+secretColumns+", ciphertext from "+s.table("secrets")+" where project = $1 and name = $2", project, name), &sec.SecretMeta, &token)
	if errors.Is(err, pgx.ErrNoRows) {
		return Secret{}, &NotFoundError{What: what}
	}
	if err != nil {
		return Secret{}, fmt.Errorf("read %s: %w", what, err)
	}
	d, err := s.decryptSecret(ctx, project, name, sec.Revision, token)
	if err != nil {
		return Secret{}, fmt.Errorf("decrypt %s: %w", what, err)
	}
	sec.Value, sec.Bound, sec.Unbound = d.Plaintext, d.Versioned, !d.Bound
	return sec, nil
}

// decryptSecret opens a secret's ciphertext at its row's revision; a
// project key is unwrapped on its first use in this process, and a data key
// created by another process since this one loaded its keys is fetched on
// demand. A key of another project is refused. In strict mode a ciphertext
// not bound to its row and revision is refused.
func (s *Store) decryptSecret(ctx context.Context, project, name string, revision int64, token string) (keyring.Decrypted, error) {
	if err := s.needKeys("decrypt a secret"); err != nil {
		return keyring.Decrypted{}, err
	}
	d, err := s.decryptIn(ctx, s.pool, project, token, keyring.SecretBinding(project, name, revision))
	if err == nil && s.strict && !d.Versioned {
		clear(d.Plaintext)
		return keyring.Decrypted{}, &UnboundError{What: secretWhat(project, name), Bound: d.Bound}
	}
	return d, err
}

// GetSecretMeta reads a secret's metadata, on the primary, without
// decrypting it. Writes start from it (the revision to compare-and-swap
// on), so it never reads a standby that may be behind.
func (s *Store) GetSecretMeta(ctx context.Context, project, name string) (SecretMeta, error) {
	var m SecretMeta
	err := scanMeta(s.pool.QueryRow(ctx, "select "+s.metaColumns()+" from "+s.table("secrets")+" where project = $1 and name = $2", project, name), &m)
	if errors.Is(err, pgx.ErrNoRows) {
		return SecretMeta{}, &NotFoundError{What: secretWhat(project, name)}
	}
	if err != nil {
		return SecretMeta{}, fmt.Errorf("read %s: %w", secretWhat(project, name), err)
	}
	return m, nil
}

// ListSecrets returns the metadata of a project's secrets (every project's
// when project is empty), ordered by project and name. Through a read URL
// it reads the standby: the list may be a moment old.
func (s *Store) ListSecrets(ctx context.Context, project string) ([]SecretMeta, error) {
	q, err := s.reader(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, "select "+s.metaColumns()+" from "+s.table("secrets")+" where $1 = '' or project = $1 order by project, name", project)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	out, err := collectMeta(rows)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	return out, nil
}

// ListProjects returns the names of the projects that have secrets or
// model defaults, sorted.
func (s *Store) ListProjects(ctx context.Context) ([]string, error) {
	return readQueued(ctx, s, s.queueProjects)
}

// queueProjects queues ListProjects' read into b, to fill *out.
func (s *Store) queueProjects(b *pgx.Batch, out *[]string) {
	// Every dashboard page lists the projects: the secrets' projects are
	// read one index descent each, from the one after the last, rather
	// than by reading every secret of every project.
	b.Queue(`
		with recursive p(project) as (
			select min(project) from ` + s.table("secrets") + `
			union all
			select (select min(project) from ` + s.table("secrets") + ` s where s.project > p.project) from p where p.project is not null
		)
		select project from p where project is not null
		union
		select project from ` + s.table("provider_defaults") + `
		order by 1`).Query(func(rows pgx.Rows) error {
		var err error
		if *out, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return fmt.Errorf("list projects: %w", err)
		}
		return nil
	})
}

// DeleteSecret removes a secret if it is still at expectedRevision (or at
// any revision with AnyRevision), with its audit event. Its last value is
// kept as a version marked deleted, so UndeleteSecret can bring it back
// while the retention's deleted_for window lasts; DestroySecret removes
// everything for good.
func (s *Store) DeleteSecret(ctx context.Context, project, name string, expectedRevision int64) error {
	what := secretWhat(project, name)
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var rev int64
		var kid string
		err := tx.QueryRow(ctx, `
			with gone as (
				delete from `+s.table("secrets")+` where project = $1 and name = $2 and ($3 < 0 or revision = $3)
				returning *
			)
			insert into `+s.table("secret_versions")+` (project, name, revision, ciphertext, kid, bound, description, category, requires_restart, action, written_at, written_by, deleted)
			select project, name, revision, ciphertext, kid, bound, description, category, requires_restart, last_action, updated_at, updated_by, true from gone
			returning revision, kid`, project, name, expectedRevision).Scan(&rev, &kid)
		if errors.Is(err, pgx.ErrNoRows) {
			return s.conflict(ctx, tx, what, project, name, expectedRevision)
		}
		if err != nil {
			return fmt.Errorf("delete %s: %w", what, err)
		}
		return s.appendAudit(ctx, tx, &audit.Event{
			Action: audit.ActionSecretDelete, Project: project, Subject: name,
			Details: audit.Details(map[string]any{"revision": rev, "kid": kid, "recoverable": true}),
		})
	})
}
