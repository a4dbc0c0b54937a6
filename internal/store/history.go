package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
)

// Every write keeps the value it replaces as a version, a delete keeps the
// last value as a version marked deleted, and each version is the very
// ciphertext written for its revision: bound to its secret and revision,
// it opens as nothing else. Retention (per project, or the default) says
// how many versions a secret keeps, for how long, and how long a deleted
// secret can be brought back.

// SecretVersion is one revision of a secret, current or past, without its
// value.
type SecretVersion struct {
	Project  string `json:"project"`
	Name     string `json:"name"`
	Revision int64  `json:"revision"`
	KID      string `json:"kid"`
	// Action is the write that made this revision: create, update,
	// rollback or undelete.
	Action    string    `json:"action"`
	WrittenAt time.Time `json:"written_at"`
	WrittenBy string    `json:"written_by"`
	// Current is the secret's live revision; Deleted marks the value a
	// delete removed (what an undelete brings back).
	Current    bool       `json:"current"`
	Deleted    bool       `json:"deleted"`
	ReplacedAt *time.Time `json:"replaced_at,omitempty"`
}

// SecretHistory lists a secret's revisions, newest first: the current one
// (if the secret exists) and every version kept. A secret with neither is
// not found.
func (s *Store) SecretHistory(ctx context.Context, project, name string) ([]SecretVersion, error) {
	rows, err := s.pool.Query(ctx, `
		select project, name, revision, kid, last_action, updated_at, updated_by, true, false, null::timestamptz
		from `+s.table("secrets")+` where project = $1 and name = $2
		union all
		select project, name, revision, kid, action, written_at, written_by, false, deleted, replaced_at
		from `+s.table("secret_versions")+` where project = $1 and name = $2
		order by 3 desc`, project, name)
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", secretWhat(project, name), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SecretVersion, error) {
		var v SecretVersion
		return v, r.Scan(&v.Project, &v.Name, &v.Revision, &v.KID, &v.Action, &v.WrittenAt, &v.WrittenBy, &v.Current, &v.Deleted, &v.ReplacedAt)
	})
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", secretWhat(project, name), err)
	}
	if len(out) == 0 {
		return nil, &NotFoundError{What: secretWhat(project, name)}
	}
	return out, nil
}

// GetSecretVersion decrypts one revision of a secret, current or kept, and
// records the read.
func (s *Store) GetSecretVersion(ctx context.Context, project, name string, revision int64, purpose string) (Secret, error) {
	if err := s.needKeys("decrypt a secret"); err != nil {
		return Secret{}, err
	}
	sec, err := s.readVersion(ctx, project, name, revision)
	if err != nil {
		return Secret{}, err
	}
	err = s.Audit(ctx, &audit.Event{
		Action: audit.ActionSecretRead, Project: project, Subject: name,
		Details: audit.Details(map[string]any{"purpose": purpose, "revision": revision}),
	})
	if err != nil {
		return Secret{}, err
	}
	return sec, nil
}

// readVersion decrypts revision of a secret, from the live row when it is
// the current revision, else from the versions.
func (s *Store) readVersion(ctx context.Context, project, name string, revision int64) (Secret, error) {
	what := fmt.Sprintf("revision %d of %s", revision, secretWhat(project, name))
	var (
		sec   Secret
		token string
	)
	row := s.pool.QueryRow(ctx, `
		select description, category, requires_restart, kid, ciphertext from `+s.table("secrets")+`
		where project = $1 and name = $2 and revision = $3
		union all
		select description, category, requires_restart, kid, ciphertext from `+s.table("secret_versions")+`
		where project = $1 and name = $2 and revision = $3`, project, name, revision)
	err := row.Scan(&sec.Description, &sec.Category, &sec.RequiresRestart, &sec.KID, &token)
	if errors.Is(err, pgx.ErrNoRows) {
		return Secret{}, &NotFoundError{What: what + " (pruned, or never written; see `pgsecrets secret history`)"}
	}
	if err != nil {
		return Secret{}, fmt.Errorf("read %s: %w", what, err)
	}
	d, err := s.decryptSecret(ctx, project, name, revision, token)
	if err != nil {
		return Secret{}, fmt.Errorf("decrypt %s: %w", what, err)
	}
	sec.Project, sec.Name, sec.Revision = project, name, revision
	sec.Value, sec.Bound, sec.Unbound = d.Plaintext, d.Versioned, !d.Bound
	return sec, nil
}

// RollbackSecret writes, as a new revision, the value the secret had at
// toRevision, if the secret is still at expectedRevision (AnyRevision: any),
// like any write. The audit event names both revisions.
func (s *Store) RollbackSecret(ctx context.Context, project, name string, toRevision, expectedRevision int64) (SecretMeta, error) {
	if err := s.needKeys("roll back a secret"); err != nil {
		return SecretMeta{}, err
	}
	old, err := s.readVersion(ctx, project, name, toRevision)
	if err != nil {
		return SecretMeta{}, err
	}
	defer clear(old.Value)
	current, err := s.GetSecretMeta(ctx, project, name)
	if err != nil {
		return SecretMeta{}, err
	}
	if current.Revision == toRevision {
		return SecretMeta{}, fmt.Errorf("%s is already at revision %d", secretWhat(project, name), toRevision)
	}
	restart := current.RequiresRestart
	return s.PutSecret(ctx, PutSecretInput{
		Project: project, Name: name, Value: old.Value,
		Description: current.Description, Category: current.Category, RequiresRestart: &restart,
		ExpectedRevision: expectedRevision, Action: WriteRollback,
		details: map[string]any{"from_revision": toRevision},
	})
}

// UndeleteSecret brings back a deleted secret with the value it had when
// deleted, as a new revision, while the retention's deleted_for window
// lasts.
func (s *Store) UndeleteSecret(ctx context.Context, project, name string) (SecretMeta, error) {
	if err := s.needKeys("undelete a secret"); err != nil {
		return SecretMeta{}, err
	}
	what := secretWhat(project, name)
	var (
		revision   int64
		replacedAt time.Time
		within     bool
	)
	err := s.pool.QueryRow(ctx, `
		select v.revision, v.replaced_at, r.deleted_for is null or v.replaced_at > now() - r.deleted_for
		from `+s.table("secret_versions")+` v, `+s.retentionFor("$1")+` r
		where v.project = $1 and v.name = $2 and v.deleted
		  and not exists (select 1 from `+s.table("secrets")+` c where c.project = $1 and c.name = $2)
		order by v.revision desc limit 1`, project, name).Scan(&revision, &replacedAt, &within)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, metaErr := s.GetSecretMeta(ctx, project, name); metaErr == nil {
			return SecretMeta{}, fmt.Errorf("%s exists: only a deleted secret can be undeleted (to go back to an older value, use rollback)", what)
		}
		return SecretMeta{}, &NotFoundError{What: "deleted " + what + " (never deleted, destroyed, or pruned after its retention window)"}
	}
	if err != nil {
		return SecretMeta{}, fmt.Errorf("read deleted %s: %w", what, err)
	}
	if !within {
		return SecretMeta{}, &UndeleteWindowError{What: what, DeletedAt: replacedAt}
	}
	old, err := s.readVersion(ctx, project, name, revision)
	if err != nil {
		return SecretMeta{}, err
	}
	defer clear(old.Value)
	restart := old.RequiresRestart
	return s.PutSecret(ctx, PutSecretInput{
		Project: project, Name: name, Value: old.Value,
		Description: old.Description, Category: old.Category, RequiresRestart: &restart,
		ExpectedRevision: MustNotExist, Action: WriteUndelete,
		details: map[string]any{"from_revision": revision},
	})
}

// DeletedSecret is a deleted secret that UndeleteSecret can still bring
// back, without its value.
type DeletedSecret struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Category    string `json:"category"`
	// Revision is the one a delete removed: what an undelete brings back.
	Revision  int64     `json:"revision"`
	DeletedAt time.Time `json:"deleted_at"`
	// UndeleteUntil is when the retention's window ends; nil when it sets
	// no limit.
	UndeleteUntil *time.Time `json:"undelete_until,omitempty"`
}

// ListDeletedSecrets lists a project's deleted secrets whose undelete
// window is still open, by name: those UndeleteSecret would bring back.
func (s *Store) ListDeletedSecrets(ctx context.Context, project string) ([]DeletedSecret, error) {
	return readQueued(ctx, s, func(b *pgx.Batch, out *[]DeletedSecret) { s.queueDeletedSecrets(b, project, out) })
}

// queueDeletedSecrets queues ListDeletedSecrets' read into b, to fill *out.
func (s *Store) queueDeletedSecrets(b *pgx.Batch, project string, out *[]DeletedSecret) {
	b.Queue(`
		select d.name, d.description, d.category, d.revision, d.replaced_at, d.replaced_at + r.deleted_for
		from (
			select distinct on (v.name) v.name, v.description, v.category, v.revision, v.replaced_at
			from `+s.table("secret_versions")+` v
			where v.project = $1 and v.deleted
			  and not exists (select 1 from `+s.table("secrets")+` c where c.project = $1 and c.name = v.name)
			order by v.name, v.revision desc
		) d, `+s.retentionFor("$1")+` r
		where r.deleted_for is null or d.replaced_at > now() - r.deleted_for
		order by d.name`, project).Query(func(rows pgx.Rows) error {
		var err error
		*out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeletedSecret, error) {
			var d DeletedSecret
			return d, r.Scan(&d.Name, &d.Description, &d.Category, &d.Revision, &d.DeletedAt, &d.UndeleteUntil)
		})
		if err != nil {
			return fmt.Errorf("list deleted secrets of %q: %w", project, err)
		}
		return nil
	})
}

// DestroySecret removes a secret and every version of it for good: nothing
// of it stays decryptable. It reports how many revisions went.
func (s *Store) DestroySecret(ctx context.Context, project, name string) (int64, error) {
	what := secretWhat(project, name)
	var removed int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		current, err := tx.Exec(ctx, "delete from "+s.table("secrets")+" where project = $1 and name = $2", project, name)
		if err != nil {
			return fmt.Errorf("destroy %s: %w", what, err)
		}
		versions, err := tx.Exec(ctx, "delete from "+s.table("secret_versions")+" where project = $1 and name = $2", project, name)
		if err != nil {
			return fmt.Errorf("destroy the history of %s: %w", what, err)
		}
		removed = current.RowsAffected() + versions.RowsAffected()
		if removed == 0 {
			return &NotFoundError{What: what}
		}
		return s.appendAudit(ctx, tx, &audit.Event{
			Action: audit.ActionSecretDestroy, Project: project, Subject: name,
			Details: audit.Details(map[string]any{"revisions": removed, "current": current.RowsAffected() == 1}),
		})
	})
	return removed, err
}

// Retention says how much history a project keeps; a zero field has no
// limit. The project "" holds the default for projects without their own.
type Retention struct {
	Project string `json:"project"`
	// Keep is how many versions (besides the current value) each secret
	// keeps.
	Keep int `json:"keep,omitempty"`
	// MaxAge is how long a version is kept once replaced.
	MaxAge time.Duration `json:"max_age,omitempty"`
	// DeletedFor is how long a deleted secret can be undeleted.
	DeletedFor time.Duration `json:"deleted_for,omitempty"`
	// Inherited is true when the project has no setting of its own.
	Inherited bool `json:"inherited"`
}

// retentionFor is a subquery giving the retention in force for the
// project in the SQL expression project: its own row, else the default.
func (s *Store) retentionFor(project string) string {
	return `(select keep, max_age, deleted_for from ` + s.table("history_retention") +
		` where project in (` + project + `, '') order by project desc limit 1)`
}

// GetRetention returns the retention in force for project ("" for the
// default).
func (s *Store) GetRetention(ctx context.Context, project string) (Retention, error) {
	r := Retention{Project: project}
	var (
		keep               *int32
		maxAge, deletedFor pgtype.Interval
		own                string
	)
	err := s.pool.QueryRow(ctx, "select project, keep, max_age, deleted_for from "+s.table("history_retention")+
		" where project in ($1, '') order by project desc limit 1", project).Scan(&own, &keep, &maxAge, &deletedFor)
	if errors.Is(err, pgx.ErrNoRows) {
		return Retention{Project: project, Inherited: project != ""}, nil
	}
	if err != nil {
		return Retention{}, fmt.Errorf("read history retention: %w", err)
	}
	if keep != nil {
		r.Keep = int(*keep)
	}
	r.MaxAge, r.DeletedFor = intervalDuration(maxAge), intervalDuration(deletedFor)
	r.Inherited = own != project
	return r, nil
}

// SetRetention sets a project's retention ("" for the default).
func (s *Store) SetRetention(ctx context.Context, r Retention) error {
	if r.Project != "" {
		if err := ValidateProject(r.Project); err != nil {
			return err
		}
	}
	if r.Keep < 0 || r.MaxAge < 0 || r.DeletedFor < 0 {
		return errors.New("history retention: keep, max age and deleted-for cannot be negative")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into "+s.table("history_retention")+` (project, keep, max_age, deleted_for, updated_by)
			values ($1, nullif($2, 0), nullif($3 * interval '1 second', interval '0'), nullif($4 * interval '1 second', interval '0'), $5)
			on conflict (project) do update set keep = excluded.keep, max_age = excluded.max_age, deleted_for = excluded.deleted_for,
				updated_at = now(), updated_by = excluded.updated_by`,
			r.Project, r.Keep, r.MaxAge.Seconds(), r.DeletedFor.Seconds(), s.actor)
		if err != nil {
			return fmt.Errorf("set history retention: %w", err)
		}
		return s.appendAudit(ctx, tx, &audit.Event{
			Action: audit.ActionRetentionSet, Project: r.Project,
			Details: audit.Details(map[string]any{"keep": r.Keep, "max_age": r.MaxAge.String(), "deleted_for": r.DeletedFor.String()}),
		})
	})
}

// PruneResult counts what a prune removed.
type PruneResult struct {
	// Versions removed by the keep and max-age limits.
	Versions int64 `json:"versions"`
	// DeletedSecrets whose undelete window had passed, and their versions.
	DeletedSecrets  int64 `json:"deleted_secrets"`
	DeletedVersions int64 `json:"deleted_versions"`
}

// PruneHistory removes what the retention in force no longer keeps, in
// every project (or one), in one transaction, with an audit event.
func (s *Store) PruneHistory(ctx context.Context, project string) (PruneResult, error) {
	var res PruneResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res = PruneResult{}
		tag, err := tx.Exec(ctx, `
			delete from `+s.table("secret_versions")+` v
			using (
				select project, name, revision,
				       row_number() over (partition by project, name order by revision desc) as newer
				from `+s.table("secret_versions")+` x
				-- a deleted value waits for undelete while its secret is gone;
				-- once the secret lives again it is an earlier value like any
				where (not deleted or exists (select 1 from `+s.table("secrets")+` c where c.project = x.project and c.name = x.name))
				  and ($1 = '' or project = $1)
			) o, lateral `+s.retentionFor("o.project")+` r
			where v.project = o.project and v.name = o.name and v.revision = o.revision
			  and ((r.keep is not null and o.newer > r.keep) or (r.max_age is not null and v.replaced_at < now() - r.max_age))`, project)
		if err != nil {
			return fmt.Errorf("prune history: %w", err)
		}
		res.Versions = tag.RowsAffected()
		err = tx.QueryRow(ctx, `
			with expired as (
				select d.project, d.name
				from (select project, name, max(replaced_at) as at from `+s.table("secret_versions")+`
				      where deleted and ($1 = '' or project = $1) group by project, name) d,
				     lateral `+s.retentionFor("d.project")+` r
				where r.deleted_for is not null and d.at < now() - r.deleted_for
				  and not exists (select 1 from `+s.table("secrets")+` c where c.project = d.project and c.name = d.name)
			), gone as (
				delete from `+s.table("secret_versions")+` v using expired e
				where v.project = e.project and v.name = e.name
				returning v.project, v.name
			)
			select count(distinct (project, name)), count(*) from gone`, project).Scan(&res.DeletedSecrets, &res.DeletedVersions)
		if err != nil {
			return fmt.Errorf("prune deleted secrets: %w", err)
		}
		if res.Versions+res.DeletedVersions == 0 {
			return nil
		}
		return s.appendAudit(ctx, tx, &audit.Event{
			Action: audit.ActionHistoryPrune, Project: project,
			Details: audit.Details(map[string]any{"versions": res.Versions, "deleted_secrets": res.DeletedSecrets, "deleted_versions": res.DeletedVersions}),
		})
	})
	return res, err
}

// pruneSecretHistory applies the keep and max-age limits to one secret's
// versions, inside the write that just added one: the secret lives, so a
// value it had when once deleted counts as an earlier value like any.
func (s *Store) pruneSecretHistory(ctx context.Context, tx execer, project, name string) error {
	_, err := tx.Exec(ctx, `
		delete from `+s.table("secret_versions")+` v
		using (
			select revision, row_number() over (order by revision desc) as newer
			from `+s.table("secret_versions")+` where project = $1 and name = $2
		) o, `+s.retentionFor("$1")+` r
		where v.project = $1 and v.name = $2 and v.revision = o.revision
		  and ((r.keep is not null and o.newer > r.keep) or (r.max_age is not null and v.replaced_at < now() - r.max_age))`, project, name)
	if err != nil {
		return fmt.Errorf("apply history retention to %s: %w", secretWhat(project, name), err)
	}
	return nil
}

// intervalDuration converts a PostgreSQL interval, as this schema stores
// them (no months), to a duration; null is 0.
func intervalDuration(i pgtype.Interval) time.Duration {
	if !i.Valid {
		return 0
	}
	return time.Duration(i.Microseconds)*time.Microsecond + time.Duration(i.Days)*24*time.Hour + time.Duration(i.Months)*30*24*time.Hour
}
