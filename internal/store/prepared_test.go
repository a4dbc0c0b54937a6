package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// Writes on a direct connection run prepared statements, which spare the
// server planning them again; through a transaction pooler, where a
// statement prepared on one server connection is missing on the next,
// they never prepare one, and every write goes through.
func TestWritesPrepareOnlyOnDirectConnections(t *testing.T) {
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
			prepared := 0
			for range 4 {
				var n int
				if err := s.Pool().QueryRow(ctx, "select count(*) from pg_prepared_statements where statement like '%audit_lock_head%'").Scan(&n); err != nil {
					t.Fatal(err)
				}
				prepared += n
			}
			if tc.pooled && prepared != 0 {
				t.Fatalf("%d prepared statements on the pooler's server connections, want none", prepared)
			}
			if !tc.pooled && prepared == 0 {
				t.Fatal("no prepared statement on the store's direct connections after 40 writes")
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
