package store_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// pageTotal is what the Secrets page says a project has.
func pageTotal(t *testing.T, s *store.Store, project string) int {
	t.Helper()
	p, err := s.PageSecrets(context.Background(), store.SecretsPageQuery{Project: project, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	return p.Total
}

// The count a page shows follows every way secrets come and go: created,
// updated (no change), deleted, undeleted, destroyed, shredded with their
// project, and written by hand in SQL as drift is.
func TestSecretsPageCountFollowsEveryChange(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	for _, name := range []string{"A", "B", "C"} {
		put(t, s, "app", name, "v")
	}
	put(t, s, "other", "X", "v")
	put(t, s, "app", "A", "v2")
	check := func(when string, app, other int) {
		t.Helper()
		if got := pageTotal(t, s, "app"); got != app {
			t.Errorf("%s: app has %d secrets, want %d", when, got, app)
		}
		if got := pageTotal(t, s, "other"); got != other {
			t.Errorf("%s: other has %d secrets, want %d", when, got, other)
		}
		// Each commit folds its changes into the counts: none is left
		// to pile up.
		var left int
		if err := db.Pool.QueryRow(ctx, "select count(*) from secret_count_changes").Scan(&left); err != nil || left != 0 {
			t.Errorf("%s: %d changes left unfolded (%v)", when, left, err)
		}
	}
	check("after writes", 3, 1)
	if err := s.DeleteSecret(ctx, "app", "B", store.AnyRevision); err != nil {
		t.Fatal(err)
	}
	check("after a delete", 2, 1)
	if _, err := s.UndeleteSecret(ctx, "app", "B"); err != nil {
		t.Fatal(err)
	}
	check("after an undelete", 3, 1)
	if _, err := s.DestroySecret(ctx, "app", "C"); err != nil {
		t.Fatal(err)
	}
	check("after a destroy", 2, 1)
	if _, err := s.ShredProject(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	check("after a shred", 2, 0)
	exec(t, db, "delete from secrets where project = 'app' and name = 'A'")
	check("after a delete in SQL", 1, 0)
	exec(t, db, "update secrets set project = 'other' where project = 'app'")
	check("after a move in SQL", 0, 1)
	exec(t, db, "truncate secrets cascade")
	check("after a truncate", 0, 0)
	// Many statements and rows in one transaction, folded once at commit.
	exec(t, db, "insert into secrets (project, name, ciphertext, kid, bound, created_by, updated_by) select 'app', 'S_' || g, 'x', 'k', true, 'sql', 'sql' from generate_series(1, 500) g; "+
		"insert into secrets (project, name, ciphertext, kid, bound, created_by, updated_by) values ('other', 'Y', 'x', 'k', true, 'sql', 'sql'); "+
		"delete from secrets where project = 'app' and name like 'S_1%'")
	check("after one transaction of several statements", 500-111, 1)
	if got := pageTotal(t, s, "never"); got != 0 {
		t.Errorf("a project never written has %d secrets", got)
	}
}

// A page read from a place is numbered exactly whatever the guess of
// where it is, and links on to its neighbours.
func TestSecretsPageFromAPlaceIsNumberedWhateverTheGuess(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	for i := range 25 {
		category := ""
		if i < 10 {
			category = "first"
		}
		if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: fmt.Sprintf("S_%02d", i), Value: []byte("v"), Category: category, ExpectedRevision: store.AnyRevision}); err != nil {
			t.Fatal(err)
		}
	}
	// In order: S_00 to S_09 (category "first"), then S_10 to S_24.
	for _, match := range []string{"", "s_"} {
		for _, guess := range []int{0, 12, 1000} {
			p, err := s.PageSecrets(ctx, store.SecretsPageQuery{Project: "app", Match: match, From: &store.SecretsPageKey{Name: "S_12"}, Offset: guess, Limit: 5})
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != 25 || p.Offset != 12 || len(p.Secrets) != 5 || p.Secrets[0].Name != "S_12" || p.Secrets[4].Name != "S_16" ||
				p.Next == nil || *p.Next != (store.SecretsPageKey{Name: "S_17"}) || p.Previous == nil || *p.Previous != (store.SecretsPageKey{Category: "first", Name: "S_07"}) {
				t.Errorf("match %q, guess %d: total %d, offset %d, next %v, previous %v, %d secrets", match, guess, p.Total, p.Offset, p.Next, p.Previous, len(p.Secrets))
			}
		}
	}
	// Across the categories, from a place whose secret is gone, and to
	// the end.
	p, err := s.PageSecrets(ctx, store.SecretsPageQuery{Project: "app", From: &store.SecretsPageKey{Category: "first", Name: "S_085"}, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if p.Offset != 9 || p.Secrets[0].Name != "S_09" || p.Secrets[1].Name != "S_10" || *p.Previous != (store.SecretsPageKey{Category: "first", Name: "S_04"}) {
		t.Errorf("from between two secrets: offset %d, first %s, previous %v", p.Offset, p.Secrets[0].Name, p.Previous)
	}
	p, err = s.PageSecrets(ctx, store.SecretsPageQuery{Project: "app", From: &store.SecretsPageKey{Name: "S_22"}, Offset: 20, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if p.Offset != 22 || len(p.Secrets) != 3 || p.Next != nil {
		t.Errorf("the last page: offset %d, %d secrets, next %v", p.Offset, len(p.Secrets), p.Next)
	}
	// Past the end, the first page.
	p, err = s.PageSecrets(ctx, store.SecretsPageQuery{Project: "app", From: &store.SecretsPageKey{Name: "ZZ"}, Offset: 30, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if p.Offset != 0 || p.Total != 25 || len(p.Secrets) != 5 || p.Secrets[0].Name != "S_00" || p.Previous != nil || *p.Next != (store.SecretsPageKey{Category: "first", Name: "S_05"}) {
		t.Errorf("past the end: offset %d, total %d, first %v, previous %v, next %v", p.Offset, p.Total, p.Secrets, p.Previous, p.Next)
	}
}

// An upgrade counts the secrets already there, and lets the dashboard
// role granted before it read the counts; the runtime and planner roles
// gain nothing, and no role but the owner may write a count.
func TestUpgradeCountsSecretsAndGrantsOnlyTheDashboardRole(t *testing.T) {
	ctx := context.Background()
	db := dbAt(t, 12) // the release before the counts
	exec(t, db, "insert into secrets (project, name, ciphertext, kid, bound, created_by, updated_by) select 'app', 'S_' || g, 'x', 'k', true, 'old', 'old' from generate_series(1, 3) g")
	role := func(grant storetest.Grant) string {
		u, err := url.Parse(storetest.RoleURL(t, db.URL, db.Pool, store.DefaultSchema, grant))
		if err != nil {
			t.Fatal(err)
		}
		return u.User.Username()
	}
	runtime, planner := role(store.GrantRuntime), role(store.GrantPlanner)
	// The dashboard role as the release before granted it.
	dashboard := role(func(ctx context.Context, pool *pgxpool.Pool, schema, r string) error {
		if err := store.GrantRuntime(ctx, pool, schema, r); err != nil {
			return err
		}
		_, err := pool.Exec(ctx, "grant select, insert, delete, update (last_seen_at) on "+schema+".dashboard_sessions to "+pgx.Identifier{r}.Sanitize())
		return err
	})
	if _, err := store.Migrate(ctx, db.Pool, store.DefaultSchema, nil); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, "select secrets from secret_counts where project = 'app'").Scan(&n); err != nil || n != 3 {
		t.Fatalf("the upgrade counted %d secrets of app (%v), want 3", n, err)
	}
	for _, c := range []struct {
		role, privilege string
		want            bool
	}{
		{dashboard, "select", true},
		{dashboard, "insert", false}, {dashboard, "update", false}, {dashboard, "delete", false}, {dashboard, "truncate", false},
		{runtime, "select", false}, {runtime, "update", false},
		{planner, "select", false},
	} {
		var got bool
		if err := db.Pool.QueryRow(ctx, "select has_table_privilege($1, 'pgsecrets.secret_counts', $2)", c.role, c.privilege).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s may %s the counts: %v, want %v", c.role, c.privilege, got, c.want)
		}
	}
}

// Creates and deletes in one project, side by side, never deadlock: the
// count is taken at commit, after the chain head, whichever order a write
// (head, then row) and a delete (row, then head) take the two in. The
// count ends exact.
func TestCountedWritesAndDeletesNeverDeadlock(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	const rounds = 40
	for i := range rounds {
		put(t, s, "app", fmt.Sprintf("OLD_%02d", i), "v")
	}
	put(t, s, "app", "NEW_00", "v") // the project's key and this process's audit key are open: writes take the short way
	errs := make(chan error, 2*rounds)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 1; i <= rounds; i++ {
			_, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: fmt.Sprintf("NEW_%02d", i), Value: []byte("v"), ExpectedRevision: store.MustNotExist})
			errs <- err
		}
	}()
	go func() {
		defer wg.Done()
		for i := range rounds {
			errs <- s.DeleteSecret(ctx, "app", fmt.Sprintf("OLD_%02d", i), store.AnyRevision)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a write or delete failed beside the other: %v", err)
		}
	}
	if got := pageTotal(t, s, "app"); got != rounds+1 {
		t.Errorf("app has %d secrets by its count, want %d", got, rounds+1)
	}
}
