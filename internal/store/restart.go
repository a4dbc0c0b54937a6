package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ChangedSince returns the metadata of the secrets marked RequiresRestart
// that were written after since (in one project, or every project when
// project is empty), ordered by project and name. A deploy pipeline uses
// it to decide whether the application must restart. Deleted secrets are
// not listed: their rows are gone (the audit trail has them).
func (s *Store) ChangedSince(ctx context.Context, project string, since time.Time) ([]SecretMeta, error) {
	rows, err := s.pool.Query(ctx, "select "+s.metaColumns()+` from `+s.table("secrets")+`
		where requires_restart and updated_at > $2 and ($1 = '' or project = $1)
		order by project, name`, project, since)
	if err != nil {
		return nil, fmt.Errorf("list secrets changed since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SecretMeta, error) {
		var m SecretMeta
		return m, scanMeta(r, &m)
	})
	if err != nil {
		return nil, fmt.Errorf("list secrets changed since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	return out, nil
}
