package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// Writes and the Secrets page's reads run prepared statements on a direct
// connection, which spare the server planning them again; through a
// transaction pooler, where a statement prepared on one server connection
// is missing on the next, they never prepare one, and all goes through.
func TestStatementsPrepareOnlyOnDirectConnections(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		pooled bool
	}{{"direct", false}, {"through PgBouncer", true}} {
		t.Run(tc.name, func(t *testing.T) {
			db := storetest.NewDB(t)
			cfg := db.Config
			if tc.pooled {
				cfg.DatabaseURL = pgtest.PoolerURL(t, cfg.DatabaseURL)
			}
			cfg.MaxConns = 2
			s, err := store.Open(ctx, cfg, testRootKeys(t))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Writes from four goroutines: two connections, each used many
			// times; through the pooler, by turns on its server connections.
			concurrentPuts(t, s, 4, 10)
			for range 6 {
				page, err := s.PageSecrets(ctx, store.SecretsPageQuery{Project: "app", Limit: 15})
				if err != nil || page.Total != 40 || len(page.Secrets) != 15 {
					t.Fatalf("Secrets page: %d of %d secrets, %v; want 15 of 40", len(page.Secrets), page.Total, err)
				}
				// Each shape of the page's batch: from a place, filtered,
				// with the project list.
				next, err := s.PageSecrets(ctx, store.SecretsPageQuery{Project: "app", Limit: 15, From: page.Next, Projects: true})
				if err != nil || next.Offset != 15 || len(next.Secrets) != 15 || len(next.Projects) != 1 {
					t.Fatalf("the next page: %d secrets from %d, %d projects, %v; want 15 from 15, 1 project", len(next.Secrets), next.Offset, len(next.Projects), err)
				}
				filtered, err := s.PageSecrets(ctx, store.SecretsPageQuery{Project: "app", Limit: 15, Match: "k_1_"})
				if err != nil || filtered.Total != 10 {
					t.Fatalf("a filtered page: %d secrets match, %v; want 10", filtered.Total, err)
				}
			}
			prepared := map[string]int{}
			for range 4 {
				var writes, pages int
				if err := s.Pool().QueryRow(ctx, `select count(*) filter (where statement like '%audit_lock_head%'),
					count(*) filter (where statement like '%count(*)%')
					from pg_prepared_statements`).Scan(&writes, &pages); err != nil {
					t.Fatal(err)
				}
				prepared["write"] += writes
				prepared["Secrets page"] += pages
			}
			for what, n := range prepared {
				if tc.pooled && n != 0 {
					t.Errorf("%d prepared %s statements on the pooler's server connections, want none", n, what)
				}
				if !tc.pooled && n == 0 {
					t.Errorf("no prepared %s statement on the store's direct connections", what)
				}
			}
			if got := len(db.Events(t)); got < 40 {
				t.Fatalf("%d audit events after 40 writes", got)
			}
		})
	}
}

func concurrentPuts(t *testing.T, s *store.Store, workers, each int) {
	t.Helper()
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := range each {
				name := fmt.Sprintf("K_%d_%d", w, i)
				if _, err := s.PutSecret(context.Background(), store.PutSecretInput{Project: "app", Name: name, Value: []byte("v"), ExpectedRevision: store.MustNotExist}); err != nil {
					errs <- fmt.Errorf("%s: %w", name, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
