package reencrypt_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/reencrypt"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// A failover drops every connection for a while. reencrypt waits it out,
// retrying with backoff, says so, and finishes with nothing lost.
func TestReencryptRidesOutADatabaseRestart(t *testing.T) {
	ctx := context.Background()
	cluster := pgtest.NewCluster(t)
	cfg := store.Config{DatabaseURL: cluster.URL(), Schema: "pgsecrets", Actor: "failover"}
	pool := pgtest.SchemaPool(t, cfg.DatabaseURL, cfg.Schema)
	if _, err := store.Migrate(ctx, pool, cfg.Schema, nil); err != nil {
		t.Fatal(err)
	}
	oldRoot := storetest.Key(t, "old-root", "dir")
	const n = 3000
	values := map[string]string{}
	rows := make([][]any, n)
	for i := range n {
		name := fmt.Sprintf("S%05d", i)
		values[name] = fmt.Sprintf("%s-%d", canary, i)
		token, kid, err := storetest.Ring(t, oldRoot).Encrypt([]byte(values[name]), keyring.SecretBinding("app", name, 1))
		if err != nil {
			t.Fatal(err)
		}
		rows[i] = []any{"app", name, token, kid, true, "seed", "seed"}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"secrets"}, []string{"project", "name", "ciphertext", "kid", "bound", "created_by", "updated_by"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	// The old key registers on first use; the new one beside it.
	first, err := store.Open(ctx, cfg, storetest.Ring(t, oldRoot))
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	newRoot := storetest.Key(t, "new-root", "dir")
	st, err := store.Open(ctx, cfg, storetest.Ring(t, newRoot, oldRoot))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	var (
		restarted sync.Once
		done      = make(chan struct{})
		retries   atomic.Int64
	)
	sum, err := reencrypt.Run(ctx, st, reencrypt.Options{
		BatchSize: 40, Workers: 2, RetryFor: time.Minute,
		Progress: func(p reencrypt.Progress) {
			if p.Done >= 400 {
				restarted.Do(func() {
					go func() {
						defer close(done)
						cluster.Restart(t, 2*time.Second)
					}()
				})
			}
		},
		OnRetry: func(err error, wait time.Duration) {
			retries.Add(1)
			t.Logf("retry in %s after: %v", wait, err)
		},
	})
	<-done
	if err != nil {
		t.Fatalf("reencrypt across a restart: %v (summary %+v)", err, sum)
	}
	if retries.Load() == 0 {
		t.Fatal("reencrypt never retried: the restart happened after it finished; the test proves nothing")
	}
	// Every value opens with the new root key alone, through app's key.
	after, err := store.Open(ctx, cfg, storetest.Ring(t, newRoot))
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	checkUnderProjectKeys(t, &storetest.DB{Pool: pgtest.SchemaPool(t, cfg.DatabaseURL, cfg.Schema)}, after)
	got := map[string]string{}
	for id, v := range storetest.Values(t, after) {
		got[strings.TrimPrefix(id, "app/")] = v
	}
	if fmt.Sprint(got) != fmt.Sprint(values) {
		t.Fatalf("values changed across the restart: %d of %d read back", len(got), len(values))
	}
}

func TestReencryptGivesUpAfterRetryFor(t *testing.T) {
	ctx := context.Background()
	cluster := pgtest.NewCluster(t)
	cfg := store.Config{DatabaseURL: cluster.URL(), Schema: "pgsecrets", Actor: "failover"}
	pool := pgtest.SchemaPool(t, cfg.DatabaseURL, cfg.Schema)
	if _, err := store.Migrate(ctx, pool, cfg.Schema, nil); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, cfg, storetest.Ring(t, storetest.Key(t, "root", "dir")))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pool.Close()
	down := make(chan struct{})
	go func() { defer close(down); cluster.Restart(t, 4*time.Second) }()
	time.Sleep(500 * time.Millisecond) // the server is down now
	// Down for 4 s, waited for 1.5 s: it gives up while the server is
	// still down, with an error that says how long it tried.
	_, err = reencrypt.Run(ctx, st, reencrypt.Options{RetryFor: 1500 * time.Millisecond})
	<-down
	var exhausted *reencrypt.RetryExhaustedError
	if !errors.As(err, &exhausted) || !strings.Contains(err.Error(), "(--retry-for)") {
		t.Fatalf("reencrypt with the database down: %v, want RetryExhaustedError", err)
	}
}
