package reencrypt_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// canary is a value that must never show up outside a decryption.
const canary = "canary-7f3a9c-never-logged"

func newKey(t testing.TB, kid, alg string) *keyring.Key {
	t.Helper()
	k, err := keyring.Generate(kid, alg, "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ringOf(t testing.TB, roots ...*keyring.Key) *keyring.Keyring {
	t.Helper()
	r, err := keyring.New(roots)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type testDB struct {
	pool *pgxpool.Pool // a plain pool, for looking behind the store's back
	cfg  store.Config
}

func newTestDB(t testing.TB) *testDB {
	t.Helper()
	ctx := context.Background()
	cfg := store.Config{DatabaseURL: pgtest.NewDatabase(t), Schema: "pgsecrets", Actor: "tester"}
	pool := pgtest.SchemaPool(t, cfg.DatabaseURL, cfg.Schema)
	if _, err := store.Migrate(ctx, pool, cfg.Schema, nil); err != nil {
		t.Fatal(err)
	}
	return &testDB{pool: pool, cfg: cfg}
}

// open opens a store with its own pool, as a separate process would.
func (db *testDB) open(t testing.TB, ring *keyring.Keyring) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), db.cfg, ring)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// valueOf is the value of secret i in the fixtures: distinct per secret,
// each containing the canary.
func valueOf(project string, i int) string {
	return fmt.Sprintf("%s-%s-%04d", canary, project, i)
}

func putSecrets(t testing.TB, st *store.Store, project string, n int) {
	t.Helper()
	for i := range n {
		_, err := st.PutSecret(context.Background(), store.PutSecretInput{
			Project: project, Name: fmt.Sprintf("S%04d", i), Value: []byte(valueOf(project, i)), ExpectedRevision: store.MustNotExist,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

type row struct {
	project, name, ciphertext, kid string
	bound                          bool
	revision                       int64
}

func readRows(t testing.TB, db *testDB) map[string]row {
	t.Helper()
	rows, err := db.pool.Query(context.Background(), "select project, name, ciphertext, kid, bound, revision from secrets")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]row{}
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.project, &r.name, &r.ciphertext, &r.kid, &r.bound, &r.revision); err != nil {
			t.Fatal(err)
		}
		out[r.project+"/"+r.name] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// decryptAll opens every secret directly with ring, binding checked, and
// returns the values by project/name.
func decryptAll(t testing.TB, db *testDB, ring *keyring.Keyring) map[string]string {
	t.Helper()
	out := map[string]string{}
	for id, r := range readRows(t, db) {
		d, err := ring.Decrypt(r.ciphertext, keyring.SecretBinding(r.project, r.name, r.revision))
		if err != nil {
			t.Fatalf("decrypt %s: %v", id, err)
		}
		out[id] = string(d.Plaintext)
	}
	return out
}

func kidCounts(t testing.TB, db *testDB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range readRows(t, db) {
		key := r.kid
		if !r.bound {
			key += " (unbound)"
		}
		out[key]++
	}
	return out
}

func readEvents(t testing.TB, db *testDB) []*audit.Event {
	t.Helper()
	rows, err := db.pool.Query(context.Background(), "select seq, at, actor, db_role, action, project, subject, details, mac_kid, prev_mac, mac from audit_events order by seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []*audit.Event
	for rows.Next() {
		e := &audit.Event{}
		if err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.DBRole, &e.Action, &e.Project, &e.Subject, &e.Details, &e.MACKID, &e.PrevMAC, &e.MAC); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
