package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
)

// EnsureProjectKey returns the metadata of project's primary key, making
// the key first when the project has none yet, as its first write would.
// created says whether it did.
func (s *Store) EnsureProjectKey(ctx context.Context, project string) (key ProjectKey, created bool, err error) {
	if err := ValidateProject(project); err != nil {
		return ProjectKey{}, false, err
	}
	if err := s.needKeys("create a project key"); err != nil {
		return ProjectKey{}, false, err
	}
	if err := s.needProjectKeys(ctx, "create a key for project "+project); err != nil {
		return ProjectKey{}, false, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		created = false
		var kid string
		if err := tx.QueryRow(ctx, "select "+s.primaryProjectKIDForShare("$1"), project).Scan(&kid); err != nil {
			return fmt.Errorf("read %s: %w", projectKeyWhat(project), err)
		}
		if kid == "" {
			k, err := s.writeKey(ctx, tx, project, "")
			if err != nil {
				return err
			}
			kid, created = k.KID, true
		}
		return scanProjectKey(tx.QueryRow(ctx, "select "+projectKeyColumns+" from "+s.table("project_keys")+" where kid = $1", kid), &key)
	})
	if err != nil {
		return ProjectKey{}, false, err
	}
	return key, created, nil
}

// RotateProjectKey gives project a new primary key and retires the old
// one, in one transaction with their audit events: new values go under the
// new key at once, and `reencrypt --project` moves the others. The old key
// is rewrapped as retired, so that a database writer cannot make it
// primary again. It returns the new key and the retired kid ("" when the
// project had no key yet).
func (s *Store) RotateProjectKey(ctx context.Context, project string) (ProjectKey, string, error) {
	if err := ValidateProject(project); err != nil {
		return ProjectKey{}, "", err
	}
	if err := s.needKeys("rotate a project key"); err != nil {
		return ProjectKey{}, "", err
	}
	if err := s.needProjectKeys(ctx, "rotate the key of project "+project); err != nil {
		return ProjectKey{}, "", err
	}
	var (
		key     ProjectKey
		retired string
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if retired, err = s.retireProjectKey(ctx, tx, project); err != nil {
			return err
		}
		k, err := s.createProjectKey(ctx, tx, project)
		if err != nil {
			return err
		}
		if k == nil {
			return fmt.Errorf("rotate %s: another rotation made a new key meanwhile; retry", projectKeyWhat(project))
		}
		return scanProjectKey(tx.QueryRow(ctx, "select "+projectKeyColumns+" from "+s.table("project_keys")+" where kid = $1", k.KID), &key)
	})
	if err != nil {
		return ProjectKey{}, "", err
	}
	return key, retired, nil
}

// retireProjectKey locks project's primary key row (waiting for the writes
// that hold it shared) and rewraps it as retired, with its audit event. It
// returns the retired kid, "" when the project had no key.
func (s *Store) retireProjectKey(ctx context.Context, tx pgx.Tx, project string) (string, error) {
	var (
		kid, wrapped string
		revision     int64
	)
	err := tx.QueryRow(ctx, "select kid, revision, wrapped_key from "+s.table("project_keys")+
		" where project = $1 and state = 'primary' for update", project).Scan(&kid, &revision, &wrapped)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", projectKeyWhat(project), err)
	}
	key, err := s.keys.UnwrapProjectKey(project, kid, ProjectKeyPrimary, revision, wrapped)
	if err != nil {
		return "", err
	}
	rewrapped, wrappingKID, err := s.keys.WrapProjectKey(project, key, ProjectKeyRetired, revision+1)
	if err != nil {
		return "", err
	}
	_, err = tx.Exec(ctx, "update "+s.table("project_keys")+` set state = 'retired', revision = $2, wrapped_key = $3, wrapping_kid = $4,
		updated_at = now(), updated_by = $5 where kid = $1`, kid, revision+1, rewrapped, wrappingKID, s.actor)
	if err != nil {
		return "", fmt.Errorf("retire %s: %w", projectKeyWhat(project), err)
	}
	return kid, s.appendAudit(ctx, tx, &audit.Event{
		Action: audit.ActionKeyUpdate, Project: project, Subject: kid,
		Details: audit.Details(map[string]any{"scope": "project", "state": ProjectKeyRetired, "reason": "rotated"}),
	})
}

// RotateProjectKeysOlderThan rotates the key of every project (only
// project, when set) whose primary key was made more than age ago, and
// returns those projects. With dryRun it only lists them.
func (s *Store) RotateProjectKeysOlderThan(ctx context.Context, project string, age time.Duration, dryRun bool) ([]string, error) {
	if age <= 0 {
		return nil, fmt.Errorf("key age %s is out of range: use a positive duration", age)
	}
	rows, err := s.pool.Query(ctx, "select project from "+s.table("project_keys")+
		" where state = 'primary' and ($1 = '' or project = $1) and created_at < now() - make_interval(secs => $2) order by project",
		project, age.Seconds())
	if err != nil {
		return nil, fmt.Errorf("find project keys older than %s: %w", age, err)
	}
	projects, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find project keys older than %s: %w", age, err)
	}
	if dryRun {
		return projects, nil
	}
	for i, p := range projects {
		if _, _, err := s.RotateProjectKey(ctx, p); err != nil {
			return projects[:i], err
		}
	}
	return projects, nil
}

// projectKeyScope picks the project keys of project $1 (every project's
// when empty), primary first within a project, newest first after it.
const projectKeyScope = "where $1 = '' or k.project = $1 order by k.project, k.state = 'primary' desc, k.created_at desc, k.kid"

// ProjectKeyUsage is a project key with what it encrypts.
type ProjectKeyUsage struct {
	ProjectKey
	// Secrets and Versions count the current values and the kept earlier
	// ones under the key.
	Secrets  int64 `json:"secrets"`
	Versions int64 `json:"versions"`
}

// ListProjectKeys lists the project keys of project (every project's when
// empty), primary first within a project, with what each encrypts. It
// reads metadata only: a store without root keys (the planner role) lists
// them too.
func (s *Store) ListProjectKeys(ctx context.Context, project string) ([]ProjectKeyUsage, error) {
	rows, err := s.pool.Query(ctx, `
		select `+prefixed("k.", projectKeyColumns)+`,
			(select count(*) from `+s.table("secrets")+` s where s.kid = k.kid),
			(select count(*) from `+s.table("secret_versions")+` v where v.kid = k.kid)
		from `+s.table("project_keys")+` k `+projectKeyScope, project)
	if err != nil {
		return nil, fmt.Errorf("list project keys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ProjectKeyUsage, error) {
		var u ProjectKeyUsage
		return u, scanProjectKey(r, &u.ProjectKey, &u.Secrets, &u.Versions)
	})
	if err != nil {
		return nil, fmt.Errorf("list project keys: %w", err)
	}
	return out, nil
}

// projectKeyMeta lists the project keys of project (every project's when
// empty) as ListProjectKeys orders them, without counting their rows.
func (s *Store) projectKeyMeta(ctx context.Context, project string) ([]ProjectKey, error) {
	rows, err := s.pool.Query(ctx, "select "+prefixed("k.", projectKeyColumns)+" from "+s.table("project_keys")+" k "+projectKeyScope, project)
	if err != nil {
		return nil, fmt.Errorf("list project keys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ProjectKey, error) {
		var k ProjectKey
		return k, scanProjectKey(r, &k)
	})
	if err != nil {
		return nil, fmt.Errorf("list project keys: %w", err)
	}
	return out, nil
}

// PruneProjectKeys deletes the retired keys of project (every project when
// empty) that no secret or kept version uses any more, with an audit event
// each: reencrypt ends with it, so that a rotated-out key is destroyed once
// nothing needs it. A retired key never gains a row again (writes use the
// primary), so a key found unused stays unused.
func (s *Store) PruneProjectKeys(ctx context.Context, project string) ([]string, error) {
	var kids []string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "delete from "+s.table("project_keys")+` k
			where k.state = 'retired' and ($1 = '' or k.project = $1)
			  and not exists (select 1 from `+s.table("secrets")+` s where s.kid = k.kid)
			  and not exists (select 1 from `+s.table("secret_versions")+` v where v.kid = k.kid)
			returning k.project, k.kid`, project)
		if err != nil {
			return fmt.Errorf("delete unused project keys: %w", err)
		}
		var events []*audit.Event
		kids = kids[:0]
		for rows.Next() {
			var p, kid string
			if err := rows.Scan(&p, &kid); err != nil {
				rows.Close()
				return fmt.Errorf("delete unused project keys: %w", err)
			}
			kids = append(kids, kid)
			events = append(events, &audit.Event{
				Action: audit.ActionKeyDelete, Project: p, Subject: kid,
				Details: audit.Details(map[string]any{"scope": "project", "reason": "retired and no longer used"}),
			})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("delete unused project keys: %w", err)
		}
		if len(events) == 0 {
			return nil
		}
		return s.appendAudit(ctx, tx, events...)
	})
	if err != nil {
		return nil, err
	}
	for _, kid := range kids {
		s.keys.ForgetProjectKey(kid)
	}
	return kids, nil
}

// LegacyStoreError refuses project key management in a store that has not
// moved to project keys yet.
type LegacyStoreError struct{ What string }

func (e *LegacyStoreError) Error() string {
	return fmt.Sprintf("%s: this store has not moved to project keys yet (its secrets predate them); run `pgsecrets reencrypt` once to move it, then try again", e.What)
}

// ProjectKeysSince returns when the store's writes moved to project keys,
// and false when they have not yet (a store upgraded with secrets from
// before; see migration 009).
func (s *Store) ProjectKeysSince(ctx context.Context) (time.Time, bool, error) {
	var since *time.Time
	if err := s.pool.QueryRow(ctx, "select project_keys_since from "+s.table("key_scheme")).Scan(&since); err != nil {
		return time.Time{}, false, fmt.Errorf("read the store's key scheme: %w", err)
	}
	if since == nil {
		return time.Time{}, false, nil
	}
	return *since, true, nil
}

// UseProjectKeys moves the store's writes to project keys, with an audit
// event, and reports whether it did (false: they already were). reencrypt
// starts with it; nothing moves back.
func (s *Store) UseProjectKeys(ctx context.Context) (bool, error) {
	if err := s.needKeys("move to project keys"); err != nil {
		return false, err
	}
	var moved bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "update "+s.table("key_scheme")+" set project_keys_since = now() where project_keys_since is null")
		if err != nil {
			return fmt.Errorf("move to project keys: %w", err)
		}
		if moved = tag.RowsAffected() == 1; !moved {
			return nil
		}
		return s.appendAudit(ctx, tx, &audit.Event{
			Action:  audit.ActionKeyUpdate,
			Details: audit.Details(map[string]any{"scope": "store", "project_keys": true, "reason": "new values go under their project's key from now on"}),
		})
	})
	return moved, err
}

// needProjectKeys refuses, in a store not yet moved to project keys, what
// only makes sense with them.
func (s *Store) needProjectKeys(ctx context.Context, what string) error {
	if _, on, err := s.ProjectKeysSince(ctx); err != nil || on {
		return err
	}
	return &LegacyStoreError{What: what}
}
