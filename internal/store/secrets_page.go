package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SecretsPageQuery asks for a page of a project's secrets, and for what a
// listing shows beside it.
type SecretsPageQuery struct {
	Project string
	// Match keeps the secrets whose name or description contains it, in
	// any case; "" keeps every secret.
	Match string
	// Offset and Limit bound the page, in SecretsPage's order.
	Offset, Limit int
	// Names are names to ask about: SecretsPage.Existing says which the
	// project has.
	Names []string
	// Projects asks for every project's name too, as ListProjects gives
	// them.
	Projects bool
}

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
	// Deleted are the project's deleted secrets an undelete can still
	// bring back (ListDeletedSecrets), matching or not.
	Deleted []DeletedSecret
	// Restart is the project's pending restart (PendingRestarts); nil when
	// nothing is pending.
	Restart *PendingRestart
	// Projects are every project (ListProjects), when asked for.
	Projects []string
}

// secretsPageOrder is SecretsPage's order, of the secrets table's columns
// as named by table (an alias and a dot, or ""); secrets_page_idx
// (migration 011) holds it, so a page reads the keys up to it from the
// index and then its own rows, rather than every secret of the project.
func secretsPageOrder(table string) string {
	return table + "category = '', " + table + `category collate "C", ` + table + `name collate "C"`
}

// PageSecrets reads a page of q.Project's secrets in SecretsPage's order,
// of those that match q.Match, with how many match, which of q.Names the
// project has, its deleted secrets and its pending restart: one round trip
// on one connection, and a second only for an offset past the end.
func (s *Store) PageSecrets(ctx context.Context, q SecretsPageQuery) (SecretsPage, error) {
	// Each filter gets its own statement, so that without a match the
	// plan reads the index alone.
	cond, args := "project = $1", []any{q.Project}
	if q.Match != "" {
		cond += " and (strpos(lower(name), lower($2)) > 0 or strpos(lower(description), lower($2)) > 0)"
		args = append(args, q.Match)
	}
	// The page's keys come from the index alone; each row is then read by
	// its primary key. The lateral subquery, kept apart by its limit, holds
	// that plan for a prepared statement's generic plan too, which does
	// not know the limit and would rather hash the whole table.
	n := len(args)
	pageSQL := "select s.* from (select project, name from " + s.table("secrets") + " where " + cond + " order by " + secretsPageOrder("") +
		fmt.Sprintf(" limit $%d offset $%d", n+1, n+2) + ") p cross join lateral (select " + metaColumnsNoDigest + ", '' from " + s.table("secrets") +
		" s where s.project = p.project and s.name = p.name limit 1) s order by " + secretsPageOrder("s.")
	page := SecretsPage{Offset: q.Offset}
	readPage := func(rows pgx.Rows) error {
		var err error
		if page.Secrets, err = collectMeta(rows); err != nil {
			return fmt.Errorf("list secrets of %q: %w", q.Project, err)
		}
		return nil
	}
	b := &pgx.Batch{}
	b.Queue("select count(*) from "+s.table("secrets")+" where "+cond, args...).QueryRow(func(r pgx.Row) error {
		if err := r.Scan(&page.Total); err != nil {
			return fmt.Errorf("count secrets of %q: %w", q.Project, err)
		}
		return nil
	})
	b.Queue("select name from "+s.table("secrets")+" where project = $1 and name = any($2) order by name", q.Project, q.Names).Query(func(rows pgx.Rows) error {
		var err error
		if page.Existing, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return fmt.Errorf("list secrets of %q: %w", q.Project, err)
		}
		return nil
	})
	b.Queue(pageSQL, append(args, q.Limit, q.Offset)...).Query(readPage)
	s.queueDeletedSecrets(b, q.Project, &page.Deleted)
	var pending []PendingRestart
	s.queuePendingRestarts(b, q.Project, &pending)
	if q.Projects {
		s.queueProjects(b, &page.Projects)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return SecretsPage{}, err
	}
	if len(pending) > 0 {
		page.Restart = &pending[0]
	}
	if q.Offset > 0 && q.Offset >= page.Total {
		// Past the end: the first page rather than none.
		b := &pgx.Batch{}
		b.Queue(pageSQL, append(args, q.Limit, 0)...).Query(readPage)
		if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
			return SecretsPage{}, err
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
