package store_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testRootKeys returns a fresh keyring with two root keys (dir and A256GCMKW).
func testRootKeys(t testing.TB) *keyring.Keyring {
	t.Helper()
	return ringOf(t, testRootKeyList(t))
}

// ringOf builds a keyring, as each process does from the same root keys.
func ringOf(t testing.TB, roots []*keyring.Key) *keyring.Keyring {
	t.Helper()
	ring, err := keyring.New(roots)
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

func testRootKeyList(t testing.TB) []*keyring.Key {
	t.Helper()
	a, err := keyring.Generate("root-a", "dir", "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	b, err := keyring.Generate("root-b", "A256GCMKW", "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	return []*keyring.Key{a, b}
}

type testDB struct {
	url  string
	pool *pgxpool.Pool
	cfg  store.Config
}

// newTestDB gives a fresh, migrated database.
func newTestDB(t testing.TB) *testDB {
	t.Helper()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	cfg := store.Config{DatabaseURL: url, Schema: "pgsecrets", Actor: "tester"}
	pool := pgtest.SchemaPool(t, url, cfg.Schema)
	if _, err := store.Migrate(ctx, pool, cfg.Schema, nil); err != nil {
		t.Fatal(err)
	}
	return &testDB{url: url, pool: pool, cfg: cfg}
}

// open opens a store on the database with its own pool, as another process
// would.
func (db *testDB) open(t testing.TB, ring *keyring.Keyring, actor string) *store.Store {
	t.Helper()
	cfg := db.cfg
	cfg.Actor = actor
	s, err := store.Open(context.Background(), cfg, ring)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func newTestStore(t testing.TB) (*store.Store, *testDB) {
	t.Helper()
	db := newTestDB(t)
	return db.open(t, testRootKeys(t), "tester"), db
}
