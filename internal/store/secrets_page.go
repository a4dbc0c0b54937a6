package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// SecretsPageQuery asks for a page of a project's secrets, and for what a
// listing shows beside it.
type SecretsPageQuery struct {
	Project string
	// Match keeps the secrets whose name or description contains it, in
	// any case; "" keeps every secret.
	Match string
	// From starts the page at a place in SecretsPage's order: the secret
	// there, or the first after it. Without it, Offset does: a page read
	// from a place costs the same wherever it is, one read at an offset
	// reads every secret before it.
	From *SecretsPageKey
	// Offset and Limit bound the page, in SecretsPage's order. With From,
	// Offset is a guess at how many secrets come before the place (the
	// page number a link carries): the page is numbered by counting the
	// secrets on the side of the place the guess says is the shorter, so
	// that the last page of a large project counts a page, not the project
	// twice. A wrong guess costs time, never a wrong number.
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
	// how many matching secrets come before it, or 0 when it was past the
	// end and the first page was read instead.
	Total, Offset int
	// Next is where the next page starts; nil on the last page. Previous
	// is where the page before starts when the page was read From a
	// place: nil on the first page, and the first secret's place when
	// fewer than a page come before.
	Next, Previous *SecretsPageKey
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

// SecretsPageKey is a place in SecretsPage's order: a secret's category
// and name.
type SecretsPageKey struct{ Category, Name string }

// secretsPageOrder is SecretsPage's order, of the expressions that give a
// secret's category and name; secrets_page_idx (migration 011) holds it,
// so that a page reads the keys up to it from the index and then its own
// rows, rather than every secret of the project. dir follows each term
// ("", " desc").
func secretsPageOrder(category, name, dir string) string {
	return category + " = ''" + dir + ", " + category + ` collate "C"` + dir + ", " + name + ` collate "C"` + dir
}

// PageSecrets reads a page of q.Project's secrets in SecretsPage's order,
// of those that match q.Match, with how many match, which of q.Names the
// project has, its deleted secrets and its pending restart: one round trip
// on one connection, and a second only for a page past the end.
func (s *Store) PageSecrets(ctx context.Context, q SecretsPageQuery) (SecretsPage, error) {
	// Each filter gets its own statement, so that without a match the
	// plan reads the index alone.
	cond, args := "project = $1", []any{q.Project}
	if q.Match != "" {
		cond += " and (strpos(lower(name), lower($2)) > 0 or strpos(lower(description), lower($2)) > 0)"
		args = append(args, q.Match)
	}
	// Clipped: the appends below must not write into what matching holds,
	// which the batch reads only when it is sent.
	matching := slices.Clip(args)
	order := secretsPageOrder("category", "name", "")
	// count counts the matching secrets where also holds.
	count := func(also string) string {
		return "(select count(*) from " + s.table("secrets") + " where " + cond + also + ")"
	}
	// Without a match, the total is the project's count, which
	// secret_counts keeps (migration 013); a match is counted row by row.
	total := "coalesce((select secrets from " + s.table("secret_counts") + " where project = $1), 0)"
	if q.Match != "" {
		total = count("")
	}
	page := SecretsPage{Offset: q.Offset}
	readPage := func(rows pgx.Rows) error {
		var err error
		if page.Secrets, err = collectMeta(rows); err != nil {
			return fmt.Errorf("list secrets of %q: %w", q.Project, err)
		}
		if len(page.Secrets) > q.Limit {
			next := page.Secrets[q.Limit]
			page.Next, page.Secrets = &SecretsPageKey{next.Category, next.Name}, page.Secrets[:q.Limit]
		}
		return nil
	}
	b := &pgx.Batch{}
	if q.From == nil {
		b.Queue("select "+total, args...).QueryRow(func(r pgx.Row) error {
			if err := r.Scan(&page.Total); err != nil {
				return fmt.Errorf("count secrets of %q: %w", q.Project, err)
			}
			return nil
		})
		b.Queue(s.secretsPageSQL(cond, len(args)), append(args, q.Limit+1, q.Offset)...).Query(readPage)
	} else {
		// The place compares as a row, which the index's scan starts or
		// ends at.
		place := secretsPageOrder(fmt.Sprintf("$%d::text", len(args)+1), fmt.Sprintf("$%d::text", len(args)+2), "")
		before, from := "("+order+") < ("+place+")", "("+order+") >= ("+place+")"
		// Clipped, as matching is: each statement below appends its own.
		args = slices.Clip(append(args, q.From.Category, q.From.Name))
		// The total, and the page's offset counted on the side of the
		// place the guess says is shorter: a CASE runs only the subquery
		// of its branch, and the last page of a large project counts about
		// a page of the index.
		guess := fmt.Sprintf("$%d", len(args)+1)
		b.Queue("select t.n, case when "+guess+"::bigint <= t.n / 2 then "+count(" and "+before)+" else t.n - "+count(" and "+from)+
			" end from (select "+total+" n) t", append(args, q.Offset)...).QueryRow(func(r pgx.Row) error {
			if err := r.Scan(&page.Total, &page.Offset); err != nil {
				return fmt.Errorf("count secrets of %q: %w", q.Project, err)
			}
			return nil
		})
		b.Queue(s.secretsPageSQL(cond+" and "+from, len(args)), append(args, q.Limit+1, 0)...).Query(readPage)
		// Where the page before starts: a page's length back, from the
		// index alone.
		b.Queue("select category, name from (select category, name from "+s.table("secrets")+" where "+cond+" and "+before+
			" order by "+secretsPageOrder("category", "name", " desc")+fmt.Sprintf(" limit $%d", len(args)+1)+
			") p order by "+secretsPageOrder("p.category", "p.name", "")+" limit 1", append(args, q.Limit)...).Query(func(rows pgx.Rows) error {
			keys, err := pgx.CollectRows(rows, pgx.RowToStructByPos[SecretsPageKey])
			if err != nil {
				return fmt.Errorf("list secrets of %q: %w", q.Project, err)
			}
			if len(keys) > 0 {
				page.Previous = &keys[0]
			}
			return nil
		})
	}
	b.Queue("select name from "+s.table("secrets")+" where project = $1 and name = any($2) order by name", q.Project, q.Names).Query(func(rows pgx.Rows) error {
		var err error
		if page.Existing, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return fmt.Errorf("list secrets of %q: %w", q.Project, err)
		}
		return nil
	})
	s.queueDeletedSecrets(b, q.Project, &page.Deleted)
	var pending []PendingRestart
	s.queuePendingRestarts(b, q.Project, &pending)
	if q.Projects {
		s.queueProjects(b, &page.Projects)
	}
	if err := s.sendPrepared(ctx, b); err != nil {
		return SecretsPage{}, err
	}
	if len(pending) > 0 {
		page.Restart = &pending[0]
	}
	if len(page.Secrets) == 0 && page.Total > 0 {
		// Past the end: the first page rather than none.
		b := &pgx.Batch{}
		b.Queue(s.secretsPageSQL(cond, len(matching)), append(matching, q.Limit+1, 0)...).Query(readPage)
		if err := s.sendPrepared(ctx, b); err != nil {
			return SecretsPage{}, err
		}
		page.Offset, page.Previous = 0, nil
	}
	return page, nil
}

// secretsPageSQL reads the secrets where cond holds, in SecretsPage's
// order, with the limit and offset in the two parameters after the n
// that cond uses. The page's keys come from the index alone; each row is
// then read by its primary key. The lateral subquery, kept apart by its
// limit, holds that plan for a prepared statement's generic plan too,
// which does not know the limit and would rather hash the whole table.
func (s *Store) secretsPageSQL(cond string, n int) string {
	return "select s.* from (select project, name from " + s.table("secrets") + " where " + cond + " order by " + secretsPageOrder("category", "name", "") +
		fmt.Sprintf(" limit $%d offset $%d", n+1, n+2) + ") p cross join lateral (select " + metaColumnsNoDigest + ", '' from " + s.table("secrets") +
		" s where s.project = p.project and s.name = p.name limit 1) s order by " + secretsPageOrder("s.category", "s.name", "")
}

func collectMeta(rows pgx.Rows) ([]SecretMeta, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SecretMeta, error) {
		var m SecretMeta
		return m, scanMeta(r, &m)
	})
}
