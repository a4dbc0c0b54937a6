package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
)

// ShredResult is what shredding a project destroyed.
type ShredResult struct {
	Project string `json:"project"`
	// Secrets and Versions count the current values and the kept earlier
	// ones deleted.
	Secrets  int64 `json:"secrets"`
	Versions int64 `json:"versions"`
	// KIDs are the project keys deleted.
	KIDs []string `json:"kids"`
	// OtherKIDs are the root or global data keys some of the deleted
	// values were under (written before project keys). Their ciphertexts
	// in earlier backups stay readable to whoever holds those keys until
	// they are retired (docs/security.md).
	OtherKIDs []string `json:"other_kids,omitempty"`
}

// ShredProject destroys a project: its secrets, their history and its
// project keys, in one transaction with an audit event that records the
// counts and key ids (never a value). Once it commits, the project's
// ciphertexts anywhere (replicas, WAL, backups) can be opened only by
// someone who holds both such a copy and a root key that wrapped the
// project's key: retiring those root keys finishes the shred. The
// project's model defaults and retention settings, which are not secret,
// are kept.
func (s *Store) ShredProject(ctx context.Context, project string) (ShredResult, error) {
	if err := ValidateProject(project); err != nil {
		return ShredResult{}, err
	}
	if err := s.needKeys("shred a project"); err != nil {
		return ShredResult{}, err
	}
	res := ShredResult{Project: project}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res = ShredResult{Project: project, KIDs: []string{}}
		// The key rows first, locked: a write in flight holds its project's
		// primary key shared, so the shred waits for it, and a write that
		// starts later finds no key and makes a new one, after the shred.
		rows, err := tx.Query(ctx, "select kid from "+s.table("project_keys")+" where project = $1 order by kid for update", project)
		if err != nil {
			return fmt.Errorf("lock the keys of project %q: %w", project, err)
		}
		if res.KIDs, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return fmt.Errorf("lock the keys of project %q: %w", project, err)
		}
		err = tx.QueryRow(ctx, `
			with s as (delete from `+s.table("secrets")+` where project = $1 returning kid),
			     v as (delete from `+s.table("secret_versions")+` where project = $1 returning kid),
			     a as (delete from `+s.table("restart_acks")+` where project = $1)
			select (select count(*) from s), (select count(*) from v),
			       coalesce((select array_agg(distinct kid order by kid) from (select kid from s union select kid from v) k
			                 where kid <> all($2)), '{}')`, project, res.KIDs).
			Scan(&res.Secrets, &res.Versions, &res.OtherKIDs)
		if err != nil {
			return fmt.Errorf("delete the secrets of project %q: %w", project, err)
		}
		if len(res.KIDs) == 0 && res.Secrets == 0 && res.Versions == 0 {
			return &NotFoundError{What: fmt.Sprintf("project %q (no secret, history or key)", project)}
		}
		if _, err := tx.Exec(ctx, "delete from "+s.table("project_keys")+" where project = $1", project); err != nil {
			return fmt.Errorf("delete the keys of project %q: %w", project, err)
		}
		return s.appendAudit(ctx, tx, &audit.Event{
			Action: audit.ActionProjectShred, Project: project,
			Details: audit.Details(map[string]any{
				"secrets": res.Secrets, "versions": res.Versions, "kids": res.KIDs, "other_kids": res.OtherKIDs,
			}),
		})
	})
	if err != nil {
		return ShredResult{}, err
	}
	s.keys.ForgetProject(project)
	return res, nil
}
