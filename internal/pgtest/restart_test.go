package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

func TestNewClusterIsPrivate(t *testing.T) {
	c := NewCluster(t)
	if c.URL() == ServerURL(t) {
		t.Fatalf("NewCluster returned the shared server %s", c.URL())
	}
	conn := connect(t, c.URL())
	if got := queryString(t, conn, "SELECT current_user"); got != "postgres" {
		t.Errorf("current_user = %s, want postgres", got)
	}
}

func TestRestartDropsConnectionsKeepsURLAndData(t *testing.T) {
	ctx := context.Background()
	c := NewCluster(t)
	pool, err := pgxpool.New(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	held, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()

	const down = time.Second
	start := time.Now()
	c.Restart(t, down)
	if took := time.Since(start); took < down {
		t.Errorf("Restart took %v, want the server down for at least %v", took, down)
	}

	if _, err := held.Exec(ctx, "SELECT 1"); err == nil {
		t.Error("a connection opened before Restart still works; want it dropped")
	}
	held.Release() // the pool discards a closed connection
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM kept").Scan(&n); err != nil {
		t.Fatalf("retry on the pool after Restart: %v", err)
	}
	if n != 1 {
		t.Errorf("table kept has %d rows after Restart, want 1", n)
	}
	conn := connect(t, c.URL())
	if got := queryString(t, conn, "SELECT count(*)::text FROM kept"); got != "1" {
		t.Errorf("new connection after Restart: %s rows in kept, want 1", got)
	}
}
