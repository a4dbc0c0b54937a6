package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// secretReads counts the statements that read the secrets table.
type secretReads struct{ n atomic.Int64 }

func (c *secretReads) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if strings.Contains(data.SQL, `."secrets" where`) {
		c.n.Add(1)
	}
	return ctx
}

func (c *secretReads) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// A refresh of many secrets of one project costs one query, whatever the
// count and however many refreshes run at once; a write drops the
// snapshot, so what follows sees it.
func TestRefreshOfAProjectIsOneQuery(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	for i := range 50 {
		env.putSecret("bench", fmt.Sprintf("S%02d", i), "v")
	}
	cfg, err := pgxpool.ParseConfig(env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	reads := &secretReads{}
	cfg.ConnConfig.Tracer = reads
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ring, err := keyring.Load([]byte(env.RootKeys))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(ctx, pool, store.Config{Schema: env.Schema, Actor: "test"}, ring)
	if err != nil {
		t.Fatal(err)
	}
	reads.n.Store(0)
	var metas metaSnapshots
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m, err := metas.get(ctx, st, "bench", fmt.Sprintf("S%02d", i)); err != nil || m.Revision != 1 {
				t.Errorf("S%02d: %+v %v", i, m, err)
			}
		}()
	}
	wg.Wait()
	if n := reads.n.Load(); n != 1 {
		t.Fatalf("50 refreshes read the secrets table %d times, want once", n)
	}
	if _, err := metas.get(ctx, st, "bench", "MISSING"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a secret outside the snapshot: %v, want not found", err)
	}
	env.putSecret("bench", "S00", "v2")
	metas.invalidate("bench")
	if m, err := metas.get(ctx, st, "bench", "S00"); err != nil || m.Revision != 2 {
		t.Fatalf("after a write and invalidate: %+v %v, want revision 2", m, err)
	}
}
