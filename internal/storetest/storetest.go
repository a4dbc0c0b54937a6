// Package storetest is what the tests of the packages built on the store
// share: a fresh migrated database, keyrings, stores opened as separate
// processes would open them, database roles with a grant, and the audit
// trail as rows. Everything runs against a real PostgreSQL (pgtest).
package storetest

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/envpolicy"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// DB is a fresh database with the schema migrated.
type DB struct {
	URL string
	// Pool is a plain pool whose search_path is the schema, for looking
	// (and tampering) behind the store's back.
	Pool *pgxpool.Pool
	// Config opens a store on the database; its Actor is "tester".
	Config store.Config
}

// NewDB gives a fresh, migrated database, dropped when the test ends.
func NewDB(t testing.TB) *DB {
	t.Helper()
	u := pgtest.NewDatabase(t)
	cfg := store.Config{DatabaseURL: u, Schema: store.DefaultSchema, Actor: "tester"}
	pool := pgtest.SchemaPool(t, u, cfg.Schema)
	if _, err := store.Migrate(context.Background(), pool, cfg.Schema, nil); err != nil {
		t.Fatal(err)
	}
	return &DB{URL: u, Pool: pool, Config: cfg}
}

// NewLegacyDB is NewDB in the state migration 009 leaves a store that
// held secrets or data keys in: not yet moved to project keys, so writes go
// under the primary data key, else the first root key, until a reencrypt
// moves it (store's TestUpgradeKeepsAStoreOnItsKeysUntilReencrypt checks
// that a real upgrade ends there). Tests of global data keys use it.
func NewLegacyDB(t testing.TB) *DB {
	t.Helper()
	db := NewDB(t)
	MakeLegacy(t, db.Pool, db.Config.Schema)
	return db
}

// MakeLegacy puts the store in schema of pool's database back in the
// state of a store not yet moved to project keys (NewLegacyDB), for tests
// that make their database themselves. The move is one way: the owner
// steps past the trigger that guards it, as only the owner can.
func MakeLegacy(t testing.TB, pool *pgxpool.Pool, schema string) {
	t.Helper()
	table := pgx.Identifier{schema, "key_scheme"}.Sanitize()
	if _, err := pool.Exec(context.Background(), "alter table "+table+" disable trigger key_scheme_one_way; update "+table+
		" set project_keys_since = null; alter table "+table+" enable trigger key_scheme_one_way"); err != nil {
		t.Fatal(err)
	}
}

// Open opens a store with its own pool, as another process would, acting
// as actor (the Config's when empty).
func (db *DB) Open(t testing.TB, ring *keyring.Keyring, actor string) *store.Store {
	t.Helper()
	cfg := db.Config
	if actor != "" {
		cfg.Actor = actor
	}
	s, err := store.Open(context.Background(), cfg, ring)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Grant is one of the store's grants: store.GrantRuntime, GrantPlanner or
// GrantDashboard.
type Grant func(ctx context.Context, pool *pgxpool.Pool, schema, role string) error

// Role creates a login role that owns nothing, grants it what grant gives,
// and returns a Config that connects as it.
func (db *DB) Role(t testing.TB, grant Grant) store.Config {
	t.Helper()
	cfg := db.Config
	cfg.DatabaseURL = RoleURL(t, db.URL, db.Pool, cfg.Schema, grant)
	return cfg
}

// RoleURL creates a login role that owns nothing in dbURL's database,
// grants it what grant gives on schema through the owner's pool, and
// returns dbURL rewritten to connect as it.
func RoleURL(t testing.TB, dbURL string, owner *pgxpool.Pool, schema string, grant Grant) string {
	t.Helper()
	roleURL := pgtest.NewRole(t, dbURL)
	u, err := url.Parse(roleURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := grant(context.Background(), owner, schema, u.User.Username()); err != nil {
		t.Fatal(err)
	}
	return roleURL
}

// Events reads the audit trail, oldest first.
func (db *DB) Events(t testing.TB) []*audit.Event {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), "select seq, at, actor, db_role, action, project, subject, details, mac_kid, prev_mac, mac from audit_events order by seq")
	if err != nil {
		t.Fatal(err)
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*audit.Event, error) {
		e := &audit.Event{}
		return e, r.Scan(&e.Seq, &e.At, &e.Actor, &e.DBRole, &e.Action, &e.Project, &e.Subject, &e.Details, &e.MACKID, &e.PrevMAC, &e.MAC)
	})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// Key makes a random root key with kid and alg, enc A256GCM.
func Key(t testing.TB, kid, alg string) *keyring.Key {
	t.Helper()
	k, err := keyring.Generate(kid, alg, "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Ring builds a keyring from root keys, the first of which encrypts, as
// each process does from the same root keys.
func Ring(t testing.TB, roots ...*keyring.Key) *keyring.Keyring {
	t.Helper()
	r, err := keyring.New(roots)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ClearSettingsEnv empties, for the test, every environment variable
// pgsecrets takes a setting from (PGSECRETS_*, DATABASE_URL and libpq's
// PG*), so that a developer's environment cannot leak into a test.
func ClearSettingsEnv(t testing.TB) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if envpolicy.Setting(name) {
			t.Setenv(name, "")
		}
	}
}

// Values reads every secret through st, as an application would, by
// project/name: with project keys, a root key alone opens no value, its
// project's key does.
func Values(t testing.TB, st *store.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	projects, err := st.ListProjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range projects {
		values, err := st.GetProjectValues(ctx, p, "test")
		if err != nil {
			t.Fatalf("read project %s: %v", p, err)
		}
		for name, v := range values {
			out[p+"/"+name] = string(v)
		}
	}
	return out
}
