package storetest

import (
	"context"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// StandbyDB is a migrated database on a primary with a streaming hot
// standby: DB reaches the primary (through the cluster's multi-host URL),
// StandbyURL the same database on the standby, as a read URL would.
type StandbyDB struct {
	*DB
	Cluster    *pgtest.ReplicatedCluster
	StandbyURL string
}

// NewStandbyDB starts a primary and a standby (asynchronous streaming
// replication), and creates and migrates a database on the primary; the
// standby has it once NewStandbyDB returns.
func NewStandbyDB(t testing.TB) *StandbyDB {
	t.Helper()
	r := pgtest.NewReplicatedCluster(t, pgtest.ReplicationOptions{})
	const name = "pgsecrets"
	conn, err := pgx.Connect(context.Background(), r.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	u := withDatabase(t, r.URL(), name)
	cfg := store.Config{DatabaseURL: u, Schema: store.DefaultSchema, Actor: "tester"}
	pool := pgtest.SchemaPool(t, u, cfg.Schema)
	if _, err := store.Migrate(context.Background(), pool, cfg.Schema, nil); err != nil {
		t.Fatal(err)
	}
	r.WaitReplayed(t)
	return &StandbyDB{DB: &DB{URL: u, Pool: pool, Config: cfg}, Cluster: r, StandbyURL: withDatabase(t, r.Standby().URL(), name)}
}

// PauseReplay stops the standby applying what it receives, until
// ResumeReplay: it keeps serving reads as of the moment it paused, a
// standby lagging as far behind as the test needs.
func (s *StandbyDB) PauseReplay(t testing.TB) { s.standbyExec(t, "SELECT pg_wal_replay_pause()") }

// ResumeReplay lets the standby apply again and waits until it has
// caught up with the primary.
func (s *StandbyDB) ResumeReplay(t testing.TB) {
	s.standbyExec(t, "SELECT pg_wal_replay_resume()")
	s.Cluster.WaitReplayed(t)
}

func (s *StandbyDB) standbyExec(t testing.TB, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), s.StandbyURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s on the standby: %v", sql, err)
	}
}

// withDatabase is u naming database name instead.
func withDatabase(t testing.TB, u, name string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	parsed.Path, parsed.RawPath = "/"+name, ""
	return parsed.String()
}
