package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SecretsPage is one page of a project's secrets, in the order a listing
// shows them: by category, alphabetical with uncategorised last, then by
// name, both compared byte by byte.
type SecretsPage struct {
	// Secrets are the page's secrets. Their Sealed is empty: a listing has
	// no use for it, and the digest reads every ciphertext.
	Secrets []SecretMeta
	// Total is how many secrets match. Offset is where the page starts:
	// the offset asked for, or 0 when that was past the end.
	Total, Offset int
	// Existing are the names asked about that the project has, matching
	// or not.
	Existing []string
}

// secretsPageOrder is SecretsPage's order, of the secrets table's columns
// as named by table (an alias and a dot, or ""); secrets_page_idx
// (migration 011) holds it, so a page reads the keys up to it from the
// index and then its own rows, rather than every secret of the project.
func secretsPageOrder(table string) string {
	return table + "category = '', " + table + `category collate "C", ` + table + `name collate "C"`
}

// PageSecrets reads up to limit secrets of project from offset in
// SecretsPage's order, of those whose name or description contains match
// in any case (every secret when match is empty), with how many match and
// which of names the project has: one round trip.
func (s *Store) PageSecrets(ctx context.Context, project, match string, offset, limit int, names []string) (SecretsPage, error) {
	// Each filter gets its own statement, so that without a match the
	// plan reads the index alone.
	cond, args := "project = $1", []any{project}
	if match != "" {
		cond += " and (strpos(lower(name), lower($2)) > 0 or strpos(lower(description), lower($2)) > 0)"
		args = append(args, match)
	}
	// The page's keys come from the index alone; each row is then read by
	// its primary key. The lateral subquery, kept apart by its limit, holds
	// that plan for a prepared statement's generic plan too, which does
	// not know the limit and would rather hash the whole table.
	n := len(args)
	pageSQL := "select s.* from (select project, name from " + s.table("secrets") + " where " + cond + " order by " + secretsPageOrder("") +
		fmt.Sprintf(" limit $%d offset $%d", n+1, n+2) + ") p cross join lateral (select " + metaColumnsNoDigest + ", '' from " + s.table("secrets") +
		" s where s.project = p.project and s.name = p.name limit 1) s order by " + secretsPageOrder("s.")
	page := SecretsPage{Offset: offset}
	b := &pgx.Batch{}
	b.Queue("select count(*) from "+s.table("secrets")+" where "+cond, args...).QueryRow(func(r pgx.Row) error {
		return r.Scan(&page.Total)
	})
	b.Queue("select name from "+s.table("secrets")+" where project = $1 and name = any($2) order by name", project, names).Query(func(rows pgx.Rows) error {
		var err error
		page.Existing, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	b.Queue(pageSQL, append(args, limit, offset)...).Query(func(rows pgx.Rows) error {
		var err error
		page.Secrets, err = collectMeta(rows)
		return err
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return SecretsPage{}, fmt.Errorf("list secrets of %q: %w", project, err)
	}
	if offset > 0 && offset >= page.Total {
		// Past the end: the first page rather than none.
		rows, err := s.pool.Query(ctx, pageSQL, append(args, limit, 0)...)
		if err == nil {
			page.Secrets, err = collectMeta(rows)
		}
		if err != nil {
			return SecretsPage{}, fmt.Errorf("list secrets of %q: %w", project, err)
		}
		page.Offset = 0
	}
	return page, nil
}

func collectMeta(rows pgx.Rows) ([]SecretMeta, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SecretMeta, error) {
		var m SecretMeta
		return m, scanMeta(r, &m)
	})
}
